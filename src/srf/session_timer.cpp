// Session timers (RFC 4028): negotiation for both roles, and the dialog's refresh / expiry.
#include "session_timer.hpp"

#include "server_state.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/srf/dialog.hpp>
#include <astmrf/util/log.hpp>

#include <algorithm>
#include <charconv>

namespace astmrf::srf::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint32_t> parse_seconds(std::string_view s) {
  s = trim(s);
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

std::string session_expires_value(std::uint32_t seconds, bool uac_refreshes) {
  return std::to_string(seconds) + (uac_refreshes ? ";refresher=uac" : ";refresher=uas");
}

}  // namespace

std::optional<SessionExpires> parse_session_expires(std::string_view value) {
  auto semicolon = value.find(';');
  auto seconds = parse_seconds(value.substr(0, semicolon));
  if (!seconds) return std::nullopt;
  SessionExpires parsed{*seconds, {}};
  while (semicolon != std::string_view::npos) {
    value.remove_prefix(semicolon + 1);
    semicolon = value.find(';');
    auto param = trim(value.substr(0, semicolon));
    auto eq = param.find('=');
    if (eq == std::string_view::npos || !sip::iequals(trim(param.substr(0, eq)), "refresher")) continue;
    auto who = trim(param.substr(eq + 1));
    if (sip::iequals(who, "uac")) parsed.refresher = "uac";
    if (sip::iequals(who, "uas")) parsed.refresher = "uas";
  }
  return parsed;
}

std::optional<std::uint32_t> parse_min_se(std::string_view value) {
  return parse_seconds(value.substr(0, value.find(';')));
}

bool lists_token(const sip::Message& message, std::string_view name, std::string_view token) {
  for (const auto& field : message.headers()) {
    if (!sip::iequals(field.name, name) && !(name == "Supported" && sip::iequals(field.name, "k"))) continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      if (sip::iequals(trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

UasNegotiation negotiate_uas(const sip::Message& invite, const SessionTimerOptions& options) {
  UasNegotiation out;
  const auto ours_min = static_cast<std::uint32_t>(options.min_se.count());
  const auto ours = std::max(static_cast<std::uint32_t>(options.interval.count()), ours_min);
  auto requested = parse_session_expires(invite.header(sip::HeaderId::session_expires));
  const auto their_min = parse_min_se(invite.header(sip::HeaderId::min_se)).value_or(0);
  // RFC 4028 8.1: too small an interval is refused with our Min-SE.
  if (requested && requested->seconds < ours_min) {
    out.reject_min_se = ours_min;
    return out;
  }
  const bool supported = lists_token(invite, "Supported", "timer") || lists_token(invite, "Require", "timer");
  // We may lower the interval asked for, never below either side's Min-SE (RFC 4028 9).
  std::uint32_t interval =
      requested ? std::min(requested->seconds, std::max(ours, their_min)) : std::max(ours, their_min);
  interval = std::max({interval, ours_min, their_min});
  bool uac_refreshes = false;
  if (!supported) {
    uac_refreshes = false;  // a UAC without timer support cannot refresh: we do (RFC 4028 9)
  } else if (requested && !requested->refresher.empty()) {
    uac_refreshes = requested->refresher == "uac";
  } else {
    uac_refreshes = options.refresher != SessionTimerOptions::Refresher::uas;
  }
  out.plan.interval = interval;
  out.plan.min_se = ours_min;
  out.plan.local_refresher = !uac_refreshes;
  out.plan.peer_supports = supported;
  out.plan.use_update =
      options.method == SessionTimerOptions::Method::update ||
      (options.method == SessionTimerOptions::Method::automatic && lists_token(invite, "Allow", "UPDATE"));
  out.headers.emplace_back("Session-Expires", session_expires_value(interval, uac_refreshes));
  if (supported) out.headers.emplace_back("Require", "timer");
  return out;
}

std::optional<SessionTimerPlan> negotiate_uac(const sip::Message& response, const SessionTimerOptions& options,
                                              std::uint32_t min_se) {
  auto granted = parse_session_expires(response.header(sip::HeaderId::session_expires));
  if (!granted || granted->seconds == 0) return std::nullopt;  // RFC 4028 7.4: no session expiration
  SessionTimerPlan plan;
  plan.interval = granted->seconds;
  plan.min_se = min_se;
  plan.local_refresher = granted->refresher != "uas";  // a 2xx without refresher: the UAC refreshes
  plan.peer_supports = true;
  plan.use_update =
      options.method == SessionTimerOptions::Method::update ||
      (options.method == SessionTimerOptions::Method::automatic && lists_token(response, "Allow", "UPDATE"));
  return plan;
}

}  // namespace astmrf::srf::detail

namespace astmrf::srf {

void Dialog::start_session_timer(const detail::SessionTimerPlan& plan) {
  session_timer_ = std::make_shared<detail::SessionTimer>(executor_, plan);
  arm_session_timer();
}

void Dialog::arm_session_timer() {
  auto& state = *session_timer_;
  const std::chrono::milliseconds interval(std::int64_t{state.plan.interval} * 1000);
  // The refresher refreshes at half the interval; the other side gives up at
  // interval - min(32 s, interval / 3) (RFC 4028 10).
  const auto delay = state.local_refresher_due()
                         ? interval / 2
                         : interval - std::min<std::chrono::milliseconds>(std::chrono::seconds(32), interval / 3);
  state.timer.expires_after(delay);
  std::weak_ptr<Dialog> weak = weak_from_this();
  state.timer.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->session_timer_fired();
  });
}

void Dialog::session_timer_fired() {
  if (destroyed_.ended() || !session_timer_) return;
  auto& state = *session_timer_;
  if (!state.local_refresher_due()) {
    session_expired();
    return;
  }
  // Our refresh: the timer now runs to the expiry, which ends the session unless a 2xx re-arms it.
  state.refresh_pending = true;
  const std::chrono::milliseconds interval(std::int64_t{state.plan.interval} * 1000);
  state.timer.expires_after(interval / 2 - std::min<std::chrono::milliseconds>(std::chrono::seconds(32), interval / 3));
  std::weak_ptr<Dialog> weak = weak_from_this();
  state.timer.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->session_expired();
  });
  RequestOptions options;
  options.headers = {{"Session-Expires", std::to_string(state.plan.interval) + ";refresher=uac"},
                     {"Min-SE", std::to_string(state.plan.min_se)},
                     {"Supported", "timer"}};
  std::string method = "UPDATE";
  std::string sdp;
  if (!state.plan.use_update) {
    method = "INVITE";
    sdp = local_sdp_;
    options.content_type = "application/sdp";
    options.body = sdp;
  }
  start_request(std::move(method), std::move(options),
                MessageHandler([weak](std::exception_ptr error, sip::Message response) {
                  auto self = weak.lock();
                  if (!self || self->destroyed_.ended() || !self->session_timer_) return;
                  if (error) return;  // the expiry timer decides
                  const int status = response.status();
                  if (status == 481 || status == 408) {
                    self->session_expired();  // RFC 4028 10: the session is gone
                    return;
                  }
                  if (status < 200 || status >= 300) return;  // the session lasts until the expiry
                  auto& s = *self->session_timer_;
                  s.refresh_pending = false;
                  if (auto granted = detail::parse_session_expires(response.header(sip::HeaderId::session_expires))) {
                    if (granted->seconds > 0) s.plan.interval = granted->seconds;
                    // We sent the refresh (its UAC): refresher=uas hands the refreshes to the peer.
                    s.plan.local_refresher = granted->refresher != "uas";
                  }
                  self->arm_session_timer();
                }));
}

void Dialog::session_refresh_received(detail::ServerState& state) {
  const auto& request = state.transaction->message();
  auto requested = detail::parse_session_expires(request.header(sip::HeaderId::session_expires));
  const bool supported = detail::lists_token(request, "Supported", "timer");
  std::weak_ptr<Dialog> weak = weak_from_this();
  // Only a 2xx refreshes the session (RFC 4028 10); it carries the interval and refresher.
  state.decorate_2xx = [weak, requested, supported](HeaderList& headers) {
    auto self = weak.lock();
    if (!self || !self->session_timer_) return;
    auto& s = *self->session_timer_;
    if (requested && requested->seconds >= s.plan.min_se) s.plan.interval = requested->seconds;
    // In this transaction the peer is the UAC: refresher=uac keeps the peer refreshing.
    bool peer_refreshes =
        requested && !requested->refresher.empty() ? requested->refresher == "uac" : !s.plan.local_refresher;
    if (!supported && !requested) peer_refreshes = false;  // a peer without timers cannot refresh
    s.plan.local_refresher = !peer_refreshes;
    s.refresh_pending = false;
    headers.emplace_back("Session-Expires",
                         std::to_string(s.plan.interval) + (peer_refreshes ? ";refresher=uac" : ";refresher=uas"));
    if (supported) headers.emplace_back("Require", "timer");
    self->arm_session_timer();
  };
}

void Dialog::session_expired() {
  if (destroyed_.ended()) return;
  if (observers_) {
    observers_->log->debug("event=session_timer_expired call_id={}", util::quote(backend_->call_id()));
  }
  session_expired_ = true;
  destroy();
  if (!destroyed_.ended()) ended(DialogEndReason::session_timer);
}

}  // namespace astmrf::srf
