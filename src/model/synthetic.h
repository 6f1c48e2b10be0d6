// Random-weight Talkie checkpoints at any shape, so benchmarks and tests need
// no download. Weights are N(0, 1/fan_in) rounded to the chosen dtype; gains
// are near the values a trained model has.
#pragma once

#include <cstdint>
#include <string>

#include "io/tensor.h"
#include "model/config.h"

namespace talkie::model {

// Writes config.json (Transformers keys) and model.safetensors into `dir`
// (created if needed). dtype: F32, F16 or BF16.
void WriteSyntheticModel(const std::string& dir, const ModelConfig& config, io::DType dtype,
                         uint64_t seed = 1);

}  // namespace talkie::model
