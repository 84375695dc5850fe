// MediaServer: one Asterisk, one Stasis application. Endpoint setup ties an
// outgoing INVITE to the channel that StasisStart reports, in either order of
// StasisStart and 200 OK, under one deadline, and undoes everything on failure.
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/sdp.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <string>
#include <string_view>

namespace astmrf::mrf {

struct MediaServer::Setup {
  std::string uuid;
  std::function<void(std::exception_ptr, std::shared_ptr<Endpoint>)> done;
  std::string channel_id;
  std::string channel_name;
  std::string protocol_id;
  std::shared_ptr<srf::Dialog> dialog;
  boost::asio::cancellation_signal cancel_uac;
  std::unique_ptr<boost::asio::steady_timer> timer;
  bool finished{false};
};

MediaServer::MediaServer(boost::asio::any_io_executor executor, srf::Srf& srf, ConnectOptions options, std::string app)
    : executor_(std::move(executor)), srf_(srf), options_(std::move(options)), app_(std::move(app)) {
  if (options_.sip.address.empty()) options_.sip.address = options_.ari.address;
}

MediaServer::~MediaServer() {
  if (disconnected_) return;
  disconnected_ = true;
  for (auto& [uuid, setup] : pending_) {
    setup->finished = true;
    setup->cancel_uac.emit(boost::asio::cancellation_type::terminal);
    if (setup->timer) setup->timer->cancel();
  }
  pending_.clear();
  auto endpoints = std::move(endpoints_);
  for (auto& [id, weak] : endpoints) {
    if (auto endpoint = weak.lock()) endpoint->destroy();
  }
  if (ari_) ari_->close();
}

void MediaServer::start(std::function<void(std::exception_ptr)> done) {
  ari::ClientOptions client;
  client.url = std::string(options_.ari.tls ? "https://" : "http://") + options_.ari.address + ":" +
               std::to_string(options_.ari.port);
  client.user = options_.ari.username;
  client.password = options_.ari.password;
  client.apps = {app_};
  client.tls = options_.ari.tls_options;
  client.event_filter = options_.event_filter;
  client.logger = options_.logger;
  ari_ = std::make_unique<ari::Client>(executor_, std::move(client));
  std::weak_ptr<MediaServer> weak = weak_from_this();
  stasis_start_ = ari_->on_event(ari::EventType::stasis_start, [weak](const ari::Event& event) {
    if (auto self = weak.lock()) self->on_stasis_start(event);
  });
  reconcile_ = ari_->on_reconcile([weak](const ari::ReconcileReport& report) {
    if (auto self = weak.lock()) self->on_reconcile(report);
  });
  ari_->async_connect([done = std::move(done)](std::exception_ptr error) { done(error); });
}

std::vector<std::shared_ptr<Endpoint>> MediaServer::endpoints() const {
  std::vector<std::shared_ptr<Endpoint>> out;
  for (const auto& [id, weak] : endpoints_) {
    if (auto endpoint = weak.lock()) out.push_back(std::move(endpoint));
  }
  return out;
}

void MediaServer::forget(const Endpoint& endpoint) {
  auto it = endpoints_.find(endpoint.channel_id());
  if (it != endpoints_.end()) endpoints_.erase(it);
}

void MediaServer::disconnect(bool destroy_endpoints) {
  if (disconnected_) return;
  auto keep = shared_from_this();
  disconnected_ = true;
  auto pending = pending_;
  for (auto& [uuid, setup] : pending) {
    fail_setup(setup, std::make_exception_ptr(MediaServerUnavailable("the media server was disconnected")));
  }
  if (destroy_endpoints) {
    for (auto& endpoint : endpoints()) endpoint->destroy();
  }
  stasis_start_.reset();
  reconcile_.reset();
  ari_->close();
}

// ------------------------------------------------------------------ setup

std::shared_ptr<MediaServer::Setup> MediaServer::begin_setup(
    EndpointOptions options, std::function<void(std::exception_ptr, std::shared_ptr<Endpoint>)> done) {
  auto setup = std::make_shared<Setup>();
  setup->done = std::move(done);
  if (disconnected_) {
    setup->finished = true;
    setup->done(std::make_exception_ptr(MediaServerUnavailable("the media server is disconnected")), nullptr);
    return setup;
  }
  if (pending_.size() >= options_.max_pending_setups) {
    setup->finished = true;
    setup->done(std::make_exception_ptr(MediaServerOverloaded(std::to_string(pending_.size()) +
                                                              " endpoint setups already pending on " + app_)),
                nullptr);
    return setup;
  }
  // Register before the INVITE: the StasisStart may arrive before anything else.
  setup->uuid = random_.uuid4();  // Asterisk reports it as the caller number
  pending_[setup->uuid] = setup;

  std::weak_ptr<MediaServer> weak = weak_from_this();
  std::weak_ptr<Setup> weak_setup = setup;
  setup->timer = std::make_unique<boost::asio::steady_timer>(executor_, options_.setup_timeout);
  setup->timer->async_wait([weak, weak_setup, ms = options_.setup_timeout.count()](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) {
      self->fail_setup(s, std::make_exception_ptr(
                              MediaSetupTimeout("the endpoint was not up within " + std::to_string(ms) + " ms")));
    }
  });

  const auto& sip = options_.sip;
  std::string uri = "sip:" + app_ + "@" + sip.address + ":" + std::to_string(sip.port);
  if (sip.transport == sip::Transport::tcp) uri += ";transport=tcp";
  srf::UacOptions uac;
  uac.local_sdp = options.remote_sdp.empty() ? sip::sdp::make_inactive_offer(sip.address).to_string()
                                             : std::move(options.remote_sdp);
  uac.headers.emplace_back("User-Agent", "drachtio");
  for (auto& header : options.headers) uac.headers.push_back(std::move(header));
  uac.from = "sip:" + setup->uuid + "@" + sip.address;
  srf_.async_create_uac(
      std::move(uri), std::move(uac),
      boost::asio::bind_cancellation_slot(setup->cancel_uac.slot(),
                                          [weak, setup](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                                            auto self = weak.lock();
                                            if (setup->finished || !self) {
                                              if (dialog) dialog->destroy();  // a late 200 OK: end it at once
                                              return;
                                            }
                                            if (error) {
                                              self->fail_setup(setup, error);
                                              return;
                                            }
                                            setup->dialog = std::move(dialog);
                                            // With answer-on-StasisStart the channel is known already; a dialplan
                                            // that answers first gets us here before the StasisStart.
                                            if (!setup->channel_id.empty()) self->finish_setup(setup);
                                          }));
  return setup;
}

void MediaServer::on_stasis_start(const ari::Event& event) {
  // Only the four fields a setup needs, found by one partial scan of the text: building the
  // event's document (or decoding the whole ari::StasisStart) cost as much as parsing it.
  static constexpr std::array<std::string_view, 4> kFields{"/channel/id", "/channel/caller/number", "/channel/name",
                                                           "/channel/protocol_id"};
  std::array<std::string, 4> fields;
  event.find_strings(kFields, fields);
  auto& [channel_id, caller_number, channel_name, protocol_id] = fields;
  if (channel_id.empty()) return;
  auto it = pending_.find(caller_number);
  if (it == pending_.end()) {
    // Not a call of ours (or one that already failed): it must not stay in Stasis.
    ari_->channels().async_hangup(ari::channels::Hangup{std::move(channel_id), {}, {}}, [](std::exception_ptr) {});
    return;
  }
  auto setup = it->second;
  setup->channel_id = std::move(channel_id);
  setup->channel_name = std::move(channel_name);
  setup->protocol_id = std::move(protocol_id);
  if (setup->dialog) {
    finish_setup(setup);
    return;
  }
  std::weak_ptr<MediaServer> weak = weak_from_this();
  ari_->channels().async_answer(ari::channels::Answer{setup->channel_id}, [weak, setup](std::exception_ptr error) {
    if (!error) return;  // Asterisk now sends its 200 OK
    if (auto self = weak.lock()) self->fail_setup(setup, error);
  });
}

void MediaServer::finish_setup(const std::shared_ptr<Setup>& setup) {
  if (setup->finished) return;
  if (!setup->protocol_id.empty() && setup->protocol_id != setup->dialog->call_id()) {
    fail_setup(setup, std::make_exception_ptr(Error("StasisStart's protocol_id " + setup->protocol_id +
                                                    " is not the INVITE's Call-ID " + setup->dialog->call_id())));
    return;
  }
  setup->finished = true;
  pending_.erase(setup->uuid);
  if (setup->timer) setup->timer->cancel();
  std::shared_ptr<Endpoint> endpoint(
      new Endpoint(weak_from_this(), executor_, setup->channel_id, setup->channel_name, setup->dialog));
  endpoint->start(*ari_);
  endpoint->answer_offers_locally();
  endpoints_[setup->channel_id] = endpoint;
  auto done = std::move(setup->done);
  done(nullptr, std::move(endpoint));
}

void MediaServer::fail_setup(const std::shared_ptr<Setup>& setup, std::exception_ptr error) {
  if (setup->finished) return;
  setup->finished = true;
  pending_.erase(setup->uuid);
  if (setup->timer) setup->timer->cancel();
  // Undo whatever got started: the INVITE (CANCEL, or ACK + BYE for a late 200),
  // the dialog, the channel.
  setup->cancel_uac.emit(boost::asio::cancellation_type::terminal);
  if (setup->dialog) setup->dialog->destroy();
  if (!setup->channel_id.empty()) {
    ari_->channels().async_hangup(ari::channels::Hangup{setup->channel_id, {}, {}}, [](std::exception_ptr) {});
  }
  auto done = std::move(setup->done);
  done(error, nullptr);
}

void MediaServer::on_reconcile(const ari::ReconcileReport& report) {
  for (const auto& id : report.lost_channels) {
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) continue;
    if (auto endpoint = it->second.lock()) endpoint->ended(EndpointEnd::media_server_lost);
  }
}

void MediaServer::start_endpoint(EndpointOptions options, EndpointHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto setup = begin_setup(std::move(options), [once](std::exception_ptr error, std::shared_ptr<Endpoint> endpoint) {
    (*once)(error, std::move(endpoint));
  });
  // Cancelled at any step: the setup fails as on a timeout, which undoes what it built
  // (CANCEL, or ACK + BYE for a late 200 OK, and the channel's hangup).
  std::weak_ptr<MediaServer> weak = weak_from_this();
  std::weak_ptr<Setup> weak_setup = setup;
  once->on_cancel([weak, weak_setup] {
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) self->fail_setup(s, astmrf::detail::operation_aborted());
  });
}

}  // namespace astmrf::mrf
