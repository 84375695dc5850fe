// b2bua-media: a B2BUA that puts Asterisk in the media path. The caller (A) and the
// called party (B) each talk RTP with Asterisk only; their two channels meet in a
// mixing bridge, where an application could record, play or listen in.
//
//   A --INVITE--> b2bua-media --INVITE--> B (sip:<A's user>@TARGET)
//   A <==RTP==> Asterisk [channel A]==bridge==[channel B] <==RTP==> B
//
//   ARI_PASSWORD=secret example-b2bua-media TARGET_HOST:PORT [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace ari = astmrf::ari;

namespace {

asio::awaitable<void> bridge_call(srf::Srf& app, std::shared_ptr<mrf::MediaServer> server, std::string target,
                                  srf::Request req, srf::Response res) {
  // 1. Asterisk's side for B: an endpoint offered A's codecs, so that Asterisk answers with
  //    an SDP (its address and port) that B can be offered.
  mrf::EndpointOptions b_side{.remote_sdp = std::string(req.body()), .headers = {}};
  auto endpoint_b = co_await server->async_create_endpoint(b_side, asio::use_awaitable);

  // 2. Call B with Asterisk's SDP; B's failure is passed on to A.
  const std::string uri(req.uri());  // sip:USER@...
  const auto b_uri = "sip:" + uri.substr(4, uri.find('@') - 4) + "@" + target;
  srf::UacOptions to_b;
  to_b.local_sdp = endpoint_b->local_sdp();
  std::shared_ptr<srf::Dialog> b;
  try {
    b = co_await app.async_create_uac(b_uri, to_b, asio::use_awaitable);
  } catch (const srf::SipFailure& failure) {
    res.send(failure.status());
    endpoint_b->destroy();
    co_return;
  }
  // 3. Tell Asterisk where B's media really is (re-INVITE with B's SDP).
  const std::string b_sdp = b->remote_sdp();  // named: see docs/srf.md on g++ 12
  co_await endpoint_b->dialog()->async_modify(b_sdp, asio::use_awaitable);

  // 4. Answer A through Asterisk, and bridge the two channels.
  mrf::ConnectCallerOptions a_side;
  auto a = co_await server->async_connect_caller(req, res, a_side, asio::use_awaitable);
  auto& api = server->ari();
  const auto bridge_id = api.make_id("br");
  const ari::bridges::CreateWithId create{.bridge_id = bridge_id, .type = "mixing"};
  co_await api.bridges().async_create_with_id(create, asio::use_awaitable);
  const ari::bridges::AddChannel add{.bridge_id = bridge_id,
                                     .channel = {a.endpoint->channel_id(), endpoint_b->channel_id()}};
  co_await api.bridges().async_add_channel(add, asio::use_awaitable);
  std::cout << "bridged " << req.call_id() << " with " << b->call_id() << " in " << bridge_id << "\n";

  // 5. Whoever hangs up first ends both sides.
  b->on_destroy([a](const srf::DestroyedInfo&) { a.dialog->destroy(); });  // A's BYE ends its endpoint
  a.endpoint->on_destroy([b, endpoint_b](mrf::EndpointEnd) {
    b->destroy();
    endpoint_b->destroy();
  });
  co_await a.endpoint->async_wait_destroyed(asio::use_awaitable);
  b->destroy();
  endpoint_b->destroy();
  const ari::bridges::Destroy destroy{.bridge_id = bridge_id};
  co_await api.bridges().async_destroy(destroy, asio::use_awaitable);
  std::cout << "call " << req.call_id() << " ended\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ARI_PASSWORD=... " << argv[0]
              << " TARGET_HOST:PORT [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]\n";
    return 2;
  }
  const std::string target = argv[1];
  const char* password = std::getenv("ARI_PASSWORD");
  mrf::ConnectOptions options;
  options.ari = {
      .address = "127.0.0.1",
      .port = static_cast<std::uint16_t>(argc > 3 ? std::atoi(argv[3]) : 8088),
      .username = argc > 2 ? argv[2] : "asterisk",
      .password = password != nullptr ? password : "",
  };
  options.sip = {.address = "127.0.0.1", .port = static_cast<std::uint16_t>(argc > 4 ? std::atoi(argv[4]) : 5060)};

  asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 5080}};
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  engine.start();
  srf::Srf app(srf::make_engine_backend(engine));
  mrf::Mrf media(app);

  media.async_connect(options, [&](std::exception_ptr error, std::shared_ptr<mrf::MediaServer> server) {
    if (error) {
      std::cerr << "cannot reach Asterisk\n";
      ioc.stop();
      return;
    }
    std::cout << "calls to sip:USER@127.0.0.1:5080 go to sip:USER@" << target << " through Asterisk\n";
    app.invite([&, server](srf::Request req, srf::Response res) {
      asio::co_spawn(ioc, bridge_call(app, server, target, req, res), [res](std::exception_ptr e) mutable {
        if (e && !res.finished()) res.send(500);
        if (e) std::cout << "call failed\n";
      });
    });
  });

  asio::signal_set stop(ioc, SIGINT, SIGTERM);
  stop.async_wait([&](auto, auto) { ioc.stop(); });
  ioc.run();
}
