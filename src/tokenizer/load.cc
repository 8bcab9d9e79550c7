// LoadTokenizer: picks the loader from a path (file or model directory).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {

namespace fs = std::filesystem;

namespace {

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::Internal("error reading " + path.string());
  return buf.str();
}

// tokenizer_config.json names bos/eos/pad as a string or {"content": ...}.
void ApplyConfigSpecials(const fs::path& config_path, Tokenizer* tok) {
  auto* bpe = dynamic_cast<internal::BpeTokenizer*>(tok);
  if (bpe == nullptr) return;
  auto text = ReadFile(config_path);
  if (!text.ok()) return;  // optional file
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return;
  SpecialTokens special = bpe->Special();
  auto pick = [&](const char* key, std::optional<TokenId>* slot) {
    if (!doc.contains(key)) return;
    const auto& v = doc[key];
    std::string name;
    if (v.is_string()) {
      name = v.get<std::string>();
    } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      name = v["content"].get<std::string>();
    } else if (v.is_null()) {
      *slot = std::nullopt;
      return;
    }
    if (auto id = bpe->TokenToId(name)) *slot = id;
  };
  pick("bos_token", &special.bos);
  pick("eos_token", &special.eos);
  pick("pad_token", &special.pad);
  pick("unk_token", &special.unk);
  bpe->SetSpecial(special);
}

Result<std::unique_ptr<Tokenizer>> LoadFile(const fs::path& path) {
  std::string name = path.filename().string();
  if (name.ends_with(".model")) return LoadSentencePiece(path.string());
  if (name == "encoder.json" || name.ends_with("encoder.json")) {
    SSKAI_ASSIGN_OR_RETURN(std::string encoder, ReadFile(path));
    SSKAI_ASSIGN_OR_RETURN(std::string merges, ReadFile(path.parent_path() / "vocab.bpe"));
    return LoadGpt2Files(encoder, merges);
  }
  SSKAI_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return LoadHfTokenizerJson(text);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path_str) {
  fs::path path(path_str);
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound("no such file or directory: " + path_str);
  if (!fs::is_directory(path, ec)) return LoadFile(path);
  std::unique_ptr<Tokenizer> tok;
  if (fs::exists(path / "tokenizer.json", ec)) {
    auto loaded = LoadFile(path / "tokenizer.json");
    // A sentencepiece-style tokenizer.json (e.g. Llama-2) is not byte-level: use the .model.
    if (!loaded.ok() && !fs::exists(path / "tokenizer.model", ec)) return loaded.status();
    if (loaded.ok()) tok = std::move(loaded).value();
  }
  if (!tok && fs::exists(path / "tokenizer.model", ec)) {
    SSKAI_ASSIGN_OR_RETURN(tok, LoadSentencePiece((path / "tokenizer.model").string()));
  }
  if (!tok && fs::exists(path / "encoder.json", ec)) {
    SSKAI_ASSIGN_OR_RETURN(tok, LoadFile(path / "encoder.json"));
  }
  if (!tok) {
    return Status::NotFound(path_str + " holds no tokenizer.json, tokenizer.model or encoder.json");
  }
  ApplyConfigSpecials(path / "tokenizer_config.json", tok.get());
  return tok;
}

}  // namespace sskai::tokenizer
