// Unit tests of the OpenAI wire format (no sockets): request parsing,
// validation errors naming their field, clamping, seeds, and the shape of
// responses, stream chunks and error bodies.
#include "server/openai_api.h"

#include <gtest/gtest.h>

#include "server_test_util.h"
#include "tokenizer/chat.h"

namespace talkie::server {
namespace {

using nlohmann::json;
using testing::DefaultModel;

ApiLimits Limits(int64_t context = 2048) {
  ApiLimits l;
  l.context = context;
  return l;
}

ParsedRequest Parse(Endpoint e, const std::string& body, int64_t context = 2048) {
  return ParseRequest(e, body, *DefaultModel().tokenizer, Limits(context), 777);
}

struct BadCase {
  Endpoint endpoint;
  std::string body;
  std::string param;  // the field the error must name
};

// Shared with the HTTP test through this list: each body must give 400 and
// name `param`.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      {Endpoint::kCompletions, R"({"prompt": "a", "bogus": 1})", "bogus"},
      {Endpoint::kCompletions, R"({"prompt": "a", "max_tokens": "10"})", "max_tokens"},
      {Endpoint::kCompletions, R"({"prompt": "a", "max_tokens": -1})", "max_tokens"},
      {Endpoint::kCompletions, R"({"prompt": "a", "temperature": -1})", "temperature"},
      {Endpoint::kCompletions, R"({"prompt": "a", "temperature": "hot"})", "temperature"},
      {Endpoint::kCompletions, R"({"prompt": "a", "top_p": 2})", "top_p"},
      {Endpoint::kCompletions, R"({"prompt": "a", "top_k": -3})", "top_k"},
      {Endpoint::kCompletions, R"({"prompt": "a", "min_p": 1.5})", "min_p"},
      {Endpoint::kCompletions, R"({"prompt": "a", "repetition_penalty": 0})", "repetition_penalty"},
      {Endpoint::kCompletions, R"({"prompt": "a", "n": 0})", "n"},
      {Endpoint::kCompletions, R"({"prompt": "a", "n": 1000})", "n"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stop": 5})", "stop"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stop": ["x", ""]})", "stop"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stop": ["a","b","c","d","e"]})", "stop"},
      {Endpoint::kCompletions, R"({"prompt": "a", "seed": 1.5})", "seed"},
      {Endpoint::kCompletions, R"({"prompt": "a", "seed": -1})", "seed"},
      {Endpoint::kCompletions, R"({"prompt": "a", "seed": 9007199254740993})", "seed"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stream": "yes"})", "stream"},
      {Endpoint::kCompletions, R"({"prompt": "a", "logprobs": 50})", "logprobs"},
      {Endpoint::kCompletions, R"({"prompt": "a", "logprobs": true})", "logprobs"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stream_options": {"include_usage": true}})",
       "stream_options"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stream": true, "stream_options": {"x": 1}})",
       "stream_options.x"},
      {Endpoint::kCompletions, R"({"prompt": "a", "frequency_penalty": 0.5})", "frequency_penalty"},
      {Endpoint::kCompletions, R"({"prompt": "a", "echo": true})", "echo"},
      {Endpoint::kCompletions, R"({"prompt": "a", "ignore_eos": 1})", "ignore_eos"},
      {Endpoint::kCompletions, R"({"prompt": "a", "model": 3})", "model"},
      {Endpoint::kCompletions, R"({"max_tokens": 3})", "prompt"},
      {Endpoint::kCompletions, R"({"prompt": ""})", "prompt"},
      {Endpoint::kCompletions, R"({"prompt": 12})", "prompt"},
      {Endpoint::kCompletions, R"({"prompt": [1, 999999]})", "prompt[1]"},
      {Endpoint::kCompletions, R"({"prompt": [1, "x"]})", "prompt[1]"},
      {Endpoint::kCompletions, R"({"prompt": "a", "messages": []})", "messages"},
      {Endpoint::kChat, R"({"messages": []})", "messages"},
      {Endpoint::kChat, R"({"prompt": "a", "messages": [{"role":"user","content":"a"}]})",
       "prompt"},
      {Endpoint::kChat, R"({"messages": "hi"})", "messages"},
      {Endpoint::kChat, R"({"messages": [{"role": "robot", "content": "a"}]})", "messages[0].role"},
      {Endpoint::kChat, R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {Endpoint::kChat, R"({"messages": [{"role": "user", "content": "a", "x": 1}]})",
       "messages[0].x"},
      {Endpoint::kChat, R"({"messages": [{"role": "user", "content": "a"}], "top_logprobs": 2})",
       "top_logprobs"},
      {Endpoint::kChat,
       R"({"messages": [{"role": "user", "content": "a"}], "logprobs": true, "top_logprobs": 99})",
       "top_logprobs"},
      {Endpoint::kChat, R"({"messages": [{"role": "user", "content": "a"}], "logprobs": 1})",
       "logprobs"},
      {Endpoint::kChat,
       R"({"messages": [{"role": "user", "content": "a"}],
           "tools": [{"type": "function", "function": {"name": "f"}}]})",
       "tools"},
      {Endpoint::kChat,
       R"({"messages": [{"role": "user", "content": "a"}], "tool_choice": "auto"})", "tool_choice"},
      {Endpoint::kChat,
       R"({"messages": [{"role": "user", "content": "a"}], "modalities": ["audio"]})",
       "modalities"},
      // Only an assistant turn may leave its content out (OpenAI's tool-call form).
      {Endpoint::kChat, R"({"messages": [{"role": "user", "content": null}]})",
       "messages[0].content"},
      {Endpoint::kChat, R"({"messages": [{"role": "developer"}]})", "messages[0].content"},
      {Endpoint::kCompletions, R"({"prompt": ["a", "b"]})", "prompt"},
      {Endpoint::kCompletions, R"({"prompt": [[1, 2], [3]]})", "prompt"},
  };
  return cases;
}

TEST(OpenAiApiTest, EveryBadRequestNamesItsField) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  for (const BadCase& c : BadCases()) {
    try {
      Parse(c.endpoint, c.body);
      ADD_FAILURE() << "accepted: " << c.body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << c.body;
      EXPECT_EQ(e.param(), c.param) << c.body << " -> " << e.what();
      EXPECT_EQ(e.type(), "invalid_request_error");
      // The message names the field too (its last component at least).
      const std::string leaf = c.param.substr(c.param.rfind('.') + 1);
      const std::string base = leaf.substr(0, leaf.find('['));
      EXPECT_NE(std::string(e.what()).find(base), std::string::npos) << e.what();
    }
  }
}

TEST(OpenAiApiTest, MalformedJsonAndNonObjectsAre400) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  for (const char* body : {"{", "", "[1,2]", "\"text\"", "{\"prompt\": \"a\",}",
                           "{\"prompt\": \"a\", \"top_p\": 9e999}"}) {
    try {
      Parse(Endpoint::kCompletions, body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.param(), "");
    }
  }
}

TEST(OpenAiApiTest, ParsesCompletionFields) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& tok = *DefaultModel().tokenizer;
  const ParsedRequest r = Parse(Endpoint::kCompletions, R"({
      "model": "whatever", "prompt": "In the beginning", "max_tokens": 7, "temperature": 0.5,
      "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1, "stop": "\n",
      "seed": 42, "n": 3, "stream": true, "stream_options": {"include_usage": true},
      "logprobs": 2, "user": "me", "presence_penalty": 0, "logit_bias": {}, "best_of": 3})");
  EXPECT_EQ(r.model, "whatever");
  EXPECT_EQ(r.prompt, tok.Encode("In the beginning", true));
  ASSERT_EQ(r.configs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& c = r.configs[i];
    EXPECT_EQ(c.max_new_tokens, 7);
    EXPECT_FLOAT_EQ(c.sampling.temperature, 0.5f);
    EXPECT_FLOAT_EQ(c.sampling.top_p, 0.9f);
    EXPECT_EQ(c.sampling.top_k, 40);
    EXPECT_FLOAT_EQ(c.sampling.min_p, 0.05f);
    EXPECT_FLOAT_EQ(c.sampling.repetition_penalty, 1.1f);
    EXPECT_EQ(c.sampling.seed, 42u + i);  // n choices: seed, seed+1, ...
    EXPECT_EQ(c.stop_strings, std::vector<std::string>{"\n"});
    EXPECT_FALSE(c.stop_token_ids.has_value());
  }
  EXPECT_EQ(r.seed, 42u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
}

TEST(OpenAiApiTest, DefaultsSeedsAndPromptForms) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const ParsedRequest r = Parse(Endpoint::kCompletions, R"({"prompt": [5, 6, 7]})");
  EXPECT_EQ(r.prompt, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(r.seed, 777u);                        // no seed: the caller's random one
  EXPECT_EQ(r.configs.at(0).max_new_tokens, 16);  // OpenAI's completions default
  EXPECT_FLOAT_EQ(r.configs[0].sampling.temperature, 1.0f);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
  // One-element arrays of a string or of ids; nulls mean "default".
  EXPECT_EQ(Parse(Endpoint::kCompletions, R"({"prompt": [[5, 6]]})").prompt,
            (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(Parse(Endpoint::kCompletions, R"({"prompt": ["ab"], "seed": null})").prompt,
            DefaultModel().tokenizer->Encode("ab", true));
  // Special-token text in a completion prompt becomes its id.
  const auto eot = DefaultModel().tokenizer->SpecialTokenId("<|endoftext|>");
  EXPECT_EQ(Parse(Endpoint::kCompletions, R"({"prompt": "<|endoftext|>"})").prompt,
            std::vector<int32_t>{*eot});
  // ignore_eos bans every end token (the IT model has all five markers).
  const auto ignore = Parse(Endpoint::kCompletions, R"({"prompt": "a", "ignore_eos": true})");
  EXPECT_EQ(ignore.configs[0].banned_token_ids,
            tokenizer::EndTokenIds(TokenizerAccess::Internal(*DefaultModel().tokenizer)));
  EXPECT_EQ(ignore.configs[0].banned_token_ids.size(), 5u);
  EXPECT_EQ(Parse(Endpoint::kCompletions, R"({"prompt": "a", "seed": 9007199254740992})").seed,
            uint64_t{1} << 53);
}

// Issue #22: 1e308 said "got inf" and 1e-300 "got 0.000000".
TEST(OpenAiApiTest, OutOfRangeNumbersAreQuotedAsSent) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"prompt": "a", "temperature": 1e308})", "got 1e+308"},
      {R"({"prompt": "a", "top_p": 1e-300})", "got 1e-300"},
      {R"({"prompt": "a", "repetition_penalty": -1e308})", "got -1e+308"},
  };
  for (const auto& [body, quoted] : cases) {
    try {
      Parse(Endpoint::kCompletions, body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const ApiError& e) {
      EXPECT_NE(std::string(e.what()).find(quoted), std::string::npos) << e.what();
    }
  }
}

TEST(OpenAiApiTest, MaxTokensClampsToTheContext) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const ParsedRequest r =
      Parse(Endpoint::kCompletions, R"({"prompt": [1,2,3,4], "max_tokens": 1000})", 32);
  EXPECT_EQ(r.configs[0].max_new_tokens, 28);
  const ParsedRequest chat =
      Parse(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "Hi"}]})", 100);
  EXPECT_EQ(chat.configs[0].max_new_tokens, 100 - static_cast<int64_t>(chat.prompt.size()));
  try {
    Parse(Endpoint::kCompletions, R"({"prompt": [1,2,3,4]})", 4);
    ADD_FAILURE() << "a prompt that fills the context was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "prompt");
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos);
  }
}

TEST(OpenAiApiTest, ChatUsesTheItTemplate) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& tok = *DefaultModel().tokenizer;
  const ParsedRequest r = Parse(Endpoint::kChat, R"({"messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Define "}, {"type": "text", "text": "wit."}]}],
      "logprobs": true, "top_logprobs": 3, "max_completion_tokens": 5})");
  const std::vector<tokenizer::ChatMessage> messages = {{tokenizer::Role::kSystem, "Be brief."},
                                                        {tokenizer::Role::kUser, "Define wit."}};
  EXPECT_EQ(r.prompt, tokenizer::EncodeChat(TokenizerAccess::Internal(tok), messages));
  EXPECT_EQ(r.configs[0].max_new_tokens, 5);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
}

// Issue #16: what OpenAI's clients commonly send is accepted.
TEST(OpenAiApiTest, DeveloperRoleIsSystemAndHarmlessFieldsAreIgnored) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const ParsedRequest dev = Parse(Endpoint::kChat, R"({"messages": [
      {"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi."},
      {"role": "assistant", "content": null}, {"role": "user", "content": "Well?"}],
      "store": false, "metadata": {"k": "v"}, "user": "u1", "parallel_tool_calls": true,
      "service_tier": "auto", "tools": [], "tool_choice": "none", "modalities": ["text"]})");
  const std::vector<tokenizer::ChatMessage> messages = {{tokenizer::Role::kSystem, "Be brief."},
                                                        {tokenizer::Role::kUser, "Hi."},
                                                        {tokenizer::Role::kAssistant, ""},
                                                        {tokenizer::Role::kUser, "Well?"}};
  EXPECT_EQ(dev.prompt,
            tokenizer::EncodeChat(TokenizerAccess::Internal(*DefaultModel().tokenizer), messages));
  const ParsedRequest plain =
      Parse(Endpoint::kCompletions, R"({"prompt": "a", "store": true, "metadata": null})");
  EXPECT_EQ(plain.prompt, DefaultModel().tokenizer->Encode("a", true));
}

TEST(OpenAiApiTest, APromptListSaysOnePromptPerRequest) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  try {
    Parse(Endpoint::kCompletions, R"({"prompt": ["a", "b", "c"]})");
    FAIL() << "accepted";
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("holds 3 prompts"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("one prompt per request"), std::string::npos);
  }
}

TEST(OpenAiApiTest, ChatOnABaseModelIsRefusedWithAnExplanation) {
  const auto& tok = *testing::BaseFixtureModel().tokenizer;
  try {
    ParseRequest(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "Hi"}]})", tok,
                 Limits(), 1);
    ADD_FAILURE() << "chat accepted on a base model";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "messages");
    EXPECT_NE(std::string(e.what()).find("instruction-tuned"), std::string::npos);
  }
}

TEST(OpenAiApiTest, TokenizeAndDetokenize) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& tok = *DefaultModel().tokenizer;
  const auto ids = ParseTokenizeRequest(R"({"content": "Hello there"})", tok);
  EXPECT_EQ(ids, tok.Encode("Hello there", false));
  EXPECT_EQ(ParseTokenizeRequest(R"({"text": "<|end|>", "allow_special": true})", tok),
            std::vector<int32_t>{*tok.SpecialTokenId("<|end|>")});
  json tokens = ids;
  EXPECT_EQ(Detokenize(json{{"tokens", tokens}}.dump(), tok)["content"], "Hello there");
  for (auto [body, param] :
       {std::pair{R"({"tokens": [1, -2]})", "tokens[1]"}, std::pair{R"({"tokens": "x"})", "tokens"},
        std::pair{R"({"content": 4})", "content"}, std::pair{R"({})", "content"},
        std::pair{R"({"content": "a", "z": 1})", "z"}}) {
    try {
      if (std::string(param).rfind("tokens", 0) == 0)
        Detokenize(body, tok);
      else
        ParseTokenizeRequest(body, tok);
      ADD_FAILURE() << "accepted " << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param(), param) << body;
    }
  }
}

// A body may nest 64 arrays and objects; one more is refused while parsing,
// before the deeper value is built (in any field, valid JSON or not after it).
TEST(OpenAiApiTest, JsonNestingStopsAtSixtyFourLevels) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& tok = *DefaultModel().tokenizer;
  auto body = [](int arrays) {  // the object itself is the first level
    return R"({"content": "a", "model": )" + std::string(arrays, '[') + std::string(arrays, ']') +
           "}";
  };
  EXPECT_EQ(ParseTokenizeRequest(body(63), tok), tok.Encode("a", false));
  for (const std::string& deep : {body(64), std::string(65, '['), "[" + body(63) + "]"}) {
    try {
      ParseTokenizeRequest(deep, tok);
      ADD_FAILURE() << "accepted " << deep;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(std::string(e.what()), "request body: JSON nesting is deeper than 64 levels");
    }
  }
}

TEST(OpenAiApiTest, ResponseShapes) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& tok = *DefaultModel().tokenizer;
  ResponseMeta meta;
  meta.endpoint = Endpoint::kChat;
  meta.id = "chatcmpl-x";
  meta.created = 5;
  meta.model = "m";
  meta.seed = 9;
  meta.prompt_tokens = 4;
  meta.logprobs = true;
  ChoiceResult c;
  c.text = "ab";
  c.ids = {97, 98};
  c.finish = FinishReason::kStopToken;
  c.logprobs = {{97, -0.5f, {{97, -0.5f}, {98, -1.0f}}}, {98, -0.25f, {}}};
  json r = CompletionResponse(meta, {c}, tok);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["seed"], 9);
  EXPECT_EQ(r["choices"][0]["message"]["content"], "ab");
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"][0]["token"], "a");
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["logprob"], -1.0);
  // The token's bytes (a view of a destroyed string once gave zeros here).
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"][1]["bytes"], (json{98}));
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["bytes"], (json{98}));
  EXPECT_EQ(r["usage"], (json{{"prompt_tokens", 4},
                              {"completion_tokens", 2},
                              {"total_tokens", 6},
                              {"prompt_tokens_details", {{"cached_tokens", 0}}}}));

  meta.endpoint = Endpoint::kCompletions;
  c.finish = FinishReason::kLength;
  r = CompletionResponse(meta, {c}, tok);
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["text"], "ab");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["choices"][0]["logprobs"]["tokens"], (json{"a", "b"}));
  EXPECT_EQ(r["choices"][0]["logprobs"]["text_offset"], (json{0, 1}));
  EXPECT_EQ(r["choices"][0]["logprobs"]["top_logprobs"][0]["b"], -1.0);

  meta.endpoint = Endpoint::kChat;
  const json first = StreamChunk(meta, 0, true, "", {}, {}, std::nullopt, tok);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], (json{{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  const json last = StreamChunk(meta, 1, false, "", {}, {}, FinishReason::kStopString, tok);
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["index"], 1);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(UsageChunk(meta, 3)["usage"]["total_tokens"], 7);

  EXPECT_EQ(SseEvent(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  const json err = ErrorBody("bad", "invalid_request_error", "top_p");
  EXPECT_EQ(err["error"]["param"], "top_p");
  EXPECT_EQ(err["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(ErrorBody("x", "server_error")["error"]["param"].is_null());
  // Ill-formed UTF-8 (a token that is half a character) is replaced, not thrown.
  EXPECT_EQ(Dump(json("\xE2\x82")), "\"\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace talkie::server
