// The preamble of a file of AVX-512 intrinsics: TALKIE_AVX512, the target
// attribute of its functions (called only after a CPU check), and the
// warnings GCC 12's own _mm512_undefined_* helpers trip when inlined
// (-W(maybe-)uninitialized), silenced for the rest of the including file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#define TALKIE_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,f16c,fma")))
