// Endpoint recordings: async_record (a live recording of what the caller says, followed
// through its ARI events), stop, and the stored recordings' fetch and delete, which need
// only the server's ARI client and so work after the call ended.
#include "endpoint_errors.hpp"

#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/steady_timer.hpp>

#include <stdexcept>

namespace astmrf::mrf {

namespace {

// After the call ended, how long to wait for Asterisk's own RecordingFinished (it carries
// the duration) before completing without it.
constexpr std::chrono::seconds kEndGrace{2};
// A recording that ended for no reason we know of (no stop, no terminating DTMF seen, short
// of max_duration: max_silence, or a hangup) waits this long for the endpoint's end, which
// can arrive after RecordingFinished: then it is RecordEnd::call_ended, else finished.
constexpr std::chrono::milliseconds kSettle{500};

bool terminates(RecordTerminate terminate, char digit) {
  switch (terminate) {
    case RecordTerminate::none: return false;
    case RecordTerminate::any: return true;
    case RecordTerminate::star: return digit == '*';
    case RecordTerminate::hash: return digit == '#';
  }
  return false;
}

}  // namespace

// One async_record in flight. Its handlers (ARI events, the endpoint's end, the grace timer)
// hold it; finish() drops them all, which frees it.
struct Endpoint::RecordState : std::enable_shared_from_this<Endpoint::RecordState> {
  using Once = astmrf::detail::Once<void(std::exception_ptr, RecordResult)>;
  RecordState(std::shared_ptr<Once> o, const boost::asio::any_io_executor& executor, std::weak_ptr<Endpoint> e)
      : once(std::move(o)), grace(executor), endpoint(std::move(e)) {}

  void finish(std::exception_ptr error) {
    events.reset();
    ended.reset();
    dtmf.reset();
    grace.cancel();
    if (auto self = endpoint.lock()) {
      auto it = self->recordings_.find(result.name);
      if (it != self->recordings_.end() && it->second.lock().get() == this) self->recordings_.erase(it);
    }
    (*once)(std::move(error), result);
  }

  // Asterisk's final report of the recording (RecordingFinished or RecordingFailed).
  void final_event(const ari::LiveRecording& recording, bool failed) {
    result.duration = std::chrono::seconds(recording.duration.value_or(0));
    result.talking_duration = std::chrono::seconds(recording.talking_duration.value_or(0));
    if (!recording.format.empty()) result.format = recording.format;
    result.cause = recording.cause;
    auto self = endpoint.lock();
    if (stop_requested || recording.state == "canceled") {
      result.end = RecordEnd::stopped;
    } else if (call_ended || !self || self->destroyed()) {
      result.end = RecordEnd::call_ended;  // the hangup ended it (Asterisk may call that a failure)
    } else if (failed) {
      result.end = RecordEnd::failed;
    } else if (terminator_seen ||
               (max_duration.count() > 0 && result.duration + std::chrono::seconds(1) >= max_duration)) {
      result.end = RecordEnd::finished;
    } else {
      settling = true;
      grace.expires_after(kSettle);
      grace.async_wait([keep = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        keep->result.end = RecordEnd::finished;
        keep->finish(nullptr);
      });
      return;
    }
    finish(nullptr);
  }

  // The endpoint ended: Asterisk stops the recording and its RecordingFinished (with the
  // duration) usually follows; wait a little for it, else complete without it.
  void call_end() {
    call_ended = true;
    result.end = RecordEnd::call_ended;
    if (settling) {
      finish(nullptr);
      return;
    }
    grace.expires_after(kEndGrace);
    grace.async_wait([keep = shared_from_this()](boost::system::error_code ec) {
      if (!ec) keep->finish(nullptr);
    });
  }

  // A DTMF digit from the caller while recording.
  void digit(char d) {
    if (!terminates(terminate_on, d)) return;
    terminator_seen = true;
    if (settling) {
      result.end = RecordEnd::finished;
      finish(nullptr);
    }
  }

  std::shared_ptr<Once> once;
  ari::Subscription events;
  Subscription ended;  // the endpoint's end
  Subscription dtmf;   // the caller's digits (terminate_on)
  boost::asio::steady_timer grace;
  std::weak_ptr<Endpoint> endpoint;
  RecordResult result;
  RecordTerminate terminate_on{RecordTerminate::none};
  std::chrono::seconds max_duration{0};
  bool stop_requested{false};
  bool call_ended{false};
  bool terminator_seen{false};
  bool settling{false};  // Asterisk's final event came; waiting for a late end of the call
};

void Endpoint::start_record(RecordOptions options, RecordHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (options.format.empty() || options.max_duration.count() < 0 || options.max_silence.count() < 0) {
    (*once)(std::make_exception_ptr(std::invalid_argument("record: empty format or negative duration")),
            RecordResult{});
    return;
  }
  std::exception_ptr error;
  ari::Client* client = internal::call_client(end_, server_, error);
  if (!client) {
    (*once)(error, RecordResult{});
    return;
  }
  if (options.name.empty()) options.name = client->make_id("rec");
  if (auto it = recordings_.find(options.name); it != recordings_.end() && !it->second.expired()) {
    (*once)(std::make_exception_ptr(
                std::invalid_argument("record: '" + options.name + "' is being recorded on this endpoint already")),
            RecordResult{});
    return;
  }

  auto state = std::make_shared<RecordState>(once, executor_, weak_from_this());
  state->result.name = options.name;
  state->result.format = options.format;
  state->terminate_on = options.terminate_on;
  state->max_duration = options.max_duration;
  recordings_[options.name] = state;

  // Subscribe first: RecordingFinished may precede the response to the record request.
  state->events = client->subscribe(
      ari::ResourceKind::recording, options.name,
      [state](const ari::Event& event) {
        if (event.type() == ari::EventType::recording_finished) {
          state->final_event(event.as<ari::RecordingFinished>().recording, false);
        } else if (event.type() == ari::EventType::recording_failed) {
          state->final_event(event.as<ari::RecordingFailed>().recording, true);
        }
      },
      [state](ari::EndReason reason) {
        if (reason == ari::EndReason::ended) return;  // its final event came first
        if (reason == ari::EndReason::closed) {
          state->finish(std::make_exception_ptr(MediaServerUnavailable("the ARI client was closed")));
          return;
        }
        // Gone while the WebSocket was down: the call's end took it, or Asterisk lost it.
        auto self = state->endpoint.lock();
        state->result.end =
            (state->call_ended || !self || self->destroyed()) ? RecordEnd::call_ended : RecordEnd::failed;
        if (state->result.end == RecordEnd::failed) state->result.cause = "the recording vanished";
        state->finish(nullptr);
      });
  state->ended = destroyed_.connect([state](const EndpointEnd&) { state->call_end(); });
  if (options.terminate_on != RecordTerminate::none) {
    state->dtmf = dtmf_.connect([state](const DtmfEvent& event) { state->digit(event.digit); });
  }

  std::weak_ptr<RecordState> weak_state = state;
  std::weak_ptr<MediaServer> weak_server = server_;
  once->on_cancel([weak_state, weak_server] {
    auto st = weak_state.lock();
    if (!st) return;
    st->stop_requested = true;
    const std::string name = st->result.name;
    st->finish(nullptr);  // completion ignored: it was aborted
    // Stop it and keep what was recorded.
    std::exception_ptr ignored;
    if (auto* ari = internal::server_client(weak_server, ignored)) {
      const ari::recordings::Stop stop{.recording_name = name};
      ari->async_call<void>(ari::make_request(stop), [](std::exception_ptr) {});
    }
  });

  ari::channels::Record params{.channel_id = channel_id_,
                               .name = options.name,
                               .format = options.format,
                               .if_exists = internal::record_if_exists_name(options.if_exists),
                               .beep = options.beep,
                               .terminate_on = internal::record_terminate_name(options.terminate_on)};
  if (options.max_duration.count() > 0) params.max_duration_seconds = options.max_duration.count();
  if (options.max_silence.count() > 0) params.max_silence_seconds = options.max_silence.count();
  std::weak_ptr<Endpoint> weak = weak_from_this();
  client->async_call<ari::LiveRecording>(
      ari::make_request(params), [state, weak](std::exception_ptr e, const ari::LiveRecording&) {
        if (!e) return;  // recording: its events tell the rest
        auto self = weak.lock();
        state->finish(internal::channel_error(std::move(e), self ? self->end_reason() : std::nullopt, true));
      });
}

namespace {

// A request about a stored or live recording by name: it needs only the server, so it works
// after the call ended too. Completes `once` with the request's outcome.
template <typename Params>
void recording_call(const std::weak_ptr<MediaServer>& server, const char* what, const std::string& name,
                    const std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr)>>& once, Params params) {
  if (name.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument(std::string(what) + ": empty name")));
    return;
  }
  std::exception_ptr error;
  ari::Client* client = internal::server_client(server, error);
  if (!client) {
    (*once)(error);
    return;
  }
  once->on_cancel();
  client->async_call<void>(ari::make_request(params), [once](std::exception_ptr e) { (*once)(std::move(e)); });
}

}  // namespace

void Endpoint::stop_recording(std::string name, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (auto it = recordings_.find(name); it != recordings_.end()) {
    if (auto state = it->second.lock()) state->stop_requested = true;
  }
  recording_call(server_, "stop_recording", name, once, ari::recordings::Stop{.recording_name = name});
}

void Endpoint::start_fetch_recording(std::string name, BytesHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (name.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument("fetch_recording: empty name")), std::string{});
    return;
  }
  std::exception_ptr error;
  ari::Client* client = internal::server_client(server_, error);
  if (!client) {
    (*once)(error, std::string{});
    return;
  }
  once->on_cancel();
  const ari::recordings::GetStoredFile params{.recording_name = std::move(name)};
  client->async_call<std::string>(ari::make_request(params), [once](std::exception_ptr e, std::string bytes) {
    (*once)(std::move(e), std::move(bytes));
  });
}

void Endpoint::delete_recording(std::string name, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  recording_call(server_, "delete_recording", name, once, ari::recordings::DeleteStored{.recording_name = name});
}

}  // namespace astmrf::mrf
