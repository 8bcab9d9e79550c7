// sskai models upload: a TorchScript file with its input spec (POST /v1/models/{name}/versions).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"

namespace sskai::cli {

void AddModelUploadCommand(CLI::App& models, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  struct Args { std::string file, name, spec; };
  auto a = std::make_shared<Args>();
  auto* upload = models.add_subcommand("upload", "Upload a TorchScript model (torch.jit.save) with its input spec");
  upload->add_option("file", a->file, "TorchScript archive (.pt) from torch.jit.script/trace + torch.jit.save")
      ->required();
  upload->add_option("--name,-n", a->name, "model name (default: the file name without extension)");
  upload->add_option("--spec", a->spec,
                     "input spec: a JSON file, or inline JSON {\"inputs\":[{\"name\",\"shape\",\"dtype\",\"range\"}],"
                     "\"outputs\",\"task\",\"classes\"}")
      ->required();
  upload->callback(Wrap(flags, exit_code, [flags, a](Api& api) -> Status {
    std::string spec = a->spec;
    if (spec.empty() || spec[0] != '{') {
      std::ifstream in(a->spec);
      if (!in) return Status::InvalidArgument("--spec: cannot read '" + a->spec + "'");
      std::stringstream buf;
      buf << in.rdbuf();
      spec = buf.str();
    }
    json parsed = json::parse(spec, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return Status::InvalidArgument("--spec: not valid JSON");
    std::string base = a->file.substr(a->file.find_last_of('/') + 1);
    std::string name = a->name.empty() ? base.substr(0, base.find('.')) : a->name;
    std::string target = "/v1/models/" + UrlPart(name) + "/versions?filename=" + UrlPart(base) +
                         "&spec=" + UrlPart(parsed.dump());
    SSKAI_ASSIGN_OR_RETURN(json v, api.Upload(target, a->file, !flags->json && isatty(2)));
    if (flags->json) {
      std::cout << v.dump(2) << "\n";
      return Status::Ok();
    }
    std::string outputs;
    for (const auto& o : v["metadata"].value("observed_outputs", json::array())) {
      outputs += (outputs.empty() ? "" : ", ") + o.value("name", "") + " " + o["shape"].dump() + " " +
                 o.value("dtype", "");
    }
    std::cout << "Uploaded model '" << name << "' version " << Cell(v["version"]) << " (TorchScript, "
              << Cell(v["task"]) << "): validated, outputs " << outputs << ", "
              << FormatBytes(v.value("size_bytes", 0.0)) << "\n";
    return Status::Ok();
  }));
}

}  // namespace sskai::cli
