// Router matching, socket-free dispatch, error shape and URL helpers.
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "http/http.h"

namespace sskai::http {
namespace {

Response DispatchTo(const Router& router, const std::string& method, const std::string& target) {
  Request req;
  req.method = method;
  req.target = target;
  Response out;
  int calls = 0;
  router.Dispatch(req, [&](Response r) {
    out = std::move(r);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
  return out;
}

SyncHandler Echo(std::string tag) {
  return [tag](Request& req) {
    nlohmann::json params(req.params);
    return Response::Json(200, nlohmann::json{{"tag", tag}, {"params", params}}.dump());
  };
}

nlohmann::json Body(const Response& r) { return nlohmann::json::parse(r.body); }

TEST(RouterTest, MatchesParamsAndPercentDecodesThem) {
  Router router;
  router.AddSync("GET", "/v1/models/{name}/versions/{version}", Echo("mv"));
  Response r = DispatchTo(router, "GET", "/v1/models/my%20model/versions/3?x=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["params"]["name"], "my model");
  EXPECT_EQ(Body(r)["params"]["version"], "3");
}

TEST(RouterTest, RestParamTakesTheRestOfThePath) {
  Router router;
  router.AddSync("GET", "/files/{path...}", Echo("rest"));
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/files/a/b/c.txt"))["params"]["path"], "a/b/c.txt");
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/files/x"))["params"]["path"], "x");
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/files"))["params"]["path"], "");
}

TEST(RouterTest, LiteralsBeatParamsAndParamsBeatRest) {
  Router router;
  router.AddSync("GET", "/{all...}", Echo("rest"));
  router.AddSync("GET", "/v1/jobs/{id}", Echo("param"));
  router.AddSync("GET", "/v1/jobs/stats", Echo("literal"));
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/v1/jobs/stats"))["tag"], "literal");
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/v1/jobs/42"))["tag"], "param");
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/index.html"))["tag"], "rest");
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405) {
  Router router;
  router.AddSync("GET", "/v1/jobs/{id}", Echo("get"));
  router.AddSync("DELETE", "/v1/jobs/{id}", Echo("del"));
  Response missing = DispatchTo(router, "GET", "/v1/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Body(missing)["error"]["code"], "not_found");

  Response wrong = DispatchTo(router, "POST", "/v1/jobs/1");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(Body(wrong)["error"]["code"], "method_not_allowed");
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].first, "Allow");
  EXPECT_EQ(wrong.headers[0].second, "GET, DELETE");
}

TEST(RouterTest, ParamDoesNotMatchEmptySegmentOrExtraSegments) {
  Router router;
  router.AddSync("GET", "/a/{id}", Echo("a"));
  EXPECT_EQ(DispatchTo(router, "GET", "/a/").status, 404);
  EXPECT_EQ(DispatchTo(router, "GET", "/a/1/2").status, 404);
  EXPECT_EQ(DispatchTo(router, "GET", "/a/1").status, 200);
}

TEST(RouterTest, RoutesKeepRegistrationOrderAndReAddReplaces) {
  Router router;
  router.AddSync("GET", "/b", Echo("b1"), {.summary = "first"});
  router.AddSync("POST", "/a", Echo("a"), {.stream_body = true, .summary = "upload"});
  router.AddSync("GET", "/b", Echo("b2"), {.summary = "second"});
  ASSERT_EQ(router.routes().size(), 2u);
  EXPECT_EQ(router.routes()[0].pattern, "/b");
  EXPECT_EQ(router.routes()[0].summary, "second");
  EXPECT_TRUE(router.routes()[1].stream_body);
  EXPECT_EQ(Body(DispatchTo(router, "GET", "/b"))["tag"], "b2");
}

TEST(RouterTest, ThrowingHandlerAnswers500) {
  Router router;
  router.AddSync("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("x"); });
  Response r = DispatchTo(router, "GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Body(r)["error"]["code"], "internal");
}

TEST(RouterTest, DispatchParsesQuery) {
  Router router;
  router.AddSync("GET", "/q", [](Request& req) {
    return Response::Text(200, req.Query("a") + "|" + req.Query("b") + "|" + req.Query("c", "def"));
  });
  EXPECT_EQ(DispatchTo(router, "GET", "/q?a=x+y&b=%2F%26").body, "x y|/&|def");
}

TEST(ErrorsTest, StatusCodesMapToHttp) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(StatusCode::kCancelled), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
}

TEST(ErrorsTest, ErrorResponseHasUniformShape) {
  Response r = ErrorResponse(Status::AlreadyExists("model \"m\" exists"), R"({"name":"m"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "application/json");
  auto body = Body(r);
  EXPECT_EQ(body["error"]["code"], "already_exists");
  EXPECT_EQ(body["error"]["message"], "model \"m\" exists");
  EXPECT_EQ(body["error"]["details"]["name"], "m");
  // Bad details are replaced by {} rather than producing invalid JSON.
  EXPECT_TRUE(Body(ErrorResponse(Status::NotFound("x"), "not json"))["error"]["details"].empty());
}

TEST(UrlTest, EncodeDecodeRoundTrip) {
  std::string raw = "a b/c?d=e&f~_.-\xc3\xa9";
  std::string enc = UrlEncode(raw);
  EXPECT_EQ(enc, "a%20b%2Fc%3Fd%3De%26f~_.-%C3%A9");
  EXPECT_EQ(UrlDecode(enc), raw);
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(UrlDecode("a+b"), "a+b");
}

}  // namespace
}  // namespace sskai::http
