// Dynamic batching: coalescing, splitting back, error isolation — with a fake predictor.
#include "serving/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>

namespace sskai::serving {
namespace {

using nlohmann::json;

// value = 2 * row["x"]; a row with "bad" fails the whole call (like a wrong shape).
class FakePredictor : public ml::Predictor {
 public:
  Result<ml::PredictOutput> PredictJson(const std::string& input_json) override {
    calls += 1;
    json j = json::parse(input_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::InvalidArgument("input: not valid JSON");
    if (j.is_object()) j = j.contains("rows") ? j["rows"] : j["instances"];
    ml::PredictOutput out;
    for (const json& row : j) {
      if (row.contains("bad")) return Status::InvalidArgument("row has a bad field");
      out.values.push_back(2 * row["x"].get<double>());
    }
    return out;
  }
  std::string metadata_json() const override { return "{}"; }
  std::atomic<int> calls{0};
};

struct Answer {
  std::promise<http::Response> promise;
  std::future<http::Response> future = promise.get_future();
};

TEST(BatchHeaderTest, Parses) {
  auto s = ParseBatchHeader("32,2");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->max_batch_size, 32);
  EXPECT_EQ(s->max_delay.count(), 2);
  EXPECT_FALSE(ParseBatchHeader("").has_value());
  EXPECT_FALSE(ParseBatchHeader("1,2").has_value());   // size 1 = off
  EXPECT_FALSE(ParseBatchHeader("x,2").has_value());
  EXPECT_FALSE(ParseBatchHeader("32").has_value());
}

TEST(SplitRowsTest, RowListsOnly) {
  EXPECT_EQ(SplitRows(R"({"rows":[{"x":1},{"x":2}]})")->size(), 2u);
  EXPECT_EQ(SplitRows(R"({"instances":[[1,2],[3,4]]})")->size(), 2u);
  EXPECT_EQ(SplitRows(R"([{"x":1}])")->size(), 1u);
  EXPECT_FALSE(SplitRows(R"({"x":1})").has_value());          // one bare row
  EXPECT_FALSE(SplitRows(R"({"inputs":[1]})").has_value());    // not a row list
  EXPECT_FALSE(SplitRows(R"([1,2,3])").has_value());           // a bare vector
  EXPECT_FALSE(SplitRows(R"({"rows":[]})").has_value());
  EXPECT_FALSE(SplitRows("not json").has_value());
}

TEST(SplitRowsTest, CutsRowTextsOutOfTheBodyAsWritten) {
  auto rows = SplitRows(" { \"rows\" : [ {\"s\":\"a]}\\\"[\"} , [1, [2]] ] } ");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], R"({"s":"a]}\"["})");  // brackets and escaped quotes inside strings
  EXPECT_EQ((*rows)[1], "[1, [2]]");
  EXPECT_FALSE(SplitRows(R"({"rows":[{"x":1}],"other":1})").has_value());  // more keys
  EXPECT_FALSE(SplitRows(R"({"rows":[{"x":1}]} x)").has_value());           // not JSON
  EXPECT_FALSE(SplitRows(R"([{"x":1}, 2])").has_value());                   // a number row
  EXPECT_FALSE(SplitRows(R"([{"x":1} {"x":2}])").has_value());              // no comma
  EXPECT_FALSE(SplitRows(R"([{"x":1},])").has_value());                     // trailing comma
  EXPECT_FALSE(SplitRows(R"([{"x":1}],)").has_value());                     // text after the rows
  // A row's own text is not validated here (the predictor's parse of the batch is).
  auto unchecked = SplitRows(R"([{"x":}])");
  ASSERT_TRUE(unchecked.has_value());
  EXPECT_EQ((*unchecked)[0], R"({"x":})");
}

TEST(NormalizeInputTest, BareRowObjectsBecomeAListEnvelopesAndListsPassUnchanged) {
  EXPECT_EQ(NormalizeInput(R"({"a":1,"b":"x"})"), R"([{"a":1,"b":"x"}])");
  EXPECT_EQ(NormalizeInput(R"( {"a":{"rows":1}} )"), R"([{"a":{"rows":1}}])");
  for (std::string body : {R"([{"a":1}])", R"( [1,2] )", R"({"instances":[[1,2]]})",
                           R"({ "inputs" : [] })", R"({"rows":[{"a":1}]})",
                           R"({"a":1,"rows":[{"a":1}]})", "not json", "{\"rows\": broken"}) {
    EXPECT_EQ(NormalizeInput(body), body) << body;
  }
}

TEST(BatcherTest, CoalescesIntoOneForwardPassWithTheSameAnswers) {
  auto predictor = std::make_shared<FakePredictor>();
  Batcher batcher([predictor] { return predictor; });
  constexpr int kRequests = 8;
  // Size = kRequests and a long delay: the worker runs exactly when all 8 are queued.
  BatchSettings settings{kRequests, std::chrono::milliseconds(1000)};
  std::vector<std::unique_ptr<Answer>> answers;
  std::vector<std::string> bodies;
  for (int idx = 0; idx < kRequests; ++idx) {
    answers.push_back(std::make_unique<Answer>());
    // Mixed envelopes and row counts.
    std::string body = idx % 2 == 0 ? "{\"rows\":[{\"x\":" + std::to_string(idx) + "},{\"x\":100}]}"
                                    : "[{\"x\":" + std::to_string(idx) + "}]";
    bodies.push_back(body);
    Answer* a = answers.back().get();
    batcher.Submit(body, settings, [a](http::Response r) { a->promise.set_value(std::move(r)); });
  }
  std::vector<http::Response> batched;
  for (auto& a : answers) batched.push_back(a->future.get());
  EXPECT_EQ(predictor->calls.load(), 1);
  EXPECT_EQ(batcher.batches(), 1);
  EXPECT_EQ(batcher.batched_requests(), kRequests);
  for (int idx = 0; idx < kRequests; ++idx) {
    http::Response unbatched = PredictOne(*predictor, bodies[idx]);
    EXPECT_EQ(batched[idx].status, 200);
    EXPECT_EQ(batched[idx].body, unbatched.body) << "request " << idx;
  }
}

TEST(BatcherTest, ABadRequestFailsAloneAndOthersSucceed) {
  auto predictor = std::make_shared<FakePredictor>();
  Batcher batcher([predictor] { return predictor; });
  BatchSettings settings{5, std::chrono::milliseconds(1000)};
  std::vector<std::string> bodies = {R"({"rows":[{"x":1}]})", R"({"rows":[{"bad":true}]})",
                                     R"({"x":3})", R"([{"x":4},{"x":5}])", R"([{"x":}])"};
  std::vector<std::unique_ptr<Answer>> answers;
  for (const auto& body : bodies) {
    answers.push_back(std::make_unique<Answer>());
    Answer* a = answers.back().get();
    batcher.Submit(body, settings, [a](http::Response r) { a->promise.set_value(std::move(r)); });
  }
  auto r0 = answers[0]->future.get(), r1 = answers[1]->future.get(),
       r2 = answers[2]->future.get(), r3 = answers[3]->future.get(), r4 = answers[4]->future.get();
  EXPECT_EQ(r0.status, 200);
  EXPECT_EQ(json::parse(r0.body)["predictions"], json::array({2.0}));
  EXPECT_EQ(r1.status, 400);
  EXPECT_NE(r1.body.find("bad field"), std::string::npos) << r1.body;
  EXPECT_EQ(r2.status, 200);  // a bare row object runs on its own
  EXPECT_EQ(json::parse(r2.body)["predictions"], json::array({6.0}));
  EXPECT_EQ(r3.status, 200);
  EXPECT_EQ(json::parse(r3.body)["predictions"], json::array({8.0, 10.0}));
  EXPECT_EQ(r4.status, 400);  // a row that is not JSON: its own error, the others unaffected
  EXPECT_NE(r4.body.find("not valid JSON"), std::string::npos) << r4.body;
}

TEST(BatcherTest, SeveralWorkersAnswerEveryRequestOnce) {
  auto predictor = std::make_shared<FakePredictor>();
  Batcher batcher([predictor] { return predictor; }, /*workers=*/3);
  constexpr int kRequests = 200;
  std::vector<std::unique_ptr<Answer>> answers;
  for (int idx = 0; idx < kRequests; ++idx) {
    answers.push_back(std::make_unique<Answer>());
    Answer* a = answers.back().get();
    batcher.Submit("[{\"x\":" + std::to_string(idx) + "}]", BatchSettings{8, std::chrono::milliseconds(1)},
                   [a](http::Response r) { a->promise.set_value(std::move(r)); });
  }
  for (int idx = 0; idx < kRequests; ++idx) {
    auto r = answers[idx]->future.get();  // a second answer would throw (promise already satisfied)
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body)["predictions"], json::array({2.0 * idx})) << idx;
  }
  EXPECT_EQ(batcher.batched_requests(), kRequests);
  EXPECT_LT(batcher.batches(), kRequests);  // coalesced, not one pass per request
}

TEST(BatcherTest, NoDelayRunsWhatIsQueued) {
  auto predictor = std::make_shared<FakePredictor>();
  Batcher batcher([predictor] { return predictor; });
  Answer a;
  batcher.Submit(R"([{"x":21}])", BatchSettings{32, std::chrono::milliseconds(0)},
                 [&a](http::Response r) { a.promise.set_value(std::move(r)); });
  auto r = a.future.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["predictions"], json::array({42.0}));
}

TEST(BatcherTest, NoModelIs503) {
  Batcher batcher([] { return std::shared_ptr<ml::Predictor>(); });
  Answer a;
  batcher.Submit(R"([{"x":1}])", BatchSettings{2, std::chrono::milliseconds(0)},
                 [&a](http::Response r) { a.promise.set_value(std::move(r)); });
  EXPECT_EQ(a.future.get().status, 503);
}

}  // namespace
}  // namespace sskai::serving
