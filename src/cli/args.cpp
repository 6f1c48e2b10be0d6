// Argument helpers (see args.h).
#include "cli/args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "ops/matmul_lowp.h"
#include "talkie/engine.h"

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

std::string ResolveModelPath(const std::string& given) {
  if (!given.empty()) return given;
  return DefaultModelPath();  // $TALKIE_MODEL, else the bundled model (talkie/engine.h)
}

ops::Precision ParsePolicy(const std::string& policy) {
  if (policy == "exact") return ops::Precision::kExact;
  if (policy == "fast") return ops::Precision::kFast;
  throw Error("--policy must be 'exact' or 'fast', got '" + policy + "'");
}

std::unique_ptr<model::Model> LoadModel(const std::string& given, const std::string& policy) {
  const ops::Precision precision = ParsePolicy(policy);
  auto model = model::Model::Load(ResolveModelPath(given));
  model->SetPrecision(precision);
  const ops::WeightType type = model->weights().lm_head.type;
  if (precision == ops::Precision::kFast && std::string(ops::LowPrecisionPath(type)) == "portable")
    std::fprintf(stderr,
                 "talkie: warning: this CPU lacks the AVX-512 dot-product instructions the fast "
                 "policy uses; it runs portable kernels, slower than --policy exact\n");
  const auto& unknown = model->info().unknown_tensors;
  if (!unknown.empty()) {
    std::fprintf(stderr,
                 "talkie: warning: %zu tensor(s) in the checkpoint are not used:", unknown.size());
    for (const std::string& name : unknown) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
  }
  return model;
}

}  // namespace talkie::cli
