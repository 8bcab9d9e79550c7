// sskai finetune <base-model> --data <file.jsonl | dataset[:version]> [...]: uploads the data if
// it is a local file, submits an LM job (POST /v1/jobs {"kind":"lm"}) and with --follow prints
// its progress (steps with loss and tokens/s, checkpoints, preemptions) until it ends, then the
// registered model version with its eval loss.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

namespace fs = std::filesystem;

struct FinetuneArgs {
  std::string base, data, dataset_name, output, template_name;
  int lora_rank = 0, batch = 0, seq_len = 0;
  double alpha = 0, lr = 0, lora_dropout = -1, epochs = 0;
  int64_t steps = 0, checkpoint_every = 0;
  bool full = false, follow = false;
  Placement placement;
};

// The job body; only flags that were given are sent, so the server's defaults apply otherwise.
json FinetuneBody(const FinetuneArgs& a, const std::string& dataset, int64_t dataset_version) {
  json h = json::object();
  if (a.steps > 0) h["max_steps"] = a.steps;
  if (a.epochs > 0) h["epochs"] = a.epochs;
  if (a.lr > 0) h["learning_rate"] = a.lr;
  if (a.batch > 0) h["batch_size"] = a.batch;
  if (a.seq_len > 0) h["max_seq_len"] = a.seq_len;
  if (a.checkpoint_every > 0) h["checkpoint_every"] = a.checkpoint_every;
  if (!a.template_name.empty()) h["chat_template"] = a.template_name;
  h["method"] = a.full ? "full" : "lora";
  json lora = json::object();
  if (a.lora_rank > 0) lora["rank"] = a.lora_rank;
  if (a.alpha > 0) lora["alpha"] = a.alpha;
  if (a.lora_dropout >= 0) lora["dropout"] = a.lora_dropout;
  if (!lora.empty()) h["lora"] = lora;  // with --full the server answers which field is wrong
  json body = {{"kind", "lm"}, {"base_model", a.base}, {"dataset", dataset}, {"hyperparameters", h}};
  if (dataset_version > 0) body["dataset_version"] = dataset_version;
  if (!a.output.empty()) body["model"] = a.output;
  ApplyPlacement(a.placement, &body);
  return body;
}

// A local file is uploaded as a new dataset version (named after --dataset-name or the file);
// anything else names an existing dataset, "name[:version]". Returns {name, version}.
Result<std::pair<std::string, int64_t>> ResolveData(Api& api, const FinetuneArgs& a, bool quiet) {
  std::error_code ec;
  if (fs::is_regular_file(a.data, ec)) {
    std::string base = fs::path(a.data).filename().string();
    std::string name = a.dataset_name.empty() ? base.substr(0, base.find('.')) : a.dataset_name;
    auto v = api.Upload("/v1/datasets/" + UrlPart(name) + "/versions?filename=" + UrlPart(base) + "&format=jsonl",
                        a.data, !quiet && isatty(2));
    if (!v.ok()) return v.status().WithPrefix(a.data);
    if (!quiet) {
      std::cout << "Uploaded " << base << " as dataset '" << name << "' version " << Cell((*v)["version"]) << " ("
                << Cell((*v)["rows"]) << " records)\n";
    }
    return std::make_pair(name, v->value("version", int64_t{0}));
  }
  if (a.data.find('/') != std::string::npos || a.data.size() > 6 && a.data.ends_with(".jsonl")) {
    return Status::NotFound("no such file: " + a.data);
  }
  std::string name = a.data;
  int64_t version = 0;
  if (auto colon = a.data.rfind(':'); colon != std::string::npos) {
    name = a.data.substr(0, colon);
    version = std::atoll(a.data.c_str() + colon + 1);
    if (version <= 0) return Status::InvalidArgument("--data: bad version in '" + a.data + "' (expected name[:version])");
  }
  return std::make_pair(name, version);
}

std::string StepLine(const json& progress) {
  const json& v = progress.value("values", json::object());
  char buf[160];
  std::snprintf(buf, sizeof(buf), "step %lld/%lld  loss %.4f  lr %.2e  %.0f tokens/s",
                static_cast<long long>(progress.value("step", int64_t{0})),
                static_cast<long long>(progress.value("epochs", int64_t{0})), v.value("loss", 0.0),
                v.value("lr", 0.0), v.value("tokens_per_second", 0.0));
  return buf;
}

// Polls the job, its step metrics and its timeline until it ends; prints each new step (as one
// rewritten line on a terminal) and each timeline event. Returns the final job.
Result<json> Follow(Api& api, int64_t id) {
  const std::string path = "/v1/jobs/" + std::to_string(id);
  const bool tty = isatty(1);
  int64_t last_step = -1;
  size_t events_seen = 0;
  while (true) {
    SSKAI_ASSIGN_OR_RETURN(json job, api.Call("GET", path));
    SSKAI_ASSIGN_OR_RETURN(json events, api.Call("GET", path + "/events"));
    const json& items = events["items"];
    for (; events_seen < items.size(); ++events_seen) {
      const json& e = items[events_seen];
      if (tty && last_step >= 0) std::cout << "\n";
      std::cout << "  [" << e.value("action", "") << "] " << e.value("message", "") << "\n";
    }
    const json& progress = job["progress"];
    int64_t step = progress.is_object() ? progress.value("step", int64_t{0}) : 0;
    if (step > last_step && progress.contains("values")) {
      std::cout << (tty ? "\r" : "") << StepLine(progress) << (tty ? "   " : "\n") << std::flush;
      last_step = step;
    }
    std::string state = job.value("state", "");
    if (state == "succeeded" || state == "failed" || state == "cancelled") {
      if (tty && last_step >= 0) std::cout << "\n";
      return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

void AddFinetuneCommand(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto a = std::make_shared<FinetuneArgs>();
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a language model on a JSONL dataset (LoRA by default)");
  cmd->add_option("base-model", a->base, "base model: name[:version], or a model directory on the server")->required();
  cmd->add_option("--data,-d", a->data,
                  "JSONL file to upload ({\"text\"}, {\"prompt\",\"completion\"} or {\"messages\"} per line), "
                  "or an uploaded dataset name[:version]")->required();
  cmd->add_option("--dataset-name", a->dataset_name, "dataset name for an uploaded file (default: the file name)");
  cmd->add_option("--lora-rank,-r", a->lora_rank, "LoRA rank (default 8)");
  cmd->add_option("--alpha", a->alpha, "LoRA alpha (default 2 x rank)");
  cmd->add_option("--lora-dropout", a->lora_dropout, "LoRA dropout (default 0)");
  cmd->add_flag("--full", a->full, "full fine-tuning instead of LoRA");
  cmd->add_option("--steps", a->steps, "optimizer steps (default: from --epochs)");
  cmd->add_option("--epochs", a->epochs, "passes over the data when --steps is not given");
  cmd->add_option("--lr", a->lr, "peak learning rate");
  cmd->add_option("--batch", a->batch, "sequences per step");
  cmd->add_option("--seq-len", a->seq_len, "tokens per sequence");
  cmd->add_option("--template", a->template_name, "chat template for {\"messages\"} data: llama3|chatml (default: the model's)")
      ->check(CLI::IsMember({"llama3", "chatml", "auto"}));
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "checkpoint every N steps");
  cmd->add_option("--output,-o", a->output, "name of the model to register (default <base>-finetuned)");
  AddPlacementOptions(cmd, &a->placement, /*spot_sim=*/true);
  cmd->add_flag("--follow,-f", a->follow, "stream progress until the job ends and print the registered version");
  cmd->callback(Wrap(flags, exit_code, [flags, a](Api& api) -> Status {
    const bool quiet = flags->json;
    SSKAI_ASSIGN_OR_RETURN(auto data, ResolveData(api, *a, quiet));
    SSKAI_ASSIGN_OR_RETURN(json job, api.Call("POST", "/v1/jobs", FinetuneBody(*a, data.first, data.second)));
    const int64_t id = job.value("id", int64_t{0});
    if (!a->follow) {
      if (quiet) return std::cout << job.dump(2) << "\n", Status::Ok();
      std::cout << "Job " << id << " queued: fine-tuning " << a->base << " -> model '" << Cell(job["output_model"])
                << "' (sskai jobs show " << id << ")\n";
      return Status::Ok();
    }
    if (!quiet) std::cout << "Job " << id << " queued: fine-tuning " << a->base << " -> '" << Cell(job["output_model"]) << "'\n";
    json final_job;
    if (quiet) {
      while (true) {
        SSKAI_ASSIGN_OR_RETURN(final_job, api.Call("GET", "/v1/jobs/" + std::to_string(id)));
        std::string s = final_job.value("state", "");
        if (s == "succeeded" || s == "failed" || s == "cancelled") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    } else {
      SSKAI_ASSIGN_OR_RETURN(final_job, Follow(api, id));
    }
    if (final_job.value("state", "") != "succeeded") {
      if (quiet) std::cout << final_job.dump(2) << "\n";
      return Status::FailedPrecondition("job " + std::to_string(id) + " " + final_job.value("state", "") + ": " +
                                        final_job.value("reason", ""));
    }
    const json& mv = final_job["model_version"];
    SSKAI_ASSIGN_OR_RETURN(json version, api.Call("GET", "/v1/models/" + UrlPart(mv.value("name", "")) + "/versions/" +
                                                             Cell(mv["version"])));
    if (quiet) return std::cout << version.dump(2) << "\n", Status::Ok();
    const json& m = version["metrics"];
    std::cout << "Registered model '" << Cell(mv["name"]) << "' version " << Cell(mv["version"]) << " ("
              << (version["metadata"]["adapter"].is_object() ? "LoRA adapter" : "full weights") << ")";
    if (m.contains("eval_loss")) std::cout << ": eval loss " << Cell(m["eval_loss"]);
    if (m.contains("perplexity")) std::cout << ", perplexity " << Cell(m["perplexity"]);
    std::cout << "\n  deploy: sskai deploy --model " << Cell(mv["name"]) << " --version " << Cell(mv["version"]) << "\n";
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
