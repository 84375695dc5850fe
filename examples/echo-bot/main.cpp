// echo-bot: every call to sip:anyone@127.0.0.1:5080 is answered (connect_caller) and gets a live
// audio stream (MediaStream); the caller hears themself 1 s later: each 20 ms frame read goes
// into a delay line of 50 frames and the frame read 50 frames earlier is written. Until the
// caller hangs up.
//
//   ARI_PASSWORD=secret example-echo-bot [TRANSPORT[:FORMAT]] [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
//
// TRANSPORT is rtp, websocket (default) or audiosocket; FORMAT slin16 (default; ulaw for rtp, slin for
// audiosocket), slin, ulaw or alaw. Against a sandbox (docs/streams.md, "Running the examples"):
//
//   scripts/asterisk-sandbox up --name demo --sip-port 25560 --ari-port 28588 --ari-user astmrf --ari-password s
//   ARI_PASSWORD=s build/release/examples/echo-bot/example-echo-bot websocket astmrf 28588 25560
//   sipp -sf tests/integration/sipp/rtp-caller-bye.xml -m 1 -s echo -key rtp_port 40000
//        -key direction sendrecv -key hangup_after_ms 5000 127.0.0.1:5080
//
// (an RTP peer of yours on 127.0.0.1:40000 sends audio and hears it back 1 s later).
#include "example_app.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <deque>
#include <iostream>
#include <vector>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

constexpr std::size_t kDelayFrames = 50;  // 50 × 20 ms = 1 s

asio::awaitable<void> echo(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res,
                           mrf::StreamOptions stream_options) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto call = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  auto stream = co_await call.endpoint->async_open_stream(stream_options, asio::use_awaitable);
  const std::string call_id(req.call_id());
  std::cout << "call " << call_id << ": " << mrf::to_string(stream_options.transport) << " "
            << mrf::to_string(stream_options.format) << " stream " << stream->channel_id() << " open\n";

  // The delay line counts frames, not arrivals: a lost frame takes its place as silence, so the
  // caller hears the rest exactly 1 s late.
  std::deque<std::vector<std::int16_t>> delay;
  std::exception_ptr ended;
  for (;;) {
    mrf::AudioFrame frame;
    try {
      frame = co_await stream->async_read(asio::use_awaitable);
    } catch (const mrf::StreamClosed&) {
      break;  // the caller hung up (call_ended), or the stream ended otherwise
    } catch (...) {
      ended = std::current_exception();
      break;
    }
    for (std::uint32_t i = 0; i < frame.lost_before; ++i) delay.emplace_back(stream->frame_samples(), 0);
    delay.push_back(std::move(frame.samples));
    while (delay.size() > kDelayFrames) {
      stream->write(delay.front());
      delay.pop_front();
    }
  }

  const auto reason = stream->end_reason().value_or(mrf::StreamEnd::closed);
  const auto stats = stream->stats();
  std::cout << "call " << call_id << ": stream ended (" << mrf::to_string(reason) << "), " << stats.frames_in
            << " frames in, " << stats.frames_out << " out (" << stats.fill_frames_out << " fill), " << stats.lost
            << " lost, " << stats.late_ticks << " late ticks\n";
  if (ended) std::rethrow_exception(ended);
}

}  // namespace

int main(int argc, char** argv) {
  return astmrf_example::run_stream_bot(argc, argv, "call sip:anyone@127.0.0.1:5080: you hear yourself 1 s later",
                                        echo);
}
