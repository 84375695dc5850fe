#include "astmrf_test/prometheus.hpp"

#include "astmrf_test/process.hpp"

#include <astmrf/ari/request.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace astmrf_test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct Reply {
  unsigned status = 0;
  std::string body;
};

// One GET to 127.0.0.1:<port>, bounded by `timeout`; nothing when it could not be done.
std::optional<Reply> http_get(std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout,
                              std::string* error = nullptr) {
  asio::io_context io;
  std::optional<Reply> reply;
  boost::system::error_code failure;
  auto exchange = [&]() -> asio::awaitable<void> {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
    auto [cec] = co_await stream.async_connect(endpoint, tuple);
    if (cec) {
      failure = cec;
      co_return;
    }
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.keep_alive(false);
    auto [wec, wn] = co_await http::async_write(stream, req, tuple);
    if (wec) {
      failure = wec;
      co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, tuple);
    if (rec) {
      failure = rec;
      co_return;
    }
    reply = Reply{parser.get().result_int(), parser.get().body()};
  };
  asio::co_spawn(io, exchange, asio::detached);
  io.run();
  if (!reply && error != nullptr) *error = failure.message();
  return reply;
}

std::string percent_encode(const std::string& text) {
  std::string out;
  astmrf::ari::append_encoded(out, text);  // the same RFC 3986 encoding as ARI query strings
  return out;
}

// A sample value as the API gives it: [ <time>, "<value>" ].
double sample_value(const json::value& pair) {
  const auto& text = pair.as_array().at(1).as_string();
  return std::strtod(std::string(text).c_str(), nullptr);  // "NaN", "+Inf" included
}

std::filesystem::path make_temp_dir() {
  std::string path = (std::filesystem::temp_directory_path() / "astmrf-prometheus-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr) throw std::runtime_error("prometheus: mkdtemp failed");
  return path;
}

}  // namespace

PrometheusServer::PrometheusServer(std::uint16_t port, std::vector<std::string> targets,
                                   std::chrono::milliseconds ready_timeout)
    : port_(port), dir_(make_temp_dir()) {
  try {
    std::filesystem::create_directory(data_dir());
    {
      // Nothing but the test's targets: no alerting, no rule_files, no remote_write, no self-scrape.
      std::ofstream config(config_file());
      config << "global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: "
             << kJob
             << "\n"
                "    static_configs:\n"
                "      - targets: [";
      for (std::size_t i = 0; i < targets.size(); ++i) config << (i > 0 ? ", " : "") << "'" << targets[i] << "'";
      config << "]\n";
      if (!config) throw std::runtime_error("prometheus: cannot write " + config_file().string());
    }
    process_ = std::make_unique<Process>(std::vector<std::string>{
        kBinary, "--config.file=" + config_file().string(), "--storage.tsdb.path=" + data_dir().string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port), "--web.enable-lifecycle"});
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    for (;;) {
      if (!process_->running()) {
        throw std::runtime_error("prometheus exited before it was ready:\n" + process_->output());
      }
      auto reply = http_get(port_, "/-/ready", std::chrono::seconds(2));
      if (reply && reply->status == 200) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("prometheus not ready on 127.0.0.1:" + std::to_string(port) + " after " +
                                 std::to_string(ready_timeout.count()) + " ms:\n" + process_->output());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (...) {
    stop();
    throw;
  }
}

PrometheusServer::~PrometheusServer() { stop(); }

bool PrometheusServer::running() const { return process_ && process_->running(); }

std::string PrometheusServer::output() const { return process_ ? process_->output() : last_output_; }

void PrometheusServer::stop() {
  if (process_) {
    if (process_->running()) ::kill(process_->pid(), SIGTERM);
    auto result = process_->wait(std::chrono::seconds(5));  // SIGKILL after that
    last_output_ = result.output;
    process_.reset();
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

double PrometheusServer::query(const std::string& promql) const {
  std::string error;
  auto reply = http_get(port_, "/api/v1/query?query=" + percent_encode(promql), std::chrono::seconds(10), &error);
  if (!reply) throw std::runtime_error("prometheus: query '" + promql + "' failed: " + error);
  json::value doc;
  try {
    doc = json::parse(reply->body);
  } catch (const std::exception& e) {
    throw std::runtime_error("prometheus: query '" + promql + "': not JSON (HTTP " + std::to_string(reply->status) +
                             "): " + reply->body);
  }
  const auto& o = doc.as_object();
  if (o.at("status").as_string() != "success") {
    throw std::runtime_error("prometheus: query '" + promql + "' refused (HTTP " + std::to_string(reply->status) +
                             "): " + json::serialize(doc));
  }
  const auto& data = o.at("data").as_object();
  const auto& type = data.at("resultType").as_string();
  if (type == "scalar") return sample_value(data.at("result"));
  if (type != "vector") throw std::runtime_error("prometheus: query '" + promql + "' gave a " + std::string(type));
  const auto& result = data.at("result").as_array();
  if (result.empty()) return std::nan("");
  return sample_value(result.at(0).as_object().at("value"));
}

bool PrometheusServer::wait_for(const std::string& promql, const std::function<bool(double)>& predicate,
                                std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate(query(promql))) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace astmrf_test
