// Tokenizers for models sskai pretrains: spm_train (Debian package sentencepiece) as a child
// process, and the Hugging Face side files that describe them.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmdata/lmdata.h"

extern char** environ;

namespace sskai::lmdata {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The ChatML template as Qwen3 spells it (no default system turn), so DetectChatTemplate and
// Jinja-based clients agree on the format.
constexpr char kChatMlTemplate[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

Status RunChild(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return Status::Unavailable("cannot run " + args[0] + " (install the Debian package 'sentencepiece'): " +
                               std::strerror(rc));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return Status::Unavailable(args[0] + " not found (install the Debian package 'sentencepiece')");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log_path);
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    return Status::InvalidArgument(args[0] + " failed: " + log);
  }
  return Status::Ok();
}

}  // namespace

Status TrainSentencePiece(const std::vector<std::string>& documents, int64_t vocab_size,
                          const std::string& model_type, uint64_t seed, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  std::string input = dir + "/spm_input.txt";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    for (const auto& doc : documents) {
      size_t pos = 0;
      while (pos <= doc.size()) {
        size_t nl = doc.find('\n', pos);
        if (nl == std::string::npos) nl = doc.size();
        if (nl > pos) out.write(doc.data() + pos, static_cast<std::streamsize>(nl - pos)) << '\n';
        pos = nl + 1;
      }
    }
    if (!out) return Status::Internal("cannot write " + input);
  }
  (void)seed;  // spm_train's BPE trainer is deterministic for a fixed input
  std::vector<std::string> args = {
      "spm_train", "--input=" + input, "--model_prefix=" + dir + "/tokenizer",
      "--vocab_size=" + std::to_string(vocab_size), "--model_type=" + model_type,
      "--character_coverage=1.0", "--byte_fallback=true", "--normalization_rule_name=identity",
      "--remove_extra_whitespaces=false", "--split_digits=true", "--shuffle_input_sentence=false",
      "--input_sentence_size=0", "--num_threads=1", "--max_sentence_length=16384",
      "--user_defined_symbols=<|im_start|>,<|im_end|>", "--minloglevel=1"};
  SSKAI_RETURN_IF_ERROR(RunChild(args, dir + "/spm_train.log"));
  fs::remove(input, ec);
  fs::remove(dir + "/tokenizer.vocab", ec);
  if (!fs::exists(dir + "/tokenizer.model")) return Status::Internal("spm_train wrote no tokenizer.model");
  return Status::Ok();
}

Status WritePretrainedTokenizerFiles(const tokenizer::Tokenizer& tok, const std::string& dir) {
  const auto& sp = tok.Special();
  auto name = [&](std::optional<tokenizer::TokenId> id) -> json {
    if (!id) return nullptr;
    auto t = tok.IdToToken(*id);
    return t.ok() ? json(*t) : json(nullptr);
  };
  json tc = {{"tokenizer_class", "LlamaTokenizer"}, {"bos_token", name(sp.bos)}, {"eos_token", name(sp.eos)},
             {"unk_token", name(sp.unk)}, {"add_bos_token", true}, {"add_eos_token", false},
             {"chat_template", kChatMlTemplate}, {"model_max_length", 1 << 20}};
  json eos = json::array();
  if (sp.eos) eos.push_back(*sp.eos);
  if (auto im_end = tok.TokenToId("<|im_end|>")) eos.push_back(*im_end);
  json gc = {{"bos_token_id", sp.bos ? json(*sp.bos) : json(nullptr)}, {"eos_token_id", eos},
             {"do_sample", true}, {"temperature", 0.8}, {"top_k", 40}};
  for (const auto& [file, doc] : {std::pair{"tokenizer_config.json", tc}, std::pair{"generation_config.json", gc}}) {
    std::ofstream out(dir + "/" + file, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out) return Status::Internal("cannot write " + dir + "/" + file);
  }
  return Status::Ok();
}

}  // namespace sskai::lmdata
