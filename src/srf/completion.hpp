// Completes an operation's handler on its own associated executor, never inline
// inside the initiating call, so callbacks, coroutines and futures all behave.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace astmrf::srf::detail {

template <typename Handler, typename Executor, typename... Args>
void complete(Handler handler, const Executor& fallback, Args... args) {
  // Posting to our own executor first defers the call; the handler then runs on
  // the executor it is associated with (a coroutine's, a strand...).
  boost::asio::post(fallback, [h = std::move(handler), fallback, ... a = std::move(args)]() mutable {
    auto executor = boost::asio::get_associated_executor(h, fallback);
    boost::asio::dispatch(executor,
                          [h2 = std::move(h), ... a2 = std::move(a)]() mutable { std::move(h2)(std::move(a2)...); });
  });
}

}  // namespace astmrf::srf::detail
