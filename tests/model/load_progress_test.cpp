// Loading reports progress only where it reads the whole checkpoint:
// re-laying a GGUF file's quantized blocks (and its sign-flipped q / k) and
// packing q8 / q4 weights for the fast policy; a mapped safetensors load
// reports nothing. An observer that throws abandons packing and leaves the
// model on the exact policy, computing what it computed before.
#include "model/load_progress.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "io/gguf.h"
#include "model/forward.h"
#include "model/model.h"

namespace talkie::model {
namespace {

struct Report {
  std::string stage;
  uint64_t done, total;
};

// Collects every report while alive.
class Recorder {
 public:
  Recorder() {
    SetLoadProgress([this](const std::string& stage, uint64_t done, uint64_t total) {
      reports.push_back({stage, done, total});
    });
  }
  ~Recorder() { SetLoadProgress({}); }
  std::vector<Report> reports;
};

// The reports of one stage go from 0 to their total without going back.
void ExpectOneStageToCompletion(const std::vector<Report>& reports, const std::string& stage) {
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports.front().done, 0u);
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].stage, stage);
    EXPECT_EQ(reports[i].total, reports.front().total);
    if (i > 0) {
      EXPECT_GE(reports[i].done, reports[i - 1].done);
    }
  }
  EXPECT_EQ(reports.back().done, reports.back().total);
  EXPECT_GT(reports.back().total, 0u);
}

std::string Gguf(const std::string& name) { return testing::DataDir() + "/gguf/" + name; }

TEST(LoadProgressTest, AQuantizedGgufReportsEveryByteItReLays) {
  Recorder r;
  const auto model = Model::Load(Gguf("tiny-q8_0.gguf"));
  ExpectOneStageToCompletion(r.reports, "re-laying tiny-q8_0.gguf");
  // The total is the file's Q8_0 tensors, every one of them copied.
  const io::GgufFile file = io::LoadGguf(Gguf("tiny-q8_0.gguf"));
  uint64_t q8_bytes = 0;
  for (const io::GgufTensor& t : file.tensors())
    if (std::string(t.type->name) == "Q8_0") q8_bytes += t.nbytes;
  EXPECT_EQ(r.reports.back().total, q8_bytes);
}

TEST(LoadProgressTest, ABf16GgufReportsOnlyItsSignFlippedCopies) {
  Recorder r;
  const auto model = Model::Load(Gguf("tiny-bf16.gguf"));
  ExpectOneStageToCompletion(r.reports, "re-laying tiny-bf16.gguf");
  const io::GgufFile file = io::LoadGguf(Gguf("tiny-bf16.gguf"));
  uint64_t qk_bytes = 0;
  for (const io::GgufTensor& t : file.tensors())
    if (t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_k.weight"))
      qk_bytes += t.nbytes;
  EXPECT_EQ(r.reports.back().total, qk_bytes);
}

TEST(LoadProgressTest, AMappedSafetensorsLoadReportsNothing) {
  Recorder r;
  auto model = Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  model->SetPrecision(ops::Precision::kFast);  // bf16: nothing to pack
  EXPECT_TRUE(r.reports.empty());
}

TEST(LoadProgressTest, PackingReportsAndAnAbandonedPackLeavesTheModelExact) {
  const std::vector<int32_t> ids = {5, 17, 250, 3, 99};
  const auto exact = Model::Load(Gguf("tiny-q8_0.gguf"));
  const std::vector<float> expected = ForwardSequence(*exact, ids).logits;
  {
    auto model = Model::Load(Gguf("tiny-q8_0.gguf"));
    Recorder r;
    model->SetPrecision(ops::Precision::kFast);
    ExpectOneStageToCompletion(r.reports, "packing weights");
    EXPECT_EQ(model->precision(), ops::Precision::kFast);
  }
  auto model = Model::Load(Gguf("tiny-q8_0.gguf"));
  int reports = 0;
  SetLoadProgress([&](const std::string&, uint64_t, uint64_t) {
    if (++reports == 3) throw std::runtime_error("abandoned");
  });
  EXPECT_THROW(model->SetPrecision(ops::Precision::kFast), std::runtime_error);
  SetLoadProgress({});
  EXPECT_EQ(reports, 3);
  EXPECT_EQ(model->precision(), ops::Precision::kExact);
  for (const ops::WeightMatrix* w : model->weights().MatMuls()) {
    EXPECT_EQ(w->precision, ops::Precision::kExact);
    EXPECT_EQ(w->packed, nullptr);
  }
  EXPECT_EQ(ForwardSequence(*model, ids).logits, expected);
  // And it can still switch once nothing interrupts it.
  model->SetPrecision(ops::Precision::kFast);
  EXPECT_EQ(model->precision(), ops::Precision::kFast);
}

}  // namespace
}  // namespace talkie::model
