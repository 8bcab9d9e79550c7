// JSONL and plain-text documents → token examples with target masks.
#include <nlohmann/json.hpp>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

using nlohmann::json;

std::string Where(const std::string& label, int64_t line) {
  return label + " line " + std::to_string(line);
}

Status LineError(const std::string& label, int64_t line, const std::string& field, const std::string& msg) {
  return Status::InvalidArgument(Where(label, line) + (field.empty() ? "" : ": field '" + field + "'") +
                                 ": " + msg);
}

// Appends the tokens of `text` (no special post-processing) with the given target flag.
Status Append(const tokenizer::Tokenizer& tok, std::string_view text, bool target, ml::LmExample* ex) {
  if (text.empty()) return Status::Ok();
  SSKAI_ASSIGN_OR_RETURN(std::vector<tokenizer::TokenId> ids, tok.Encode(text, /*add_special=*/false));
  for (auto id : ids) {
    ex->ids.push_back(id);
    ex->target.push_back(target ? 1 : 0);
  }
  return Status::Ok();
}

void AppendSpecial(std::optional<tokenizer::TokenId> id, bool enabled, bool target, ml::LmExample* ex) {
  if (!enabled || !id) return;
  ex->ids.push_back(*id);
  ex->target.push_back(target ? 1 : 0);
}

Result<std::string> StringAt(const json& obj, const char* key, const std::string& field,
                             const std::string& label, int64_t line) {
  auto it = obj.find(key);
  if (it == obj.end()) return LineError(label, line, field, "missing");
  if (!it->is_string()) return LineError(label, line, field, "expected a string");
  return it->get<std::string>();
}

Result<ml::LmExample> EncodeMessages(const json& obj, const tokenizer::Tokenizer& tok,
                                     const EncodeOptions& o, int64_t line) {
  if (!o.chat) {
    return LineError(o.label, line, "messages",
                     "the model has no chat template (set hyperparameters.chat_template to 'llama3' or 'chatml')");
  }
  const json& arr = obj["messages"];
  if (!arr.is_array() || arr.empty()) return LineError(o.label, line, "messages", "expected a non-empty array");
  std::vector<tokenizer::ChatMessage> msgs;
  bool has_assistant = false;
  for (size_t idx = 0; idx < arr.size(); ++idx) {
    std::string field = "messages[" + std::to_string(idx) + "]";
    if (!arr[idx].is_object()) return LineError(o.label, line, field, "expected an object");
    SSKAI_ASSIGN_OR_RETURN(std::string role, StringAt(arr[idx], "role", field + ".role", o.label, line));
    SSKAI_ASSIGN_OR_RETURN(std::string content, StringAt(arr[idx], "content", field + ".content", o.label, line));
    if (role != "system" && role != "user" && role != "assistant") {
      return LineError(o.label, line, field + ".role",
                       "expected 'system', 'user' or 'assistant', got '" + role + "'");
    }
    has_assistant = has_assistant || role == "assistant";
    msgs.push_back({role, content});
  }
  if (!has_assistant) return LineError(o.label, line, "messages", "no 'assistant' message to learn from");
  // Each render of a prefix of the conversation extends the previous one, so the text splits into
  // segments: headers and user/system turns (context) and assistant turns (targets).
  ml::LmExample ex;
  std::string done;
  for (size_t idx = 0; idx < msgs.size(); ++idx) {
    std::span<const tokenizer::ChatMessage> upto(msgs.data(), idx + 1);
    std::string full = tokenizer::RenderChat(*o.chat, upto, false);
    if (msgs[idx].role == "assistant") {
      std::string header = tokenizer::RenderChat(*o.chat, std::span(msgs.data(), idx), true);
      if (header.compare(0, done.size(), done) != 0 || full.compare(0, header.size(), header) != 0) {
        return LineError(o.label, line, "messages", "the chat template does not render incrementally");
      }
      SSKAI_RETURN_IF_ERROR(Append(tok, std::string_view(header).substr(done.size()), false, &ex)
                                .WithPrefix(Where(o.label, line)));
      SSKAI_RETURN_IF_ERROR(Append(tok, std::string_view(full).substr(header.size()), true, &ex)
                                .WithPrefix(Where(o.label, line)));
    } else {
      if (full.compare(0, done.size(), done) != 0) {
        return LineError(o.label, line, "messages", "the chat template does not render incrementally");
      }
      SSKAI_RETURN_IF_ERROR(Append(tok, std::string_view(full).substr(done.size()), false, &ex)
                                .WithPrefix(Where(o.label, line)));
    }
    done = std::move(full);
  }
  return ex;
}

}  // namespace

std::string_view ToString(JsonlShape shape) {
  switch (shape) {
    case JsonlShape::kText: return "text";
    case JsonlShape::kPromptCompletion: return "prompt_completion";
    case JsonlShape::kMessages: return "messages";
  }
  return "text";
}

static Result<JsonlShape> ShapeOf(const json& obj, int64_t line, const std::string& label) {
  if (!obj.is_object()) return LineError(label, line, "", "expected a JSON object");
  if (obj.contains("messages")) return JsonlShape::kMessages;
  if (obj.contains("prompt") || obj.contains("completion")) return JsonlShape::kPromptCompletion;
  if (obj.contains("text")) return JsonlShape::kText;
  return LineError(label, line, "",
                   "expected {\"text\"}, {\"prompt\",\"completion\"} or {\"messages\":[{\"role\",\"content\"}]}");
}

Result<JsonlShape> DetectShape(std::string_view jsonl_line, int64_t line_number, const std::string& label) {
  json obj = json::parse(jsonl_line, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return LineError(label, line_number, "", "invalid JSON");
  return ShapeOf(obj, line_number, label);
}

Result<EncodedDataset> EncodeJsonl(std::string_view jsonl, const tokenizer::Tokenizer& tok,
                                   const EncodeOptions& o) {
  EncodedDataset out;
  const auto& sp = tok.Special();
  int64_t line = 0;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t nl = jsonl.find('\n', pos);
    std::string_view text = jsonl.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? jsonl.size() : nl + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded()) return LineError(o.label, line, "", "invalid JSON");
    SSKAI_ASSIGN_OR_RETURN(JsonlShape shape, ShapeOf(obj, line, o.label));
    if (out.lines == 0) {
      out.shape = shape;
    } else if (shape != out.shape) {
      return LineError(o.label, line, "",
                       "shape '" + std::string(ToString(shape)) + "' differs from the first example's '" +
                           std::string(ToString(out.shape)) + "'");
    }
    ++out.lines;
    ml::LmExample ex;
    if (shape == JsonlShape::kText) {
      SSKAI_ASSIGN_OR_RETURN(std::string t, StringAt(obj, "text", "text", o.label, line));
      AppendSpecial(sp.bos, o.add_bos, false, &ex);
      SSKAI_RETURN_IF_ERROR(Append(tok, t, true, &ex).WithPrefix(Where(o.label, line) + ": field 'text'"));
      AppendSpecial(sp.eos, o.add_eos, true, &ex);
    } else if (shape == JsonlShape::kPromptCompletion) {
      SSKAI_ASSIGN_OR_RETURN(std::string p, StringAt(obj, "prompt", "prompt", o.label, line));
      SSKAI_ASSIGN_OR_RETURN(std::string c, StringAt(obj, "completion", "completion", o.label, line));
      if (c.empty()) return LineError(o.label, line, "completion", "must not be empty");
      AppendSpecial(sp.bos, o.add_bos, false, &ex);
      SSKAI_RETURN_IF_ERROR(Append(tok, p, false, &ex).WithPrefix(Where(o.label, line) + ": field 'prompt'"));
      SSKAI_RETURN_IF_ERROR(Append(tok, c, true, &ex).WithPrefix(Where(o.label, line) + ": field 'completion'"));
      AppendSpecial(sp.eos, o.add_eos, true, &ex);
    } else {
      SSKAI_ASSIGN_OR_RETURN(ex, EncodeMessages(obj, tok, o, line));
    }
    if (!ex.target.empty()) ex.target[0] = 0;  // the first token is never predicted
    out.examples.push_back(std::move(ex));
  }
  if (out.lines == 0) return Status::InvalidArgument(o.label + ": no examples (the file is empty)");
  return out;
}

std::vector<std::string> JsonlTexts(std::string_view jsonl) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t nl = jsonl.find('\n', pos);
    std::string_view line = jsonl.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? jsonl.size() : nl + 1;
    json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!obj.is_object()) continue;
    for (const char* key : {"text", "prompt", "completion"}) {
      if (obj.contains(key) && obj[key].is_string()) out.push_back(obj[key].get<std::string>());
    }
    if (obj.contains("messages") && obj["messages"].is_array()) {
      for (const auto& m : obj["messages"]) {
        if (m.is_object() && m.contains("content") && m["content"].is_string()) {
          out.push_back(m["content"].get<std::string>());
        }
      }
    }
  }
  return out;
}

std::vector<std::string> SplitCorpus(std::string_view text, CorpusKind kind) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view l = text.substr(pos, nl - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.emplace_back(l);
    pos = nl + 1;
  }
  if (kind == CorpusKind::kAuto) {
    kind = CorpusKind::kParagraphs;
    for (const auto& l : lines) {
      if (l == "%") kind = CorpusKind::kFortunes;
    }
  }
  std::vector<std::string> docs;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\n");
    size_t e = cur.find_last_not_of(" \t\n");
    if (b != std::string::npos) docs.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (const auto& l : lines) {
    bool sep = kind == CorpusKind::kFortunes ? l == "%" : l.find_first_not_of(" \t") == std::string::npos;
    if (sep) {
      flush();
    } else {
      cur += l;
      cur += '\n';
    }
  }
  flush();
  return docs;
}

Result<std::vector<ml::LmExample>> EncodeDocuments(const std::vector<std::string>& docs,
                                                   const tokenizer::Tokenizer& tok, const EncodeOptions& o) {
  std::vector<ml::LmExample> out;
  out.reserve(docs.size());
  const auto& sp = tok.Special();
  for (size_t idx = 0; idx < docs.size(); ++idx) {
    ml::LmExample ex;
    AppendSpecial(sp.bos, o.add_bos, false, &ex);
    SSKAI_RETURN_IF_ERROR(Append(tok, docs[idx], true, &ex)
                              .WithPrefix(o.label + " document " + std::to_string(idx + 1)));
    AppendSpecial(sp.eos, o.add_eos, true, &ex);
    if (!ex.target.empty()) ex.target[0] = 0;
    out.push_back(std::move(ex));
  }
  return out;
}

}  // namespace sskai::lmdata
