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

#include "../cli/cli_util.h"
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

ServerOptions HostileOptions() {
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
  ServerOptions o = HostileOptions();
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

std::string Post(const std::string& path, const std::string& body,
                 const std::string& version = "HTTP/1.1") {
  return "POST " + path + " " + version +
         "\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Compressed bodies are refused before a byte is inflated (a 20 KB gzip
// body inflating to 20 MB took the server to 713 MB); chunked bodies and an
// oversized Content-Length are refused before the body is read.
TEST(HostileClientTest, CompressedChunkedAndOversizedBodiesAreRefusedUnread) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = HostileOptions();
  o.max_body_bytes = 64 * 1024;
  TestServer s(DefaultModel(), o);
  auto c = s.Client();
  c.set_compress(true);  // httplib gzips the body and says Content-Encoding: gzip
  const std::string bomb = "{\"prompt\": \"" + std::string(20 << 20, 'a') + "\"}";
  auto r = c.Post("/v1/completions", bomb, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_NE(r->body.find("Content-Encoding"), std::string::npos) << r->body;

  RawClient chunked(s.port());
  chunked.Send(
      "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"con\r\n");
  const std::string chunked_reply = chunked.Read(5s, "\r\n\r\n");
  EXPECT_EQ(chunked_reply.rfind("HTTP/1.1 411", 0), 0u) << chunked_reply;

  RawClient huge(s.port());  // declares 1 TB and sends nothing
  const auto start = std::chrono::steady_clock::now();
  huge.Send("POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n");
  const std::string huge_reply = huge.Read(5s, "\r\n\r\n");
  EXPECT_EQ(huge_reply.rfind("HTTP/1.1 413", 0), 0u) << huge_reply;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(huge.WaitClosed(2s)) << "the unread body must not be parsed as a request";
}

// Requests written back to back on one connection are all answered, in
// order (only the first was, before).
TEST(HostileClientTest, PipelinedRequestsAreAnsweredInOrder) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), HostileOptions());
  RawClient c(s.port());
  ASSERT_TRUE(c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n" +
                     Post("/tokenize", R"({"content": "In the beginning"})") +
                     "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end && Count(got, "HTTP/1.1 200") < 3 &&
         !c.closed_by_peer())
    got += c.Read(500ms);
  EXPECT_EQ(Count(got, "HTTP/1.1 200"), 3u) << got;
  const size_t health = got.find("active_sequences"), tokens = got.find("\"tokens\""),
               models = got.find("\"object\":\"list\"");
  ASSERT_NE(models, std::string::npos) << got;
  EXPECT_LT(health, tokens);
  EXPECT_LT(tokens, models);
}

// HTTP/1.0 has no chunked encoding: a stream ends by closing.
TEST(HostileClientTest, Http10StreamIsNotChunkedAndEndsWithTheConnection) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), HostileOptions());
  RawClient c(s.port());
  ASSERT_TRUE(c.Send(Post("/v1/completions",
                          R"({"prompt": "In the beginning", "max_tokens": 4, "stream": true})",
                          "HTTP/1.0")));
  const std::string reply = c.Read(20s);
  EXPECT_TRUE(c.closed_by_peer()) << reply;
  const size_t head_end = reply.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << reply;
  const std::string head = reply.substr(0, head_end), body = reply.substr(head_end + 4);
  EXPECT_EQ(head.find("chunked"), std::string::npos) << head;
  EXPECT_EQ(body.rfind("data: ", 0), 0u) << body;  // no chunk-size lines
  EXPECT_NE(body.find("data: [DONE]\n\n"), std::string::npos) << body;
}

ServerOptions SlowClientOptions() {
  ServerOptions o = HostileOptions();
  o.scheduler.max_batch = 1;
  o.scheduler.max_queue = 1;
  o.connections.request_timeout = 1500ms;
  o.connections.max_connections = 6;
  o.connections.max_connections_per_client = 4;
  o.connections.shutdown_grace = 1000ms;
  return o;
}

// Slow clients (another loopback address) neither lock others out nor stay
// connected past the request deadline, even while still sending.
TEST(HostileClientTest, SlowClientsAreCutOffAndOthersStillServed) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), SlowClientOptions());
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 12; ++i) {
    slow.push_back(std::make_unique<RawClient>(s.port(), "127.0.0.2"));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->Send("GET /health HTTP/1.1\r\nHo");
  }
  std::this_thread::sleep_for(200ms);  // they are all accepted and waiting
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(s.Health()["status"], "ok");
  EXPECT_EQ(PostJson(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // One byte every 100 ms keeps per-read timeouts happy, not the deadline.
  bool closed = false;
  const auto drip_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !slow[0]->Send("s") || slow[0]->WaitClosed(100ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - drip_start, 2500ms);
  for (auto& c : slow) EXPECT_TRUE(c->WaitClosed(3s));
}

// With every connection slot taken, /health still answers; other requests
// get a 503 with Retry-After instead of waiting.
TEST(HostileClientTest, HealthAnswersWhenTheConnectionCapIsReached) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = SlowClientOptions();
  o.connections.request_timeout = 5000ms;
  TestServer s(DefaultModel(), o);
  // The start-up health polls' connections must be gone first, or one of
  // them holds a slot and a hog lands over the cap instead.
  for (int i = 0; i < 200 && s.server().open_connections() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(s.server().open_connections(), 0);
  std::vector<std::unique_ptr<RawClient>> hogs;
  for (const char* from : {"127.0.0.2", "127.0.0.3"})
    for (int i = 0; i < 3; ++i) {
      hogs.push_back(std::make_unique<RawClient>(s.port(), from));
      hogs.back()->Send("GET /he");
    }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(s.server().open_connections(), 6);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(s.Health()["status"], "ok");
  const auto r = PostJson(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.retry_after, "1");
  EXPECT_NE(r.body.find("too many connections"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

// Stop() ends within the grace period whatever the clients do, and at once
// when nothing is open.
TEST(HostileClientTest, ShutdownEndsWithinTheGracePeriod) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  {
    TestServer s(DefaultModel(), SlowClientOptions());
    const auto start = std::chrono::steady_clock::now();
    s.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms) << "idle shutdown";
  }
  TestServer s(DefaultModel(), SlowClientOptions());
  RawClient idle(s.port());
  ASSERT_TRUE(idle.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  idle.Read(2s, "}");  // a kept-alive connection
  RawClient slow(s.port(), "127.0.0.2");
  slow.Send("GET /health HTTP/1.1\r\nHo");
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    for (int i = 0; i < 60 && dripping.load(); ++i) {
      slow.Send("s");
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  s.Stop();
  const auto took = std::chrono::steady_clock::now() - start;
  dripping = false;
  drip.join();
  EXPECT_LT(took, 1500ms);
}

// Issue #16: with SO_REUSEPORT a second server shared the port and the
// kernel split the requests between the two.
TEST(HostileClientTest, ASecondServerOnATakenPortFailsToBind) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer first(DefaultModel(), HostileOptions());
  ServerOptions o = HostileOptions();
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
  TestServer first(DefaultModel(), HostileOptions());
  const auto r = testing::RunTalkie("serve --threads 1 --port " + std::to_string(first.port()));
  const std::string& out = r.output;
  ASSERT_NE(r.exit_code, -1) << out;  // exited, not killed
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_EQ(out.rfind("talkie: error: ", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
}

}  // namespace
}  // namespace talkie::server
