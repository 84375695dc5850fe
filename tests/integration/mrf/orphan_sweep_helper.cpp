// A process to kill: connects an Mrf with the instance id argv[1] to the ctest sandbox, sets up one
// endpoint, prints "app=<app> channel_id=<id>" and waits to be killed (SIGKILL, so no teardown runs:
// the channel stays in Stasis on Asterisk as after a crash). orphan_sweep_test.cpp drives it.
#include "mrf_support.hpp"

#include <boost/asio/use_future.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: orphan_sweep_helper INSTANCE_ID\n";
    return 2;
  }
  astmrf_test::EngineHarness harness;
  std::unique_ptr<astmrf::srf::Srf> app;
  std::unique_ptr<astmrf::mrf::Mrf> media;
  harness.run([&] {
    app = std::make_unique<astmrf::srf::Srf>(astmrf::srf::make_engine_backend(harness.engine()));
    media = std::make_unique<astmrf::mrf::Mrf>(*app);
    return 0;
  });
  const auto& box = astmrf_test::sandbox();
  auto options = astmrf_test::sandbox_options(box.ari_port, box.sip_port);
  options.instance_id = argv[1];
  // Both held until the kill: dropping the endpoint would send its BYE.
  std::shared_ptr<astmrf::mrf::MediaServer> server;
  std::shared_ptr<astmrf::mrf::Endpoint> endpoint;
  try {
    server = harness.run([&] { return media->async_connect(options, boost::asio::use_future); }).get();
    endpoint = harness.run([&] { return server->async_create_endpoint({}, boost::asio::use_future); }).get();
    std::cout << "app=" << server->app() << " channel_id=" << endpoint->channel_id() << std::endl;
  } catch (const std::exception& e) {
    std::cout << "error=" << e.what() << std::endl;
    return 1;
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until SIGKILL
}
