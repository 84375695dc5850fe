// Conference: a named mixing bridge on one media server with members, moderators, mute, kick,
// talk events, music when alone, beeps, recording, and an end rule.
//
//   auto room = co_await ms->async_create_conference("sales", {.max_members = 10}, use_awaitable);
//   co_await room->async_join(endpoint, {.moderator = true}, use_awaitable);
//   co_await room->async_mute(other, use_awaitable);     // the others stop hearing `other`
//
// The same name on the same server gives the same Conference (while it lives). Its members keep
// it alive; so do the application's handles. It ends per ConferenceOptions::end_when, or on
// destroy(); then its bridge is destroyed on Asterisk (members left in it go back to Stasis, or
// are kicked when the last moderator left).
#pragma once

#include <astmrf/mrf/bridge.hpp>
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

/// When a conference ends by itself.
enum class ConferenceEndWhen : std::uint8_t {
  last_member_leaves,     ///< its last member leaves (a member ending counts)
  last_moderator_leaves,  ///< its last moderator leaves: the others are kicked (their endpoints destroyed)
  never,                  ///< only on destroy() (or when nothing holds it any more)
};

/// Options of MediaServer::async_create_conference.
struct ConferenceOptions {
  /// Members at most (0: no limit); a join past it fails with ConferenceFull.
  std::size_t max_members{0};
  /// Record the conference's mix from its first join until it ends.
  bool record{false};
  /// The stored recording's name (empty: "conference-<name>-<id>").
  std::string recording_name{};
  /// The recording's format.
  std::string recording_format{"wav"};
  /// Music on hold while one member is alone in it.
  bool moh_when_alone{false};
  /// Its class (empty: Asterisk's default).
  std::string moh_class{};
  /// Play `beep` to the conference when a member joins.
  bool beep_on_join{false};
  /// Play `beep` to the conference when a member leaves.
  bool beep_on_leave{false};
  /// The sound of the beeps.
  std::string beep{"sound:beep"};
  /// When it ends by itself.
  ConferenceEndWhen end_when{ConferenceEndWhen::last_member_leaves};
  /// TALK_DETECT thresholds of the members (talking events).
  TalkDetectOptions talk_detect{};
};

/// Options of Conference::async_join.
struct JoinOptions {
  /// Joins muted: the others do not hear the member (it hears them).
  bool muted{false};
  /// A moderator (see ConferenceEndWhen::last_moderator_leaves).
  bool moderator{false};
};

/// One member of a conference.
struct ConferenceMember {
  std::string channel_id{};            ///< its endpoint's channel id
  std::weak_ptr<Endpoint> endpoint{};  ///< its endpoint
  bool muted{false};                   ///< the others do not hear it
  bool moderator{false};               ///< a moderator
};

/// What happened in a conference.
enum class ConferenceEventKind : std::uint8_t { joined, left, talking_started, talking_finished };
/// The kind's name, e.g. "joined".
std::string_view to_string(ConferenceEventKind kind) noexcept;

/// A member joined or left, or started or stopped talking.
struct ConferenceEvent {
  ConferenceEventKind kind{ConferenceEventKind::joined};  ///< what
  std::string channel_id{};                               ///< the member's channel id
};

/// Why a conference ended.
enum class ConferenceEnd : std::uint8_t {
  destroyed,            ///< destroy()
  last_member_left,     ///< ConferenceEndWhen::last_member_leaves
  last_moderator_left,  ///< ConferenceEndWhen::last_moderator_leaves
  media_server_lost,    ///< its bridge ended without it (its server lost, or it was destroyed on Asterisk)
};
/// The reason's name, e.g. "last_member_left".
std::string_view to_string(ConferenceEnd end) noexcept;

/// A named conference on one media server (MediaServer::async_create_conference).
class Conference : public std::enable_shared_from_this<Conference> {
 public:
  /// Its name (unique on its server while it lives).
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// Its options.
  [[nodiscard]] const ConferenceOptions& options() const noexcept { return options_; }
  /// Its bridge.
  [[nodiscard]] const std::shared_ptr<Bridge>& bridge() const noexcept { return bridge_; }
  /// Its members now, in the order they joined.
  [[nodiscard]] std::vector<ConferenceMember> members() const;
  /// Whether it has ended.
  [[nodiscard]] bool ended() const noexcept { return end_.ended(); }
  /// Why it ended, once it has.
  [[nodiscard]] std::optional<ConferenceEnd> end_reason() const noexcept { return end_.value(); }

  /// Joins `endpoint` (of the conference's server; moved out of any other bridge):
  /// `(std::exception_ptr)`. Full: ConferenceFull; ended: BridgeEnded; a member already: no-op.
  template <typename CompletionToken>
  auto async_join(std::shared_ptr<Endpoint> endpoint, JoinOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::shared_ptr<Endpoint> e, JoinOptions o) {
          start_join(std::move(e), o, VoidHandler(std::move(handler)));
        },
        token, std::move(endpoint), options);
  }
  /// `endpoint` leaves (back to Stasis, the call stays up): `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_leave(std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return initiate(Verb::leave, std::move(endpoint), std::forward<CompletionToken>(token));
  }
  /// Mutes the member's voice (channel mute in: the others stop hearing it; it still hears them).
  template <typename CompletionToken>
  auto async_mute(std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return initiate(Verb::mute, std::move(endpoint), std::forward<CompletionToken>(token));
  }
  /// Undoes async_mute.
  template <typename CompletionToken>
  auto async_unmute(std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return initiate(Verb::unmute, std::move(endpoint), std::forward<CompletionToken>(token));
  }
  /// The member leaves and its endpoint is destroyed (its caller gets BYE): `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_kick(std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return initiate(Verb::kick, std::move(endpoint), std::forward<CompletionToken>(token));
  }
  /// Plays `media` to the conference: as Bridge::async_play.
  template <typename CompletionToken>
  auto async_play(std::vector<std::string> media, PlayOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, PlayResult)>(
        [this](auto handler, std::vector<std::string> m, PlayOptions o) {
          start_play(std::move(m), std::move(o), PlayHandler(std::move(handler)));
        },
        token, std::move(media), std::move(options));
  }
  /// Records the conference: as Bridge::async_record.
  template <typename CompletionToken>
  auto async_record(RecordOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, RecordResult)>(
        [this](auto handler, RecordOptions o) { start_record(std::move(o), RecordHandler(std::move(handler))); }, token,
        std::move(options));
  }
  /// Stops the recording `name`: as Bridge::async_stop_recording.
  template <typename CompletionToken>
  auto async_stop_recording(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string n) { start_stop_recording(std::move(n), VoidHandler(std::move(handler))); },
        token, std::move(name));
  }
  /// Completes with `(std::exception_ptr, ConferenceEnd)` when it ends (at once if it has).
  template <typename CompletionToken>
  auto async_wait_ended(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, ConferenceEnd)>(
        [this](auto handler) { end_.wait(EndHandler(std::move(handler))); }, token);
  }
  /// Every join, leave and talking start and finish (RAII handle; inactive once it ends).
  [[nodiscard]] Subscription on_event(std::function<void(const ConferenceEvent&)> handler);

  /// Ends it now: its bridge is destroyed (members left in it go back to Stasis). Idempotent.
  void destroy();
  /// Ends it if it has not ended.
  ~Conference();
  Conference(const Conference&) = delete;
  Conference& operator=(const Conference&) = delete;

 private:
  friend class MediaServer;
  enum class Verb : std::uint8_t { leave, mute, unmute, kick };
  using VoidHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  using EndHandler = boost::asio::any_completion_handler<void(std::exception_ptr, ConferenceEnd)>;
  using PlayHandler = boost::asio::any_completion_handler<void(std::exception_ptr, PlayResult)>;
  using RecordHandler = boost::asio::any_completion_handler<void(std::exception_ptr, RecordResult)>;
  void start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler);
  void start_record(RecordOptions options, RecordHandler handler);
  void start_stop_recording(std::string name, VoidHandler handler);
  template <typename CompletionToken>
  auto initiate(Verb verb, std::shared_ptr<Endpoint> endpoint, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this, verb](auto handler, std::shared_ptr<Endpoint> e) {
          start_verb(verb, std::move(e), VoidHandler(std::move(handler)));
        },
        token, std::move(endpoint));
  }
  Conference(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string name,
             ConferenceOptions options);
  void start_join(std::shared_ptr<Endpoint> endpoint, JoinOptions options, VoidHandler handler);
  void start_verb(Verb verb, std::shared_ptr<Endpoint> endpoint, VoidHandler handler);
  void member_left(const std::string& channel_id);
  void after_change();
  void end(ConferenceEnd reason);

  struct Member {
    ConferenceMember info;
    Subscription talk;
  };
  std::weak_ptr<MediaServer> server_;
  boost::asio::any_io_executor executor_;
  std::string name_;
  ConferenceOptions options_;
  std::shared_ptr<Bridge> bridge_;
  std::vector<Member> members_;
  std::size_t joining_{0};  // joins under way (they count toward max_members)
  bool moh_on_{false};
  bool recording_{false};
  bool ready_{false};                                             // its bridge exists
  std::vector<std::function<void(std::exception_ptr)>> waiting_;  // creations waiting for the bridge
  std::shared_ptr<Conference> self_;                              // held while it has members
  Subscription bridge_members_;
  astmrf::detail::EndState<ConferenceEnd> end_;
  astmrf::detail::Signal<ConferenceEvent> events_;
};

template <typename CompletionToken>
auto MediaServer::async_create_conference(std::string name, ConferenceOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Conference>)>(
      [this](auto handler, std::string n, ConferenceOptions o) {
        start_create_conference(std::move(n), std::move(o), ConferenceHandler(std::move(handler)));
      },
      token, std::move(name), std::move(options));
}

}  // namespace astmrf::mrf
