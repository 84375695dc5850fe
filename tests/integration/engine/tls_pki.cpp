#include "tls_pki.hpp"

#include "astmrf_test/process.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <stdlib.h>

namespace astmrf_test {

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TestPki::TestPki() {
  std::string path = (std::filesystem::temp_directory_path() / "astmrf-tls-pki-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr) throw std::runtime_error("TestPki: mkdtemp failed");
  dir_ = path;
  for (const std::string ca : {"ca", "other-ca"}) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             (dir_ / (ca + ".key")).string(), "-out", (dir_ / (ca + ".pem")).string(), "-days", "2", "-subj",
             "/CN=astmrf test " + ca});
  }
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void TestPki::openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto result = run(std::move(args), std::chrono::seconds(30));
  if (result.exit_code != 0) throw std::runtime_error("openssl failed: " + result.output);
}

TestPki::Leaf TestPki::issue(const std::string& name, const std::vector<std::string>& subject_alt_names,
                             bool by_other_ca) {
  const auto base = dir_ / name;
  Leaf leaf{base.string() + ".pem", base.string() + ".key", base.string() + "-combined.pem"};
  {
    std::ofstream ext(base.string() + ".ext");
    ext << "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth,clientAuth\n";
    if (!subject_alt_names.empty()) {
      ext << "subjectAltName=";
      for (std::size_t i = 0; i < subject_alt_names.size(); ++i) ext << (i ? "," : "") << subject_alt_names[i];
      ext << "\n";
    }
  }
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", leaf.key, "-out",
           base.string() + ".csr", "-subj", "/CN=" + name});
  const std::string ca = by_other_ca ? "other-ca" : "ca";
  openssl({"x509", "-req", "-in", base.string() + ".csr", "-CA", (dir_ / (ca + ".pem")).string(), "-CAkey",
           (dir_ / (ca + ".key")).string(), "-CAcreateserial", "-out", leaf.certificate, "-days", "2", "-extfile",
           base.string() + ".ext"});
  std::ofstream(leaf.combined) << read_all(leaf.certificate) << read_all(leaf.key);
  return leaf;
}

}  // namespace astmrf_test
