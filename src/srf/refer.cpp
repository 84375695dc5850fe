// REFER (RFC 3515) both ways: the notifier side (accept_refer, ReferNotifier) and the
// referrer side (Dialog::async_refer), plus the parsers both need.
#include "server_state.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/srf/dialog.hpp>
#include <astmrf/srf/errors.hpp>
#include <astmrf/srf/refer.hpp>
#include <astmrf/util/hex.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/steady_timer.hpp>

#include <cctype>
#include <charconv>
#include <deque>
#include <stdexcept>

namespace astmrf::srf {

namespace {

constexpr std::string_view kSipfrag = "message/sipfrag;version=2.0";
constexpr std::string_view kActive = "active;expires=60";  // how long we promise to report
constexpr std::string_view kTerminated = "terminated;reason=noresource";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && sip::iequals(text.substr(0, prefix.size()), prefix);
}

// "<uri>" unless the value is a name-addr already.
std::string as_name_addr(const std::string& value) {
  return value.find('<') == std::string::npos ? "<" + value + ">" : value;
}

}  // namespace

bool detail::is_refer_event(std::string_view event) noexcept {
  event = trim(event);
  event = event.substr(0, event.find(';'));
  return sip::iequals(trim(event), "refer");
}

std::optional<ReferTo> parse_refer_to(std::string_view value) {
  auto parsed = sip::parse_name_addr(trim(value));
  if (!parsed) return std::nullopt;
  const auto& uri = parsed->uri;
  if (uri.scheme != sip::UriScheme::sip && uri.scheme != sip::UriScheme::sips && uri.scheme != sip::UriScheme::tel)
    return std::nullopt;
  ReferTo out;
  std::string_view text = parsed->uri_text;
  if (auto q = text.find('?'); q != std::string_view::npos) text = text.substr(0, q);
  out.uri = std::string(text);
  for (const auto& header : uri.header_list()) {
    std::string decoded = sip::unescape(header.value);
    if (sip::iequals(header.name, "Replaces")) {
      auto replaces = sip::parse_replaces(decoded);
      if (!replaces) return std::nullopt;
      out.replaces = ReplacesTarget{std::string(replaces->call_id), std::string(replaces->to_tag),
                                    std::string(replaces->from_tag), replaces->early_only};
    } else {
      out.headers.emplace_back(sip::unescape(header.name), std::move(decoded));
    }
  }
  return out;
}

namespace {

// hvalue = *( hnv-unreserved / unreserved / escaped ) (RFC 3261 25.1).
std::string escape_hvalue(std::string_view text) {
  static constexpr std::string_view kKeep = "-_.!~*'()[]/?:+$";
  std::string out;
  out.reserve(text.size() * 3);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || kKeep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      util::append_percent_encoded(out, u);
    }
  }
  return out;
}

}  // namespace

std::string format_replaces(const ReplacesTarget& target) {
  std::string out = target.call_id + ";to-tag=" + target.to_tag + ";from-tag=" + target.from_tag;
  if (target.early_only) out += ";early-only";
  return out;
}

std::string format_refer_to(const ReferTo& refer_to) {
  std::string out = "<" + refer_to.uri;
  char separator = '?';
  if (refer_to.replaces) {
    out.append(1, separator).append("Replaces=").append(escape_hvalue(format_replaces(*refer_to.replaces)));
    separator = '&';
  }
  for (const auto& [name, value] : refer_to.headers) {
    out.append(1, separator).append(escape_hvalue(name)).append("=").append(escape_hvalue(value));
    separator = '&';
  }
  return out + ">";
}

ReplacesTarget replaces_at_peer(const Dialog& dialog) {
  return ReplacesTarget{dialog.call_id(), dialog.remote_tag(), dialog.local_tag(), false};
}

std::optional<ReferOutcome> parse_sipfrag_status(std::string_view body) {
  std::string_view line = body.substr(0, body.find('\n'));
  line = trim(line);
  if (!starts_with_nocase(line, "SIP/2.0 ")) return std::nullopt;
  line.remove_prefix(8);
  line = trim(line);
  int status = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), status);
  if (ec != std::errc{} || end != line.data() + 3 || status < 100 || status > 699) return std::nullopt;
  line.remove_prefix(3);
  return ReferOutcome{status, std::string(trim(line))};
}

// ------------------------------------------------------------------ notifier

struct ReferNotifier::State : std::enable_shared_from_this<ReferNotifier::State> {
  using Done = astmrf::detail::Once<void(std::exception_ptr)>;
  struct Pending {
    int status{0};
    std::string reason{};
    std::shared_ptr<Done> done{};  // null: nobody waits (the first 100, the destructor's 503)
  };

  std::weak_ptr<Dialog> dialog;
  boost::asio::any_io_executor executor;
  std::shared_ptr<const detail::SrfObservers> observers;
  std::string call_id;
  std::string event{"refer"};  // "refer;id=<CSeq>" from the dialog's second REFER on (RFC 3515 2.4.6)
  std::deque<Pending> queue;
  bool busy{false};
  bool final_queued{false};

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    // Only when a request's completion never came: nobody is left waiting either way.
    for (auto& pending : queue) {
      if (pending.done) (*pending.done)(std::make_exception_ptr(DialogGone()));
    }
  }

  void push(int status, std::string reason, std::shared_ptr<Done> done) {
    if (status >= 200) final_queued = true;
    queue.push_back(Pending{status, std::move(reason), std::move(done)});
    pump();
  }

  // One NOTIFY at a time, so that the referrer sees them in order (100 before the final).
  void pump() {
    while (!busy && !queue.empty()) {
      Pending next = std::move(queue.front());
      queue.pop_front();
      auto d = dialog.lock();
      if (!d || d->destroyed()) {
        if (next.done) (*next.done)(std::make_exception_ptr(DialogGone()));
        continue;
      }
      busy = true;
      const bool final = next.status >= 200;
      RequestOptions options;
      options.headers = {{"Event", event}, {"Subscription-State", std::string(final ? kTerminated : kActive)}};
      options.content_type = std::string(kSipfrag);
      options.body = "SIP/2.0 " + std::to_string(next.status) + " " + next.reason + "\r\n";
      if (observers && observers->logging()) {
        observers->log->debug("event=refer_notify call_id={} status={} final={}", util::quote(call_id), next.status,
                              final);
      }
      d->async_request(
          "NOTIFY", std::move(options),
          [self = shared_from_this(), done = next.done](std::exception_ptr error, sip::Message response) {
            if (!error && response.status() >= 300) {
              error = std::make_exception_ptr(SipFailure(response.status(), std::string(response.reason()), false));
            }
            if (done) (*done)(error);
            self->busy = false;
            self->pump();
          });
    }
  }
};

ReferNotifier::ReferNotifier(std::shared_ptr<State> state, ReferTo refer_to, std::string referred_by,
                             std::string call_id)
    : state_(std::move(state)),
      refer_to_(std::move(refer_to)),
      referred_by_(std::move(referred_by)),
      call_id_(std::move(call_id)) {}

ReferNotifier::~ReferNotifier() {
  if (state_->final_queued) return;
  try {
    state_->push(503, "Service Unavailable", nullptr);  // the referrer must not wait forever
  } catch (const std::exception&) {
    // Nothing more can be done from a destructor; the subscription times out on the peer.
  }
}

bool ReferNotifier::finished() const noexcept { return state_->final_queued; }

void ReferNotifier::start_notify(int status, std::string reason, NotifyHandler handler) {
  auto done = astmrf::detail::make_once(std::move(handler), state_->executor);
  if (state_->final_queued) {
    (*done)(std::make_exception_ptr(std::logic_error("the REFER's final NOTIFY was sent already")));
    return;
  }
  if (status < 100 || status > 699) {
    (*done)(std::make_exception_ptr(std::invalid_argument("a sipfrag status is 100..699")));
    return;
  }
  if (reason.empty()) reason = std::string(sip::default_reason(status));
  try {
    sip::check_status_line(status, reason);
  } catch (...) {
    (*done)(std::current_exception());
    return;
  }
  // Cancelled: only the wait ends; the NOTIFY keeps its place in the queue.
  done->on_cancel();
  state_->push(status, std::move(reason), done);
}

std::shared_ptr<ReferNotifier> accept_refer(const std::shared_ptr<Dialog>& dialog, Request req, Response res) {
  if (!dialog || dialog->destroyed()) {
    res.send(481, ResponseOptions{"Call/Transaction Does Not Exist", {}, {}, {}});
    return nullptr;
  }
  const auto values = req.msg().values(sip::HeaderId::refer_to);
  std::optional<ReferTo> refer_to;
  if (values.size() == 1) refer_to = parse_refer_to(values.front());
  const auto& observers = detail::Access::observers(*dialog);
  if (!refer_to) {
    // RFC 3515 2.4.1: exactly one Refer-To, else 400.
    res.send(400, ResponseOptions{values.empty() ? "Missing Refer-To" : "Bad Refer-To", {}, {}, {}});
    if (observers && observers->logging())
      observers->log->debug("event=refer_refused call_id={} refer_to_count={}", util::quote(req.call_id()),
                            values.size());
    return nullptr;
  }
  res.send(202, ResponseOptions{"Accepted", {}, {}, {}});
  auto state = std::make_shared<ReferNotifier::State>();
  state->dialog = dialog;
  state->executor = detail::Access::executor(*dialog);
  state->observers = observers;
  state->call_id = std::string(req.call_id());
  if (detail::Access::count_refer(*dialog) > 1) {
    auto cseq = req.msg().cseq();
    if (cseq) state->event = "refer;id=" + std::to_string(cseq->number);
  }
  if (observers && observers->logging()) {
    observers->log->debug("event=refer_accepted call_id={} refer_to={} replaces={}", util::quote(req.call_id()),
                          util::quote(refer_to->uri), refer_to->replaces.has_value());
  }
  std::shared_ptr<ReferNotifier> notifier(new ReferNotifier(
      state, std::move(*refer_to), std::string(req.header("Referred-By")), std::string(req.call_id())));
  state->push(100, "Trying", nullptr);
  return notifier;
}

// ------------------------------------------------------------------ referrer

namespace {

struct ReferOut : std::enable_shared_from_this<ReferOut> {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, ReferOutcome)>> once;
  std::weak_ptr<Dialog> dialog;
  std::function<void(int, const std::string&)> on_progress;
  std::unique_ptr<boost::asio::steady_timer> timer;
  std::function<void()> release;  // stops the dialog routing NOTIFYs here
  bool accepted{false};
  std::optional<ReferOutcome> final;  // a final NOTIFY that overtook the 202
  ReferOutcome last{};

  ReferOut() = default;
  ReferOut(const ReferOut&) = delete;
  ReferOut& operator=(const ReferOut&) = delete;
  // The dialog was dropped (not ended) while the REFER ran: its owner still gets an answer.
  ~ReferOut() {
    if (once && !once->done()) (*once)(std::make_exception_ptr(DialogGone()), ReferOutcome{});
  }

  void on_response(std::exception_ptr error, const sip::Message& response) {
    if (once->done()) return;
    if (error) return finish(error, {});
    if (response.status() >= 300) {
      return finish(std::make_exception_ptr(SipFailure(response.status(), std::string(response.reason()), false)), {});
    }
    accepted = true;
    if (final) finish(nullptr, *final);
  }

  void on_notify(Request req, Response res) {
    res.send(200);
    if (once->done()) return;
    auto frag = parse_sipfrag_status(req.body());
    if (frag) {
      last = *frag;
      if (on_progress) on_progress(frag->status, frag->reason);
    }
    if (!starts_with_nocase(trim(req.header("Subscription-State")), "terminated")) return;
    if (accepted)
      finish(nullptr, last);
    else
      final = last;  // the 202 is still on its way
  }

  void finish(std::exception_ptr error, ReferOutcome outcome) {
    if (timer) timer->cancel();
    if (release) {
      auto r = std::move(release);
      release = nullptr;
      r();
    }
    (*once)(error, std::move(outcome));
  }
};

}  // namespace

void Dialog::start_refer(std::string refer_to, ReferOptions options, ReferHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (destroyed_.ended()) {
    (*once)(std::make_exception_ptr(DialogGone()), ReferOutcome{});
    return;
  }
  if (refer_notify_) {
    (*once)(std::make_exception_ptr(std::logic_error("a REFER of this dialog is in progress")), ReferOutcome{});
    return;
  }
  auto op = std::make_shared<ReferOut>();
  op->once = once;
  op->dialog = weak_from_this();
  op->on_progress = std::move(options.on_progress);
  std::weak_ptr<Dialog> weak_dialog = weak_from_this();
  op->release = [weak_dialog] {
    if (auto d = weak_dialog.lock()) d->refer_notify_ = nullptr;
  };
  // Installed before the REFER leaves: a NOTIFY may overtake its 202. The dialog holds the
  // operation until it finishes (the operation holds the dialog weakly).
  refer_notify_ = [op](Request req, Response res) { op->on_notify(std::move(req), std::move(res)); };
  std::weak_ptr<ReferOut> weak_op = op;
  destroyed_.on_end([weak_op](const DestroyedInfo&) {
    if (auto o = weak_op.lock()) o->finish(std::make_exception_ptr(DialogGone()), {});
  });

  HeaderList headers{{"Refer-To", as_name_addr(refer_to)}};
  if (!options.referred_by.empty()) headers.emplace_back("Referred-By", as_name_addr(options.referred_by));
  for (auto& header : options.headers) headers.push_back(std::move(header));
  if (observers_ && observers_->logging()) {
    observers_->log->debug("event=refer_sent call_id={} refer_to={}", util::quote(backend_->call_id()),
                           util::quote(refer_to));
  }
  start_request("REFER", RequestOptions{std::move(headers), {}, {}},
                MessageHandler([op](std::exception_ptr error, sip::Message response) {
                  op->on_response(std::move(error), response);
                }));
  if (options.timeout.count() > 0 && !once->done()) {
    op->timer = std::make_unique<boost::asio::steady_timer>(executor_, options.timeout);
    op->timer->async_wait([weak_op](boost::system::error_code ec) {
      if (ec) return;
      if (auto o = weak_op.lock())
        o->finish(std::make_exception_ptr(SipFailure(408, "no final NOTIFY for the REFER", true)), {});
    });
  }
  // Cancelled: completes now; later NOTIFYs get the dialog's default 200.
  once->on_cancel([weak_op] {
    if (auto o = weak_op.lock()) o->finish(nullptr, {});
  });
}

}  // namespace astmrf::srf
