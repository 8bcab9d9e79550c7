// tests/ml/datasets.cc — see datasets.h.
#include "ml/datasets.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace sskai::ml::testing {
namespace {

std::string ReadMaybeGz(const std::string& path) {
  std::string cmd = (path.ends_with(".gz") ? "zcat " : "cat ") + path + " 2>/dev/null";
  std::FILE* f = popen(cmd.c_str(), "r");
  if (!f) return "";
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(line);
  std::string part;
  while (std::getline(ss, part, sep)) parts.push_back(part);
  return parts;
}

void Standardize(data::TabularData* d) {
  for (int64_t col = 0; col < d->features; ++col) {
    double sum = 0, sq = 0;
    for (int64_t row = 0; row < d->rows; ++row) sum += d->x[row * d->features + col];
    double mean = sum / d->rows;
    for (int64_t row = 0; row < d->rows; ++row) sq += std::pow(d->x[row * d->features + col] - mean, 2);
    double sd = std::sqrt(sq / d->rows);
    if (sd < 1e-9) sd = 1;
    for (int64_t row = 0; row < d->rows; ++row) {
      float& v = d->x[row * d->features + col];
      v = static_cast<float>((v - mean) / sd);
    }
  }
}

// Lines of numbers, label last.
void ParseRows(std::stringstream& in, data::TabularData* d) {
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto cells = Split(line, ',');
    d->features = static_cast<int64_t>(cells.size()) - 1;
    for (size_t idx = 0; idx + 1 < cells.size(); ++idx) d->x.push_back(std::stof(cells[idx]));
    d->y.push_back(std::stof(cells.back()));
    ++d->rows;
  }
}

uint32_t BigEndian(const std::string& b, size_t pos) {
  return (uint32_t(uint8_t(b[pos])) << 24) | (uint32_t(uint8_t(b[pos + 1])) << 16) |
         (uint32_t(uint8_t(b[pos + 2])) << 8) | uint32_t(uint8_t(b[pos + 3]));
}

}  // namespace

data::TabularData LoadSklearnCsv(const std::string& file) {
  data::TabularData d;
  std::stringstream in(ReadMaybeGz(kSklearnDir + file));
  std::string header;
  if (!std::getline(in, header)) return d;
  auto names = Split(header, ',');
  d.classes.assign(names.begin() + 2, names.end());
  ParseRows(in, &d);
  Standardize(&d);
  return d;
}

data::TabularData LoadDigits() {
  data::TabularData d;
  std::stringstream in(ReadMaybeGz(std::string(kSklearnDir) + "digits.csv.gz"));
  ParseRows(in, &d);
  for (int cls = 0; cls < 10; ++cls) d.classes.push_back(std::to_string(cls));
  Standardize(&d);
  return d;
}

data::ImageData LoadFashionMnist(const std::string& split, int64_t limit) {
  data::ImageData d;
  std::string images = ReadMaybeGz(kFashionDir + split + "-images-idx3-ubyte.gz");
  std::string labels = ReadMaybeGz(kFashionDir + split + "-labels-idx1-ubyte.gz");
  if (images.size() < 16 || labels.size() < 8) return d;
  int64_t count = BigEndian(images, 4);
  if (limit > 0 && limit < count) count = limit;
  d.count = count;
  d.height = BigEndian(images, 8);
  d.width = BigEndian(images, 12);
  d.pixels.assign(images.begin() + 16, images.begin() + 16 + count * d.height * d.width);
  for (int64_t idx = 0; idx < count; ++idx) d.labels.push_back(uint8_t(labels[8 + idx]));
  d.classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return d;
}

}  // namespace sskai::ml::testing
