// tests/ml/loader_test.cc — LoadEngine() dlopens the engine library named by SSKAI_ML_LIBRARY.
#include <gtest/gtest.h>

#include <cstdlib>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

TEST(LoaderTest, LoadsTheEngineFromSskaiMlLibrary) {
  setenv("SSKAI_ML_LIBRARY", SSKAI_ML_LIBRARY_PATH, 1);
  auto engine = LoadEngine();
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  // The library is already mapped (the test links it), so dlopen returns the same engine.
  EXPECT_EQ(*engine, sskai_ml_engine());
  auto again = LoadEngine();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *engine);
}

TEST(LoaderDeathTest, MissingLibraryIsUnavailableWithDlerrorText) {
  EXPECT_EXIT(
      {
        setenv("SSKAI_ML_LIBRARY", "/nonexistent/libsskai_ml.so", 1);
        auto engine = LoadEngine();
        bool ok = !engine.ok() && engine.status().code() == StatusCode::kUnavailable &&
                  engine.status().message().find("/nonexistent/libsskai_ml.so") != std::string::npos &&
                  engine.status().message().find("No such file") != std::string::npos;
        std::exit(ok ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

}  // namespace
}  // namespace sskai::ml
