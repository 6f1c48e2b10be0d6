// Tier 3: the inference contract's guarantees (spec §5, issue 3), bitwise:
// cache / chunking, padding / batch composition and thread count never change
// a single byte of a sequence's logits, hidden states or attention rows.
// "<model>@fast" runs the same checks under the fast precision policy.
#include <random>

#include "fixtures.h"
#include "model/forward.h"
#include "model/prompt_runner.h"
#include "model_helpers.h"
#include "ops/parallel.h"

namespace talkie {
namespace {

using testing::ExpectIdentical;
using testing::Fixture;
using testing::RandomIds;

const std::vector<std::string> kModels = {"tiny",      "tiny-folded",  "tiny-raw",
                                          "small",     "small-native", "wide-head",
                                          "tiny@fast", "small@fast",   "wide-head@fast"};

model::PromptRunOptions Everything(int64_t chunk = 0, int32_t pad_id = 0) {
  model::PromptRunOptions o;
  o.chunk = chunk;
  o.output_hidden_states = true;
  o.output_attentions = true;
  o.pad_id = pad_id;
  return o;
}

class InvarianceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InvarianceTest, ChunkedPrefillAndTokenByTokenDecodeAreBitIdentical) {
  const model::Model& m = Fixture(GetParam());
  const auto ids = RandomIds(23, m.config().vocab_size, 7);
  const auto whole = model::RunPrompts(m, {ids}, Everything());
  for (int64_t chunk : {1, 3, 7}) {
    const auto chunked = model::RunPrompts(m, {ids}, Everything(chunk));
    ExpectIdentical(whole[0], chunked[0], "chunk " + std::to_string(chunk));
  }
}

TEST_P(InvarianceTest, LeftPaddedBatchesGiveEachRowWhatItGivesAlone) {
  const model::Model& m = Fixture(GetParam());
  const int64_t vocab = m.config().vocab_size;
  const std::vector<std::vector<int32_t>> prompts = {
      RandomIds(11, vocab, 1), RandomIds(3, vocab, 2), RandomIds(1, vocab, 3)};
  std::vector<model::SequenceOutputs> alone;
  for (const auto& p : prompts) alone.push_back(model::RunPrompts(m, {p}, Everything())[0]);
  for (int32_t pad_id : {0, 5, static_cast<int32_t>(vocab - 1)}) {
    for (int64_t chunk : {0, 1, 4}) {
      const auto batched = model::RunPrompts(m, prompts, Everything(chunk, pad_id));
      for (size_t b = 0; b < prompts.size(); ++b)
        ExpectIdentical(alone[b], batched[b],
                        "row " + std::to_string(b) + " pad " + std::to_string(pad_id) + " chunk " +
                            std::to_string(chunk));
    }
  }
  // Batch order does not matter either.
  const auto reversed = model::RunPrompts(m, {prompts[2], prompts[1], prompts[0]}, Everything());
  ExpectIdentical(alone[0], reversed[2], "reversed batch");
}

TEST_P(InvarianceTest, OneAndTwoThreadsGiveIdenticalBytes) {
  const model::Model& m = Fixture(GetParam());
  const int64_t vocab = m.config().vocab_size;
  const std::vector<std::vector<int32_t>> prompts = {RandomIds(9, vocab, 4),
                                                     RandomIds(4, vocab, 5)};
  ops::SetNumThreads(1);
  const auto one = model::RunPrompts(m, prompts, Everything(3));
  ops::SetNumThreads(2);
  const auto two = model::RunPrompts(m, prompts, Everything(3));
  ops::SetNumThreads(0);
  for (size_t b = 0; b < prompts.size(); ++b)
    ExpectIdentical(one[b], two[b], "threads, row " + std::to_string(b));
}

TEST_P(InvarianceTest, AttentionRowsSumToOneWithZerosOnPaddedAndFutureKeys) {
  const model::Model& m = Fixture(GetParam());
  const model::ModelConfig& c = m.config();
  // Row 0: 3 pads then 5 tokens; row 1: a hole in the middle (any 0/1 pattern).
  model::ForwardInput in;
  in.batch = 2;
  in.q_len = 8;
  in.ids = RandomIds(16, c.vocab_size, 9);
  in.attention_mask = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
  in.output_attentions = true;
  model::KvCache cache(c, 2);
  const model::ForwardOutput out = model::Forward(m, cache, in);
  for (const auto& attn : out.attentions) {
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t h = 0; h < c.n_head; ++h) {
        for (int64_t t = 0; t < 8; ++t) {
          if (!in.attention_mask[b * 8 + t]) continue;  // padded query rows are never returned
          const float* row = &attn[((b * c.n_head + h) * 8 + t) * 8];
          double sum = 0;
          for (int64_t j = 0; j < 8; ++j) {
            if (j > t || !in.attention_mask[b * 8 + j]) {
              EXPECT_EQ(row[j], 0.0f) << "b" << b << " t" << t << " j" << j;
            }
            sum += row[j];
          }
          EXPECT_NEAR(sum, 1.0, 1e-6);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryFixtureModel, InvarianceTest, ::testing::ValuesIn(kModels),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (ch == '-' || ch == '@') ch = '_';
                           return s;
                         });

TEST(InvarianceTest, BatchedFixtureMatchesReference) {
  const model::Model& m = Fixture("tiny");
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/tiny/batch_9_4.safetensors");
  const std::vector<std::vector<int32_t>> prompts = {
      testing::IdsOf(*expected.Find("seq0.input_ids")),
      testing::IdsOf(*expected.Find("seq1.input_ids"))};
  const auto batched = model::RunPrompts(m, prompts, Everything(0, 17));
  for (size_t b = 0; b < 2; ++b) {
    const std::string name = "seq" + std::to_string(b) + ".logits";
    EXPECT_TRUE(testing::CloseToReference(batched[b].logits,
                                          testing::FloatsOf(*expected.Find(name)), name));
    const auto alone = model::RunPrompts(m, {prompts[b]}, Everything());
    ExpectIdentical(alone[0], batched[b], name);
  }
}

}  // namespace
}  // namespace talkie
