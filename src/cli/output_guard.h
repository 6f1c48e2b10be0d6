// Checks run before a command writes anything, so no command destroys data:
// an output never replaces the model being read, and never replaces an
// existing model / checkpoint unless --force is given. (The writes themselves
// go through a temporary file renamed into place (talkie/convert.h,
// talkie/tensor_file.h), so even a forced replacement never truncates a file
// another process has memory-mapped.)
#pragma once

#include <string>
#include <vector>

namespace talkie::cli {

// For commands writing a model folder (quantize, synth). `input_model` is the
// resolved path of the model being read ("" when none): --out may not be its
// folder, with or without --force. An --out that already holds a model needs
// --force. Throws talkie::Error naming the path.
void CheckModelOutputDir(const std::string& out_dir, const std::string& input_model, bool force);

// For `talkie forward --out FILE`: FILE may not be a file of the input model
// (or its folder's); an existing FILE is only replaced without --force when
// it is an earlier `talkie forward` output. Throws talkie::Error.
void CheckForwardOutputFile(const std::string& out_file, const std::string& input_model,
                            bool force);

// For a command writing one plain output file (`talkie lens --png FILE`):
// `flag` names the option in errors. The folder must exist and be writable;
// FILE may not be a directory nor a file of the input model (even with
// --force); an existing FILE needs --force. Throws talkie::Error.
void CheckPlainOutputFile(const std::string& out_file, const std::string& flag,
                          const std::string& input_model, bool force);

// For `talkie capture --out DIR`, a folder of shard-NNNNN.safetensors files
// and manifest.json. DIR may be missing (its parent must exist), empty, or an
// earlier capture output (a manifest.json by `talkie capture` plus only
// shard-*.safetensors / manifest.json / leftover temporary files); any other
// non-empty folder needs --force, and even then only files of those names are
// written or removed. DIR may never be the input model's folder. Returns the
// shard files the earlier manifest lists (the caller removes the ones the new
// run does not rewrite). Throws talkie::Error naming the path.
std::vector<std::string> CheckCaptureOutputDir(const std::string& out_dir,
                                               const std::string& input_model, bool force);

}  // namespace talkie::cli
