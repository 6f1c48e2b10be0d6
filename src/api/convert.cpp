// The public conversions (talkie/convert.h): thin adapters over
// model/quantize.h, model/gguf_export.h, model/synthetic.h and
// model/evaluation.h that add the API's progress callback, engine scope and
// the rule that nothing is written over the model being read.
#include "talkie/convert.h"

#include <filesystem>

#include "api/access.h"
#include "api/engine_scope.h"
#include "model/evaluation.h"
#include "model/gguf_export.h"
#include "model/quantize.h"
#include "model/synthetic.h"
#include "talkie/error.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"
#include "tokenizer/gguf_metadata.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;

bool SameFile(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

// The writers' observer as a ProgressCallback: stage "writing <file name>".
io::WriteProgress WriteObserver(const ProgressCallback& progress) {
  if (!progress) return {};
  return [&progress](const std::string& path, uint64_t done, uint64_t total) {
    progress("writing " + fs::path(path).filename().string(), done, total);
  };
}

}  // namespace

void Quantize(const Model& model, QuantType type, const std::string& out_dir,
              const ProgressCallback& progress) {
  Check(!out_dir.empty(), "Quantize: empty output folder name");
  Check(!SameFile(out_dir, model.info().directory),
        "Quantize: " + out_dir + " is the folder of the model being read (" + model.info().path +
            "); writing there would destroy it");
  const api::EngineScope scope(model.engine());
  model::QuantizeModel(ModelAccess::Internal(model),
                       type == QuantType::kQ8 ? ops::WeightType::kQ8 : ops::WeightType::kQ4,
                       out_dir, WriteObserver(progress));
}

GgufType ParseGgufType(const std::string& name) {
  switch (model::ParseGgufExportType(name)) {
    case model::GgufExportType::kF32:
      return GgufType::kF32;
    case model::GgufExportType::kBF16:
      return GgufType::kBF16;
    case model::GgufExportType::kQ8_0:
      return GgufType::kQ8_0;
    case model::GgufExportType::kQ4_0:
      return GgufType::kQ4_0;
  }
  throw Error("unknown GGUF type '" + name + "'");
}

void ExportGguf(const Model& model, GgufType type, const std::string& path,
                const Tokenizer* tokenizer, const ProgressCallback& progress) {
  Check(!path.empty(), "ExportGguf: empty file name");
  // The checkpoint's files, and any file beside them (its tokenizer, config).
  bool of_model = SameFile(path, model.info().path);
  for (const std::string& file : model.info().files) of_model = of_model || SameFile(path, file);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model.info().directory, ec))
    of_model = of_model || SameFile(path, entry.path());
  Check(!of_model, "ExportGguf: " + path + " is a file of the model being read (" +
                       model.info().path + "); writing there would destroy it");
  const model::GgufExportType internal_type =
      type == GgufType::kF32    ? model::GgufExportType::kF32
      : type == GgufType::kBF16 ? model::GgufExportType::kBF16
      : type == GgufType::kQ8_0 ? model::GgufExportType::kQ8_0
                                : model::GgufExportType::kQ4_0;
  const model::Model& m = ModelAccess::Internal(model);
  std::vector<io::GgufEntry> tokenizer_metadata;
  if (tokenizer != nullptr)
    tokenizer_metadata = tokenizer::GgufTokenizerMetadata(TokenizerAccess::Internal(*tokenizer),
                                                          m.config().vocab_size);
  const api::EngineScope scope(model.engine());
  model::ExportGguf(m, internal_type, path, tokenizer_metadata, WriteObserver(progress));
}

void WriteSyntheticModel(const std::string& dir, const std::string& shape, WeightType type,
                         uint64_t seed, const ProgressCallback& progress) {
  Check(!dir.empty(), "WriteSyntheticModel: empty output folder name");
  const model::ModelConfig config = model::SyntheticShape(shape);
  const io::DType dtype = type == WeightType::kBF16  ? io::DType::kBF16
                          : type == WeightType::kF16 ? io::DType::kF16
                                                     : io::DType::kF32;
  model::WriteSyntheticModel(dir, config, dtype, seed, WriteObserver(progress));
}

LogitComparison CompareLogits(const Model& reference, const Model& candidate,
                              const std::vector<int32_t>& ids, int64_t window) {
  const api::EngineScope scope(reference.engine());
  return model::CompareLogits(ModelAccess::Internal(reference), ModelAccess::Internal(candidate),
                              ids, window);
}

}  // namespace talkie
