// src/ml/torchscript.cc — user TorchScript archives: checks, loading, validation by running.
#include "ml/torchscript.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sskai::ml {

using nlohmann::json;

bool LooksLikeZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

Status CheckTorchScriptArchive(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound("model file '" + path + "' not found");
  if (!LooksLikeZip(path)) {
    std::ifstream in(path, std::ios::binary);
    int first = in.get();
    if (first == 0x80) {
      return Status::InvalidArgument(
          "this is a Python pickle (legacy torch.save), not a TorchScript archive; sskai never unpickles "
          "Python objects: export the model with torch.jit.script(model) or torch.jit.trace(model, example) "
          "and save it with torch.jit.save");
    }
    return Status::InvalidArgument("not a TorchScript archive: the file is not a zip (save the model with "
                                   "torch.jit.save)");
  }
  std::vector<std::string> records;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    records = reader.getAllRecords();
  } catch (const std::exception& e) {
    std::string what = e.what();
    auto nl = what.find('\n');
    if (nl != std::string::npos) what = what.substr(0, nl);
    return Status::InvalidArgument("not a readable TorchScript archive (truncated or corrupt zip): " + what);
  }
  bool code = false, constants = false, data = false;
  // Names are relative to the archive's top folder (tolerate the folder being kept).
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s == tail || (s.size() > tail.size() && s.compare(s.size() - tail.size() - 1, tail.size() + 1, "/" + tail) == 0);
  };
  for (const auto& r : records) {
    code = code || r.rfind("code/", 0) == 0 || r.find("/code/") != std::string::npos;
    constants = constants || ends_with(r, "constants.pkl");
    data = data || ends_with(r, "data.pkl");
  }
  if (!code && data) {
    return Status::InvalidArgument(
        "this archive is a pickled eager PyTorch model (torch.save), not TorchScript: it has no code/; sskai "
        "never unpickles Python objects: export it with torch.jit.script(model) or torch.jit.trace(model, "
        "example) and save it with torch.jit.save");
  }
  if (!code || !constants) {
    return Status::InvalidArgument("not a TorchScript archive: the zip has no " +
                                   std::string(!code ? "code/" : "constants.pkl") + " (save with torch.jit.save)");
  }
  return Status::Ok();
}

torch::ScalarType DtypeOf(const std::string& d) {
  if (d == "float64") return torch::kFloat64;
  if (d == "float16") return torch::kFloat16;
  if (d == "bfloat16") return torch::kBFloat16;
  if (d == "int64") return torch::kInt64;
  if (d == "int32") return torch::kInt32;
  if (d == "int16") return torch::kInt16;
  if (d == "int8") return torch::kInt8;
  if (d == "uint8") return torch::kUInt8;
  if (d == "bool") return torch::kBool;
  return torch::kFloat32;
}

std::string DtypeName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat64: return "float64";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kInt64: return "int64";
    case torch::kInt32: return "int32";
    case torch::kInt16: return "int16";
    case torch::kInt8: return "int8";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::vector<torch::jit::IValue> RandomInputs(const TorchScriptSpec& spec, int64_t batch) {
  std::vector<torch::jit::IValue> inputs;
  for (const auto& t : spec.inputs) {
    std::vector<int64_t> shape = t.shape;
    if (!shape.empty() && shape[0] < 0) shape[0] = batch;
    torch::ScalarType type = DtypeOf(t.dtype);
    double lo = t.has_range ? t.range_lo : 0, hi = t.has_range ? t.range_hi : 1;
    torch::Tensor x;
    if (c10::isFloatingType(type)) {
      x = (torch::rand(shape, torch::kFloat64) * (hi - lo) + lo).to(type);
    } else if (type == torch::kBool) {
      x = torch::randint(0, 2, shape, torch::kInt64).to(torch::kBool);
    } else {
      auto ilo = static_cast<int64_t>(std::ceil(lo)), ihi = static_cast<int64_t>(std::floor(hi));
      if (ihi < ilo) ihi = ilo;
      x = torch::randint(ilo, ihi + 1, shape, torch::kInt64).to(type);
    }
    inputs.emplace_back(x);
  }
  return inputs;
}

Result<std::vector<torch::Tensor>> RunForward(torch::jit::Module& module, std::vector<torch::jit::IValue> inputs) {
  torch::jit::IValue out;
  try {
    out = module.forward(std::move(inputs));
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 2000) what = what.substr(0, 2000) + "...";
    return Status::InvalidArgument("forward failed: " + what);
  }
  std::vector<torch::Tensor> tensors;
  auto add = [&tensors](const torch::jit::IValue& v) {
    if (!v.isTensor()) return false;
    tensors.push_back(v.toTensor());
    return true;
  };
  bool ok = true;
  if (out.isTensor()) {
    add(out);
  } else if (out.isTuple()) {
    for (const auto& v : out.toTupleRef().elements()) ok = ok && add(v);
  } else if (out.isList()) {
    for (const auto& v : out.toListRef()) ok = ok && add(v);
  } else {
    ok = false;
  }
  if (!ok || tensors.empty()) {
    return Status::InvalidArgument("forward returned " + out.tagKind() +
                                   "; sskai needs a tensor or a tuple/list of tensors");
  }
  return tensors;
}

Result<LoadedScript> LoadStoredScript(const std::string& path) {
  SSKAI_RETURN_IF_ERROR(CheckTorchScriptArchive(path));
  LoadedScript loaded;
  torch::jit::ExtraFilesMap extra{{kSpecExtraFile, ""}};
  try {
    loaded.module = torch::jit::load(path, c10::Device(c10::kCPU), extra);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 2000) what = what.substr(0, 2000) + "...";
    return Status::InvalidArgument("the TorchScript archive does not load: " + what);
  }
  loaded.module.eval();
  json report = json::parse(extra[kSpecExtraFile], nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object() || !report.contains("spec")) {
    return Status::InvalidArgument(path + ": TorchScript archive without an sskai spec (upload it through "
                                          "POST /v1/models/{name}/versions)");
  }
  SSKAI_ASSIGN_OR_RETURN(loaded.spec, TorchScriptSpecFromJson(report["spec"].dump()));
  loaded.report_json = report.dump();
  return loaded;
}

namespace {

// "output 0 has shape [4,3], spec says [-1,10]" when `observed` contradicts `expected`.
Status CheckShape(const std::string& what, const std::vector<int64_t>& observed, const std::vector<int64_t>& expected) {
  bool ok = observed.size() == expected.size();
  for (size_t idx = 0; ok && idx < expected.size(); ++idx) ok = expected[idx] < 0 || expected[idx] == observed[idx];
  if (ok) return Status::Ok();
  return Status::InvalidArgument(what + " has shape " + ShapeToString(observed) + ", spec says " +
                                 ShapeToString(expected));
}

// Checks one run's outputs against the spec and the task.
Status CheckOutputs(const TorchScriptSpec& spec, const std::vector<torch::Tensor>& outs, int64_t batch) {
  if (!spec.outputs.empty() && outs.size() != spec.outputs.size()) {
    return Status::InvalidArgument("the model returned " + std::to_string(outs.size()) + " outputs, spec says " +
                                   std::to_string(spec.outputs.size()));
  }
  for (size_t idx = 0; idx < spec.outputs.size(); ++idx) {
    std::vector<int64_t> shape(outs[idx].sizes().begin(), outs[idx].sizes().end());
    if (!spec.outputs[idx].shape.empty()) {
      SSKAI_RETURN_IF_ERROR(CheckShape("output " + std::to_string(idx), shape, spec.outputs[idx].shape));
    }
  }
  if (spec.task == "tensor") return Status::Ok();
  const torch::Tensor& out = outs[0];
  std::vector<int64_t> shape(out.sizes().begin(), out.sizes().end());
  if (!c10::isFloatingType(out.scalar_type())) {
    return Status::InvalidArgument("output 0 has dtype " + DtypeName(out.scalar_type()) + "; task " + spec.task +
                                   " needs floating-point outputs");
  }
  if (spec.task == "classification") {
    std::vector<int64_t> want = {-1, spec.classes.empty() ? -1 : static_cast<int64_t>(spec.classes.size())};
    if (shape.size() != 2 || shape[0] != batch || (want[1] > 0 && shape[1] != want[1])) {
      return Status::InvalidArgument("output 0 has shape " + ShapeToString(shape) + ", task classification needs " +
                                     ShapeToString(want) + " (logits, one column per class)");
    }
  } else {  // regression
    bool ok = (shape.size() == 1 && shape[0] == batch) || (shape.size() == 2 && shape[0] == batch && shape[1] == 1);
    if (!ok) {
      return Status::InvalidArgument("output 0 has shape " + ShapeToString(shape) +
                                     ", task regression needs [-1] or [-1,1]");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ValidateTorchScriptFile(const std::string& file_path, const std::string& spec_json,
                                            const std::string& out_path) {
  SSKAI_ASSIGN_OR_RETURN(TorchScriptSpec spec, TorchScriptSpecFromJson(spec_json));
  SSKAI_RETURN_IF_ERROR(CheckTorchScriptArchive(file_path));
  torch::jit::Module module;
  try {
    module = torch::jit::load(file_path, c10::Device(c10::kCPU));
  } catch (const std::exception& e) {
    std::string what = e.what();
    auto nl = what.find("\n\n");
    if (nl != std::string::npos && nl > 0) what = what.substr(0, nl);
    if (what.size() > 2000) what = what.substr(0, 2000) + "...";
    return Status::InvalidArgument("the TorchScript archive does not load: " + what);
  }
  module.eval();
  if (!module.find_method("forward")) return Status::InvalidArgument("the module has no forward method");
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  std::vector<std::vector<int64_t>> shapes1, shapes4;
  std::vector<std::string> dtypes;
  for (int64_t batch : {int64_t{4}, int64_t{1}}) {
    auto outs = RunForward(module, RandomInputs(spec, batch));
    if (!outs.ok()) return outs.status().WithPrefix("on random inputs of the spec at batch " + std::to_string(batch));
    SSKAI_RETURN_IF_ERROR(CheckOutputs(spec, *outs, batch));
    for (const auto& t : *outs) {
      if (t.numel() > 0 && c10::isFloatingType(t.scalar_type()) && !torch::isfinite(t).all().item<bool>()) {
        return Status::InvalidArgument("at batch " + std::to_string(batch) + " the model returned NaN or infinity");
      }
      (batch == 1 ? shapes1 : shapes4).emplace_back(t.sizes().begin(), t.sizes().end());
      if (batch == 4) dtypes.push_back(DtypeName(t.scalar_type()));
    }
  }
  if (shapes1.size() != shapes4.size()) {
    return Status::InvalidArgument("the model returned a different number of outputs at batch 1 and 4");
  }
  json observed = json::array();
  for (size_t idx = 0; idx < shapes4.size(); ++idx) {
    std::vector<int64_t> shape = shapes4[idx];
    // The batch dimension: 1 at batch 1 and 4 at batch 4.
    if (!shape.empty() && shape[0] == 4 && !shapes1[idx].empty() && shapes1[idx][0] == 1) shape[0] = -1;
    std::string name = idx < spec.outputs.size() ? spec.outputs[idx].name : "output-" + std::to_string(idx);
    observed.push_back({{"name", name}, {"shape", shape}, {"dtype", dtypes[idx]}});
  }
  int64_t parameters = 0;
  for (const auto& p : module.parameters()) parameters += p.numel();
  json report = {{"spec", json::parse(TorchScriptSpecToJson(spec))},
                 {"observed_outputs", observed},
                 {"parameters", parameters}};
  try {
    module.save(out_path, {{kSpecExtraFile, report.dump()}});
  } catch (const std::exception& e) {
    std::remove(out_path.c_str());
    return Status::Internal(std::string("saving the validated module: ") + e.what());
  }
  return report.dump();
}

}  // namespace sskai::ml
