// src/ml/torchscript_predict.cc — serving a stored TorchScript model: JSON rows or OIP tensors in,
// raw output tensors (+ labels/probabilities or values by task) out.
#include <mutex>
#include <numeric>

#include "ml/torchscript.h"

namespace sskai::ml {
namespace {

using nlohmann::json;

constexpr int64_t kMaxValues = 64ll << 20;  // per request and input

int64_t Product(const std::vector<int64_t>& shape, size_t from) {
  return std::accumulate(shape.begin() + static_cast<long>(std::min(from, shape.size())), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}

// Appends the numbers (or booleans) of a nested array; false on another leaf.
bool FlattenValues(const json& v, std::vector<double>* out) {
  if (v.is_number()) {
    out->push_back(v.get<double>());
    return true;
  }
  if (v.is_boolean()) {
    out->push_back(v.get<bool>() ? 1 : 0);
    return true;
  }
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (static_cast<int64_t>(out->size()) > kMaxValues) return true;
    if (!FlattenValues(e, out)) return false;
  }
  return true;
}

torch::Tensor MakeTensor(std::vector<double>& values, const std::vector<int64_t>& shape, const std::string& dtype) {
  // copy=true: the tensor must not alias `values`, which dies with the request.
  return torch::from_blob(values.data(), shape, torch::kFloat64).to(DtypeOf(dtype), /*non_blocking=*/false, /*copy=*/true);
}

class TorchScriptPredictor : public Predictor {
 public:
  explicit TorchScriptPredictor(LoadedScript loaded) : loaded_(std::move(loaded)) {
    json meta = json::parse(loaded_.report_json);
    meta["format"] = "torchscript";
    metadata_json_ = meta.dump();
  }

  Result<PredictOutput> PredictJson(const std::string& input_json) override {
    json in = json::parse(input_json, nullptr, /*allow_exceptions=*/false);
    if (in.is_discarded()) return Status::InvalidArgument("input: not valid JSON");
    std::vector<torch::jit::IValue> inputs;
    int64_t batch = 0;
    if (in.is_object() && in.contains("inputs") && in["inputs"].is_array() && !in["inputs"].empty() &&
        in["inputs"][0].is_object()) {
      SSKAI_RETURN_IF_ERROR(FromTensors(in["inputs"], &inputs, &batch));
    } else {
      if (in.is_object()) {
        for (const char* key : {"instances", "inputs", "rows"}) {
          if (in.contains(key)) {
            in = in[key];
            break;
          }
        }
      }
      if (!in.is_array()) {
        return Status::InvalidArgument("input: expected {\"instances\": [...]} (one entry per row) or OIP tensors "
                                       "{\"inputs\": [{\"name\",\"shape\",\"datatype\",\"data\"}]}");
      }
      SSKAI_RETURN_IF_ERROR(FromRows(in, &inputs, &batch));
    }
    std::lock_guard<std::mutex> lock(mu_);
    torch::NoGradGuard no_grad;
    SSKAI_ASSIGN_OR_RETURN(std::vector<torch::Tensor> outs, RunForward(loaded_.module, std::move(inputs)));
    return Decode(outs, batch);
  }

  std::string metadata_json() const override { return metadata_json_; }

 private:
  const TorchScriptSpec& spec() const { return loaded_.spec; }

  // Each row: a nested array (one-input models) or an object {input name: nested array}.
  Status FromRows(const json& rows, std::vector<torch::jit::IValue>* inputs, int64_t* batch) const {
    if (rows.empty()) return Status::InvalidArgument("input: no instances");
    const size_t n_inputs = spec().inputs.size();
    std::vector<std::vector<double>> values(n_inputs);
    for (size_t row = 0; row < rows.size(); ++row) {
      const json& r = rows[row];
      for (size_t idx = 0; idx < n_inputs; ++idx) {
        const TensorSpec& t = spec().inputs[idx];
        const json* v = &r;
        if (r.is_object()) {
          if (!r.contains(t.name)) {
            return Status::InvalidArgument("instance " + std::to_string(row) + ": missing input '" + t.name + "'");
          }
          v = &r[t.name];
        } else if (n_inputs > 1) {
          return Status::InvalidArgument("instance " + std::to_string(row) + ": this model takes " +
                                         std::to_string(n_inputs) + " inputs; give an object {input name: values}");
        }
        size_t before = values[idx].size();
        if (!FlattenValues(*v, &values[idx])) {
          return Status::InvalidArgument("instance " + std::to_string(row) + ", input '" + t.name +
                                         "': expected numbers");
        }
        int64_t want = Product(t.shape, 1);
        int64_t got = static_cast<int64_t>(values[idx].size() - before);
        if (got != want) {
          std::vector<int64_t> row_shape(t.shape.begin() + 1, t.shape.end());
          return Status::InvalidArgument("instance " + std::to_string(row) + ", input '" + t.name + "': expected " +
                                         std::to_string(want) + " values (shape " + ShapeToString(row_shape) +
                                         "), got " + std::to_string(got));
        }
      }
    }
    *batch = static_cast<int64_t>(rows.size());
    for (size_t idx = 0; idx < n_inputs; ++idx) {
      std::vector<int64_t> shape = spec().inputs[idx].shape;
      shape[0] = *batch;
      inputs->emplace_back(MakeTensor(values[idx], shape, spec().inputs[idx].dtype));
    }
    return Status::Ok();
  }

  // OIP tensors by name (a one-input model takes its single tensor under any name).
  Status FromTensors(const json& tensors, std::vector<torch::jit::IValue>* inputs, int64_t* batch) const {
    const size_t n_inputs = spec().inputs.size();
    if (tensors.size() != n_inputs) {
      return Status::InvalidArgument("inputs: this model takes " + std::to_string(n_inputs) + " tensors, got " +
                                     std::to_string(tensors.size()));
    }
    *batch = -1;
    for (size_t idx = 0; idx < n_inputs; ++idx) {
      const TensorSpec& t = spec().inputs[idx];
      const json* found = nullptr;
      for (const auto& x : tensors) {
        if (x.is_object() && x.value("name", "") == t.name) found = &x;
      }
      if (!found && n_inputs == 1) found = &tensors[0];
      if (!found) return Status::InvalidArgument("inputs: missing tensor '" + t.name + "'");
      const json& x = *found;
      std::vector<int64_t> shape;
      if (!x.contains("shape") || !x["shape"].is_array()) {
        return Status::InvalidArgument("input '" + t.name + "': field 'shape' must be an array of integers");
      }
      for (const auto& d : x["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) {
          return Status::InvalidArgument("input '" + t.name + "': field 'shape' must be an array of integers >= 0");
        }
        shape.push_back(d.get<int64_t>());
      }
      bool ok = shape.size() == t.shape.size() && !shape.empty() && shape[0] > 0;
      for (size_t dim = 1; ok && dim < shape.size(); ++dim) ok = shape[dim] == t.shape[dim];
      if (!ok || (*batch >= 0 && shape[0] != *batch)) {
        return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeToString(shape) +
                                       " does not match the spec's " + ShapeToString(t.shape) +
                                       (*batch >= 0 ? " with batch " + std::to_string(*batch) : ""));
      }
      *batch = shape[0];
      std::vector<double> values;
      if (!x.contains("data") || !FlattenValues(x["data"], &values)) {
        return Status::InvalidArgument("input '" + t.name + "': field 'data' must be an array of numbers");
      }
      if (static_cast<int64_t>(values.size()) != Product(shape, 0)) {
        return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeToString(shape) + " holds " +
                                       std::to_string(Product(shape, 0)) + " values, data has " +
                                       std::to_string(values.size()));
      }
      inputs->emplace_back(MakeTensor(values, shape, t.dtype));
    }
    return Status::Ok();
  }

  Result<PredictOutput> Decode(const std::vector<torch::Tensor>& outs, int64_t batch) const {
    PredictOutput result;
    for (size_t idx = 0; idx < outs.size(); ++idx) {
      OutputTensor o;
      o.name = idx < spec().outputs.size() ? spec().outputs[idx].name : "output-" + std::to_string(idx);
      o.dtype = DtypeName(outs[idx].scalar_type());
      o.shape.assign(outs[idx].sizes().begin(), outs[idx].sizes().end());
      torch::Tensor d = outs[idx].to(torch::kFloat64).contiguous();
      o.data.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
      result.tensors.push_back(std::move(o));
    }
    if (spec().task == "tensor") return result;
    const torch::Tensor& out = outs[0];
    if (out.dim() < 1 || out.size(0) != batch) {
      return Status::Internal("output 0 has shape " + ShapeToString(result.tensors[0].shape) +
                              ", expected the batch of " + std::to_string(batch) + " first");
    }
    if (spec().task == "regression") {
      result.values = result.tensors[0].data;
      return result;
    }
    result.classes = spec().classes;
    auto probs = torch::softmax(out.to(torch::kFloat64), 1).contiguous();
    auto best = probs.argmax(1);
    const double* p = probs.data_ptr<double>();
    const int64_t k = probs.size(1);
    for (int64_t row = 0; row < batch; ++row) {
      result.probabilities.emplace_back(p + row * k, p + (row + 1) * k);
      int64_t cls = best[row].item<int64_t>();
      result.labels.push_back(cls < static_cast<int64_t>(result.classes.size()) ? result.classes[cls]
                                                                               : std::to_string(cls));
    }
    return result;
  }

  LoadedScript loaded_;
  std::string metadata_json_;
  std::mutex mu_;  // one forward at a time per module
};

}  // namespace

Result<std::unique_ptr<Predictor>> LoadTorchScriptPredictor(const std::string& path) {
  SSKAI_ASSIGN_OR_RETURN(LoadedScript loaded, LoadStoredScript(path));
  return std::unique_ptr<Predictor>(std::make_unique<TorchScriptPredictor>(std::move(loaded)));
}

}  // namespace sskai::ml
