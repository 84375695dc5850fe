#pragma once
/// @file
/// Socket plumbing every module shares.

#include <fcntl.h>

namespace astmrf::util {

/// Marks an open socket (or acceptor) close-on-exec, so that a process the application spawns
/// (a TTS engine, a script) does not inherit the library's sockets and keep their ports bound.
/// Asio opens sockets without SOCK_CLOEXEC; call it right after an open, accept or connect. A
/// fork and exec by another thread between the two could still inherit the socket; the metrics
/// exporter, which accepts with accept4, has no such window.
template <typename Socket>
void close_on_exec(Socket& socket) noexcept {
  if (socket.is_open()) ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
}

}  // namespace astmrf::util
