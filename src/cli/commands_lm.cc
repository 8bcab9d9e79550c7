// sskai models import|pull|gallery: language models in Hugging Face layout (docs/llm.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

namespace fs = std::filesystem;

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

// Files worth uploading from a checkpoint directory; the server filters again (IsLmFileName).
bool Uploadable(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  for (const char* ext : {".json", ".safetensors", ".model", ".txt"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

void PrintVersion(const json& v, const std::string& verb) {
  std::cout << verb << " language model '" << Cell(v["model"]) << "' version " << Cell(v["version"])
            << ": " << Cell(v["config"].value("model_type", json("?"))) << ", "
            << Cell(v["parameters"]) << " parameters, " << v["files"].size() << " files, tokenizer "
            << Cell(v["tokenizer"]) << ", chat template " << Cell(v["chat_template"]) << "\n";
}

std::string HumanCount(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof(buf), "%.1fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof(buf), "%.1fM", n / 1e6);
  else std::snprintf(buf, sizeof(buf), "%.0f", n);
  return buf;
}

}  // namespace

void AddLmCommands(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct ImportArgs { std::string dir, name, visibility; };
  auto im = std::make_shared<ImportArgs>();
  auto* import_cmd = models.add_subcommand("import", "Import a local Hugging Face checkpoint directory as a language model");
  import_cmd->add_option("dir", im->dir, "directory with config.json, tokenizer and *.safetensors")->required();
  import_cmd->add_option("--name,-n", im->name, "model name (default: the directory name)");
  import_cmd->add_option("--visibility", im->visibility, "private (default) | public: every user may fine-tune and deploy it")
      ->check(CLI::IsMember({"private", "public"}));
  import_cmd->callback(Wrap(flags, exit_code, [flags, im](Api& api) -> Status {
    std::error_code ec;
    if (!fs::is_directory(im->dir, ec)) return Status::NotFound("no such directory: " + im->dir);
    std::string name = im->name;
    if (name.empty()) name = fs::path(im->dir).lexically_normal().filename().string();
    if (name.empty()) name = fs::absolute(im->dir, ec).lexically_normal().parent_path().filename().string();
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(im->dir, ec)) {
      if (e.is_regular_file() && Uploadable(e.path().filename().string())) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) return Status::InvalidArgument(im->dir + ": no config.json, tokenizer or .safetensors files");
    SSKAI_ASSIGN_OR_RETURN(json up, api.Call("POST", "/v1/uploads"));
    const std::string id = up.value("id", "");
    const bool progress = !flags->json && isatty(2);
    for (const auto& f : files) {
      const std::string file = f.filename().string();
      if (progress) std::cerr << file << "\n";
      auto put = api.Upload("/v1/uploads/" + id + "/files/" + UrlPart(file), f.string(), progress);
      if (!put.ok()) {
        (void)api.Call("DELETE", "/v1/uploads/" + id);
        return put.status().WithPrefix("uploading " + file);
      }
    }
    json import_body = {{"upload", id}};
    if (!im->visibility.empty()) import_body["visibility"] = im->visibility;
    SSKAI_ASSIGN_OR_RETURN(json v, api.Call("POST", "/v1/models/" + UrlPart(name) + "/import", import_body));
    if (flags->json) return PrintJson(v), Status::Ok();
    PrintVersion(v, "Imported");
    return Status::Ok();
  }));

  struct PullArgs { std::string repo, revision = "main", name, token, visibility; bool no_wait = false; };
  auto pa = std::make_shared<PullArgs>();
  auto* pull = models.add_subcommand("pull", "Download a model from the Hugging Face hub (server-side) and register it");
  pull->add_option("repo", pa->repo, "repository id, e.g. Qwen/Qwen2.5-0.5B-Instruct")->required();
  pull->add_option("--revision,-r", pa->revision, "branch, tag or commit (default main)");
  pull->add_option("--name,-n", pa->name, "model name (default: the repository name)");
  pull->add_option("--hf-token", pa->token, "token for gated repositories (sent to the hub as a bearer token)")
      ->envname("HF_TOKEN");
  pull->add_flag("--no-wait", pa->no_wait, "start the download and return its id");
  pull->add_option("--visibility", pa->visibility, "private | public (default: public when an admin pulls, else private)")
      ->check(CLI::IsMember({"private", "public"}));
  pull->callback(Wrap(flags, exit_code, [flags, pa](Api& api) -> Status {
    std::string name = pa->name;
    if (name.empty()) name = pa->repo.substr(pa->repo.find_last_of('/') + 1);
    json body = {{"repo", pa->repo}, {"revision", pa->revision}};
    if (!pa->token.empty()) body["token"] = pa->token;
    if (!pa->visibility.empty()) body["visibility"] = pa->visibility;
    SSKAI_ASSIGN_OR_RETURN(json p, api.Call("POST", "/v1/models/" + UrlPart(name) + "/pull", body));
    const std::string id = Cell(p["id"]);
    if (pa->no_wait) {
      if (flags->json) return PrintJson(p), Status::Ok();
      std::cout << "Pull " << id << " started: " << pa->repo << "@" << pa->revision << " -> model '"
                << name << "' (sskai models pulls " << id << ")\n";
      return Status::Ok();
    }
    const bool progress = !flags->json && isatty(2);
    while (p.value("state", "") == "running") {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      SSKAI_ASSIGN_OR_RETURN(p, api.Call("GET", "/v1/pulls/" + id));
      if (progress) {
        std::cerr << "\rDownloading " << FormatBytes(p.value("bytes_done", 0.0)) << " / "
                  << FormatBytes(p.value("bytes_total", 0.0)) << "   " << std::flush;
      }
    }
    if (progress) std::cerr << "\n";
    if (p.value("state", "") != "succeeded") return Status::FailedPrecondition(p.value("error", std::string("pull failed")));
    if (flags->json) return PrintJson(p), Status::Ok();
    PrintVersion(p["result"], "Pulled");
    return Status::Ok();
  }));

  auto pull_id = std::make_shared<std::string>();
  auto* pulls = models.add_subcommand("pulls", "Show a pull started with --no-wait");
  pulls->add_option("id", *pull_id)->required();
  pulls->callback(Wrap(flags, exit_code, [flags, pull_id](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json p, api.Call("GET", "/v1/pulls/" + UrlPart(*pull_id)));
    if (flags->json) return PrintJson(p), Status::Ok();
    std::cout << "Pull " << Cell(p["id"]) << ": " << Cell(p["repo"]) << "@" << Cell(p["revision"])
              << " -> " << Cell(p["model"]) << ", " << Cell(p["state"]) << ", "
              << FormatBytes(p.value("bytes_done", 0.0)) << " / " << FormatBytes(p.value("bytes_total", 0.0));
    if (p.contains("error")) std::cout << ": " << Cell(p["error"]);
    std::cout << "\n";
    return Status::Ok();
  }));

  struct VisibilityArgs { std::string name, visibility; };
  auto va = std::make_shared<VisibilityArgs>();
  auto* vis = models.add_subcommand("visibility", "Share a model with every user (public) or keep it to yourself (private)");
  vis->add_option("name", va->name, "model name")->required();
  vis->add_option("visibility", va->visibility, "private | public")->required()->check(CLI::IsMember({"private", "public"}));
  vis->callback(Wrap(flags, exit_code, [flags, va](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json m, api.Call("PATCH", "/v1/models/" + UrlPart(va->name), json{{"visibility", va->visibility}}));
    if (flags->json) return PrintJson(m), Status::Ok();
    std::cout << "Model '" << Cell(m["name"]) << "' is now " << Cell(m["visibility"]) << "\n";
    return Status::Ok();
  }));

  auto* gallery = models.add_subcommand("gallery", "Foundation models sskai supports, with size, memory need and pull command");
  gallery->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json g, api.Call("GET", "/v1/gallery"));
    if (flags->json) return PrintJson(g), Status::Ok();
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : g["items"]) {
      rows.push_back({Cell(m["name"]), HumanCount(m.value("parameters", 0.0)),
                      FormatBytes(m["memory"].value("inference_bytes", 0.0)),
                      FormatBytes(m["memory"].value("lora_bytes", 0.0)),
                      m.value("gated", false) ? "gated" : "open", Cell(m["license"]),
                      m.value("pulled", false) ? "yes" : "no", Cell(m["pull_command"])});
    }
    PrintTable({"NAME", "PARAMS", "INFER MEM", "LORA MEM", "ACCESS", "LICENSE", "PULLED", "GET IT"}, rows);
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
