// The engine's metric children: method labels, status classes, lazily made once.
#include "sip/engine/engine_metrics.hpp"

#include <gtest/gtest.h>

namespace {

using astmrf::sip::MethodId;
using astmrf::sip::detail::EngineMetrics;
using astmrf::sip::detail::method_label;
using astmrf::util::metrics::Registry;

TEST(EngineMetrics, MethodLabelsAreTheKnownMethodsOrOther) {
  EXPECT_EQ(method_label(MethodId::invite), "INVITE");
  EXPECT_EQ(method_label(MethodId::register_), "REGISTER");
  EXPECT_EQ(method_label(MethodId::update), "UPDATE");
  EXPECT_EQ(method_label(MethodId::unknown), "other");
  for (int i = 0; i < static_cast<int>(EngineMetrics::kMethods); ++i) {
    EXPECT_FALSE(method_label(static_cast<MethodId>(i)).empty());
  }
}

TEST(EngineMetrics, CountsByMethodAndClass) {
  Registry registry;
  EngineMetrics metrics(registry);
  metrics.request_received(MethodId::invite);
  metrics.request_received(MethodId::invite);
  metrics.request_received(MethodId::unknown);
  metrics.response_sent(MethodId::invite, 100);
  metrics.response_sent(MethodId::invite, 486);
  metrics.response_sent(MethodId::bye, 200);
  metrics.response_received(MethodId::options, 603);
  metrics.dropped(EngineMetrics::Drop::stray_response);
  auto value = [&](const std::string& name, std::vector<std::string> labels, std::vector<std::string> values) {
    return registry.counter(name, "", std::move(labels)).with(std::move(values))->value();
  };
  EXPECT_EQ(value("astmrf_sip_requests_received_total", {"method"}, {"INVITE"}), 2u);
  EXPECT_EQ(value("astmrf_sip_requests_received_total", {"method"}, {"other"}), 1u);
  EXPECT_EQ(value("astmrf_sip_responses_sent_total", {"method", "class"}, {"INVITE", "1xx"}), 1u);
  EXPECT_EQ(value("astmrf_sip_responses_sent_total", {"method", "class"}, {"INVITE", "4xx"}), 1u);
  EXPECT_EQ(value("astmrf_sip_responses_sent_total", {"method", "class"}, {"BYE", "2xx"}), 1u);
  EXPECT_EQ(value("astmrf_sip_responses_received_total", {"method", "class"}, {"OPTIONS", "6xx"}), 1u);
  EXPECT_EQ(value("astmrf_sip_messages_dropped_total", {"reason"}, {"stray_response"}), 1u);
  // Only the children in use are exposed (plus the fixed ones made at construction).
  auto text = registry.expose();
  EXPECT_NE(text.find("astmrf_sip_requests_received_total{method=\"INVITE\"} 2"), std::string::npos) << text;
  EXPECT_EQ(text.find("method=\"PRACK\""), std::string::npos) << text;
  EXPECT_NE(text.find("astmrf_sip_transactions{kind=\"server\"} 0"), std::string::npos) << text;
}

}  // namespace
