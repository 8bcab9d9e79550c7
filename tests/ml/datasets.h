// tests/ml/datasets.h — loads the offline reference datasets straight into ml's input structs
// (independent of the data module): Debian python3-sklearn CSVs and Fashion-MNIST IDX.
#pragma once

#include <string>

#include "data/data.h"

namespace sskai::ml::testing {

inline constexpr char kSklearnDir[] = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";
inline constexpr char kFashionDir[] = "/usr/share/datasets/fashion-mnist/";

// iris.csv, wine_data.csv, breast_cancer.csv: first line "n,features,class names...", label last.
// Features standardized per column. Empty data (rows == 0) if the file is missing.
data::TabularData LoadSklearnCsv(const std::string& file);
// digits.csv.gz: 64 pixels + label per line, no header; standardized.
data::TabularData LoadDigits();
// Fashion-MNIST split "train" or "t10k", at most `limit` images (0 = all).
data::ImageData LoadFashionMnist(const std::string& split, int64_t limit);

}  // namespace sskai::ml::testing
