// Fast-policy matmul driver: rounds the activation rows, picks the kernel for
// this CPU (x86/matmul_lowp_avx512.cpp, x86/matmul_lowp_avx2.cpp,
// arm/matmul_lowp_neon.cpp or the portable twins below) and splits the
// output columns over threads. Also the q8 / q4 repacking (layout in
// matmul_lowp.h).
#include "ops/matmul_lowp.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/error.h"
#include "common/number_formats.h"
#include "ops/cpu_features.h"
#include "ops/ggml_lowp_blocks.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp_kernels.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace lowp {
namespace {

using Int8Kernel = void (*)(const Int8Job&, int64_t, int64_t, int64_t, int64_t);

struct Int8Path {
  const char* name;
  Int8Kernel kernel;
  bool (*available)();
};
// Best first; the portable kernel, last, runs everywhere.
constexpr Int8Path kInt8Paths[] = {
#if defined(__x86_64__)
    {"AVX512-VNNI", Int8RowsAvx512, [] { return Cpu().avx512_vnni; }},
    {"AVX-VNNI", Int8RowsAvxVnni, [] { return Cpu().avx_vnni; }},
    {"AVX2", Int8RowsAvx2, [] { return Cpu().avx2; }},
#elif defined(__aarch64__)
    {"NEON-I8MM", Int8RowsNeonI8mm, [] { return Cpu().neon_i8mm; }},
    {"NEON-DOTPROD", Int8RowsNeonDotprod, [] { return Cpu().neon_dotprod; }},
    {"NEON", Int8RowsNeon, [] { return true; }},
#endif
    {"portable", Int8RowsPortable, [] { return true; }}};
constexpr size_t kInt8PathCount = sizeof(kInt8Paths) / sizeof(kInt8Paths[0]);

// Set by tests (ForceLowPrecisionPath); null = the best this CPU has. A
// ScopedLowPrecisionPath on the calling thread takes precedence.
std::atomic<const Int8Path*> forced_int8{nullptr};
std::atomic<bool> forced_bf16_portable{false};
struct ThreadPath {
  bool active = false;
  const Int8Path* int8 = nullptr;  // null = best
  bool bf16_portable = false;
};
thread_local ThreadPath t_path;

const Int8Path& PickInt8() {
  if (t_path.active) {
    if (t_path.int8 != nullptr) return *t_path.int8;
  } else if (const Int8Path* p = forced_int8.load()) {
    return *p;
  }
  static const Int8Path& best = []() -> const Int8Path& {
    for (const Int8Path& p : kInt8Paths)
      if (p.available()) return p;
    return kInt8Paths[kInt8PathCount - 1];
  }();
  return best;
}
bool UseAvx512Bf16() {
  const bool portable = t_path.active ? t_path.bf16_portable : forced_bf16_portable.load();
  return !portable && Cpu().avx512_bf16;
}

// Code of column c (within its block) at k = 32g + t, as stored (0..255 / 0..15).
int StoredCode(const uint8_t* record, bool q4, int64_t c, int64_t t) {
  if (!q4) return record[64 * (t / 4) + 4 * c + t % 4];
  const int64_t p = t / 8, r = t % 8;
  const uint8_t byte = record[64 * p + 4 * c + r % 4];
  return r < 4 ? (byte & 15) : (byte >> 4);
}

}  // namespace

// Quantizes one activation row per group of 32: d = amax / 127, codes
// nearest(x / d) in [-127, 127]. A group holding inf / NaN gets d = NaN so the
// outputs it feeds become NaN, as in the exact policy.
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d, int32_t* sum) {
  for (int64_t g = 0; g < k / 32; ++g) {
    const float* v = x + 32 * g;
    float amax = 0.0f;
    bool finite = true;  // std::max would step over a NaN
    for (int t = 0; t < 32; ++t) {
      amax = std::max(amax, std::fabs(v[t]));
      finite = finite && std::isfinite(v[t]);
    }
    int32_t s = 0;
    if (!finite) {
      d[g] = std::numeric_limits<float>::quiet_NaN();
      std::memset(q + 32 * g, 0, 32);
    } else {
      d[g] = amax / 127.0f;
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      for (int t = 0; t < 32; ++t) {
        const float code = std::clamp(std::nearbyint(v[t] * inv), -127.0f, 127.0f);
        q[32 * g + t] = static_cast<int8_t>(code);
        s += static_cast<int32_t>(code);
      }
    }
    sum[g] = s;
  }
}

const char* Int8PathName() { return PickInt8().name; }

void Int8RowsPortable(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
  const int64_t k = job.x.k, groups = k / 32;
  const int64_t code_bytes = job.q4 ? kQ4CodeBytes : kQ8CodeBytes;
  const int32_t offset = job.q4 ? 8 : 128;
  for (int64_t b = b0; b < b1; ++b) {
    const uint8_t* codes = job.packed + b * PackedBlockBytes(job.q4, k);
    const auto* scales = reinterpret_cast<const uint16_t*>(codes + groups * code_bytes);
    for (int64_t c = 0; c < kBlockCols && b * kBlockCols + c < job.n; ++c) {
      for (int64_t i = i0; i < i1; ++i) {
        const int8_t* xq = job.x.q + i * k;
        float acc = 0.0f;
        for (int64_t g = 0; g < groups; ++g) {
          int32_t dot = 0;
          for (int64_t t = 0; t < 32; ++t)
            dot += StoredCode(codes + g * code_bytes, job.q4, c, t) * xq[32 * g + t];
          dot -= offset * job.x.sum[i * groups + g];
          const float scale = F16ToFloat(scales[g * kBlockCols + c]) * job.x.d[i * groups + g];
          acc = std::fma(static_cast<float>(dot), scale, acc);
        }
        job.y[i * job.n + b * kBlockCols + c] = job.scaled ? acc * job.scale : acc;
      }
    }
  }
}

// Follows VDPBF16PS as documented: per lane l and step of 32, add the odd
// pair's product, then the even one's (bf16 products are exact in float).
void Bf16RowsPortable(const Bf16Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const uint16_t* w = job.w + j * job.k;
    for (int64_t i = i0; i < i1; ++i) {
      const uint16_t* x = job.x + i * job.kp;
      float lanes[16] = {};
      for (int64_t kk = 0; kk < job.k; kk += 32) {
        for (int l = 0; l < 16; ++l) {
          for (int64_t t : {kk + 2 * l + 1, kk + 2 * l}) {
            if (t >= job.k) continue;
            lanes[l] += Bf16ToFloat(x[t]) * Bf16ToFloat(w[t]);
          }
        }
      }
      // The SIMD path's lane tree: l + (l + 8), then + 4, + 2, + 1.
      for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
      const float s = lanes[0];
      job.y[i * job.n + j] = job.scaled ? s * job.scale : s;
    }
  }
}

}  // namespace lowp

using namespace lowp;

int64_t PackedBytes(const WeightMatrix& w) {
  const int64_t blocks = (w.rows + kBlockCols - 1) / kBlockCols;
  return blocks * PackedBlockBytes(w.type == WeightType::kQ4, w.cols);
}

void PackForLowPrecision(const WeightMatrix& w, uint8_t* out) {
  const bool q4 = w.type == WeightType::kQ4;
  const int64_t k = w.cols, groups = k / 32, n = w.rows;
  const int64_t code_bytes = q4 ? kQ4CodeBytes : kQ8CodeBytes;
  const int64_t blocks = (n + kBlockCols - 1) / kBlockCols;
#pragma omp parallel for schedule(static) num_threads(NumThreads())
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* codes = out + b * PackedBlockBytes(q4, k);
    auto* scales = reinterpret_cast<uint16_t*>(codes + groups * code_bytes);
    // Padding columns: the code that means zero, scale zero.
    std::memset(codes, q4 ? 0x88 : 0x80, static_cast<size_t>(groups * code_bytes));
    std::memset(scales, 0, static_cast<size_t>(groups * kScaleBytes));
    for (int64_t c = 0; c < kBlockCols && b * kBlockCols + c < n; ++c) {
      const int64_t row = b * kBlockCols + c;
      for (int64_t g = 0; g < groups; ++g) {
        scales[g * kBlockCols + c] = w.group_scales[row * groups + g];
        uint8_t* record = codes + g * code_bytes;
        for (int64_t t = 0; t < 32; ++t) {
          if (!q4) {
            const int8_t q = static_cast<const int8_t*>(w.data)[row * k + 32 * g + t];
            record[64 * (t / 4) + 4 * c + t % 4] = static_cast<uint8_t>(q + 128);
            continue;
          }
          // Source q4: element t of a group in byte t % 16, high nibble for t >= 16.
          const uint8_t byte = static_cast<const uint8_t*>(w.data)[row * (k / 2) + 16 * g + t % 16];
          const uint8_t code = t < 16 ? (byte & 15) : (byte >> 4);
          const int64_t p = t / 8, r = t % 8;
          uint8_t& dst = record[64 * p + 4 * c + r % 4];
          dst = r < 4 ? static_cast<uint8_t>((dst & 0xf0) | code)
                      : static_cast<uint8_t>((dst & 0x0f) | (code << 4));
        }
      }
    }
  }
}

const char* LowPrecisionPath(WeightType type) {
  switch (type) {
    case WeightType::kQ8:
    case WeightType::kQ4:
      return PickInt8().name;
    case WeightType::kBF16:
      return UseAvx512Bf16() ? "AVX512-BF16" : "portable";
    default:
      return GgmlHasInt8Kernel(type) ? GgmlLowPrecisionPath() : "exact";
  }
}

namespace {

// The int8 path named `path` ("" = null, the best); throws if unknown or
// this CPU cannot run it.
const Int8Path* FindInt8Path(const std::string& path) {
  if (path.empty()) return nullptr;
  for (const Int8Path& p : kInt8Paths) {
    if (path != p.name) continue;
    if (!p.available()) throw Error("this CPU cannot run the " + path + " kernels");
    return &p;
  }
  std::string known;
  for (const Int8Path& p : kInt8Paths) known += (known.empty() ? "" : ", ") + std::string(p.name);
  throw Error("unknown fast-policy kernel path '" + path + "' (this build has " + known + ")");
}

// bf16 has AVX-512 and portable kernels only.
bool Bf16PortableFor(const std::string& path) { return !path.empty() && path != "AVX512-VNNI"; }

}  // namespace

void CheckLowPrecisionPath(const std::string& path) { FindInt8Path(path); }

std::vector<std::string> LowPrecisionPaths() {
  std::vector<std::string> names;
  for (const Int8Path& p : kInt8Paths)
    if (p.available()) names.push_back(p.name);
  return names;
}

void ForceLowPrecisionPath(const std::string& path) {
  const Int8Path* p = FindInt8Path(path);
  forced_int8 = p;
  forced_bf16_portable = Bf16PortableFor(path);
}

ScopedLowPrecisionPath::ScopedLowPrecisionPath(const std::string& path)
    : saved_active_(t_path.active), saved_int8_(t_path.int8), saved_bf16_(t_path.bf16_portable) {
  const Int8Path* p = FindInt8Path(path);
  t_path = {true, p, Bf16PortableFor(path)};
}

ScopedLowPrecisionPath::~ScopedLowPrecisionPath() {
  t_path = {saved_active_, static_cast<const Int8Path*>(saved_int8_), saved_bf16_};
}

namespace {

void MatMulInt8(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t k = w.cols, groups = k / 32;
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d;
  thread_local std::vector<int32_t> sum;
  q.resize(static_cast<size_t>(m * k));
  d.resize(static_cast<size_t>(m * groups));
  sum.resize(static_cast<size_t>(m * groups));
  int8_t* qp = q.data();
  float* dp = d.data();
  int32_t* sp = sum.data();
#pragma omp parallel for schedule(static) num_threads(NumThreads()) if (m > 1)
  for (int64_t i = 0; i < m; ++i)
    QuantizeActivationRow(x + i * k, k, qp + i * k, dp + i * groups, sp + i * groups);

  const Int8Job job{{qp, dp, sp, k}, w.packed, w.type == WeightType::kQ4, w.rows, w.scale,
                    w.has_scale,     y};
  const Int8Kernel kernel = PickInt8().kernel;
  const int64_t blocks = (w.rows + kBlockCols - 1) / kBlockCols;
  const int64_t blocks_per_chunk = 4;  // decode tiles take 4 blocks at once
  const int64_t chunks = (blocks + blocks_per_chunk - 1) / blocks_per_chunk;
  const int64_t rows_per_block = MatMulRowsPerBlock(k);
  for (int64_t i0 = 0; i0 < m; i0 += rows_per_block) {
    const int64_t i1 = std::min(m, i0 + rows_per_block);
#pragma omp parallel for schedule(static) num_threads(NumThreads())
    for (int64_t c = 0; c < chunks; ++c)
      kernel(job, i0, i1, c * blocks_per_chunk, std::min(blocks, (c + 1) * blocks_per_chunk));
  }
}

void MatMulBf16(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t k = w.cols, kp = (k + 31) / 32 * 32;
  thread_local std::vector<uint16_t> xb;
  xb.resize(static_cast<size_t>(m * kp));
  uint16_t* xp = xb.data();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t t = 0; t < k; ++t) xp[i * kp + t] = FloatToBf16(x[i * k + t]);
    std::fill(xp + i * kp + k, xp + (i + 1) * kp, uint16_t{0});  // the kernels read to kp
  }

  const Bf16Job job{xp,          kp, static_cast<const uint16_t*>(w.data), k, w.rows, w.scale,
                    w.has_scale, y};
#if defined(__x86_64__)
  const auto kernel = UseAvx512Bf16() ? Bf16RowsAvx512 : Bf16RowsPortable;
#else
  const auto kernel = Bf16RowsPortable;
#endif
  const int64_t n = w.rows, col_chunk = 16, chunks = (n + col_chunk - 1) / col_chunk;
  const int64_t rows_per_block = MatMulRowsPerBlock(kp * 2);
  for (int64_t i0 = 0; i0 < m; i0 += rows_per_block) {
    const int64_t i1 = std::min(m, i0 + rows_per_block);
#pragma omp parallel for schedule(static) num_threads(NumThreads())
    for (int64_t c = 0; c < chunks; ++c)
      kernel(job, i0, i1, c * col_chunk, std::min(n, (c + 1) * col_chunk));
  }
}

}  // namespace

void MatMulLowPrecision(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  if (m <= 0) return;
  switch (w.type) {
    case WeightType::kQ8:
    case WeightType::kQ4:
      if (w.packed != nullptr && w.cols % 32 == 0) return MatMulInt8(x, m, w, y);
      break;
    case WeightType::kBF16:
      return MatMulBf16(x, m, w, y);
    default:
      if (GgmlHasInt8Kernel(w.type) && w.cols % 32 == 0) return MatMulGgmlInt8(x, m, w, y);
      break;
  }
  WeightMatrix exact = w;
  exact.precision = Precision::kExact;
  MatMul(x, m, exact, y);
}

}  // namespace talkie::ops
