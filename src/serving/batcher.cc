// Dynamic batching inside a replica: queue, coalesce, one forward pass, split back.
#include "serving/batcher.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>
#include <type_traits>

namespace sskai::serving {

using nlohmann::json;

std::optional<BatchSettings> ParseBatchHeader(const std::string& value) {
  size_t comma = value.find(',');
  if (value.empty() || comma == std::string::npos) return std::nullopt;
  BatchSettings s;
  try {
    s.max_batch_size = std::stoi(value.substr(0, comma));
    s.max_delay = std::chrono::milliseconds(std::stoi(value.substr(comma + 1)));
  } catch (...) {
    return std::nullopt;
  }
  if (s.max_batch_size <= 1 || s.max_batch_size > 1024 || s.max_delay.count() < 0 ||
      s.max_delay.count() > 1000) {
    return std::nullopt;
  }
  return s;
}

namespace {

size_t SkipSpace(std::string_view s, size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) {
    ++pos;
  }
  return pos;
}

// The end of the JSON object or array that starts at `pos`, by bracket depth outside strings
// (the text inside is not validated).
size_t EndOfContainer(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (; pos < s.size(); ++pos) {
    char c = s[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return pos + 1;
    }
  }
  return std::string_view::npos;
}

// True when `body` is certainly not a bare row object, told from its first bytes without
// parsing it: an array, or an object whose first key is an envelope key. (Whether the rest is
// valid JSON is the predictor's business: it parses the body anyway.)
bool ObviouslyNotABareRow(std::string_view s) {
  size_t pos = SkipSpace(s, 0);
  if (pos < s.size() && s[pos] == '[') return true;
  if (pos >= s.size() || s[pos] != '{') return false;
  std::string_view rest = s.substr(SkipSpace(s, pos + 1));
  return rest.starts_with("\"instances\"") || rest.starts_with("\"inputs\"") ||
         rest.starts_with("\"rows\"");
}

}  // namespace

std::optional<std::vector<std::string>> SplitRows(const std::string& body) {
  // Cut the row texts out of the body without parsing them: no document, no re-serialization
  // and no second lexing of every number (the CNN's 784-number rows). The structure around the
  // rows is checked strictly here; the rows themselves are checked by the predictor's parse of
  // the batch, and one that is not valid JSON fails that pass, so each request then runs on its own.
  std::string_view s(body);
  size_t pos = SkipSpace(s, 0);
  bool envelope = false;
  if (pos < s.size() && s[pos] == '{') {  // {"rows": [...]} or {"instances": [...]}, one key
    pos = SkipSpace(s, pos + 1);
    std::string_view rest = s.substr(pos);
    size_t key = rest.starts_with("\"rows\"") ? 6 : rest.starts_with("\"instances\"") ? 11 : 0;
    if (key == 0) return std::nullopt;
    pos = SkipSpace(s, pos + key);
    if (pos >= s.size() || s[pos] != ':') return std::nullopt;
    pos = SkipSpace(s, pos + 1);
    envelope = true;
  }
  if (pos >= s.size() || s[pos] != '[') return std::nullopt;
  std::vector<std::string> out;
  pos = SkipSpace(s, pos + 1);
  while (pos < s.size() && s[pos] != ']') {
    if (s[pos] != '{' && s[pos] != '[') return std::nullopt;  // a bare vector: ambiguous
    size_t end = EndOfContainer(s, pos);
    if (end == std::string_view::npos) return std::nullopt;
    out.emplace_back(s.substr(pos, end - pos));
    pos = SkipSpace(s, end);
    if (pos < s.size() && s[pos] == ',') {
      pos = SkipSpace(s, pos + 1);
      if (pos < s.size() && s[pos] == ']') return std::nullopt;  // a trailing comma
    } else if (pos < s.size() && s[pos] != ']') {
      return std::nullopt;  // rows without a comma between them
    }
  }
  if (out.empty() || pos >= s.size()) return std::nullopt;
  pos = SkipSpace(s, pos + 1);
  if (envelope) {
    if (pos >= s.size() || s[pos] != '}') return std::nullopt;  // another key follows
    pos = SkipSpace(s, pos + 1);
  }
  if (pos != s.size()) return std::nullopt;
  return out;
}

namespace {

// OIP datatype name of an engine dtype ("float32" -> "FP32").
std::string OipDatatype(const std::string& dtype) {
  if (dtype == "float32") return "FP32";
  if (dtype == "float64") return "FP64";
  if (dtype == "float16") return "FP16";
  if (dtype == "bfloat16") return "BF16";
  if (dtype == "bool") return "BOOL";
  std::string upper;
  for (char c : dtype) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;  // int64 -> INT64, uint8 -> UINT8
}

// A tensor's flat data nested by its shape ([2,3] -> [[a,b,c],[d,e,f]]).
json Nest(const std::vector<double>& data, const std::vector<int64_t>& shape, size_t dim, size_t* pos) {
  if (dim >= shape.size()) return data.at((*pos)++);
  json arr = json::array();
  for (int64_t idx = 0; idx < shape[dim]; ++idx) arr.push_back(Nest(data, shape, dim + 1, pos));
  return arr;
}

}  // namespace

std::string PredictionsJson(const ml::PredictOutput& out) {
  json j;
  if (!out.tensors.empty()) {
    json outputs = json::array();
    for (const auto& t : out.tensors) {
      outputs.push_back({{"name", t.name}, {"dtype", t.dtype}, {"datatype", OipDatatype(t.dtype)},
                         {"shape", t.shape}, {"data", t.data}});
    }
    j["outputs"] = std::move(outputs);
    if (out.labels.empty() && out.values.empty() && out.classes.empty()) {
      size_t pos = 0;
      j["task"] = "tensor";
      j["predictions"] = Nest(out.tensors[0].data, out.tensors[0].shape, 0, &pos);
      return j.dump();
    }
  }
  if (!out.labels.empty() || !out.classes.empty()) {
    j["predictions"] = out.labels;
    j["probabilities"] = out.probabilities;
    j["classes"] = out.classes;
  } else {
    j["predictions"] = out.values;
  }
  return j.dump();
}

std::string NormalizeInput(const std::string& body) {
  if (ObviouslyNotABareRow(body)) return body;  // the usual case: no second full JSON parse
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.contains("instances") || j.contains("inputs") || j.contains("rows")) {
    return body;
  }
  return json::array({j}).dump();
}

http::Response PredictOne(ml::Predictor& predictor, const std::string& body) {
  auto out = predictor.PredictJson(NormalizeInput(body));
  if (!out.ok()) return http::ErrorResponse(out.status());
  return http::Response::Json(200, PredictionsJson(*out));
}

namespace {

// Rows [begin, begin + n) of `all`.
ml::PredictOutput Slice(const ml::PredictOutput& all, size_t begin, size_t n) {
  ml::PredictOutput out;
  out.classes = all.classes;
  auto part = [begin, n](const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if (v.size() < begin + n) return V{};
    return V(v.begin() + static_cast<std::ptrdiff_t>(begin),
             v.begin() + static_cast<std::ptrdiff_t>(begin + n));
  };
  out.labels = part(all.labels);
  out.probabilities = part(all.probabilities);
  out.values = part(all.values);
  for (const ml::OutputTensor& t : all.tensors) {  // batch = the first dimension
    ml::OutputTensor piece = t;
    if (!t.shape.empty() && t.shape[0] > 0 && static_cast<size_t>(t.shape[0]) >= begin + n) {
      size_t stride = t.data.size() / static_cast<size_t>(t.shape[0]);
      piece.shape[0] = static_cast<int64_t>(n);
      piece.data.assign(t.data.begin() + static_cast<std::ptrdiff_t>(begin * stride),
                        t.data.begin() + static_cast<std::ptrdiff_t>((begin + n) * stride));
    }
    out.tensors.push_back(std::move(piece));
  }
  return out;
}

size_t RowCount(const ml::PredictOutput& out) {
  size_t tensor_rows = out.tensors.empty() || out.tensors[0].shape.empty()
                           ? 0
                           : static_cast<size_t>(std::max<int64_t>(0, out.tensors[0].shape[0]));
  return std::max({out.labels.size(), out.probabilities.size(), out.values.size(), tensor_rows});
}

}  // namespace

Batcher::Batcher(PredictorFn predictor, int workers) : predictor_(std::move(predictor)) {
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { Loop(); });
}

Batcher::~Batcher() {
  std::deque<Item> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  for (auto& item : left) {
    item.done(http::ErrorResponse(Status::Unavailable("the replica is stopping")));
  }
}

void Batcher::Submit(std::string body, BatchSettings settings, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{std::move(body), settings, std::move(done),
                          std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
}

int64_t Batcher::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

int64_t Batcher::batched_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batched_requests_;
}

void Batcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const BatchSettings s = queue_.front().settings;
    const auto arrived = queue_.front().arrived;
    // Until the oldest request has waited max_delay or the batch is full; another worker may take
    // that request meanwhile (then start over with the new oldest).
    auto taken = [this, arrived] { return queue_.empty() || queue_.front().arrived != arrived; };
    cv_.wait_until(lock, arrived + s.max_delay, [this, &s, &taken] {
      return stop_ || taken() || static_cast<int>(queue_.size()) >= s.max_batch_size;
    });
    if (stop_) return;
    if (taken()) continue;
    std::vector<Item> batch;
    while (!queue_.empty() && static_cast<int>(batch.size()) < s.max_batch_size) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    batches_ += 1;
    batched_requests_ += static_cast<int64_t>(batch.size());
    lock.unlock();
    std::shared_ptr<ml::Predictor> predictor = predictor_();
    if (!predictor) {
      for (auto& item : batch) item.done(http::ErrorResponse(Status::Unavailable("no model loaded")));
    } else {
      Run(batch, *predictor);
    }
    lock.lock();
  }
}

void Batcher::Run(std::vector<Item>& batch, ml::Predictor& predictor) {
  std::vector<size_t> rows(batch.size(), 0);
  std::string input = "[";
  size_t total = 0;
  for (size_t idx = 0; idx < batch.size(); ++idx) {
    auto split = SplitRows(batch[idx].body);
    if (!split) continue;  // runs on its own below
    rows[idx] = split->size();
    for (const std::string& row : *split) {
      if (total > 0) input += ',';
      input += row;
      ++total;
    }
  }
  input += ']';
  std::optional<ml::PredictOutput> all;
  if (total > 0) {
    auto out = predictor.PredictJson(input);
    if (out.ok() && RowCount(*out) == total) all = std::move(*out);
  }
  size_t offset = 0;
  for (size_t idx = 0; idx < batch.size(); ++idx) {
    Item& item = batch[idx];
    if (rows[idx] > 0 && all) {
      item.done(http::Response::Json(200, PredictionsJson(Slice(*all, offset, rows[idx]))));
      offset += rows[idx];
    } else {
      item.done(PredictOne(predictor, item.body));  // not batchable, or the batch failed
    }
  }
}

}  // namespace sskai::serving
