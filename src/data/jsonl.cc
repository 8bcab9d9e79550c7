// JSONL: one object per line, all of one kind: {"text"}, {"prompt","completion"} or
// {"messages":[{"role","content"}...]}.
#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "data/formats.h"
#include "data/values.h"

namespace sskai::data::internal {
namespace {

using Json = nlohmann::ordered_json;
constexpr size_t kMaxLineBytes = 64u << 20;

enum class Kind { kText, kPromptCompletion, kChat };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kText: return "text";
    case Kind::kPromptCompletion: return "prompt_completion";
    case Kind::kChat: return "chat";
  }
  return "text";
}
const char* KindFields(Kind k) {
  switch (k) {
    case Kind::kText: return "'text'";
    case Kind::kPromptCompletion: return "'prompt'/'completion'";
    case Kind::kChat: return "'messages'";
  }
  return "";
}

std::string TypeName(const Json& j) { return j.type_name(); }

// One record: its kind, character count and messages by role.
struct Record {
  Kind kind = Kind::kText;
  int64_t characters = 0;
  std::map<std::string, int64_t> roles;
  int64_t messages = 0;
};

Result<Record> CheckRecord(const Json& j, const std::string& at) {
  Record r;
  if (!j.is_object()) {
    return Status::InvalidArgument(at + ": expected a JSON object, got " + TypeName(j));
  }
  auto string_field = [&](const char* name) -> Result<int64_t> {
    auto it = j.find(name);
    if (it == j.end()) return Status::InvalidArgument(at + ": missing field '" + name + "'");
    if (!it->is_string()) {
      return Status::InvalidArgument(at + ": field '" + name + "' must be a string, got " +
                                     TypeName(*it));
    }
    return CountCodePoints(it->get_ref<const std::string&>());
  };
  if (j.contains("messages")) {
    r.kind = Kind::kChat;
    const Json& messages = j["messages"];
    if (!messages.is_array() || messages.empty()) {
      return Status::InvalidArgument(at + ": 'messages' must be a non-empty array");
    }
    for (size_t idx = 0; idx < messages.size(); ++idx) {
      const Json& m = messages[idx];
      std::string mat = at + ", message " + std::to_string(idx + 1);
      if (!m.is_object()) {
        return Status::InvalidArgument(mat + ": expected an object, got " + TypeName(m));
      }
      auto role = m.find("role");
      auto content = m.find("content");
      if (role == m.end() || !role->is_string()) {
        return Status::InvalidArgument(mat + ": 'role' must be a string");
      }
      if (content == m.end() || !content->is_string()) {
        return Status::InvalidArgument(mat + ": 'content' must be a string");
      }
      const auto& name = role->get_ref<const std::string&>();
      if (name != "system" && name != "user" && name != "assistant" && name != "tool") {
        return Status::InvalidArgument(mat + ": role '" + name +
                                       "' is not one of system, user, assistant, tool");
      }
      ++r.roles[name];
      ++r.messages;
      r.characters += CountCodePoints(content->get_ref<const std::string&>());
    }
    return r;
  }
  if (j.contains("prompt") || j.contains("completion")) {
    r.kind = Kind::kPromptCompletion;
    SSKAI_ASSIGN_OR_RETURN(int64_t p, string_field("prompt"));
    SSKAI_ASSIGN_OR_RETURN(int64_t c, string_field("completion"));
    r.characters = p + c;
    return r;
  }
  if (j.contains("text")) {
    r.kind = Kind::kText;
    SSKAI_ASSIGN_OR_RETURN(r.characters, string_field("text"));
    return r;
  }
  return Status::InvalidArgument(
      at + ": expected a 'text', 'prompt'/'completion' or 'messages' field");
}

// Calls `fn(json, line_number)` for each non-blank line until it returns false.
template <typename Fn>
Status ForEachLine(BufferedReader* in, Fn fn) {
  std::string line;
  int64_t line_no = 0;
  while (true) {
    ++line_no;
    auto more = in->ReadLine(&line, kMaxLineBytes);
    if (!more.ok()) return more.status().WithPrefix("line " + std::to_string(line_no));
    if (!*more) return Status::Ok();
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (Trim(line).empty()) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      if (!what.empty() && what.front() == '[') {
        size_t close = what.find("] ");
        if (close != std::string::npos) what.erase(0, close + 2);
      }
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": invalid JSON: " + what);
    }
    SSKAI_ASSIGN_OR_RETURN(bool go_on, fn(std::move(j), line_no));
    if (!go_on) return Status::Ok();
  }
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

Result<DatasetInfo> InspectJsonl(BufferedReader* in) {
  int64_t records = 0, chars_total = 0, chars_max = 0, messages_total = 0, messages_max = 0;
  int64_t first_line = 0;
  Kind kind = Kind::kText;
  std::map<std::string, int64_t> roles;
  SSKAI_RETURN_IF_ERROR(ForEachLine(in, [&](Json j, int64_t line_no) -> Result<bool> {
    std::string at = "line " + std::to_string(line_no);
    SSKAI_ASSIGN_OR_RETURN(Record r, CheckRecord(j, at));
    if (records == 0) {
      kind = r.kind;
      first_line = line_no;
    } else if (r.kind != kind) {
      return Status::InvalidArgument(at + ": expected " + KindFields(kind) + " like line " +
                                     std::to_string(first_line) + ", got " + KindFields(r.kind));
    }
    ++records;
    chars_total += r.characters;
    chars_max = std::max(chars_max, r.characters);
    messages_total += r.messages;
    messages_max = std::max(messages_max, r.messages);
    for (const auto& [role, n] : r.roles) roles[role] += n;
    return true;
  }));
  if (records == 0) return Status::InvalidArgument("the file has no JSON lines");
  DatasetInfo info;
  info.format = Format::kJsonl;
  info.rows = records;
  Json fields = Json::array();
  if (kind == Kind::kText) fields = {"text"};
  if (kind == Kind::kPromptCompletion) fields = {"prompt", "completion"};
  if (kind == Kind::kChat) fields = {"messages"};
  Json schema = {{"kind", KindName(kind)}, {"fields", std::move(fields)}};
  Json stats = {{"kind", KindName(kind)},
                {"records", records},
                {"characters",
                 {{"total", chars_total},
                  {"mean", static_cast<double>(chars_total) / static_cast<double>(records)},
                  {"max", chars_max}}}};
  if (kind == Kind::kChat) {
    Json role_counts = Json::object();
    for (const auto& [role, n] : roles) role_counts[role] = n;
    stats["messages"] = {{"total", messages_total},
                         {"mean", static_cast<double>(messages_total) / static_cast<double>(records)},
                         {"max", messages_max},
                         {"roles", std::move(role_counts)}};
  }
  info.schema_json = Dump(schema);
  info.stats_json = Dump(stats);
  return info;
}

Result<std::string> PreviewJsonl(BufferedReader* in, int limit) {
  Json rows = Json::array();
  if (limit <= 0) return Dump(rows);
  SSKAI_RETURN_IF_ERROR(ForEachLine(in, [&](Json j, int64_t line_no) -> Result<bool> {
    SSKAI_RETURN_IF_ERROR(CheckRecord(j, "line " + std::to_string(line_no)).status());
    rows.push_back(std::move(j));
    return static_cast<int>(rows.size()) < limit;
  }));
  return Dump(rows);
}

}  // namespace sskai::data::internal
