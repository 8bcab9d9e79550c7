// Language-model jobs (kind "lm"): fine-tuning a base model or pretraining from scratch on a
// JSONL dataset. The request is validated whole before anything is stored.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>

#include "api/internal.h"
#include "artifacts/artifacts.h"
#include "jobs/jobs.h"
#include "lmdata/lmdata.h"
#include "ml/ml.h"
#include "tokenizer/tokenizer.h"

namespace sskai::api {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A base model directory must hold a valid config.json and a tokenizer that loads.
Status CheckModelDir(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("field 'base_model': " + what + " is not a directory");
  auto cfg = ReadSmallFile(dir + "/config.json");
  if (!cfg.ok()) return Status::InvalidArgument("field 'base_model': " + what + " has no config.json");
  auto parsed = ml::LmConfigFromJson(*cfg);
  if (!parsed.ok()) return parsed.status().WithPrefix("field 'base_model': " + what + "/config.json");
  auto tok = tokenizer::LoadTokenizer(dir);
  if (!tok.ok()) return tok.status().WithPrefix("field 'base_model': " + what + " tokenizer");
  if (static_cast<int64_t>((*tok)->VocabSize()) > parsed->vocab_size) {
    return Status::InvalidArgument("field 'base_model': the tokenizer has more ids than config.json's vocab_size");
  }
  return Status::Ok();
}

// A registered LM version's file set as a local directory of symlinks to the blobs (created
// atomically; idempotent). Local executor only: remote workers will download the files.
Result<std::string> MaterializeVersion(ApiContext& ctx, const store::ModelVersion& mv, const json& manifest) {
  SSKAI_ASSIGN_OR_RETURN(std::string manifest_path, ctx.blobs.LocalPath(mv.blob_sha256));
  fs::path root = fs::path(manifest_path).parent_path().parent_path().parent_path().parent_path() / "lm";
  std::map<std::string, std::string> files;
  const json listed = manifest.value("files", json::object());  // a copy: items() must not dangle
  for (const auto& [name, sha] : listed.items()) {
    if (!sha.is_string()) return Status::Internal("bad manifest entry '" + name + "'");
    files[name] = sha.get<std::string>();
  }
  return artifacts::MaterializeFileSet(ctx.blobs, files, (root / mv.blob_sha256).string());
}

// "name[:version]" of a registered LM model, or an absolute model directory path → base fields.
Result<json> ResolveBase(ApiContext& ctx, const std::string& ref, const store::User& u) {
  if (!ref.empty() && ref[0] == '/') {
    SSKAI_RETURN_IF_ERROR(CheckModelDir(ref, "'" + ref + "'"));
    return json{{"path", ref}, {"dir", ref}};
  }
  std::string name = ref;
  int64_t version = 0;
  if (auto colon = ref.rfind(':'); colon != std::string::npos) {
    name = ref.substr(0, colon);
    char* end = nullptr;
    std::string v = ref.substr(colon + 1);
    version = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || version <= 0) {
      return Status::InvalidArgument("field 'base_model': bad version in '" + ref + "' (expected name[:version])");
    }
  }
  auto model = ctx.store.GetVisibleModel(u.id, name);
  if (!model.ok()) return Status::NotFound("field 'base_model': model '" + name + "' not found");
  auto mv = ctx.store.GetModelVersion(model->id, version);
  if (!mv.ok()) return Status::NotFound("field 'base_model': model '" + name + "' has no version " + std::to_string(version));
  json manifest = ParseStoredJson(mv->spec_json);
  if (manifest.value("type", "") != "lm") {
    return Status::InvalidArgument("field 'base_model': '" + ref + "' is not a language model");
  }
  if (manifest.value("adapter", json(false)).is_object()) {
    return Status::InvalidArgument("field 'base_model': '" + ref + "' is a LoRA adapter; fine-tune its base or a merged model");
  }
  SSKAI_ASSIGN_OR_RETURN(std::string dir, MaterializeVersion(ctx, *mv, manifest));
  SSKAI_RETURN_IF_ERROR(CheckModelDir(dir, "'" + ref + "'"));
  return json{{"name", name}, {"version", mv->version}, {"dir", dir}};
}

}  // namespace

Result<store::Job> ParseLmJobRequest(ApiContext& ctx, const json& body, const store::User& u) {
  SSKAI_ASSIGN_OR_RETURN(lmdata::LmJobSpec spec, lmdata::ParseLmJobSpec(body.dump()));
  SSKAI_ASSIGN_OR_RETURN(std::string dataset, StringField(body, "dataset", true));
  SSKAI_ASSIGN_OR_RETURN(int64_t ds_version, IntField(body, "dataset_version", 0, 0, 1'000'000'000));
  auto ds = ctx.store.GetDataset(u.id, dataset);
  if (!ds.ok()) return Status::NotFound("field 'dataset': dataset '" + dataset + "' not found");
  auto dv = ctx.store.GetDatasetVersion(ds->id, ds_version);
  if (!dv.ok()) {
    return Status::NotFound("field 'dataset_version': dataset '" + dataset + "' has no version " +
                            std::to_string(ds_version));
  }
  if (dv->format != "jsonl") {
    return Status::InvalidArgument("field 'dataset': LM jobs train on JSONL datasets ({\"text\"}, "
                                   "{\"prompt\",\"completion\"} or {\"messages\"}); '" + dataset + "' is " + dv->format);
  }
  json base = nullptr;
  std::string default_output;
  if (!spec.base_model.empty()) {
    SSKAI_ASSIGN_OR_RETURN(base, ResolveBase(ctx, spec.base_model, u));
    default_output = base.contains("name") ? base["name"].get<std::string>() + "-finetuned" : "finetuned";
    // A chat dataset needs a chat template: the model's own or an explicit one.
    json schema = ParseStoredJson(dv->schema_json);
    std::string kind = schema.value("kind", "");
    if ((kind == "chat" || kind == "messages") && spec.chat_template == "auto") {
      auto tc = ReadSmallFile(base["dir"].get<std::string>() + "/tokenizer_config.json");
      auto cfg = ReadSmallFile(base["dir"].get<std::string>() + "/config.json");
      if (!tokenizer::DetectChatTemplate(tc.ok() ? *tc : "", cfg.ok() ? *cfg : "").ok()) {
        return Status::InvalidArgument("field 'hyperparameters.chat_template': dataset '" + dataset +
                                       "' holds chat messages but the base model has no chat template; "
                                       "set 'llama3' or 'chatml'");
      }
    }
  } else {
    default_output = dataset + "-lm";
  }
  SSKAI_ASSIGN_OR_RETURN(std::string output, StringField(body, "model", false, default_output));
  Status valid = store::ValidateName(output);
  if (!valid.ok()) return valid.WithPrefix("field 'model'");
  SSKAI_ASSIGN_OR_RETURN(std::string name, StringField(body, "name", false, output));
  SSKAI_ASSIGN_OR_RETURN(json plan, PlanReference(ctx, body, u.id, "train"));
  store::Job job;
  json exec;
  SSKAI_RETURN_IF_ERROR(ParseJobControl(ctx, body, plan, &job, &exec));
  json stored = ParseStoredJson(lmdata::LmJobSpecToJson(spec));
  if (base.is_object()) {
    stored["base"] = base;
    stored["base_dir"] = base["dir"];
  }
  stored["plan"] = plan;
  stored.update(exec);
  job.owner_id = u.id;
  job.name = name;
  job.kind = "lm";
  job.state = jobs::kQueued;
  job.dataset_version_id = dv->id;
  job.output_model = output;
  job.spec_json = stored.dump();
  job.executor = "local";
  job.created_at = ctx.clock.NowSeconds();
  job.updated_at = job.created_at;
  return job;
}

}  // namespace sskai::api
