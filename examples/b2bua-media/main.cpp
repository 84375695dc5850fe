// b2bua-media: a B2BUA that puts Asterisk in the media path, on mrf::async_call_agent. The
// caller (A) is answered through Asterisk and hears ringback while the called party (B) rings;
// once B answers, their two channels meet in a mixing bridge, where an application could record,
// play or listen in. Either side's hang-up ends both.
//
//   A --INVITE--> b2bua-media --INVITE--> B (sip:<A's user>@TARGET)
//   A <==RTP==> Asterisk [channel A]==bridge==[channel B] <==RTP==> B
//
//   ARI_PASSWORD=secret example-b2bua-media TARGET_HOST:PORT [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include "example_app.hpp"

#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

asio::awaitable<void> bridge_call(std::shared_ptr<mrf::MediaServer> server, std::string target, srf::Request req,
                                  srf::Response res) {
  // 1. Answer A through Asterisk (its endpoint gets A's SDP, A gets Asterisk's).
  const mrf::ConnectCallerOptions a_side{};
  auto a = co_await server->async_connect_caller(req, res, a_side, asio::use_awaitable);

  // 2. Call B for A: B gets an endpoint of its own on the same Asterisk, A hears ringing until B
  //    answers (30 s at most), then the two endpoints are bridged.
  const std::string uri(req.uri());  // sip:USER@...
  const auto b_uri = "sip:" + uri.substr(4, uri.find('@') - 4) + "@" + target;
  mrf::AgentCallOptions to_b;
  to_b.uac.timeout = std::chrono::seconds(30);
  to_b.ringback = mrf::Ringback::ringing;
  mrf::AgentCall b;
  try {
    b = co_await mrf::async_call_agent(a.endpoint, b_uri, to_b, asio::use_awaitable);
  } catch (const mrf::AgentCallFailed& failed) {
    // Busy, no answer, rejected: A was answered already, so it gets a BYE.
    std::cout << "call " << req.call_id() << ": " << failed.what() << "\n";
    a.endpoint->destroy();  // connect_caller then hangs A up
    co_return;
  }
  std::cout << "bridged " << req.call_id() << " with " << b.agent_dialog->call_id() << " in " << b.bridge->id() << "\n";

  // 3. Whoever hangs up first ends both sides (AgentCallOptions::end_together): wait for it,
  //    holding the call (its bridge, B's endpoint and dialog) meanwhile.
  co_await a.endpoint->async_wait_destroyed(asio::use_awaitable);
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
  return astmrf_example::run(
      astmrf_example::asterisk_options(argc, argv, 2),
      [&](asio::io_context& ioc, srf::Srf& app, std::shared_ptr<mrf::MediaServer> server) {
        std::cout << "calls to sip:USER@127.0.0.1:5080 go to sip:USER@" << target << " through Asterisk\n";
        app.invite([&ioc, server, target](srf::Request req, srf::Response res) {
          asio::co_spawn(ioc, bridge_call(server, target, req, res), [res](std::exception_ptr e) mutable {
            if (e && !res.finished()) res.send(500);
            if (e) std::cout << "call failed\n";
          });
        });
      });
}
