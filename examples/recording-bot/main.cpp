// recording-bot: every call to sip:anyone@127.0.0.1:5080 is answered (connect_caller) and gets
// a live audio stream of the caller's side only (StreamDirection::in); its frames are written to
// recording-<channel id>.wav in the current directory (audio::WavWriter, at the stream's rate)
// until the caller hangs up, and the file's path and duration are printed.
//
//   ARI_PASSWORD=secret example-recording-bot [TRANSPORT[:FORMAT]] [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
//
// TRANSPORT is rtp, websocket (default) or audiosocket; FORMAT slin16 (default; ulaw for rtp, slin for
// audiosocket), slin, ulaw or alaw. Against a sandbox (docs/streams.md, "Running the examples"):
//
//   scripts/asterisk-sandbox up --name demo --sip-port 25560 --ari-port 28588 --ari-user astmrf --ari-password s
//   ARI_PASSWORD=s build/release/examples/recording-bot/example-recording-bot websocket astmrf 28588 25560
//   sipp -sf tests/integration/sipp/rtp-caller-bye.xml -m 1 -s rec -key rtp_port 40000
//        -key direction sendrecv -key hangup_after_ms 5000 127.0.0.1:5080
//
// (an RTP peer of yours on 127.0.0.1:40000 sends the audio; the file holds about 5 s).
#include "example_app.hpp"

#include <astmrf/mrf/audio.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <vector>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace audio = astmrf::mrf::audio;

namespace {

asio::awaitable<void> record(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res,
                             mrf::StreamOptions stream_options) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto call = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  stream_options.direction = mrf::StreamDirection::in;  // nothing goes back to the caller
  auto stream = co_await call.endpoint->async_open_stream(stream_options, asio::use_awaitable);

  // Named by the Asterisk channel: unique, and safe in a file name (the Call-ID may not be).
  const auto path = std::filesystem::absolute("recording-" + call.endpoint->channel_id() + ".wav");
  audio::WavWriter wav(path, stream->sample_rate());
  std::cout << "recording " << req.call_id() << " (" << mrf::to_string(stream_options.transport) << " "
            << mrf::to_string(stream_options.format) << ") to " << path.string() << "\n";

  const std::vector<std::int16_t> silence(stream->frame_samples(), 0);
  for (;;) {
    mrf::AudioFrame frame;
    try {
      frame = co_await stream->async_read(asio::use_awaitable);
    } catch (const mrf::StreamClosed&) {
      break;  // the caller hung up (call_ended): every frame received has been read
    }
    // A lost frame is recorded as silence, so the file keeps the call's timing.
    for (std::uint32_t i = 0; i < frame.lost_before; ++i) wav.write(silence);
    wav.write(frame.samples);
  }
  wav.close();

  const double seconds = static_cast<double>(wav.samples_written()) / stream->sample_rate();
  const auto stats = stream->stats();
  std::cout << "recorded " << path.string() << ": " << std::fixed << std::setprecision(2) << seconds << " s at "
            << stream->sample_rate() << " Hz (" << stats.frames_in << " frames, " << stats.lost << " lost; stream "
            << mrf::to_string(stream->end_reason().value_or(mrf::StreamEnd::closed)) << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  return astmrf_example::run_stream_bot(
      argc, argv, "call sip:anyone@127.0.0.1:5080: your side of the call is recorded to a WAV file", record);
}
