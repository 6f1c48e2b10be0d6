// Output checks (see output_guard.h).
#include "cli/output_guard.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "talkie/error.h"
#include "talkie/tensor_file.h"

namespace talkie::cli {
namespace {

namespace fs = std::filesystem;

bool Same(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

// The folder a model is read from: the path itself or the file's folder.
fs::path ModelFolder(const std::string& model) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model;
  const fs::path parent = fs::path(model).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

bool IsCheckpointName(const fs::path& p) {
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  return name == "config.json" || name == "model.safetensors.index.json" || ext == ".safetensors" ||
         ext == ".pt" || ext == ".ckpt";
}

// The first model / checkpoint file inside `dir` ("" when none).
std::string FindCheckpointIn(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (IsCheckpointName(entry.path())) return entry.path().string();
  return "";
}

bool IsForwardOutput(const std::string& path) {
  try {
    const std::map<std::string, std::string> metadata = LoadTensorFileMetadata(path);
    const auto it = metadata.find("producer");
    return it != metadata.end() && it->second == "talkie forward";
  } catch (const Error&) {
    return false;
  }
}

// A file name `talkie capture` writes: manifest.json, shard-*.safetensors, or
// a temporary file of one of them (<name>.tmp-XXXXXX, left by a killed write).
bool IsCaptureFileName(const std::string& name) {
  const size_t tmp = name.find(".tmp-");
  const std::string base = tmp == std::string::npos ? name : name.substr(0, tmp);
  const std::string suffix = ".safetensors";
  return base == "manifest.json" ||
         (base.rfind("shard-", 0) == 0 && base.size() > suffix.size() &&
          base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0);
}

}  // namespace

std::vector<std::string> CheckCaptureOutputDir(const std::string& out_dir,
                                               const std::string& input_model, bool force) {
  std::error_code ec;
  Check(!out_dir.empty(), "--out: empty folder name");
  const fs::path out(out_dir);
  if (!fs::exists(out, ec)) {
    const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    Check(fs::is_directory(parent, ec),
          "--out " + out_dir + ": folder " + parent.string() + " does not exist");
    return {};
  }
  Check(fs::is_directory(out, ec), "--out " + out_dir + " exists and is not a directory");
  if (!input_model.empty() && Same(out, ModelFolder(input_model)))
    throw Error("--out " + out_dir + " is the folder of the input model " + input_model +
                "; writing there could destroy the model being read. Choose another folder");
  bool empty = true, only_ours = true;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    empty = false;
    only_ours =
        only_ours && entry.is_regular_file() && IsCaptureFileName(entry.path().filename().string());
  }
  if (empty) return {};
  std::vector<std::string> old_shards;
  bool is_capture = false;
  try {
    std::ifstream in(out / "manifest.json");
    const nlohmann::json manifest = nlohmann::json::parse(in);
    is_capture = manifest.value("producer", "") == "talkie capture";
    if (is_capture && manifest.contains("shards"))
      for (const auto& shard : manifest.at("shards")) {
        const std::string file = shard.at("file").get<std::string>();
        if (IsCaptureFileName(file) && file.find('/') == std::string::npos)
          old_shards.push_back(file);
      }
  } catch (const std::exception&) {
    is_capture = false;
    old_shards.clear();
  }
  if (!(is_capture && only_ours) && !force)
    throw Error("--out " + out_dir +
                " is not empty and is not a `talkie capture` output; choose an empty or new "
                "folder, or pass --force to write into it (only manifest.json and "
                "shard-*.safetensors there are replaced)");
  return old_shards;
}

void CheckModelOutputDir(const std::string& out_dir, const std::string& input_model, bool force) {
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return;
  Check(fs::is_directory(out_dir, ec), "--out " + out_dir + " exists and is not a directory");
  if (!input_model.empty() && Same(out_dir, ModelFolder(input_model)))
    throw Error("--out " + out_dir + " is the folder of the input model " + input_model +
                "; writing there would destroy the model being read. Choose another folder");
  const std::string existing = FindCheckpointIn(out_dir);
  if (!existing.empty() && !force)
    throw Error("--out " + out_dir + " already holds a model (" + existing +
                "); pass --force to replace it");
}

void CheckForwardOutputFile(const std::string& out_file, const std::string& input_model,
                            bool force) {
  std::error_code ec;
  const fs::path out(out_file);
  Check(!fs::is_directory(out, ec), "--out " + out_file + " is a directory, expected a file");
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  Check(fs::is_directory(parent, ec),
        "--out " + out_file + ": folder " + parent.string() + " does not exist");
  if (!fs::exists(out, ec)) return;
  // An earlier forward output is replaced freely (re-running is the normal
  // workflow); it is never part of a model, even when kept in its folder.
  if (IsForwardOutput(out_file) && !Same(out, input_model)) return;
  bool of_model = Same(out, input_model);
  for (const auto& entry : fs::directory_iterator(ModelFolder(input_model), ec))
    of_model = of_model || Same(out, entry.path());
  if (of_model)
    throw Error("--out " + out_file + " is a file of the input model " + input_model +
                "; writing there would destroy the model being read. Choose another file");
  if (!force)
    throw Error("--out " + out_file +
                " already exists and is not a `talkie forward` output (it may be a model); "
                "pass --force to replace it");
}

void CheckPlainOutputFile(const std::string& out_file, const std::string& flag,
                          const std::string& input_model, bool force) {
  std::error_code ec;
  const fs::path out(out_file);
  Check(!out_file.empty(), flag + ": empty file name");
  Check(!fs::is_directory(out, ec), flag + " " + out_file + " is a directory, expected a file");
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  Check(fs::is_directory(parent, ec),
        flag + " " + out_file + ": folder " + parent.string() + " does not exist");
  Check(::access(parent.c_str(), W_OK | X_OK) == 0,
        flag + " " + out_file + ": folder " + parent.string() + " is not writable");
  if (!fs::exists(out, ec)) return;
  bool of_model = Same(out, input_model);
  for (const auto& entry : fs::directory_iterator(ModelFolder(input_model), ec))
    of_model = of_model || Same(out, entry.path());
  if (of_model)
    throw Error(flag + " " + out_file + " is a file of the input model " + input_model +
                "; writing there would destroy the model being read. Choose another file");
  if (!force) throw Error(flag + " " + out_file + " already exists; pass --force to replace it");
}

}  // namespace talkie::cli
