// sskai chat <endpoint> (interactive, streaming) and sskai complete <endpoint> <prompt>: the
// OpenAI-compatible routes of an LM endpoint.
#include <iostream>

#include "cli/commands.h"

namespace sskai::cli {

namespace {

struct GenArgs {
  std::string endpoint, system, prompt;
  int max_tokens = 0;          // 0 = the server's default (the rest of the context)
  double temperature = -1;     // < 0 = the server's default
  int64_t seed = -1;
  bool no_stream = false;
};

void AddGenOptions(CLI::App* cmd, GenArgs* a) {
  cmd->add_option("--max-tokens", a->max_tokens, "new tokens at most (default: the rest of the context)");
  cmd->add_option("--temperature,-t", a->temperature, "sampling temperature (0 = greedy)");
  cmd->add_option("--seed", a->seed, "seed for reproducible sampling");
  cmd->add_flag("--no-stream", a->no_stream, "wait for the whole answer");
}

void ApplyGen(const GenArgs& a, json* body) {
  if (a.max_tokens > 0) (*body)["max_tokens"] = a.max_tokens;
  if (a.temperature >= 0) (*body)["temperature"] = a.temperature;
  if (a.seed >= 0) (*body)["seed"] = a.seed;
}

// Sends one request; prints the text as it arrives and returns all of it.
Result<std::string> Generate(Api& api, const std::string& endpoint, bool chat, json body,
                             bool stream) {
  std::string target = "/v1/endpoints/" + UrlPart(endpoint) + (chat ? "/v1/chat/completions" : "/v1/completions");
  std::string text;
  if (!stream) {
    SSKAI_ASSIGN_OR_RETURN(json out, api.Call("POST", target, body));
    const json& choice = out["choices"][0];
    text = chat ? choice["message"].value("content", "") : choice.value("text", "");
    std::cout << text << std::flush;
    return text;
  }
  body["stream"] = true;
  Status st = api.Events(target, body, [&](const std::string& data) {
    if (data == "[DONE]") return;
    json ev = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (!ev.is_object()) return;
    if (ev.contains("error")) {
      std::cerr << "\nerror: " << ev["error"].value("message", data) << "\n";
      return;
    }
    if (!ev.contains("choices") || ev["choices"].empty()) return;
    const json& choice = ev["choices"][0];
    std::string piece = chat ? (choice.contains("delta") ? choice["delta"].value("content", "") : "")
                             : choice.value("text", "");
    text += piece;
    std::cout << piece << std::flush;
  });
  if (!st.ok()) return st;
  return text;
}

}  // namespace

void AddChatCommands(CLI::App& app, std::shared_ptr<GlobalFlags> flags, int* exit_code) {
  auto ca = std::make_shared<GenArgs>();
  auto* chat = app.add_subcommand("chat", "Chat with an LM endpoint (one message per line; "
                                          "Ctrl-D or /exit ends)");
  chat->add_option("endpoint", ca->endpoint, "endpoint name")->required();
  chat->add_option("--system,-s", ca->system, "system prompt");
  AddGenOptions(chat, ca.get());
  chat->callback(Wrap(flags, exit_code, [ca](Api& api) -> Status {
    json messages = json::array();
    if (!ca->system.empty()) messages.push_back({{"role", "system"}, {"content", ca->system}});
    std::string line;
    while (true) {
      std::cerr << "> " << std::flush;
      if (!std::getline(std::cin, line) || line == "/exit") break;
      if (line.empty()) continue;
      messages.push_back({{"role", "user"}, {"content", line}});
      json body = {{"model", ca->endpoint}, {"messages", messages}};
      ApplyGen(*ca, &body);
      auto reply = Generate(api, ca->endpoint, true, body, !ca->no_stream);
      std::cout << "\n";
      if (!reply.ok()) {
        messages.erase(messages.end() - 1);
        return reply.status();
      }
      messages.push_back({{"role", "assistant"}, {"content", *reply}});
    }
    std::cerr << "\n";
    return Status::Ok();
  }));

  auto pa = std::make_shared<GenArgs>();
  auto* complete = app.add_subcommand("complete", "Continue a prompt with an LM endpoint");
  complete->add_option("endpoint", pa->endpoint, "endpoint name")->required();
  complete->add_option("prompt", pa->prompt, "the text to continue (default: stdin)");
  AddGenOptions(complete, pa.get());
  complete->callback(Wrap(flags, exit_code, [pa](Api& api) -> Status {
    std::string prompt = pa->prompt;
    if (prompt.empty()) {
      std::string line;
      while (std::getline(std::cin, line)) prompt += line + "\n";
    }
    json body = {{"model", pa->endpoint}, {"prompt", prompt}};
    ApplyGen(*pa, &body);
    auto text = Generate(api, pa->endpoint, false, body, !pa->no_stream);
    std::cout << "\n";
    return text.status();
  }));
}

}  // namespace sskai::cli
