// The sentencepiece side of the Tokenizer interface: a thin adapter over libsentencepiece, built
// as its own shared library (libsskai_spm.so) and loaded by sp_loader.cc with RTLD_LOCAL |
// RTLD_DEEPBIND. libsentencepiece carries its own copy of protobuf-lite and exports those symbols;
// linked into the main binary they interpose on the libprotobuf that libtorch loads and crash its
// static initialisers (seen: SIGSEGV in a worker's dlopen of libsskai_ml.so).
#include <sentencepiece_processor.h>

#include <cstdlib>
#include <memory>

#include "tokenizer/text_util.h"
#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
      : sp_(std::move(sp)) {
    auto opt = [](int id) { return id >= 0 ? std::optional<TokenId>(id) : std::nullopt; };
    special_.bos = opt(sp_->bos_id());
    special_.eos = opt(sp_->eos_id());
    special_.pad = opt(sp_->pad_id());
    special_.unk = opt(sp_->unk_id());
  }

  std::string_view Kind() const override { return "sentencepiece"; }

  Result<std::vector<TokenId>> Encode(std::string_view text, bool add_special) const override {
    size_t bad = internal::FirstInvalidUtf8(text);
    if (bad != std::string_view::npos) {
      return Status::InvalidArgument("text is not valid UTF-8 at byte " + std::to_string(bad));
    }
    std::vector<int> ids;
    auto st = sp_->Encode(text, &ids);
    if (!st.ok()) return Status::Internal("sentencepiece: " + st.ToString());
    std::vector<TokenId> out;
    out.reserve(ids.size() + 1);
    if (add_special && special_.bos) out.push_back(*special_.bos);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  Result<std::string> Decode(std::span<const TokenId> ids, bool skip_special) const override {
    std::vector<int> keep;
    keep.reserve(ids.size());
    for (TokenId id : ids) {
      SSKAI_RETURN_IF_ERROR(Check(id));
      if (skip_special && sp_->IsControl(id)) continue;
      keep.push_back(id);
    }
    std::string text;
    auto st = sp_->Decode(keep, &text);
    if (!st.ok()) return Status::Internal("sentencepiece: " + st.ToString());
    return internal::RepairUtf8(text);
  }

  Result<std::string> TokenBytes(TokenId id, bool first) const override {
    SSKAI_RETURN_IF_ERROR(Check(id));
    if (sp_->IsControl(id)) return std::string();
    const std::string& piece = sp_->IdToPiece(id);
    if (sp_->IsByte(id) && piece.size() == 6) {  // "<0xAB>"
      return std::string(1, static_cast<char>(std::strtol(piece.substr(3, 2).c_str(), nullptr, 16)));
    }
    if (sp_->IsUnknown(id)) return std::string(" \xE2\x81\x87 ");
    std::string out;
    static constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"
    size_t pos = 0;
    while (pos < piece.size()) {
      if (piece.compare(pos, kSpace.size(), kSpace) == 0) {
        out.push_back(' ');
        pos += kSpace.size();
      } else {
        out.push_back(piece[pos++]);
      }
    }
    if (first && !out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
  }

  size_t VocabSize() const override { return static_cast<size_t>(sp_->GetPieceSize()); }

  std::optional<TokenId> TokenToId(std::string_view token) const override {
    int id = sp_->PieceToId(token);
    if (id == sp_->unk_id() && sp_->IdToPiece(id) != token) return std::nullopt;
    return id;
  }

  Result<std::string> IdToToken(TokenId id) const override {
    SSKAI_RETURN_IF_ERROR(Check(id));
    return sp_->IdToPiece(id);
  }

  const SpecialTokens& Special() const override { return special_; }
  bool IsSpecial(TokenId id) const override {
    return id >= 0 && id < sp_->GetPieceSize() && sp_->IsControl(id);
  }

  std::vector<AddedToken> AddedTokens() const override {
    std::vector<AddedToken> out;
    for (int id = 0; id < sp_->GetPieceSize(); ++id) {
      if (sp_->IsControl(id)) out.push_back(AddedToken{id, sp_->IdToPiece(id), true, false, false});
    }
    return out;
  }

 private:
  Status Check(TokenId id) const {
    if (id < 0 || id >= sp_->GetPieceSize()) {
      return Status::InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                     std::to_string(sp_->GetPieceSize()) + ")");
    }
    return Status::Ok();
  }

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  SpecialTokens special_;
};

Result<std::unique_ptr<Tokenizer>> LoadSentencePieceModel(const std::string& model_path) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto st = sp->Load(model_path);
  if (!st.ok()) {
    if (st.code() == sentencepiece::util::StatusCode::kNotFound) {
      return Status::NotFound("sentencepiece model " + model_path + ": " + st.ToString());
    }
    return Status::InvalidArgument("sentencepiece model " + model_path + ": " + st.ToString());
  }
  return std::unique_ptr<Tokenizer>(std::make_unique<SentencePieceTokenizer>(std::move(sp)));
}

}  // namespace
}  // namespace sskai::tokenizer

// Exported by libsskai_spm.so (the only symbol): loads a model; the caller owns the result.
extern "C" sskai::Result<std::unique_ptr<sskai::tokenizer::Tokenizer>>* sskai_spm_load(const char* model_path) {
  return new sskai::Result<std::unique_ptr<sskai::tokenizer::Tokenizer>>(
      sskai::tokenizer::LoadSentencePieceModel(model_path));
}
