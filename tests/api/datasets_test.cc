// Dataset upload validation errors carry where they point: details {"line", "column"}.
#include "api_fixture.h"

namespace sskai::api {
namespace {

class DatasetUploadTest : public ApiRouterTest {
 protected:
  http::Response Upload(const std::string& name, const std::string& content) {
    std::string path = dir_.path() + "/upload-" + std::to_string(++uploads_) + ".csv";
    std::ofstream(path) << content;
    http::Request req;
    req.method = "POST";
    req.target = "/v1/datasets/" + name + "/versions?filename=x.csv";
    req.body_file = path;
    req.body_size = content.size();
    req.headers["x-request-id"] = "test";
    req.headers["authorization"] = "Bearer " + admin_token_;
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    router_->Dispatch(req, [promise](http::Response r) { promise->set_value(std::move(r)); });
    if (future.wait_for(10s) != std::future_status::ready) return {};
    return future.get();
  }
  int uploads_ = 0;
};

TEST_F(DatasetUploadTest, ValidationErrorsCarryLineAndColumn) {
  http::Response ragged = Upload("ragged", "a,b,c\n1,2,x\n3,4,y\n5,6\n");
  EXPECT_EQ(ragged.status, 400) << ragged.body;
  json details = Body(ragged)["error"]["details"];
  EXPECT_EQ(details.value("line", 0), 4) << ragged.body;
  EXPECT_FALSE(details.contains("column"));
  EXPECT_NE(Message(ragged).find("'x.csv': line 4: expected 3 fields, got 2"), std::string::npos);

  http::Response unnamed = Upload("unnamed", "a,b,\n1,2,3\n");
  EXPECT_EQ(unnamed.status, 400) << unnamed.body;
  details = Body(unnamed)["error"]["details"];
  EXPECT_EQ(details.value("line", 0), 1) << unnamed.body;
  EXPECT_EQ(details.value("column", 0), 3) << unnamed.body;

  http::Response empty = Upload("empty", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_TRUE(Body(empty)["error"]["details"].empty());
  // Nothing half-written: no dataset rows for the rejected uploads.
  EXPECT_EQ(Body(Call("GET", "/v1/datasets", admin_token_))["items"].size(), 0u);
}

}  // namespace
}  // namespace sskai::api
