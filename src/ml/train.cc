// src/ml/train.cc — the built-in models' entry points: tabular and image data become a Problem
// for the training loop (train_loop.cc).
#include "common/sha256.h"
#include "data/data.h"
#include "ml/train_loop.h"

namespace sskai::ml {
namespace {

std::string Fingerprint(const void* x, size_t x_bytes, const void* y, size_t y_bytes) {
  Sha256 h;
  h.Update(x, x_bytes);
  h.Update(y, y_bytes);
  return h.HexDigest();
}

}  // namespace

Result<TrainResult> RunTabularTraining(const data::TabularData& d, const TrainSpec& spec,
                                       const std::string& resume_checkpoint, const std::string& work_dir,
                                       const TrainCallbacks& callbacks) {
  if (spec.model == "cnn") return Status::InvalidArgument("model: cnn needs image data; use mlp for tables");
  if (d.rows < 2 || d.features < 1 || d.x.size() != static_cast<size_t>(d.rows * d.features) ||
      d.y.size() != static_cast<size_t>(d.rows)) {
    return Status::InvalidArgument("training data: inconsistent tabular shape (rows " + std::to_string(d.rows) +
                                   ", features " + std::to_string(d.features) + ")");
  }
  Problem p;
  p.task = !spec.task.empty() ? spec.task : (d.classes.empty() ? "regression" : "classification");
  p.classes = p.task == "classification" ? d.classes : std::vector<std::string>{};
  if (p.task == "classification" && p.classes.size() < 2) {
    return Status::InvalidArgument("task: classification needs at least 2 classes, the data has " +
                                   std::to_string(d.classes.size()));
  }
  p.net = {.kind = "mlp", .features = d.features, .hidden = spec.hidden,
           .outputs = p.task == "classification" ? static_cast<int64_t>(p.classes.size()) : 1};
  p.x = torch::from_blob(const_cast<float*>(d.x.data()), {d.rows, d.features}, torch::kFloat).clone();
  auto y = torch::from_blob(const_cast<float*>(d.y.data()), {d.rows}, torch::kFloat).clone();
  if (p.task == "classification") {
    p.y = y.to(torch::kInt64);
    if (p.y.min().item<int64_t>() < 0 || p.y.max().item<int64_t>() >= p.net.outputs) {
      return Status::InvalidArgument("training data: class index out of range");
    }
  } else {
    p.y = y;
  }
  std::vector<std::string> columns;
  if (!d.encoder_json.empty()) {
    auto enc = data::TabularEncoder::FromJson(d.encoder_json);
    if (!enc.ok()) return enc.status().WithPrefix("encoder_json");
    columns = enc->columns();
  }
  p.input = {{"kind", "tabular"}, {"features", d.features}, {"columns", columns}};
  p.encoder_json = d.encoder_json;
  p.fingerprint = Fingerprint(d.x.data(), d.x.size() * sizeof(float), d.y.data(), d.y.size() * sizeof(float));
  return TrainProblem(p, spec, resume_checkpoint, work_dir, callbacks);
}

Result<TrainResult> RunImageTraining(const data::ImageData& d, const TrainSpec& spec,
                                     const std::string& resume_checkpoint, const std::string& work_dir,
                                     const TrainCallbacks& callbacks) {
  if (spec.model == "mlp") return Status::InvalidArgument("model: mlp needs tabular data; use cnn for images");
  if (spec.task == "regression") return Status::InvalidArgument("task: image models support only classification");
  const int64_t per_image = d.channels * d.height * d.width;
  if (d.count < 2 || d.channels < 1 || d.channels > 4 || d.height < 4 || d.width < 4 ||
      d.pixels.size() != static_cast<size_t>(d.count * per_image) || d.labels.size() != static_cast<size_t>(d.count)) {
    return Status::InvalidArgument("training data: inconsistent image shape (count " + std::to_string(d.count) +
                                   ", " + std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
                                   std::to_string(d.width) + "; need channels 1-4 and at least 4x4)");
  }
  if (d.classes.size() < 2) return Status::InvalidArgument("training data: need at least 2 classes");
  Problem p;
  p.task = "classification";
  p.classes = d.classes;
  p.net = {.kind = "cnn", .features = 0, .hidden = {}, .outputs = static_cast<int64_t>(d.classes.size()),
           .channels = d.channels, .height = d.height, .width = d.width};
  p.x = torch::from_blob(const_cast<uint8_t*>(d.pixels.data()), {d.count, d.channels, d.height, d.width},
                         torch::kUInt8).clone();
  p.y = torch::from_blob(const_cast<int64_t*>(d.labels.data()), {d.count}, torch::kInt64).clone();
  if (p.y.min().item<int64_t>() < 0 || p.y.max().item<int64_t>() >= p.net.outputs) {
    return Status::InvalidArgument("training data: label out of range");
  }
  p.input = {{"kind", "image"}, {"channels", d.channels}, {"height", d.height}, {"width", d.width}};
  p.fingerprint = Fingerprint(d.pixels.data(), d.pixels.size(), d.labels.data(), d.labels.size() * sizeof(int64_t));
  return TrainProblem(p, spec, resume_checkpoint, work_dir, callbacks);
}

}  // namespace sskai::ml
