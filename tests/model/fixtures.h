// Helpers shared by the model tests: paths into tests/data/model, reading
// expected tensors of a case file, and the tolerance of the foundation issue.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/tensor_store.h"

namespace talkie::testing {

inline std::string DataDir() { return TALKIE_TEST_DATA_DIR; }
inline std::string ModelFixtureDir() { return DataDir() + "/model"; }

inline nlohmann::json LoadManifest() {
  std::ifstream in(ModelFixtureDir() + "/manifest.json");
  return nlohmann::json::parse(in);
}

inline std::vector<float> FloatsOf(const io::TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = io::ElementAsFloat(t, static_cast<int64_t>(i));
  return v;
}

inline std::vector<int32_t> IdsOf(const io::TensorView& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x;
    std::memcpy(&x, t.data + 8 * i, 8);
    v[i] = static_cast<int32_t>(x);
  }
  return v;
}

// max |a - b| <= 1e-4 * max(1, max |ref|), the foundation issue's tolerance.
inline ::testing::AssertionResult CloseToReference(const std::vector<float>& ours,
                                                   const std::vector<float>& ref,
                                                   const std::string& what) {
  if (ours.size() != ref.size())
    return ::testing::AssertionFailure()
           << what << ": size " << ours.size() << " vs " << ref.size();
  float max_ref = 0.0f, max_diff = 0.0f;
  size_t worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    const float d = std::fabs(ours[i] - ref[i]);
    if (!(d <= max_diff)) {  // also catches NaN
      max_diff = d;
      worst = i;
    }
  }
  const float tol = 1e-4f * std::max(1.0f, max_ref);
  if (max_diff <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": max |ours - ref| = " << max_diff << " at " << worst << " (ours "
         << ours[worst] << ", ref " << ref[worst] << "), tolerance " << tol;
}

inline bool BytesEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace talkie::testing
