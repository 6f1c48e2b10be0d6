// Logit quality of one model (or precision policy) against another on a text
// file: shared by `talkie quantize --eval-file` and `talkie compare`.
#pragma once

#include <string>

#include "talkie/model.h"

namespace talkie::cli {

// Tokenizes `text_file` with the reference model's tokenizer, compares
// all-position logits (talkie::CompareLogits) and prints one line: "<label>
// vs <against> on N positions: mean KL ..., top-1 agreement ...". Returns
// false when the candidate produced a NaN / inf.
bool PrintLogitQuality(const Model& reference, const Model& candidate, const std::string& text_file,
                       const std::string& label, const std::string& against);

}  // namespace talkie::cli
