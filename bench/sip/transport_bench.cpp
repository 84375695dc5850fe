// Calls per second and CPU per call of the embedded engine over each transport, engine to
// engine on 127.0.0.1 (issue 20; not a timed test). One thread runs both engines: a UAC that
// keeps `window` calls going (INVITE with SDP, 200, ACK, BYE, 200) and a UAS that answers
// them, so the CPU per call is both sides' work. TLS calls go over one connection (reused
// per destination); the handshake is measured on its own: fresh connections with the same
// contexts the engine makes (util::make_{server,client}_tls_context), server and client
// handshakes on the same thread.
//
// The engine does not dial WebSocket (only browsers do), so ws and wss calls come from a small
// scripted UA over Beast on the same thread, as a browser's SIP stack would send them: one
// connection, `window` calls at a time, no transaction layer of its own. Its CPU is part of the
// figure, so for a like-for-like ratio the same scripted UA also runs over plain TCP ("tcp-ua").
//
//   astmrf-transport-bench --cert C --key K --ca CA [--transports udp,tcp,tls,tcp-ua,ws,wss] [--calls 20000]
//                          [--window 50] [--handshakes 500]
// scripts/bench-transports makes a test CA and runs it.
#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace sip = astmrf::sip;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
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
  std::vector<std::string> transports{"udp", "tcp", "tls", "tcp-ua", "ws", "wss"};
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

// The UAS side: every INVITE gets 200 with SDP, everything else 200. Returns the URI to call.
std::string answer_every_call(sip::Engine& uas, sip::Transport transport) {
  uas.on_request([](const std::shared_ptr<sip::IncomingRequest>& req) {
    if (req->message().method() == "INVITE")
      req->respond({200, "OK", {}, "application/sdp", kSdp});
    else
      req->respond({200, "OK", {}, {}, {}});
  });
  return "sip:bench@127.0.0.1:" + std::to_string(uas.local_address(transport).port) +
         ";transport=" + std::string(sip::uri_param(transport));
}

// Runs `ioc` while `caller` keeps `window` calls going, until `calls` are done; a call the
// engine loses shows as a stall: it gives up after 60 s without progress and calls `on_stall`.
template <class Caller, class OnStall>
void drive(asio::io_context& ioc, const Options& o, Caller& caller, Result& result, OnStall on_stall) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  caller.start(o.window);
  auto last_progress = std::chrono::steady_clock::now();
  int last_done = 0;
  while (result.completed + result.failed < o.calls) {
    ioc.run_one_for(std::chrono::milliseconds(100));
    const int done = result.completed + result.failed;
    if (done != last_done) {
      last_done = done;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(60)) {
      on_stall(done);
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu = cpu_seconds() - cpu_start;
}

Result run_calls(const Options& o, sip::Transport transport) {
  asio::io_context ioc;
  sip::Engine uas(ioc.get_executor(), engine_config(o, transport));
  sip::Engine uac(ioc.get_executor(), engine_config(o, transport));
  uas.start();
  uac.start();
  const std::string uri = answer_every_call(uas, transport);
  Result result;
  Caller caller(uac, uri, o.calls, result);
  drive(ioc, o, caller, result, [&](int done) {
    const auto a = uac.stats();
    const auto b = uas.stats();
    std::fprintf(stderr,
                 "%s: stalled after %d calls (uac: %zu client transactions, %zu dialogs; uas: %zu server "
                 "transactions, %zu dialogs)\n",
                 std::string(sip::uri_param(transport)).c_str(), done, a.client_transactions, a.dialogs,
                 b.server_transactions, b.dialogs);
  });
  ioc.run_for(std::chrono::milliseconds(300));  // the last BYEs' 200s (not measured)
  uac.stop();
  uas.stop();
  ioc.poll();
  return result;
}

// ------------------------------------------------------------------ the scripted UA (ws, wss, tcp-ua)

// The value of header `name` ("To") in `message`, or empty.
std::string_view header_value(std::string_view message, std::string_view name) {
  for (std::size_t at = message.find("\r\n"); at != std::string_view::npos && at + 2 < message.size();) {
    const auto line_end = message.find("\r\n", at + 2);
    const auto line = message.substr(at + 2, line_end == std::string_view::npos ? line_end : line_end - at - 2);
    if (line.empty()) break;  // the blank line before the body
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(b); })) {
      auto value = line.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
    at = line_end;
  }
  return {};
}

// How the scripted UA's messages travel: a WebSocket message each, or Content-Length framing on
// a byte stream. `Stream` is a Beast websocket stream or a tcp_stream.
template <class Stream>
class UaTransport {
 public:
  explicit UaTransport(Stream& stream) : stream_(stream) {}

  template <class OnMessage>
  void start(OnMessage on_message) {
    on_message_ = std::move(on_message);
    read();
  }

  void send(std::string message) {
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) write();
  }

 private:
  static constexpr bool is_websocket = !std::is_same_v<Stream, beast::tcp_stream>;

  void write() {
    auto done = [this](beast::error_code ec, std::size_t) {
      if (ec) return fail(ec);
      queue_.pop_front();
      if (!queue_.empty()) write();
    };
    if constexpr (is_websocket)
      stream_.async_write(asio::buffer(queue_.front()), done);
    else
      asio::async_write(stream_, asio::buffer(queue_.front()), done);
  }

  void read() {
    if constexpr (is_websocket) {
      stream_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
        if (ec) return fail(ec);
        const auto data = buffer_.cdata();
        on_message_(std::string_view(static_cast<const char*>(data.data()), data.size()));
        buffer_.consume(buffer_.size());
        read();
      });
    } else {
      stream_.async_read_some(buffer_.prepare(65536), [this](beast::error_code ec, std::size_t n) {
        if (ec) return fail(ec);
        buffer_.commit(n);
        for (;;) {  // every whole message in the buffer
          const auto data = buffer_.cdata();
          const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
          const auto head_end = bytes.find("\r\n\r\n");
          if (head_end == std::string_view::npos) break;
          const auto length_text = header_value(bytes.substr(0, head_end + 2), "Content-Length");
          const std::size_t length = length_text.empty() ? 0 : std::stoul(std::string(length_text));
          const auto total = head_end + 4 + length;
          if (bytes.size() < total) break;
          on_message_(bytes.substr(0, total));
          buffer_.consume(total);
        }
        read();
      });
    }
  }

  void fail(beast::error_code ec) {
    if (ec != asio::error::operation_aborted && !failed_) std::fprintf(stderr, "ua: %s\n", ec.message().c_str());
    failed_ = true;
  }

  Stream& stream_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::function<void(std::string_view)> on_message_;
  bool failed_{false};
};

// Keeps `window` calls up over one connection: INVITE with SDP, 200, ACK, BYE, 200.
template <class Stream>
class ScriptedCaller {
 public:
  ScriptedCaller(Stream& stream, sip::Transport transport, std::string uri, int calls, Result& result)
      : transport_(stream),
        uri_(std::move(uri)),
        via_(sip::via_name(transport)),
        param_(sip::uri_param(transport)),
        remaining_(calls),
        result_(result) {}

  void start(int window) {
    transport_.start([this](std::string_view message) { on_message(message); });
    for (int i = 0; i < window; ++i) next();
  }

 private:
  std::string request(std::string_view method, const std::string& call_id, int cseq, std::string_view to_tag,
                      std::string_view body) {
    std::string m;
    m.reserve(512 + body.size());
    m.append(method).append(" ").append(uri_).append(" SIP/2.0\r\n");
    m.append("Via: SIP/2.0/").append(via_).append(" ua.invalid;branch=z9hG4bK").append(std::to_string(++branch_));
    m.append("\r\nMax-Forwards: 70\r\nFrom: <sip:ua@ua.invalid>;tag=").append(call_id);
    m.append("\r\nTo: <").append(uri_).append(">");
    if (!to_tag.empty()) m.append(";tag=").append(to_tag);
    m.append("\r\nCall-ID: ").append(call_id).append("\r\nCSeq: ").append(std::to_string(cseq)).append(" ");
    m.append(method).append("\r\n");
    if (method == "INVITE") m.append("Contact: <sip:ua@ua.invalid;transport=").append(param_).append(">\r\n");
    if (!body.empty()) m.append("Content-Type: application/sdp\r\n");
    m.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    return m;
  }

  void next() {
    if (remaining_ == 0) return;
    --remaining_;
    const auto call_id = "c" + std::to_string(++calls_started_);
    transport_.send(request("INVITE", call_id, 1, {}, kSdp));
  }

  void on_message(std::string_view message) {
    if (message.rfind("SIP/2.0 ", 0) != 0) return;  // the engine sends this UA no requests
    const int status = std::atoi(std::string(message.substr(8, 3)).c_str());
    if (status < 200) return;
    const std::string call_id(header_value(message, "Call-ID"));
    const auto cseq = header_value(message, "CSeq");
    if (cseq.ends_with("INVITE")) {
      if (status != 200) {
        ++result_.failed;
        return next();
      }
      auto to = header_value(message, "To");
      auto tag = to.substr(std::min(to.size(), to.find("tag=") + 4));
      tag = tag.substr(0, tag.find(';'));
      const std::string to_tag(tag);
      transport_.send(request("ACK", call_id, 1, to_tag, {}));
      transport_.send(request("BYE", call_id, 2, to_tag, {}));
    } else if (cseq.ends_with("BYE")) {
      status == 200 ? ++result_.completed : ++result_.failed;
      next();
    }
  }

  UaTransport<Stream> transport_;
  std::string uri_;
  std::string via_;
  std::string param_;
  int remaining_;
  Result& result_;
  std::uint64_t branch_{0};
  std::uint64_t calls_started_{0};
};

// Starts an operation with `start(handler)` and runs `ioc` until it completes; throws its error.
template <class Start>
void wait(asio::io_context& ioc, Start start) {
  std::optional<beast::error_code> result;
  start([&](beast::error_code ec) { result = ec; });
  while (!result) ioc.run_one();
  if (*result) throw boost::system::system_error(*result);
}

// `name`: ws, wss or tcp-ua. The connection (and for wss its TLS handshake, and the upgrade) is
// made before the clock starts, as a browser's would be long before its calls.
Result run_scripted_calls(const Options& o, const std::string& name) {
  const auto transport = name == "wss" ? sip::Transport::wss : name == "ws" ? sip::Transport::ws : sip::Transport::tcp;
  asio::io_context ioc;
  sip::Engine uas(ioc.get_executor(), engine_config(o, transport));
  uas.start();
  const std::string uri = answer_every_call(uas, transport);
  const auto to = uas.local_address(transport);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), to.port);
  Result result;
  auto stalled = [&](int done) { std::fprintf(stderr, "%s: stalled after %d calls\n", name.c_str(), done); };
  // Connected (and for wss past TLS): the upgrade offering `sip`, then the calls.
  auto call_over_websocket = [&](auto& ws) {
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::sec_websocket_protocol, "sip"); }));
    // The engine answers on this thread: every handshake step runs the context until it is done.
    const auto host = "127.0.0.1:" + std::to_string(to.port);
    wait(ioc, [&](auto done) { ws.async_handshake(host, "/", done); });
    ws.text(true);
    ScriptedCaller caller(ws, transport, uri, o.calls, result);
    drive(ioc, o, caller, result, stalled);
    beast::get_lowest_layer(ws).close();
  };
  if (transport == sip::Transport::ws) {
    websocket::stream<beast::tcp_stream> ws(ioc);
    ws.next_layer().connect(endpoint);
    ws.next_layer().socket().set_option(tcp::no_delay(true));
    call_over_websocket(ws);
  } else if (transport == sip::Transport::wss) {
    astmrf::util::TlsOptions client_options;
    client_options.ca_file = o.ca;
    client_options.use_default_verify_paths = false;
    auto ctx = astmrf::util::make_client_tls_context(client_options);
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, *ctx);
    beast::get_lowest_layer(ws).connect(endpoint);
    beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true));
    if (astmrf::util::prepare_tls_client(ws.next_layer(), client_options, "127.0.0.1")) ++result.failed;
    wait(ioc, [&](auto done) { ws.next_layer().async_handshake(asio::ssl::stream_base::client, done); });
    call_over_websocket(ws);
  } else {
    beast::tcp_stream stream(ioc);
    stream.connect(endpoint);
    stream.socket().set_option(tcp::no_delay(true));
    ScriptedCaller caller(stream, transport, uri, o.calls, result);
    drive(ioc, o, caller, result, stalled);
    stream.close();
  }
  ioc.run_for(std::chrono::milliseconds(300));
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
    std::cerr << "usage: astmrf-transport-bench --cert C --key K --ca CA [--transports udp,tcp,tls,tcp-ua,ws,wss] "
                 "[--calls N] "
                 "[--window W] [--handshakes H]\n";
    return 2;
  }
  int status = 0;  // 1 when a call failed or stalled: the smoke test's verdict
  std::printf("%-10s %8s %8s %10s %14s %8s\n", "transport", "calls", "failed", "calls/s", "CPU us/call", "seconds");
  for (const auto& name : o.transports) {
    auto transport = sip::transport_from_name(name);
    const bool scripted = name == "tcp-ua" || transport == sip::Transport::ws || transport == sip::Transport::wss;
    if (!transport && !scripted) {
      std::cerr << "transport " << name << ": unknown (udp, tcp, tls, ws, wss, tcp-ua)\n";
      status = 2;
      continue;
    }
    auto r = scripted ? run_scripted_calls(o, name) : run_calls(o, *transport);
    std::printf("%-10s %8d %8d %10.0f %14.1f %8.2f\n", name.c_str(), r.completed, r.failed, r.completed / r.seconds,
                r.cpu / r.completed * 1e6, r.seconds);
    if (r.failed > 0 || r.completed < o.calls) status = 1;
    std::fflush(stdout);
  }
  if (o.handshakes > 0) {
    auto h = run_handshakes(o, o.handshakes);
    std::printf("%-10s %8d %8d %10.0f %14.1f %8.2f   (TLS handshakes/s; CPU per handshake, both ends)\n", "handshake",
                h.completed, h.failed, h.completed / h.seconds, h.cpu / h.completed * 1e6, h.seconds);
    if (h.failed > 0 || h.timed_out > 0) status = 1;
  }
  return status;
}
