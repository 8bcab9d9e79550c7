// sskai catalog show|refresh and sskai models profile: the planner's inputs — prices and
// measured model profiles.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Ms(const json& v) {
  std::ostringstream out;
  out.precision(3);
  out << v.get<double>();
  return out.str();
}

void PrintProfile(const json& p) {
  std::cout << "Profile of " << p.value("model", "") << " (" << p.value("model_kind", "") << ", input "
            << p["input"].value("dtype", "") << " " << p["input"]["shape"].dump() << ", "
            << Cell(p["threads"]) << " thread(s))\n";
  std::cout << "  parameters        " << Cell(p["parameters"]) << "\n";
  std::cout << "  FLOPs/sample      forward " << Cell(p["flops"]["forward_per_sample"]) << ", training "
            << Cell(p["flops"]["train_per_sample"]) << "\n";
  const json& m = p["memory_bytes"];
  std::cout << "  memory            inference " << FormatBytes(m.value("inference", 0.0)) << "; training at batch "
            << Cell(m["batch"]) << " " << FormatBytes(m.value("training", 0.0)) << " (weights "
            << FormatBytes(m.value("weights", 0.0)) << ", gradients " << FormatBytes(m.value("gradients", 0.0))
            << ", optimizer " << FormatBytes(m.value("optimizer", 0.0)) << ", activations "
            << FormatBytes(m.value("activations", 0.0)) << ")\n";
  std::cout << "  checkpoint        " << FormatBytes(p.value("checkpoint_bytes", 0.0)) << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : p.value("measurements", json::array())) {
    rows.push_back({r.value("phase", ""), Cell(r["batch"]), Ms(r["median_ms"]), Ms(r["p10_ms"]), Ms(r["p90_ms"]),
                    Ms(r["spread"]), Ms(r["samples_per_second"]), Ms(r["achieved_gflops"]),
                    Cell(r["warmup"]) + "+" + Cell(r["repeats"])});
  }
  PrintTable({"PHASE", "BATCH", "MEDIAN_MS", "P10_MS", "P90_MS", "SPREAD", "SAMPLES/S", "GFLOP/S", "WARMUP+RUNS"}, rows);
}

}  // namespace

void AddCatalogCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto* catalog = app.add_subcommand("catalog", "The planner's price catalog: show, refresh");
  catalog->require_subcommand(1);
  auto* show = catalog->add_subcommand("show", "Catalog and price dates, offerings, regions, GPUs");
  show->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json c, api.Call("GET", "/v1/catalog"));
    if (flags->json) return PrintJson(c), Status::Ok();
    std::cout << "catalog " << c.value("catalog_date", "") << ", prices " << c.value("prices_date", "") << ", "
              << Cell(c["offerings"]) << " offerings in " << c["regions"].size() << " regions, "
              << c["gpus"].size() << " GPU models\n";
    return Status::Ok();
  }));
  auto files = std::make_shared<std::vector<std::string>>();
  auto* refresh = catalog->add_subcommand("refresh", "Apply newer price files (all or nothing; admin)");
  refresh->add_option("files", *files, "price files: '# as_of=YYYY-MM-DD' then instance_type,region,zone,"
                      "ondemand_usd_per_hour,spot_usd_per_hour[,interruption_band]")->required();
  refresh->callback(Wrap(flags, exit_code, [flags, files](Api& api) -> Status {
    json body = {{"files", json::array()}};
    for (const auto& path : *files) {
      SSKAI_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
      body["files"].push_back({{"name", path}, {"text", text}});
    }
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("POST", "/v1/catalog/refresh", body));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::cout << "applied " << Cell(r["files_applied"]) << " price file(s): catalog " << r.value("catalog_date", "")
              << ", prices now as of " << r.value("prices_date", "") << "\n";
    return Status::Ok();
  }));
}

void AddProfileCommand(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct Args {
    std::string name;
    int version = 0, warmup = -1, repeats = 0, threads = 0;
    std::vector<int> batch_sizes;
    bool show = false;
  };
  auto a = std::make_shared<Args>();
  auto* profile = models.add_subcommand("profile", "Measure a model version on the server's machine and keep the profile");
  profile->add_option("name", a->name)->required();
  profile->add_option("--version,-v", a->version, "version (default: latest)");
  profile->add_option("--batch-size", a->batch_sizes, "batch size to measure (repeatable; default 1 and the training batch)");
  profile->add_option("--warmup", a->warmup, "untimed runs first (default 3)");
  profile->add_option("--repeats", a->repeats, "timed runs (default 20)");
  profile->add_option("--threads", a->threads, "intra-op threads (default 1)");
  profile->add_flag("--show", a->show, "print the stored profile instead of measuring again");
  profile->callback(Wrap(flags, exit_code, [flags, a](Api& api) -> Status {
    std::string target = "/v1/models/" + UrlPart(a->name) + "/versions/" +
                         (a->version > 0 ? std::to_string(a->version) : std::string("latest")) + "/profile";
    json body = json::object();
    if (!a->batch_sizes.empty()) body["batch_sizes"] = a->batch_sizes;
    if (a->warmup >= 0) body["warmup"] = a->warmup;
    if (a->repeats > 0) body["repeats"] = a->repeats;
    if (a->threads > 0) body["threads"] = a->threads;
    SSKAI_ASSIGN_OR_RETURN(json p, a->show ? api.Call("GET", target) : api.Call("POST", target, body));
    if (flags->json) return PrintJson(p), Status::Ok();
    PrintProfile(p);
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
