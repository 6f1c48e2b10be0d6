// Choosing the next token from logits (spec §4 and Transformers semantics):
//   repetition penalty -> / temperature -> top-k -> top-p -> min-p -> draw.
// temperature 0 means greedy (argmax, first index on ties). The draw is
// equivalent to sampling from the softmax of the surviving logits, using the
// sequence's own random stream, so a seed reproduces the same tokens whatever
// else runs in the batch or how many threads there are.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace talkie::generate {

struct SamplingConfig {
  float temperature = 1.0f;         // 0 = greedy
  int64_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // 1 = off; in (0, 1]
  float min_p = 0.0f;               // 0 = off; in [0, 1]
  float repetition_penalty = 1.0f;  // 1 = off; > 0
  uint64_t seed = 0;
};

// Throws talkie::Error naming the field for out-of-range values.
void ValidateSamplingConfig(const SamplingConfig& config);

// A small, fast, seedable random stream (SplitMix64 seeding xoshiro256**).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t Next();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();

 private:
  uint64_t s_[4];
};

// Transformers' RepetitionPenaltyLogitsProcessor: for every token id in
// `history`, a positive logit is divided by the penalty, a negative one
// multiplied by it (each id once).
void ApplyRepetitionPenalty(std::span<float> logits, std::span<const int32_t> history,
                            float penalty);

// The filtered distribution the draw samples from: ids with their
// probabilities (summing to 1), sorted by descending probability. Exposed for
// tests (the chi-square tests compare draws against it).
struct Candidates {
  std::vector<int32_t> ids;
  std::vector<double> probs;
};
Candidates FilteredDistribution(std::span<const float> logits, const SamplingConfig& config);

// The next token. `logits` is modified in place by the repetition penalty.
int32_t SampleToken(std::span<float> logits, const SamplingConfig& config,
                    std::span<const int32_t> history, Rng& rng);

}  // namespace talkie::generate
