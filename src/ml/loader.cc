// src/ml/loader.cc — LoadEngine(): dlopen libsskai_ml.so once (torch-free).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

std::string DefaultLibraryPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "libsskai_ml.so";
  std::string exe(buf, static_cast<size_t>(n));
  auto slash = exe.rfind('/');
  return (slash == std::string::npos ? std::string(".") : exe.substr(0, slash)) + "/libsskai_ml.so";
}

struct Loaded {
  Engine* engine = nullptr;
  Status status;
};

Loaded LoadOnce() {
  const char* env = std::getenv("SSKAI_ML_LIBRARY");  // the one env read of this module
  std::string path = (env && *env) ? env : DefaultLibraryPath();
  // RTLD_LOCAL keeps torch's symbols out of the global namespace; never dlclose()d.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    return {nullptr, Status::Unavailable("ML engine: dlopen " + path + ": " + (err ? err : "unknown error"))};
  }
  dlerror();
  void* sym = dlsym(handle, "sskai_ml_engine");
  if (!sym) {
    const char* err = dlerror();
    return {nullptr, Status::Unavailable("ML engine: dlsym sskai_ml_engine in " + path + ": " +
                                         (err ? err : "symbol is null"))};
  }
  auto fn = reinterpret_cast<Engine* (*)()>(sym);
  Engine* engine = fn();
  if (!engine) return {nullptr, Status::Unavailable("ML engine: " + path + " returned no engine")};
  return {engine, Status::Ok()};
}

}  // namespace

Result<Engine*> LoadEngine() {
  static const Loaded loaded = LoadOnce();  // thread-safe one-time init
  if (!loaded.status.ok()) return loaded.status;
  return loaded.engine;
}

}  // namespace sskai::ml
