// Tier 2: every case of the fixtures manifest, for every model directory and
// layout, against the public reference's outputs (logits, hidden states,
// attention maps, greedy continuations with full recompute).
#include <map>
#include <set>

#include "fixtures.h"
#include "model/forward.h"

namespace talkie {
namespace {

using testing::CloseToReference;

struct CaseParam {
  std::string model_dir;  // directory under models/ to load
  std::string expected;   // expected outputs folder
  std::string case_name;
};

std::vector<CaseParam> AllCases() {
  const nlohmann::json manifest = testing::LoadManifest();
  std::vector<CaseParam> out;
  for (const auto& [name, model] : manifest["models"].items()) {
    const std::string expected = model["expected_outputs"];
    for (const auto& c : manifest["cases"])
      if (c["model"] == expected) out.push_back({name, expected, c["case"]});
  }
  return out;
}

std::map<std::string, std::unique_ptr<model::Model>>& ModelCache() {
  static std::map<std::string, std::unique_ptr<model::Model>> cache;
  return cache;
}

const model::Model& LoadFixtureModel(const std::string& name) {
  auto& slot = ModelCache()[name];
  if (!slot) slot = model::Model::Load(testing::ModelFixtureDir() + "/models/" + name);
  return *slot;
}

class ReferenceTest : public ::testing::TestWithParam<CaseParam> {};

int32_t ArgMax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return static_cast<int32_t>(best);
}

// Checks one sequence: logits (and hidden states / attentions when the file
// has them) for all positions, then the 12-token greedy continuation.
void CheckSequence(const model::Model& m, const io::TensorStore& expected,
                   const std::string& prefix) {
  const std::vector<int32_t> ids = testing::IdsOf(*expected.Find(prefix + "input_ids"));
  const bool has_hidden = expected.Find(prefix + "hidden_states.0") != nullptr;
  const model::ForwardOutput out = model::ForwardSequence(m, ids, has_hidden, has_hidden);
  EXPECT_TRUE(CloseToReference(out.logits, testing::FloatsOf(*expected.Find(prefix + "logits")),
                               prefix + "logits"));
  if (has_hidden) {
    ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(m.config().n_layer + 1));
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      const std::string name = prefix + "hidden_states." + std::to_string(i);
      EXPECT_TRUE(
          CloseToReference(out.hidden_states[i], testing::FloatsOf(*expected.Find(name)), name));
    }
    for (size_t l = 0; l < out.attentions.size(); ++l) {
      const std::string name = prefix + "attentions." + std::to_string(l);
      EXPECT_TRUE(
          CloseToReference(out.attentions[l], testing::FloatsOf(*expected.Find(name)), name));
    }
  }
  const std::vector<int32_t> greedy = testing::IdsOf(*expected.Find(prefix + "greedy_tokens"));
  const std::vector<float> greedy_logits =
      testing::FloatsOf(*expected.Find(prefix + "greedy_logits"));
  const int64_t vocab = m.config().vocab_size;
  std::vector<int32_t> seq = ids;
  for (size_t step = 0; step < greedy.size(); ++step) {
    const model::ForwardOutput o = model::ForwardSequence(m, seq);
    const float* last = &o.logits[(seq.size() - 1) * vocab];
    const std::vector<float> row(last, last + vocab);
    const std::vector<float> ref_row(greedy_logits.begin() + step * vocab,
                                     greedy_logits.begin() + (step + 1) * vocab);
    EXPECT_TRUE(
        CloseToReference(row, ref_row, prefix + "greedy_logits[" + std::to_string(step) + "]"));
    const int32_t next = ArgMax(last, vocab);
    ASSERT_EQ(next, greedy[step]) << prefix << "greedy step " << step;
    seq.push_back(next);
  }
}

TEST_P(ReferenceTest, MatchesReference) {
  const CaseParam& p = GetParam();
  const model::Model& m = LoadFixtureModel(p.model_dir);
  const io::TensorStore expected = io::LoadSafetensors(
      testing::ModelFixtureDir() + "/expected/" + p.expected + "/" + p.case_name + ".safetensors");
  if (expected.Find("seq0.input_ids")) {
    for (int s = 0; expected.Find("seq" + std::to_string(s) + ".input_ids"); ++s)
      CheckSequence(m, expected, "seq" + std::to_string(s) + ".");
  } else {
    CheckSequence(m, expected, "");
  }
}

std::string CaseName(const ::testing::TestParamInfo<CaseParam>& info) {
  std::string s = info.param.model_dir + "_" + info.param.case_name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceTest, ::testing::ValuesIn(AllCases()), CaseName);

TEST(ReferenceTest, CoversEveryLayout) {
  std::set<std::string> dirs;
  for (const CaseParam& p : AllCases()) dirs.insert(p.model_dir);
  for (const char* name : {"tiny", "tiny-folded", "tiny-raw", "small", "small-native", "wide-head"})
    EXPECT_TRUE(dirs.count(name)) << name;
}

TEST(ReferenceTest, RopeTablesMatchReferenceBitForBit) {
  const io::TensorStore tables =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/rope_tables.safetensors");
  for (int64_t head_dim : {32, 64, 128}) {
    const ops::RopeTable rope(head_dim, 1e6, 2048);
    const auto cos = testing::FloatsOf(*tables.Find("cos.head_dim" + std::to_string(head_dim)));
    const auto sin = testing::FloatsOf(*tables.Find("sin.head_dim" + std::to_string(head_dim)));
    const std::vector<float> ours_cos(rope.cos(0), rope.cos(0) + cos.size());
    const std::vector<float> ours_sin(rope.sin(0), rope.sin(0) + sin.size());
    EXPECT_TRUE(testing::BytesEqual(ours_cos, cos)) << "cos head_dim " << head_dim;
    EXPECT_TRUE(testing::BytesEqual(ours_sin, sin)) << "sin head_dim " << head_dim;
  }
}

}  // namespace
}  // namespace talkie
