// Event decode + dispatch throughput on one core, over event streams recorded from a real
// Asterisk (../shared/fixtures/asterisk). Every message goes through Client::dispatch_message,
// the same entry point the WebSocket uses: JSON parse, type lookup, resource references,
// global handler, per-resource hash-map dispatch, terminal-event expiry.
#include <astmrf/ari/ari.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace {

namespace ari = astmrf::ari;

std::vector<std::string> load_events(const std::string& file) {
  std::ifstream in(std::string(ASTMRF_FIXTURES_DIR) + "/asterisk/" + file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto v = boost::json::parse(line);
    if (const auto* e = v.as_object().if_contains("event")) out.push_back(boost::json::serialize(*e));
  }
  return out;
}

// The recorded streams: the app's own socket of two calls, the subscribeAll observer of the same
// calls and the REST probe session (105 events, 0.3 to 2.2 KB each).
std::vector<std::string> corpus() {
  std::vector<std::string> all;
  for (const char* f : {"scenario-caller-hangup.events.jsonl", "scenario-ari-hangup.events.jsonl",
                        "observer-subscribeall-caller-hangup.jsonl", "rest-probes-live-channel.jsonl"}) {
    auto v = load_events(f);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

ari::ClientOptions quiet_options() {
  ari::ClientOptions o;
  o.url = "http://127.0.0.1:1";
  o.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  return o;
}

// Decode only (Event::parse).
void BM_EventParse(benchmark::State& state) {
  const auto events = corpus();
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const auto& text : events) {
      boost::system::error_code ec;
      auto e = ari::Event::parse(text, ec);
      benchmark::DoNotOptimize(e);
      bytes += text.size();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_EventParse);

// Decode + dispatch with a realistic registry: one global handler, one StasisStart handler and
// `range(0)` live channel subscriptions, of which the recorded channels are a part (they are
// re-subscribed when their StasisEnd expires them, as a new call would be).
void BM_DecodeDispatch(benchmark::State& state) {
  const auto events = corpus();
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), quiet_options());
  std::uint64_t seen = 0;
  std::uint64_t per_channel = 0;
  auto all = client.on_event([&](const ari::Event&) { ++seen; });
  auto starts = client.on_event(ari::EventType::stasis_start, [&](const ari::Event& e) {
    benchmark::DoNotOptimize(e.id(ari::ResourceKind::channel));
  });
  std::vector<ari::Subscription> subs;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    subs.push_back(client.subscribe(ari::ResourceKind::channel, "idle-" + std::to_string(i), [](const ari::Event&) {}));
  }
  std::vector<std::string> channel_ids;
  for (const auto& text : events) {
    boost::system::error_code ec;
    auto e = ari::Event::parse(text, ec);
    if (auto id = e.id(ari::ResourceKind::channel); !id.empty()) channel_ids.emplace_back(id);
  }
  std::sort(channel_ids.begin(), channel_ids.end());
  channel_ids.erase(std::unique(channel_ids.begin(), channel_ids.end()), channel_ids.end());
  std::vector<ari::Subscription> live;
  auto subscribe_recorded = [&] {
    live.clear();
    for (const auto& id : channel_ids) {
      live.push_back(client.subscribe(ari::ResourceKind::channel, id, [&](const ari::Event&) { ++per_channel; }));
    }
  };
  for (auto _ : state) {
    state.PauseTiming();
    subscribe_recorded();
    state.ResumeTiming();
    for (const auto& text : events) client.dispatch_message(text);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events.size()));
  state.counters["per_channel_calls"] = static_cast<double>(per_channel);
  if (seen == 0) state.SkipWithError("no event dispatched");
}
BENCHMARK(BM_DecodeDispatch)->Arg(0)->Arg(1000)->Arg(10000);

// Typed view on demand (what an app does for StasisStart).
void BM_TypedStasisStart(benchmark::State& state) {
  std::ifstream in(std::string(ASTMRF_FIXTURES_DIR) + "/asterisk/stasis-start.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto text = boost::json::serialize(boost::json::parse(ss.str()));
  boost::system::error_code ec;
  const auto e = ari::Event::parse(text, ec);
  for (auto _ : state) {
    auto s = e.as<ari::StasisStart>();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TypedStasisStart);

}  // namespace

BENCHMARK_MAIN();
