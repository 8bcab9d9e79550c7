// Open Inference Protocol v2 (KServe / Triton REST): health, model metadata and readiness, and
// infer with the JSON tensor format, routed to the caller's endpoint named {name}. Errors use
// the protocol's own shape: {"error": "<message>"}.
#include <map>
#include <numeric>

#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {
namespace {

http::Response OipError(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}
http::Response OipError(const Status& st) {
  return OipError(http::HttpStatusFor(st.code()), st.message());
}

// The model's input description from the stored artifact metadata ("input" of spec_json).
struct ModelInput {
  std::string kind;                  // "tabular" | "image" | "" (unknown)
  std::vector<std::string> columns;  // tabular
  int64_t channels = 1, height = 0, width = 0;
  std::string task;
  std::vector<std::string> classes;
  json spec, observed_outputs;       // torchscript: the uploaded spec and the validated outputs
};

std::string OipDatatypeOf(const std::string& dtype) {
  static const std::map<std::string, std::string> kNames = {
      {"float32", "FP32"}, {"float64", "FP64"}, {"float16", "FP16"}, {"bfloat16", "BF16"}, {"int64", "INT64"},
      {"int32", "INT32"},  {"int16", "INT16"},  {"int8", "INT8"},    {"uint8", "UINT8"},   {"bool", "BOOL"}};
  auto it = kNames.find(dtype);
  return it == kNames.end() ? "FP32" : it->second;
}

ModelInput InputOf(const store::ModelVersion& mv) {
  ModelInput in;
  json meta = ParseStoredJson(mv.spec_json);
  in.task = mv.task;
  if (meta.contains("classes") && meta["classes"].is_array()) {
    for (const auto& c : meta["classes"]) in.classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  }
  const json& input = meta.contains("input") ? meta["input"] : json::object();
  if (!input.is_object()) return in;
  in.kind = input.value("kind", "");
  if (in.kind == "torchscript") {
    in.spec = meta.contains("spec") ? meta["spec"] : json::object();
    in.observed_outputs = meta.contains("observed_outputs") ? meta["observed_outputs"] : json::array();
    return in;
  }
  if (in.kind == "tabular" && input.contains("columns") && input["columns"].is_array()) {
    for (const auto& c : input["columns"]) {
      if (c.is_string()) in.columns.push_back(c.get<std::string>());
    }
    if (in.columns.empty()) in.kind = "";
  } else if (in.kind == "image") {
    in.channels = input.value("channels", int64_t{1});
    in.height = input.value("height", int64_t{0});
    in.width = input.value("width", int64_t{0});
  }
  return in;
}

json ShapeJson(const ModelInput& in) {
  if (in.kind == "tabular") return json::array({-1, static_cast<int64_t>(in.columns.size())});
  if (in.kind == "image") return json::array({-1, in.channels, in.height, in.width});
  return json::array({-1, -1});
}

void Flatten(const json& v, std::vector<const json*>* out) {
  if (v.is_array()) {
    for (const auto& x : v) Flatten(x, out);
  } else {
    out->push_back(&v);
  }
}

bool IsNumericType(const std::string& t) {
  static const char* kTypes[] = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                 "INT32", "INT64",  "FP16",   "FP32",   "FP64",  "BF16"};
  return std::find_if(std::begin(kTypes), std::end(kTypes),
                      [&](const char* k) { return t == k; }) != std::end(kTypes);
}

struct Tensor {
  std::string name, datatype;
  std::vector<int64_t> shape;
  std::vector<const json*> values;  // flattened, row-major
};

Result<Tensor> ParseTensor(const json& in, size_t index) {
  std::string where = "inputs[" + std::to_string(index) + "]";
  if (!in.is_object()) return Status::InvalidArgument(where + ": expected an object");
  Tensor t;
  if (!in.contains("name") || !in["name"].is_string()) {
    return Status::InvalidArgument(where + ": field 'name' must be a string");
  }
  t.name = in["name"].get<std::string>();
  where = "input '" + t.name + "'";
  if (!in.contains("datatype") || !in["datatype"].is_string()) {
    return Status::InvalidArgument(where + ": field 'datatype' must be a string");
  }
  t.datatype = in["datatype"].get<std::string>();
  if (!IsNumericType(t.datatype) && t.datatype != "BOOL" && t.datatype != "BYTES") {
    return Status::InvalidArgument(where + ": unknown datatype '" + t.datatype + "'");
  }
  if (!in.contains("shape") || !in["shape"].is_array()) {
    return Status::InvalidArgument(where + ": field 'shape' must be an array of integers");
  }
  for (const auto& d : in["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return Status::InvalidArgument(where + ": field 'shape' must be an array of integers >= 0");
    }
    t.shape.push_back(d.get<int64_t>());
  }
  if (!in.contains("data")) return Status::InvalidArgument(where + ": field 'data' is missing");
  Flatten(in["data"], &t.values);
  int64_t expected = std::accumulate(t.shape.begin(), t.shape.end(), int64_t{1},
                                     std::multiplies<int64_t>());
  if (static_cast<int64_t>(t.values.size()) != expected) {
    return Status::InvalidArgument(where + ": shape " + in["shape"].dump() + " holds " +
                                   std::to_string(expected) + " values, data has " +
                                   std::to_string(t.values.size()));
  }
  for (const json* v : t.values) {
    bool ok = IsNumericType(t.datatype) ? v->is_number()
              : t.datatype == "BOOL"    ? v->is_boolean()
                                        : v->is_string();
    if (!ok) {
      return Status::InvalidArgument(where + ": datatype " + t.datatype + " does not allow the value " +
                                     v->dump());
    }
  }
  return t;
}

std::string ShapeText(const std::vector<int64_t>& shape) { return json(shape).dump(); }

// OIP request -> the replica's predict body.
Result<std::string> ToPredictBody(const json& request, const ModelInput& model) {
  if (!request.contains("inputs") || !request["inputs"].is_array() || request["inputs"].empty()) {
    return Status::InvalidArgument("field 'inputs': expected a non-empty array of tensors");
  }
  std::vector<Tensor> tensors;
  for (size_t idx = 0; idx < request["inputs"].size(); ++idx) {
    SSKAI_ASSIGN_OR_RETURN(Tensor t, ParseTensor(request["inputs"][idx], idx));
    tensors.push_back(std::move(t));
  }
  // TorchScript models take the tensors by name; the replica checks them against the spec.
  if (model.kind == "torchscript") return json{{"inputs", request["inputs"]}}.dump();
  if (model.kind == "tabular" && tensors.size() > 1) {
    // One tensor per column, each of shape [N] or [N, 1].
    int64_t rows = -1;
    for (const Tensor& t : tensors) {
      if (std::find(model.columns.begin(), model.columns.end(), t.name) == model.columns.end()) {
        return Status::InvalidArgument("input '" + t.name + "': not a column of the model (" +
                                       json(model.columns).dump() + ")");
      }
      bool column_shape = t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[1] == 1);
      if (!column_shape || (rows >= 0 && t.shape[0] != rows)) {
        return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeText(t.shape) +
                                       " must be [N] or [N, 1] with the same N for every column");
      }
      rows = t.shape[0];
    }
    json out = json::array();
    for (int64_t r = 0; r < rows; ++r) {
      json row = json::object();
      for (const Tensor& t : tensors) row[t.name] = *t.values[static_cast<size_t>(r)];
      out.push_back(std::move(row));
    }
    return out.dump();
  }
  if (tensors.size() != 1) {
    return Status::InvalidArgument("field 'inputs': this model takes one input tensor, got " +
                                   std::to_string(tensors.size()));
  }
  const Tensor& t = tensors[0];
  int64_t width = 0;
  if (model.kind == "tabular") {
    width = static_cast<int64_t>(model.columns.size());
    bool ok = (t.shape.size() == 2 && t.shape[1] == width) ||
              (t.shape.size() == 1 && t.shape[0] == width);
    if (!ok) {
      return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeText(t.shape) +
                                     " does not match the model's [-1, " + std::to_string(width) +
                                     "] (columns " + json(model.columns).dump() + ")");
    }
    if (t.datatype == "BOOL") {
      return Status::InvalidArgument("input '" + t.name + "': datatype BOOL is not supported");
    }
  } else if (model.kind == "image") {
    width = model.channels * model.height * model.width;
    bool ok = (t.shape.size() == 4 && t.shape[1] == model.channels && t.shape[2] == model.height &&
               t.shape[3] == model.width) ||
              (t.shape.size() == 3 && model.channels == 1 && t.shape[1] == model.height &&
               t.shape[2] == model.width) ||
              (t.shape.size() == 2 && t.shape[1] == width);
    if (!ok) {
      return Status::InvalidArgument("input '" + t.name + "': shape " + ShapeText(t.shape) +
                                     " does not match the model's " + ShapeJson(model).dump());
    }
    if (!IsNumericType(t.datatype)) {
      return Status::InvalidArgument("input '" + t.name + "': datatype " + t.datatype +
                                     " is not numeric; images take UINT8/INT*/FP*");
    }
  } else {
    width = t.shape.size() >= 2 ? static_cast<int64_t>(t.values.size()) / std::max<int64_t>(t.shape[0], 1)
                                : static_cast<int64_t>(t.values.size());
  }
  json rows = json::array();
  for (size_t start = 0; width > 0 && start < t.values.size(); start += static_cast<size_t>(width)) {
    json row = json::array();
    for (size_t k = start; k < start + static_cast<size_t>(width); ++k) row.push_back(*t.values[k]);
    rows.push_back(std::move(row));
  }
  if (model.kind == "image") return json{{"instances", rows}}.dump();
  return rows.dump();
}

// The replica's predict answer -> OIP outputs.
json ToOutputs(const json& pred) {
  json outputs = json::array();
  // TorchScript models: their raw output tensors; a tensor-task model has nothing else.
  json raw = json::array();
  if (pred.contains("outputs") && pred["outputs"].is_array()) {
    for (const auto& o : pred["outputs"]) {
      if (!o.is_object()) continue;
      raw.push_back({{"name", o.value("name", "")}, {"datatype", o.value("datatype", "FP64")},
                     {"shape", o.value("shape", json::array())}, {"data", o.value("data", json::array())}});
    }
  }
  if (pred.value("task", "") == "tensor") return raw;
  const json& p = pred.contains("predictions") ? pred["predictions"] : json::array();
  size_t n = p.is_array() ? p.size() : 0;
  bool labels = n > 0 && p[0].is_string();
  outputs.push_back({{"name", labels ? "label" : "value"},
                     {"datatype", labels ? "BYTES" : "FP64"},
                     {"shape", {n}},
                     {"data", p}});
  if (pred.contains("probabilities") && pred["probabilities"].is_array() && n > 0) {
    json flat = json::array();
    size_t k = 0;
    for (const auto& row : pred["probabilities"]) {
      k = row.size();
      for (const auto& v : row) flat.push_back(v);
    }
    outputs.push_back({{"name", "probabilities"}, {"datatype", "FP64"}, {"shape", {n, k}}, {"data", flat}});
  }
  for (auto& o : raw) outputs.push_back(std::move(o));
  return outputs;
}

struct Resolved {
  store::Endpoint ep;
  store::ModelVersion mv;
  std::string model_name;
};

Result<Resolved> Resolve(ApiContext& ctx, const store::User& u, const std::string& name) {
  Resolved r;
  auto ep = ctx.store.GetEndpoint(u.id, name);
  if (!ep.ok()) return Status::NotFound("model '" + name + "' not found (no such endpoint)");
  r.ep = *ep;
  SSKAI_ASSIGN_OR_RETURN(r.mv, ctx.store.GetModelVersionById(ep->model_version_id));
  auto model = ctx.store.GetModelById(r.mv.model_id);
  r.model_name = model.ok() ? model->name : "";
  return r;
}

}  // namespace

void AddOipRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/v2/health/live", [](http::Request&) {
    return JsonResponse(200, {{"live", true}});
  }, {.summary = "OIP v2: server liveness (no auth)"});
  router.AddSync("GET", "/v2/health/ready", [](http::Request&) {
    return JsonResponse(200, {{"ready", true}});
  }, {.summary = "OIP v2: server readiness (no auth)"});
  router.AddSync("GET", "/v2", [&ctx](http::Request&) {
    return JsonResponse(200, {{"name", "sskai"}, {"version", ctx.version}, {"extensions", json::array()}});
  }, {.summary = "OIP v2: server metadata"});

  router.AddSync("GET", "/v2/models/{name}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto r = Resolve(ctx, u, req.params.at("name"));
    if (!r.ok()) return OipError(r.status());
    ModelInput in = InputOf(r->mv);
    json inputs = json::array();
    json outputs = json::array();
    if (in.kind == "torchscript") {
      for (const auto& t : in.spec.value("inputs", json::array())) {
        inputs.push_back({{"name", t.value("name", "")}, {"datatype", OipDatatypeOf(t.value("dtype", "float32"))},
                          {"shape", t.value("shape", json::array())}});
      }
      if (in.task == "regression") {
        outputs.push_back({{"name", "value"}, {"datatype", "FP64"}, {"shape", {-1}}});
      } else if (in.task == "classification") {
        outputs.push_back({{"name", "label"}, {"datatype", "BYTES"}, {"shape", {-1}}});
        outputs.push_back({{"name", "probabilities"}, {"datatype", "FP64"}, {"shape", {-1, -1}}});
      }
      for (const auto& o : in.observed_outputs) {
        outputs.push_back({{"name", o.value("name", "")}, {"datatype", OipDatatypeOf(o.value("dtype", "float32"))},
                           {"shape", o.value("shape", json::array())}});
      }
      return JsonResponse(200, {{"name", r->ep.name}, {"versions", {std::to_string(r->mv.version)}},
                                {"platform", "torchscript"}, {"model", r->model_name},
                                {"inputs", inputs}, {"outputs", outputs}});
    }
    if (in.kind == "tabular") {
      inputs.push_back({{"name", "input-0"}, {"datatype", "FP32"}, {"shape", ShapeJson(in)},
                        {"columns", in.columns}});
    } else {
      inputs.push_back({{"name", "input-0"}, {"datatype", "FP32"}, {"shape", ShapeJson(in)}});
    }
    if (in.task == "regression") {
      outputs.push_back({{"name", "value"}, {"datatype", "FP64"}, {"shape", {-1}}});
    } else {
      outputs.push_back({{"name", "label"}, {"datatype", "BYTES"}, {"shape", {-1}}});
      outputs.push_back({{"name", "probabilities"}, {"datatype", "FP64"},
                         {"shape", {-1, static_cast<int64_t>(in.classes.size())}}});
    }
    return JsonResponse(200, {{"name", r->ep.name},
                              {"versions", {std::to_string(r->mv.version)}},
                              {"platform", "sskai"},
                              {"model", r->model_name},
                              {"inputs", inputs},
                              {"outputs", outputs}});
  }), {.summary = "OIP v2: model metadata of the caller's endpoint {name}"});

  router.AddSync("GET", "/v2/models/{name}/ready", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto r = Resolve(ctx, u, req.params.at("name"));
    if (!r.ok()) return OipError(r.status());
    // A serverless endpoint at zero replicas is ready: the next request starts one. A replica that
    // passed its health check serves before the supervisor records the state in the store.
    bool ready = r->ep.state == serving::kReady || r->ep.state == serving::kIdle;
    if (!ready) {
      auto replicas = ctx.endpoints.Replicas();
      auto it = replicas.find(r->ep.id);
      if (it != replicas.end()) {
        for (const auto& replica : it->second) ready = ready || replica.ready;
      }
    }
    return JsonResponse(ready ? 200 : 503, {{"name", r->ep.name}, {"ready", ready}});
  }), {.summary = "OIP v2: model readiness"});

  router.Add("POST", "/v2/models/{name}/infer",
             AuthedAsyncHandler(ctx, [&ctx](http::Request& req, const store::User& u, http::Responder respond) {
    auto r = Resolve(ctx, u, req.params.at("name"));
    if (!r.ok()) return respond(OipError(r.status()));
    if (r->ep.state == serving::kFailed) {
      return respond(OipError(409, "model '" + r->ep.name + "' failed: " + r->ep.reason));
    }
    json request = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      return respond(OipError(400, "invalid JSON: expected an inference request object"));
    }
    auto body = ToPredictBody(request, InputOf(r->mv));
    if (!body.ok()) return respond(OipError(body.status()));
    std::string id = request.contains("id") && request["id"].is_string() ? request["id"].get<std::string>() : "";
    std::string name = r->ep.name, version = std::to_string(r->mv.version);
    ctx.endpoints.Predict(r->ep, std::move(*body), [respond, id, name, version](http::Response resp) {
      json answer = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
      if (resp.status != 200) {
        std::string message = resp.body;
        if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
          message = answer["error"].value("message", resp.body);
        }
        http::Response out = OipError(resp.status, message);
        out.headers = resp.headers;
        return respond(std::move(out));
      }
      json out = {{"model_name", name}, {"model_version", version}, {"outputs", ToOutputs(answer)}};
      if (!id.empty()) out["id"] = id;
      respond(JsonResponse(200, out));
    });
  }), {.summary = "OIP v2: infer with JSON tensors {inputs:[{name,shape,datatype,data}]}"});
}

}  // namespace sskai::api
