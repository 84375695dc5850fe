// astmrf::sip parser throughput on the corpus. One iteration parses every
// corpus message once; items_per_second is messages per second.
#include "corpus.hpp"

#include <astmrf/sip/parser.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>

namespace {

const std::vector<std::string>& corpus() {
  static const auto c = astmrf_bench::load_corpus(astmrf_bench::corpus_dir());
  return c;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void BM_Parse(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = astmrf::sip::parse_message(text);
      check(m.has_value());
      benchmark::DoNotOptimize(m);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

// What a UA reads from nearly every message: top Via branch, From/To tags,
// CSeq, Call-ID, Max-Forwards and the Contact URI when present.
void BM_ParseAccess(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = astmrf::sip::parse_message(text);
      check(m.has_value());
      auto via = m->top_via();
      auto from = m->from();
      auto to = m->to();
      auto cseq = m->cseq();
      check(via && from && to && cseq);
      benchmark::DoNotOptimize(via->branch);
      benchmark::DoNotOptimize(from->tag);
      benchmark::DoNotOptimize(to->tag);
      benchmark::DoNotOptimize(cseq->number);
      benchmark::DoNotOptimize(m->call_id());
      if (m->is_request()) {
        auto mf = m->max_forwards();
        benchmark::DoNotOptimize(mf);
      }
      if (m->has(astmrf::sip::HeaderId::contact)) {
        auto c = m->contacts();
        check(c.has_value());
        benchmark::DoNotOptimize(c->contacts.front().uri.host);
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

void BM_ParseSerialize(benchmark::State& state) {
  const auto& msgs = corpus();
  std::string out;
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = astmrf::sip::parse_message(text);
      check(m.has_value());
      out.clear();
      m->serialize_to(out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

}  // namespace

BENCHMARK(BM_Parse);
BENCHMARK(BM_ParseAccess);
BENCHMARK(BM_ParseSerialize);
BENCHMARK_MAIN();
