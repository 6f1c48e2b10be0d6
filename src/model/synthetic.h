// Random-weight Talkie checkpoints at any shape, so benchmarks and tests need
// no download. Weights are N(0, 1/fan_in) rounded to the chosen dtype; gains
// are near the values a trained model has. Tensors are generated and written
// one at a time, so even the 13B shape needs little memory.
#pragma once

#include <cstdint>
#include <string>

#include "io/tensor.h"
#include "io/write_progress.h"
#include "model/config.h"

namespace talkie::model {

// Writes config.json (Transformers keys) and model.safetensors into `dir`
// (created if needed). dtype: F32, F16 or BF16. `progress` (optional) hears
// the bytes of model.safetensors written.
void WriteSyntheticModel(const std::string& dir, const ModelConfig& config, io::DType dtype,
                         uint64_t seed = 1, const io::WriteProgress& progress = {});

// Named shapes: "talkie-13b" (the real models), "talkie-1b" (hidden 2048,
// 16 layers, 16 x 128 heads, MLP 5504, vocab 65540), "talkie-tiny" (the
// bundled model's shape). Error for other names.
ModelConfig SyntheticShape(const std::string& name);

}  // namespace talkie::model
