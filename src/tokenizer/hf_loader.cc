// Loaders for Hugging Face tokenizer.json and GPT-2's encoder.json + vocab.bpe.
#include <nlohmann/json.hpp>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/text_util.h"
#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {

using internal::BpeConfig;
using internal::BpeTokenizer;
using internal::RegexSplit;
using json = nlohmann::json;

namespace {

Status Unsupported(const std::string& field, const std::string& what) {
  return Status::InvalidArgument("tokenizer.json: unsupported " + field + " '" + what + "'");
}

std::string TypeOf(const json& node) {
  return node.is_object() && node.contains("type") && node["type"].is_string()
             ? node["type"].get<std::string>()
             : "";
}

Status ReadVocab(const json& vocab, BpeConfig* config) {
  if (!vocab.is_object()) return Status::InvalidArgument("tokenizer.json: model.vocab must be an object");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > 10'000'000) {
      return Status::InvalidArgument("model.vocab['" + it.key() + "']: id must be an integer in [0, 1e7]");
    }
    size_t id = it.value().get<size_t>();
    if (config->token_strings.size() <= id) config->token_strings.resize(id + 1);
    config->token_strings[id] = it.key();
  }
  return Status::Ok();
}

Status ReadMerges(const json& merges, BpeConfig* config) {
  if (!merges.is_array()) return Status::InvalidArgument("tokenizer.json: model.merges must be an array");
  config->merges.reserve(merges.size());
  for (size_t idx = 0; idx < merges.size(); ++idx) {
    const json& m = merges[idx];
    if (m.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ', 1);
      if (space == std::string::npos) {
        return Status::InvalidArgument("model.merges[" + std::to_string(idx) + "]: expected 'a b'");
      }
      config->merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      config->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return Status::InvalidArgument("model.merges[" + std::to_string(idx) + "]: expected 'a b' or [a, b]");
    }
  }
  return Status::Ok();
}

Status ReadNormalizer(const json& node, BpeConfig* config) {
  if (node.is_null()) return Status::Ok();
  std::string type = TypeOf(node);
  if (type == "NFC") {
    config->nfc = true;
    return Status::Ok();
  }
  if (type == "Sequence" && node.contains("normalizers") && node["normalizers"].is_array()) {
    for (const json& child : node["normalizers"]) SSKAI_RETURN_IF_ERROR(ReadNormalizer(child, config));
    return Status::Ok();
  }
  return Unsupported("normalizer", type);
}

Status ReadPreTokenizer(const json& node, BpeConfig* config, bool* byte_level) {
  if (node.is_null()) return Status::Ok();
  std::string type = TypeOf(node);
  if (type == "Sequence" && node.contains("pretokenizers") && node["pretokenizers"].is_array()) {
    for (const json& child : node["pretokenizers"]) {
      SSKAI_RETURN_IF_ERROR(ReadPreTokenizer(child, config, byte_level));
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    *byte_level = true;
    config->add_prefix_space = node.value("add_prefix_space", false);
    if (node.value("use_regex", true)) {
      SSKAI_ASSIGN_OR_RETURN(auto split, RegexSplit::Create(internal::kGpt2Pattern, false,
                                                            RegexSplit::Behavior::kIsolated, false));
      config->splits.push_back(std::move(split));
    }
    return Status::Ok();
  }
  if (type == "Split") {
    const json& pattern = node.contains("pattern") ? node["pattern"] : json();
    bool literal = pattern.contains("String") && pattern["String"].is_string();
    if (!literal && !(pattern.contains("Regex") && pattern["Regex"].is_string())) {
      return Status::InvalidArgument("pre_tokenizer Split: pattern must be {\"Regex\"} or {\"String\"}");
    }
    std::string text = literal ? pattern["String"].get<std::string>() : pattern["Regex"].get<std::string>();
    std::string behavior = node.value("behavior", "Isolated");
    RegexSplit::Behavior b;
    if (behavior == "Isolated") {
      b = RegexSplit::Behavior::kIsolated;
    } else if (behavior == "Removed") {
      b = RegexSplit::Behavior::kRemoved;
    } else {
      return Unsupported("Split behavior", behavior);
    }
    SSKAI_ASSIGN_OR_RETURN(auto split, RegexSplit::Create(text, literal, b, node.value("invert", false)));
    config->splits.push_back(std::move(split));
    return Status::Ok();
  }
  return Unsupported("pre_tokenizer", type);
}

Status ReadPostProcessor(const json& node, const BpeConfig& config_in, BpeConfig* config) {
  if (node.is_null()) return Status::Ok();
  std::string type = TypeOf(node);
  if (type == "ByteLevel") return Status::Ok();  // offsets only
  if (type == "Sequence" && node.contains("processors") && node["processors"].is_array()) {
    for (const json& child : node["processors"]) SSKAI_RETURN_IF_ERROR(ReadPostProcessor(child, config_in, config));
    return Status::Ok();
  }
  if (type != "TemplateProcessing") return Unsupported("post_processor", type);
  if (!node.contains("single") || !node["single"].is_array()) {
    return Status::InvalidArgument("post_processor TemplateProcessing: 'single' must be an array");
  }
  bool after = false;
  for (const json& piece : node["single"]) {
    if (piece.contains("Sequence")) {
      after = true;
      continue;
    }
    if (!piece.contains("SpecialToken") || !piece["SpecialToken"].contains("id")) {
      return Status::InvalidArgument("post_processor TemplateProcessing: unknown piece in 'single'");
    }
    std::string name = piece["SpecialToken"]["id"].get<std::string>();
    const json& specials = node.contains("special_tokens") ? node["special_tokens"] : json();
    if (!specials.contains(name) || !specials[name].contains("ids") || !specials[name]["ids"].is_array()) {
      return Status::InvalidArgument("post_processor: special token '" + name + "' has no ids");
    }
    for (const json& id : specials[name]["ids"]) {
      (after ? config->suffix_ids : config->prefix_ids).push_back(id.get<TokenId>());
    }
  }
  return Status::Ok();
}

void DefaultSpecials(BpeTokenizer& tok) {
  SpecialTokens special;
  auto first = [&](std::initializer_list<const char*> names) -> std::optional<TokenId> {
    for (const char* name : names) {
      if (auto id = tok.TokenToId(name)) return id;
    }
    return std::nullopt;
  };
  special.bos = first({"<|begin_of_text|>", "<s>"});
  special.eos = first({"<|end_of_text|>", "<|endoftext|>", "</s>"});
  special.pad = first({"<|finetune_right_pad_id|>", "<pad>", "<|endoftext|>"});
  special.unk = first({"<unk>"});
  tok.SetSpecial(special);
}

Result<std::unique_ptr<Tokenizer>> LoadHfImpl(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("tokenizer.json is not a JSON object");
  }
  if (!doc.contains("model") || !doc["model"].is_object()) {
    return Status::InvalidArgument("tokenizer.json: missing 'model'");
  }
  const json& model = doc["model"];
  std::string model_type = TypeOf(model);
  if (model_type.empty() && model.contains("merges")) model_type = "BPE";  // old files omit it
  if (model_type != "BPE") return Unsupported("model.type", model_type);
  if (model.value("byte_fallback", false)) return Unsupported("model.byte_fallback", "true");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {  // Qwen2 writes ""
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      return Unsupported(std::string("model.") + key, model[key].dump());
    }
  }
  BpeConfig config;
  SSKAI_RETURN_IF_ERROR(ReadVocab(model.contains("vocab") ? model["vocab"] : json(), &config));
  SSKAI_RETURN_IF_ERROR(ReadMerges(model.contains("merges") ? model["merges"] : json(), &config));
  config.ignore_merges = model.value("ignore_merges", false);
  SSKAI_RETURN_IF_ERROR(ReadNormalizer(doc.contains("normalizer") ? doc["normalizer"] : json(), &config));
  bool byte_level = false;
  SSKAI_RETURN_IF_ERROR(
      ReadPreTokenizer(doc.contains("pre_tokenizer") ? doc["pre_tokenizer"] : json(), &config, &byte_level));
  if (!byte_level) return Unsupported("pre_tokenizer", "without ByteLevel (not a byte-level BPE)");
  if (doc.contains("decoder") && !doc["decoder"].is_null() && TypeOf(doc["decoder"]) != "ByteLevel") {
    return Unsupported("decoder", TypeOf(doc["decoder"]));
  }
  SSKAI_RETURN_IF_ERROR(
      ReadPostProcessor(doc.contains("post_processor") ? doc["post_processor"] : json(), config, &config));
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const json& t : doc["added_tokens"]) {
      if (!t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string()) {
        return Status::InvalidArgument("tokenizer.json: added_tokens entries need 'id' and 'content'");
      }
      AddedToken added;
      added.id = t["id"].get<TokenId>();
      added.content = t["content"].get<std::string>();
      added.special = t.value("special", false);
      added.lstrip = t.value("lstrip", false);
      added.rstrip = t.value("rstrip", false);
      config.added.push_back(std::move(added));
    }
  }
  SSKAI_ASSIGN_OR_RETURN(auto tok, BpeTokenizer::Create(std::move(config)));
  DefaultSpecials(*tok);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(std::string_view json_text) {
  try {  // nlohmann's typed accessors throw on a wrong type: turn that into a Status here
    return LoadHfImpl(json_text);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("tokenizer.json: ") + e.what());
  }
}

Result<std::unique_ptr<Tokenizer>> LoadGpt2Files(std::string_view encoder_json,
                                                 std::string_view vocab_bpe) {
  try {
    json vocab = json::parse(encoder_json, nullptr, false);
    if (vocab.is_discarded()) return Status::InvalidArgument("encoder.json is not JSON");
    BpeConfig config;
    SSKAI_RETURN_IF_ERROR(ReadVocab(vocab, &config).WithPrefix("encoder.json"));
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < vocab_bpe.size()) {
      size_t end = vocab_bpe.find('\n', pos);
      if (end == std::string_view::npos) end = vocab_bpe.size();
      std::string_view line = vocab_bpe.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
      size_t space = line.find(' ');
      if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) {
        return Status::InvalidArgument("vocab.bpe line " + std::to_string(line_no) + ": expected 'a b'");
      }
      config.merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
    }
    SSKAI_ASSIGN_OR_RETURN(auto split, RegexSplit::Create(internal::kGpt2Pattern, false,
                                                          RegexSplit::Behavior::kIsolated, false));
    config.splits.push_back(std::move(split));
    for (size_t id = 0; id < config.token_strings.size(); ++id) {
      if (config.token_strings[id] == "<|endoftext|>") {
        config.added.push_back(AddedToken{static_cast<TokenId>(id), "<|endoftext|>", true, false, false});
        config.special.bos = config.special.eos = static_cast<TokenId>(id);
      }
    }
    SSKAI_ASSIGN_OR_RETURN(auto tok, BpeTokenizer::Create(std::move(config)));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("encoder.json: ") + e.what());
  }
}

}  // namespace sskai::tokenizer
