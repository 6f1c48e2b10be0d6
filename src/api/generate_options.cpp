// GenerateOptions: conversion to the internal config, validation, finish
// reason names. Apart from generate.cpp so that the server's request parsers
// (and their fuzzer) link without the engine.
#include "api/generate_options.h"

#include "api/access.h"

namespace talkie {

// The public enum mirrors the internal one value for value.
static_assert(static_cast<int>(FinishReason::kStopToken) ==
                  static_cast<int>(generate::FinishReason::kStopToken) &&
              static_cast<int>(FinishReason::kStopString) ==
                  static_cast<int>(generate::FinishReason::kStopString) &&
              static_cast<int>(FinishReason::kLength) ==
                  static_cast<int>(generate::FinishReason::kLength) &&
              static_cast<int>(FinishReason::kCancelled) ==
                  static_cast<int>(generate::FinishReason::kCancelled));

const char* FinishReasonName(FinishReason reason) {
  // The internal names are string literals, so data() is NUL-terminated.
  return generate::FinishReasonName(static_cast<generate::FinishReason>(reason)).data();
}

generate::GenerationConfig api::ToConfig(const GenerateOptions& o) {
  generate::GenerationConfig c;
  c.max_new_tokens = o.max_new_tokens;
  c.sampling.temperature = o.sampling.temperature;
  c.sampling.top_k = o.sampling.top_k;
  c.sampling.top_p = o.sampling.top_p;
  c.sampling.min_p = o.sampling.min_p;
  c.sampling.repetition_penalty = o.sampling.repetition_penalty;
  c.sampling.seed = o.sampling.seed;
  c.stop_token_ids = o.stop_token_ids;
  c.stop_strings = o.stop_strings;
  c.banned_token_ids = o.banned_token_ids;
  c.hooks = ModelAccess::Internal(o.hooks);
  return c;
}

void ValidateGenerateOptions(const GenerateOptions& options) {
  Check(options.prefill_chunk >= 1,
        "prefill_chunk must be >= 1, got " + std::to_string(options.prefill_chunk));
  generate::ValidateGenerationConfig(api::ToConfig(options));
}

}  // namespace talkie
