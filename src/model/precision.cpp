// Model::SetPrecision: switching the matmul weights between the exact and
// the fast policy (ops/weights.h, ops/matmul_lowp.h); and the list of those
// weights.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <utility>

#include "common/error.h"
#include "model/load_progress.h"
#include "model/model.h"
#include "ops/matmul_lowp.h"

namespace talkie::model {
namespace {

// Asks the OS to drop the resident pages of a checkpoint range once its
// packed copy exists. MADV_PAGEOUT never loses data (file pages are read
// again, anonymous ones would be swapped), so the exact policy can come back.
void ReleasePages(const void* data, int64_t bytes) {
#ifdef MADV_PAGEOUT
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end =
      (reinterpret_cast<uintptr_t>(data) + static_cast<uintptr_t>(bytes)) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace

void Model::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

std::vector<const ops::WeightMatrix*> TalkieWeights::MatMuls() const {
  std::vector<const ops::WeightMatrix*> out{&lm_head};
  for (const BlockWeights& b : blocks)
    for (const ops::WeightMatrix* w : {&b.attn_query, &b.attn_key, &b.attn_value, &b.attn_resid,
                                       &b.mlp_gate, &b.mlp_linear, &b.mlp_resid})
      out.push_back(w);
  return out;
}

std::vector<ops::WeightMatrix*> TalkieWeights::MatMuls() {
  std::vector<ops::WeightMatrix*> out;
  for (const ops::WeightMatrix* w : std::as_const(*this).MatMuls())
    out.push_back(const_cast<ops::WeightMatrix*>(w));  // *this is not const
  return out;
}

void Model::SetPrecision(ops::Precision precision) {
  if (precision == precision_) return;
  packed_.clear();
  // Packing reads every quantized weight: progress over the bytes packed.
  uint64_t total = 0;
  if (precision == ops::Precision::kFast)
    for (const ops::WeightMatrix* w : weights_.MatMuls())
      if (w->type == ops::WeightType::kQ8 || w->type == ops::WeightType::kQ4)
        total += static_cast<uint64_t>(ops::PackedBytes(*w));
  const std::string stage = "packing weights";
  try {
    if (total > 0) ReportLoadProgress(stage, 0, total);
    PackAll(precision, stage, total);
  } catch (...) {
    // An observer that abandons the load (or a failed allocation) leaves the
    // model as it was: every weight on the old policy, nothing packed.
    for (ops::WeightMatrix* w : weights_.MatMuls()) {
      w->precision = precision_;
      w->packed = nullptr;
    }
    packed_.clear();
    throw;
  }
  precision_ = precision;
}

void Model::PackAll(ops::Precision precision, const std::string& stage, uint64_t total) {
  uint64_t done = 0;
  for (ops::WeightMatrix* w : weights_.MatMuls()) {
    w->precision = precision;
    w->packed = nullptr;
    const bool quantized = w->type == ops::WeightType::kQ8 || w->type == ops::WeightType::kQ4;
    if (precision != ops::Precision::kFast || !quantized) continue;
    const int64_t bytes = ops::PackedBytes(*w);
    auto* buffer =
        static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>((bytes + 63) / 64 * 64)));
    if (buffer == nullptr)
      throw Error("out of memory packing weights for the fast policy (" + std::to_string(bytes) +
                  " bytes)");
    packed_.emplace_back(buffer);
    ops::PackForLowPrecision(*w, buffer);
    w->packed = buffer;
    const int64_t code_bytes =
        w->type == ops::WeightType::kQ8 ? w->rows * w->cols : w->rows * w->cols / 2;
    ReleasePages(w->data, code_bytes);
    ReleasePages(w->group_scales, w->rows * (w->cols / ops::kQuantGroup) * 2);
    ReportLoadProgress(stage, done += static_cast<uint64_t>(bytes), total);
  }
}

}  // namespace talkie::model
