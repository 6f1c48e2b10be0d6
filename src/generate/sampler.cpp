// The sampling pipeline (see sampler.h).
#include "generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_set>

#include "common/error.h"

namespace talkie::generate {

void ValidateSamplingConfig(const SamplingConfig& c) {
  Check(std::isfinite(c.temperature) && c.temperature >= 0.0f,
        "temperature must be >= 0, got " + std::to_string(c.temperature));
  Check(c.top_k >= 0, "top_k must be >= 0, got " + std::to_string(c.top_k));
  Check(c.top_p > 0.0f && c.top_p <= 1.0f,
        "top_p must be in (0, 1], got " + std::to_string(c.top_p));
  Check(c.min_p >= 0.0f && c.min_p <= 1.0f,
        "min_p must be in [0, 1], got " + std::to_string(c.min_p));
  Check(std::isfinite(c.repetition_penalty) && c.repetition_penalty > 0.0f,
        "repetition_penalty must be > 0, got " + std::to_string(c.repetition_penalty));
}

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix64(seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

void ApplyRepetitionPenalty(std::span<float> logits, std::span<const int32_t> history,
                            float penalty) {
  if (penalty == 1.0f) return;
  std::unordered_set<int32_t> seen;
  for (int32_t id : history) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
    float& x = logits[id];
    x = x < 0.0f ? x * penalty : x / penalty;
  }
}

Candidates FilteredDistribution(std::span<const float> logits, const SamplingConfig& c) {
  const auto n = static_cast<int64_t>(logits.size());
  Check(n > 0, "sampling: empty logits");
  // Sort ids by descending logit (stable: lower id first on ties).
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t k = c.top_k > 0 ? std::min(c.top_k, n) : n;
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), by_logit);
  order.resize(static_cast<size_t>(k));

  // Softmax of logits / temperature over the top-k survivors, in double.
  const double inv_t = 1.0 / static_cast<double>(c.temperature);
  const double top = static_cast<double>(logits[order[0]]) * inv_t;
  std::vector<double> p(order.size());
  double total = 0.0;
  for (size_t i = 0; i < order.size(); ++i)
    total += p[i] = std::exp(static_cast<double>(logits[order[i]]) * inv_t - top);
  for (double& x : p) x /= total;

  // top-p: the smallest prefix whose cumulative probability exceeds p (always
  // at least the top token).
  size_t keep = p.size();
  if (c.top_p < 1.0f) {
    double cumulative = 0.0;
    for (size_t i = 0; i < p.size(); ++i) {
      cumulative += p[i];
      if (cumulative > static_cast<double>(c.top_p)) {
        keep = i + 1;
        break;
      }
    }
  }
  // min-p: drop tokens below min_p * (probability of the top token).
  if (c.min_p > 0.0f) {
    const double floor = static_cast<double>(c.min_p) * p[0];
    size_t i = 1;
    while (i < keep && p[i] >= floor) ++i;
    keep = i;
  }
  Candidates out;
  out.ids.assign(order.begin(), order.begin() + static_cast<int64_t>(keep));
  out.probs.assign(p.begin(), p.begin() + static_cast<int64_t>(keep));
  double kept = 0.0;
  for (double x : out.probs) kept += x;
  for (double& x : out.probs) x /= kept;
  return out;
}

int32_t SampleToken(std::span<float> logits, const SamplingConfig& c,
                    std::span<const int32_t> history, Rng& rng) {
  ApplyRepetitionPenalty(logits, history, c.repetition_penalty);
  if (c.temperature == 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const Candidates cand = FilteredDistribution(logits, c);
  // Inverse-CDF draw over the sorted candidates: the same distribution as
  // Gumbel-max over the surviving logits, with one uniform per token.
  const double u = rng.Uniform();
  double cumulative = 0.0;
  for (size_t i = 0; i < cand.ids.size(); ++i) {
    cumulative += cand.probs[i];
    if (u < cumulative) return cand.ids[i];
  }
  // Rounding left u above the sum: the last candidate that has any mass (a
  // banned token's -inf logit has none).
  size_t last = cand.ids.size() - 1;
  while (last > 0 && cand.probs[last] == 0.0) --last;
  return cand.ids[last];
}

}  // namespace talkie::generate
