// Endpoint: one SIP dialog to Asterisk plus the ARI channel it created; it ends
// once, for the first of: destroy(), Asterisk's BYE, StasisEnd, loss of the server.
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

namespace astmrf::mrf {

std::string_view to_string(EndpointEnd end) noexcept {
  switch (end) {
    case EndpointEnd::destroyed: return "destroyed";
    case EndpointEnd::asterisk_hangup: return "asterisk_hangup";
    case EndpointEnd::left_stasis: return "left_stasis";
    case EndpointEnd::media_server_lost: return "media_server_lost";
  }
  return "unknown";
}

std::string_view to_string(PlayEnd end) noexcept {
  switch (end) {
    case PlayEnd::finished: return "finished";
    case PlayEnd::stopped: return "stopped";
    case PlayEnd::failed: return "failed";
    case PlayEnd::call_ended: return "call_ended";
  }
  return "unknown";
}

std::string_view to_string(CollectEnd end) noexcept {
  switch (end) {
    case CollectEnd::terminator: return "terminator";
    case CollectEnd::max_digits: return "max_digits";
    case CollectEnd::timeout: return "timeout";
    case CollectEnd::invalid: return "invalid";
    case CollectEnd::call_ended: return "call_ended";
  }
  return "unknown";
}

std::string_view to_string(RecordEnd end) noexcept {
  switch (end) {
    case RecordEnd::finished: return "finished";
    case RecordEnd::stopped: return "stopped";
    case RecordEnd::failed: return "failed";
    case RecordEnd::call_ended: return "call_ended";
  }
  return "unknown";
}

Endpoint::Endpoint(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string channel_id,
                   std::string channel_name, std::shared_ptr<srf::Dialog> dialog, std::string call_id)
    : server_(std::move(server)),
      executor_(std::move(executor)),
      channel_id_(std::move(channel_id)),
      channel_name_(std::move(channel_name)),
      dialog_(std::move(dialog)),
      call_id_(call_id.empty() ? dialog_->call_id() : std::move(call_id)),
      end_(executor_),
      dtmf_(executor_),
      playback_(executor_),
      talk_(executor_),
      destroyed_(executor_) {}

Endpoint::~Endpoint() = default;  // dropping the dialog's last reference sends BYE

void Endpoint::start(ari::Client& ari) {
  std::weak_ptr<Endpoint> weak = weak_from_this();
  channel_events_ = ari.subscribe(
      ari::ResourceKind::channel, channel_id_,
      [weak](const ari::Event& event) {
        auto self = weak.lock();
        if (!self) return;
        switch (event.type()) {
          case ari::EventType::stasis_end: self->ended(EndpointEnd::left_stasis); break;
          case ari::EventType::channel_dtmf_received: {
            const auto dtmf = event.as<ari::ChannelDtmfReceived>();
            if (dtmf.digit.size() == 1) {
              self->dtmf_.emit(DtmfEvent{dtmf.digit[0], std::chrono::milliseconds(dtmf.duration_ms), DtmfSource::rtp});
            }
            break;
          }
          case ari::EventType::channel_talking_started: self->talk_.emit(TalkEvent{true, {}}); break;
          case ari::EventType::channel_talking_finished: {
            const auto finished = event.as<ari::ChannelTalkingFinished>();
            self->talk_.emit(TalkEvent{false, std::chrono::milliseconds(finished.duration)});
            break;
          }
          default: break;
        }
      },
      [weak](ari::EndReason reason) {
        if (reason == ari::EndReason::ended) return;  // StasisEnd, handled above
        if (auto self = weak.lock()) self->ended(EndpointEnd::media_server_lost);
      });
  dialog_->on_destroy([weak](const srf::DestroyedInfo& info) {
    if (auto self = weak.lock()) {
      self->ended(info.who == srf::DestroyedInfo::Who::local ? EndpointEnd::destroyed : EndpointEnd::asterisk_hangup);
    }
  });
}

void Endpoint::destroy() {
  if (end_.ended()) return;
  auto keep = shared_from_this();
  dialog_->destroy();  // BYE; on_destroy then ends the endpoint
  ended(EndpointEnd::destroyed);
}

void Endpoint::ended(EndpointEnd reason) {
  if (!end_.set(reason)) return;
  auto keep = shared_from_this();
  // The channel left Stasis (or the server is gone) but the SIP leg may be up:
  // end it, so that nothing is left on either side.
  dialog_->destroy();
  channel_events_.reset();
  if (auto server = server_.lock()) server->forget(*this, reason);
  // Handlers may hold the endpoint: dropping them breaks the cycle. Waits fail with CallEnded.
  const auto call_ended = std::make_exception_ptr(CallEnded(reason));
  dtmf_.close(call_ended);
  playback_.close(call_ended);
  talk_.close(call_ended);
  destroyed_.emit(reason);
  destroyed_.close(call_ended);
  end_.notify();
}

ari::Client* Endpoint::ari() const noexcept {
  auto server = server_.lock();
  return server ? &server->ari() : nullptr;
}

void Endpoint::dtmf_from_info(const DtmfEvent& event) { dtmf_.emit(event); }

Subscription Endpoint::on_dtmf(std::function<void(const DtmfEvent&)> handler) {
  return dtmf_.connect(std::move(handler));
}
Subscription Endpoint::on_playback(std::function<void(const PlaybackEvent&)> handler) {
  return playback_.connect(std::move(handler));
}
Subscription Endpoint::on_talk(std::function<void(const TalkEvent&)> handler) {
  return talk_.connect(std::move(handler));
}
Subscription Endpoint::on_destroyed(std::function<void(const EndpointEnd&)> handler) {
  if (auto reason = end_.value()) {  // ended already: told at once, as on_destroy does
    handler(*reason);
    return {};
  }
  return destroyed_.connect(std::move(handler));
}

void Endpoint::wait_dtmf(DtmfWaitHandler handler) { dtmf_.wait(std::move(handler)); }
void Endpoint::wait_playback(PlaybackWaitHandler handler) { playback_.wait(std::move(handler)); }
void Endpoint::wait_talk(TalkWaitHandler handler) { talk_.wait(std::move(handler)); }

void Endpoint::on_destroy(std::function<void(EndpointEnd)> handler) { end_.on_end(std::move(handler)); }

void Endpoint::wait_destroyed(EndHandler handler) {
  end_.wait(std::move(handler));  // its cancellation ends the wait only; the endpoint stays up
}

}  // namespace astmrf::mrf
