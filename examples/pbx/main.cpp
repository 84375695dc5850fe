// pbx: softphones register (REGISTER challenged with digest auth; users and passwords from
// PBX_USERS); a call to a registered user is answered by Asterisk, the user's phone is called and
// bridged with the caller (their audio goes through Asterisk); a call to anyone else reaches a small
// IVR: a prompt, up to four digits, said back, goodbye. Calls themselves are not challenged (they
// come from a trunk): add "INVITE" to the auth's methods to challenge them too.
//
//   ARI_PASSWORD=secret PBX_USERS=alice:pw1,bob:pw2 example-pbx [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
// SIP on 127.0.0.1:5080 (EXAMPLE_SIP_PORT to change it).
#include "example_app.hpp"

#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/digest_auth.hpp>
#include <astmrf/srf/registrar.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

// "alice:pw1,bob:pw2" → {alice: pw1, bob: pw2}.
std::map<std::string, std::string> parse_users(const char* text) {
  std::map<std::string, std::string> users;
  std::stringstream in(text != nullptr ? text : "");
  for (std::string item; std::getline(in, item, ',');) {
    const auto colon = item.find(':');
    if (colon != std::string::npos && colon > 0) users[item.substr(0, colon)] = item.substr(colon + 1);
  }
  return users;
}

// The registered user's phone rings while the caller hears ringing; then they talk.
asio::awaitable<void> call_user(std::shared_ptr<mrf::MediaServer> server, std::string contact, srf::Request req,
                                srf::Response res) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls (g++ 12)
  auto caller = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  mrf::AgentCallOptions options;
  options.ringback = mrf::Ringback::ringing;
  options.uac.timeout = std::chrono::seconds(20);
  std::optional<mrf::AgentCall> call;
  try {
    call = co_await mrf::async_call_agent(caller.endpoint, contact, options, asio::use_awaitable);
  } catch (const mrf::AgentCallFailed& failure) {
    std::cout << "not reached: " << failure.what() << std::endl;
  }
  if (!call) {  // co_await is not allowed in a catch block
    mrf::PlayOptions sorry_options;
    co_await caller.endpoint->async_play("sound:vm-nobodyavail", sorry_options, asio::use_awaitable);
    caller.dialog->destroy();
    co_return;
  }
  std::cout << "connected " << req.uri() << " to " << contact << std::endl;
  co_await caller.endpoint->async_wait_destroyed(asio::use_awaitable);  // either side's BYE ends both
}

// Anyone else: a prompt, up to four digits (# ends), said back.
asio::awaitable<void> ivr(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res) {
  mrf::ConnectCallerOptions caller_options;
  auto caller = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  mrf::CollectOptions collect;
  collect.max_digits = 4;
  std::vector<std::string> prompt{"sound:hello-world"};
  auto input = co_await caller.endpoint->async_play_and_collect(prompt, collect, asio::use_awaitable);
  if (input.end != mrf::CollectEnd::call_ended) {
    if (!input.digits.empty()) {
      co_await caller.endpoint->async_say(input.digits, mrf::SayKind::digits, asio::use_awaitable);
    }
    std::string goodbye = "sound:vm-goodbye";
    co_await caller.endpoint->async_play(goodbye, asio::use_awaitable);
    caller.dialog->destroy();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto users = parse_users(std::getenv("PBX_USERS"));
  if (users.empty()) {
    std::cerr << "usage: ARI_PASSWORD=... PBX_USERS=user:password,... " << argv[0]
              << " [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]\n";
    return 2;
  }
  std::unique_ptr<srf::DigestAuth> auth;
  std::unique_ptr<srf::Registrar> registrar;
  astmrf::detail::SignalConnection changes;
  return astmrf_example::run(
      astmrf_example::asterisk_options(argc, argv, 1),
      [&](asio::io_context& ioc, srf::Srf& app, std::shared_ptr<mrf::MediaServer> server) {
        srf::DigestAuthOptions auth_options;
        auth_options.realm = "astmrf.example";
        auth_options.methods = {"REGISTER"};
        // A real PBX looks users up in its database, asynchronously; here they are in memory.
        auth_options.credentials = [&users](const std::string& user, const std::string&, auto done) {
          const auto found = users.find(user);
          done(found == users.end() ? std::nullopt
                                    : std::optional<srf::Credential>(srf::Credential{found->second, {}, {}}));
        };
        auth = std::make_unique<srf::DigestAuth>(std::move(auth_options));
        app.use(auth->middleware());

        registrar =
            std::make_unique<srf::Registrar>(app.get_executor(), srf::RegistrarOptions{},
                                             std::make_shared<srf::MemoryRegistrationStore>(app.get_executor()));
        app.register_(registrar->handler());
        changes = registrar->on_change([](const srf::BindingChange& change) {
          const bool gone =
              change.kind == srf::BindingChangeKind::removed || change.kind == srf::BindingChangeKind::expired;
          std::cout << (gone ? "unregistered " : "registered ") << change.aor << std::endl;
        });

        app.invite([&ioc, server, &registrar](srf::Request req, srf::Response res) {
          registrar->async_lookup(std::string(req.uri()), [&ioc, server, req, res](std::exception_ptr error,
                                                                                   std::vector<srf::Binding> bindings) {
            auto work = !error && !bindings.empty() ? call_user(server, bindings.front().contact, req, res)
                                                    : ivr(server, req, res);
            asio::co_spawn(ioc, std::move(work), [](std::exception_ptr e) {
              if (e) std::cout << "call failed" << std::endl;
            });
          });
        });
        std::cout << "ready: register to sip:USER@127.0.0.1:" << astmrf_example::sip_port() << std::endl;
      });
}
