// Fast-policy matmul over ggml block weights used in place (Q4_K, Q5_0,
// Q6_K; ggml_lowp_blocks.h), llama.cpp-style: the activations are quantized
// to int8 per group of 32 (as for q8 / q4), each group's 4-term integer dot
// products with the weights' codes are exact, and the float arithmetic of
// an output is fixed by k alone:
//   lane l (0..7) of group g:  s = sum over t = 4l .. 4l+3 of (u_t - offset) * qx_t
//   lanes[l] = fma(float(s), a[g][l / 4] * dx_g, lanes[l])        (g in order)
//   off      = fma(float(sum_g), b_g * dx_g, off)                 (Q4_K only)
//   y = ((lanes0 + lanes4) + (lanes2 + lanes6)) + ((lanes1 + lanes5) + (lanes3 + lanes7)) + off
// then negated for a negated row and multiplied by the scale. The portable
// twin below is that definition; the x86 kernels (x86/matmul_lowp_ggml.cpp)
// give its bits (tested).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/ggml_lowp_blocks.h"
#include "ops/matmul_lowp.h"
#include "ops/matmul_lowp_kernels.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace lowp {

void GgmlRowsPortable(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const WeightMatrix& w = *job.w;
  const GgmlBlockFormat f = GgmlBlock(w.type);
  const int64_t k = w.cols, groups = k / 32, per_block = f.elems / 32;
  const int offset = GgmlCodeOffset(w.type);
  const bool has_min = GgmlHasMin(w.type);
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* row = GgmlRow(w, j);
    for (int64_t i = i0; i < i1; ++i) {
      const int8_t* qx = job.x.q + i * k;
      float lanes[8] = {}, off = 0.0f;
      GgmlGroupConsts c;
      uint8_t u[32];
      for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* block = row + (g / per_block) * f.bytes;
        if (g % per_block == 0) GgmlBlockConsts(w.type, block, &c);
        const int gb = static_cast<int>(g % per_block);
        GgmlGroupCodes(w.type, block, gb, u);
        const float dx = job.x.d[i * groups + g];
        for (int l = 0; l < 8; ++l) {
          int32_t s = 0;
          for (int t = 4 * l; t < 4 * l + 4; ++t) s += (u[t] - offset) * qx[32 * g + t];
          lanes[l] = std::fma(static_cast<float>(s), c.a[gb][l / 4] * dx, lanes[l]);
        }
        if (has_min)
          off = std::fma(static_cast<float>(job.x.sum[i * groups + g]), c.b[gb] * dx, off);
      }
      float y = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
                ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
      y += off;
      if (w.negated_rows != nullptr && w.negated_rows[j] != 0) y = -y;
      job.y[i * w.rows + j] = w.has_scale ? y * w.scale : y;
    }
  }
}

namespace {

using GgmlKernel = void (*)(const GgmlInt8Job&, int64_t, int64_t, int64_t, int64_t);

// The x86 kernel of the q8 / q4 path in use (the same instruction), else
// the portable twin.
struct GgmlPath {
  const char* name;
  GgmlKernel kernel;
};
GgmlPath PickGgml() {
  const std::string path = Int8PathName();
#if defined(__x86_64__)
  if (path == "AVX512-VNNI") return {"AVX512-VNNI", GgmlRowsAvx512};
  if (path == "AVX-VNNI") return {"AVX-VNNI", GgmlRowsAvxVnni};
  if (path == "AVX2") return {"AVX2", GgmlRowsAvx2};
#endif
  return {"portable", GgmlRowsPortable};
}

}  // namespace

const char* GgmlLowPrecisionPath() { return PickGgml().name; }

void MatMulGgmlInt8(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t k = w.cols, groups = k / 32;
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d;
  thread_local std::vector<int32_t> sum, sum4;
  q.resize(static_cast<size_t>(m * k));
  d.resize(static_cast<size_t>(m * groups));
  sum.resize(static_cast<size_t>(m * groups));
  sum4.resize(static_cast<size_t>(m * k / 4));
  int8_t* qp = q.data();
  float* dp = d.data();
  int32_t* sp = sum.data();
  int32_t* s4 = sum4.data();
#pragma omp parallel for schedule(static) num_threads(NumThreads()) if (m > 1)
  for (int64_t i = 0; i < m; ++i) {
    QuantizeActivationRow(x + i * k, k, qp + i * k, dp + i * groups, sp + i * groups);
    for (int64_t t = 0; t < k / 4; ++t) {
      const int8_t* c = qp + i * k + 4 * t;
      s4[i * (k / 4) + t] = c[0] + c[1] + c[2] + c[3];
    }
  }
  const GgmlInt8Job job{{qp, dp, sp, k}, s4, &w, y};
  const GgmlKernel kernel = PickGgml().kernel;
  const int64_t n = w.rows, col_chunk = 16, chunks = (n + col_chunk - 1) / col_chunk;
  for (int64_t i0 = 0; i0 < m; i0 += kGgmlMaxRows) {
    const int64_t i1 = std::min(m, i0 + kGgmlMaxRows);
#pragma omp parallel for schedule(static) num_threads(NumThreads())
    for (int64_t c = 0; c < chunks; ++c)
      kernel(job, i0, i1, c * col_chunk, std::min(n, (c + 1) * col_chunk));
  }
}

}  // namespace lowp
}  // namespace talkie::ops
