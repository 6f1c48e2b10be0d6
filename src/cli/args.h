// Small argument helpers shared by the subcommands.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "talkie/engine.h"
#include "talkie/model.h"

namespace talkie::cli {

// Parses "1,2,3" (spaces allowed) into token ids; throws talkie::Error naming
// `what` for non-numbers, negative values, and (unless allow_empty) empty lists.
std::vector<int32_t> ParseIdList(const std::string& text, const std::string& what,
                                 bool allow_empty = false);

// The model path to use: the given one, else the project's default model.
std::string ResolveModelPath(const std::string& given);

// Throws naming `flag` unless `path` is a readable regular file (checked
// before a command does any work).
void CheckReadableFile(const std::string& path, const std::string& flag);

// The engine for --policy and --threads (0 = the idle cores, unless
// $OMP_NUM_THREADS chooses); throws naming the flag.
Engine MakeEngine(const std::string& policy, int threads);

// Loads the model at ResolveModelPath(given) with `engine`'s settings,
// warning on stderr about tensors the checkpoint holds but Talkie does not
// use and about a fast policy without a SIMD kernel on this CPU. Slow stages
// (re-laying a GGUF file, packing for the fast policy) show a progress bar on
// a terminal once they take a second (LoadProgressBar); `on_progress` runs at
// each of their reports and may throw to abandon the load.
Model LoadModel(const std::string& given, const Engine& engine,
                std::function<void()> on_progress = {});

}  // namespace talkie::cli
