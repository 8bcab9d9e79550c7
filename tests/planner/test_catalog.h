// tests/planner/test_catalog.h — the committed catalog, loaded once per test binary.
#pragma once

#include <gtest/gtest.h>

#include "planner/planner.h"

namespace sskai::planner::testing {

inline const Catalog& RealCatalog() {
  static const Catalog* catalog = [] {
    auto loaded = LoadCatalog(SSKAI_CATALOG_DIR);
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status().ToString();
      return new Catalog();
    }
    return new Catalog(std::move(loaded).value());
  }();
  return *catalog;
}

inline TrainWorkload Decoder(double params, double tokens) {
  TrainWorkload w;
  w.params = params;
  w.tokens = tokens;
  return w;
}

}  // namespace sskai::planner::testing
