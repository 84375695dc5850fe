// A throw-away PKI for the TLS tests, made with the openssl CLI in a temporary directory
// (removed with the object): a CA, a second CA nobody trusts, and certificates it signs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace astmrf_test {

class TestPki {
 public:
  /// Makes `ca` and `other-ca` (throws std::runtime_error when openssl fails).
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  struct Leaf {
    std::string certificate;  ///< PEM certificate
    std::string key;          ///< PEM key
    std::string combined;     ///< certificate then key, one file (baresip's sip_certificate)
  };
  /// A certificate for `name` (CN) with `subject_alt_names` ("IP:127.0.0.1", "DNS:sip.test"),
  /// signed by the trusted CA, or by the other one when `by_other_ca`.
  Leaf issue(const std::string& name, const std::vector<std::string>& subject_alt_names, bool by_other_ca = false);

  [[nodiscard]] std::string ca_file() const { return (dir_ / "ca.pem").string(); }
  [[nodiscard]] std::string other_ca_file() const { return (dir_ / "other-ca.pem").string(); }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  void openssl(std::vector<std::string> args);
  std::filesystem::path dir_;
};

}  // namespace astmrf_test
