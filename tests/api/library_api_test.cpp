// The parts of the public API the `talkie` program is built on, as a library
// user sees them: Steering, Generator with a PromptCache and statistics,
// option validation, load progress, the kernel and weight reports, the
// tokenizer's extras, scoring with hooks, and the machine probes.
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>

#include "talkie/talkie.h"

namespace talkie {
namespace {

std::string DataPath(const std::string& rel) {
  return std::string(TALKIE_TEST_DATA_DIR) + "/" + rel;
}

const Model& TinyModel() {
  static const Model m = Model::Load(DataPath("model/models/tiny"));
  return m;
}

std::vector<float> LastLogits(const Model& m, const std::vector<int32_t>& ids, const Hooks* hooks) {
  ForwardRequest r;
  r.input_ids = Tensor<int32_t>({1, static_cast<int64_t>(ids.size())}, ids);
  r.hooks = hooks;
  return m.Forward(r).logits.values();
}

const std::vector<int32_t> kSteeredIds = {5, 17, 3, 40, 2, 9};

TEST(SteeringApi, AControlVectorGivesTheBitsOfTheSameFileAddedAsHooks) {
  const std::string cvec = DataPath("control_vectors/tiny-cvec.gguf");
  Steering s;
  s.AddControlVector(cvec);
  ASSERT_EQ(s.names(), std::vector<std::string>{"tiny-cvec"});
  const Hooks from_steering = s.MakeHooks(TinyModel().config());
  Hooks direct;
  direct.AddControlVector(cvec);
  const std::vector<float> a = LastLogits(TinyModel(), kSteeredIds, &from_steering);
  const std::vector<float> b = LastLogits(TinyModel(), kSteeredIds, &direct);
  const std::vector<float> plain = LastLogits(TinyModel(), kSteeredIds, nullptr);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  EXPECT_NE(std::memcmp(a.data(), plain.data(), a.size() * 4), 0);
}

TEST(SteeringApi, AScaleGivenByNameEqualsTheVectorAddedAtThatScale) {
  const std::string cvec = DataPath("control_vectors/tiny-cvec.safetensors");
  Steering s;
  s.AddControlVector(cvec);
  const Hooks scaled_by_name = s.MakeHooks(TinyModel().config(), {{"tiny-cvec", 2.5f}});
  const Hooks scaled = Steering().AddControlVector(cvec, 2.5f).MakeHooks(TinyModel().config());
  const Hooks unscaled = s.MakeHooks(TinyModel().config());
  const std::vector<float> a = LastLogits(TinyModel(), kSteeredIds, &scaled_by_name);
  const std::vector<float> b = LastLogits(TinyModel(), kSteeredIds, &scaled);
  const std::vector<float> c = LastLogits(TinyModel(), kSteeredIds, &unscaled);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.size() * 4), 0);
}

TEST(SteeringApi, ALayerRangeKeepsOnlyThoseBlocksDirections) {
  const std::string cvec = DataPath("control_vectors/tiny-cvec.gguf");  // direction.1, direction.2
  const Hooks ranged =
      Steering().AddControlVector(cvec).SetLayerRange(2, 2).MakeHooks(TinyModel().config());
  Hooks block2;
  block2.AddControlVector(cvec, 1.0f, 2, 2);
  const std::vector<float> a = LastLogits(TinyModel(), kSteeredIds, &ranged);
  const std::vector<float> b = LastLogits(TinyModel(), kSteeredIds, &block2);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
}

TEST(SteeringApi, BadFilesNamesAndRangesAreErrorsNamingThem) {
  const std::string cvec = DataPath("control_vectors/tiny-cvec.gguf");
  try {
    Steering().AddControlVector("/no/such/happy.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/happy.gguf"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Steering().AddControlVector(cvec, std::nanf("")), Error);
  EXPECT_THROW(Steering().SetLayerRange(3, 1), Error);
  EXPECT_THROW(Steering().AddAblation("/no/such/direction.safetensors"), Error);
  Steering s;
  s.AddControlVector(cvec);
  EXPECT_THROW(s.MakeHooks(TinyModel().config(), {{"sad", 1.0f}}), Error);
  s.AddControlVector(DataPath("control_vectors/tiny-cvec.safetensors"), 1.0f, "tiny-cvec");
  EXPECT_THROW(s.MakeHooks(TinyModel().config(), {{"tiny-cvec", 2.0f}}), Error);  // ambiguous
  EXPECT_NO_THROW(s.MakeHooks(TinyModel().config()));
  // The vectors' width (96) is not the small model's.
  const Model small = Model::Load(DataPath("model/models/small"));
  try {
    Steering().AddControlVector(cvec).MakeHooks(small.config());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tiny-cvec.gguf"), std::string::npos) << e.what();
  }
}

TEST(SteeringApi, AnAblatedDirectionChangesTheLogitsTheSameWayEveryTime) {
  Steering s;
  s.AddAblation(DataPath("control_vectors/tiny-direction.safetensors"));
  EXPECT_FALSE(s.empty());
  const Hooks h1 = s.MakeHooks(TinyModel().config()),
              h2 = Steering(s).MakeHooks(TinyModel().config());
  const std::vector<float> a = LastLogits(TinyModel(), kSteeredIds, &h1);
  const std::vector<float> b = LastLogits(TinyModel(), kSteeredIds, &h2);
  const std::vector<float> plain = LastLogits(TinyModel(), kSteeredIds, nullptr);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  EXPECT_NE(std::memcmp(a.data(), plain.data(), a.size() * 4), 0);
  EXPECT_TRUE(Steering().empty());
}

TEST(HooksApi, ExpandAndRowWidthDescribeEveryName) {
  const ModelConfig& c = TinyModel().config();
  const std::vector<std::string> every = Hooks::Expand("blocks.*.mlp.hook_post", c);
  ASSERT_EQ(every.size(), static_cast<size_t>(c.n_layer));
  EXPECT_EQ(every.back(), "blocks." + std::to_string(c.n_layer - 1) + ".mlp.hook_post");
  EXPECT_EQ(Hooks::Expand("logits", c), std::vector<std::string>{"logits"});
  EXPECT_EQ(Hooks::Expand("blocks.1.hook_resid_pre", c),
            std::vector<std::string>{"blocks.1.hook_resid_pre"});
  try {
    Hooks::Expand("blocks.99.hook_resid_pre", c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 99 is out of range"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Hooks::Expand("blocks.0.hook_bogus", c), Error);
  EXPECT_EQ(Hooks::RowWidth("blocks.0.mlp.hook_pre", c), c.intermediate_size);
  EXPECT_EQ(Hooks::RowWidth("logits", c), c.vocab_size);
  EXPECT_EQ(Hooks::RowWidth("blocks.0.attn.hook_q", c), c.n_embd);
  EXPECT_EQ(Hooks::RowWidth("blocks.0.attn.hook_pattern", c), 0);
  // Every name a model has is its own expansion.
  for (const std::string& name : Hooks::Names(c)) EXPECT_EQ(Hooks::Expand(name, c).size(), 1u);
}

TEST(ModelApi, ForwardPromptsGivesEachPromptItsOwnBitsWhateverTheChunking) {
  const Model& m = TinyModel();
  const std::vector<std::vector<int32_t>> prompts = {{5, 17, 3, 40, 2, 9, 11}, {8, 1, 30}};
  PromptRunOptions chunked;
  chunked.chunk = 2;
  chunked.output_hidden_states = true;
  chunked.output_attentions = true;
  const std::vector<PromptOutputs> all = m.ForwardPrompts(prompts);
  const std::vector<PromptOutputs> by_two = m.ForwardPrompts(prompts, chunked);
  ASSERT_EQ(all.size(), 2u);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const auto len = static_cast<int64_t>(prompts[b].size());
    ForwardRequest alone;
    alone.input_ids = Tensor<int32_t>({1, len}, prompts[b]);
    alone.output_hidden_states = alone.output_attentions = true;
    const ForwardResult r = m.Forward(alone);
    ASSERT_EQ(all[b].logits.shape(), (std::vector<int64_t>{len, m.config().vocab_size}));
    EXPECT_EQ(std::memcmp(all[b].logits.data(), r.logits.data(), r.logits.size() * 4), 0) << b;
    EXPECT_EQ(std::memcmp(by_two[b].logits.data(), r.logits.data(), r.logits.size() * 4), 0) << b;
    ASSERT_EQ(by_two[b].hidden_states.size(), r.hidden_states.size());
    const Tensor<float>& last = by_two[b].hidden_states.back();
    EXPECT_EQ(std::memcmp(last.data(), r.hidden_states.back().data(), last.size() * 4), 0) << b;
    ASSERT_EQ(by_two[b].attentions.size(), r.attentions.size());
    const Tensor<float>& map = by_two[b].attentions[0];  // alone: [1, n_head, len, len]
    EXPECT_EQ(map.shape(), (std::vector<int64_t>{m.config().n_head, len, len}));
    EXPECT_EQ(std::memcmp(map.data(), r.attentions[0].data(), map.size() * 4), 0) << b;
    EXPECT_TRUE(all[b].hidden_states.empty());
  }
  EXPECT_THROW(m.ForwardPrompts({}), Error);
  EXPECT_THROW(m.ForwardPrompts({{1, 2}, {}}), Error);
}

GenerateOptions GreedyOptions(int64_t n) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.sampling.temperature = 0;
  return o;
}

TEST(GeneratorApi, APromptCacheHitGivesTheTokensOfAColdRunAndCountsTheCachedTokens) {
  const Model model = Model::Load("");
  const Tokenizer tok = Tokenizer::ForModel(model);
  const std::vector<int32_t> first = tok.Encode("It was the best of times,");
  PromptCache cache(int64_t{1} << 30);
  Generator cached(model, tok);
  cached.set_prompt_cache(&cache);
  const Generation turn1 = cached.Run({first}, {GreedyOptions(6)})[0];
  EXPECT_EQ(turn1.cached_tokens, 0);
  EXPECT_EQ(cache.entries(), 1);
  EXPECT_GT(cache.bytes(), 0);
  // The next turn: the first prompt, its reply and more text.
  std::vector<int32_t> second = first;
  second.insert(second.end(), turn1.tokens.begin(), turn1.tokens.end());
  const std::vector<int32_t> more = tok.Encode(" and then");
  second.insert(second.end(), more.begin(), more.end());
  GenerationStats stats;
  const Generation turn2 = cached.Run({second}, {GreedyOptions(6)}, {}, {}, &stats)[0];
  const Generation cold = Generator(model, tok).Run({second}, {GreedyOptions(6)})[0];
  EXPECT_EQ(turn2.tokens, cold.tokens);
  EXPECT_EQ(turn2.text, cold.text);
  EXPECT_GE(turn2.cached_tokens, static_cast<int64_t>(first.size()));
  EXPECT_EQ(stats.cached_tokens, turn2.cached_tokens);
  EXPECT_EQ(cold.cached_tokens, 0);
  cache.Clear();
  EXPECT_EQ(cache.entries(), 0);
  EXPECT_EQ(cache.bytes(), 0);
}

TEST(GeneratorApi, StatsCountEveryPromptAndSampledToken) {
  const Model model = Model::Load("");
  const Tokenizer tok = Tokenizer::ForModel(model);
  GenerateOptions o = GreedyOptions(5);
  o.banned_token_ids = tok.end_token_ids();  // ignore_eos: exactly 5 tokens each
  const std::vector<std::vector<int32_t>> prompts = {tok.Encode("Once upon"), tok.Encode("The")};
  GenerationStats stats;
  const std::vector<Generation> g = Generator(model, tok).Run(prompts, {o}, {}, {}, &stats);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(stats.prompt_tokens, static_cast<int64_t>(prompts[0].size() + prompts[1].size()));
  EXPECT_EQ(stats.generated_tokens, 10);
  for (const Generation& x : g) {
    EXPECT_EQ(x.tokens.size(), 5u);
    EXPECT_EQ(x.finish, FinishReason::kLength);
  }
  EXPECT_GE(stats.prefill_seconds, 0.0);
  EXPECT_GT(stats.decode_seconds, 0.0);
}

TEST(GeneratorApi, ABannedTokenIsNeverSampled) {
  const Model model = Model::Load("");
  const Tokenizer tok = Tokenizer::ForModel(model);
  const std::vector<int32_t> prompt = tok.Encode("It was");
  const Generation free_run = Generate(model, tok, prompt, GreedyOptions(4));
  ASSERT_FALSE(free_run.tokens.empty());
  GenerateOptions o = GreedyOptions(4);
  o.banned_token_ids = {free_run.tokens[0]};
  const Generation banned = Generate(model, tok, prompt, o);
  for (int32_t t : banned.tokens) EXPECT_NE(t, free_run.tokens[0]);
  o.banned_token_ids = {static_cast<int32_t>(model.config().vocab_size)};
  EXPECT_THROW(Generate(model, tok, prompt, o), Error);
}

TEST(GeneratorApi, ValidateGenerateOptionsNamesTheBadField) {
  GenerateOptions o;
  EXPECT_NO_THROW(ValidateGenerateOptions(o));
  o.sampling.temperature = -1;
  try {
    ValidateGenerateOptions(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("temperature", 0), 0u) << e.what();
  }
  o = {};
  o.prefill_chunk = 0;
  EXPECT_THROW(ValidateGenerateOptions(o), Error);
  o = {};
  o.stop_strings = {""};
  EXPECT_THROW(ValidateGenerateOptions(o), Error);
  // An ids-only generator has no text to stream.
  EXPECT_THROW(
      Generator(TinyModel())
          .Run({{1, 2}}, {GreedyOptions(1)}, [](size_t, std::string_view) { return true; }),
      Error);
}

TEST(ModelApi, LoadReportsItsSlowStagesAndAThrowingCallbackAbandonsIt) {
  const std::string q8 = DataPath("gguf/tiny-q8_0.gguf");
  EngineOptions fast;
  fast.policy = Policy::kFast;
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  const Model m =
      Model::Load(q8, Engine(fast), [&](const std::string& stage, uint64_t done, uint64_t total) {
        EXPECT_FALSE(stage.empty());
        reports.emplace_back(done, total);
      });
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().first, reports.back().second);
  struct Abandon : std::runtime_error {
    Abandon() : std::runtime_error("abandon") {}
  };
  auto abandon = [](const std::string&, uint64_t, uint64_t) { throw Abandon(); };
  EXPECT_THROW(Model::Load(q8, Engine(fast), abandon), Abandon);
  Model exact = Model::Load(q8);
  EXPECT_THROW(exact.SetPolicy(Policy::kFast, abandon), Abandon);
  EXPECT_EQ(exact.engine().options().policy, Policy::kExact);  // stays on its old policy
  EXPECT_NO_THROW(exact.SetPolicy(Policy::kFast));
  EXPECT_EQ(exact.engine().options().policy, Policy::kFast);
}

TEST(ModelApi, KernelReportAndFastKernelPathFollowTheEngine) {
  const KernelReport k = Kernels();
  EXPECT_EQ(k.exact, SimdTarget());
  ASSERT_FALSE(k.int8_paths.empty());
  EXPECT_EQ(k.int8_paths.back(), "portable");
  EXPECT_EQ(k.fast_int8, k.int8_paths.front());  // the best path runs by default
  EngineOptions portable;
  portable.policy = Policy::kFast;
  portable.kernel_path = "portable";
  EXPECT_EQ(Kernels(Engine(portable)).fast_int8, "portable");
  const Model q8 = Model::Load(DataPath("gguf/tiny-q8_0.gguf"), Engine(portable));
  EXPECT_EQ(q8.fast_kernel_path(), "portable");
}

TEST(ModelApi, WeightFootprintCountsEveryMatmulOnceAndItsBytes) {
  const Model bf16 = Model::Load(DataPath("gguf/tiny-bf16.gguf"));
  const Model q8 = Model::Load(DataPath("gguf/tiny-q8_0.gguf"));
  const ModelConfig& c = bf16.config();
  const int64_t attn = c.n_head * c.head_dim;
  const int64_t expected = c.n_layer * (4 * c.n_embd * attn + 3 * c.n_embd * c.intermediate_size) +
                           c.vocab_size * c.n_embd;
  EXPECT_EQ(bf16.weight_footprint().matmul_parameters, expected);
  EXPECT_EQ(bf16.weight_footprint().matmul_bytes, 2 * expected);
  EXPECT_EQ(q8.weight_footprint().matmul_parameters, expected);
  // Q8_0: 34 bytes per block of 32.
  EXPECT_EQ(q8.weight_footprint().matmul_bytes, expected / 32 * 34);
  EXPECT_FALSE(bf16.info().gguf_types.empty());
  // No tokenizer in the file: the folder holding it.
  EXPECT_EQ(bf16.info().tokenizer_path, DataPath("gguf"));
}

TEST(TokenizerApi, StylesEndTokensAndUtf8Helpers) {
  const std::string dir = DataPath("tokenizer/vocab.txt");
  const Tokenizer it = Tokenizer::Load(dir, "it"), base = Tokenizer::Load(dir, "base");
  EXPECT_TRUE(it.is_chat());
  EXPECT_FALSE(base.is_chat());
  EXPECT_TRUE(it.SpecialTokenId("<|user|>").has_value());
  EXPECT_FALSE(base.SpecialTokenId("<|user|>").has_value());
  EXPECT_THROW(Tokenizer::Load(dir, "chatty"), Error);
  // The end tokens hold the stop tokens and the chat markers.
  const std::vector<int32_t> end = it.end_token_ids(), stop = it.stop_token_ids();
  for (int32_t s : stop) EXPECT_NE(std::find(end.begin(), end.end(), s), end.end());
  EXPECT_NE(std::find(end.begin(), end.end(), *it.SpecialTokenId("<|user|>")), end.end());
  EXPECT_EQ(FindInvalidUtf8("ab\xc3\xa9"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ab\xff"
                            "c"),
            2u);
  EXPECT_EQ(FindInvalidUtf8("ab\xc3"), 2u);  // a cut character
  EXPECT_EQ(ReplaceInvalidUtf8("a\xff"
                               "b"),
            "a\xef\xbf\xbd"
            "b");
  // A path given to ForModel replaces the model's own; the vocabulary must
  // still fit the model's (the tiny model's 1000 ids fit no Talkie tokenizer).
  const Model bundled = Model::Load("");
  const Tokenizer via_path =
      Tokenizer::ForModel(bundled, bundled.info().tokenizer_path + "/vocab.txt");
  EXPECT_EQ(via_path.Encode("The cat sat"), Tokenizer::ForModel(bundled).Encode("The cat sat"));
  EXPECT_THROW(Tokenizer::ForModel(TinyModel(), dir), Error);
  // A GGUF written with the (IT) tokenizer carries Talkie's chat template.
  const std::string gguf = ::testing::TempDir() + "talkie_api_tpl.gguf";
  const Tokenizer bundled_tok = Tokenizer::ForModel(bundled);
  ExportGguf(bundled, GgufType::kQ8_0, gguf, &bundled_tok);
  const Tokenizer from_file = Tokenizer::Load(gguf);
  EXPECT_NE(from_file.file_chat_template().find("<|assistant|>"), std::string::npos);
  EXPECT_TRUE(from_file.file_chat_template_is_talkies());
  EXPECT_EQ(bundled_tok.file_chat_template(), "");
  EXPECT_FALSE(bundled_tok.file_chat_template_is_talkies());
}

TEST(ModelApi, ScoreRunsTheHooksAndReportsItsProgress) {
  const Model& m = TinyModel();
  const std::vector<int32_t> ids = {5, 17, 3, 40, 2, 9, 11, 30};
  int64_t last_scored = -1, last_total = -1;
  const ScoreResult plain = m.Score(ids, 0, 0, nullptr, [&](int64_t scored, int64_t total) {
    EXPECT_GT(scored, last_scored);
    last_scored = scored;
    last_total = total;
  });
  EXPECT_EQ(last_scored, static_cast<int64_t>(plain.token_logprobs.size()));
  EXPECT_EQ(last_total, last_scored);
  const Hooks steer =
      Steering().AddControlVector(DataPath("control_vectors/tiny-cvec.gguf")).MakeHooks(m.config());
  const ScoreResult steered = m.Score(ids, 0, 0, &steer);
  EXPECT_NE(steered.mean_nll, plain.mean_nll);
  EXPECT_EQ(m.Score(ids).mean_nll, plain.mean_nll);
}

TEST(RooflineApi, ProbesMeasureAndRejectBadThreadCounts) {
  EXPECT_THROW(MeasureReadBandwidth(0), Error);
  EXPECT_THROW(MeasureFmaPeak(-1), Error);
  EXPECT_GT(MeasureFmaPeak(1), 0.0);
  std::string kind;
  EXPECT_EQ(MeasureDotPeak(TinyModel(), 1, &kind), 0.0);  // the exact policy uses no dot product
  EXPECT_EQ(kind, "bf16 dot");
  EXPECT_EQ(MeasureDotPeak(Model::Load(DataPath("gguf/tiny-q8_0.gguf")), 1, &kind), 0.0);
  EXPECT_EQ(kind, "int8 dot");
}

}  // namespace
}  // namespace talkie
