// src/tokenizer/tokenizer.h — text <-> token ids for the language models sskai trains and serves.
//
// Two kinds of tokenizer, one interface:
//  * byte-level BPE as Hugging Face `tokenizers` does it (GPT-2, Llama-3, Qwen2/Qwen3), loaded from
//    a `tokenizer.json` or from GPT-2's original `encoder.json` + `vocab.bpe` pair: added/special
//    tokens are matched first, then the NFC normalizer (when configured), the pre-tokenizer regex
//    (PCRE2, Unicode properties), the byte-level mapping and the ranked BPE merges;
//  * sentencepiece `tokenizer.model` (BPE or unigram) through libsentencepiece.
// Chat templates (Llama-3, Qwen ChatML) are rendered exactly like the official Jinja templates,
// without a Jinja engine.
//
// Thread-safety: a loaded Tokenizer is immutable; Encode/Decode may run concurrently from any
// number of threads. StreamDecoder is externally synchronized (one per generation stream).
// Errors: loaders return kNotFound (no such file), kInvalidArgument (malformed or unsupported file,
// message names the field); Encode returns kInvalidArgument for text that is not valid UTF-8;
// Decode returns kInvalidArgument for an id outside [0, VocabSize()).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sskai::tokenizer {

using TokenId = int32_t;

// Ids of the special tokens the model was trained with; unset when it has none.
struct SpecialTokens {
  std::optional<TokenId> bos;
  std::optional<TokenId> eos;
  std::optional<TokenId> pad;
  std::optional<TokenId> unk;
};

// A token matched verbatim in the text before pre-tokenization (e.g. "<|im_start|>").
struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;  // skipped by Decode(..., skip_special=true)
  bool lstrip = false;   // swallows whitespace on its left
  bool rstrip = false;   // swallows whitespace on its right
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Short name of the implementation: "bpe" (byte-level BPE) or "sentencepiece".
  virtual std::string_view Kind() const = 0;

  // Encodes UTF-8 `text`. Added tokens in the text become their ids. With `add_special`, the
  // model's post-processing is applied (e.g. <|begin_of_text|> for Llama-3, <s> for sentencepiece
  // models that add bos); without it, only the text's own tokens.
  virtual Result<std::vector<TokenId>> Encode(std::string_view text, bool add_special) const = 0;

  // The text of `ids`. Byte sequences that are not valid UTF-8 (e.g. a multi-byte character cut
  // in half) become U+FFFD, as Hugging Face does. With `skip_special`, special tokens are dropped.
  virtual Result<std::string> Decode(std::span<const TokenId> ids, bool skip_special) const = 0;

  // The raw bytes token `id` stands for (no UTF-8 repair); `first` is true for the first token of
  // a sequence (sentencepiece drops the dummy-prefix space there). Used by StreamDecoder.
  virtual Result<std::string> TokenBytes(TokenId id, bool first) const = 0;

  virtual size_t VocabSize() const = 0;
  // Vocabulary lookup by the token's string as the vocabulary file spells it (byte-level
  // characters for BPE, "▁" pieces for sentencepiece). nullopt when absent.
  virtual std::optional<TokenId> TokenToId(std::string_view token) const = 0;
  // kInvalidArgument when `id` is out of range.
  virtual Result<std::string> IdToToken(TokenId id) const = 0;
  virtual const SpecialTokens& Special() const = 0;
  virtual std::vector<AddedToken> AddedTokens() const = 0;
  // True for special tokens (bos/eos/pad, special added tokens, sentencepiece control pieces);
  // false for ordinary tokens and out-of-range ids.
  virtual bool IsSpecial(TokenId id) const = 0;
};

// Loads a tokenizer from `path`: a tokenizer.json, a tokenizer.model (sentencepiece), a GPT-2
// encoder.json (vocab.bpe beside it), or a directory holding one of those (tokenizer.json first,
// then tokenizer.model, then encoder.json + vocab.bpe). In a directory, tokenizer_config.json's
// bos/eos/pad token names, when present, override the defaults.
Result<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

// Parses a Hugging Face tokenizer.json document. Supported: model.type "BPE" with byte-level
// pre-tokenization (ByteLevel with use_regex, or Split(Regex, Isolated|Removed) followed by
// ByteLevel), normalizer null | NFC | Sequence of those, decoder ByteLevel, post_processor
// null | ByteLevel | TemplateProcessing | Sequence of those. Anything else: kInvalidArgument.
Result<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(std::string_view json_text);

// GPT-2's original files: encoder.json (token -> id) and vocab.bpe ("#version" line + merges).
// <|endoftext|> is registered as a special added token and as bos/eos.
Result<std::unique_ptr<Tokenizer>> LoadGpt2Files(std::string_view encoder_json,
                                                 std::string_view vocab_bpe);

// A sentencepiece model file (BPE or unigram); bos/eos/pad/unk come from the model.
Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& model_path);

// Decodes a stream of ids one at a time for streaming generation: Push returns only complete
// UTF-8 characters; an incomplete multi-byte sequence is held until the next token completes it.
// Bytes that can never become valid UTF-8 are emitted as U+FFFD. Borrows `tokenizer`, which must
// outlive the decoder. `at_start`: the first id begins the text (a sentencepiece word-start
// space is dropped there, as Decode does); false when the ids continue a prompt, so a
// completion of "A penny" starts " of", exactly decode(prompt + ids) minus decode(prompt).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = true, bool at_start = true);
  // Text completed by `id` (possibly empty). kInvalidArgument for an unknown id.
  Result<std::string> Push(TokenId id);
  // Whatever is still held, with an unfinished sequence as U+FFFD; resets the decoder.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool at_start_;
  bool first_;
  std::string pending_;
};

// ---- chat templates --------------------------------------------------------------------------

enum class ChatFamily : uint8_t {
  kLlama3,   // <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n content <|eot_id|>
  kChatMl,   // Qwen: <|im_start|>role\n content <|im_end|>\n
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (others are passed through)
  std::string content;
};

struct ChatTemplate {
  ChatFamily family = ChatFamily::kChatMl;
  // ChatML only: the system turn inserted when the first message is not a system message
  // ("You are a helpful assistant." for Qwen2, the Qwen2.5 sentence for Qwen2.5; empty = none,
  // as in Qwen3).
  std::string default_system;
  std::string bos_token = "<|begin_of_text|>";  // Llama-3 only
};

// Detects the family from tokenizer_config.json's "chat_template" text (and bos_token) or, when
// that is absent, config.json's "model_type" ("llama" -> Llama-3, "qwen2"/"qwen3" -> ChatML).
// Either argument may be empty. kInvalidArgument when neither names a supported family.
Result<ChatTemplate> DetectChatTemplate(std::string_view tokenizer_config_json,
                                        std::string_view config_json);

// Renders `messages` exactly as the official template does (Llama-3 trims each content; ChatML
// does not). With `add_generation_prompt`, the assistant header for the next turn is appended.
std::string RenderChat(const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                       bool add_generation_prompt);

}  // namespace sskai::tokenizer
