// Snoop: a snoop channel on an endpoint's channel (ARI snoop) that a bridge can take as a
// member, and supervision built on it: a supervisor listens to an agent's call, whispers to the
// agent (coaching), or barges in (both sides hear the supervisor).
//
//   auto supervision = co_await mrf::async_supervise(agent, supervisor, mrf::SuperviseMode::listen, use_awaitable);
//   co_await supervision->async_set_mode(mrf::SuperviseMode::whisper, use_awaitable);
//   supervision.reset();   // supervision ends; the supervisor's endpoint stays up
//
// Directions are the snooped channel's (Asterisk audiohooks): `in` is what its party says,
// `out` what its party hears. Whisper `out` reaches the snooped party only; `in` reaches the
// ones it talks to.
#pragma once

#include <astmrf/mrf/bridge.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace astmrf::mrf {

/// Which audio of the snooped channel a snoop takes (spy) or injects into (whisper).
enum class SnoopDirection : std::uint8_t {
  none,  ///< nothing
  in,    ///< what the snooped party says
  out,   ///< what the snooped party hears
  both,  ///< both
};
/// The direction's ARI name, e.g. "both".
std::string_view to_string(SnoopDirection direction) noexcept;

/// Options of Endpoint::async_snoop (spy and whisper both none is refused: std::invalid_argument).
struct SnoopOptions {
  /// What the snoop channel hears of the snooped channel.
  SnoopDirection spy{SnoopDirection::both};
  /// Where what is said into the snoop channel goes.
  SnoopDirection whisper{SnoopDirection::none};
};

/// A snoop channel on an endpoint, in the server's Stasis application: add it to a bridge
/// (Bridge::async_add) to let someone listen or whisper. Dropping the last reference hangs the
/// snoop channel up; it ends by itself when its target ends.
class Snoop : public std::enable_shared_from_this<Snoop> {
 public:
  /// The snoop channel's id.
  [[nodiscard]] const std::string& channel_id() const noexcept { return channel_id_; }
  /// The endpoint it snoops on.
  [[nodiscard]] std::weak_ptr<Endpoint> target() const noexcept { return target_; }
  /// Its options.
  [[nodiscard]] const SnoopOptions& options() const noexcept { return options_; }
  /// Its media server (null once gone).
  [[nodiscard]] std::shared_ptr<MediaServer> media_server() const noexcept { return server_.lock(); }
  /// Whether the snoop channel has ended.
  [[nodiscard]] bool destroyed() const noexcept { return ended_; }
  /// Hangs the snoop channel up. Idempotent.
  void destroy();
  /// Hangs the snoop channel up if it is still there.
  ~Snoop();
  Snoop(const Snoop&) = delete;
  Snoop& operator=(const Snoop&) = delete;

 private:
  friend class Endpoint;
  friend class MediaServer;
  using SnoopHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Snoop>)>;
  Snoop(std::weak_ptr<MediaServer> server, std::weak_ptr<Endpoint> target, std::string channel_id,
        SnoopOptions options);
  void started();  // its StasisStart
  void ended(bool hang_up);

  std::weak_ptr<MediaServer> server_;
  std::weak_ptr<Endpoint> target_;
  std::string channel_id_;
  SnoopOptions options_;
  bool in_stasis_{false};
  bool ended_{false};
  std::function<void()> on_started_;  // the creation waits for the StasisStart
  ari::Subscription events_;
  Subscription target_end_;
};

/// How a supervisor takes part in an agent's call.
enum class SuperviseMode : std::uint8_t {
  listen,   ///< the supervisor hears the agent and the other side; nobody hears the supervisor
  whisper,  ///< as listen, and the agent (only) hears the supervisor
  barge,    ///< as listen, and both the agent and the other side hear the supervisor
};
/// The mode's name, e.g. "whisper".
std::string_view to_string(SuperviseMode mode) noexcept;

/// A supervisor on an agent's call: a snoop on the agent and a bridge with the supervisor's
/// endpoint. Dropping it ends the supervision (the snoop hung up, the bridge destroyed); so does
/// the agent's end. The supervisor's endpoint stays up.
class Supervision : public std::enable_shared_from_this<Supervision> {
 public:
  /// The mode now.
  [[nodiscard]] SuperviseMode mode() const noexcept { return mode_; }
  /// The bridge of the supervisor and the snoop.
  [[nodiscard]] const std::shared_ptr<Bridge>& bridge() const noexcept { return bridge_; }
  /// The snoop on the agent (a new one after each mode change).
  [[nodiscard]] const std::shared_ptr<Snoop>& snoop() const noexcept { return snoop_; }
  /// The agent's endpoint.
  [[nodiscard]] std::weak_ptr<Endpoint> agent() const noexcept { return agent_; }
  /// Switches listen / whisper / barge: `(std::exception_ptr)`. A new snoop replaces the old one
  /// in the bridge (added first, so the supervisor keeps hearing the call).
  template <typename CompletionToken>
  auto async_set_mode(SuperviseMode mode, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, SuperviseMode m) { start_set_mode(m, VoidHandler(std::move(handler))); }, token, mode);
  }
  /// Ends the supervision: the snoop hung up, the bridge destroyed. Idempotent.
  void end();
  /// Whether it has ended (end(), the agent's end, or its bridge's).
  [[nodiscard]] bool ended() const noexcept;
  /// Ends it.
  ~Supervision();
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

 private:
  using VoidHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  using SupervisionHandler =
      boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Supervision>)>;
  Supervision() = default;
  static SnoopOptions options_of(SuperviseMode mode) noexcept;
  void start_set_mode(SuperviseMode mode, VoidHandler handler);
  friend void start_supervise(std::shared_ptr<Endpoint> agent, std::shared_ptr<Endpoint> supervisor, SuperviseMode mode,
                              SupervisionHandler handler);

  SuperviseMode mode_{SuperviseMode::listen};
  boost::asio::any_io_executor executor_;
  std::weak_ptr<Endpoint> agent_;
  std::weak_ptr<Endpoint> supervisor_;
  std::shared_ptr<Bridge> bridge_;
  std::shared_ptr<Snoop> snoop_;
  Subscription agent_end_;
};

/// Starts `supervisor`'s supervision of `agent`'s call in `mode` (both endpoints of one
/// server): `(std::exception_ptr, std::shared_ptr<Supervision>)`. The supervisor's endpoint is
/// moved into the supervision's bridge (out of any other). Without any media server to run on
/// (no agent, or its server gone) it throws std::invalid_argument.
void start_supervise(
    std::shared_ptr<Endpoint> agent, std::shared_ptr<Endpoint> supervisor, SuperviseMode mode,
    boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Supervision>)> handler);

/// Supervision of `agent` by `supervisor` in `mode`: `(std::exception_ptr, std::shared_ptr<Supervision>)`.
template <typename CompletionToken>
auto async_supervise(std::shared_ptr<Endpoint> agent, std::shared_ptr<Endpoint> supervisor, SuperviseMode mode,
                     CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Supervision>)>(
      [](auto handler, std::shared_ptr<Endpoint> a, std::shared_ptr<Endpoint> s, SuperviseMode m) {
        start_supervise(std::move(a), std::move(s), m,
                        boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Supervision>)>(
                            std::move(handler)));
      },
      token, std::move(agent), std::move(supervisor), mode);
}

template <typename CompletionToken>
auto Endpoint::async_snoop(SnoopOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Snoop>)>(
      [this](auto handler, SnoopOptions o) { start_snoop(o, SnoopHandler(std::move(handler))); }, token, options);
}

}  // namespace astmrf::mrf
