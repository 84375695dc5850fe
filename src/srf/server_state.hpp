// What Request and Response share: the backend's server transaction, the
// application's CANCEL listeners and the waiters of async_wait_cancelled.
#pragma once

#include <astmrf/srf/backend.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace astmrf::srf::detail {

struct ServerState {
  ServerState(std::shared_ptr<BackendServerTransaction> t, boost::asio::any_io_executor ex)
      : transaction(std::move(t)), executor(std::move(ex)) {}

  void cancelled();  // the caller CANCELled
  void answered();   // a final response went out without a CANCEL

  std::shared_ptr<BackendServerTransaction> transaction;
  boost::asio::any_io_executor executor;
  std::vector<std::function<void()>> cancel_listeners;
  std::vector<boost::asio::any_completion_handler<void(boost::system::error_code)>> cancel_waiters;
};

}  // namespace astmrf::srf::detail

#include <astmrf/srf/dialog.hpp>
#include <astmrf/srf/srf.hpp>

namespace astmrf::srf::detail {

/// The body of Srf::async_create_uas, callable without the Srf (the B2BUA uses it
/// from completions that may outlive the Srf object).
void answer_uas(const boost::asio::any_io_executor& executor, Request req, UasOptions options,
                boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Dialog>)> handler);

}  // namespace astmrf::srf::detail
