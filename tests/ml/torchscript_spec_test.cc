// The TorchScript input spec (torch-free): parsing, defaults, errors naming the field.
#include <gtest/gtest.h>

#include "ml/ml.h"

namespace sskai::ml {
namespace {

TEST(TorchScriptSpecTest, ParsesInputsOutputsTaskAndClassesWithDefaults) {
  auto spec = TorchScriptSpecFromJson(R"({"inputs":[{"name":"x","shape":[-1,4],"range":[-1,2]},
      {"shape":[-1,3],"dtype":"int64"}],"outputs":[{"shape":[-1,3]}],"task":"classification",
      "classes":["a","b","c"]})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->inputs.size(), 2u);
  EXPECT_EQ(spec->inputs[0].name, "x");
  EXPECT_EQ(spec->inputs[0].dtype, "float32");
  EXPECT_TRUE(spec->inputs[0].has_range);
  EXPECT_EQ(spec->inputs[0].range_hi, 2);
  EXPECT_EQ(spec->inputs[1].name, "input-1");
  EXPECT_EQ(spec->inputs[1].dtype, "int64");
  EXPECT_EQ(spec->outputs[0].name, "output-0");
  EXPECT_EQ(spec->classes.size(), 3u);
  auto again = TorchScriptSpecFromJson(TorchScriptSpecToJson(*spec));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(TorchScriptSpecToJson(*again), TorchScriptSpecToJson(*spec));
  EXPECT_EQ(ShapeToString({-1, 10}), "[-1,10]");
}

TEST(TorchScriptSpecTest, ErrorsNameTheField) {
  struct Case { const char* json; const char* field; };
  const Case cases[] = {
      {"[]", "spec: not a JSON object"},
      {"{}", "spec.inputs: required"},
      {R"({"inputs":[]})", "spec.inputs"},
      {R"({"inputs":[{"shape":[-1,"4"]}]})", "spec.inputs[0].shape[1]"},
      {R"({"inputs":[{"shape":[-1,-1]}]})", "only the first (batch) dimension"},
      {R"({"inputs":[{"dtype":"float32"}]})", "spec.inputs[0].shape: required"},
      {R"({"inputs":[{"shape":[-1,4],"dtype":"complex"}]})", "spec.inputs[0].dtype"},
      {R"({"inputs":[{"shape":[-1,4],"range":[2,1]}]})", "spec.inputs[0].range"},
      {R"({"inputs":[{"shape":[-1,4],"colour":1}]})", "unknown field 'colour'"},
      {R"({"inputs":[{"name":"a","shape":[1]},{"name":"a","shape":[1]}]})", "spec.inputs[1].name: duplicate"},
      {R"({"inputs":[{"shape":[-1,4]}],"task":"ranking"})", "spec.task"},
      {R"({"inputs":[{"shape":[-1,4]}],"classes":["a"]})", "only for task classification"},
      {R"({"inputs":[{"shape":[-1,4]}],"task":"classification","classes":["a","a"]})", "spec.classes[1]: duplicate"},
      {R"({"inputs":[{"shape":[-1,4]}],"extra":1})", "unknown field 'extra'"},
  };
  for (const auto& c : cases) {
    auto spec = TorchScriptSpecFromJson(c.json);
    ASSERT_FALSE(spec.ok()) << c.json;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(spec.status().message().find(c.field), std::string::npos) << c.json << " -> " << spec.status().message();
  }
}

}  // namespace
}  // namespace sskai::ml
