// Generation: greedy continuations through the KV cache equal the reference's
// (full-recompute) ones on every fixture; batched generation gives every
// sequence the same logits bytes and tokens as alone; seeds reproduce; stop
// tokens, stop strings and chat markers end generation without leaking.
#include <map>

#include "../model/fixtures.h"
#include "common/error.h"
#include "generate/generator.h"
#include "generation_configs.h"
#include "ops/parallel.h"
#include "test_tokenizer.h"

namespace talkie {
namespace {

using generate::FinishReason;
using generate::GenerationConfig;
using generate::Generator;
using testing::Greedy;

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

const Loaded& Fixture(const std::string& name) {
  static std::map<std::string, Loaded> cache;
  Loaded& slot = cache[name];
  if (!slot.model) {
    slot.model = model::Model::Load(testing::ModelFixtureDir() + "/models/" + name);
    slot.tokenizer = std::make_unique<tokenizer::Tokenizer>(
        testing::TokenizerForVocab(slot.model->config().vocab_size));
  }
  return slot;
}

GenerationConfig Sampled(uint64_t seed, int64_t n) {
  GenerationConfig c;
  c.max_new_tokens = n;
  c.sampling.temperature = 0.9f;
  c.sampling.top_k = 50;
  c.sampling.top_p = 0.95f;
  c.sampling.seed = seed;
  c.stop_token_ids = std::vector<int32_t>{};
  return c;
}

// Records the bytes of every logits row each sequence sampled from.
struct Recorder {
  std::map<size_t, std::vector<std::vector<float>>> rows;
  void Attach(Generator& g) {
    g.set_logits_processor(
        [this](size_t i, std::span<float> l) { rows[i].emplace_back(l.begin(), l.end()); });
  }
};

TEST(GeneratorTest, GreedyThroughTheCacheEqualsReferenceContinuations) {
  const nlohmann::json manifest = testing::LoadManifest();
  for (const auto& [name, info] : manifest["models"].items()) {
    const Loaded& f = Fixture(name);
    for (const auto& c : manifest["cases"]) {
      if (c["model"] != info["expected_outputs"]) continue;
      const io::TensorStore expected =
          io::LoadSafetensors(testing::ModelFixtureDir() + "/" + std::string(c["file"]));
      std::vector<std::string> prefixes = {""};
      if (expected.Find("seq0.input_ids")) prefixes = {"seq0.", "seq1."};
      std::vector<std::vector<int32_t>> prompts;
      for (const auto& p : prefixes)
        prompts.push_back(testing::IdsOf(*expected.Find(p + "input_ids")));
      Generator g(*f.model, *f.tokenizer);
      Recorder rec;
      rec.Attach(g);
      const auto results =
          g.Generate(prompts, {Greedy(12)});  // batch_9_4: both prompts in one batch
      for (size_t i = 0; i < prefixes.size(); ++i) {
        const std::string what = name + "/" + std::string(c["case"]) + "/" + prefixes[i];
        EXPECT_EQ(results[i].ids, testing::IdsOf(*expected.Find(prefixes[i] + "greedy_tokens")))
            << what;
        EXPECT_EQ(results[i].finish, FinishReason::kLength);
        const auto ref = testing::FloatsOf(*expected.Find(prefixes[i] + "greedy_logits"));
        const int64_t vocab = f.model->config().vocab_size;
        ASSERT_EQ(rec.rows[i].size(), 12u) << what;
        for (size_t s = 0; s < 12; ++s)
          EXPECT_TRUE(testing::CloseToReference(
              rec.rows[i][s], {ref.begin() + s * vocab, ref.begin() + (s + 1) * vocab},
              what + " step " + std::to_string(s)));
      }
    }
  }
}

TEST(GeneratorTest, EachSequenceInABatchGetsTheBytesAndTokensItGetsAlone) {
  const Loaded& f = Fixture("small");
  const std::vector<std::vector<int32_t>> prompts = {
      {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {300, 301, 302}, {77}};
  std::vector<GenerationConfig> configs = {Sampled(1, 9), Greedy(3),
                                           Sampled(3, 12)};  // row 1 finishes early
  std::vector<generate::SequenceResult> alone;
  std::vector<std::vector<std::vector<float>>> alone_rows;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Generator g(*f.model, *f.tokenizer);
    Recorder rec;
    rec.Attach(g);
    alone.push_back(g.Generate({prompts[i]}, {configs[i]})[0]);
    alone_rows.push_back(rec.rows[0]);
  }
  for (int threads : {1, 2}) {
    ops::SetNumThreads(threads);
    Generator g(*f.model, *f.tokenizer);
    Recorder rec;
    rec.Attach(g);
    const auto batched = g.Generate(prompts, configs, {}, nullptr, /*prefill_chunk=*/4);
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(batched[i].ids, alone[i].ids) << i;
      EXPECT_EQ(batched[i].text, alone[i].text) << i;
      ASSERT_EQ(rec.rows[i].size(), alone_rows[i].size()) << i;
      for (size_t s = 0; s < alone_rows[i].size(); ++s)
        EXPECT_TRUE(testing::BytesEqual(rec.rows[i][s], alone_rows[i][s]))
            << "seq " << i << " step " << s;
    }
  }
  ops::SetNumThreads(0);
  EXPECT_EQ(alone[0].ids.size(), 9u);
  EXPECT_EQ(alone[1].ids.size(), 3u);
}

TEST(GeneratorTest, SeedsReproduceAndDiffer) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  const auto a = g.Generate({{1, 2, 3}}, {Sampled(42, 16)})[0];
  const auto b = g.Generate({{1, 2, 3}}, {Sampled(42, 16)})[0];
  const auto c = g.Generate({{1, 2, 3}}, {Sampled(43, 16)})[0];
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_NE(a.ids, c.ids);
}

// Forces a token sequence through the logits processor.
void Force(Generator& g, std::vector<int32_t> tokens) {
  auto step = std::make_shared<size_t>(0);
  g.set_logits_processor([tokens, step](size_t, std::span<float> logits) {
    if (*step < tokens.size()) logits[tokens[(*step)++]] = 1e9f;
  });
}

TEST(GeneratorTest, StopStringSplitAcrossTokensEndsGenerationBeforeIt) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  Force(g, {testing::ExtraId("Hello"), testing::ExtraId(" world"), testing::ExtraId("ST"),
            testing::ExtraId("OP"), testing::ExtraId("Hello")});
  GenerationConfig c = Greedy(10);
  c.stop_strings = {"STOP"};
  std::string streamed;
  const auto r = g.Generate({{1}}, {c}, [&](size_t, std::string_view p) {
    streamed += p;
    return true;
  })[0];
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(streamed, "Hello world");
  EXPECT_EQ(r.finish, FinishReason::kStopString);
  EXPECT_EQ(r.stop_string, "STOP");
  EXPECT_EQ(r.ids.size(), 4u);
}

TEST(GeneratorTest, ChatMarkerArrivingInPiecesNeverReachesTheStream) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  Force(g, {testing::ExtraId("Hello"), testing::ExtraId("<|"), testing::ExtraId("user"),
            testing::ExtraId("|>"), testing::ExtraId(" world")});
  std::vector<std::string> pieces;
  const auto r = g.Generate({{1}}, {Greedy(10)}, [&](size_t, std::string_view p) {
    pieces.emplace_back(p);
    return true;
  })[0];
  std::string streamed;
  for (const auto& p : pieces) streamed += p;
  EXPECT_EQ(streamed, "Hello");
  EXPECT_EQ(r.finish, FinishReason::kStopString);
  EXPECT_EQ(r.stop_string, "<|user|>");
}

TEST(GeneratorTest, SplitUtf8IsStreamedOnlyWhenComplete) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  Force(g, {testing::ExtraId("\xE2\x82"), testing::ExtraId("\xAC"), testing::ExtraId("\xE2\x82")});
  std::vector<std::string> pieces;
  const auto r = g.Generate({{1}}, {Greedy(3)}, [&](size_t, std::string_view p) {
    pieces.emplace_back(p);
    return true;
  })[0];
  // The euro sign arrives whole; the dangling lead bytes become U+FFFD at the end.
  std::string streamed;
  for (const auto& p : pieces) streamed += p;
  EXPECT_EQ(streamed, "\xE2\x82\xAC\xEF\xBF\xBD");
  EXPECT_EQ(r.text, streamed);
  for (const auto& p : pieces) EXPECT_NE(p, "\xE2\x82");
}

TEST(GeneratorTest, StopTokenEndsGenerationAndIsNotReturned) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  const int32_t eot = *f.tokenizer->SpecialTokenId("<|endoftext|>");
  EXPECT_EQ(eot, 999);
  Force(g, {testing::ExtraId("Hello"), eot, testing::ExtraId("Hello")});
  GenerationConfig c;
  c.max_new_tokens = 10;
  const auto r = g.Generate({{1}}, {c})[0];
  EXPECT_EQ(r.ids, std::vector<int32_t>{testing::ExtraId("Hello")});
  EXPECT_EQ(r.finish, FinishReason::kStopToken);
  EXPECT_EQ(r.text, "Hello");
}

TEST(GeneratorTest, CallbackReturningFalseCancelsOnlyThatSequence) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  const auto alone = g.Generate({{4, 5}}, {Greedy(8)})[0];
  int calls0 = 0;
  const auto r = g.Generate({{1, 2, 3}, {4, 5}}, {Greedy(8)}, [&](size_t i, std::string_view) {
    if (i == 0) return ++calls0 < 2;
    return true;
  });
  EXPECT_EQ(r[0].finish, FinishReason::kCancelled);
  EXPECT_LT(r[0].ids.size(), 8u);
  EXPECT_EQ(calls0, 2);  // nothing is sent after the callback said stop
  EXPECT_EQ(r[1].ids, alone.ids);
}

TEST(GeneratorTest, ContextLimitEndsWithLengthAndBadInputIsRejected) {
  const Loaded& f = Fixture("tiny");
  Generator g(*f.model, *f.tokenizer);
  std::vector<int32_t> long_prompt(2040, 7);
  const auto r = g.Generate({long_prompt}, {Greedy(100)})[0];
  EXPECT_EQ(r.finish, FinishReason::kLength);
  // The context rule: prompt + generated <= the context (2048), as the
  // server's; the 8th token is never fed.
  EXPECT_EQ(r.ids.size(), 8u);

  auto error_of = [&](const std::vector<std::vector<int32_t>>& prompts,
                      const GenerationConfig& c) -> std::string {
    try {
      g.Generate(prompts, {c});
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{}}, Greedy(4)).find("prompt 0: empty prompt"), std::string::npos);
  EXPECT_NE(error_of({std::vector<int32_t>(2048, 1)}, Greedy(4)).find("context limit is 2048"),
            std::string::npos);
  GenerationConfig bad = Greedy(4);
  bad.sampling.temperature = -1.0f;
  EXPECT_NE(error_of({{1}}, bad).find("temperature"), std::string::npos);
  bad = Greedy(4);
  bad.sampling.top_p = 0.0f;
  EXPECT_NE(error_of({{1}}, bad).find("top_p"), std::string::npos);
  bad.sampling.top_p = 1.5f;
  EXPECT_NE(error_of({{1}}, bad).find("top_p"), std::string::npos);
  bad = Greedy(4);
  bad.sampling.top_k = -1;
  EXPECT_NE(error_of({{1}}, bad).find("top_k"), std::string::npos);
  EXPECT_NE(error_of({{1, 5000}}, Greedy(4)).find("token id 5000"), std::string::npos);
}

}  // namespace
}  // namespace talkie
