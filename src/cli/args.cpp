// Argument helpers (see args.h).
#include "cli/args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/default_threads.h"
#include "cli/progress_bar.h"
#include "talkie/engine.h"
#include "talkie/error.h"

namespace talkie::cli {

std::vector<int32_t> ParseIdList(const std::string& text, const std::string& what,
                                 bool allow_empty) {
  std::vector<int32_t> ids;
  if (allow_empty && text.find_first_not_of(" \t") == std::string::npos) return ids;
  size_t i = 0;
  while (i <= text.size()) {
    const size_t comma = text.find(',', i);
    const size_t end = comma == std::string::npos ? text.size() : comma;
    std::string item = text.substr(i, end - i);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) {
      if (text.find_first_not_of(" \t,") == std::string::npos)
        throw Error(what + ": empty id list");
      throw Error(what + ": empty entry in id list '" + text + "'");
    }
    errno = 0;
    char* stop = nullptr;
    const long long v = std::strtoll(item.c_str(), &stop, 10);
    if (*stop != '\0' || errno == ERANGE)
      throw Error(what + ": '" + item + "' is not an integer token id");
    if (v < 0 || v > INT32_MAX) throw Error(what + ": token id " + item + " is out of range");
    ids.push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  return ids;
}

namespace {

// A checkpoint file starts as a zip archive (torch.save), a JSON object (a
// sharded index) or a safetensors header: an 8-byte length then '{'.
bool LooksLikeCheckpointFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, sizeof head);
  const auto n = in.gcount();
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return true;
  if (n >= 4 && std::memcmp(head, "GGUF", 4) == 0) return true;
  if (n >= 1 && head[0] == '{') return true;
  if (n < 9 || head[8] != '{') return false;
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(head[i]);
  std::error_code ec;
  return length + 8 <= std::filesystem::file_size(path, ec) && !ec;
}

}  // namespace

std::string ResolveModelPath(const std::string& given) {
  // $TALKIE_MODEL, else the bundled model (talkie/engine.h).
  const std::string path = given.empty() ? DefaultModelPath() : given;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && !LooksLikeCheckpointFile(path))
    throw Error(path +
                ": not a model checkpoint (expected a model folder with config.json + "
                "model.safetensors, or a .safetensors / model.safetensors.index.json / "
                "PyTorch .pt / .ckpt / GGUF file)");
  return path;
}

void CheckReadableFile(const std::string& path, const std::string& flag) {
  std::error_code ec;
  Check(std::filesystem::exists(path, ec), flag + " " + path + ": no such file");
  Check(!std::filesystem::is_directory(path, ec),
        flag + " " + path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  Check(static_cast<bool>(in), flag + " " + path + ": cannot open");
}

Engine MakeEngine(const std::string& policy, int threads) {
  EngineOptions options;
  if (policy != "exact" && policy != "fast")
    throw Error("--policy must be 'exact' or 'fast', got '" + policy + "'");
  options.policy = talkie::ParsePolicy(policy);
  options.threads = ResolveThreads(threads);
  return Engine(options);
}

namespace {

void WarnAboutLoad(const std::vector<std::string>& unknown, bool portable_fast) {
  if (portable_fast)
    std::fprintf(stderr,
                 "talkie: warning: this CPU has no SIMD kernel for the fast policy on these "
                 "weights (bf16 needs AVX512-BF16; q8 / q4 need AVX2 or NEON); it runs "
                 "portable kernels, slower than --policy exact\n");
  if (!unknown.empty()) {
    std::fprintf(stderr,
                 "talkie: warning: %zu tensor(s) in the checkpoint are not used:", unknown.size());
    for (const std::string& name : unknown) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
  }
}

}  // namespace

Model LoadModel(const std::string& given, const Engine& engine, std::function<void()> on_progress) {
  LoadProgressBar bar(std::move(on_progress));
  Model model = Model::Load(ResolveModelPath(given), engine, bar.Callback());
  WarnAboutLoad(model.info().unknown_tensors,
                engine.options().policy == Policy::kFast && model.fast_kernel_path() == "portable");
  return model;
}

}  // namespace talkie::cli
