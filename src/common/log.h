// src/common/log.h — logging through spdlog, configured once by the composition root.
// Thread-safety: thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace sskai {

// Sets the default logger's level ("debug", "info", "warn", "error") and pattern.
void ConfigureLogging(const std::string& level);

}  // namespace sskai

#define SSKAI_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SSKAI_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SSKAI_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SSKAI_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
