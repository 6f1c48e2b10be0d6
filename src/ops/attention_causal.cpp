// The attention task loop (see attention.h): threads over
// (sequence, head, query), each task one AttendOneQuery over its cache view
// (AttendCausal), or the weighted sum of values alone on patched weights
// (WeightCausal).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "ops/attention.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace {

// One query head: the element type of the cache picks the kernel here, so
// callers never branch on it.
void AttendView(const float* q, const KvView& kv, int64_t col, int64_t kv_len, int64_t head_dim,
                const uint8_t* visible, float scale, float* probs, float* out) {
  if (kv.type == KvType::kF32)
    AttendOneQuery(q, static_cast<const float*>(kv.keys) + col,
                   static_cast<const float*>(kv.values) + col, kv.stride, kv_len, head_dim, visible,
                   scale, probs, out);
  else
    AttendOneQueryBf16(q, static_cast<const uint16_t*>(kv.keys) + col,
                       static_cast<const uint16_t*>(kv.values) + col, kv.stride, kv_len, head_dim,
                       visible, scale, probs, out);
}

// Out-of-line twin of AttendView for a patched pattern.
void WeightView(const float* probs, const KvView& kv, int64_t col, int64_t kv_len, int64_t head_dim,
                const uint8_t* visible, float* out) {
  if (kv.type == KvType::kF32)
    WeightValues(probs, static_cast<const float*>(kv.values) + col, kv.stride, kv_len, head_dim,
                 visible, out);
  else
    WeightValuesBf16(probs, static_cast<const uint16_t*>(kv.values) + col, kv.stride, kv_len,
                     head_dim, visible, out);
}

// Runs body(sequence, head, first query t0, queries nt, visible rows, probs
// rows) once per task of the sequences selected by `take`: blocks of up to
// kBlock consecutive queries of one head, in (sequence, head, block) order
// over the threads; visible[i] holds query t0 + i's mask-and-causality row,
// probs[i] is scratch for its weights.
template <int kBlock, class Take, class Body>
void ForEachQuery(int64_t n_head, const std::vector<AttentionSequence>& seqs,
                  AttentionScratch& scratch, Take take, Body body) {
  // task_begin[i] = first task of seqs[i].
  scratch.task_begin.resize(seqs.size() + 1);
  int64_t max_kv = 0;
  scratch.task_begin[0] = 0;
  auto blocks = [](int64_t q_len) { return (q_len + kBlock - 1) / kBlock; };
  for (size_t i = 0; i < seqs.size(); ++i) {
    const bool taken = take(seqs[i]);
    if (taken) max_kv = std::max(max_kv, seqs[i].kv_len);
    scratch.task_begin[i + 1] =
        scratch.task_begin[i] + (taken ? n_head * blocks(seqs[i].q_len) : 0);
  }
  const int64_t tasks = scratch.task_begin.back();
  if (tasks == 0) return;
  const int threads = std::max(1, NumThreads());
  const auto per_thread = static_cast<size_t>(max_kv) * kBlock;
  if (scratch.visible.size() < per_thread * threads) {
    scratch.visible.resize(per_thread * threads);
    scratch.probs.resize(per_thread * threads);
  }
  const int64_t* begin = scratch.task_begin.data();
#pragma omp parallel num_threads(threads)
  {
    const size_t slot = static_cast<size_t>(omp_get_thread_num()) * per_thread;
    uint8_t* visible_rows[kBlock];
    float* probs_rows[kBlock];
    for (int b = 0; b < kBlock; ++b) {
      visible_rows[b] = scratch.visible.data() + slot + b * static_cast<size_t>(max_kv);
      probs_rows[b] = scratch.probs.data() + slot + b * static_cast<size_t>(max_kv);
    }
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const size_t i =
          static_cast<size_t>(std::upper_bound(begin, begin + seqs.size(), task) - begin) - 1;
      const AttentionSequence& s = seqs[i];
      const int64_t local = task - begin[i], per_head = blocks(s.q_len);
      const int64_t hd = local / per_head, t0 = local % per_head * kBlock;
      const int64_t nt = std::min<int64_t>(kBlock, s.q_len - t0);
      for (int64_t b = 0; b < nt; ++b)
        for (int64_t j = 0; j < s.kv_len; ++j)
          visible_rows[b][j] = j <= s.past + t0 + b && s.mask[j] != 0;
      body(s, hd, t0, nt, visible_rows, probs_rows);
    }
  }
}

// Four queries of one head at once (attention.h: same bits as one by one).
void AttendFourViews(const float* const* q, const KvView& kv, int64_t col, int64_t kv_len,
                     int64_t head_dim, const uint8_t* const* visible, float scale,
                     float* const* probs, float* const* out) {
  if (kv.type == KvType::kF32)
    AttendFourQueries(q, static_cast<const float*>(kv.keys) + col,
                      static_cast<const float*>(kv.values) + col, kv.stride, kv_len, head_dim,
                      visible, scale, probs, out);
  else
    AttendFourQueriesBf16(q, static_cast<const uint16_t*>(kv.keys) + col,
                          static_cast<const uint16_t*>(kv.values) + col, kv.stride, kv_len,
                          head_dim, visible, scale, probs, out);
}

}  // namespace

void AttendCausal(const float* q, int64_t n_head, int64_t head_dim,
                  const std::vector<AttentionSequence>& seqs, AttentionScratch& scratch,
                  float* out) {
  const int64_t width = n_head * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  ForEachQuery<4>(
      n_head, seqs, scratch, [](const AttentionSequence&) { return true; },
      [&](const AttentionSequence& s, int64_t hd, int64_t t0, int64_t nt,
          const uint8_t* const* visible, float* const* probs) {
        const int64_t col = hd * head_dim;
        const float* qs[4];
        float* outs[4];
        for (int64_t b = 0; b < nt; ++b) {
          qs[b] = q + (s.first_row + t0 + b) * width + col;
          outs[b] = out + (s.first_row + t0 + b) * width + col;
        }
        if (nt == 4) {
          AttendFourViews(qs, s.kv, col, s.kv_len, head_dim, visible, scale, probs, outs);
        } else {
          for (int64_t b = 0; b < nt; ++b)
            AttendView(qs[b], s.kv, col, s.kv_len, head_dim, visible[b], scale, probs[b], outs[b]);
        }
        if (s.probs)
          for (int64_t b = 0; b < nt; ++b)
            std::copy_n(probs[b], s.kv_len, s.probs + (hd * s.q_len + t0 + b) * s.kv_len);
      });
}

void WeightCausal(int64_t n_head, int64_t head_dim, const std::vector<AttentionSequence>& seqs,
                  AttentionScratch& scratch, float* out) {
  const int64_t width = n_head * head_dim;
  ForEachQuery<1>(
      n_head, seqs, scratch, [](const AttentionSequence& s) { return s.probs != nullptr; },
      [&](const AttentionSequence& s, int64_t hd, int64_t t, int64_t, const uint8_t* const* visible,
          float* const*) {
        const int64_t row = s.first_row + t, col = hd * head_dim;
        WeightView(s.probs + (hd * s.q_len + t) * s.kv_len, s.kv, col, s.kv_len, head_dim,
                   visible[0], out + row * width + col);
      });
}

}  // namespace talkie::ops
