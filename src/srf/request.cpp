#include "server_state.hpp"

#include <astmrf/srf/request.hpp>

#include <stdexcept>

namespace astmrf::srf {

namespace detail {

void ServerState::cancelled() {
  if (call) call->end(Outcome::cancelled, 487, "caller cancelled");
  auto listeners = std::move(cancel_listeners);
  cancel_listeners.clear();
  for (auto& listener : listeners) listener();
  auto waiters = std::move(cancel_waiters);
  cancel_waiters.clear();
  for (auto& waiter : waiters) (*waiter)(nullptr, true);
  activity.reset();  // answered 487: no longer a call in progress
}

void ServerState::answered() {
  cancel_listeners.clear();
  auto waiters = std::move(cancel_waiters);
  cancel_waiters.clear();
  for (auto& waiter : waiters) (*waiter)(nullptr, false);
  activity.reset();  // a 2xx hands over to its dialog (which holds its own token)
}

}  // namespace detail

const sip::Message& Request::msg() const { return state_->transaction->message(); }
std::string Request::source() const { return state_->transaction->source(); }
std::shared_ptr<Dialog> Request::replaced_dialog() const { return state_->replaced.lock(); }
std::string_view Request::authenticated_user() const { return state_->authenticated_user; }
bool Request::cancelled() const { return state_->transaction->cancelled(); }

void Request::on_cancel(std::function<void()> handler) {
  if (cancelled()) {
    handler();
    return;
  }
  if (!state_->transaction->final_sent()) state_->cancel_listeners.push_back(std::move(handler));
}

void Request::wait_cancelled(CancelHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), state_->executor);
  if (cancelled()) {
    (*once)(nullptr, true);
  } else if (state_->transaction->final_sent()) {
    (*once)(nullptr, false);
  } else {
    std::erase_if(state_->cancel_waiters, [](const auto& w) { return w->done(); });
    once->on_cancel();
    state_->cancel_waiters.push_back(std::move(once));
  }
}

void Response::send(int status, ResponseOptions options) {
  auto& transaction = *state_->transaction;
  if (status >= 200 && transaction.cancelled()) return;  // the caller already got 487 (counted cancelled)
  std::string reason = status >= 200 && state_->call ? options.reason : std::string{};
  // Copied only when someone records it, and told only once it really went out.
  std::string sent_body = status >= 200 && state_->on_final ? options.body : std::string{};
  // RFC 3262: the backend sends it reliably when the caller supports 100rel (else as usual).
  if (options.reliable && status > 100 && status < 200) options.headers.emplace_back("Require", "100rel");
  if (status >= 200 && status < 300 && state_->decorate_2xx) {
    auto decorate = std::move(state_->decorate_2xx);
    state_->decorate_2xx = nullptr;
    decorate(options.headers);
  }
  transaction.respond(ResponseSpec{status, std::move(options.reason), std::move(options.headers),
                                   std::move(options.content_type), std::move(options.body)});
  if (status >= 200 && state_->call) {
    state_->call->end(status < 300 ? detail::Outcome::answered : detail::rejected(status), status, reason);
  }
  if (status >= 200 && state_->on_final) {
    auto on_final = std::move(state_->on_final);
    state_->on_final = nullptr;
    on_final(status, sent_body);
  }
  if (status >= 200) state_->answered();
}

bool Response::finished() const { return state_->transaction->final_sent(); }

}  // namespace astmrf::srf
