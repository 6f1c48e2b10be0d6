// GenerateOptions -> the internal generate::GenerationConfig, for the API's
// implementation files (generate.cpp, scheduler.cpp). Not installed.
#pragma once

#include "generate/sequence.h"
#include "talkie/generate.h"

namespace talkie::api {

// Field for field; the hooks become their internal HookSet (null stays null).
// prefill_chunk is not part of a config (the caller's loop uses it).
generate::GenerationConfig ToConfig(const GenerateOptions& options);

}  // namespace talkie::api
