// Runs an ordinary Srf application over the drachtio backend against a scripted
// drachtio-server, on one io_context, until the script and the application are
// both done (bounded, so that a hang is a failure, never a stuck test).
#pragma once

#include "scripted_server.hpp"

#include <astmrf/srf/drachtio.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace astmrf_test::drachtio {

namespace asio = boost::asio;
namespace srf = astmrf::srf;
namespace dr = astmrf::srf::drachtio;
using namespace std::chrono_literals;

inline std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status()) + (failure.local() ? " local" : "");
  } catch (const srf::RequestCancelled&) {
    return "RequestCancelled";
  } catch (const srf::CallCancelled&) {
    return "CallCancelled";
  } catch (const srf::AckTimeout&) {
    return "AckTimeout";
  } catch (const srf::DialogGone&) {
    return "DialogGone";
  } catch (const dr::AuthenticationFailed&) {
    return "AuthenticationFailed";
  } catch (const boost::system::system_error& e) {
    if (e.code() == boost::asio::error::operation_aborted) return "aborted";
    return std::string("error ") + e.what();
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

class DrachtioScenario : public testing::Test {
 protected:
  ~DrachtioScenario() override {
    dialogs.clear();
    app.reset();
    if (backend) backend->close();
    server.drop();
    ioc.poll();
  }

  /// The backend and the Srf, connected to `server` (not yet started).
  void make_app(dr::Options options = {}) {
    options.server = dr::ServerAddress{"127.0.0.1", server.port(), "cymru"};
    backend = dr::make_backend(ioc.get_executor(), options);
    backend->on_event([this](const dr::ConnectionEvent& event) {
      events.push_back(std::string(dr::to_string(event.state)));
      details.push_back(event.detail);
    });
    app = std::make_unique<srf::Srf>(backend);
  }

  /// Starts async_connect and the script; runs until both `script` and `app_done`
  /// are finished, or fails after a generous bound.
  void run(asio::awaitable<void> script, std::function<bool()> app_done, bool connect = true) {
    if (connect) {
      backend->async_connect([this](std::exception_ptr error) { connect_result = describe(error); });
    }
    bool script_done = false;
    asio::co_spawn(ioc, std::move(script), [&](std::exception_ptr error) {
      script_done = true;
      script_error = describe(error);
    });
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!(script_done && app_done())) {
      if (ioc.run_one_until(deadline) == 0) break;
    }
    EXPECT_TRUE(script_done) << "the script did not finish";
    EXPECT_EQ(script_error, "ok");
    EXPECT_TRUE(app_done()) << "the application did not finish";
  }

  /// Runs a coroutine of the application; its outcome lands in `outcomes`.
  void spawn_app(asio::awaitable<void> body) {
    asio::co_spawn(ioc, std::move(body), [this](std::exception_ptr error) { outcomes.push_back(describe(error)); });
  }

  asio::io_context ioc;
  ScriptedServer server{ioc};
  std::shared_ptr<dr::Backend> backend;
  std::unique_ptr<srf::Srf> app;
  std::vector<std::shared_ptr<srf::Dialog>> dialogs;
  std::vector<std::string> events;   ///< connection states, in order
  std::vector<std::string> details;  ///< and why
  std::vector<std::string> outcomes;
  std::vector<std::string> notes;
  std::string connect_result;
  std::string script_error;
};

}  // namespace astmrf_test::drachtio
