// Uses one piece of each module so that linking needs the whole installed library:
// the SIP parser (sip), the engine and Srf (sip_engine, srf), an ARI client (ari,
// Beast and Boost.JSON/URL), Mrf (mrf) and Asio's separately compiled part (asio).
// Nothing is started: the program touches no network.
#include <astmrf/ari/client.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <iostream>

int main() {
  const auto parsed = astmrf::sip::parse_message(
      "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-consumer\r\n"
      "From: <sip:consumer@127.0.0.1>;tag=1\r\n"
      "To: <sip:probe@127.0.0.1>\r\n"
      "Call-ID: consumer-1\r\n"
      "CSeq: 1 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n");
  if (!parsed || parsed->method() != "OPTIONS") {
    std::cerr << "consumer: the SIP parser rejected a valid request\n";
    return 1;
  }

  boost::asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  astmrf::srf::Srf app(astmrf::srf::make_engine_backend(engine));
  astmrf::mrf::Mrf media(app);
  astmrf::ari::ClientOptions ari_options;
  ari_options.url = "http://127.0.0.1:8088";
  astmrf::ari::Client ari(ioc.get_executor(), ari_options);

  bool ran = false;
  boost::asio::post(ioc, [&] { ran = true; });
  ioc.run();
  if (!ran || !media.media_servers().empty()) {
    std::cerr << "consumer: unexpected state\n";
    return 1;
  }
  std::cout << "consumer: ok\n";
  return 0;
}
