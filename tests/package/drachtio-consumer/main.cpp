// Srf over a drachtio-server backend, with Mrf on it: what a drachtio-only
// application builds. It includes no sip/engine header and links no engine.
// Nothing is started: the program touches no network.
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/drachtio.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <iostream>

int main() {
  boost::asio::io_context ioc;
  astmrf::srf::drachtio::Options options;
  options.server = astmrf::srf::drachtio::parse_server_address("127.0.0.1:9022:cymru");
  auto backend = astmrf::srf::drachtio::make_backend(ioc.get_executor(), options);
  astmrf::srf::Srf app(backend);
  app.invite([](astmrf::srf::Request, astmrf::srf::Response res) { res.send(486); });
  astmrf::mrf::Mrf media(app);

  bool ran = false;
  boost::asio::post(ioc, [&] { ran = true; });
  ioc.run();
  backend->close();
  if (!ran || !media.media_servers().empty()) {
    std::cerr << "drachtio-consumer: unexpected state\n";
    return 1;
  }
  std::cout << "drachtio-consumer: ok\n";
  return 0;
}
