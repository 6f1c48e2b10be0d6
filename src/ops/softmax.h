// log(sum(exp(x))) of a row of logits, for log-probabilities (perplexity,
// logprobs, KL): max in float, the sum of exp(x - max) in double.
#pragma once

#include <cstdint>

namespace talkie::ops {

double LogSumExp(const float* x, int64_t n);

}  // namespace talkie::ops
