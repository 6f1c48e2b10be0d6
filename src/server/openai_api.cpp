// Request parsing and response JSON of the OpenAI-compatible API (see
// openai_api.h).
#include "server/openai_api.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>

namespace talkie::server {
namespace {

using json = nlohmann::json;

// Deeper than any request has reason to be. nlohmann::json parses without
// recursion, but copying, comparing, dumping and destroying a value recurse
// over its depth, so a 100,000-level value (a few hundred KB) would overflow
// the stack of whoever touches it: the parse stops at the first value
// nested deeper.
constexpr int kMaxJsonDepth = 64;

[[noreturn]] void Bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, param);
}

json ParseObject(std::string_view body) {
  // `depth` counts the arrays and objects around the one that starts.
  const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw ApiError(400, "request body: JSON nesting is deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  json j;
  try {
    j = json::parse(body, limit_depth);
  } catch (const json::exception& e) {  // parse errors, number overflow
    throw ApiError(400, std::string("request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ApiError(400, "request body must be a JSON object");
  return j;
}

// Unknown fields are refused so that a misspelt option never silently does
// nothing.
void CheckKnownFields(const json& j, const std::set<std::string>& known,
                      const std::string& prefix) {
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) Bad(prefix + key, "unknown field '" + prefix + key + "'");
}

// Present and not null: OpenAI clients send null for "use the default".
bool Has(const json& j, const char* name) { return j.contains(name) && !j[name].is_null(); }

int64_t GetInt(const json& j, const char* name, int64_t lo, int64_t hi) {
  const json& v = j[name];
  if (!v.is_number_integer()) Bad(name, std::string("'") + name + "' must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    Bad(name, std::string("'") + name + "' must be <= " + std::to_string(hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    Bad(name, std::string("'") + name + "' must be in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "], got " + std::to_string(x));
  return x;
}

double GetNumber(const json& j, const char* name) {
  const json& v = j[name];
  if (!v.is_number()) Bad(name, std::string("'") + name + "' must be a number");
  return v.get<double>();
}

bool GetBool(const json& j, const char* name) {
  const json& v = j[name];
  if (!v.is_boolean()) Bad(name, std::string("'") + name + "' must be a boolean");
  return v.get<bool>();
}

std::string GetString(const json& j, const char* name) {
  const json& v = j[name];
  if (!v.is_string()) Bad(name, std::string("'") + name + "' must be a string");
  return v.get<std::string>();
}

std::vector<int32_t> Encode(const Tokenizer& tok, const std::string& text, bool allow_special,
                            const std::string& param) {
  try {
    return tok.Encode(text, allow_special);
  } catch (const Error& e) {
    Bad(param, param + ": " + e.what());
  }
}

std::vector<int32_t> ParseIds(const json& arr, const Tokenizer& tok, const std::string& param) {
  std::vector<int32_t> ids;
  const int64_t vocab = tok.vocab_size();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!arr[i].is_number_integer()) Bad(p, "'" + p + "' must be a token id (integer)");
    const int64_t id = arr[i].get<int64_t>();
    if (id < 0 || id >= vocab || (arr[i].is_number_unsigned() && arr[i].get<uint64_t>() > 1u << 31))
      Bad(p, "'" + p + "' = " + arr[i].dump() + " is not a token id (vocab size " +
                 std::to_string(vocab) + ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// "prompt": a string (special-token text such as <|endoftext|> becomes its
// id), an array of token ids, or an array holding exactly one of those.
std::vector<int32_t> ParsePrompt(const json& j, const Tokenizer& tok) {
  if (!Has(j, "prompt")) Bad("prompt", "'prompt' is required");
  json p = j["prompt"];
  if (p.is_array() && p.size() == 1 && (p[0].is_string() || p[0].is_array())) p = p[0];
  // OpenAI's batch form (several prompts in one request) is not served.
  if (p.is_array() && !p.empty() && (p[0].is_string() || p[0].is_array()))
    Bad("prompt", "'prompt' holds " + std::to_string(p.size()) +
                      " prompts; this server takes one prompt per request (send one request "
                      "per prompt; use 'n' for several completions of one prompt)");
  std::vector<int32_t> ids;
  if (p.is_string()) {
    ids = Encode(tok, p.get<std::string>(), true, "prompt");
  } else if (p.is_array()) {
    ids = ParseIds(p, tok, "prompt");
  } else {
    Bad("prompt", "'prompt' must be a string or an array of token ids (one prompt per request)");
  }
  if (ids.empty()) Bad("prompt", "'prompt' is empty: it encodes to no tokens");
  return ids;
}

// A message's text. Only an assistant message may leave it out or send
// null (OpenAI's form for a turn that made tool calls).
std::string MessageContent(const json& m, const std::string& param, const std::string& role) {
  if (!m.contains("content") || m["content"].is_null()) {
    if (role == "assistant") return "";
    Bad(param + ".content", "'" + param +
                                ".content' is required (a string or an array of text "
                                "parts) for role " +
                                role);
  }
  const json& c = m["content"];
  if (c.is_string()) return c.get<std::string>();
  // The newer OpenAI form: an array of {"type": "text", "text": ...} parts.
  if (c.is_array()) {
    std::string text;
    for (size_t i = 0; i < c.size(); ++i) {
      const std::string p = param + ".content[" + std::to_string(i) + "]";
      if (!c[i].is_object() || !c[i].contains("type") || c[i]["type"] != "text" ||
          !c[i].contains("text") || !c[i]["text"].is_string())
        Bad(p, "'" + p + "' must be {\"type\": \"text\", \"text\": string}");
      text += c[i]["text"].get<std::string>();
    }
    return text;
  }
  Bad(param + ".content", "'" + param + ".content' must be a string or an array of text parts");
}

std::vector<int32_t> ParseMessages(const json& j, const Tokenizer& tok) {
  if (!Has(j, "messages")) Bad("messages", "'messages' is required");
  const json& ms = j["messages"];
  if (!ms.is_array() || ms.empty()) Bad("messages", "'messages' must be a non-empty array");
  if (!tok.is_chat())
    Bad("messages",
        "chat completions need an instruction-tuned (IT) model with the chat markers; this "
        "model's tokenizer is base style: use /v1/completions with a text prompt");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < ms.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& m = ms[i];
    if (!m.is_object()) Bad(p, "'" + p + "' must be an object {role, content}");
    CheckKnownFields(m, {"role", "content", "name"}, p + ".");
    const std::string role_rule =
        "'" + p + ".role' must be \"system\", \"developer\", \"user\" or \"assistant\"";
    if (!m.contains("role") || !m["role"].is_string()) Bad(p + ".role", role_rule);
    const std::string role = m["role"].get<std::string>();
    // "developer": OpenAI's newer name for the system role.
    if (role != "system" && role != "developer" && role != "user" && role != "assistant")
      Bad(p + ".role", role_rule + ", got \"" + role + "\"");
    ChatMessage cm;
    cm.role = role == "developer" ? "system" : role;
    cm.content = MessageContent(m, p, role);
    messages.push_back(std::move(cm));
  }
  try {
    return tok.EncodeChat(messages);
  } catch (const Error& e) {
    Bad("messages", std::string("messages: ") + e.what());
  }
}

std::vector<std::string> ParseStop(const json& j, int max_stop) {
  if (!Has(j, "stop")) return {};
  const json& s = j["stop"];
  std::vector<std::string> out;
  if (s.is_string()) {
    out.push_back(s.get<std::string>());
  } else if (s.is_array()) {
    if (static_cast<int>(s.size()) > max_stop)
      Bad("stop", "'stop' takes at most " + std::to_string(max_stop) + " strings");
    for (const json& x : s) {
      if (!x.is_string()) Bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(x.get<std::string>());
    }
  } else {
    Bad("stop", "'stop' must be a string or an array of strings");
  }
  for (const std::string& x : out)
    if (x.empty()) Bad("stop", "'stop' strings must not be empty");
  return out;
}

// Fields OpenAI clients may send that have no effect here unless set to a
// value we cannot honour.
void CheckUnsupported(const json& j) {
  for (const char* name : {"frequency_penalty", "presence_penalty"})
    if (Has(j, name) && GetNumber(j, name) != 0.0)
      Bad(name, std::string("'") + name + "' is not supported (use repetition_penalty)");
  if (Has(j, "logit_bias") && !(j["logit_bias"].is_object() && j["logit_bias"].empty()))
    Bad("logit_bias", "'logit_bias' is not supported");
  if (Has(j, "user")) GetString(j, "user");
  // Function calling: this engine has no tool-call output format.
  for (const char* name : {"tools", "functions"})
    if (Has(j, name) && !(j[name].is_array() && j[name].empty()))
      Bad(name, std::string("'") + name +
                    "' (function calling) is not supported: leave it out or send []");
  for (const char* name : {"tool_choice", "function_call"})
    if (Has(j, name) && j[name] != "none")
      Bad(name, std::string("'") + name + "' is not supported (only \"none\")");
  if (Has(j, "modalities") && j["modalities"] != json::array({"text"}))
    Bad("modalities", "'modalities' supports only [\"text\"]");
  if (Has(j, "echo") && GetBool(j, "echo")) Bad("echo", "'echo' is not supported");
  if (Has(j, "suffix") && !GetString(j, "suffix").empty())
    Bad("suffix", "'suffix' is not supported");
  if (Has(j, "response_format")) {
    const json& f = j["response_format"];
    if (!f.is_object() || f.value("type", "") != "text" || f.size() != 1)
      Bad("response_format", "'response_format' supports only {\"type\": \"text\"}");
  }
}

// "control_vectors": {"name": scale}: names the server loaded, finite scales.
std::map<std::string, float> ParseControlVectors(const json& j, const ApiLimits& limits) {
  const json& cv = j["control_vectors"];
  if (!cv.is_object())
    Bad("control_vectors", "'control_vectors' must be an object of {\"name\": scale}");
  std::string loaded;
  for (const std::string& name : limits.control_vectors)
    loaded += (loaded.empty() ? "" : ", ") + name;
  std::map<std::string, float> out;
  for (const auto& [name, value] : cv.items()) {
    const std::string field = "control_vectors." + name;
    if (std::find(limits.control_vectors.begin(), limits.control_vectors.end(), name) ==
        limits.control_vectors.end())
      Bad(field, "unknown control vector '" + name + "' (" +
                     (loaded.empty() ? std::string("the server loaded none: start it with "
                                                   "--control-vector FILE")
                                     : "loaded: " + loaded) +
                     ")");
    if (!value.is_number() || !std::isfinite(value.get<double>()) ||
        !std::isfinite(static_cast<float>(value.get<double>())))
      Bad(field, "'" + field + "' must be a finite number");
    out[name] = static_cast<float>(value.get<double>());
  }
  return out;
}

}  // namespace

ParsedRequest ParseRequest(Endpoint endpoint, std::string_view body, const Tokenizer& tokenizer,
                           const ApiLimits& limits, uint64_t random_seed) {
  const json j = ParseObject(body);
  const bool chat = endpoint == Endpoint::kChat;
  std::set<std::string> known = {"model", "max_tokens", "temperature", "top_p", "stop", "seed", "n",
                                 "stream", "stream_options", "logprobs", "top_k", "min_p",
                                 "repetition_penalty", "user", "frequency_penalty",
                                 "presence_penalty", "logit_bias", "ignore_eos", "control_vectors",
                                 // Accepted and ignored: they do not change the
                                 // result (storage, tags, scheduling tiers).
                                 "store", "metadata", "service_tier", "parallel_tool_calls"};
  if (chat) {
    known.insert({"messages", "top_logprobs", "max_completion_tokens", "response_format", "tools",
                  "tool_choice", "functions", "function_call", "modalities"});
  } else {
    known.insert({"prompt", "echo", "best_of", "suffix"});
  }
  CheckKnownFields(j, known, "");
  CheckUnsupported(j);

  ParsedRequest r;
  r.endpoint = endpoint;
  if (Has(j, "model")) r.model = GetString(j, "model");
  r.prompt = chat ? ParseMessages(j, tokenizer) : ParsePrompt(j, tokenizer);
  const char* prompt_field = chat ? "messages" : "prompt";
  const auto prompt_len = static_cast<int64_t>(r.prompt.size());
  if (prompt_len >= limits.context)
    Bad(prompt_field, std::string(prompt_field) + " has " + std::to_string(prompt_len) +
                          " tokens; the context is " + std::to_string(limits.context) +
                          " tokens and one more is needed to generate");

  // max_tokens is clamped so that prompt + completion fits the context; the
  // default is OpenAI's: 16 for completions, the rest of the context for chat.
  const int64_t room = limits.context - prompt_len;
  int64_t max_tokens = chat ? room : 16;
  const char* max_field =
      chat && Has(j, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (Has(j, max_field)) max_tokens = GetInt(j, max_field, 0, std::numeric_limits<int64_t>::max());

  GenerateOptions config;
  config.max_new_tokens = std::min(max_tokens, room);
  config.stop_strings = ParseStop(j, limits.max_stop);
  // Extension (as llama.cpp): the end tokens are never sampled, so the
  // completion runs to max_tokens (or a stop string).
  if (Has(j, "ignore_eos") && GetBool(j, "ignore_eos"))
    config.banned_token_ids = tokenizer.end_token_ids();
  SamplingOptions& s = config.sampling;
  if (Has(j, "temperature")) s.temperature = static_cast<float>(GetNumber(j, "temperature"));
  if (Has(j, "top_p")) s.top_p = static_cast<float>(GetNumber(j, "top_p"));
  if (Has(j, "min_p")) s.min_p = static_cast<float>(GetNumber(j, "min_p"));
  if (Has(j, "repetition_penalty"))
    s.repetition_penalty = static_cast<float>(GetNumber(j, "repetition_penalty"));
  if (Has(j, "top_k")) s.top_k = GetInt(j, "top_k", 0, std::numeric_limits<int32_t>::max());
  try {
    ValidateGenerateOptions(config);
  } catch (const Error& e) {
    // The sampler's messages start with the field name, which is ours too.
    // Its value is the float it became (1e308 -> inf, 1e-300 -> 0): show
    // the number as sent instead.
    std::string message = e.what();
    const std::string field = message.substr(0, message.find(' '));
    const size_t got = message.rfind(", got ");
    if (got != std::string::npos && j.contains(field))
      message = message.substr(0, got) + ", got " + j[field].dump();
    Bad(field, message);
  }

  if (Has(j, "seed")) {
    // At most 2^53: what every JSON client (JavaScript's numbers) can echo.
    r.seed = static_cast<uint64_t>(GetInt(j, "seed", 0, int64_t{1} << 53));
  } else {
    r.seed = random_seed;
  }
  const int n = Has(j, "n") ? static_cast<int>(GetInt(j, "n", 1, limits.max_n)) : 1;
  if (!chat && Has(j, "best_of") && GetInt(j, "best_of", 1, limits.max_n) != n)
    Bad("best_of", "'best_of' is not supported (leave it out or equal to n)");

  if (Has(j, "stream")) r.stream = GetBool(j, "stream");
  if (Has(j, "stream_options")) {
    const json& so = j["stream_options"];
    if (!so.is_object()) Bad("stream_options", "'stream_options' must be an object");
    if (!r.stream) Bad("stream_options", "'stream_options' is only allowed with stream: true");
    CheckKnownFields(so, {"include_usage"}, "stream_options.");
    if (Has(so, "include_usage")) {
      if (!so["include_usage"].is_boolean())
        Bad("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
      r.include_usage = so["include_usage"].get<bool>();
    }
  }

  if (chat) {
    if (Has(j, "logprobs")) r.logprobs = GetBool(j, "logprobs");
    if (Has(j, "top_logprobs")) {
      r.top_logprobs = static_cast<int>(GetInt(j, "top_logprobs", 0, limits.max_top_logprobs));
      if (!r.logprobs) Bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    }
  } else if (Has(j, "logprobs")) {
    // /v1/completions: an integer, the number of alternatives per token.
    r.logprobs = true;
    r.top_logprobs = static_cast<int>(GetInt(j, "logprobs", 0, limits.max_completions_logprobs));
  }

  if (Has(j, "control_vectors")) r.control_vector_scales = ParseControlVectors(j, limits);

  for (int i = 0; i < n; ++i) {
    r.configs.push_back(config);
    r.configs.back().sampling.seed = r.seed + static_cast<uint64_t>(i);
  }
  return r;
}

std::vector<int32_t> ParseTokenizeRequest(std::string_view body, const Tokenizer& tokenizer) {
  const json j = ParseObject(body);
  CheckKnownFields(j, {"content", "text", "allow_special", "model"}, "");
  const char* field = Has(j, "content") ? "content" : "text";
  if (!Has(j, field)) Bad("content", "'content' (or 'text') is required");
  const std::string text = GetString(j, field);
  const bool allow_special = Has(j, "allow_special") && GetBool(j, "allow_special");
  return Encode(tokenizer, text, allow_special, field);
}

json Detokenize(std::string_view body, const Tokenizer& tokenizer) {
  const json j = ParseObject(body);
  CheckKnownFields(j, {"tokens", "model"}, "");
  if (!Has(j, "tokens") || !j["tokens"].is_array())
    Bad("tokens", "'tokens' must be an array of token ids");
  const std::vector<int32_t> ids = ParseIds(j["tokens"], tokenizer, "tokens");
  return {{"content", tokenizer.Decode(ids)}};
}

std::string_view ApiFinishReason(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopToken:
    case FinishReason::kStopString:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "length";
}

namespace {

const char* ObjectName(Endpoint e, bool chunk) {
  if (e == Endpoint::kCompletions) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

json Envelope(const ResponseMeta& meta, bool chunk) {
  return {{"id", meta.id},
          {"object", ObjectName(meta.endpoint, chunk)},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", "talkie.cpp"},
          {"seed", meta.seed}};
}

std::vector<int> Bytes(std::string_view s) {
  std::vector<int> b;
  for (char c : s) b.push_back(static_cast<unsigned char>(c));
  return b;
}

// Chat form: {"content": [{token, logprob, bytes, top_logprobs: [...]}]}.
json ChatLogprobs(const std::vector<TokenLogprob>& lps, const Tokenizer& tok) {
  json content = json::array();
  for (const TokenLogprob& lp : lps) {
    json top = json::array();
    for (const auto& [id, v] : lp.top) {
      const std::string t = tok.TokenBytes(id);
      top.push_back({{"token", std::string(t)}, {"logprob", v}, {"bytes", Bytes(t)}});
    }
    const std::string t = tok.TokenBytes(lp.id);
    content.push_back({{"token", std::string(t)},
                       {"logprob", lp.logprob},
                       {"bytes", Bytes(t)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Completions form: parallel arrays, top alternatives as {token: logprob}.
json CompletionLogprobs(const std::vector<TokenLogprob>& lps, const Tokenizer& tok, bool offsets) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(),
       text_offset = json::array();
  int64_t offset = 0;
  for (const TokenLogprob& lp : lps) {
    const std::string t = tok.TokenBytes(lp.id);
    tokens.push_back(std::string(t));
    token_logprobs.push_back(lp.logprob);
    json alternatives = json::object();
    for (const auto& [id, v] : lp.top) alternatives[std::string(tok.TokenBytes(id))] = v;
    top.push_back(alternatives);
    text_offset.push_back(offset);
    offset += static_cast<int64_t>(t.size());
  }
  json out = {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}};
  if (offsets) out["text_offset"] = text_offset;
  return out;
}

json Usage(const ResponseMeta& meta, int64_t completion_tokens) {
  return {{"prompt_tokens", meta.prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", meta.prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", meta.cached_tokens}}}};
}

}  // namespace

json CompletionResponse(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                        const Tokenizer& tokenizer) {
  json out = Envelope(meta, false);
  json cs = json::array();
  int64_t completion_tokens = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    completion_tokens += static_cast<int64_t>(c.ids.size());
    json choice = {{"index", i}};
    if (meta.endpoint == Endpoint::kChat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
      choice["logprobs"] = meta.logprobs ? ChatLogprobs(c.logprobs, tokenizer) : json(nullptr);
    } else {
      choice["text"] = c.text;
      choice["logprobs"] =
          meta.logprobs ? CompletionLogprobs(c.logprobs, tokenizer, true) : json(nullptr);
    }
    choice["finish_reason"] = ApiFinishReason(c.finish);
    choice["token_ids"] = c.ids;
    cs.push_back(std::move(choice));
  }
  out["choices"] = std::move(cs);
  out["usage"] = Usage(meta, completion_tokens);
  return out;
}

json StreamChunk(const ResponseMeta& meta, int index, bool first, std::string_view text,
                 const std::vector<int32_t>& ids, const std::vector<TokenLogprob>& logprobs,
                 std::optional<FinishReason> finish, const Tokenizer& tokenizer) {
  json out = Envelope(meta, true);
  json choice = {{"index", index}};
  if (meta.endpoint == Endpoint::kChat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && !finish)) delta["content"] = std::string(text);
    choice["delta"] = std::move(delta);
    choice["logprobs"] =
        meta.logprobs && !logprobs.empty() ? ChatLogprobs(logprobs, tokenizer) : json(nullptr);
  } else {
    choice["text"] = std::string(text);
    choice["logprobs"] = meta.logprobs && !logprobs.empty()
                             ? CompletionLogprobs(logprobs, tokenizer, false)
                             : json(nullptr);
  }
  choice["finish_reason"] = finish ? json(ApiFinishReason(*finish)) : json(nullptr);
  choice["token_ids"] = ids;
  out["choices"] = json::array({std::move(choice)});
  return out;
}

json UsageChunk(const ResponseMeta& meta, int64_t completion_tokens) {
  json out = Envelope(meta, true);
  out["choices"] = json::array();
  out["usage"] = Usage(meta, completion_tokens);
  return out;
}

json ErrorBody(const std::string& message, const std::string& type, const std::string& param) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", nullptr}}}};
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string SseEvent(const json& payload) { return "data: " + Dump(payload) + "\n\n"; }

}  // namespace talkie::server
