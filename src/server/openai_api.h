// The OpenAI-compatible wire format of `talkie serve`, as pure functions:
// parsing and validating request bodies (every error names its field) and
// building the response, stream-chunk and error JSON. No sockets here, so all
// of it is unit-testable; http_server.cpp maps ApiError to HTTP statuses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "talkie/error.h"
#include "talkie/generate.h"
#include "talkie/scheduler.h"
#include "talkie/tokenizer.h"

namespace talkie::server {

// A request the server refuses: HTTP status, OpenAI error type and the
// offending request field ("" when no single field is to blame).
class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::string param = "",
           std::string type = "invalid_request_error")
      : Error(message), status_(status), param_(std::move(param)), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_, type_;
};

enum class Endpoint { kCompletions, kChat };

struct ApiLimits {
  int64_t context = 0;  // prompt + generated tokens at most (the --ctx limit)
  int max_n = 16;
  int max_stop = 4;  // as OpenAI
  int max_top_logprobs = 20;
  int max_completions_logprobs = 5;  // /v1/completions "logprobs" is an int
  // Names of the control vectors the server loaded (--control-vector*), which
  // a request's "control_vectors" field may scale.
  std::vector<std::string> control_vectors;
};

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;            // echoed in the response
  std::vector<int32_t> prompt;  // encoded prompt
  // One entry per choice: same fields, seeds seed, seed+1, ...; max_new_tokens
  // already clamped to the context.
  std::vector<GenerateOptions> configs;
  uint64_t seed = 0;  // given, or the caller's random one
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;
  // Extension: "control_vectors": {"name": scale, ...} sets the scale of
  // loaded control vectors for this request (the others keep the server's).
  std::map<std::string, float> control_vector_scales;
};

// Parses a /v1/completions or /v1/chat/completions body. `random_seed` is
// used when the request gives none. Throws ApiError (400) naming the field.
ParsedRequest ParseRequest(Endpoint endpoint, std::string_view body, const Tokenizer& tokenizer,
                           const ApiLimits& limits, uint64_t random_seed);

// /tokenize: {"content" | "text": string, "add_special"?: bool} -> ids.
std::vector<int32_t> ParseTokenizeRequest(std::string_view body, const Tokenizer& tokenizer);
// /detokenize: {"tokens": [ids]} -> {"content": text} (ill-formed UTF-8
// becomes U+FFFD).
nlohmann::json Detokenize(std::string_view body, const Tokenizer& tokenizer);

// "stop" for stop tokens and strings, "length" otherwise (cancelled
// sequences are never reported to a client).
std::string_view ApiFinishReason(FinishReason reason);

// The fields every response and chunk share.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;
  std::string model;
  uint64_t seed = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // of the prompt tokens, those taken from the prompt cache
  bool logprobs = false;
};

// Everything one choice produced, for the non-streaming response.
struct ChoiceResult {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<TokenLogprob> logprobs;
  FinishReason finish = FinishReason::kLength;
};

nlohmann::json CompletionResponse(const ResponseMeta& meta,
                                  const std::vector<ChoiceResult>& choices,
                                  const Tokenizer& tokenizer);

// One streamed chunk for choice `index`: a piece of text (chat: a delta; with
// `first`, the delta also carries the role), its token ids and logprobs, and
// the finish reason on the last chunk of that choice.
nlohmann::json StreamChunk(const ResponseMeta& meta, int index, bool first, std::string_view text,
                           const std::vector<int32_t>& ids,
                           const std::vector<TokenLogprob>& logprobs,
                           std::optional<FinishReason> finish, const Tokenizer& tokenizer);
// The final usage-only chunk (stream_options.include_usage).
nlohmann::json UsageChunk(const ResponseMeta& meta, int64_t completion_tokens);

// {"error": {"message", "type", "param", "code"}} as OpenAI sends it.
nlohmann::json ErrorBody(const std::string& message, const std::string& type,
                         const std::string& param = "");
// One Server-Sent Event: "data: <json>\n\n".
std::string SseEvent(const nlohmann::json& payload);
// JSON text; ill-formed UTF-8 in strings becomes U+FFFD instead of throwing.
std::string Dump(const nlohmann::json& j);

}  // namespace talkie::server
