#include "common/log.h"

namespace sskai {

void ConfigureLogging(const std::string& level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace sskai
