// sofia-sip-ua (the SIP stack inside drachtio-server and FreeSWITCH) on the
// same corpus, measured the same way as sip_bench.cpp. msg_make() copies the
// text and parses every header it knows into its C structures.
#include "corpus.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

namespace {

const std::vector<std::string>& corpus() {
  static const auto c = astmrf_bench::load_corpus(astmrf_bench::corpus_dir());
  return c;
}

msg_t* parse(const std::string& text) {
  msg_t* msg = msg_make(sip_default_mclass(), 0, text.data(), static_cast<ssize_t>(text.size()));
  if (msg == nullptr || msg_has_error(msg)) std::abort();
  return msg;
}

void BM_Parse(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      msg_t* msg = parse(text);
      benchmark::DoNotOptimize(msg);
      msg_destroy(msg);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

void BM_ParseAccess(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      msg_t* msg = parse(text);
      sip_t* sip = sip_object(msg);
      if (sip->sip_via == nullptr || sip->sip_from == nullptr || sip->sip_to == nullptr || sip->sip_cseq == nullptr)
        std::abort();
      benchmark::DoNotOptimize(sip->sip_via->v_branch);
      benchmark::DoNotOptimize(sip->sip_from->a_tag);
      benchmark::DoNotOptimize(sip->sip_to->a_tag);
      benchmark::DoNotOptimize(sip->sip_cseq->cs_seq);
      benchmark::DoNotOptimize(sip->sip_call_id->i_id);
      if (sip->sip_max_forwards != nullptr) benchmark::DoNotOptimize(sip->sip_max_forwards->mf_count);
      if (sip->sip_contact != nullptr) benchmark::DoNotOptimize(sip->sip_contact->m_url->url_host);
      msg_destroy(msg);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

void BM_ParseSerialize(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      msg_t* msg = parse(text);
      size_t len = 0;
      char* s = msg_as_string(msg_home(msg), msg, nullptr, 0, &len);
      if (s == nullptr) std::abort();
      benchmark::DoNotOptimize(s);
      msg_destroy(msg);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * msgs.size()));
}

}  // namespace

BENCHMARK(BM_Parse);
BENCHMARK(BM_ParseAccess);
BENCHMARK(BM_ParseSerialize);
BENCHMARK_MAIN();
