// The call helpers' access to a MediaServer's internals (agent_call.cpp, transfer.cpp): its
// Srf, executor and logger, and the mid-call relay of connect_caller for the agent's legs.
#pragma once

#include <astmrf/mrf/mrf.hpp>

#include <memory>
#include <vector>

namespace astmrf::mrf::detail {

// Two endpoints of an agent call that end together while `active` (the handlers on both
// endpoints own it; it holds them weakly).
struct CallTie {
  std::weak_ptr<Endpoint> a;
  std::weak_ptr<Endpoint> b;
  bool active{true};
};

struct CallHelpers {
  static std::shared_ptr<spdlog::logger> logger(MediaServer& server);
  static srf::Srf& srf(MediaServer& server);
  static boost::asio::any_io_executor executor(MediaServer& server);
  // connect_caller's relay between a dialog and its endpoint (re-offers both ways, INFO DTMF).
  static void install_mid_call(const std::shared_ptr<Endpoint>& endpoint, const std::shared_ptr<srf::Dialog>& dialog);
  // `endpoint` is the media of `dialog` (MediaServer::caller_endpoint) while the dialog is up.
  static void remember(MediaServer& server, const std::shared_ptr<srf::Dialog>& dialog,
                       const std::shared_ptr<Endpoint>& endpoint);
  // Either endpoint's end ends the other (until untied).
  static void tie(MediaServer& server, const std::shared_ptr<Endpoint>& a, const std::shared_ptr<Endpoint>& b);
  // Undoes the ties of `endpoint` (so that ending it leaves its partners up); its partners still up.
  static std::vector<std::shared_ptr<Endpoint>> untie(MediaServer& server, const Endpoint& endpoint);
};

}  // namespace astmrf::mrf::detail
