// speaking-bot: every call to sip:anyone@127.0.0.1:5080 is answered (connect_caller) and gets a
// live audio stream (MediaStream). The bot greets the caller, then answers each DTMF digit and
// each start of speech (audio::EnergyVad over the frames read) with a sentence synthesized by a
// local TTS engine (flite, else espeak-ng; nothing from the network), resampled to the stream's
// rate and written to the stream. Barge-in: when the caller starts speaking while the bot talks,
// the bot's queued audio is flushed at once.
//
//   ARI_PASSWORD=secret example-speaking-bot [TRANSPORT[:FORMAT]] [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
//
// TRANSPORT is rtp, websocket (default) or audiosocket; FORMAT slin16 (default; ulaw for rtp, slin for
// audiosocket), slin, ulaw or alaw. Needs flite or espeak-ng on PATH (scripts/setup-deps installs
// them). Against a sandbox (docs/streams.md, "Running the examples"):
//
//   scripts/asterisk-sandbox up --name demo --sip-port 25560 --ari-port 28588 --ari-user astmrf --ari-password s
//   ARI_PASSWORD=s build/release/examples/speaking-bot/example-speaking-bot websocket astmrf 28588 25560
//   sipp -sf tests/integration/sipp/rtp-caller-bye.xml -m 1 -s bot -key rtp_port 40000
//        -key direction sendrecv -key hangup_after_ms 8000 127.0.0.1:5080
//
// (an RTP peer of yours on 127.0.0.1:40000 hears the greeting; a softphone can press keys).
#include "example_app.hpp"

#include <astmrf/mrf/audio.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace audio = astmrf::mrf::audio;
using namespace std::chrono_literals;

namespace {

// Runs `args` as a child process (stdin, stdout and stderr on /dev/null) and completes with its
// exit status, or -1 if it could not be started or died of a signal.
//
// Why this is safe on the executor: posix_spawnp starts the child without running any of our code
// between fork and exec (glibc uses a vfork-like clone and reports exec failures, e.g. ENOENT, as
// its result), so it is fine in a process with other threads and costs no more than a fork. The
// wait does not block: a pidfd (Linux 5.3+) becomes readable when the child exits and Asio waits
// for that like for any socket; only then is the child reaped, by its own pid (waitpid(pid)), so
// other children of the process are not touched and no SIGCHLD handler is installed. Without
// pidfd_open (older kernels) a 20 ms timer polls waitpid(pid, WNOHANG). No thread is started.
asio::awaitable<int> run_child(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) co_return -1;

  auto executor = co_await asio::this_coro::executor;
  int status = 0;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    asio::posix::stream_descriptor exited(executor, pidfd);  // closes the pidfd
    co_await exited.async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable);
    ::waitpid(pid, &status, 0);  // it has exited: this returns at once
  } else {
    asio::steady_timer poll(executor);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      poll.expires_after(20ms);
      co_await poll.async_wait(asio::use_awaitable);
    }
  }
  co_return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `text` spoken by flite, else espeak-ng, as a WAV file read back (then removed).
asio::awaitable<audio::Wav> synthesize(std::string text, std::filesystem::path file) {
  std::vector<std::string> flite{"flite", "-t", text, "-o", file.string()};
  int status = co_await run_child(std::move(flite));
  if (status != 0) {
    std::vector<std::string> espeak{"espeak-ng", "-w", file.string(), text};
    status = co_await run_child(std::move(espeak));
  }
  if (status != 0) throw std::runtime_error("no TTS engine worked: install flite or espeak-ng");
  auto wav = audio::read_wav(file);
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
  co_return wav;
}

// What a call's replies share.
struct Conversation {
  std::weak_ptr<mrf::MediaStream> stream;
  std::string name;           // the call's, for file names and output
  unsigned replies{0};        // numbers the TTS files
  unsigned interruptions{0};  // barge-ins so far: a reply synthesized before one is not played
};

// Synthesizes `text` and queues it on the stream (which paces it out in 20 ms frames).
asio::awaitable<void> say(std::shared_ptr<Conversation> talk, std::string text) {
  const auto started = std::chrono::steady_clock::now();
  const unsigned interruptions = talk->interruptions;
  const auto file = std::filesystem::temp_directory_path() /
                    ("astmrf-tts-" + talk->name + "-" + std::to_string(++talk->replies) + ".wav");
  auto wav = co_await synthesize(text, file);
  auto stream = talk->stream.lock();
  if (!stream || stream->closed()) co_return;  // the caller has gone
  if (talk->interruptions != interruptions) {
    std::cout << talk->name << ": not saying \"" << text << "\" (the caller spoke meanwhile)\n";
    co_return;
  }
  auto samples = wav.sample_rate == stream->sample_rate()
                     ? std::move(wav.samples)
                     : audio::resample(wav.samples, wav.sample_rate, stream->sample_rate());
  stream->write(samples);
  const auto tts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::cout << talk->name << ": saying \"" << text << "\": " << samples.size() * 1000 / stream->sample_rate()
            << " ms of audio (" << wav.sample_rate << " Hz from the TTS, " << stream->sample_rate()
            << " Hz on the stream), synthesized in " << tts_ms.count() << " ms\n";
}

void start_saying(const asio::any_io_executor& executor, std::shared_ptr<Conversation> talk, std::string text) {
  asio::co_spawn(executor, say(talk, std::move(text)), [name = talk->name](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      std::cout << name << ": cannot speak: " << error.what() << "\n";
    }
  });
}

asio::awaitable<void> converse(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res,
                               mrf::StreamOptions stream_options) {
  mrf::ConnectCallerOptions caller_options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto call = co_await server->async_connect_caller(req, res, caller_options, asio::use_awaitable);
  auto stream = co_await call.endpoint->async_open_stream(stream_options, asio::use_awaitable);
  auto executor = co_await asio::this_coro::executor;

  auto talk = std::make_shared<Conversation>();
  talk->stream = stream;  // weak: the replies do not keep the stream open
  talk->name = "call-" + call.endpoint->channel_id();
  std::cout << talk->name << ": " << mrf::to_string(stream_options.transport) << " "
            << mrf::to_string(stream_options.format) << " stream open\n";

  start_saying(executor, talk, "Hello. Press a key, or say something.");
  auto dtmf = stream->on_dtmf([executor, talk](const mrf::DtmfEvent& event) {
    std::cout << talk->name << ": DTMF " << event.digit << "\n";
    start_saying(executor, talk, std::string("You pressed ") + event.digit + ".");
  });

  audio::EnergyVad vad(stream->sample_rate());
  for (;;) {
    mrf::AudioFrame frame;
    try {
      frame = co_await stream->async_read(asio::use_awaitable);
    } catch (const mrf::StreamClosed&) {
      break;  // the caller hung up
    }
    if (vad.push(frame.samples) != audio::VadEvent::speech_started) continue;
    // Barge-in: the caller speaks over the bot, which stops at once (the next frame out is fill).
    if (stream->stats().queued_out_samples > 0) {
      stream->flush();
      ++talk->interruptions;
      std::cout << talk->name << ": barge-in, the bot stops talking\n";
    }
    std::cout << talk->name << ": speech started\n";
    start_saying(executor, talk, "I am listening.");
  }

  const auto stats = stream->stats();
  std::cout << talk->name << ": stream ended (" << mrf::to_string(stream->end_reason().value_or(mrf::StreamEnd::closed))
            << "), " << stats.frames_in << " frames in, " << stats.frames_out << " out ("
            << stats.frames_out - stats.fill_frames_out << " of speech), " << talk->replies << " replies\n";
}

}  // namespace

int main(int argc, char** argv) {
  return astmrf_example::run_stream_bot(
      argc, argv, "call sip:anyone@127.0.0.1:5080: the bot greets you and answers keys and speech", converse);
}
