// `talkie serve` under hostile or careless clients (issue #22): deeply nested
// JSON, compressed bodies, pipelining, HTTP/1.0, slow clients, connection
// caps, shutdown with clients still connected, and a taken port. Loopback
// only; every wait is bounded.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "common/json_limits.h"
#include "model/config.h"
#include "raw_client.h"
#include "server_test_util.h"
#include "tokenizer/vocab.h"

namespace talkie::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::DefaultModel;
using testing::PostJson;
using testing::RawClient;
using testing::TestServer;

ServerOptions Options() {
  ServerOptions o;
  o.scheduler.max_batch = 4;
  o.scheduler.max_queue = 8;
  o.model_name = "talkie-tiny-1930";
  return o;
}

// {"a":{"a":...1...}} with `depth` objects.
std::string NestedObjects(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

std::string NestedArrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimitsTest, DepthCountsBracketsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("1"), 0);
  EXPECT_EQ(JsonNestingDepth(R"({"a": [1, {"b": []}]})"), 4);
  EXPECT_EQ(JsonNestingDepth(R"({"a": "[[[{{{\"[[["})"), 1);  // brackets in strings
  EXPECT_EQ(JsonNestingDepth(R"(["\\", [[]]])"), 3);          // an escaped backslash ends
  EXPECT_EQ(JsonNestingDepth(NestedArrays(64)), 64);
  EXPECT_GT(JsonNestingDepth(NestedObjects(100000)), kMaxJsonDepth);
  EXPECT_NO_THROW(CheckJsonDepth(NestedArrays(kMaxJsonDepth), "x"));
  EXPECT_THROW(CheckJsonDepth(NestedArrays(kMaxJsonDepth + 1), "x"), Error);
}

TEST(JsonLimitsTest, ConfigAndTokenizerJsonRefuseDeepNesting) {
  const std::string deep = "{\"vocab_size\": 10, \"x\": " + NestedObjects(100000) + "}";
  try {
    model::ParseConfigJson(deep, "config.json");
    FAIL() << "deep config.json accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nesting"), std::string::npos) << e.what();
  }
  try {
    tokenizer::ParseHfTokenizerJson("{\"model\": " + NestedArrays(100000) + "}", "tokenizer.json");
    FAIL() << "deep tokenizer.json accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nesting"), std::string::npos) << e.what();
  }
}

// 100,000 levels (600 KB, under the body limit) in every field and endpoint:
// a 400 naming the nesting, and the server keeps serving.
TEST(HostileClientTest, DeeplyNestedJsonIs400NotACrash) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = Options();
  o.max_body_bytes = 1 << 20;
  TestServer s(DefaultModel(), o);
  const std::string deep = NestedObjects(100000), deep_array = NestedArrays(100000);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/completions", "{\"prompt\": " + deep + "}"},
      {"/v1/completions", "{\"prompt\": " + deep_array + "}"},
      {"/v1/completions", "{\"prompt\": \"a\", \"model\": " + deep + "}"},
      {"/v1/completions", "{\"prompt\": \"a\", \"stop\": " + deep_array + "}"},
      {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": " + deep + "}]}"},
      {"/tokenize", "{\"content\": " + deep + "}"},
      {"/detokenize", "{\"tokens\": " + deep_array + "}"},
      {"/v1/completions", deep_array},
  };
  for (const auto& [path, body] : cases) {
    const auto r = PostJson(s, path, body);
    ASSERT_EQ(r.status, 400) << path << " " << body.substr(0, 60) << " -> " << r.body;
    EXPECT_NE(r.body.find("nesting"), std::string::npos) << r.body;
  }
  EXPECT_EQ(PostJson(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})").status, 200);
}

// Issue #16: with SO_REUSEPORT a second server shared the port and the
// kernel split the requests between the two.
TEST(HostileClientTest, ASecondServerOnATakenPortFailsToBind) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer first(DefaultModel(), Options());
  ServerOptions o = Options();
  o.host = "127.0.0.1";
  o.port = first.port();
  HttpServer second(*DefaultModel().model, *DefaultModel().tokenizer, o);
  try {
    second.Bind();
    FAIL() << "a second server bound port " << first.port();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

// The binary: one `talkie: error: ...` line and exit code 1.
TEST(ServeCommandTest, TakenPortIsAOneLineErrorAndExitCode1) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  if (access(TALKIE_CLI_PATH, X_OK) != 0) GTEST_SKIP() << "talkie binary not built";
  TestServer first(DefaultModel(), Options());
  const std::string command = std::string("timeout 60 ") + TALKIE_CLI_PATH +
                              " serve --threads 1 --port " + std::to_string(first.port()) + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_EQ(out.rfind("talkie: error: ", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
}

}  // namespace
}  // namespace talkie::server
