// agent-supervision: a caller is answered by Asterisk, hears ringing while the agent's phone
// (AGENT_URI) rings, and is bridged with the agent when it answers. A supervisor who calls
// sip:supervise@127.0.0.1:5080 listens to the latest agent call; on the supervisor's phone,
// DTMF 1 = listen, 2 = whisper (the agent hears the supervisor, the caller does not), 3 = barge.
//
//   ARI_PASSWORD=secret example-agent-supervision AGENT_URI [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include "example_app.hpp"

#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/snoop.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>
#include <optional>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

// The agent leg of the latest answered call: what a supervisor who calls in listens to.
struct LatestCall {
  std::weak_ptr<mrf::Endpoint> agent;
};

asio::awaitable<void> serve_caller(std::shared_ptr<mrf::MediaServer> server, std::string agent_uri,
                                   std::shared_ptr<LatestCall> latest, srf::Request req, srf::Response res) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto caller = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);

  mrf::AgentCallOptions agent_options;
  agent_options.ringback = mrf::Ringback::ringing;
  agent_options.uac.timeout = std::chrono::seconds(20);  // no answer: CANCEL, and the caller hears a sorry
  std::optional<mrf::AgentCall> call;
  try {
    call = co_await mrf::async_call_agent(caller.endpoint, agent_uri, agent_options, asio::use_awaitable);
  } catch (const mrf::AgentCallFailed& failure) {
    std::cout << "agent not reached: " << failure.what() << "\n";
  }
  if (!call) {  // the caller hears a sorry, then a BYE (co_await is not allowed in a catch block)
    mrf::PlayOptions sorry_options;
    co_await caller.endpoint->async_play("sound:sorry", sorry_options, asio::use_awaitable);
    caller.dialog->destroy();
    co_return;
  }
  latest->agent = call->agent;
  std::cout << "caller " << req.call_id() << " talks with the agent\n";
  // end_together: whoever hangs up ends the other side; hold the call until then.
  co_await caller.endpoint->async_wait_destroyed(asio::use_awaitable);
}

asio::awaitable<void> serve_supervisor(std::shared_ptr<mrf::MediaServer> server, std::shared_ptr<LatestCall> latest,
                                       srf::Request req, srf::Response res) {
  mrf::ConnectCallerOptions supervisor_options;
  auto supervisor = co_await server->async_connect_caller(req, res, supervisor_options, asio::use_awaitable);
  auto agent = latest->agent.lock();
  if (!agent || agent->destroyed()) {
    mrf::PlayOptions none_options;
    co_await supervisor.endpoint->async_play("sound:vm-nobodyavail", none_options, asio::use_awaitable);
    supervisor.dialog->destroy();
    co_return;
  }
  // Dropping `supervision` (when the supervisor hangs up) removes the snoop and its bridge.
  auto supervision =
      co_await mrf::async_supervise(agent, supervisor.endpoint, mrf::SuperviseMode::listen, asio::use_awaitable);
  try {
    for (;;) {
      auto digit = co_await supervisor.endpoint->async_wait_dtmf(asio::use_awaitable);
      const auto mode = digit.digit == '2'   ? mrf::SuperviseMode::whisper
                        : digit.digit == '3' ? mrf::SuperviseMode::barge
                                             : mrf::SuperviseMode::listen;
      co_await supervision->async_set_mode(mode, asio::use_awaitable);
    }
  } catch (const mrf::CallEnded&) {
    // The supervisor hung up, or the agent's call ended.
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ARI_PASSWORD=... " << argv[0] << " AGENT_URI [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]\n";
    return 2;
  }
  const std::string agent_uri = argv[1];
  auto latest = std::make_shared<LatestCall>();
  return astmrf_example::run(
      astmrf_example::asterisk_options(argc, argv, 2),
      [&](asio::io_context& ioc, srf::Srf& app, std::shared_ptr<mrf::MediaServer> server) {
        std::cout << "callers: sip:anyone@127.0.0.1:5080; supervisor: sip:supervise@127.0.0.1:5080\n";
        app.invite([&ioc, server, agent_uri, latest](srf::Request req, srf::Response res) {
          const bool supervisor = req.uri().rfind("sip:supervise@", 0) == 0;
          auto work = supervisor ? serve_supervisor(server, latest, req, res)
                                 : serve_caller(server, agent_uri, latest, req, res);
          asio::co_spawn(ioc, std::move(work), [](std::exception_ptr e) {
            if (e) std::cout << "call failed\n";
          });
        });
      });
}
