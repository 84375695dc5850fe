// transfer: each caller is bridged with an agent (AGENT_URI). Then:
//  - the caller's REFER (blind transfer) connects the agent with the Refer-To target, and the
//    caller's leg ends; the caller follows the progress in the NOTIFYs (100, then the final status);
//  - the agent's DTMF 9 asks the caller's phone to transfer itself to TRANSFER_URI (REFER out);
//  - an INVITE with Replaces that names a caller's dialog takes over that caller's place in the
//    bridge (attended transfer completed by a third phone); one naming no call of ours gets 481.
//
//   ARI_PASSWORD=secret example-transfer AGENT_URI TRANSFER_URI [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include "example_app.hpp"

#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/transfer.hpp>
#include <astmrf/srf/refer.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <optional>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

struct Targets {
  std::string agent;
  std::string transfer;
};

// The agent pressed 9: ask the caller's phone to call TRANSFER_URI itself (REFER out).
asio::awaitable<void> refer_caller(mrf::ConnectedCaller caller, std::string target) {
  srf::ReferOptions refer_options;
  refer_options.on_progress = [](int status, const std::string& reason) {
    std::cout << "transfer progress: " << status << " " << reason << "\n";
  };
  auto outcome = co_await caller.dialog->async_refer(target, refer_options, asio::use_awaitable);
  std::cout << "the caller's transfer ended with " << outcome.status << "\n";
  // A successful transfer: the caller's phone talks to the target now; it hangs this call up
  // itself, or we do.
  if (outcome.status >= 200 && outcome.status < 300) caller.dialog->destroy();
}

asio::awaitable<void> serve_caller(std::shared_ptr<mrf::MediaServer> server, Targets targets, srf::Request req,
                                   srf::Response res) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto caller = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  mrf::AgentCallOptions agent_options;
  auto call = co_await mrf::async_call_agent(caller.endpoint, targets.agent, agent_options, asio::use_awaitable);

  // The caller's REFER: a blind transfer of the agent to the Refer-To target. The handler lives in
  // the caller's dialog, so it holds the legs weakly (a strong hold would keep the dialog alive).
  auto executor = co_await asio::this_coro::executor;
  std::weak_ptr<srf::Dialog> weak_dialog = caller.dialog;
  std::weak_ptr<mrf::Endpoint> weak_caller = caller.endpoint;
  std::weak_ptr<mrf::Endpoint> weak_agent = call.agent;
  // The transfer target's call, held here for as long as the agent talks with it (dropping an
  // AgentCall hangs its party up).
  auto transferred = std::make_shared<std::optional<mrf::AgentCall>>();
  std::weak_ptr<std::optional<mrf::AgentCall>> weak_transferred = transferred;
  caller.dialog->on("REFER", [weak_dialog, weak_caller, weak_agent, weak_transferred](srf::Request refer,
                                                                                      srf::Response refer_res) {
    auto dialog = weak_dialog.lock();
    auto caller_endpoint = weak_caller.lock();
    auto agent = weak_agent.lock();
    if (!dialog || !caller_endpoint || !agent) {
      refer_res.send(481);
      return;
    }
    mrf::TransferOptions transfer_options;
    mrf::async_blind_transfer(mrf::ConnectedCaller{caller_endpoint, dialog}, refer, refer_res, agent, transfer_options,
                              [weak_transferred](std::exception_ptr error, mrf::AgentCall target) {
                                std::cout << (error ? "transfer failed\n" : "transferred\n");
                                if (auto held = weak_transferred.lock(); held && !error) *held = std::move(target);
                              });
  });
  // The agent's DTMF 9: the caller is asked to transfer itself.
  auto digits = call.agent->on_dtmf([executor, caller, target = targets.transfer](const mrf::DtmfEvent& event) {
    if (event.digit == '9') asio::co_spawn(executor, refer_caller(caller, target), asio::detached);
  });
  co_await call.agent->async_wait_destroyed(asio::use_awaitable);
}

// An INVITE with Replaces naming one of our dialogs: the new phone takes that caller's place.
asio::awaitable<void> replace_caller(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res) {
  mrf::ConnectCallerOptions options;
  auto caller = co_await server->async_replace_caller(req, res, options, asio::use_awaitable);
  std::cout << "call " << req.call_id() << " replaced a caller\n";
  co_await caller.endpoint->async_wait_destroyed(asio::use_awaitable);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: ARI_PASSWORD=... " << argv[0]
              << " AGENT_URI TRANSFER_URI [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]\n";
    return 2;
  }
  const Targets targets{argv[1], argv[2]};
  return astmrf_example::run(astmrf_example::asterisk_options(argc, argv, 3),
                             [&](asio::io_context& ioc, srf::Srf& app, std::shared_ptr<mrf::MediaServer> server) {
                               std::cout << "calls to sip:anyone@127.0.0.1:5080 are bridged with " << targets.agent
                                         << "\n";
                               app.invite([&ioc, server, targets](srf::Request req, srf::Response res) {
                                 asio::co_spawn(ioc, serve_caller(server, targets, req, res), [](std::exception_ptr e) {
                                   if (e) std::cout << "call failed\n";
                                 });
                               });
                               app.replaces([&ioc, server](srf::Request req, srf::Response res) {
                                 asio::co_spawn(ioc, replace_caller(server, req, res), [](std::exception_ptr e) {
                                   if (e) std::cout << "replacing call failed\n";
                                 });
                               });
                             });
}
