// Endpoint: one SIP dialog to Asterisk plus the ARI channel it created; it ends
// once, for the first of: destroy(), Asterisk's BYE, StasisEnd, loss of the server.
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

Endpoint::Endpoint(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string channel_id,
                   std::string channel_name, std::shared_ptr<srf::Dialog> dialog)
    : server_(std::move(server)),
      executor_(std::move(executor)),
      channel_id_(std::move(channel_id)),
      channel_name_(std::move(channel_name)),
      dialog_(std::move(dialog)),
      end_(executor_) {}

Endpoint::~Endpoint() = default;  // dropping the dialog's last reference sends BYE

void Endpoint::start(ari::Client& ari) {
  std::weak_ptr<Endpoint> weak = weak_from_this();
  channel_events_ = ari.subscribe(
      ari::ResourceKind::channel, channel_id_,
      [weak](const ari::Event& event) {
        if (event.type() != ari::EventType::stasis_end) return;
        if (auto self = weak.lock()) self->ended(EndpointEnd::left_stasis);
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
  if (auto server = server_.lock()) server->forget(*this);
  end_.notify();
}

void Endpoint::on_destroy(std::function<void(EndpointEnd)> handler) { end_.on_end(std::move(handler)); }

void Endpoint::wait_destroyed(EndHandler handler) {
  end_.wait(std::move(handler));  // its cancellation ends the wait only; the endpoint stays up
}

}  // namespace astmrf::mrf
