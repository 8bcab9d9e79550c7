// bench/llm_bench.cc — LM engine throughput on this machine: prefill and decode tokens/s of a
// Llama-shaped model with random weights, and training (full fine-tune, or LoRA with --lora R) tokens/s.
//
//   build/bench/llm_bench [--layers 6 --hidden 384 --heads 6 --kv 2 --ffn 1024 --vocab 8192 --tie 0]
//                         [--prompt 128 --decode 64 --train-batch 4 --train-seq 128 --train-steps 5]
//                         [--threads 1 --precision fp32|bf16 --clock wall|cpu --lora R]
//                         [--save DIR]   (writes the model so bench/llm_bench.py can run the same one)
// Training tokens/s is the median optimizer step after one warm-up step (as bench/llm_bench.py).
// Prints one JSON object.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#include <algorithm>

#include "ml/ml.h"

namespace {

bool g_cpu_clock = false;  // --clock cpu: process CPU seconds (stable on a loaded machine at 1 thread)

double Now() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sskai::ml;
  LmConfig c;
  c.vocab_size = 8192;
  c.hidden_size = 384;
  c.intermediate_size = 1024;
  c.num_hidden_layers = 6;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 1024;
  int prompt = 128, decode = 64, train_batch = 4, train_seq = 128, threads = 1, train_steps = 5, lora_rank = 0;
  std::string save, device = "cpu", dtype = "auto", precision;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--layers") c.num_hidden_layers = std::atoi(v);
    else if (k == "--hidden") c.hidden_size = std::atoi(v);
    else if (k == "--heads") c.num_attention_heads = std::atoi(v);
    else if (k == "--kv") c.num_key_value_heads = std::atoi(v);
    else if (k == "--ffn") c.intermediate_size = std::atoi(v);
    else if (k == "--vocab") c.vocab_size = std::atoi(v);
    else if (k == "--prompt") prompt = std::atoi(v);
    else if (k == "--decode") decode = std::atoi(v);
    else if (k == "--train-batch") train_batch = std::atoi(v);
    else if (k == "--train-seq") train_seq = std::atoi(v);
    else if (k == "--train-steps") train_steps = std::atoi(v);
    else if (k == "--threads") threads = std::atoi(v);
    else if (k == "--device") device = v;
    else if (k == "--dtype") dtype = v;
    else if (k == "--save") save = v;
    else if (k == "--tie") c.tie_word_embeddings = std::atoi(v) != 0;
    else if (k == "--precision") precision = v;
    else if (k == "--lora") lora_rank = std::atoi(v);
    else if (k == "--clock") g_cpu_clock = std::string(v) == "cpu";
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  auto engine = LoadEngine();
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  LmLoadOptions opts;
  opts.threads = threads;
  opts.device = device;
  opts.dtype = dtype;
  auto lm = (*engine)->CreateLm(c, 1, opts);
  if (!lm.ok()) {
    std::fprintf(stderr, "%s\n", lm.status().ToString().c_str());
    return 1;
  }
  if (!save.empty()) {
    auto s = (*lm)->Save(save, {});
    if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  }
  GenerateRequest req;
  for (int i = 0; i < prompt; ++i) req.prompt.push_back((i * 7919) % c.vocab_size);
  req.sampling.temperature = 0;
  req.sampling.max_tokens = 1;
  (void)(*lm)->Generate({req}, nullptr);  // warm-up
  double t0 = Now();
  (void)(*lm)->Generate({req}, nullptr);
  double prefill = Now() - t0;
  req.sampling.max_tokens = decode + 1;
  t0 = Now();
  (void)(*lm)->Generate({req}, nullptr);
  double decode_s = Now() - t0 - prefill;

  std::vector<LmExample> data;
  for (int b = 0; b < train_batch; ++b) {
    LmExample e;
    for (int i = 0; i < train_seq; ++i) e.ids.push_back((b * 131 + i * 31) % c.vocab_size);
    data.push_back(e);
  }
  LmTrainSpec spec;
  spec.lora = lora_rank > 0;  // LoRA on q/k/v/o (LoraSpec's default targets), else full fine-tuning
  if (spec.lora) spec.lora_spec.rank = lora_rank;
  spec.steps = train_steps + 1;  // the first step (optimizer state allocation) is the warm-up
  spec.batch_size = train_batch;
  spec.max_seq_len = train_seq;
  spec.min_lr_ratio = 1.0;  // constant learning rate, as the Python baseline
  if (!precision.empty()) spec.precision = precision;
  std::vector<double> step_s;
  double last = Now();
  LmTrainCallbacks cb;
  double first_loss = 0, last_loss = 0;  // first: the loss of the untouched model (before any update)
  cb.on_step = [&](const LmStepMetrics& m) {
    if (step_s.empty()) first_loss = m.loss;
    last_loss = m.loss;
    double now = Now();
    step_s.push_back(now - last);
    last = now;
  };
  auto tr = (*lm)->Train(data, spec, "", "", cb);
  std::vector<double> timed(step_s.begin() + std::min<size_t>(1, step_s.size()), step_s.end());
  std::sort(timed.begin(), timed.end());
  double train_s = timed.empty() ? 0 : timed[timed.size() / 2];
  std::printf(
      "{\"params\": %lld, \"threads\": %d, \"prompt\": %d, \"prefill_tok_s\": %.1f, \"decode\": %d, "
      "\"decode_tok_s\": %.1f, \"train_tok_s\": %.1f, \"train_ok\": %s, \"first_loss\": %.6f, \"last_loss\": %.6f}\n",
      static_cast<long long>((*lm)->NumParameters()), threads, prompt, prompt / prefill, decode, decode / decode_s,
      static_cast<double>(train_batch) * train_seq / train_s, tr.ok() ? "true" : "false", first_loss, last_loss);
  return 0;
}
