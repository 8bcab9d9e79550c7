// sskai data upload|list|show|preview, sskai models list|show.
#include <iostream>
#include <unistd.h>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

std::string VersionPath(const std::string& name, int version) {
  return "/v1/datasets/" + UrlPart(name) + "/versions/" +
         (version > 0 ? std::to_string(version) : std::string("latest"));
}

}  // namespace

void AddDataCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto* data = app.add_subcommand("data", "Datasets: upload, list, show, preview");
  data->require_subcommand(1);

  struct UploadArgs { std::string file, name, format, target; };
  auto up = std::make_shared<UploadArgs>();
  auto* upload = data->add_subcommand("upload", "Upload a file as a new dataset version");
  upload->add_option("file", up->file, "CSV, JSONL, IDX archive, class-folder zip, or gzip of these")->required();
  upload->add_option("--name,-n", up->name, "dataset name (default: the file name without extension)");
  upload->add_option("--format", up->format, "csv|jsonl|idx|image_folder (default: detect)");
  upload->add_option("--target", up->target, "CSV target column (default: the last column)");
  upload->callback(Wrap(flags, exit_code, [flags, up](Api& api) -> Status {
    std::string name = up->name;
    std::string base = up->file.substr(up->file.find_last_of('/') + 1);
    if (name.empty()) name = base.substr(0, base.find('.'));
    std::string target = "/v1/datasets/" + UrlPart(name) + "/versions?filename=" + UrlPart(base);
    if (!up->format.empty()) target += "&format=" + UrlPart(up->format);
    if (!up->target.empty()) target += "&target=" + UrlPart(up->target);
    SSKAI_ASSIGN_OR_RETURN(json v, api.Upload(target, up->file, !flags->json && isatty(2)));
    if (flags->json) return PrintJson(v), Status::Ok();
    std::cout << "Uploaded dataset '" << name << "' version " << Cell(v["version"]) << ": "
              << Cell(v["format"]) << ", " << Cell(v["rows"]) << " rows, "
              << FormatBytes(v.value("size_bytes", 0.0)) << ", sha256 "
              << v.value("sha256", "").substr(0, 12) << "\n";
    return Status::Ok();
  }));

  auto* list = data->add_subcommand("list", "List datasets");
  list->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/datasets?limit=1000"));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : r["items"]) {
      rows.push_back({Cell(d["name"]), Cell(d["latest_version"]), FormatTime(d.value("created_at", 0.0))});
    }
    PrintTable({"NAME", "LATEST", "CREATED"}, rows);
    return Status::Ok();
  }));

  struct ShowArgs { std::string name; int version = 0; int limit = 10; };
  auto sh = std::make_shared<ShowArgs>();
  auto* show = data->add_subcommand("show", "Show a dataset version: schema and statistics");
  show->add_option("name", sh->name)->required();
  show->add_option("--version,-v", sh->version, "version (default: latest)");
  show->callback(Wrap(flags, exit_code, [flags, sh](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", VersionPath(sh->name, sh->version) + "/statistics"));
    if (flags->json) return PrintJson(r), Status::Ok();
    const json& schema = r["schema"];
    std::cout << "Dataset " << sh->name << " v" << Cell(r["version"]) << ": " << Cell(r["rows"])
              << " rows";
    if (schema.contains("task")) std::cout << ", task " << Cell(schema["task"]);
    if (schema.contains("target")) std::cout << ", target " << Cell(schema["target"]);
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows;
    const json& stats = r["statistics"];
    for (const auto& col : schema.value("columns", json::array())) {
      std::string name = col.value("name", "");
      json s = stats.contains("columns") && stats["columns"].is_object() && stats["columns"].contains(name)
                   ? stats["columns"][name] : json::object();
      rows.push_back({name, Cell(col.value("type", json())), Cell(col.value("missing", json(0))),
                      Cell(s.value("min", json())), Cell(s.value("max", json())),
                      Cell(s.value("mean", json()))});
    }
    if (!rows.empty()) PrintTable({"COLUMN", "TYPE", "MISSING", "MIN", "MAX", "MEAN"}, rows);
    else std::cout << r["statistics"].dump(2) << "\n";
    return Status::Ok();
  }));

  auto pv = std::make_shared<ShowArgs>();
  auto* preview = data->add_subcommand("preview", "Show the first rows of a dataset version");
  preview->add_option("name", pv->name)->required();
  preview->add_option("--version,-v", pv->version, "version (default: latest)");
  preview->add_option("--limit,-l", pv->limit, "rows (default 10)");
  preview->callback(Wrap(flags, exit_code, [flags, pv](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", VersionPath(pv->name, pv->version) +
                                                       "/preview?limit=" + std::to_string(pv->limit)));
    if (flags->json) return PrintJson(r), Status::Ok();
    const json& items = r["rows"];
    if (!items.is_array() || items.empty()) return std::cout << "(no rows)\n", Status::Ok();
    std::vector<std::string> header;
    if (items[0].is_object()) {
      for (auto it = items[0].begin(); it != items[0].end(); ++it) header.push_back(it.key());
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : items) {
      std::vector<std::string> row;
      for (const auto& h : header) row.push_back(Cell(item.value(h, json())));
      rows.push_back(row);
    }
    PrintTable(header, rows);
    return Status::Ok();
  }));
}

// sskai models upload <file.pt> --name N --spec spec.json (commands_models_upload.cc).
void AddModelUploadCommand(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code);
// `sskai models import|pull|pulls|gallery` (language models, commands_lm.cc). Declared here, not
// in commands.h, so adding it did not touch every command file.
void AddLmCommands(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code);

void AddModelCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto* models = app.add_subcommand("models", "Models: list, show, profile, upload, import, pull, gallery");
  models->require_subcommand(1);
  auto* list = models->add_subcommand("list", "List models");
  list->callback(Wrap(flags, exit_code, [flags](Api& api) -> Status {
    SSKAI_ASSIGN_OR_RETURN(json r, api.Call("GET", "/v1/models?limit=1000"));
    if (flags->json) return PrintJson(r), Status::Ok();
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : r["items"]) {
      rows.push_back({Cell(m["name"]), Cell(m["latest_version"]), Cell(m.value("visibility", json("private"))),
                      FormatTime(m.value("created_at", 0.0))});
    }
    PrintTable({"NAME", "LATEST", "VISIBILITY", "CREATED"}, rows);
    return Status::Ok();
  }));
  struct ShowArgs { std::string name; int version = 0; };
  auto sh = std::make_shared<ShowArgs>();
  AddProfileCommand(*models, flags, exit_code);
  AddModelUploadCommand(*models, flags, exit_code);
  AddLmCommands(*models, flags, exit_code);
  auto* show = models->add_subcommand("show", "Show a model version: metrics and lineage");
  show->add_option("name", sh->name)->required();
  show->add_option("--version,-v", sh->version, "version (default: latest)");
  show->callback(Wrap(flags, exit_code, [flags, sh](Api& api) -> Status {
    std::string target = "/v1/models/" + UrlPart(sh->name) + "/versions/" +
                         (sh->version > 0 ? std::to_string(sh->version) : std::string("latest"));
    SSKAI_ASSIGN_OR_RETURN(json v, api.Call("GET", target));
    if (flags->json) return PrintJson(v), Status::Ok();
    std::cout << "Model " << sh->name << " v" << Cell(v["version"]) << " (" << Cell(v["kind"])
              << ", " << Cell(v["task"]) << ", " << FormatBytes(v.value("size_bytes", 0.0)) << ")\n";
    const json& lin = v["lineage"];
    if (lin.contains("dataset")) {
      std::cout << "  trained on dataset " << Cell(lin["dataset"]["name"]) << " v"
                << Cell(lin["dataset"]["version"]);
      if (lin.contains("job_id")) std::cout << " by job " << Cell(lin["job_id"]);
      std::cout << "\n";
    }
    for (auto it = v["metrics"].begin(); it != v["metrics"].end(); ++it) {
      std::cout << "  " << it.key() << ": " << Cell(it.value()) << "\n";
    }
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
