// src/planner/catalog.cc — loading the product catalog, price refresh, local compute.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "planner/csv_util.h"
#include "planner/planner.h"

namespace sskai::planner {
namespace {

using internal::ColumnIndex;
using internal::CsvTable;
using internal::ParseCsv;
using internal::ParseNumber;

constexpr double kMaxUsdPerHour = 10000;  // anything above is a unit error (e.g. cents or $/month)

std::string At(std::string_view file, int line) { return std::string(file) + ":" + std::to_string(line); }

bool IsCudaName(std::string_view name) {
  for (std::string_view prefix : {"Inferentia", "Trainium", "Gaudi", "Radeon"}) {
    if (name.substr(0, prefix.size()) == prefix) return false;
  }
  return !name.empty();
}

// Reads an optional price cell: empty -> absent; else finite, > 0, < kMaxUsdPerHour.
Result<std::optional<double>> ParsePrice(std::string_view text, std::string_view file, int line,
                                         std::string_view field) {
  double value = 0;
  SSKAI_ASSIGN_OR_RETURN(bool present, ParseNumber(text, file, line, field, true, &value));
  if (!present) return std::optional<double>();
  if (value <= 0 || value >= kMaxUsdPerHour) {
    return Status::InvalidArgument(At(file, line) + ": field '" + std::string(field) + "': " +
                                   std::string(text) + " is outside (0, 10000) USD/hour");
  }
  return std::optional<double>(value);
}

Result<int> ParseBand(std::string_view text, std::string_view file, int line) {
  double value = -1;
  SSKAI_ASSIGN_OR_RETURN(bool present, ParseNumber(text, file, line, "interruption_band", true, &value));
  if (!present) return -1;
  if (value != static_cast<int>(value) || value < 0 || value > 4) {
    return Status::InvalidArgument(At(file, line) + ": field 'interruption_band': " +
                                   std::string(text) + " is not an integer 0..4");
  }
  return static_cast<int>(value);
}

std::string OfferingKey(std::string_view type, std::string_view region, std::string_view zone) {
  std::string key(type);
  key.append("|").append(region).append("|").append(zone);
  return key;
}

Result<std::unordered_map<std::string, std::string>> ParseKeyValues(std::string_view text,
                                                                    std::string_view file) {
  std::unordered_map<std::string, std::string> values;
  int line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument(At(file, line_no) + ": expected key=value");
    }
    values[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return values;
}

Result<ServerlessPricing> ParseServerless(std::string_view text, std::string_view file) {
  SSKAI_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text, file));
  SSKAI_ASSIGN_OR_RETURN(size_t key_col, ColumnIndex(table, "key", file));
  SSKAI_ASSIGN_OR_RETURN(size_t value_col, ColumnIndex(table, "value", file));
  ServerlessPricing pricing;
  std::vector<std::pair<std::string_view, double*>> fields = {
      {"lambda_x86_usd_per_gb_second", &pricing.usd_per_gb_second},
      {"lambda_usd_per_million_requests", &pricing.usd_per_million_requests},
      {"lambda_memory_mb_min", &pricing.memory_mb_min},
      {"lambda_memory_mb_max", &pricing.memory_mb_max},
      {"lambda_mb_per_vcpu", &pricing.mb_per_vcpu},
      {"lambda_max_timeout_seconds", &pricing.max_timeout_seconds},
      {"spot_notice_seconds", &pricing.spot_notice_seconds}};
  for (auto& [name, target] : fields) {
    bool found = false;
    for (size_t idx = 0; idx < table.rows.size(); ++idx) {
      if (table.rows[idx][key_col] != name) continue;
      SSKAI_ASSIGN_OR_RETURN(bool ignored, ParseNumber(table.rows[idx][value_col], file,
                                                       table.line_numbers[idx], name, false, target));
      (void)ignored;
      if (*target <= 0) return Status::InvalidArgument(At(file, table.line_numbers[idx]) + ": field '" + std::string(name) + "': must be > 0");
      found = true;
    }
    if (!found) return Status::InvalidArgument(std::string(file) + ": missing key '" + std::string(name) + "'");
  }
  return pricing;
}

}  // namespace

std::string_view ToString(Market market) { return market == Market::kSpot ? "spot" : "on-demand"; }

const GpuSpec* Catalog::FindGpu(std::string_view name) const {
  for (const GpuSpec& gpu : gpus) {
    if (gpu.name == name) return &gpu;
  }
  return nullptr;
}

bool Catalog::HasInstanceType(std::string_view instance_type) const {
  return std::any_of(offerings.begin(), offerings.end(),
                     [&](const Offering& o) { return o.instance_type == instance_type; });
}

Result<std::vector<Offering>> ParseOfferingsCsv(std::string_view text, std::string_view file) {
  SSKAI_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text, file));
  static const char* kColumns[] = {"instance_type", "region", "zone", "arch", "vcpus", "memory_gib",
                                   "accelerator", "accelerator_count", "accelerator_memory_gib",
                                   "ondemand_usd_per_hour", "spot_usd_per_hour", "interruption_band"};
  size_t col[12];
  for (int idx = 0; idx < 12; ++idx) {
    SSKAI_ASSIGN_OR_RETURN(col[idx], ColumnIndex(table, kColumns[idx], file));
  }
  std::vector<Offering> offerings;
  offerings.reserve(table.rows.size());
  std::set<std::string> seen;
  for (size_t row_idx = 0; row_idx < table.rows.size(); ++row_idx) {
    const auto& row = table.rows[row_idx];
    int line = table.line_numbers[row_idx];
    Offering o;
    o.instance_type = row[col[0]];
    o.region = row[col[1]];
    o.zone = row[col[2]];
    o.arch = row[col[3]];
    if (o.instance_type.empty() || o.region.empty() || o.zone.empty()) {
      return Status::InvalidArgument(At(file, line) + ": instance_type, region and zone are required");
    }
    if (!seen.insert(OfferingKey(o.instance_type, o.region, o.zone)).second) {
      return Status::InvalidArgument(At(file, line) + ": duplicate offering " + o.instance_type + " " + o.zone);
    }
    SSKAI_RETURN_IF_ERROR(ParseNumber(row[col[4]], file, line, "vcpus", false, &o.vcpus).status());
    SSKAI_RETURN_IF_ERROR(ParseNumber(row[col[5]], file, line, "memory_gib", false, &o.memory_gib).status());
    if (o.vcpus <= 0 || o.memory_gib <= 0) {
      return Status::InvalidArgument(At(file, line) + ": field 'vcpus'/'memory_gib': must be > 0");
    }
    o.accelerator = row[col[6]];
    SSKAI_RETURN_IF_ERROR(ParseNumber(row[col[7]], file, line, "accelerator_count", true, &o.accelerator_count).status());
    SSKAI_RETURN_IF_ERROR(ParseNumber(row[col[8]], file, line, "accelerator_memory_gib", true, &o.accelerator_memory_gib).status());
    if (!o.accelerator.empty() && (o.accelerator_count <= 0 || o.accelerator_memory_gib <= 0)) {
      return Status::InvalidArgument(At(file, line) + ": field 'accelerator_count': accelerator " +
                                     o.accelerator + " needs a positive count and memory");
    }
    SSKAI_ASSIGN_OR_RETURN(o.ondemand_usd_per_hour, ParsePrice(row[col[9]], file, line, "ondemand_usd_per_hour"));
    SSKAI_ASSIGN_OR_RETURN(o.spot_usd_per_hour, ParsePrice(row[col[10]], file, line, "spot_usd_per_hour"));
    SSKAI_ASSIGN_OR_RETURN(o.interruption_band, ParseBand(row[col[11]], file, line));
    offerings.push_back(std::move(o));
  }
  if (offerings.empty()) return Status::InvalidArgument(std::string(file) + ": no offerings");
  return offerings;
}

Result<std::vector<GpuSpec>> ParseGpuSpecsCsv(std::string_view text, std::string_view file) {
  SSKAI_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text, file));
  static const char* kColumns[] = {"gpu", "memory_gib", "mem_bw_gbps", "fp32_tflops", "bf16_tflops", "fp16_tflops"};
  size_t col[6];
  for (int idx = 0; idx < 6; ++idx) {
    SSKAI_ASSIGN_OR_RETURN(col[idx], ColumnIndex(table, kColumns[idx], file));
  }
  std::vector<GpuSpec> gpus;
  for (size_t row_idx = 0; row_idx < table.rows.size(); ++row_idx) {
    const auto& row = table.rows[row_idx];
    int line = table.line_numbers[row_idx];
    GpuSpec gpu;
    gpu.name = row[col[0]];
    if (gpu.name.empty()) return Status::InvalidArgument(At(file, line) + ": field 'gpu': empty");
    double* targets[] = {&gpu.memory_gib, &gpu.mem_bw_gbps, &gpu.fp32_tflops, &gpu.bf16_tflops, &gpu.fp16_tflops};
    for (int idx = 1; idx < 6; ++idx) {
      SSKAI_RETURN_IF_ERROR(ParseNumber(row[col[idx]], file, line, kColumns[idx], idx != 1, targets[idx - 1]).status());
      if (*targets[idx - 1] < 0) return Status::InvalidArgument(At(file, line) + ": field '" + kColumns[idx] + "': negative");
    }
    gpu.cuda = IsCudaName(gpu.name);
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

Result<Catalog> LoadCatalog(const std::string& dir) {
  Catalog catalog;
  SSKAI_ASSIGN_OR_RETURN(std::string manifest_text, internal::ReadFile(dir + "/manifest.txt"));
  SSKAI_ASSIGN_OR_RETURN(auto manifest, ParseKeyValues(manifest_text, "manifest.txt"));
  if (manifest["format"] != "1") return Status::InvalidArgument("manifest.txt: field 'format': expected 1");
  catalog.catalog_date = manifest["catalog_date"];
  if (!internal::IsIsoDate(catalog.catalog_date)) {
    return Status::InvalidArgument("manifest.txt: field 'catalog_date': '" + catalog.catalog_date + "' is not YYYY-MM-DD");
  }
  catalog.prices_date = catalog.catalog_date;
  SSKAI_ASSIGN_OR_RETURN(std::string offerings_text, internal::ReadFile(dir + "/offerings.csv"));
  SSKAI_ASSIGN_OR_RETURN(catalog.offerings, ParseOfferingsCsv(offerings_text, "offerings.csv"));
  SSKAI_ASSIGN_OR_RETURN(std::string gpu_text, internal::ReadFile(dir + "/gpu_specs.csv"));
  SSKAI_ASSIGN_OR_RETURN(catalog.gpus, ParseGpuSpecsCsv(gpu_text, "gpu_specs.csv"));
  SSKAI_ASSIGN_OR_RETURN(std::string serverless_text, internal::ReadFile(dir + "/serverless.csv"));
  SSKAI_ASSIGN_OR_RETURN(catalog.serverless, ParseServerless(serverless_text, "serverless.csv"));
  for (size_t idx = 0; idx < catalog.offerings.size(); ++idx) {
    const Offering& o = catalog.offerings[idx];
    if (!o.accelerator.empty() && catalog.FindGpu(o.accelerator) == nullptr) {
      return Status::InvalidArgument("offerings.csv:" + std::to_string(idx + 2) + ": field 'accelerator': '" +
                                     o.accelerator + "' is not in gpu_specs.csv");
    }
  }
  return catalog;
}

Result<Catalog> ApplyPriceText(const Catalog& base, std::string_view text, std::string_view file) {
  // First non-empty line: "# as_of=YYYY-MM-DD".
  size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  constexpr std::string_view kPrefix = "# as_of=";
  if (first.substr(0, kPrefix.size()) != kPrefix || !internal::IsIsoDate(first.substr(kPrefix.size()))) {
    return Status::InvalidArgument(std::string(file) + ":1: expected '# as_of=YYYY-MM-DD' as the first line");
  }
  std::string as_of(first.substr(kPrefix.size()));
  if (as_of < base.prices_date) {
    return Status::InvalidArgument(std::string(file) + ":1: as_of " + as_of +
                                   " is older than the loaded prices (" + base.prices_date + ")");
  }
  SSKAI_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text, file));
  SSKAI_ASSIGN_OR_RETURN(size_t type_col, ColumnIndex(table, "instance_type", file));
  SSKAI_ASSIGN_OR_RETURN(size_t region_col, ColumnIndex(table, "region", file));
  SSKAI_ASSIGN_OR_RETURN(size_t zone_col, ColumnIndex(table, "zone", file));
  SSKAI_ASSIGN_OR_RETURN(size_t od_col, ColumnIndex(table, "ondemand_usd_per_hour", file));
  SSKAI_ASSIGN_OR_RETURN(size_t spot_col, ColumnIndex(table, "spot_usd_per_hour", file));
  auto band_col = ColumnIndex(table, "interruption_band", file);
  std::unordered_map<std::string, size_t> index;
  for (size_t idx = 0; idx < base.offerings.size(); ++idx) {
    const Offering& o = base.offerings[idx];
    index.emplace(OfferingKey(o.instance_type, o.region, o.zone), idx);
  }
  Catalog updated = base;
  for (size_t row_idx = 0; row_idx < table.rows.size(); ++row_idx) {
    const auto& row = table.rows[row_idx];
    int line = table.line_numbers[row_idx];
    auto it = index.find(OfferingKey(row[type_col], row[region_col], row[zone_col]));
    if (it == index.end()) {
      return Status::InvalidArgument(At(file, line) + ": unknown offering " + row[type_col] + " " +
                                     row[region_col] + " " + row[zone_col] + " (not in offerings.csv)");
    }
    Offering& o = updated.offerings[it->second];
    SSKAI_ASSIGN_OR_RETURN(auto od, ParsePrice(row[od_col], file, line, "ondemand_usd_per_hour"));
    SSKAI_ASSIGN_OR_RETURN(auto spot, ParsePrice(row[spot_col], file, line, "spot_usd_per_hour"));
    if (od) o.ondemand_usd_per_hour = od;
    if (spot) o.spot_usd_per_hour = spot;
    if (band_col.ok()) {
      SSKAI_ASSIGN_OR_RETURN(int band, ParseBand(row[*band_col], file, line));
      if (band >= 0) o.interruption_band = band;
    }
  }
  updated.prices_date = as_of;
  return updated;
}

Result<Catalog> ApplyPriceFile(const Catalog& base, const std::string& path) {
  SSKAI_ASSIGN_OR_RETURN(std::string text, internal::ReadFile(path));
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  return ApplyPriceText(base, text, name);
}

Result<Catalog> AddLocalCompute(const Catalog& base, const std::vector<LocalCompute>& local) {
  Catalog updated = base;
  std::set<std::string> names;
  for (const LocalCompute& spec : local) {
    std::string what = "local compute '" + spec.name + "'";
    if (spec.name.empty()) return Status::InvalidArgument("local compute: name is required");
    if (!names.insert(spec.name).second || base.HasInstanceType(spec.name)) {
      return Status::InvalidArgument(what + ": duplicate name");
    }
    if (!(spec.vcpus > 0) || !(spec.memory_gib > 0) || spec.nodes < 1 || spec.accelerator_count < 0) {
      return Status::InvalidArgument(what + ": vcpus and memory_gib must be > 0, nodes >= 1");
    }
    Offering o;
    o.instance_type = spec.name;
    o.region = "local";
    o.zone = spec.name;
    o.arch = "x86_64";
    o.vcpus = spec.vcpus;
    o.memory_gib = spec.memory_gib;
    o.local = true;
    o.max_nodes = spec.nodes;
    if (!spec.accelerator.empty()) {
      const GpuSpec* gpu = base.FindGpu(spec.accelerator);
      if (gpu == nullptr) return Status::NotFound(what + ": unknown GPU '" + spec.accelerator + "'");
      if (!(spec.accelerator_count > 0)) return Status::InvalidArgument(what + ": accelerator_count must be > 0");
      o.accelerator = spec.accelerator;
      o.accelerator_count = spec.accelerator_count;
      o.accelerator_memory_gib = gpu->memory_gib;
    }
    switch (spec.pricing) {
      case LocalCompute::Pricing::kZero:
        o.ondemand_usd_per_hour = 0.0;
        break;
      case LocalCompute::Pricing::kRate:
        if (!(spec.usd_per_hour >= 0) || spec.usd_per_hour >= kMaxUsdPerHour) {
          return Status::InvalidArgument(what + ": usd_per_hour must be in [0, 10000)");
        }
        o.ondemand_usd_per_hour = spec.usd_per_hour;
        break;
      case LocalCompute::Pricing::kSameAs: {
        std::optional<double> price;
        for (const Offering& other : base.offerings) {
          if (other.instance_type == spec.same_as_instance_type && other.region == spec.same_as_region &&
              other.ondemand_usd_per_hour) {
            price = other.ondemand_usd_per_hour;
            break;
          }
        }
        if (!price) {
          return Status::NotFound(what + ": no on-demand price for instance type '" +
                                  spec.same_as_instance_type + "' in region '" + spec.same_as_region + "'");
        }
        o.ondemand_usd_per_hour = price;
        break;
      }
    }
    updated.offerings.push_back(std::move(o));
  }
  return updated;
}

}  // namespace sskai::planner
