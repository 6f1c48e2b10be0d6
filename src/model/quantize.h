// Quantized copies of a model (`talkie quantize`); what quantization costs in
// logit quality is measured by CompareLogits (evaluation.h).
#pragma once

#include <string>

#include "io/write_progress.h"
#include "model/model.h"
#include "ops/weights.h"

namespace talkie::model {

// Writes out_dir/model.safetensors (+ config.json, and the tokenizer files of
// the model's directory): every matrix whose row length is a multiple of 32
// in `type` (kQ8 or kQ4) as <name>.q8 / <name>.q4 with f16 group scales,
// everything else (gains, odd-sized matrices) as F32. The file is written one
// tensor at a time and loads like any checkpoint. `progress` (optional) hears
// the bytes of model.safetensors written.
void QuantizeModel(const Model& model, ops::WeightType type, const std::string& out_dir,
                   const io::WriteProgress& progress = {});

}  // namespace talkie::model
