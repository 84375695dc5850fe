// What the Mrf integration tests share: error descriptions for the event log,
// sandbox connect options, and the leak probe (channels of an app on Asterisk).
#pragma once

#include <astmrf/mrf/mrf.hpp>

#include <boost/json.hpp>

#include <exception>
#include <string>

#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/sandbox.hpp"

namespace astmrf_test {

inline std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const astmrf::srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status());
  } catch (const astmrf::srf::RequestCancelled&) {
    return "RequestCancelled";
  } catch (const astmrf::mrf::MediaSetupTimeout&) {
    return "MediaSetupTimeout";
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

inline astmrf::mrf::ConnectOptions sandbox_options(std::uint16_t ari_port, std::uint16_t sip_port) {
  const auto& box = sandbox();
  astmrf::mrf::ConnectOptions options;
  options.ari = {"127.0.0.1", ari_port, box.ari_user, box.ari_password, false, {}};
  options.sip = {"127.0.0.1", sip_port, astmrf::sip::Transport::udp};
  return options;
}

// Channels on Asterisk that belong to `app` (their dialplan exten is the app name).
inline std::size_t channels_of(const AriProbe& probe, const std::string& app) {
  auto result = probe.request("GET", "/ari/channels");
  if (result.status != 200) return 0;  // Asterisk is down: it holds nothing
  const auto channels = result.json();
  std::size_t count = 0;
  for (const auto& channel : channels.as_array()) {
    if (channel.at("dialplan").at("exten").as_string() == app) ++count;
  }
  return count;
}

}  // namespace astmrf_test
