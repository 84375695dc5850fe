// What Request and Response share: the backend's server transaction, the
// application's CANCEL listeners and the waiters of async_wait_cancelled.
#pragma once

#include "activity.hpp"
#include "dialog_registry.hpp"
#include "observers.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/srf/backend.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::srf {
class Dialog;
}

namespace astmrf::srf::detail {

struct ServerState {
  ServerState(std::shared_ptr<BackendServerTransaction> t, boost::asio::any_io_executor ex)
      : transaction(std::move(t)), executor(std::move(ex)) {}

  void cancelled();  // the caller CANCELled
  void answered();   // a final response went out without a CANCEL

  std::shared_ptr<BackendServerTransaction> transaction;
  boost::asio::any_io_executor executor;
  std::vector<std::function<void()>> cancel_listeners;
  std::vector<std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, bool)>>> cancel_waiters;
  // Told the final status and body sent (a Dialog records the SDP its answer carried).
  std::function<void(int status, const std::string& body)> on_final;
  // Adds headers to a 2xx before it goes out (a session refresh's Session-Expires).
  std::function<void(HeaderList& headers)> decorate_2xx;
  // INVITEs only, when Srf counts or logs calls: the call's outcome, recorded once.
  std::shared_ptr<CallRecord> call;
  // An INVITE with Replaces: the dialog it replaces (Request::replaced_dialog).
  std::weak_ptr<Dialog> replaced;
  // An INVITE with a Replaces header (checked before the middleware runs).
  bool replacing{false};
  // The middleware chain: the step running or waiting for its next(), whether that next() was
  // called, and whether the step's middleware is still on the stack.
  std::size_t middleware_step{0};
  bool next_taken{false};
  bool in_middleware{false};
  // Set by an authentication middleware (DigestAuth): Request::authenticated_user.
  std::string authenticated_user;
  // An INVITE outside dialogs: counts as a call in progress until its final response.
  std::shared_ptr<void> activity;
};

/// True when an Event header value names the refer package ("refer", "refer;id=3").
bool is_refer_event(std::string_view event) noexcept;

}  // namespace astmrf::srf::detail

#include <astmrf/srf/dialog.hpp>
#include <astmrf/srf/srf.hpp>

namespace astmrf::srf::detail {

/// Srf's access to what its public classes keep private (their constructors, their state).
struct Access {
  static Request request(std::shared_ptr<ServerState> state) { return Request(std::move(state)); }
  static Response response(std::shared_ptr<ServerState> state) { return Response(std::move(state)); }
  static const std::shared_ptr<ServerState>& state(const Request& req) { return req.state_; }
  static std::shared_ptr<Dialog> dialog(std::shared_ptr<BackendDialog> backend, Dialog::Role role,
                                        std::string local_sdp, std::string remote_sdp,
                                        boost::asio::any_io_executor executor,
                                        std::shared_ptr<const SrfObservers> observers = nullptr) {
    auto dialog = std::shared_ptr<Dialog>(
        new Dialog(std::move(backend), role, std::move(local_sdp), std::move(remote_sdp), std::move(executor)));
    if (observers && observers->metrics) observers->dialogs[role == Dialog::Role::uas ? 0 : 1]->inc();
    if (observers) observers->dialog_registry->add(dialog);  // Replaces finds it
    if (observers) {
      // A call in progress until it ends: the waiter (and its token) goes when it completes,
      // or with the dialog when it is dropped unended.
      dialog->wait_destroyed(
          Dialog::DestroyedHandler([token = observers->activity->hold()](std::exception_ptr, DestroyedInfo) {}));
    }
    dialog->observers_ = std::move(observers);
    return dialog;
  }
  static void attach(Dialog& dialog) { dialog.attach(); }
  static void start_session_timer(Dialog& dialog, const SessionTimerPlan& plan) { dialog.start_session_timer(plan); }
  static const boost::asio::any_io_executor& executor(const Dialog& dialog) { return dialog.executor_; }
  static const std::shared_ptr<const SrfObservers>& observers(const Dialog& dialog) { return dialog.observers_; }
  static std::uint32_t count_refer(Dialog& dialog) { return ++dialog.refers_accepted_; }
};

/// The body of Srf::async_create_uas, callable without the Srf (the B2BUA uses it
/// from completions that may outlive the Srf object).
void answer_uas(const boost::asio::any_io_executor& executor, std::shared_ptr<const SrfObservers> observers,
                Request req, UasOptions options,
                boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Dialog>)> handler);

}  // namespace astmrf::srf::detail
