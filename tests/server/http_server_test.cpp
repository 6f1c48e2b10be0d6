// Integration tests: a real HttpServer on a loopback port, spoken to over HTTP
// with httplib::Client, streaming and not. Covers determinism under
// concurrency, SSE framing, disconnects freeing sequences, the queue limit,
// error bodies, the auxiliary endpoints and graceful shutdown of the binary.
#include "server/http_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "server_test_util.h"
#include "tokenizer/chat.h"

namespace talkie::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::DefaultModel;
using testing::HttpResult;
using testing::PostJson;
using testing::PostStreaming;
using testing::SseData;
using testing::TestServer;

ServerOptions Options(int64_t max_batch = 8, int64_t queue = 64) {
  ServerOptions o;
  o.scheduler.max_batch = max_batch;
  o.scheduler.max_queue = queue;
  o.scheduler.prefill_chunk = 4;  // prefill chunks and decode rows mix in one step
  o.model_name = "talkie-tiny-1930";
  return o;
}

// What one request produced, from either form of response.
struct Outcome {
  std::vector<int32_t> ids;
  std::string text;
  std::string finish;
  json usage;
};

Outcome FromResponse(const json& r, bool chat) {
  Outcome o;
  const json& c = r.at("choices").at(0);
  o.ids = c.at("token_ids").get<std::vector<int32_t>>();
  o.text =
      chat ? c.at("message").at("content").get<std::string>() : c.at("text").get<std::string>();
  o.finish = c.at("finish_reason");
  o.usage = r.at("usage");
  return o;
}

// Parses and checks an SSE stream: every frame "data: ...", JSON chunks of
// the right object, the role first (chat), one finish chunk, then [DONE].
Outcome FromStream(const std::string& body, bool chat) {
  Outcome o;
  const std::vector<std::string> events = SseData(body);
  EXPECT_GE(events.size(), 2u);
  if (events.empty()) return o;
  EXPECT_EQ(events.back(), "[DONE]");
  int finishes = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json j = json::parse(events[i]);
    if (j.contains("usage") && j["choices"].empty()) {
      o.usage = j["usage"];
      continue;
    }
    EXPECT_EQ(j["object"], chat ? "chat.completion.chunk" : "text_completion");
    const json& c = j.at("choices").at(0);
    if (chat && i == 0) {
      EXPECT_EQ(c["delta"]["role"], "assistant");
    }
    EXPECT_EQ(finishes, 0) << "chunk after the finish chunk";
    const auto ids = c.at("token_ids").get<std::vector<int32_t>>();
    o.ids.insert(o.ids.end(), ids.begin(), ids.end());
    if (chat) {
      if (c["delta"].contains("content")) o.text += c["delta"]["content"].get<std::string>();
    } else {
      o.text += c.at("text").get<std::string>();
    }
    if (!c["finish_reason"].is_null()) {
      ++finishes;
      o.finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(finishes, 1);
  return o;
}

Outcome RunRequest(const TestServer& s, bool chat, json body) {
  const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
  const bool stream = body.value("stream", false);
  if (stream) {
    const auto r = PostStreaming(s, path, body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.content_type.find("text/event-stream"), std::string::npos);
    return FromStream(r.body, chat);
  }
  const auto r = PostJson(s, path, body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return {};
  return FromResponse(json::parse(r.body), chat);
}

// Eight different requests: completions and chat, greedy and seeded
// sampling, streaming and not.
std::vector<std::pair<bool, json>> EightRequests() {
  std::vector<std::pair<bool, json>> reqs;
  const char* prompts[] = {"In the beginning God created", "WIT, n. The salt with which",
                           "And it came to pass", "LOVE, n. A temporary insanity"};
  for (int i = 0; i < 4; ++i) {
    json b = {{"prompt", prompts[i]}, {"max_tokens", 10 + 3 * i}, {"stream", i % 2 == 1}};
    if (i < 2)
      b["temperature"] = 0;
    else
      b.update({{"temperature", 0.9}, {"top_k", 40}, {"seed", 100 + i}});
    reqs.push_back({false, b});
  }
  const char* questions[] = {"What is wit?", "Define love.", "What is a dictionary?",
                             "Who made the world?"};
  for (int i = 0; i < 4; ++i) {
    json b = {{"messages", {{{"role", "user"}, {"content", questions[i]}}}},
              {"max_tokens", 12 + 2 * i},
              {"stream", i % 2 == 0}};
    if (i < 2)
      b["temperature"] = 0;
    else
      b.update({{"temperature", 0.8}, {"top_p", 0.9}, {"min_p", 0.02}, {"seed", 7 + i}});
    reqs.push_back({true, b});
  }
  return reqs;
}

TEST(HttpServerTest, EightConcurrentRequestsGiveTheirAloneTokens) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const auto reqs = EightRequests();
  std::vector<Outcome> alone;
  for (const auto& [chat, body] : reqs) alone.push_back(RunRequest(s, chat, body));

  std::vector<Outcome> together(reqs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] { together[i] = RunRequest(s, reqs[i].first, reqs[i].second); });
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_FALSE(alone[i].ids.empty()) << i;
    EXPECT_EQ(together[i].ids, alone[i].ids) << "request " << i << ": " << reqs[i].second.dump();
    EXPECT_EQ(together[i].text, alone[i].text) << i;
    EXPECT_EQ(together[i].finish, alone[i].finish) << i;
  }
  const json h = s.Health();
  EXPECT_GE(h["peak_active_sequences"].get<int>(), 2) << "the requests never overlapped";
  EXPECT_EQ(h["active_sequences"], 0);
}

TEST(HttpServerTest, StreamingAndNonStreamingAgree) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  for (bool chat : {false, true}) {
    json body = chat ? json{{"messages", {{{"role", "user"}, {"content", "What is wit?"}}}}}
                     : json{{"prompt", "In the beginning"}};
    body.update({{"max_tokens", 20}, {"temperature", 0.8}, {"seed", 11}});
    const Outcome plain = RunRequest(s, chat, body);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    const Outcome streamed = RunRequest(s, chat, body);
    EXPECT_EQ(streamed.ids, plain.ids);
    EXPECT_EQ(streamed.text, plain.text);
    EXPECT_EQ(streamed.finish, plain.finish);
    // The same request again: its prompt (all but the last token) comes from
    // the prompt cache; every count is the same.
    json counts = streamed.usage;
    counts["prompt_tokens_details"]["cached_tokens"] = 0;
    EXPECT_EQ(counts, plain.usage);
    EXPECT_EQ(streamed.usage["prompt_tokens_details"]["cached_tokens"],
              plain.usage["prompt_tokens"].get<int>() - 1);
    EXPECT_EQ(plain.usage["completion_tokens"], plain.ids.size());
    EXPECT_EQ(plain.usage["total_tokens"], plain.usage["prompt_tokens"].get<int>() +
                                               plain.usage["completion_tokens"].get<int>());
  }
}

TEST(HttpServerTest, ChatResponseFieldsAndSeedReport) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const json body = {{"model", "my-name"},
                     {"messages",
                      {{{"role", "system"}, {"content", "Be brief."}},
                       {{"role", "user"}, {"content", "Define wit."}}}},
                     {"max_tokens", 40},
                     {"temperature", 0.7},
                     {"n", 2},
                     {"logprobs", true},
                     {"top_logprobs", 2}};
  const auto r = PostJson(s, "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.content_type.find("application/json"), std::string::npos);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "my-name");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_TRUE(j["seed"].is_number_integer());  // no seed given: the one picked
  ASSERT_EQ(j["choices"].size(), 2u);
  const std::vector<tokenizer::ChatMessage> messages = {{tokenizer::Role::kSystem, "Be brief."},
                                                        {tokenizer::Role::kUser, "Define wit."}};
  EXPECT_EQ(
      j["usage"]["prompt_tokens"],
      tokenizer::EncodeChat(TokenizerAccess::Internal(*DefaultModel().tokenizer), messages).size());
  for (const json& c : j["choices"]) {
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_TRUE(c["finish_reason"] == "stop" || c["finish_reason"] == "length");
    EXPECT_EQ(c["logprobs"]["content"].size(), c["token_ids"].size());
    for (const json& lp : c["logprobs"]["content"]) {
      EXPECT_LE(lp["logprob"].get<double>(), 0.0);
      EXPECT_EQ(lp["top_logprobs"].size(), 2u);
    }
  }
  // Repeating the request with the reported seed reproduces both choices.
  json again = body;
  again["seed"] = j["seed"];
  const json k = json::parse(PostJson(s, "/v1/chat/completions", again.dump()).body);
  EXPECT_EQ(k["choices"][0]["token_ids"], j["choices"][0]["token_ids"]);
  EXPECT_EQ(k["choices"][1]["token_ids"], j["choices"][1]["token_ids"]);
}

TEST(HttpServerTest, StopStringsEndWithStop) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  // Find greedy text first, then stop at a piece of it.
  json body = {{"prompt", "In the beginning God created"}, {"max_tokens", 30}, {"temperature", 0}};
  const Outcome full = RunRequest(s, false, body);
  ASSERT_GE(full.text.size(), 8u);
  const std::string stop = full.text.substr(4, 3);
  body["stop"] = {stop};
  const Outcome cut = RunRequest(s, false, body);
  EXPECT_EQ(cut.finish, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
}

TEST(HttpServerTest, DisconnectMidStreamFreesTheSequence) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const json body = {{"prompt", "In the beginning"},
                     {"max_tokens", 100000},
                     {"ignore_eos", true},
                     {"stream", true},
                     {"n", 2}};
  int chunks = 0;
  PostStreaming(s, "/v1/completions", body.dump(), [&](const std::string& so_far) {
    // Leave after a few events: the receiver returning false closes the socket.
    return ++chunks < 3;
  });
  EXPECT_GE(chunks, 3);
  EXPECT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 0; }))
      << s.Health().dump();
  const json h = s.Health();
  EXPECT_EQ(h["sequences_cancelled"], 2) << h.dump();
  EXPECT_LT(h["generated_tokens"].get<int>(), 2 * 2000);  // it did not run to the context
}

TEST(HttpServerTest, QueueLimitAnswers503) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options(/*max_batch=*/1, /*queue=*/1));
  const json endless = {
      {"prompt", "And"}, {"max_tokens", 100000}, {"ignore_eos", true}, {"stream", true}};
  std::atomic<bool> leave{false};
  std::thread running([&] {
    PostStreaming(s, "/v1/completions", endless.dump(),
                  [&](const std::string&) { return !leave.load(); });
  });
  ASSERT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 1; }));
  HttpResult queued_result;
  std::thread queued([&] {
    queued_result =
        PostJson(s, "/v1/completions", json{{"prompt", "Behold"}, {"max_tokens", 3}}.dump());
  });
  ASSERT_TRUE(s.WaitHealth([](const json& h) { return h["queued_requests"] == 1; }));
  for (int i = 0; i < 3; ++i) {
    const auto r = PostJson(s, "/v1/completions", json{{"prompt", "Lo"}, {"max_tokens", 3}}.dump());
    EXPECT_EQ(r.status, 503);
    const json j = json::parse(r.body);
    EXPECT_NE(j["error"]["message"].get<std::string>().find("busy"), std::string::npos);
    EXPECT_EQ(j["error"]["type"], "server_error");
    EXPECT_EQ(r.retry_after, "1");  // issue #22: a 503 tells when to retry
  }
  leave = true;  // the streaming client leaves; the queued request runs
  running.join();
  queued.join();
  EXPECT_EQ(queued_result.status, 200) << queued_result.body;
  EXPECT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 0; }));
  EXPECT_EQ(s.Health()["requests_rejected"], 3);
}

struct HttpBad {
  std::string path, body;
  int status;
  std::string param;  // "" = null
};

TEST(HttpServerTest, BadRequestsGetStatusAndJsonErrorNamingTheField) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = Options();
  o.max_body_bytes = 4096;
  o.context = 64;
  TestServer s(DefaultModel(), o);
  const std::vector<HttpBad> cases = {
      {"/v1/completions", "{not json", 400, ""},
      {"/v1/completions", R"({"prompt": "a", "bogus": true})", 400, "bogus"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": "5"})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "temperature": -2})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "a", "top_p": 0})", 400, "top_p"},
      {"/v1/completions", R"({"prompt": "a", "n": 0})", 400, "n"},
      {"/v1/completions", R"({"prompt": "a", "stop": {"x": 1}})", 400, "stop"},
      {"/v1/completions", R"({"prompt": [1, 5000000]})", 400, "prompt[1]"},
      {"/v1/completions",
       json{{"prompt",
             [] {
               std::string p;
               for (int i = 0; i < 100; ++i) p += " the";
               return p;
             }()}}
           .dump(),
       400, "prompt"},
      {"/v1/chat/completions", R"({"messages": [{"role": "bot", "content": "a"}]})", 400,
       "messages[0].role"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "a"}], "stream": 1})",
       400, "stream"},
      {"/tokenize", R"({"content": 3})", 400, "content"},
      {"/detokenize", R"({"tokens": [-1]})", 400, "tokens[0]"},
      {"/v1/completions", json{{"prompt", std::string(5000, 'a')}}.dump(), 413, ""},
      {"/v1/nothing", "{}", 404, ""},
  };
  for (const HttpBad& c : cases) {
    const auto r = PostJson(s, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << c.body.substr(0, 80) << " -> " << r.body;
    EXPECT_NE(r.content_type.find("application/json"), std::string::npos) << c.body.substr(0, 80);
    json j;
    ASSERT_NO_THROW(j = json::parse(r.body)) << r.body;
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(j["error"].contains("type"));
    if (c.param.empty()) {
      EXPECT_TRUE(j["error"]["param"].is_null()) << r.body;
    } else {
      EXPECT_EQ(j["error"]["param"], c.param) << r.body;
    }
  }
  // The server still works afterwards.
  EXPECT_EQ(PostJson(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})").status, 200);
}

TEST(HttpServerTest, ModelsHealthTokenizeDetokenize) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  auto c = s.Client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "talkie-tiny-1930");
  EXPECT_EQ(m["data"][0]["object"], "model");
  const json h = s.Health();
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["active_sequences"], 0);
  EXPECT_EQ(h["context"], 2048);

  const auto t = PostJson(s, "/tokenize", R"({"content": "In the beginning"})");
  ASSERT_EQ(t.status, 200);
  const json tokens = json::parse(t.body)["tokens"];
  EXPECT_EQ(tokens.get<std::vector<int32_t>>(),
            DefaultModel().tokenizer->Encode("In the beginning", false));
  const auto d = PostJson(s, "/detokenize", json{{"tokens", tokens}}.dump());
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(json::parse(d.body)["content"], "In the beginning");
}

TEST(HttpServerTest, BaseModelServesCompletionsAndRefusesChat) {
  TestServer s(testing::BaseFixtureModel(), Options());
  const auto r =
      PostJson(s, "/v1/completions", R"({"prompt": [1, 2, 3], "max_tokens": 4, "temperature": 0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_LE(json::parse(r.body)["choices"][0]["token_ids"].size(), 4u);
  const auto chat =
      PostJson(s, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(chat.status, 400);
  const json j = json::parse(chat.body);
  EXPECT_EQ(j["error"]["param"], "messages");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("instruction-tuned"), std::string::npos);
}

TEST(HttpServerTest, StopCancelsInFlightStreams) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const json endless = {
      {"prompt", "And"}, {"max_tokens", 100000}, {"ignore_eos", true}, {"stream", true}};
  testing::HttpResult result;
  std::thread client([&] { result = PostStreaming(s, "/v1/completions", endless.dump()); });
  ASSERT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 1; }));
  s.Stop();  // must not hang; the stream ends
  client.join();
  EXPECT_NE(result.body.find("data: "), std::string::npos);
}

// The built binary: start `talkie serve --port 0`, read the port from its log,
// wait for /health to say it is ready, answer a request, then SIGTERM -> exit
// code 0.
TEST(ServeCommandTest, SigtermShutsDownGracefully) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  if (access(TALKIE_CLI_PATH, X_OK) != 0) GTEST_SKIP() << "talkie binary not built";
  const std::string log = ::testing::TempDir() + "talkie_serve_test.log";
  std::remove(log.c_str());  // never read a previous run's port
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    execl(TALKIE_CLI_PATH, TALKIE_CLI_PATH, "serve", "--port", "0", "--threads", "1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 600 && port == 0; ++i) {
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    if (std::regex_search(text, m, listening))
      port = std::stoi(m[1]);
    else
      std::this_thread::sleep_for(50ms);
  }
  if (port == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "server did not start";
  }
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  // It listens while the model loads: ready once /health answers 200.
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {
    auto h = c.Get("/health");
    ready = h && h->status == 200;
    if (!ready) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(ready);
  std::shared_ptr<httplib::Response> r;
  for (int i = 0; i < 100 && !r; ++i) {
    if (auto res =
            c.Post("/v1/completions", R"({"prompt": "Lo", "max_tokens": 3})", "application/json"))
      r = std::make_shared<httplib::Response>(res.value());
    else
      std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(r, nullptr);
  if (r) {
    EXPECT_EQ(r->status, 200);
  }
  kill(pid, SIGTERM);  // in every case: never leave the child running
  int status = -1;
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(50ms);
    if (i == 199) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "did not exit within 10 s of SIGTERM";
    }
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace talkie::server
