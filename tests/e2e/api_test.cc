// Auth, ownership, pagination, OpenAPI and bad input against the real server binary.
#include <gtest/gtest.h>

#include <filesystem>

#include "testing/server_harness.h"

namespace sskai::testing {
namespace {

namespace fs = std::filesystem;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    { Status started = server_->Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  }
  // Uploads `content` as dataset `name`; returns the response.
  http::ClientResponse Upload(const std::string& name, const std::string& content,
                              const std::string& query = "") {
    std::string path = files_.path() + "/upload.bin";
    WriteFile(path, content);
    return server_->UploadFile("/v1/datasets/" + name + "/versions" + query, path);
  }
  int BlobCount() {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_.path() + "/artifacts", ec);
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_regular_file()) ++n;
    }
    return n;
  }
  TempDir dir_;
  TempDir files_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ApiTest, AdminTokenIsWrittenPrivatelyAndAuthIsRequired) {
  auto perms = fs::status(dir_.path() + "/admin.token").permissions();
  EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(server_->Call("GET", "/healthz", "", "-").status, 200);
  EXPECT_EQ(server_->Call("GET", "/readyz", "", "-").status, 200);
  auto none = server_->Call("GET", "/v1/datasets", "", "-");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("\"unauthenticated\""), std::string::npos) << none.body;
  EXPECT_EQ(server_->Call("GET", "/v1/datasets", "", "sk_wrong").status, 401);
  EXPECT_EQ(server_->Call("GET", "/v1/me").status, 200);
}

TEST_F(ApiTest, ClusterSaysWhereWorkRuns) {
  int status = 0;
  json cluster = server_->CallJson("GET", "/v1/cluster", nullptr, &status);
  ASSERT_EQ(status, 200) << cluster.dump();
  EXPECT_EQ(cluster["executors"], json::array({"local"}));
  EXPECT_EQ(cluster["default_executor"]["jobs"], "local");
  EXPECT_EQ(cluster["default_executor"]["endpoints"], "local");
  EXPECT_TRUE(cluster["slurm"].is_null()) << cluster.dump();
  EXPECT_EQ(server_->Call("GET", "/v1/cluster", "", "-").status, 401);
  std::string out;
  ASSERT_EQ(server_->RunCli({"cluster"}, &out), 0) << out;
  EXPECT_NE(out.find("Slurm: not configured"), std::string::npos) << out;
}

TEST_F(ApiTest, UsersSeeOnlyTheirOwnResources) {
  int status = 0;
  json alice = server_->CallJson("POST", "/v1/users", {{"name", "alice"}}, &status);
  ASSERT_EQ(status, 201) << alice.dump();
  json bob = server_->CallJson("POST", "/v1/users", {{"name", "bob"}}, &status);
  ASSERT_EQ(status, 201);
  std::string ta = alice["token"], tb = bob["token"];
  // Non-admins cannot create users.
  server_->CallJson("POST", "/v1/users", {{"name", "eve"}}, &status, ta);
  EXPECT_EQ(status, 403);

  std::string path = files_.path() + "/a.csv";
  WriteFile(path, "x,y\n1,a\n2,b\n3,a\n");
  ASSERT_EQ(server_->UploadFile("/v1/datasets/secret/versions", path, ta).status, 201);
  EXPECT_EQ(server_->Call("GET", "/v1/datasets/secret", "", ta).status, 200);
  EXPECT_EQ(server_->Call("GET", "/v1/datasets/secret", "", tb).status, 404);
  EXPECT_EQ(server_->Call("GET", "/v1/datasets/secret/versions/1/content", "", tb).status, 404);
  json listed = server_->CallJson("GET", "/v1/datasets", nullptr, &status, tb);
  EXPECT_TRUE(listed["items"].empty());
  // Bob can have his own "secret".
  EXPECT_EQ(server_->UploadFile("/v1/datasets/secret/versions", path, tb).status, 201);
}

TEST_F(ApiTest, ListsArePaginated) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(Upload(name, "x,y\n1,2\n3,4\n").status, 201);
  }
  json page1 = server_->CallJson("GET", "/v1/datasets?limit=2");
  ASSERT_EQ(page1["items"].size(), 2u);
  ASSERT_FALSE(page1["next_after"].is_null());
  json page2 = server_->CallJson("GET", "/v1/datasets?limit=2&after=" + page1["next_after"].dump());
  ASSERT_EQ(page2["items"].size(), 1u);
  EXPECT_EQ(page2["items"][0]["name"], "c");
  EXPECT_TRUE(page2["next_after"].is_null());
  int status = 0;
  server_->CallJson("GET", "/v1/datasets?limit=0", nullptr, &status);
  EXPECT_EQ(status, 400);
  // Re-uploading under the same name makes a new version.
  json v2 = json::parse(Upload("a", "x,y\n5,6\n").body);
  EXPECT_EQ(v2["version"], 2);
}

TEST_F(ApiTest, OpenApiDocumentMatchesTheRoutes) {
  int status = 0;
  json doc = server_->CallJson("GET", "/v1/openapi.json", nullptr, &status, "-");
  ASSERT_EQ(status, 200);
  ASSERT_GE(doc["paths"].size(), 20u);
  // Every documented operation is routed (no 404 "no route" / 405).
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) {
      std::string target = path;
      for (size_t pos; (pos = target.find('{')) != std::string::npos;) {
        target.replace(pos, target.find('}', pos) - pos + 1, "1");
      }
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(c));
      auto r = server_->Call(m, target, "");
      EXPECT_NE(r.status, 405) << m << " " << target;
      if (r.status == 404) {
        EXPECT_EQ(r.body.find("no route"), std::string::npos) << m << " " << target << " " << r.body;
      }
    }
  }
  for (const char* p : {"/v1/datasets/{name}/versions", "/v1/jobs", "/v1/jobs/{id}/cancel",
                        "/v1/endpoints/{name}/predict", "/v1/models/{name}/versions/{version}"}) {
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  }
}

TEST_F(ApiTest, BadUploadsAreRejectedWithWhereAndNothingIsStored) {
  struct Case {
    std::string name, content, query, expect_status_text, expect_message;
  };
  std::vector<Case> cases = {
      {"ragged", "a,b,c\n1,2,3\n4,5\n", "", "400", "line 3"},
      {"empty", "", "", "400", "empty"},
      {"header-only", "a,b\n", "", "400", "no data rows"},
      {"badutf8", std::string("a,b\n1,\xff\xfe\n"), "", "400", "UTF-8"},
      {"badjson", "{\"text\": \"ok\"}\n{\"text\": oops}\n", "", "400", "line 2"},
      {"notarget", "a,b\n1,2\n", "?target=zzz", "400", "zzz"},
      {"badidx", std::string("\x00\x00\x08\x03\x00\x00\x00\x02", 8), "", "400", ""},
  };
  for (const auto& c : cases) {
    auto r = Upload(c.name, c.content, c.query);
    EXPECT_EQ(std::to_string(r.status), c.expect_status_text) << c.name << ": " << r.body;
    json body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << c.name << ": " << r.body;
    EXPECT_NE(body["error"]["message"].get<std::string>().find(c.expect_message), std::string::npos)
        << c.name << ": " << r.body;
  }
  // Invalid names and traversal attempts in names.
  for (const char* bad : {"..", "a%2Fb", "%2E%2E%2Fetc", "-x", "a%20b"}) {
    auto r = Upload(bad, "x,y\n1,2\n");
    EXPECT_TRUE(r.status == 400 || r.status == 404) << bad << ": " << r.status << " " << r.body;
  }
  // Nothing was stored: no dataset rows, no blobs, no temp files.
  json listed = server_->CallJson("GET", "/v1/datasets");
  EXPECT_TRUE(listed["items"].empty()) << listed.dump();
  EXPECT_EQ(BlobCount(), 0);
  EXPECT_EQ(server_->Call("GET", "/healthz").status, 200);
}

TEST_F(ApiTest, BadRequestsGetClearErrors) {
  ASSERT_EQ(Upload("iris", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n").status, 201);
  int status = 0;
  json r = server_->CallJson("POST", "/v1/jobs", {{"dataset", "nope"}, {"model", "m"}}, &status);
  EXPECT_EQ(status, 404);
  EXPECT_NE(r.dump().find("nope"), std::string::npos);
  r = server_->CallJson("POST", "/v1/jobs", {{"dataset", "iris"}, {"model", "m"}, {"target", "zzz"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("columns are: a, b, label"), std::string::npos) << r.dump();
  r = server_->CallJson("POST", "/v1/jobs",
                        {{"dataset", "iris"}, {"model", "m"}, {"hyperparameters", {{"epochs", -1}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("epochs"), std::string::npos) << r.dump();
  r = server_->CallJson("POST", "/v1/jobs", {{"dataset", 5}, {"model", "m"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(r.dump().find("field 'dataset'"), std::string::npos) << r.dump();
  auto raw = server_->Call("POST", "/v1/jobs", "{not json");
  EXPECT_EQ(raw.status, 400);
  EXPECT_NE(raw.body.find("not valid JSON"), std::string::npos);
  // Oversize JSON body.
  auto big = server_->Call("POST", "/v1/jobs", std::string(9 << 20, 'x'));
  EXPECT_EQ(big.status, 413);
  server_->CallJson("POST", "/v1/endpoints", {{"name", "e"}, {"model", "missing"}}, &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(server_->Call("GET", "/v1/jobs/abc").status, 400);
  EXPECT_EQ(server_->Call("GET", "/v1/jobs/999").status, 404);
  EXPECT_EQ(server_->Call("GET", "/v1/nothing-here").status, 404);
  EXPECT_EQ(server_->Call("GET", "/healthz").status, 200);
  // No job was created by any of the bad requests.
  json jobs = server_->CallJson("GET", "/v1/jobs");
  EXPECT_TRUE(jobs["items"].empty()) << jobs.dump();
}

}  // namespace
}  // namespace sskai::testing
