// Steering (model/steering.h): control vectors from llama.cpp's GGUF format
// and safetensors, added exactly at block N's output; layer ranges, scales,
// directional ablation; and one clear error for every bad file.
#include "model/steering.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include <gtest/gtest.h>

#include "common/error.h"
#include "fixtures.h"
#include "io/gguf.h"
#include "io/tensor_store.h"
#include "model/forward.h"

namespace talkie {
namespace {

using model::HookCall;
using model::HookPoint;
using model::HookSet;

std::string CvecDir() { return testing::DataDir() + "/control_vectors"; }

const model::Model& Tiny() {
  static const auto m = model::Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  return *m;
}

// Every block's resid_post (and resid_pre, resid_mid) of one forward, with
// `steering` registered first and the recorder after it.
std::map<std::string, std::vector<float>> States(const HookSet* steering,
                                                 const std::vector<int32_t>& ids) {
  std::map<std::string, std::vector<float>> seen;
  HookSet hooks;
  if (steering) hooks.Append(*steering);
  for (const char* point :
       {"blocks.*.hook_resid_pre", "blocks.*.hook_resid_mid", "blocks.*.hook_resid_post", "logits"})
    hooks.Add(
        point,
        [&seen](const HookCall& c) {
          size_t n = 1;
          for (int64_t d : c.shape) n *= static_cast<size_t>(d);
          auto& v = seen[model::HookNameString(c.point, c.layer)];
          v.insert(v.end(), c.data, c.data + n);
        },
        model::HookAccess::kRead);
  model::KvCache cache(Tiny().config(), 1);
  model::ForwardInput in;
  in.q_len = static_cast<int64_t>(ids.size());
  in.ids = ids;
  in.hooks = &hooks;
  model::Forward(Tiny(), cache, in);
  return seen;
}

const std::vector<int32_t> kIds = {5, 17, 300, 42, 9};

std::string Post(int64_t l) { return "blocks." + std::to_string(l) + ".hook_resid_post"; }

// b == a + v row by row, bit for bit.
void ExpectPlusVector(const std::vector<float>& a, const std::vector<float>& b,
                      const std::vector<float>& v) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const float expect = a[i] + v[i % v.size()];
    ASSERT_EQ(std::memcmp(&b[i], &expect, sizeof(float)), 0) << "element " << i;
  }
}

TEST(ControlVector, GgufFromGgufPyLoadsEveryDirection) {
  const model::ControlVector cv = model::LoadControlVector(CvecDir() + "/tiny-cvec.gguf");
  EXPECT_EQ(cv.width, 96);
  ASSERT_EQ(cv.directions.size(), 2u);
  EXPECT_TRUE(cv.directions.count(1) && cv.directions.count(2));
  // The safetensors twin holds the same float32 values.
  const model::ControlVector st = model::LoadControlVector(CvecDir() + "/tiny-cvec.safetensors");
  EXPECT_TRUE(testing::BytesEqual(cv.directions.at(1), st.directions.at(1)));
  EXPECT_TRUE(testing::BytesEqual(cv.directions.at(2), st.directions.at(2)));
}

TEST(ControlVector, Bf16SafetensorsWidensToTheRoundedValues) {
  const auto f32 = model::LoadControlVector(CvecDir() + "/tiny-cvec.safetensors");
  const auto bf16 = model::LoadControlVector(CvecDir() + "/tiny-cvec-bf16.safetensors");
  for (const auto& [layer, v] : f32.directions)
    for (size_t i = 0; i < v.size(); ++i)
      EXPECT_EQ(bf16.directions.at(layer)[i], Bf16ToFloat(FloatToBf16(v[i]))) << layer << " " << i;
}

TEST(Steering, DirectionNIsAddedToBlockNOutputBitForBitAndEarlierBlocksAreUntouched) {
  const auto plain = States(nullptr, kIds);
  model::SteeringPlan plan;
  plan.vectors.push_back({model::LoadControlVector(CvecDir() + "/tiny-cvec.gguf"), 1.0f});
  const HookSet hooks = model::MakeSteeringHooks(plan, Tiny().config());
  const auto steered = States(&hooks, kIds);
  // Block 0 has no direction: its states are the unsteered bits.
  EXPECT_TRUE(testing::BytesEqual(steered.at(Post(0)), plain.at(Post(0))));
  EXPECT_TRUE(testing::BytesEqual(steered.at("blocks.1.hook_resid_mid"),
                                  plain.at("blocks.1.hook_resid_mid")));
  // Block 1's output is the unsteered value plus direction.1, exactly.
  ExpectPlusVector(plain.at(Post(1)), steered.at(Post(1)), plan.vectors[0].vector.directions.at(1));
  // Block 2 starts from the steered state (resid_pre == block 1's resid_post).
  EXPECT_TRUE(testing::BytesEqual(steered.at("blocks.2.hook_resid_pre"), steered.at(Post(1))));
  EXPECT_FALSE(testing::BytesEqual(steered.at("logits"), plain.at("logits")));
}

TEST(Steering, LayerRangeAndScalesFollowLlamaCpp) {
  const auto cv = model::LoadControlVector(CvecDir() + "/tiny-cvec.safetensors");
  const auto plain = States(nullptr, kIds);
  // Range 2..2: direction.1 is skipped, direction.2 is applied.
  model::SteeringPlan plan;
  plan.vectors.push_back({cv, 1.0f});
  plan.layer_start = 2;
  plan.layer_end = 2;
  const HookSet ranged = model::MakeSteeringHooks(plan, Tiny().config());
  const auto r = States(&ranged, kIds);
  EXPECT_TRUE(testing::BytesEqual(r.at(Post(1)), plain.at(Post(1))));
  EXPECT_FALSE(testing::BytesEqual(r.at(Post(2)), plain.at(Post(2))));
  // Two files scaled 0.5 and 1.5: block 1 gets 0.5 v + 1.5 v, computed once.
  model::SteeringPlan two;
  two.vectors.push_back({cv, 0.5f});
  two.vectors.push_back({cv, 1.5f});
  const HookSet summed = model::MakeSteeringHooks(two, Tiny().config());
  const auto s = States(&summed, kIds);
  std::vector<float> sum(cv.directions.at(1).size());
  for (size_t i = 0; i < sum.size(); ++i)
    sum[i] = 0.5f * cv.directions.at(1)[i] + 1.5f * cv.directions.at(1)[i];
  ExpectPlusVector(plain.at(Post(1)), s.at(Post(1)), sum);
}

TEST(Steering, AblationLeavesNoComponentAlongTheDirectionInAnyResidualState) {
  model::SteeringPlan plan;
  plan.ablations.push_back(model::LoadDirection(CvecDir() + "/tiny-direction.safetensors"));
  const std::vector<float>& d = plan.ablations[0];
  double norm = 0;
  for (float x : d) norm += static_cast<double>(x) * x;
  const HookSet hooks = model::MakeSteeringHooks(plan, Tiny().config());
  const auto ablated = States(&hooks, kIds);
  const auto plain = States(nullptr, kIds);
  const int64_t width = Tiny().config().n_embd;
  int checked = 0;
  for (const auto& [name, values] : ablated) {
    if (name == "logits") continue;
    for (size_t row = 0; row * width < values.size(); ++row) {
      double along = 0, size = 0;
      for (int64_t i = 0; i < width; ++i) {
        along += values[row * width + i] * d[i] / std::sqrt(norm);
        size += static_cast<double>(values[row * width + i]) * values[row * width + i];
      }
      EXPECT_LT(std::abs(along), 1e-5 * std::sqrt(size) + 1e-6) << name << " row " << row;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 3 * static_cast<int>(kIds.size()));
  EXPECT_FALSE(testing::BytesEqual(ablated.at("logits"), plain.at("logits")));
}

class SteeringErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("talkie_steer_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Gguf(const std::string& arch, std::vector<io::GgufTensorToWrite> tensors) {
    const std::string path = (dir_ / (arch + std::to_string(n_++) + ".gguf")).string();
    io::WriteGguf(path, {io::GgufString("general.architecture", arch)}, tensors);
    return path;
  }
  static io::GgufTensorToWrite F32(const std::string& name, int64_t n, float value = 0.25f) {
    io::GgufTensorToWrite t{name, {n}, 0, std::vector<std::byte>(static_cast<size_t>(n) * 4)};
    for (int64_t i = 0; i < n; ++i) std::memcpy(&t.bytes[static_cast<size_t>(i) * 4], &value, 4);
    return t;
  }
  std::string Message(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  std::filesystem::path dir_;
  int n_ = 0;
};

TEST_F(SteeringErrors, AModelFileIsNotAControlVector) {
  const std::string m =
      Message([] { model::LoadControlVector(testing::DataDir() + "/gguf/tiny-bf16.gguf"); });
  EXPECT_NE(m.find("'talkie', not 'controlvector'"), std::string::npos) << m;
}

TEST_F(SteeringErrors, WrongWidthNamesTheFileAndBothWidths) {
  const std::string path = Gguf("controlvector", {F32("direction.1", 64)});
  model::SteeringPlan plan;
  plan.vectors.push_back({model::LoadControlVector(path), 1.0f});
  const std::string m = Message([&] { model::MakeSteeringHooks(plan, Tiny().config()); });
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("64 values"), std::string::npos) << m;
  EXPECT_NE(m.find("n_embd is 96"), std::string::npos) << m;
}

TEST_F(SteeringErrors, ADirectionPastTheLastBlockIsRefused) {
  model::SteeringPlan plan;
  plan.vectors.push_back(
      {model::LoadControlVector(Gguf("controlvector", {F32("direction.3", 96)})), 1.0f});
  const std::string m = Message([&] { model::MakeSteeringHooks(plan, Tiny().config()); });
  EXPECT_NE(m.find("direction.3 names a block the model lacks"), std::string::npos) << m;
}

TEST_F(SteeringErrors, BadTensorsAndFilesAreOneClearError) {
  EXPECT_NE(Message([&] {
              model::LoadControlVector(Gguf("controlvector", {F32("weights", 96)}));
            }).find("'weights' is not named direction.N"),
            std::string::npos);
  io::GgufTensorToWrite f16{"direction.1", {96}, 1, std::vector<std::byte>(192)};
  EXPECT_NE(Message([&] {
              model::LoadControlVector(Gguf("controlvector", {f16}));
            }).find("control vectors are F32"),
            std::string::npos);
  EXPECT_NE(Message([&] {
              model::LoadControlVector(
                  Gguf("controlvector", {F32("direction.1", 96), F32("direction.2", 95)}));
            }).find("direction.2 has 95 values"),
            std::string::npos);
  EXPECT_NE(Message([&] {
              model::LoadControlVector(Gguf("controlvector", {F32("direction.1", 96, NAN)}));
            }).find("not finite"),
            std::string::npos);
  EXPECT_NE(Message([&] {
              model::LoadControlVector(Gguf("controlvector", {}));
            }).find("no direction.N tensors"),
            std::string::npos);
  const std::string garbage = (dir_ / "garbage.safetensors").string();
  {
    FILE* f = std::fopen(garbage.c_str(), "wb");
    std::fputs("not a tensor file", f);
    std::fclose(f);
  }
  EXPECT_NE(Message([&] { model::LoadControlVector(garbage); }).find(garbage), std::string::npos);
  EXPECT_NE(Message([&] {
              model::LoadDirection(CvecDir() + "/tiny-cvec.safetensors");
            }).find("exactly one tensor, found 2"),
            std::string::npos);
  model::SteeringPlan plan;
  plan.vectors.push_back({model::LoadControlVector(CvecDir() + "/tiny-cvec.gguf"), 1.0f});
  plan.layer_start = 1;
  plan.layer_end = 7;
  EXPECT_NE(Message([&] {
              model::MakeSteeringHooks(plan, Tiny().config());
            }).find("the model has blocks 0..2"),
            std::string::npos);
}

}  // namespace
}  // namespace talkie
