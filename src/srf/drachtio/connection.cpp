#include "connection.hpp"

#include <astmrf/util/log.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

namespace astmrf::srf::drachtio {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string join(const std::vector<std::string>& items, char separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Plain TCP still goes through an ssl::stream (never handshaken) so that one code
// path serves both; this context is never used for TLS.
std::shared_ptr<asio::ssl::context> plain_context() {
  return std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
}

}  // namespace

Observers::Observers(const std::shared_ptr<util::metrics::Registry>& registry, std::shared_ptr<spdlog::logger> logger)
    : log(util::logger_or_default(std::move(logger))) {
  if (!registry) return;
  connected =
      registry->gauge("astmrf_drachtio_connected", "drachtio-server connections ready (0 or 1 per server)").with({});
  reconnects =
      registry->counter("astmrf_drachtio_reconnects_total", "Reconnections to drachtio-server attempted").with({});
  auto& frames = registry->counter("astmrf_drachtio_frames_total", "drachtio frames, by direction", {"direction"});
  frames_in = frames.with({"in"});
  frames_out = frames.with({"out"});
}

void Connection::trace_frame(std::string_view direction, const wire::Frame& frame) const {
  auto& log = *settings_.observers->log;
  if (!log.should_log(spdlog::level::trace)) return;
  std::string fields;
  for (std::size_t i = 0; i < frame.fields.size(); ++i) {
    if (i > 0) fields += '|';
    // The secret of `authenticate` (id|authenticate|secret|tags) never reaches a log line.
    if (i == 2 && frame.type() == "authenticate")
      fields += "<redacted>";
    else
      fields += frame.fields[i];
  }
  if (frame.has_sip) {
    log.trace("event=drachtio_frame direction={} server={} fields={} sip={}", direction, util::quote(name_),
              util::quote(fields), util::quote(util::redact_sip(frame.sip)));
  } else {
    log.trace("event=drachtio_frame direction={} server={} fields={}", direction, util::quote(name_),
              util::quote(fields));
  }
}

Connection::Connection(asio::any_io_executor executor, ServerAddress server, Settings settings,
                       std::shared_ptr<asio::ssl::context> tls_context, Callbacks callbacks)
    : executor_(std::move(executor)),
      server_(std::move(server)),
      settings_(std::move(settings)),
      tls_context_(tls_context ? std::move(tls_context) : plain_context()),
      callbacks_(std::move(callbacks)),
      name_(server_.host + ":" + std::to_string(server_.port)),
      resolver_(executor_),
      retry_timer_(executor_),
      ping_timer_(executor_),
      backoff_(settings_.backoff),
      decoder_(settings_.max_frame_bytes) {
  if (!settings_.observers) settings_.observers = std::make_shared<const Observers>(nullptr, nullptr);
}

Connection::Connection(asio::ip::tcp::socket socket, Settings settings, Callbacks callbacks)
    : executor_(socket.get_executor()),
      settings_(std::move(settings)),
      tls_context_(plain_context()),
      callbacks_(std::move(callbacks)),
      outbound_(true),
      resolver_(executor_),
      retry_timer_(executor_),
      ping_timer_(executor_),
      backoff_(settings_.backoff),
      decoder_(settings_.max_frame_bytes) {
  settings_.tls = false;
  if (!settings_.observers) settings_.observers = std::make_shared<const Observers>(nullptr, nullptr);
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  name_ = ec ? std::string("outbound") : remote.address().to_string() + ":" + std::to_string(remote.port());
  stream_ = std::make_unique<Stream>(std::move(socket), *tls_context_);
}

Connection::~Connection() {
  if (state_ == ConnectionState::ready && settings_.observers && settings_.observers->connected) {
    settings_.observers->connected->dec();
  }
}

void Connection::start() {
  if (outbound_) {
    on_connected(generation_);
  } else {
    connect();
  }
}

void Connection::set_state(ConnectionState state, const std::string& detail) {
  const auto& observers = *settings_.observers;
  const bool was_ready = state_ == ConnectionState::ready;
  if (state != state_) {
    if (state == ConnectionState::ready) {
      if (observers.connected) observers.connected->inc();
      observers.log->info("event=drachtio_connected server={} detail={}", util::quote(name_), util::quote(detail));
    } else if (state == ConnectionState::disconnected || state == ConnectionState::closed) {
      observers.log->info("event=drachtio_disconnected server={} state={} reason={}", util::quote(name_),
                          to_string(state), util::quote(detail));
    } else if (state == ConnectionState::auth_failed) {
      observers.log->warn("event=drachtio_auth_failed server={} reason={}", util::quote(name_), util::quote(detail));
    }
    if (was_ready && observers.connected) observers.connected->dec();
  }
  state_ = state;
  if (callbacks_.on_state) callbacks_.on_state(*this, state, detail);
}

void Connection::connect() {
  const auto generation = ++generation_;
  decoder_ = wire::FrameDecoder(settings_.max_frame_bytes);
  stream_ = std::make_unique<Stream>(executor_, *tls_context_);
  set_state(ConnectionState::connecting, name_);
  auto self = shared_from_this();
  resolver_.async_resolve(server_.host, std::to_string(server_.port),
                          [self, generation](error_code ec, const asio::ip::tcp::resolver::results_type& results) {
                            if (generation != self->generation_ || self->state_ == ConnectionState::closed) return;
                            if (ec) return self->drop("resolve " + self->server_.host + ": " + ec.message());
                            asio::async_connect(
                                self->socket(), results, [self, generation](error_code ec2, const auto&) {
                                  if (generation != self->generation_ || self->state_ == ConnectionState::closed)
                                    return;
                                  if (ec2) return self->drop("connect " + self->name_ + ": " + ec2.message());
                                  self->on_connected(generation);
                                });
                          });
}

void Connection::on_connected(std::uint64_t generation) {
  util::close_on_exec(socket());
  error_code ignored;
  socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (!settings_.tls) {
    authenticate(generation);
    return;
  }
  if (util::prepare_tls_client(*stream_, settings_.tls_options, server_.host)) {
    drop("TLS: cannot set the server name");
    return;
  }
  auto self = shared_from_this();
  stream_->async_handshake(asio::ssl::stream_base::client, [self, generation](error_code ec) {
    if (generation != self->generation_ || self->state_ == ConnectionState::closed) return;
    if (ec) return self->drop("TLS handshake with " + self->name_ + ": " + ec.message());
    self->authenticate(generation);
  });
}

void Connection::authenticate(std::uint64_t generation) {
  set_state(ConnectionState::authenticating, name_);
  read(generation);
  const std::string id = random_.uuid4();
  std::weak_ptr<Connection> weak = weak_from_this();
  pending_.emplace(id, [weak, generation](const wire::Frame* frame) {
    auto self = weak.lock();
    if (!self || !frame || generation != self->generation_) return;
    const auto verdict = frame->field(3);
    if (verdict == "OK") {
      self->backoff_.reset();
      // drachtio answers each route; nothing waits for those answers (they are
      // pipelined ahead of any request the server could send).
      if (self->callbacks_.routes && !self->outbound_) {
        for (const auto& route : self->callbacks_.routes()) self->send_route(route);
      }
      self->set_state(ConnectionState::ready, std::string(frame->field(5)));
      self->schedule_ping(generation);
    } else if (verdict == "NO") {
      // Final: the same secret would be refused again (no retry storm).
      const std::string why(frame->field(4));
      ++self->generation_;
      error_code ignored;
      self->socket().close(ignored);
      self->retry_timer_.cancel();
      self->ping_timer_.cancel();
      self->set_state(ConnectionState::auth_failed, why.empty() ? std::string("NO") : why);
    } else {
      self->drop("unexpected answer to authenticate: " + std::string(verdict));
    }
  });
  wire::Frame frame;
  frame.fields = {id, "authenticate", settings_.secret, join(settings_.tags, ',')};
  trace_frame("out", frame);
  write(wire::encode(frame));
}

void Connection::send_route(const std::string& route) {
  if (state_ != ConnectionState::ready && state_ != ConnectionState::authenticating) return;
  std::weak_ptr<Connection> weak = weak_from_this();
  send({"route", route}, std::nullopt, [weak, route](const wire::Frame* frame) {
    auto self = weak.lock();
    if (!self || !frame || frame->field(3) == "OK") return;
    // A refused route is worth an event: the application will not get those requests.
    if (self->callbacks_.on_state) {
      self->callbacks_.on_state(*self, self->state_, "route " + route + " refused: " + std::string(frame->field(4)));
    }
  });
}

bool Connection::send(std::vector<std::string> fields, std::optional<std::string> sip, ResponseCallback on_response) {
  // Routes go out right after authentication, before the state says ready.
  const bool is_route = !fields.empty() && fields[0] == "route";
  if (state_ != ConnectionState::ready && !(is_route && state_ == ConnectionState::authenticating)) return false;
  wire::Frame frame;
  const std::string id = random_.uuid4();
  frame.fields.reserve(fields.size() + 1);
  frame.fields.push_back(id);
  for (auto& f : fields) frame.fields.push_back(std::move(f));
  if (sip) {
    frame.has_sip = true;
    frame.sip = std::move(*sip);
  }
  if (on_response) pending_.emplace(id, std::move(on_response));
  trace_frame("out", frame);
  write(wire::encode(frame));
  return true;
}

void Connection::write(std::string bytes) {
  if (settings_.observers->frames_out) settings_.observers->frames_out->inc();
  write_queue_.push_back(std::move(bytes));
  if (!writing_) write_next(generation_);
}

void Connection::write_next(std::uint64_t generation) {
  if (write_queue_.empty() || generation != generation_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  auto done = [self, generation](error_code ec, std::size_t) {
    if (generation != self->generation_) return;
    self->write_queue_.pop_front();
    if (ec) {
      self->writing_ = false;
      return self->drop("write: " + ec.message());
    }
    self->write_next(generation);
  };
  if (settings_.tls) {
    asio::async_write(*stream_, asio::buffer(write_queue_.front()), std::move(done));
  } else {
    asio::async_write(socket(), asio::buffer(write_queue_.front()), std::move(done));
  }
}

void Connection::read(std::uint64_t generation) {
  auto self = shared_from_this();
  auto done = [self, generation](error_code ec, std::size_t n) {
    if (generation != self->generation_) return;
    if (ec) return self->drop(ec == asio::error::eof ? "closed by the server" : "read: " + ec.message());
    self->decoder_.feed(std::string_view(self->read_buffer_.data(), n));
    wire::Frame frame;
    while (generation == self->generation_) {
      const auto status = self->decoder_.next(frame);
      if (status == wire::FrameDecoder::Status::need_more) break;
      if (status == wire::FrameDecoder::Status::error) return self->drop("protocol error: " + self->decoder_.error());
      if (self->settings_.observers->frames_in) self->settings_.observers->frames_in->inc();
      self->trace_frame("in", frame);
      self->handle(frame);
    }
    if (generation == self->generation_) self->read(generation);
  };
  if (settings_.tls) {
    stream_->async_read_some(asio::buffer(read_buffer_), std::move(done));
  } else {
    socket().async_read_some(asio::buffer(read_buffer_), std::move(done));
  }
}

void Connection::handle(wire::Frame& frame) {
  if (frame.type() == "response") {
    auto it = pending_.find(frame.field(2));
    if (it == pending_.end()) return;  // e.g. the answer to a route of an earlier connection
    auto callback = it->second;
    // A proxy's result comes in several frames; `continue` says more will follow.
    if (frame.fields.back() != "continue") pending_.erase(it);
    if (callback) callback(&frame);
    return;
  }
  if (state_ != ConnectionState::ready) return;  // nothing but answers before authentication
  if (callbacks_.on_frame) callbacks_.on_frame(*this, frame);
}

void Connection::schedule_ping(std::uint64_t generation) {
  if (settings_.ping_interval.count() <= 0) return;
  ping_timer_.expires_after(ping_outstanding_ ? settings_.ping_timeout : settings_.ping_interval);
  std::weak_ptr<Connection> weak = weak_from_this();
  ping_timer_.async_wait([weak, generation](error_code ec) {
    auto self = weak.lock();
    if (ec || !self || generation != self->generation_ || !self->ready()) return;
    if (self->ping_outstanding_) return self->drop("no answer to ping");
    self->ping_outstanding_ = true;
    self->send({"ping"}, std::nullopt, [weak, generation](const wire::Frame* frame) {
      auto s = weak.lock();
      if (!s || !frame || generation != s->generation_) return;
      s->ping_outstanding_ = false;
      s->schedule_ping(generation);
    });
    self->schedule_ping(generation);  // now the deadline for this ping
  });
}

void Connection::drop(const std::string& why) {
  if (state_ == ConnectionState::closed || state_ == ConnectionState::auth_failed) return;
  ++generation_;
  error_code ignored;
  if (stream_) socket().close(ignored);
  ping_timer_.cancel();
  ping_outstanding_ = false;
  write_queue_.clear();
  writing_ = false;
  auto pending = std::move(pending_);
  pending_.clear();
  if (outbound_) {
    set_state(ConnectionState::closed, why);
  } else {
    set_state(ConnectionState::disconnected, why);
  }
  for (auto& [id, callback] : pending) {
    if (callback) callback(nullptr);
  }
  if (outbound_ || state_ != ConnectionState::disconnected) return;
  const auto delay = backoff_.next();
  settings_.observers->log->info("event=drachtio_reconnecting server={} delay_ms={}", util::quote(name_),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  retry_timer_.expires_after(delay);
  std::weak_ptr<Connection> weak = weak_from_this();
  retry_timer_.async_wait([weak](error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != ConnectionState::disconnected) return;
    if (self->settings_.observers->reconnects) self->settings_.observers->reconnects->inc();
    self->connect();
  });
}

void Connection::close() {
  if (state_ == ConnectionState::closed) return;
  ++generation_;
  error_code ignored;
  if (stream_) socket().close(ignored);
  resolver_.cancel();
  retry_timer_.cancel();
  ping_timer_.cancel();
  write_queue_.clear();
  writing_ = false;
  auto pending = std::move(pending_);
  pending_.clear();
  set_state(ConnectionState::closed, "closed by the application");
  for (auto& [id, callback] : pending) {
    if (callback) callback(nullptr);
  }
}

}  // namespace astmrf::srf::drachtio
