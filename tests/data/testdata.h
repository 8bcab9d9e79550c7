// tests/data/testdata.h — test helpers that write real datasets (sklearn CSVs, Fashion-MNIST
// IDX archives) and hand-made archives into a temp dir. Header-only; link sskai_data (it
// brings libarchive). Aborts the test binary (SSKAI_TESTDATA_CHECK) if a source file is missing.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace sskai::testdata {

#define SSKAI_TESTDATA_CHECK(cond, what)                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "testdata: %s (%s)\n", what, #cond);           \
      std::abort();                                                       \
    }                                                                     \
  } while (false)

inline constexpr const char* kSklearnDir = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
inline constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sskai-test-XXXXXX").string();
    SSKAI_TESTDATA_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SSKAI_TESTDATA_CHECK(in.good(), path.c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string WriteFileBytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  SSKAI_TESTDATA_CHECK(out.good(), path.c_str());
  return path;
}

// Decompresses a gzip file (libarchive raw reader).
inline std::string GunzipFile(const std::string& path) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  SSKAI_TESTDATA_CHECK(archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK,
                       path.c_str());
  struct archive_entry* entry;
  SSKAI_TESTDATA_CHECK(archive_read_next_header(a, &entry) == ARCHIVE_OK, path.c_str());
  std::string out;
  char buf[1 << 16];
  la_ssize_t k;
  while ((k = archive_read_data(a, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(k));
  SSKAI_TESTDATA_CHECK(k == 0, path.c_str());
  archive_read_free(a);
  return out;
}

struct Entry {
  std::string name;
  std::string data;
};

// Writes an archive. `kind`: "zip", "tar", "tar.gz", or "gz" (one entry, gzip only).
// Entry names are written verbatim (so tests can write "../x").
inline std::string WriteArchive(const std::string& path, const std::string& kind,
                                const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  if (kind == "zip") {
    archive_write_set_format_zip(a);
  } else if (kind == "tar" || kind == "tar.gz") {
    archive_write_set_format_pax_restricted(a);
    if (kind == "tar.gz") archive_write_add_filter_gzip(a);
  } else {
    SSKAI_TESTDATA_CHECK(kind == "gz" && entries.size() == 1, "WriteArchive kind");
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
  }
  SSKAI_TESTDATA_CHECK(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK, path.c_str());
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    SSKAI_TESTDATA_CHECK(archive_write_header(a, entry) == ARCHIVE_OK, e.name.c_str());
    if (!e.data.empty()) {
      SSKAI_TESTDATA_CHECK(archive_write_data(a, e.data.data(), e.data.size()) ==
                               static_cast<la_ssize_t>(e.data.size()),
                           e.name.c_str());
    }
    archive_entry_free(entry);
  }
  SSKAI_TESTDATA_CHECK(archive_write_close(a) == ARCHIVE_OK, path.c_str());
  archive_write_free(a);
  return path;
}

// Gzips `data` in memory.
inline std::string Gzip(const std::string& data) {
  TempDir dir;
  return ReadFileBytes(WriteArchive(dir.File("x.gz"), "gz", {{"data", data}}));
}

// Writes a proper CSV (header row, target last, named "target") for one of the sklearn
// datasets: "iris" (4 named features, 150 rows, classes 0-2), "wine" (13 named, 178 rows,
// 0-2), "breast_cancer" (f0..f29, 569 rows, 0-1), "digits" (p0..p63, 1797 rows, 0-9).
// Returns the file's path (`dir`/<name>.csv).
inline std::string WriteSklearnCsv(const std::string& name, const std::string& dir) {
  std::string body;
  std::vector<std::string> features;
  if (name == "digits") {
    body = GunzipFile(std::string(kSklearnDir) + "/digits.csv.gz");
    for (int idx = 0; idx < 64; ++idx) features.push_back("p" + std::to_string(idx));
  } else {
    std::string raw = ReadFileBytes(std::string(kSklearnDir) + "/" +
                                    (name == "wine" ? "wine_data" : name) + ".csv");
    body = raw.substr(raw.find('\n') + 1);  // drop "n_samples,n_features,class names..."
    if (name == "iris") {
      features = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    } else if (name == "wine") {
      features = {"alcohol",         "malic_acid", "ash",         "alcalinity_of_ash",
                  "magnesium",       "total_phenols", "flavanoids", "nonflavanoid_phenols",
                  "proanthocyanins", "color_intensity", "hue",     "od280_od315",
                  "proline"};
    } else {
      SSKAI_TESTDATA_CHECK(name == "breast_cancer", "unknown sklearn dataset");
      for (int idx = 0; idx < 30; ++idx) features.push_back("f" + std::to_string(idx));
    }
  }
  std::string header;
  for (const auto& f : features) header += f + ",";
  header += "target\n";
  return WriteFileBytes(dir + "/" + name + ".csv", header + body);
}

// Writes a tar of Fashion-MNIST images + labels (train split, or t10k when `test_split`).
// `limit_items` 0 = all items, stored as the original .gz entries; else the first
// `limit_items` items as uncompressed IDX entries ("train-images-idx3-ubyte", ...).
// Returns the tar's path.
inline std::string WriteFashionMnistArchive(const std::string& dir, int limit_items,
                                            bool test_split) {
  std::string prefix = test_split ? "t10k" : "train";
  std::string images = std::string(kFashionDir) + "/" + prefix + "-images-idx3-ubyte.gz";
  std::string labels = std::string(kFashionDir) + "/" + prefix + "-labels-idx1-ubyte.gz";
  std::string out = dir + "/fashion-mnist-" + prefix +
                    (limit_items > 0 ? "-" + std::to_string(limit_items) : "") + ".tar";
  if (limit_items <= 0) {
    return WriteArchive(out, "tar",
                        {{prefix + "-images-idx3-ubyte.gz", ReadFileBytes(images)},
                         {prefix + "-labels-idx1-ubyte.gz", ReadFileBytes(labels)}});
  }
  auto truncate = [&](std::string idx, size_t header, size_t item_bytes) {
    auto n = static_cast<uint32_t>(limit_items);
    idx[4] = static_cast<char>(n >> 24);
    idx[5] = static_cast<char>(n >> 16);
    idx[6] = static_cast<char>(n >> 8);
    idx[7] = static_cast<char>(n);
    idx.resize(header + item_bytes * static_cast<size_t>(limit_items));
    return idx;
  };
  return WriteArchive(out, "tar",
                      {{prefix + "-images-idx3-ubyte", truncate(GunzipFile(images), 16, 784)},
                       {prefix + "-labels-idx1-ubyte", truncate(GunzipFile(labels), 8, 1)}});
}

}  // namespace sskai::testdata
