// Issue #16 over real HTTP: the model routes, wrong methods, CORS, the
// context rule, ignore_eos, the stream's hold-back and a non-streaming
// request whose client hangs up.
#include <ctime>

#include <gtest/gtest.h>

#include "generate/sequence.h"
#include "raw_client.h"
#include "server_test_util.h"
#include "tokenizer/stop_filter.h"

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

ServerOptions Options() {
  ServerOptions o;
  o.model_name = "talkie-tiny-1930";
  o.scheduler.prefill_chunk = 4;
  return o;
}

TEST(OpenAiCompatTest, ModelsRetrieveAndCreated) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  TestServer s(DefaultModel(), Options());
  auto c = s.Client();
  auto one = c.Get("/v1/models/talkie-tiny-1930");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  const json m = json::parse(one->body);
  EXPECT_EQ(m["id"], "talkie-tiny-1930");
  EXPECT_EQ(m["object"], "model");
  EXPECT_GE(m["created"].get<int64_t>(), before);  // the server's start, not 0
  EXPECT_LE(m["created"].get<int64_t>(), static_cast<int64_t>(std::time(nullptr)));
  auto list = c.Get("/v1/models");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body)["data"][0], m);

  auto other = c.Get("/v1/models/gpt-4o");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  const json e = json::parse(other->body)["error"];
  EXPECT_EQ(e["param"], "model");
  EXPECT_NE(e["message"].get<std::string>().find("gpt-4o"), std::string::npos);
}

TEST(OpenAiCompatTest, AWrongMethodIs405NamingTheRightOne) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  auto c = s.Client();
  auto post = c.Post("/health", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, OPTIONS");
  EXPECT_NE(json::parse(post->body)["error"]["message"].get<std::string>().find("takes GET"),
            std::string::npos);
  auto get = c.Get("/v1/chat/completions");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST, OPTIONS");
  auto models = c.Post("/v1/models/talkie-tiny-1930", "{}", "application/json");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 405);
  auto missing = c.Get("/v2/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

// A browser's preflight: OPTIONS with Origin and Access-Control-Request-*.
httplib::Result Preflight(httplib::Client& c, const std::string& path, const std::string& origin) {
  return c.Options(path.c_str(), {{"Origin", origin},
                                  {"Access-Control-Request-Method", "POST"},
                                  {"Access-Control-Request-Headers", "content-type, x-stainless"}});
}

TEST(OpenAiCompatTest, CorsIsOffByDefault) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  auto c = s.Client();
  auto pre = Preflight(c, "/v1/chat/completions", "http://app.example");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Allow"), "POST, OPTIONS");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));
  auto get = c.Get("/v1/models", {{"Origin", "http://app.example"}});
  ASSERT_TRUE(get);
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Origin"));
}

TEST(OpenAiCompatTest, CorsAnswersTheGivenOriginsOnly) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = Options();
  o.cors_origins = {"http://app.example"};
  TestServer s(DefaultModel(), o);
  auto c = s.Client();
  auto pre = Preflight(c, "/v1/chat/completions", "http://app.example");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  EXPECT_EQ(pre->get_header_value("Vary"), "Origin");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "content-type, x-stainless");
  auto post = c.Post("/v1/completions", {{"Origin", "http://app.example"}},
                     json{{"prompt", "Lo"}, {"max_tokens", 2}}.dump(), "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  // Errors carry it too, or the page could not read them.
  auto bad =
      c.Post("/v1/completions", {{"Origin", "http://app.example"}}, "{}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  auto foreign = Preflight(c, "/v1/chat/completions", "http://evil.example");
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(foreign->has_header("Access-Control-Allow-Origin"));

  ServerOptions any = Options();
  any.cors_origins = {"*"};
  TestServer star(DefaultModel(), any);
  auto sc = star.Client();
  auto get = sc.Get("/v1/models", {{"Origin", "http://anything.example"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "*");
}

json Completion(const TestServer& s, const json& body) {
  const HttpResult r = PostJson(s, "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? json::parse(r.body) : json();
}

// One rule everywhere: prompt + completion <= the context.
TEST(OpenAiCompatTest, PromptPlusCompletionFitTheContext) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = Options();
  o.context = 64;
  TestServer s(DefaultModel(), o);
  const std::vector<int32_t> prompt(61, 1000);
  const json r = Completion(
      s, {{"prompt", prompt}, {"max_tokens", 100}, {"ignore_eos", true}, {"temperature", 0}});
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
  EXPECT_EQ(r["usage"]["total_tokens"], 64);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  const HttpResult full =
      PostJson(s, "/v1/completions", json{{"prompt", std::vector<int32_t>(64, 1000)}}.dump());
  EXPECT_EQ(full.status, 400);
}

TEST(OpenAiCompatTest, IgnoreEosRunsToMaxTokens) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const auto& tok = *DefaultModel().tokenizer;
  // The IT model ends a short answer with <|end|> well within 60 tokens.
  json body = {{"messages", {{{"role", "user"}, {"content", "What is wit?"}}}},
               {"max_tokens", 60},
               {"temperature", 0}};
  auto chat = [&](const json& b) {
    const HttpResult r = PostJson(s, "/v1/chat/completions", b.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json();
  };
  const json plain = chat(body);
  ASSERT_EQ(plain["choices"][0]["finish_reason"], "stop") << plain.dump();
  ASSERT_LT(plain["usage"]["completion_tokens"].get<int>(), 60);

  body["ignore_eos"] = true;
  const json ignoring = chat(body);
  EXPECT_EQ(ignoring["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(ignoring["usage"]["completion_tokens"], 60);
  const auto ids = ignoring["choices"][0]["token_ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids.size(), 60u);
  for (int32_t end : tokenizer::EndTokenIds(TokenizerAccess::Internal(tok)))
    EXPECT_EQ(std::count(ids.begin(), ids.end(), end), 0) << "end token " << end;
}

// Whether `tail` could still grow into one of `stops`.
bool IsStopPrefix(const std::string& tail, const std::vector<std::string>& stops) {
  for (const std::string& s : stops)
    if (tail.size() < s.size() && s.compare(0, tail.size(), tail) == 0) return true;
  return false;
}

// The length of the incomplete UTF-8 character that ends `bytes` (0 if none).
size_t IncompleteUtf8Tail(const std::string& bytes) {
  for (size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    const auto c = static_cast<unsigned char>(bytes[bytes.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

// Each chunk's text is everything its tokens decode to so far, except what
// must wait: an incomplete UTF-8 character, or a tail a stop string may
// still start with. (It used to lag by a fixed 12 bytes.)
TEST(OpenAiCompatTest, StreamedTextHoldsBackOnlyWhatItMust) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const auto& tok = *DefaultModel().tokenizer;
  std::vector<std::string> stops = tokenizer::StopFilter::ChatMarkers();
  stops.push_back("Lord of hosts");
  for (const char* prompt : {"In the beginning God created", "WIT, n. The salt with which"}) {
    const json body = {{"prompt", prompt},     {"max_tokens", 40}, {"temperature", 0},
                       {"stop", stops.back()}, {"stream", true},   {"ignore_eos", true}};
    const HttpResult r = PostStreaming(s, "/v1/completions", body.dump());
    ASSERT_EQ(r.status, 200);
    std::string raw, streamed;
    int chunks_with_tokens = 0;
    for (const std::string& event : SseData(r.body)) {
      if (event == "[DONE]") break;
      const json c = json::parse(event)["choices"][0];
      for (int32_t id : c["token_ids"].get<std::vector<int32_t>>()) raw += tok.TokenBytes(id);
      streamed += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) break;  // the end flushes what was held
      if (c["token_ids"].empty()) continue;
      ++chunks_with_tokens;
      ASSERT_LE(streamed.size(), raw.size());
      ASSERT_EQ(raw.compare(0, streamed.size(), streamed), 0) << "streamed text is not decoded";
      std::string held = raw.substr(streamed.size());
      held.resize(held.size() - IncompleteUtf8Tail(held));
      EXPECT_TRUE(held.empty() || IsStopPrefix(held, stops))
          << "held back '" << held << "' after '" << streamed << "'";
    }
    EXPECT_GE(chunks_with_tokens, 10);
  }
}

TEST(OpenAiCompatTest, ANonStreamingRequestIsCancelledWhenItsClientHangsUp) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const std::string body =
      json{{"prompt", "And"}, {"max_tokens", 100000}, {"ignore_eos", true}}.dump();
  {
    testing::RawClient client(s.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(
        client.Send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body));
    ASSERT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 1; }));
  }  // the client closes its socket without reading the answer
  EXPECT_TRUE(s.WaitHealth([](const json& h) { return h["active_sequences"] == 0; }))
      << s.Health().dump();
  const json h = s.Health();
  EXPECT_EQ(h["sequences_cancelled"], 1) << h.dump();
  EXPECT_LT(h["generated_tokens"].get<int>(), 2000);  // it did not run to the context
}

TEST(OpenAiCompatTest, NChoicesPrefillTheirPromptOnce) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), Options());
  const std::vector<int32_t> prompt = DefaultModel().tokenizer->Encode("The word of the day", true);
  const json r = Completion(s, {{"prompt", prompt}, {"max_tokens", 4}, {"n", 3}, {"seed", 5}});
  ASSERT_EQ(r["choices"].size(), 3u);
  EXPECT_EQ(s.Health()["prefill_tokens"], prompt.size());
  for (int i = 0; i < 3; ++i) {
    const json one = Completion(s, {{"prompt", prompt}, {"max_tokens", 4}, {"seed", 5 + i}});
    EXPECT_EQ(one["choices"][0]["token_ids"], r["choices"][i]["token_ids"]) << "choice " << i;
  }
}

// Issue #17: the next turn of a chat reuses the KV cache of the last one
// (usage.prompt_tokens_details.cached_tokens, as OpenAI reports it) and
// answers exactly as a server without the prompt cache.
TEST(OpenAiCompatTest, AConversationsNextTurnReportsItsCachedTokens) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions no_cache = Options();
  no_cache.scheduler.prompt_cache_bytes = 0;
  TestServer reusing(DefaultModel(), Options()), plain(DefaultModel(), no_cache);
  json messages = json::array({{{"role", "user"}, {"content", "Tell me of the river."}}});
  for (int turn = 0; turn < 3; ++turn) {
    const json body = {
        {"messages", messages}, {"max_tokens", 8}, {"temperature", 0}, {"logprobs", true}};
    const HttpResult a = PostJson(reusing, "/v1/chat/completions", body.dump());
    const HttpResult b = PostJson(plain, "/v1/chat/completions", body.dump());
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(b.status, 200) << b.body;
    const json ja = json::parse(a.body), jb = json::parse(b.body);
    EXPECT_EQ(ja["choices"], jb["choices"]) << "turn " << turn;
    const int64_t cached = ja["usage"]["prompt_tokens_details"]["cached_tokens"];
    EXPECT_EQ(jb["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    if (turn == 0) EXPECT_EQ(cached, 0);
    if (turn > 0) EXPECT_GT(cached, ja["usage"]["prompt_tokens"].get<int64_t>() / 2) << ja.dump();
    messages.push_back(ja["choices"][0]["message"]);
    messages.push_back({{"role", "user"}, {"content", "And then?"}});
  }
}

}  // namespace
}  // namespace talkie::server
