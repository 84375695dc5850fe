// Loads the benchmark corpus (bench/sip/corpus/*.sip, sorted by name).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace astmrf_bench {

inline std::vector<std::string> load_corpus(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".sip") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

inline std::string corpus_dir() {
  if (const char* env = std::getenv("ASTMRF_SIP_CORPUS")) return env;
  return ASTMRF_SIP_CORPUS_DIR;
}

}  // namespace astmrf_bench
