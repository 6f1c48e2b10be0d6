// Runs a test body once per Highway SIMD target compiled in and supported by
// this CPU, so every kernel variant is checked, not only the best one.
#pragma once

#include <gtest/gtest.h>

#include <hwy/targets.h>

#include "ops/cpu_features.h"

namespace talkie::ops {

// HWY_DYNAMIC_DISPATCH follows the mock while body(target_name) runs; the
// real target set (capped by $TALKIE_SIMD, if set) is restored afterwards.
template <class Body>
void ForEachTarget(Body body) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    body(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(SimdTargetMask());
}

}  // namespace talkie::ops
