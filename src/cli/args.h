// Small argument helpers shared by the subcommands.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "ops/weights.h"

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

// "exact" / "fast" (--policy) -> the precision policy; throws naming the flag.
ops::Precision ParsePolicy(const std::string& policy);

// Loads the model at ResolveModelPath(given), warning on stderr about tensors
// the checkpoint holds but Talkie does not use, and prepares it for the
// precision policy ("exact" / "fast"). Slow stages (re-laying a GGUF file,
// packing for the fast policy) show a progress bar on a terminal once they
// take a second (ScopedLoadProgress); `on_progress` runs at each of their
// reports and may throw to abandon the load.
std::unique_ptr<model::Model> LoadModel(const std::string& given,
                                        const std::string& policy = "exact",
                                        std::function<void()> on_progress = {});

}  // namespace talkie::cli
