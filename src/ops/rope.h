// Talkie's rotary position embedding (spec §2): half-split pairs (j, j + d/2),
// rotation by -theta:  y1 = x1*cos + x2*sin,  y2 = -x1*sin + x2*cos,
// with cos/sin computed in float32 and then ROUNDED TO BF16, as trained.
#pragma once

#include <cstdint>
#include <vector>

namespace talkie::ops {

class RopeTable {
 public:
  RopeTable() = default;
  // Tables for positions 0 .. max_positions-1.
  RopeTable(int64_t head_dim, double theta, int64_t max_positions);

  int64_t head_dim() const { return head_dim_; }
  int64_t max_positions() const { return max_positions_; }
  // bf16-rounded values (held as float), [head_dim / 2] per position.
  const float* cos(int64_t pos) const { return cos_.data() + pos * (head_dim_ / 2); }
  const float* sin(int64_t pos) const { return sin_.data() + pos * (head_dim_ / 2); }

  // Rotates one head vector x[head_dim] in place for position pos
  // (0 <= pos < max_positions, checked by the caller).
  void Apply(float* x, int64_t pos) const;

 private:
  int64_t head_dim_ = 0;
  int64_t max_positions_ = 0;
  std::vector<float> cos_, sin_;
};

}  // namespace talkie::ops
