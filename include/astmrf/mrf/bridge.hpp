// Bridge: an ARI mixing (or holding) bridge on one media server, with an RAII lifetime: it is
// destroyed on Asterisk when its last handle is dropped, when destroy() is called, or (by
// default) when its last member leaves; a lost server ends it too.
//
//   auto bridge = co_await caller->async_bridge(agent, {}, use_awaitable);   // the two talk
//   co_await bridge->async_add(other, {}, use_awaitable);                    // a third joins (moved)
//   co_await caller->async_unbridge(use_awaitable);                          // back to Stasis
//
// Members are Endpoints (or Snoops) of the same server; an endpoint in another bridge is moved
// (ARI addChannel on the new bridge moves it without a gap). Membership follows Asterisk's
// ChannelEnteredBridge / ChannelLeftBridge: the app is subscribed to the bridge's events.
#pragma once

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::mrf {

/// What a bridge does with its members' audio.
enum class BridgeType : std::uint8_t {
  mixing,   ///< every member hears the others
  holding,  ///< members hear music on hold (or an announcer), not each other
};
/// The type's name, e.g. "mixing".
std::string_view to_string(BridgeType type) noexcept;

/// Options of MediaServer::async_create_bridge and Endpoint::async_bridge.
struct BridgeOptions {
  /// Mixing or holding.
  BridgeType type{BridgeType::mixing};
  /// ARI bridge name (diagnostics).
  std::string name{};
  /// The bridge is destroyed on Asterisk when its last member leaves (a member ending counts).
  bool destroy_when_empty{true};
  /// "mixing,dtmf_events": members' DTMF still reaches their endpoints' events.
  bool dtmf_events{false};
};

/// Options of one member of a bridge (ARI addChannel).
struct MemberOptions {
  /// The member's audio does not reach the bridge (it still hears the others). Asterisk applies
  /// it in its core: a two-party mixing bridge may relay RTP natively, past it; make the bridge
  /// with BridgeOptions::dtmf_events (which keeps the media in the core) or mute the endpoint
  /// itself (Endpoint::async_mute, direction in).
  bool mute{false};
  /// The member's DTMF does not pass through the bridge.
  bool absorb_dtmf{false};
  /// The member's role in the bridge (e.g. "announcer" in a holding bridge).
  std::string role{};
};

/// Why a bridge ended; reported once.
enum class BridgeEnd : std::uint8_t {
  destroyed,          ///< destroy() (or its last handle dropped, or Asterisk destroyed it)
  empty,              ///< its last member left (BridgeOptions::destroy_when_empty)
  media_server_lost,  ///< its media server went away (or the bridge vanished while ARI was down)
};
/// The reason's name, e.g. "empty".
std::string_view to_string(BridgeEnd end) noexcept;

/// A channel entered or left the bridge.
struct BridgeMemberEvent {
  /// true: it entered; false: it left.
  bool joined{false};
  /// The member's channel id.
  std::string channel_id{};
};

class Snoop;

/// An ARI bridge on one media server. Hold it (shared_ptr): dropping the last reference
/// destroys the bridge on Asterisk; its members go back to Stasis and stay up.
class Bridge : public std::enable_shared_from_this<Bridge> {
 public:
  /// The ARI bridge id.
  [[nodiscard]] const std::string& id() const noexcept { return id_; }
  /// Mixing or holding.
  [[nodiscard]] BridgeType type() const noexcept { return options_.type; }
  /// Its media server (null once the server is gone).
  [[nodiscard]] std::shared_ptr<MediaServer> media_server() const noexcept { return server_.lock(); }
  /// The channel ids of its members now, in the order they entered.
  [[nodiscard]] std::vector<std::string> channel_ids() const { return members_; }
  /// Whether the bridge has ended.
  [[nodiscard]] bool destroyed() const noexcept { return end_.ended(); }
  /// Why it ended, once it has.
  [[nodiscard]] std::optional<BridgeEnd> end_reason() const noexcept { return end_.value(); }

  /// Adds `endpoint` with `options`: `(std::exception_ptr)`. An endpoint in another bridge of the
  /// same server is moved (no gap). An endpoint of another server fails with
  /// std::invalid_argument; an ended one with CallEnded; on an ended bridge, BridgeEnded.
  template <typename CompletionToken>
  auto async_add(std::shared_ptr<Endpoint> endpoint, MemberOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::shared_ptr<Endpoint> e, MemberOptions o) {
          start_add(std::move(e), std::move(o), VoidHandler(std::move(handler)));
        },
        token, std::move(endpoint), std::move(options));
  }
  /// Adds a snoop channel (e.g. a supervisor listens to it): as the endpoint's overload.
  template <typename CompletionToken>
  auto async_add(std::shared_ptr<Snoop> snoop, MemberOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::shared_ptr<Snoop> s, MemberOptions o) {
          start_add_snoop(std::move(s), std::move(o), VoidHandler(std::move(handler)));
        },
        token, std::move(snoop), std::move(options));
  }
  /// Removes `endpoint` (it goes back to Stasis and stays up): `(std::exception_ptr)`. An
  /// endpoint that is not a member is a no-op.
  template <typename CompletionToken>
  auto async_remove(std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::shared_ptr<Endpoint> e) {
          start_remove(std::move(e), VoidHandler(std::move(handler)));
        },
        token, std::move(endpoint));
  }
  /// Plays `media` to every member (ARI bridge play) and completes with
  /// `(std::exception_ptr, PlayResult)` when it ends (PlayEnd::call_ended if the bridge ends
  /// first). Cancelling it stops the playback.
  template <typename CompletionToken>
  auto async_play(std::vector<std::string> media, PlayOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, PlayResult)>(
        [this](auto handler, std::vector<std::string> m, PlayOptions o) {
          start_play(std::move(m), std::move(o), PlayHandler(std::move(handler)));
        },
        token, std::move(media), std::move(options));
  }
  /// Plays music on hold of `moh_class` (empty: the default) to the members: `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_start_moh(std::string moh_class, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string c) { start_moh(true, std::move(c), VoidHandler(std::move(handler))); }, token,
        std::move(moh_class));
  }
  /// Stops the music on hold started by async_start_moh: `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_stop_moh(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler) { start_moh(false, {}, VoidHandler(std::move(handler))); }, token);
  }
  /// Records the bridge's mix into a stored recording; completes with
  /// `(std::exception_ptr, RecordResult)` when the recording ends (RecordEnd::call_ended when
  /// the bridge ends first). Cancelling it stops the recording (the file is kept).
  template <typename CompletionToken>
  auto async_record(RecordOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, RecordResult)>(
        [this](auto handler, RecordOptions o) { start_record(std::move(o), RecordHandler(std::move(handler))); }, token,
        std::move(options));
  }
  /// Stops the live recording `name` of the bridge (the file is kept): `(std::exception_ptr)`;
  /// its async_record completes with RecordEnd::stopped.
  template <typename CompletionToken>
  auto async_stop_recording(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string n) { start_stop_recording(std::move(n), VoidHandler(std::move(handler))); },
        token, std::move(name));
  }
  /// Completes with `(std::exception_ptr, BridgeEnd)` when the bridge ends (at once if it has).
  /// Cancelling it ends the wait only.
  template <typename CompletionToken>
  auto async_wait_destroyed(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, BridgeEnd)>(
        [this](auto handler) { end_.wait(EndHandler(std::move(handler))); }, token);
  }
  /// Every member that enters or leaves (RAII handle; inactive once the bridge ends).
  [[nodiscard]] Subscription on_member(std::function<void(const BridgeMemberEvent&)> handler);

  /// Destroys the bridge on Asterisk (DELETE /bridges/{id}); its members go back to Stasis and
  /// stay up. Idempotent.
  void destroy();
  /// Destroys the bridge on Asterisk if it has not ended.
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

 private:
  friend class MediaServer;
  friend class Endpoint;
  friend class Conference;
  friend struct detail::StreamAccess;  // a stream's bridge takes its externalMedia channel
  using VoidHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  using PlayHandler = boost::asio::any_completion_handler<void(std::exception_ptr, PlayResult)>;
  using RecordHandler = boost::asio::any_completion_handler<void(std::exception_ptr, RecordResult)>;
  using EndHandler = boost::asio::any_completion_handler<void(std::exception_ptr, BridgeEnd)>;
  using BridgeHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Bridge>)>;
  Bridge(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string id,
         BridgeOptions options);
  // Creates a bridge on `server` and adds `channel_ids` (none: an empty bridge).
  static void create(const std::shared_ptr<MediaServer>& server, BridgeOptions options,
                     std::vector<std::shared_ptr<Endpoint>> members, BridgeHandler handler);
  void start_add(std::shared_ptr<Endpoint> endpoint, MemberOptions options, VoidHandler handler);
  void start_add_snoop(std::shared_ptr<Snoop> snoop, MemberOptions options, VoidHandler handler);
  void add_channels(std::vector<std::string> channel_ids, MemberOptions options,
                    std::vector<std::weak_ptr<Endpoint>> endpoints, VoidHandler handler);
  void start_remove(std::shared_ptr<Endpoint> endpoint, VoidHandler handler);
  void start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler);
  void start_moh(bool on, std::string moh_class, VoidHandler handler);
  void start_record(RecordOptions options, RecordHandler handler);
  void start_stop_recording(std::string name, VoidHandler handler);
  void on_event(const ari::Event& event);
  void entered(const std::string& channel_id);
  void left(const std::string& channel_id);
  void ended(BridgeEnd reason, bool delete_on_asterisk);
  // The server's client while the bridge is up; else null and `error` set.
  ari::Client* usable(std::exception_ptr& error) const;

  std::weak_ptr<MediaServer> server_;
  boost::asio::any_io_executor executor_;
  std::string id_;
  BridgeOptions options_;
  std::string app_;
  std::vector<std::string> members_;
  bool had_member_{false};
  ari::Subscription events_;
  astmrf::detail::EndState<BridgeEnd> end_;
  astmrf::detail::Signal<BridgeMemberEvent> member_;
  // Its end, for the verbs in flight (a Signal: they leave it when they finish).
  astmrf::detail::Signal<BridgeEnd> end_signal_;
  std::shared_ptr<spdlog::logger> log_;
  // Live recordings of async_record by name: async_stop_recording marks them stopped.
  std::map<std::string, std::function<void()>> stop_hooks_;
};

/// A verb on a bridge that has ended.
class BridgeEnded : public Error {
 public:
  /// `reason`: why the bridge ended, when known.
  explicit BridgeEnded(std::optional<BridgeEnd> reason = std::nullopt)
      : Error(reason ? "the bridge has ended (" + std::string(to_string(*reason)) + ")" : "the bridge has ended"),
        reason_(reason) {}
  /// Why the bridge ended.
  [[nodiscard]] std::optional<BridgeEnd> reason() const noexcept { return reason_; }

 private:
  std::optional<BridgeEnd> reason_;
};

// ---- Endpoint and MediaServer members declared in endpoint.hpp / mrf.hpp

template <typename CompletionToken>
auto Endpoint::async_bridge(std::shared_ptr<Endpoint> other, BridgeOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Bridge>)>(
      [this](auto handler, std::shared_ptr<Endpoint> o, BridgeOptions b) {
        start_bridge(std::move(o), std::move(b), BridgeHandler(std::move(handler)));
      },
      token, std::move(other), std::move(options));
}

template <typename CompletionToken>
auto Endpoint::async_unbridge(CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
      [this](auto handler) { start_unbridge(VoidHandler(std::move(handler))); }, token);
}

template <typename CompletionToken>
auto MediaServer::async_create_bridge(BridgeOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Bridge>)>(
      [this](auto handler, BridgeOptions o) { start_create_bridge(std::move(o), BridgeHandler(std::move(handler))); },
      token, std::move(options));
}

}  // namespace astmrf::mrf
