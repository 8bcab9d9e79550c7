// The web console's static handler: files, content types, cache headers, SPA fallback, traversal.
#include "api/internal.h"
#include "api_fixture.h"

namespace sskai::api {
namespace {

class StaticRoutesTest : public ApiRouterTest {
 protected:
  void SetUp() override {
    ApiRouterTest::SetUp();
    web_ = dir_.Sub("web");
    mkdir((web_ + "/assets").c_str(), 0755);
    Write(web_ + "/index.html", "<!doctype html><div id=root></div>");
    Write(web_ + "/assets/index-abc123.js", "console.log(1)");
    Write(web_ + "/assets/index-abc123.css", "body{}");
    Write(web_ + "/favicon.svg", "<svg/>");
    Write(dir_.path() + "/secret.txt", "top secret");
    ctx_->web_dir = web_;
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  static std::string HeaderOf(const http::Response& r, const std::string& name) {
    for (const auto& [key, value] : r.headers) {
      if (key == name) return value;
    }
    return "";
  }
  static std::string FileText(const http::Response& r) {
    std::ifstream in(r.file_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string web_;
};

TEST_F(StaticRoutesTest, ServesFilesWithTypesAndCacheHeaders) {
  http::Response js = Call("GET", "/assets/index-abc123.js", "");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(FileText(js), "console.log(1)");
  EXPECT_EQ(HeaderOf(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Call("GET", "/assets/index-abc123.css", "").content_type, "text/css; charset=utf-8");
  http::Response svg = Call("GET", "/favicon.svg", "");
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_EQ(HeaderOf(svg, "Cache-Control"), "no-cache");
  http::Response root = Call("GET", "/", "");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(root, "Cache-Control"), "no-cache");
  EXPECT_EQ(FileText(root), "<!doctype html><div id=root></div>");
}

TEST_F(StaticRoutesTest, ConsoleRoutesFallBackToIndex) {
  for (const char* path : {"/jobs/12", "/data/iris?tab=preview", "/inference/iris/playground"}) {
    http::Response r = Call("GET", path, "");
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.file_path, web_ + "/index.html") << path;
  }
  // A missing file (has an extension, or under assets/) is a 404, not the app.
  EXPECT_EQ(Call("GET", "/assets/gone-123.js", "").status, 404);
  EXPECT_EQ(Call("GET", "/robots.txt", "").status, 404);
}

TEST_F(StaticRoutesTest, ApiPrefixesKeepJsonErrorsAndRoutes) {
  http::Response unknown = Call("GET", "/v1/nope", "");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.content_type, "application/json");
  EXPECT_NE(Message(unknown).find("no route for GET /v1/nope"), std::string::npos);
  EXPECT_EQ(Call("GET", "/v2/anything", "").status, 404);
  EXPECT_EQ(Call("GET", "/metrics/x", "").content_type, "application/json");
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/me", "").status, 401);  // the API route, not the console
  EXPECT_EQ(Call("GET", "/v1/me", admin_token_).status, 200);
  // The catch-all is not part of the API document.
  json doc = Body(Call("GET", "/v1/openapi.json", ""));
  EXPECT_FALSE(doc["paths"].contains("/{path}"));
}

TEST_F(StaticRoutesTest, TraversalIsNeverServed) {
  for (const char* path : {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
                           "/assets/%2E%2E/%2E%2E/secret.txt", "/.hidden", "/a/..%2f..%2fsecret.txt",
                           "/..%5csecret.txt"}) {
    http::Response r = Call("GET", path, "");
    EXPECT_NE(r.file_path, dir_.path() + "/secret.txt") << path;
    EXPECT_TRUE(r.file_path.empty() || r.file_path == web_ + "/index.html") << path << " " << r.file_path;
    EXPECT_EQ(r.body.find("top secret"), std::string::npos) << path;
  }
}

TEST_F(StaticRoutesTest, MissingBuildAnswersHowToBuild) {
  ctx_->web_dir = dir_.path() + "/no-such-dir";
  http::Response root = Call("GET", "/", "");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.content_type, "text/html; charset=utf-8");
  EXPECT_NE(root.body.find("make web"), std::string::npos);
  EXPECT_EQ(Call("GET", "/jobs/1", "").status, 404);
  ctx_->web_dir = "";
  EXPECT_NE(Call("GET", "/", "").body.find("not been built"), std::string::npos);
}

TEST(ContentTypeForTest, KnownAndUnknownExtensions) {
  EXPECT_EQ(ContentTypeFor("a/b/app.MJS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("font.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("data.bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("dir.v1/noext"), "application/octet-stream");
}

}  // namespace
}  // namespace sskai::api
