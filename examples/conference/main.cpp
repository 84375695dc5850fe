// conference: every call to sip:ROOM@127.0.0.1:5080 joins the conference ROOM on Asterisk.
// A caller whose user starts with "mod-" (sip:mod-ROOM@...) joins ROOM as its moderator; the
// room ends when its last moderator leaves (or, without one, its last member). While alone a
// member hears music on hold; joins and leaves beep. DTMF 1 mutes or unmutes yourself.
//
//   ARI_PASSWORD=secret example-conference [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include "example_app.hpp"

#include <astmrf/mrf/conference.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

asio::awaitable<void> join_room(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res) {
  // The room is the Request-URI's user; "mod-" asks to moderate it.
  const std::string uri(req.uri());
  std::string room = uri.substr(4, uri.find('@') - 4);
  const bool moderator = room.rfind("mod-", 0) == 0;
  if (moderator) room.erase(0, 4);

  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto call = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);

  // The same name on the same server gives the same conference: the first caller makes it.
  mrf::ConferenceOptions room_options;
  room_options.moh_when_alone = true;
  room_options.beep_on_join = true;
  room_options.beep_on_leave = true;
  room_options.end_when = mrf::ConferenceEndWhen::last_moderator_leaves;
  auto conference = co_await server->async_create_conference(room, room_options, asio::use_awaitable);
  // Each member's handler tells what happens to that member while it is in (joined, talking).
  auto events = conference->on_event([room, me = call.endpoint->channel_id()](const mrf::ConferenceEvent& event) {
    if (event.channel_id == me) std::cout << "room " << room << ": " << mrf::to_string(event.kind) << " " << me << "\n";
  });

  mrf::JoinOptions join{.muted = false, .moderator = moderator};
  co_await conference->async_join(call.endpoint, join, asio::use_awaitable);

  // DTMF 1 toggles the member's own mute until the call ends.
  bool muted = false;
  try {
    for (;;) {
      auto digit = co_await call.endpoint->async_wait_dtmf(asio::use_awaitable);
      if (digit.digit != '1') continue;
      if (muted) {
        co_await conference->async_unmute(call.endpoint, asio::use_awaitable);
      } else {
        co_await conference->async_mute(call.endpoint, asio::use_awaitable);
      }
      muted = !muted;
    }
  } catch (const mrf::CallEnded&) {
    // The member hung up (or was kicked): the conference sees it leave.
    std::cout << "room " << room << ": " << call.endpoint->channel_id() << " hung up\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  return astmrf_example::run(
      astmrf_example::asterisk_options(argc, argv, 1),
      [](asio::io_context& ioc, srf::Srf& app, std::shared_ptr<mrf::MediaServer> server) {
        std::cout << "call sip:ROOM@127.0.0.1:5080 to join ROOM (sip:mod-ROOM@... to moderate it)\n";
        app.invite([&ioc, server](srf::Request req, srf::Response res) {
          asio::co_spawn(ioc, join_room(server, req, res), [](std::exception_ptr e) {
            if (e) std::cout << "call failed\n";  // the caller got an error status, or a BYE
          });
        });
      });
}
