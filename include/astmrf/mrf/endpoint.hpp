// Endpoint: one media leg on Asterisk (a SIP dialog to Asterisk plus the ARI channel it
// created) and the media verbs an application uses on it: play, play and collect, say,
// record, DTMF, mute, hold, music on hold, silence, channel variables, talk detection;
// and its events (DTMF, playbacks, talking, its end).
//
//   auto result = co_await endpoint->async_play("sound:tt-monkeys", use_awaitable);
//   auto input = co_await endpoint->async_play_and_collect({"sound:enter-pin"}, {.max_digits = 4}, use_awaitable);
//
// Every verb completes with `(std::exception_ptr[, T])` (docs/architecture.md). A verb on an
// endpoint that has ended completes at once with mrf::CallEnded; cancelling a verb completes it
// with operation_aborted and stops what it started on Asterisk (the prompt, the recording).
#pragma once

#include <astmrf/ari/client.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/detail/signal.hpp>
#include <astmrf/mrf/errors.hpp>
#include <astmrf/srf/dialog.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::mrf {

/// RAII handle of an event handler on an Endpoint: dropping it removes the handler; it goes
/// inactive by itself when the endpoint ends. Safe to outlive the endpoint.
using Subscription = astmrf::detail::SignalConnection;

// ---------------------------------------------------------------- play

/// Options of Endpoint::async_play.
struct PlayOptions {
  /// The playback's id: empty picks a fresh one (Endpoint::make_playback_id()). Choose it
  /// yourself to control the playback (Endpoint::playback()) while async_play waits.
  std::string playback_id;
  /// For sound: URIs (ARI `lang`); empty: the channel's language.
  std::string language;
  /// Milliseconds to skip at the start of the first media.
  std::chrono::milliseconds offset{0};
  /// Milliseconds skipped by forward / reverse (ARI `skipms`; 0: Asterisk's 3000).
  std::chrono::milliseconds skip{0};
  /// A DTMF digit from the caller stops the playback (its digit is in PlayResult::digit).
  bool stop_on_dtmf{false};
};

/// How a playback ended.
enum class PlayEnd : std::uint8_t {
  finished,    ///< played to the end
  stopped,     ///< stopped (Playback::async_stop, a DTMF with stop_on_dtmf, or cancellation)
  failed,      ///< Asterisk could not play it (e.g. no such sound)
  call_ended,  ///< the call ended while it played
};
/// The name, e.g. "finished".
std::string_view to_string(PlayEnd end) noexcept;

/// What Endpoint::async_play and async_say yield.
struct PlayResult {
  PlayEnd end{PlayEnd::finished};  ///< how it ended
  std::string playback_id;         ///< the playback's id
  std::optional<char> digit;       ///< the DTMF digit that stopped it (stop_on_dtmf)
};

class Endpoint;
class MediaServer;
class Bridge;
class Snoop;
struct BridgeOptions;
struct SnoopOptions;
class MediaStream;
struct StreamOptions;
namespace detail {
struct PlayAccess;
struct StreamAccess;  // src/mrf/stream/: the stream's access to its endpoint
}  // namespace detail

/// A handle on one playback of an endpoint, by id: controls it while it plays. Cheap to
/// copy; safe after the endpoint or the playback is gone (operations then fail: CallEnded,
/// or ari::NotFound for a playback that has finished).
class Playback {
 public:
  Playback() = default;
  /// The playback's id.
  [[nodiscard]] const std::string& id() const noexcept { return id_; }

  /// Each completes with `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_pause(CompletionToken&& token) {
    return control("pause", std::forward<CompletionToken>(token));
  }
  /// Resumes a paused playback.
  template <typename CompletionToken>
  auto async_resume(CompletionToken&& token) {
    return control("unpause", std::forward<CompletionToken>(token));
  }
  /// Restarts the current media from its start.
  template <typename CompletionToken>
  auto async_restart(CompletionToken&& token) {
    return control("restart", std::forward<CompletionToken>(token));
  }
  /// Skips forward by PlayOptions::skip.
  template <typename CompletionToken>
  auto async_forward(CompletionToken&& token) {
    return control("forward", std::forward<CompletionToken>(token));
  }
  /// Skips back by PlayOptions::skip.
  template <typename CompletionToken>
  auto async_reverse(CompletionToken&& token) {
    return control("reverse", std::forward<CompletionToken>(token));
  }
  /// Stops it: async_play then completes with PlayEnd::stopped.
  template <typename CompletionToken>
  auto async_stop(CompletionToken&& token) {
    return control("stop", std::forward<CompletionToken>(token));
  }

 private:
  friend class Endpoint;
  using VoidHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  Playback(std::weak_ptr<Endpoint> endpoint, std::string id) : endpoint_(std::move(endpoint)), id_(std::move(id)) {}
  template <typename CompletionToken>
  auto control(const char* operation, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this, operation](auto handler) { start_control(operation, VoidHandler(std::move(handler))); }, token);
  }
  void start_control(const char* operation, VoidHandler handler);
  std::weak_ptr<Endpoint> endpoint_;
  std::string id_;
};

// ---------------------------------------------------------------- collect

/// Options of Endpoint::async_play_and_collect.
struct CollectOptions {
  std::size_t min_digits{1};     ///< fewer digits than this are invalid input
  std::size_t max_digits{1};     ///< collection ends when this many digits arrived
  std::string terminators{"#"};  ///< a digit among these ends collection (not included)
  /// After the prompt, until the first digit; 0: none.
  std::chrono::milliseconds first_digit_timeout{5000};
  /// Between two digits; 0: none.
  std::chrono::milliseconds inter_digit_timeout{3000};
  /// For one try, from its start (prompt included); 0: none.
  std::chrono::milliseconds overall_timeout{0};
  /// A digit during the prompt stops it, and the digits pressed during it are kept. Off:
  /// the prompt plays to its end and digits pressed meanwhile are dropped.
  bool barge_in{true};
  /// Tries: after invalid input (too few digits, failed validation, a timeout with none)
  /// `invalid_prompt` plays (to its end; digits meanwhile are dropped) and the prompts play
  /// again, up to this many times in all.
  int tries{1};
  /// Played after invalid input, before the next try (empty: nothing).
  std::vector<std::string> invalid_prompt;
  /// Input must match this ECMAScript regex (whole digits); empty: any.
  std::string regex;
  /// Input must pass this check (after `regex`); empty: any.
  std::function<bool(std::string_view digits)> validate;
  /// For sound: URIs; empty: the channel's language.
  std::string language;
};

/// How a collection ended.
enum class CollectEnd : std::uint8_t {
  terminator,  ///< a terminator digit
  max_digits,  ///< max_digits arrived
  timeout,     ///< first-digit, inter-digit or overall timeout
  invalid,     ///< the last try's input (ended by terminator or max_digits) was rejected; a timeout stays `timeout`
  call_ended,  ///< the call ended while collecting
};
/// The name, e.g. "terminator".
std::string_view to_string(CollectEnd end) noexcept;

/// What Endpoint::async_play_and_collect yields.
struct CollectResult {
  std::string digits;                   ///< the digits of the last try, terminator excluded
  CollectEnd end{CollectEnd::timeout};  ///< how the last try ended
  int tries{0};                         ///< tries used
  /// Whether `digits` passed min_digits, `regex` and `validate` (a timeout with enough valid
  /// digits is valid input).
  bool valid{false};
};

// ---------------------------------------------------------------- say

/// How Endpoint::async_say speaks a value.
enum class SayKind : std::uint8_t {
  digits,      ///< "123" → one two three
  number,      ///< "123" → one hundred twenty-three
  characters,  ///< "abc" → a b c
  phonetic,    ///< "abc" → alpha bravo charlie
};

// ---------------------------------------------------------------- record

/// Which DTMF ends a recording.
enum class RecordTerminate : std::uint8_t { none, any, star, hash };
/// What a recording does when a stored recording of the same name exists.
enum class RecordIfExists : std::uint8_t { fail, overwrite, append };

/// Options of Endpoint::async_record.
struct RecordOptions {
  /// The stored recording's name: empty picks a fresh one. May hold a '/' (a subdirectory).
  std::string name;
  /// The file format (wav, gsm, sln, ulaw...).
  std::string format{"wav"};
  /// 0: no limit.
  std::chrono::seconds max_duration{0};
  /// Silence that ends the recording; 0: none.
  std::chrono::seconds max_silence{0};
  /// Play a beep before recording.
  bool beep{false};
  /// Which DTMF ends it.
  RecordTerminate terminate_on{RecordTerminate::none};
  /// When the name exists.
  RecordIfExists if_exists{RecordIfExists::fail};
};

/// How a recording ended.
enum class RecordEnd : std::uint8_t {
  finished,    ///< max duration, max silence or a terminating DTMF
  stopped,     ///< Endpoint::async_stop_recording or cancellation
  failed,      ///< Asterisk reported RecordingFailed
  call_ended,  ///< the call ended (what was recorded is stored)
};
/// The name, e.g. "finished".
std::string_view to_string(RecordEnd end) noexcept;

/// What Endpoint::async_record yields.
struct RecordResult {
  std::string name;                          ///< the stored recording's name
  std::string format;                        ///< its format
  std::chrono::seconds duration{0};          ///< as Asterisk reports it
  std::chrono::seconds talking_duration{0};  ///< time with speech (Asterisk's silence detection)
  RecordEnd end{RecordEnd::finished};        ///< how it ended
  std::string cause;                         ///< Asterisk's cause when it failed
};

// ---------------------------------------------------------------- other verbs

/// Options of Endpoint::async_send_dtmf.
struct DtmfOptions {
  std::chrono::milliseconds between{100};   ///< gap between digits
  std::chrono::milliseconds duration{100};  ///< length of each digit
};

/// Which way mute and unmute act.
enum class MediaDirection : std::uint8_t { in, out, both };

/// TALK_DETECT thresholds (fsmrf's VAD settings).
struct TalkDetectOptions {
  /// Silence that ends talking.
  std::chrono::milliseconds silence_threshold{2500};
  /// Energy above which audio is talking (Asterisk's DSP default 256).
  int talking_threshold{256};
};

// ---------------------------------------------------------------- events

/// Where a DTMF digit came from.
enum class DtmfSource : std::uint8_t {
  rtp,       ///< RFC 4733 events in the caller's RTP (Asterisk's ChannelDtmfReceived)
  sip_info,  ///< SIP INFO (application/dtmf-relay or application/dtmf) from the caller
};

/// A DTMF digit from the caller.
struct DtmfEvent {
  char digit{0};                          ///< 0-9, *, #, A-D
  std::chrono::milliseconds duration{0};  ///< as reported (0 if unknown)
  DtmfSource source{DtmfSource::rtp};     ///< how it arrived
};

/// A playback of the endpoint started or finished.
struct PlaybackEvent {
  bool finished{false};     ///< false: PlaybackStarted; true: PlaybackFinished
  std::string playback_id;  ///< its id
  std::string media_uri;    ///< the media playing
  std::string state;        ///< Asterisk's state (queued, playing, done, failed...)
};

/// The caller started or stopped talking (TALK_DETECT must be on: async_start_talk_detect).
struct TalkEvent {
  bool talking{false};                    ///< true: ChannelTalkingStarted; false: ChannelTalkingFinished
  std::chrono::milliseconds duration{0};  ///< how long the talking lasted (when it finished)
};

/// One media leg on Asterisk: the SIP dialog to Asterisk plus the ARI channel it
/// created in the server's Stasis application. The application holds it (shared_ptr);
/// dropping the last reference ends the dialog, whose BYE ends the channel.
class Endpoint : public std::enable_shared_from_this<Endpoint> {
 public:
  /// The ARI channel's id, for ari::Client calls the verbs do not cover.
  [[nodiscard]] const std::string& channel_id() const noexcept { return channel_id_; }
  /// The channel's name, e.g. `PJSIP/drachtio-00000001`.
  [[nodiscard]] const std::string& channel_name() const noexcept { return channel_name_; }
  /// The SIP dialog to Asterisk.
  [[nodiscard]] const std::shared_ptr<srf::Dialog>& dialog() const noexcept { return dialog_; }
  /// Asterisk's SDP (what the caller should receive) and ours.
  [[nodiscard]] const std::string& local_sdp() const noexcept { return dialog_->remote_sdp(); }
  /// The SDP sent to Asterisk (the caller's, with connect_caller).
  [[nodiscard]] const std::string& remote_sdp() const noexcept { return dialog_->local_sdp(); }
  /// Whether the endpoint has ended.
  [[nodiscard]] bool destroyed() const noexcept { return end_.ended(); }
  /// Why it ended, once it has.
  [[nodiscard]] std::optional<EndpointEnd> end_reason() const noexcept { return end_.value(); }
  /// The ARI client of its media server (null once the server is gone).
  [[nodiscard]] ari::Client* ari() const noexcept;
  /// Its media server (null once the server is gone): which one a pool chose.
  [[nodiscard]] std::shared_ptr<MediaServer> media_server() const noexcept { return server_.lock(); }
  /// The call it serves, as its log lines name it: EndpointOptions::call_id (the caller's
  /// Call-ID under connect_caller), else the Call-ID of its dialog with Asterisk.
  [[nodiscard]] const std::string& call_id() const noexcept { return call_id_; }
  /// Handlers registered on its events (on_* and the verbs' own): 0 when nothing listens
  /// (a leak check for tests).
  [[nodiscard]] std::size_t event_handlers() const noexcept {
    return dtmf_.size() + playback_.size() + talk_.size() + destroyed_.size();
  }

  /// Sends BYE to Asterisk (which ends the channel). Idempotent.
  void destroy();
  /// Runs once when the endpoint ends, whatever ended it (at once if it has). The handler
  /// lives as long as the endpoint; for a handler you can drop, use on_destroyed().
  void on_destroy(std::function<void(EndpointEnd)> handler);

  /// Completes with `(std::exception_ptr, EndpointEnd)` when the endpoint ends (at once if it has).
  /// Cancelling it ends the wait only (operation_aborted); the endpoint stays up.
  template <typename CompletionToken>
  auto async_wait_destroyed(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, EndpointEnd)>(
        [this](auto handler) { wait_destroyed(EndHandler(std::move(handler))); }, token);
  }

  // ---- events: handlers (RAII Subscription) and waits for the next one ----------------------
  // Waits complete with `(std::exception_ptr, Event)`; with CallEnded when the endpoint ends
  // first (at once if it has); cancelling one ends that wait only.

  /// Every DTMF digit from the caller (RFC 4733 or SIP INFO).
  [[nodiscard]] Subscription on_dtmf(std::function<void(const DtmfEvent&)> handler);
  /// Every playback start and finish on the endpoint.
  [[nodiscard]] Subscription on_playback(std::function<void(const PlaybackEvent&)> handler);
  /// Every talking start and finish (after async_start_talk_detect).
  [[nodiscard]] Subscription on_talk(std::function<void(const TalkEvent&)> handler);
  /// The end of the endpoint, once.
  [[nodiscard]] Subscription on_destroyed(std::function<void(const EndpointEnd&)> handler);

  /// The next DTMF digit.
  template <typename CompletionToken>
  auto async_wait_dtmf(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, DtmfEvent)>(
        [this](auto handler) { wait_dtmf(DtmfWaitHandler(std::move(handler))); }, token);
  }
  /// The next playback start or finish.
  template <typename CompletionToken>
  auto async_wait_playback(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, PlaybackEvent)>(
        [this](auto handler) { wait_playback(PlaybackWaitHandler(std::move(handler))); }, token);
  }
  /// The next talking start or finish.
  template <typename CompletionToken>
  auto async_wait_talk(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, TalkEvent)>(
        [this](auto handler) { wait_talk(TalkWaitHandler(std::move(handler))); }, token);
  }

  // ---- media verbs ----------------------------------------------------------------------------

  /// A fresh playback id (for PlayOptions::playback_id).
  [[nodiscard]] std::string make_playback_id();
  /// A handle on the playback `id` of this endpoint.
  [[nodiscard]] Playback playback(std::string id);

  /// Plays `media` ("sound:x", "recording:x", "digits:12", "tone:ring"...) in order and completes
  /// with `(std::exception_ptr, PlayResult)` when the playback ends. Cancelling it stops the playback.
  template <typename CompletionToken>
  auto async_play(std::vector<std::string> media, PlayOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, PlayResult)>(
        [this](auto handler, std::vector<std::string> m, PlayOptions o) {
          start_play(std::move(m), std::move(o), PlayHandler(std::move(handler)));
        },
        token, std::move(media), std::move(options));
  }
  /// One media, default options.
  template <typename CompletionToken>
  auto async_play(std::string media, CompletionToken&& token) {
    return async_play(std::vector<std::string>{std::move(media)}, PlayOptions{}, std::forward<CompletionToken>(token));
  }
  /// One media.
  template <typename CompletionToken>
  auto async_play(std::string media, PlayOptions options, CompletionToken&& token) {
    return async_play(std::vector<std::string>{std::move(media)}, std::move(options),
                      std::forward<CompletionToken>(token));
  }

  /// Subscribes to DTMF first, plays `prompts` (may be empty) and collects digits; completes with
  /// `(std::exception_ptr, CollectResult)`. The call ending meanwhile yields CollectEnd::call_ended
  /// (not an error). Cancelling it stops the prompt.
  template <typename CompletionToken>
  auto async_play_and_collect(std::vector<std::string> prompts, CollectOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, CollectResult)>(
        [this](auto handler, std::vector<std::string> p, CollectOptions o) {
          start_collect(std::move(p), std::move(o), CollectHandler(std::move(handler)));
        },
        token, std::move(prompts), std::move(options));
  }

  /// Speaks `value` with ARI's media URIs (digits:, number:, characters:; phonetic as the
  /// sounds of the phonetic alphabet); completes as async_play. Bad input (a non-number for
  /// SayKind::number, an empty value) fails with std::invalid_argument before any I/O.
  template <typename CompletionToken>
  auto async_say(std::string value, SayKind kind, std::string language, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, PlayResult)>(
        [this](auto handler, std::string v, SayKind k, std::string l) {
          start_say(std::move(v), k, std::move(l), PlayHandler(std::move(handler)));
        },
        token, std::move(value), kind, std::move(language));
  }
  /// In the channel's language.
  template <typename CompletionToken>
  auto async_say(std::string value, SayKind kind, CompletionToken&& token) {
    return async_say(std::move(value), kind, std::string{}, std::forward<CompletionToken>(token));
  }

  /// Records the caller into a stored recording; completes with `(std::exception_ptr, RecordResult)`
  /// when the recording ends (the call ending stores what was recorded: RecordEnd::call_ended).
  /// Cancelling it stops the recording (what was recorded is kept).
  /// Asterisk reports a hangup as an ordinary end of the recording, sometimes before the endpoint
  /// learns of the hangup: an end with no known cause (no stop, no terminating digit seen, short
  /// of max_duration) waits up to 0.5 s for the endpoint's end before it reports `finished`; after
  /// the endpoint's end it waits up to 2 s for Asterisk's report (with the duration).
  /// Asterisk's refusals pass through: ari::Conflict (name exists, if_exists fail), ari::UnprocessableEntity
  /// (unknown format); std::invalid_argument for an empty format, a negative limit, or a name
  /// this endpoint is recording already.
  template <typename CompletionToken>
  auto async_record(RecordOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, RecordResult)>(
        [this](auto handler, RecordOptions o) { start_record(std::move(o), RecordHandler(std::move(handler))); }, token,
        std::move(options));
  }
  /// Stops the live recording `name` (the file is kept); its async_record completes with
  /// RecordEnd::stopped. Needs only the server (ari::NotFound once the recording is over).
  template <typename CompletionToken>
  auto async_stop_recording(std::string name, CompletionToken&& token) {
    return initiate_void(Verb::stop_recording, std::move(name), {}, std::forward<CompletionToken>(token));
  }
  /// The bytes of the stored recording `name` (with its format's extension, e.g. a WAV file):
  /// `(std::exception_ptr, std::string)`. Works after the call ended too.
  template <typename CompletionToken>
  auto async_fetch_recording(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::string)>(
        [this](auto handler, std::string n) { start_fetch_recording(std::move(n), BytesHandler(std::move(handler))); },
        token, std::move(name));
  }
  /// Deletes the stored recording `name`: `(std::exception_ptr)`. Works after the call ended too.
  template <typename CompletionToken>
  auto async_delete_recording(std::string name, CompletionToken&& token) {
    return initiate_void(Verb::delete_recording, std::move(name), {}, std::forward<CompletionToken>(token));
  }

  /// Sends DTMF `digits` (`0-9*#A-D`, ',' for a pause) to the caller: `(std::exception_ptr)`.
  /// Other characters, an empty string, a negative gap or a non-positive duration fail with
  /// std::invalid_argument before any I/O. Asterisk queues the digits and answers at once: it
  /// completes when they are accepted, not when the last one has been sent.
  template <typename CompletionToken>
  auto async_send_dtmf(std::string digits, DtmfOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string d, DtmfOptions o) {
          start_send_dtmf(std::move(d), o, VoidHandler(std::move(handler)));
        },
        token, std::move(digits), options);
  }
  /// With the default timing.
  template <typename CompletionToken>
  auto async_send_dtmf(std::string digits, CompletionToken&& token) {
    return async_send_dtmf(std::move(digits), DtmfOptions{}, std::forward<CompletionToken>(token));
  }

  /// Mutes the channel: `in` (what the caller says), `out` (what the caller hears) or both.
  template <typename CompletionToken>
  auto async_mute(MediaDirection direction, CompletionToken&& token) {
    return initiate_void(Verb::mute, direction_name(direction), {}, std::forward<CompletionToken>(token));
  }
  /// Undoes async_mute.
  template <typename CompletionToken>
  auto async_unmute(MediaDirection direction, CompletionToken&& token) {
    return initiate_void(Verb::unmute, direction_name(direction), {}, std::forward<CompletionToken>(token));
  }
  /// Puts the channel on hold (ARI hold: Asterisk's hold indication; chan_pjsip answers it by
  /// playing music on hold to the caller until async_unhold).
  template <typename CompletionToken>
  auto async_hold(CompletionToken&& token) {
    return initiate_void(Verb::hold, {}, {}, std::forward<CompletionToken>(token));
  }
  /// Takes it off hold.
  template <typename CompletionToken>
  auto async_unhold(CompletionToken&& token) {
    return initiate_void(Verb::unhold, {}, {}, std::forward<CompletionToken>(token));
  }
  /// Plays music on hold of `moh_class` (empty: the channel's) until async_stop_moh.
  template <typename CompletionToken>
  auto async_start_moh(std::string moh_class, CompletionToken&& token) {
    return initiate_void(Verb::start_moh, std::move(moh_class), {}, std::forward<CompletionToken>(token));
  }
  /// Stops music on hold.
  template <typename CompletionToken>
  auto async_stop_moh(CompletionToken&& token) {
    return initiate_void(Verb::stop_moh, {}, {}, std::forward<CompletionToken>(token));
  }
  /// Plays silence until async_stop_silence.
  template <typename CompletionToken>
  auto async_start_silence(CompletionToken&& token) {
    return initiate_void(Verb::start_silence, {}, {}, std::forward<CompletionToken>(token));
  }
  /// Stops the silence.
  template <typename CompletionToken>
  auto async_stop_silence(CompletionToken&& token) {
    return initiate_void(Verb::stop_silence, {}, {}, std::forward<CompletionToken>(token));
  }
  /// Sets a channel variable (or a dialplan function such as `TALK_DETECT(set)`).
  template <typename CompletionToken>
  auto async_set_variable(std::string name, std::string value, CompletionToken&& token) {
    return initiate_void(Verb::set_variable, std::move(name), std::move(value), std::forward<CompletionToken>(token));
  }
  /// Reads a channel variable: `(std::exception_ptr, std::string)`; an unset one fails with ari::NotFound.
  template <typename CompletionToken>
  auto async_get_variable(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::string)>(
        [this](auto handler, std::string n) { start_get_variable(std::move(n), BytesHandler(std::move(handler))); },
        token, std::move(name));
  }
  /// Turns on Asterisk's talk detection (TALK_DETECT) on the channel: on_talk events follow.
  template <typename CompletionToken>
  auto async_start_talk_detect(TalkDetectOptions options, CompletionToken&& token) {
    return initiate_void(
        Verb::set_variable, "TALK_DETECT(set)",
        std::to_string(options.silence_threshold.count()) + "," + std::to_string(options.talking_threshold),
        std::forward<CompletionToken>(token));
  }
  /// Turns it off.
  template <typename CompletionToken>
  auto async_stop_talk_detect(CompletionToken&& token) {
    return initiate_void(Verb::set_variable, "TALK_DETECT(remove)", "", std::forward<CompletionToken>(token));
  }

  // ---- SIP mid-call ---------------------------------------------------------------------------

  /// Re-offers `sdp` to Asterisk (a re-INVITE; fsmrf's modify) and completes with Asterisk's answer:
  /// `(std::exception_ptr, std::string)`. A non-2xx fails with srf::SipFailure and changes nothing.
  /// On an ended endpoint (or if it ends meanwhile) it fails with CallEnded at once. Cancelling it
  /// completes it with operation_aborted; the re-INVITE runs its course. The caller of a connected
  /// call is not re-offered: that is the application's to do with the answer (as with fsmrf).
  template <typename CompletionToken>
  auto async_modify(std::string sdp, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::string)>(
        [this](auto handler, std::string s) { start_modify(std::move(s), BytesHandler(std::move(handler))); }, token,
        std::move(sdp));
  }

  // ---- bridges and snoops (defined in bridge.hpp and snoop.hpp) ------------------------------

  /// Creates a bridge on this endpoint's server with this endpoint and `other` (moved from the
  /// bridges they are in): `(std::exception_ptr, std::shared_ptr<Bridge>)`. `other` on another
  /// server fails with std::invalid_argument. Include <astmrf/mrf/bridge.hpp>.
  template <typename CompletionToken>
  auto async_bridge(std::shared_ptr<Endpoint> other, BridgeOptions options, CompletionToken&& token);
  /// Leaves the bridge it is in (back to Stasis, the call stays up): `(std::exception_ptr)`; a
  /// no-op when it is in none.
  template <typename CompletionToken>
  auto async_unbridge(CompletionToken&& token);
  /// The bridge it is in now (null: none, or that bridge's handles are all gone).
  [[nodiscard]] std::shared_ptr<Bridge> bridge() const;
  /// Starts a snoop channel on this endpoint (ARI snoop): `(std::exception_ptr,
  /// std::shared_ptr<Snoop>)` once the snoop channel is in Stasis. Include <astmrf/mrf/snoop.hpp>.
  template <typename CompletionToken>
  auto async_snoop(SnoopOptions options, CompletionToken&& token);

  // ---- live audio (defined in stream.hpp) -----------------------------------------------------

  /// Opens a live audio stream of the call to the application: Asterisk's externalMedia channel,
  /// bridged with this endpoint's channel in a bridge of its own, its media served by the library
  /// (StreamOptions::transport): `(std::exception_ptr, std::shared_ptr<MediaStream>)` once audio
  /// can flow both ways. The endpoint must be in no other bridge (std::logic_error); the bridge of
  /// a stream that was closed or cancelled while its bridge was being made goes a moment later
  /// (bridge() is null again). Include <astmrf/mrf/stream.hpp>.
  template <typename CompletionToken>
  auto async_open_stream(StreamOptions options, CompletionToken&& token);

  /// Dropping the last reference ends the dialog (its BYE ends the channel).
  ~Endpoint();

 private:
  friend class MediaServer;            // which makes, starts and ends endpoints
  friend class Playback;               // which controls playbacks through the endpoint's client
  friend struct detail::PlayAccess;    // endpoint_play.cpp: the playback verbs' access to the members
  friend class Bridge;                 // which tracks the bridge the endpoint is in
  friend struct detail::StreamAccess;  // src/mrf/stream/stream.cpp
  using BridgeHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Bridge>)>;
  using SnoopHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Snoop>)>;
  void start_bridge(std::shared_ptr<Endpoint> other, BridgeOptions options, BridgeHandler handler);
  void start_unbridge(boost::asio::any_completion_handler<void(std::exception_ptr)> handler);
  void start_snoop(SnoopOptions options, SnoopHandler handler);
  using StreamHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<MediaStream>)>;
  void start_open_stream(StreamOptions options, StreamHandler handler);
  Endpoint(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string channel_id,
           std::string channel_name, std::shared_ptr<srf::Dialog> dialog, std::string call_id);
  void start(ari::Client& ari);
  void ended(EndpointEnd reason);
  // A DTMF digit from SIP INFO on the caller's leg (connect_caller relays it here).
  void dtmf_from_info(const DtmfEvent& event);

  enum class Verb : std::uint8_t {
    stop_recording,
    delete_recording,
    mute,
    unmute,
    hold,
    unhold,
    start_moh,
    stop_moh,
    start_silence,
    stop_silence,
    set_variable,
  };
  static std::string direction_name(MediaDirection direction);

  using EndHandler = boost::asio::any_completion_handler<void(std::exception_ptr, EndpointEnd)>;
  using VoidHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  using BytesHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::string)>;
  using PlayHandler = boost::asio::any_completion_handler<void(std::exception_ptr, PlayResult)>;
  using CollectHandler = boost::asio::any_completion_handler<void(std::exception_ptr, CollectResult)>;
  using RecordHandler = boost::asio::any_completion_handler<void(std::exception_ptr, RecordResult)>;
  using DtmfWaitHandler = boost::asio::any_completion_handler<void(std::exception_ptr, DtmfEvent)>;
  using PlaybackWaitHandler = boost::asio::any_completion_handler<void(std::exception_ptr, PlaybackEvent)>;
  using TalkWaitHandler = boost::asio::any_completion_handler<void(std::exception_ptr, TalkEvent)>;

  template <typename CompletionToken>
  auto initiate_void(Verb verb, std::string a, std::string b, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this, verb](auto handler, std::string x, std::string y) {
          start_verb(verb, std::move(x), std::move(y), VoidHandler(std::move(handler)));
        },
        token, std::move(a), std::move(b));
  }

  void wait_destroyed(EndHandler handler);
  void wait_dtmf(DtmfWaitHandler handler);
  void wait_playback(PlaybackWaitHandler handler);
  void wait_talk(TalkWaitHandler handler);
  void start_verb(Verb verb, std::string a, std::string b, VoidHandler handler);
  void start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler);
  void start_collect(std::vector<std::string> prompts, CollectOptions options, CollectHandler handler);
  void start_say(std::string value, SayKind kind, std::string language, PlayHandler handler);
  void start_record(RecordOptions options, RecordHandler handler);
  void start_fetch_recording(std::string name, BytesHandler handler);
  void start_get_variable(std::string name, BytesHandler handler);
  void start_send_dtmf(std::string digits, DtmfOptions options, VoidHandler handler);
  void start_modify(std::string sdp, BytesHandler handler);
  // Asterisk's re-offers on a standalone endpoint get an RFC 3264 answer built here
  // (connect_caller replaces this with its relay to the caller).
  void answer_offers_locally();
  // The answer to `offer` from the session `base` (our first SDP) in the version of `current`
  // (our last SDP): directions mirrored, codecs kept that both have. None: unacceptable (488).
  static std::optional<std::string> answer_offer(const std::string& base, const std::string& current,
                                                 std::string_view offer);
  void stop_recording(std::string name, VoidHandler handler);
  void delete_recording(std::string name, VoidHandler handler);

  // A recording that async_record waits for (src/mrf/endpoint_record.cpp).
  struct RecordState;
  // Live recordings of async_record by name: async_stop_recording marks them, so that they
  // end as RecordEnd::stopped.
  std::map<std::string, std::weak_ptr<RecordState>> recordings_;

  std::weak_ptr<MediaServer> server_;
  boost::asio::any_io_executor executor_;
  std::string channel_id_;
  std::string channel_name_;
  std::shared_ptr<srf::Dialog> dialog_;
  std::string call_id_;
  ari::Subscription channel_events_;
  astmrf::detail::EndState<EndpointEnd> end_;
  astmrf::detail::Signal<DtmfEvent> dtmf_;
  astmrf::detail::Signal<PlaybackEvent> playback_;
  astmrf::detail::Signal<TalkEvent> talk_;
  astmrf::detail::Signal<EndpointEnd> destroyed_;
  // Running playback verbs by playback id: told when Playback::async_stop asks Asterisk to stop
  // theirs (Asterisk reports a stopped playback as "done", like one that played out).
  std::map<std::string, std::function<void()>> stop_hooks_;
  // The bridge it is in (set by Bridge from addChannel and ChannelEnteredBridge).
  std::weak_ptr<Bridge> bridge_;
};

}  // namespace astmrf::mrf
