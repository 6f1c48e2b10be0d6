// Quantized copies of a model (`talkie quantize`) and the measurement of what
// quantization costs in logit quality.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "ops/weights.h"

namespace talkie::model {

// Writes out_dir/model.safetensors (+ config.json, and the tokenizer files of
// the model's directory): every matrix whose row length is a multiple of 32
// in `type` (kQ8 or kQ4) as <name>.q8 / <name>.q4 with f16 group scales,
// everything else (gains, odd-sized matrices) as F32. The file is written one
// tensor at a time and loads like any checkpoint.
void QuantizeModel(const Model& model, ops::WeightType type, const std::string& out_dir);

struct QualityReport {
  double mean_kl = 0.0;  // mean KL(reference || candidate) per position, nats
  double max_kl = 0.0;
  double top1_agreement = 0.0;  // fraction of positions with the same argmax
  double max_abs_logit_diff = 0.0;
  int64_t positions = 0;
  bool finite = true;  // no NaN / inf in the candidate's logits
};

// Compares all-position logits of two models of the same vocabulary on `ids`
// (windows of at most `window` tokens; 0 = the reference's context).
QualityReport CompareLogits(const Model& reference, const Model& candidate,
                            const std::vector<int32_t>& ids, int64_t window = 0);

}  // namespace talkie::model
