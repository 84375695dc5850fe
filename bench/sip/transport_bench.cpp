// Calls per second and CPU per call of the embedded engine over each transport, engine to
// engine on 127.0.0.1 (issue 20; not a timed test). One thread runs both engines: a UAC that
// keeps `window` calls going (INVITE with SDP, 200, ACK, BYE, 200) and a UAS that answers
// them, so the CPU per call is both sides' work. TLS calls go over one connection (reused
// per destination); the handshake is measured on its own: fresh connections with the same
// contexts the engine makes (util::make_{server,client}_tls_context), server and client
// handshakes on the same thread.
//
//   astmrf-transport-bench --cert C --key K --ca CA [--transports udp,tls] [--calls 20000]
//                          [--window 50] [--handshakes 500]
// scripts/bench-transports makes a test CA and runs it.
#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace sip = astmrf::sip;
using asio::ip::tcp;

const std::string kSdp =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 39998 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Options {
  std::string cert, key, ca;
  std::vector<std::string> transports{"udp", "tls"};
  int calls{20000};
  int window{50};
  int handshakes{500};
};

struct Result {
  double seconds{0};
  double cpu{0};
  int completed{0};
  int failed{0};
  int timed_out{0};  // handshakes
};

sip::EngineConfig engine_config(const Options& o, sip::Transport transport) {
  sip::EngineConfig c;
  sip::ListenPoint point{transport, "127.0.0.1", 0};
  point.tls.certificate_file = o.cert;
  point.tls.key_file = o.key;
  c.listen = {point};
  c.tls_client.ca_file = o.ca;
  c.tls_client.use_default_verify_paths = false;
  return c;
}

// The UAC side: keeps `window` calls up until `calls` are done.
class Caller {
 public:
  Caller(sip::Engine& engine, std::string uri, int calls, Result& result)
      : engine_(engine), uri_(std::move(uri)), remaining_(calls), result_(result) {}

  void start(int window) {
    for (int i = 0; i < window; ++i) next();
  }

 private:
  void next() {
    if (remaining_ == 0) return;
    --remaining_;
    sip::RequestSpec invite;
    invite.uri = uri_;
    invite.content_type = "application/sdp";
    invite.body = kSdp;
    engine_.send_request(invite, [this](const sip::Message& response, const std::shared_ptr<sip::Dialog>& dialog) {
      if (response.status() < 200) return;
      if (!dialog) {
        ++result_.failed;
        return next();
      }
      dialog->on_end([this](sip::DialogEndReason) {
        ++result_.completed;
        next();
      });
      dialog->bye();
    });
  }

  sip::Engine& engine_;
  std::string uri_;
  int remaining_;
  Result& result_;
};

Result run_calls(const Options& o, sip::Transport transport) {
  asio::io_context ioc;
  sip::Engine uas(ioc.get_executor(), engine_config(o, transport));
  sip::Engine uac(ioc.get_executor(), engine_config(o, transport));
  uas.start();
  uac.start();
  uas.on_request([](const std::shared_ptr<sip::IncomingRequest>& req) {
    if (req->message().method() == "INVITE")
      req->respond({200, "OK", {}, "application/sdp", kSdp});
    else
      req->respond({200, "OK", {}, {}, {}});
  });
  const auto to = uas.local_address(transport);
  const std::string uri =
      "sip:bench@127.0.0.1:" + std::to_string(to.port) + ";transport=" + std::string(sip::uri_param(transport));
  Result result;
  Caller caller(uac, uri, o.calls, result);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  caller.start(o.window);
  // A call the engine loses would show as a stall: give up after 60 s without progress.
  auto last_progress = std::chrono::steady_clock::now();
  int last_done = 0;
  while (result.completed + result.failed < o.calls) {
    ioc.run_one_for(std::chrono::milliseconds(100));
    const int done = result.completed + result.failed;
    if (done != last_done) {
      last_done = done;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(60)) {
      const auto a = uac.stats();
      const auto b = uas.stats();
      std::fprintf(stderr,
                   "%s: stalled after %d calls (uac: %zu client transactions, %zu dialogs; uas: %zu server "
                   "transactions, %zu dialogs)\n",
                   std::string(sip::uri_param(transport)).c_str(), done, a.client_transactions, a.dialogs,
                   b.server_transactions, b.dialogs);
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu = cpu_seconds() - cpu_start;
  ioc.run_for(std::chrono::milliseconds(300));  // the last BYEs' 200s (not measured)
  uac.stop();
  uas.stop();
  ioc.poll();
  return result;
}

// `count` TLS handshakes over fresh loopback connections, one at a time, both ends here.
Result run_handshakes(const Options& o, int count) {
  asio::io_context ioc;
  astmrf::util::TlsServerOptions server_options;
  server_options.certificate_file = o.cert;
  server_options.key_file = o.key;
  auto server_ctx = astmrf::util::make_server_tls_context(server_options);
  astmrf::util::TlsOptions client_options;
  client_options.ca_file = o.ca;
  client_options.use_default_verify_paths = false;
  auto client_ctx = astmrf::util::make_client_tls_context(client_options);
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  Result result;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  for (int i = 0; i < count; ++i) {
    ioc.restart();  // the last iteration ran out of work: the context stopped
    asio::ssl::stream<tcp::socket> client(ioc, *client_ctx);
    client.lowest_layer().connect(acceptor.local_endpoint());
    asio::ssl::stream<tcp::socket> server(acceptor.accept(), *server_ctx);
    if (astmrf::util::prepare_tls_client(client, client_options, "127.0.0.1")) ++result.failed;
    int done = 0;
    bool ok = true;
    server.async_handshake(asio::ssl::stream_base::server, [&](boost::system::error_code ec) {
      ok = ok && !ec;
      ++done;
    });
    client.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code ec) {
      ok = ok && !ec;
      ++done;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (done < 2 && std::chrono::steady_clock::now() < deadline) ioc.run_one_for(std::chrono::milliseconds(100));
    if (done < 2) {
      ++result.timed_out;
      boost::system::error_code ignored;
      client.lowest_layer().close(ignored);
      server.lowest_layer().close(ignored);
      ioc.restart();
      while (done < 2) ioc.run_one();  // the aborted handshakes complete
      ok = false;
    }
    ok ? ++result.completed : ++result.failed;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu = cpu_seconds() - cpu_start;
  return result;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);  // the engines' warnings are not the bench's output
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const std::string value = argv[i + 1];
    if (name == "--cert")
      o.cert = value;
    else if (name == "--key")
      o.key = value;
    else if (name == "--ca")
      o.ca = value;
    else if (name == "--transports")
      o.transports = split(value);
    else if (name == "--calls")
      o.calls = std::stoi(value);
    else if (name == "--window")
      o.window = std::stoi(value);
    else if (name == "--handshakes")
      o.handshakes = std::stoi(value);
    else {
      std::cerr << "unknown option " << name << "\n";
      return 2;
    }
  }
  if (o.cert.empty() || o.key.empty() || o.ca.empty()) {
    std::cerr << "usage: astmrf-transport-bench --cert C --key K --ca CA [--transports udp,tls] [--calls N] "
                 "[--window W] [--handshakes H]\n";
    return 2;
  }
  std::printf("%-10s %8s %8s %10s %14s %8s\n", "transport", "calls", "failed", "calls/s", "CPU us/call", "seconds");
  for (const auto& name : o.transports) {
    auto transport = sip::transport_from_name(name);
    if (!transport || *transport == sip::Transport::ws || *transport == sip::Transport::wss) {
      std::cerr << "transport " << name << ": not in this bench yet\n";
      continue;
    }
    auto r = run_calls(o, *transport);
    std::printf("%-10s %8d %8d %10.0f %14.1f %8.2f\n", name.c_str(), r.completed, r.failed, r.completed / r.seconds,
                r.cpu / r.completed * 1e6, r.seconds);
    std::fflush(stdout);
  }
  if (o.handshakes > 0) {
    auto h = run_handshakes(o, o.handshakes);
    std::printf("%-10s %8d %8d %10.0f %14.1f %8.2f   (TLS handshakes/s; CPU per handshake, both ends)\n", "handshake",
                h.completed, h.failed, h.completed / h.seconds, h.cpu / h.completed * 1e6, h.seconds);
  }
  return 0;
}
