// apps/sskai/commands.h — the process roles of the one `sskai` binary.
#pragma once

#include <string>

namespace sskai::app {

struct ServerFlags {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./var";
  std::string log_level = "info";
  int io_threads = 2;
  int warm_pool = 1;  // standby replica processes (engine loaded) for fast cold starts
  int max_running_jobs = 2;
  int max_attempts = 3;
  double max_upload_gib = 8;
  std::string catalog_dir;  // planner catalog; "" = DefaultCatalogDir()
  // Price of this machine as a planner offering named kLocalOffering: "zero", "rate:<usd/h>" or
  // "same-as:<instance type>[@<region>]".
  std::string local_price = "zero";
};
// The offering name of this machine in the catalog and in usage records.
inline constexpr const char* kLocalOffering = "this-machine";
// SSKAI_DEFAULT_CATALOG_DIR when set at build time and present, else <exe dir>/../../data/catalog
// when present, else ./data/catalog.
std::string DefaultCatalogDir();
int RunServer(const ServerFlags& flags);

}  // namespace sskai::app
