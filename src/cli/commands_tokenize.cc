// sskai tokenize|detokenize: local, no server. Like llama.cpp's tokenize tool, one output line per
// input line: `tokenize` prints each line's ids space-separated, `detokenize` reads lines of ids
// and prints their text. The tokenizer is a tokenizer.json, tokenizer.model, GPT-2 encoder.json,
// or a model directory holding one of them.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace sskai::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string file;
  bool add_special = false;
  bool skip_special = false;
};

// Runs `per_line` on each line of --file or stdin; stops at the first error, naming the line.
Status ForEachLine(const std::string& file, const std::function<Status(const std::string&)>& per_line) {
  std::ifstream file_in;
  std::istream* in = &std::cin;
  if (!file.empty()) {
    file_in.open(file, std::ios::binary);
    if (!file_in) return Status::NotFound("cannot open " + file);
    in = &file_in;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Status st = per_line(line);
    if (!st.ok()) return st.WithPrefix("line " + std::to_string(line_no));
  }
  return Status::Ok();
}

Status Tokenize(const TokenizeArgs& args) {
  SSKAI_ASSIGN_OR_RETURN(auto tok, tokenizer::LoadTokenizer(args.tokenizer));
  std::string out;
  Status st = ForEachLine(args.file, [&](const std::string& line) -> Status {
    SSKAI_ASSIGN_OR_RETURN(auto ids, tok->Encode(line, args.add_special));
    out.clear();
    for (size_t idx = 0; idx < ids.size(); ++idx) {
      if (idx > 0) out += ' ';
      out += std::to_string(ids[idx]);
    }
    out += '\n';
    std::cout << out;
    return Status::Ok();
  });
  std::cout.flush();
  return st;
}

Status Detokenize(const TokenizeArgs& args) {
  SSKAI_ASSIGN_OR_RETURN(auto tok, tokenizer::LoadTokenizer(args.tokenizer));
  Status st = ForEachLine(args.file, [&](const std::string& line) -> Status {
    std::vector<tokenizer::TokenId> ids;
    std::istringstream fields(line);
    std::string field;
    while (fields >> field) {
      char* end = nullptr;
      long value = std::strtol(field.c_str(), &end, 10);
      if (end == field.c_str() || *end != '\0' || value < 0 || value > INT32_MAX) {
        return Status::InvalidArgument("'" + field + "' is not a token id");
      }
      ids.push_back(static_cast<tokenizer::TokenId>(value));
    }
    SSKAI_ASSIGN_OR_RETURN(std::string text, tok->Decode(ids, args.skip_special));
    std::cout << text << '\n';
    return Status::Ok();
  });
  std::cout.flush();
  return st;
}

std::function<void()> Local(int* exit_code, std::function<Status()> body) {
  return [exit_code, body = std::move(body)] {
    Status st = body();
    if (!st.ok()) {
      std::cerr << "error: " << st.message() << "\n";
      *exit_code = st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 1;
      return;
    }
    *exit_code = 0;
  };
}

}  // namespace

void AddTokenizeCommands(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TokenizeArgs>();
  const char* what = "tokenizer.json | tokenizer.model | GPT-2 encoder.json | model directory";
  auto* tokenize = app.add_subcommand("tokenize", "Print the token ids of each input line (local, no server)");
  tokenize->add_option("tokenizer", args->tokenizer, what)->required();
  tokenize->add_option("--file,-f", args->file, "read lines from this file instead of stdin");
  tokenize->add_flag("--add-special", args->add_special, "apply the model's special tokens (e.g. bos)");
  tokenize->callback(Local(exit_code, [args] { return Tokenize(*args); }));

  auto* detokenize = app.add_subcommand("detokenize", "Print the text of each input line of token ids (local)");
  detokenize->add_option("tokenizer", args->tokenizer, what)->required();
  detokenize->add_option("--file,-f", args->file, "read lines from this file instead of stdin");
  detokenize->add_flag("--skip-special", args->skip_special, "drop special tokens from the text");
  detokenize->callback(Local(exit_code, [args] { return Detokenize(*args); }));
}

}  // namespace sskai::cli
