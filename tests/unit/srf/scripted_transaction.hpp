// A server transaction for srf unit tests: the request is given, the responses are recorded.
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/srf/backend.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace astmrf_test {

class ScriptedTransaction : public astmrf::srf::BackendServerTransaction {
 public:
  explicit ScriptedTransaction(astmrf::sip::Message m) : message_(std::move(m)) {}
  [[nodiscard]] const astmrf::sip::Message& message() const override { return message_; }
  [[nodiscard]] std::string source() const override { return "udp:127.0.0.1:5062"; }
  [[nodiscard]] bool cancelled() const override { return false; }
  [[nodiscard]] bool final_sent() const override { return final_sent_; }
  void on_cancel(std::function<void()>) override {}
  std::shared_ptr<astmrf::srf::BackendDialog> respond(astmrf::srf::ResponseSpec response) override {
    if (response.status >= 200) final_sent_ = true;
    responses.push_back(std::move(response));
    return nullptr;
  }
  [[nodiscard]] std::shared_ptr<astmrf::srf::BackendDialog> dialog() const override { return nullptr; }

  /// The last response's status (0: none yet).
  [[nodiscard]] int status() const { return responses.empty() ? 0 : responses.back().status; }
  /// The values of header `name` in the last response.
  [[nodiscard]] std::vector<std::string> headers(const std::string& name) const {
    std::vector<std::string> out;
    if (responses.empty()) return out;
    for (const auto& [n, v] : responses.back().headers)
      if (n == name) out.push_back(v);
    return out;
  }
  std::vector<astmrf::srf::ResponseSpec> responses;

 private:
  astmrf::sip::Message message_;
  bool final_sent_{false};
};

}  // namespace astmrf_test
