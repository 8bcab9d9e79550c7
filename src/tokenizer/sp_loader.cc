// LoadSentencePiece: dlopen()s libsskai_spm.so (see sp_tokenizer.cc for why it is separate).
#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "tokenizer/tokenizer.h"

namespace sskai::tokenizer {
namespace {

using LoadFn = Result<std::unique_ptr<Tokenizer>>* (*)(const char*);

Result<LoadFn> LoadLibrary() {
  static std::once_flag once;
  static LoadFn fn = nullptr;
  static std::string error;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("SSKAI_SPM_LIBRARY"); env && *env) candidates.push_back(env);
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back((exe.parent_path() / "libsskai_spm.so").string());
#ifdef SSKAI_SPM_LIBRARY_PATH
    candidates.push_back(SSKAI_SPM_LIBRARY_PATH);
#endif
    for (const auto& path : candidates) {
      if (!std::filesystem::exists(path, ec)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (handle == nullptr) {
        error = dlerror();
        continue;
      }
      fn = reinterpret_cast<LoadFn>(dlsym(handle, "sskai_spm_load"));
      if (fn != nullptr) return;
      error = path + ": no sskai_spm_load";
    }
    if (error.empty()) error = "libsskai_spm.so not found next to the executable (set SSKAI_SPM_LIBRARY)";
  });
  if (fn == nullptr) return Status::Unavailable("sentencepiece support: " + error);
  return fn;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& model_path) {
  SSKAI_ASSIGN_OR_RETURN(LoadFn load, LoadLibrary());
  std::unique_ptr<Result<std::unique_ptr<Tokenizer>>> result(load(model_path.c_str()));
  return std::move(*result);
}

}  // namespace sskai::tokenizer
