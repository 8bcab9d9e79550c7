// RegisterLmVersion: validate a Hugging Face file set and register it as an LM model version.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "ml/ml.h"
#include "ml/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace sskai::api {

namespace {

namespace fs = std::filesystem;
namespace st = ml::safetensors;

constexpr uint64_t kMaxJsonFileBytes = 64ull << 20;  // tokenizer.json of Llama-3 is ~9 MB

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Errors of the safetensors/tokenizer readers name full temp paths; users know the file name.
Status Relative(const Status& status, const std::string& dir) {
  if (status.ok()) return status;
  std::string msg = status.message();
  const std::string prefix = dir + "/";
  for (size_t pos = msg.find(prefix); pos != std::string::npos; pos = msg.find(prefix, pos)) {
    msg.erase(pos, prefix.size());
  }
  for (size_t pos = msg.find(dir); pos != std::string::npos; pos = msg.find(dir, pos)) {
    msg.replace(pos, dir.size(), "model directory");
  }
  return Status(status.code() == StatusCode::kNotFound ? StatusCode::kInvalidArgument : status.code(), msg);
}

Result<std::string> ReadSmallFile(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return Status::InvalidArgument(name + ": cannot read: " + ec.message());
  if (size > kMaxJsonFileBytes) return Status::InvalidArgument(name + ": larger than 64 MiB");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in.good() && !in.eof()) return Status::InvalidArgument(name + ": cannot read");
  return out.str();
}

Result<json> ReadJsonFile(const std::string& dir, const std::string& name) {
  SSKAI_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(dir, name));
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Status::InvalidArgument(name + ": not a JSON object");
  return doc;
}

struct Inspected {
  std::vector<std::string> files;  // names kept in the file set
  json config = json::object();
  int64_t parameters = 0;
  std::string tokenizer;           // "tokenizer.json" | "tokenizer.model" | ""
  std::string chat_template = "none";
  json adapter = false;
};

// Weights of a foundation model: which safetensors files, checked against the config.
Status InspectWeights(const std::string& dir, const std::set<std::string>& present,
                      const ml::LmConfig& config, Inspected* out) {
  std::vector<std::string> weight_files;
  if (present.count("model.safetensors.index.json")) {
    SSKAI_ASSIGN_OR_RETURN(json index, ReadJsonFile(dir, "model.safetensors.index.json"));
    if (!index.contains("weight_map") || !index["weight_map"].is_object() || index["weight_map"].empty()) {
      return Status::InvalidArgument("model.safetensors.index.json: needs a non-empty weight_map object");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) {
        return Status::InvalidArgument("model.safetensors.index.json: weight_map['" + tensor + "'] is not a file name");
      }
      shards.insert(file.get<std::string>());
    }
    for (const auto& shard : shards) {
      if (!present.count(shard)) {
        return Status::InvalidArgument("model.safetensors.index.json: weight_map names '" + shard +
                                       "', which is missing");
      }
    }
    weight_files.assign(shards.begin(), shards.end());
    weight_files.push_back("model.safetensors.index.json");
  } else if (present.count("model.safetensors")) {
    weight_files.push_back("model.safetensors");
  } else {
    for (const auto& name : present) {
      if (EndsWith(name, ".safetensors")) weight_files.push_back(name);
    }
    if (weight_files.size() != 1) {
      return Status::InvalidArgument(weight_files.empty()
          ? "no weights: expected model.safetensors or shards with model.safetensors.index.json "
            "(pickle checkpoints such as pytorch_model.bin are not accepted)"
          : "several .safetensors files but no model.safetensors.index.json");
    }
  }
  auto ckpt = st::Checkpoint::Open(dir);
  if (!ckpt.ok()) return Relative(ckpt.status(), dir);
  int64_t params = 0;
  for (const auto& name : (*ckpt)->Names()) params += (*ckpt)->Find(name).info->numel();
  auto embed = (*ckpt)->Find("model.embed_tokens.weight");
  if (embed.file == nullptr) {
    return Status::InvalidArgument("weights: tensor 'model.embed_tokens.weight' is missing");
  }
  const auto& shape = embed.info->shape;
  if (shape.size() != 2 || shape[0] != config.vocab_size || shape[1] != config.hidden_size) {
    return Status::InvalidArgument("weights: 'model.embed_tokens.weight' does not match config.json "
                                   "(expected [vocab_size, hidden_size] = [" +
                                   std::to_string(config.vocab_size) + ", " +
                                   std::to_string(config.hidden_size) + "])");
  }
  const std::string last = "model.layers." + std::to_string(config.num_hidden_layers - 1) +
                           ".self_attn.q_proj.weight";
  if ((*ckpt)->Find(last).file == nullptr) {
    return Status::InvalidArgument("weights: tensor '" + last + "' is missing (config.json has " +
                                   std::to_string(config.num_hidden_layers) + " layers)");
  }
  out->parameters = params;
  out->files.insert(out->files.end(), weight_files.begin(), weight_files.end());
  return Status::Ok();
}

Status InspectTokenizer(const std::string& dir, const std::set<std::string>& present,
                        int64_t vocab_size, bool required, Inspected* out) {
  std::string name = present.count("tokenizer.json") ? "tokenizer.json"
                     : present.count("tokenizer.model") ? "tokenizer.model" : "";
  if (name.empty()) {
    if (required) return Status::InvalidArgument("no tokenizer: expected tokenizer.json or tokenizer.model");
    return Status::Ok();
  }
  auto tok = tokenizer::LoadTokenizer(dir + "/" + name);
  if (!tok.ok()) return Relative(tok.status(), dir).WithPrefix(name);
  if (vocab_size > 0 && static_cast<int64_t>((*tok)->VocabSize()) > vocab_size) {
    return Status::InvalidArgument(name + ": " + std::to_string((*tok)->VocabSize()) +
                                   " tokens, more than config.json's vocab_size " +
                                   std::to_string(vocab_size));
  }
  out->tokenizer = name;
  out->files.push_back(name);
  return Status::Ok();
}

Status InspectAdapter(ApiContext& ctx, int64_t owner_id, const std::string& dir,
                      const std::set<std::string>& present, const LmRegistration& reg,
                      Inspected* out) {
  if (!present.count("adapter_model.safetensors")) {
    return Status::InvalidArgument("adapter_config.json without adapter_model.safetensors");
  }
  SSKAI_ASSIGN_OR_RETURN(json cfg, ReadJsonFile(dir, "adapter_config.json"));
  if (!cfg.contains("r") || !cfg["r"].is_number_integer() || cfg["r"].get<int64_t>() < 1) {
    return Status::InvalidArgument("adapter_config.json: field 'r' must be a positive integer");
  }
  if (!cfg.contains("lora_alpha") || !cfg["lora_alpha"].is_number()) {
    return Status::InvalidArgument("adapter_config.json: field 'lora_alpha' must be a number");
  }
  auto file = st::File::Open(dir + "/adapter_model.safetensors");
  if (!file.ok()) return Relative(file.status(), dir);
  int64_t params = 0;
  for (const auto& info : (*file)->tensors()) params += info.numel();
  if (reg.base_model.empty()) return Status::InvalidArgument("an adapter needs its base model");
  SSKAI_ASSIGN_OR_RETURN(store::Model base, ctx.store.GetVisibleModel(owner_id, reg.base_model));
  SSKAI_ASSIGN_OR_RETURN(store::ModelVersion base_v, ctx.store.GetModelVersion(base.id, reg.base_version));
  json base_manifest = ParseStoredJson(base_v.spec_json);
  if (base_manifest.value("type", "") != "lm") {
    return Status::InvalidArgument("base model " + base.name + " v" + std::to_string(base_v.version) +
                                   " is not a language model");
  }
  out->config = base_manifest.value("config", json::object());
  out->chat_template = base_manifest.value("chat_template", "none");
  out->parameters = params;
  out->adapter = {{"base_model", base.name}, {"base_version", base_v.version},
                  {"rank", cfg["r"]}, {"alpha", cfg["lora_alpha"]}};
  out->files.push_back("adapter_config.json");
  out->files.push_back("adapter_model.safetensors");
  return Status::Ok();
}

Result<Inspected> Inspect(ApiContext& ctx, int64_t owner_id, const LmRegistration& reg) {
  const std::string& dir = reg.dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("model directory '" + dir + "' does not exist");
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && IsLmFileName(name)) present.insert(name);
  }
  if (ec) return Status::Internal("listing " + dir + ": " + ec.message());
  Inspected out;
  int64_t vocab_size = 0;
  if (present.count("adapter_config.json")) {
    SSKAI_RETURN_IF_ERROR(InspectAdapter(ctx, owner_id, dir, present, reg, &out));
    vocab_size = out.config.value("vocab_size", int64_t{0});
    SSKAI_RETURN_IF_ERROR(InspectTokenizer(dir, present, vocab_size, /*required=*/false, &out));
  } else {
    if (!present.count("config.json")) return Status::InvalidArgument("config.json is missing");
    SSKAI_ASSIGN_OR_RETURN(std::string config_text, ReadSmallFile(dir, "config.json"));
    SSKAI_ASSIGN_OR_RETURN(ml::LmConfig config, ml::LmConfigFromJson(config_text));
    out.config = json::parse(ml::LmConfigToJson(config), nullptr, false);
    if (out.config.is_discarded()) out.config = json::object();
    out.files.push_back("config.json");
    SSKAI_RETURN_IF_ERROR(InspectWeights(dir, present, config, &out));
    SSKAI_RETURN_IF_ERROR(InspectTokenizer(dir, present, config.vocab_size, /*required=*/true, &out));
    std::string tokenizer_config;
    if (present.count("tokenizer_config.json")) {
      SSKAI_ASSIGN_OR_RETURN(tokenizer_config, ReadSmallFile(dir, "tokenizer_config.json"));
    }
    auto tmpl = tokenizer::DetectChatTemplate(tokenizer_config, config_text);
    if (tmpl.ok()) out.chat_template = tmpl->family == tokenizer::ChatFamily::kLlama3 ? "llama3" : "chatml";
  }
  // Small companions kept as they are (validated as JSON where they are JSON).
  for (const char* extra : {"generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
                            "added_tokens.json", "vocab.json", "merges.txt"}) {
    if (!present.count(extra)) continue;
    if (EndsWith(extra, ".json")) SSKAI_RETURN_IF_ERROR(ReadJsonFile(dir, extra).status());
    out.files.push_back(extra);
  }
  return out;
}

// Stores one file as a blob: moved (rename) or copied while hashing.
Result<std::string> StoreFile(ApiContext& ctx, const std::string& path, bool move) {
  if (move) return ctx.blobs.Adopt(path, "");
  SSKAI_ASSIGN_OR_RETURN(auto writer, ctx.blobs.NewWriter());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Internal("cannot open " + path);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) SSKAI_RETURN_IF_ERROR(writer->Write(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) {
    writer->Abort();
    return Status::Internal("reading " + path);
  }
  return writer->Commit();
}

}  // namespace

bool IsLmFileName(const std::string& name) {
  static const std::set<std::string> kNames = {
      "config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
      "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
      "merges.txt", "model.safetensors.index.json", "adapter_config.json"};
  if (kNames.count(name)) return true;
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) return false;
  return EndsWith(name, ".safetensors") && store::ValidateName(name).ok();
}

Result<LmRegistered> RegisterLmVersion(ApiContext& ctx, int64_t owner_id,
                                       const std::string& model_name, const LmRegistration& reg) {
  SSKAI_RETURN_IF_ERROR(store::ValidateName(model_name));
  if (reg.kind != "foundation" && reg.kind != "finetuned") {
    return Status::InvalidArgument("kind must be foundation or finetuned");
  }
  json source = json::parse(reg.source_json, nullptr, false);
  if (source.is_discarded() || !source.is_object()) return Status::InvalidArgument("source: not a JSON object");
  SSKAI_ASSIGN_OR_RETURN(Inspected inspected, Inspect(ctx, owner_id, reg));

  json files = json::object(), sizes = json::object();
  int64_t total = 0;
  for (const auto& name : inspected.files) {
    const std::string path = reg.dir + "/" + name;
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return Status::Internal("stat " + path + ": " + ec.message());
    auto sha = StoreFile(ctx, path, reg.move_files);
    if (!sha.ok()) return sha.status().WithPrefix("storing " + name);
    files[name] = *sha;
    sizes[name] = size;
    total += static_cast<int64_t>(size);
  }
  json manifest = {{"type", "lm"},
                   {"files", files},
                   {"sizes", sizes},
                   {"config", inspected.config},
                   {"parameters", inspected.parameters},
                   {"tokenizer", inspected.tokenizer},
                   {"chat_template", inspected.chat_template},
                   {"adapter", inspected.adapter},
                   {"source", source}};
  LmRegistered out;
  out.manifest_json = manifest.dump();
  SSKAI_ASSIGN_OR_RETURN(out.manifest_sha256, ctx.blobs.PutString(out.manifest_json));
  store::ModelVersion v;
  v.kind = reg.kind;
  v.task = "lm";
  v.blob_sha256 = out.manifest_sha256;
  v.spec_json = out.manifest_json;
  v.metrics_json = reg.metrics_json.empty() ? "{}" : reg.metrics_json;
  v.job_id = reg.job_id;
  v.dataset_version_id = reg.dataset_version_id;
  v.size_bytes = total;
  v.created_at = ctx.clock.NowSeconds();
  SSKAI_ASSIGN_OR_RETURN(store::ModelVersion stored, ctx.store.AddModelVersion(owner_id, model_name, v));
  out.model_version_id = stored.id;
  out.version = stored.version;
  if (!reg.visibility.empty()) SSKAI_RETURN_IF_ERROR(ctx.store.SetModelVisibility(stored.model_id, reg.visibility));
  AddEvent(ctx, owner_id, "model", stored.id, "registered",
           model_name + " v" + std::to_string(stored.version) + ": language model (" +
               std::to_string(inspected.parameters) + " parameters, " + source.value("kind", "?") + ")");
  return out;
}

}  // namespace sskai::api
