// Unit tests of the continuous-batching scheduler (no sockets): requests
// running together give exactly the tokens each gives alone (greedy and
// seeded), cancellation frees sequences, the queue is bounded, logprobs come
// from the raw logits, and shutdown ends everything.
#include "generate/scheduler.h"

#include <cmath>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "generate/generator.h"
#include "model/quantize.h"

namespace talkie::generate {
namespace {

using namespace std::chrono_literals;

std::string SchedulerModelDir() { return TALKIE_DEFAULT_MODEL_DIR; }

#define TALKIE_REQUIRE_DEFAULT_MODEL()                                        \
  do {                                                                        \
    if (!std::filesystem::exists(SchedulerModelDir() + "/model.safetensors")) \
      GTEST_SKIP() << "default model not present at " << SchedulerModelDir(); \
  } while (0)

struct SchedulerModel {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

// models/talkie-tiny-1930 (IT style) and its tokenizer. Loaded once.
const SchedulerModel& DefaultModel() {
  static const SchedulerModel p = [] {
    SchedulerModel l;
    l.model = model::Model::Load(SchedulerModelDir());
    l.tokenizer = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::FromPath(
        SchedulerModelDir(), std::nullopt, l.model->config().vocab_size));
    return l;
  }();
  return p;
}

struct Collected {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::string> text;
  std::vector<talkie::FinishReason> finish;
  std::vector<std::vector<TokenLogprob>> logprobs;
};

Collected Drain(Request& r) {
  Collected c;
  c.ids.resize(r.n());
  c.text.resize(r.n());
  c.finish.resize(r.n());
  c.logprobs.resize(r.n());
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    for (SequenceEvent& e : r.Wait(200ms, &done)) {
      EXPECT_TRUE(e.error.empty()) << e.error;
      c.ids[e.index].insert(c.ids[e.index].end(), e.ids.begin(), e.ids.end());
      c.text[e.index] += e.text;
      for (auto& lp : e.logprobs) c.logprobs[e.index].push_back(lp);
      if (e.finished) c.finish[e.index] = e.finish;
    }
  }
  EXPECT_TRUE(done) << "request did not finish";
  return c;
}

std::vector<std::vector<int32_t>> Prompts() {
  const auto& tok = *DefaultModel().tokenizer;
  std::vector<std::vector<int32_t>> p;
  for (const char* text : {"In the beginning God created", "WIT, n. The salt with which",
                           "And it came to pass", "LOVE, n. A temporary insanity", "The word",
                           "Blessed are the meek, for", "A dictionary is", "Behold"})
    p.push_back(tok.Encode(text, false));
  return p;
}

// Half greedy, half seeded sampling with different filters.
GenerationConfig ConfigFor(size_t i) {
  GenerationConfig c;
  c.max_new_tokens = 12 + static_cast<int64_t>(i);
  if (i % 2 == 0) {
    c.sampling.temperature = 0.0f;
  } else {
    c.sampling.temperature = 0.9f;
    c.sampling.top_k = 50;
    c.sampling.top_p = 0.95f;
    c.sampling.seed = 1000 + i;
  }
  return c;
}

void ExpectConcurrentRequestsGiveTheirAloneTokens(const model::Model& model,
                                                  const tokenizer::Tokenizer& tokenizer) {
  const auto prompts = Prompts();
  // Alone: the batch Generator, one prompt at a time.
  std::vector<SequenceResult> alone;
  Generator gen(model, tokenizer);
  for (size_t i = 0; i < prompts.size(); ++i)
    alone.push_back(gen.Generate({prompts[i]}, {ConfigFor(i)})[0]);

  // Together, with a small prefill chunk so prefill chunks and decode rows mix.
  SchedulerOptions o;
  o.max_batch = 5;  // fewer slots than requests: some wait and join later
  o.prefill_chunk = 3;
  Scheduler s(model, tokenizer, o);
  std::vector<std::shared_ptr<Request>> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    reqs.push_back(s.TrySubmit(prompts[i], {ConfigFor(i)}));
    ASSERT_NE(reqs.back(), nullptr);
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Collected c = Drain(*reqs[i]);
    EXPECT_EQ(c.ids[0], alone[i].ids) << "request " << i;
    EXPECT_EQ(c.text[0], alone[i].text) << "request " << i;
    EXPECT_EQ(c.finish[0], static_cast<talkie::FinishReason>(alone[i].finish)) << "request " << i;
  }
  EXPECT_GE(s.stats().peak_active_sequences, 2);
  EXPECT_LE(s.stats().peak_active_sequences, 5);
  EXPECT_EQ(s.stats().active_sequences, 0);
}

TEST(SchedulerTest, ConcurrentRequestsGiveTheTokensTheyGiveAlone) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  ExpectConcurrentRequestsGiveTheirAloneTokens(*m.model, *m.tokenizer);
}

// The same guarantee under the fast policy: bf16 weights (AVX512-BF16 path)
// and a q8 copy (int8 path).
TEST(SchedulerTest, FastPolicyKeepsConcurrentRequestsIdenticalToAlone) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  auto fast = model::Model::Load(SchedulerModelDir());
  fast->SetPrecision(ops::Precision::kFast);
  ExpectConcurrentRequestsGiveTheirAloneTokens(*fast, *m.tokenizer);
  const std::string q8_dir =
      (std::filesystem::temp_directory_path() / "talkie_scheduler_q8").string();
  model::QuantizeModel(*m.model, ops::WeightType::kQ8, q8_dir);
  auto q8 = model::Model::Load(q8_dir);
  q8->SetPrecision(ops::Precision::kFast);
  ExpectConcurrentRequestsGiveTheirAloneTokens(*q8, *m.tokenizer);
}

TEST(SchedulerTest, NChoicesUseConsecutiveSeeds) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  const auto prompt = Prompts()[1];
  std::vector<GenerationConfig> configs(3, ConfigFor(1));
  for (size_t i = 0; i < 3; ++i) configs[i].sampling.seed = 50 + i;
  Scheduler s(*m.model, *m.tokenizer, {});
  auto r = s.TrySubmit(prompt, configs);
  const Collected c = Drain(*r);
  Generator gen(*m.model, *m.tokenizer);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.ids[i], gen.Generate({prompt}, {configs[i]})[0].ids) << "choice " << i;
}

// Issue #16: a request's n choices prefill their prompt once; the others
// start from that cache and logits and still give the tokens (and
// logprobs) they give alone, also when they are admitted after the prefill
// (batch of 2, chunked prefill), under both policies.
TEST(SchedulerTest, NChoicesShareOnePrefillAndGiveTheirAloneTokens) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  auto fast = model::Model::Load(SchedulerModelDir());
  fast->SetPrecision(ops::Precision::kFast);
  for (const model::Model* model : {m.model.get(), fast.get()}) {
    const auto prompt = Prompts()[0];
    for (int64_t max_new : {1, 9}) {
      std::vector<GenerationConfig> configs(4, ConfigFor(1));
      for (size_t i = 0; i < configs.size(); ++i) {
        configs[i].sampling.seed = 70 + i;
        configs[i].max_new_tokens = max_new;
      }
      SchedulerOptions o;
      o.max_batch = 2;
      o.prefill_chunk = 3;
      Scheduler s(*model, *m.tokenizer, o);
      auto r = s.TrySubmit(prompt, configs, /*top_logprobs=*/2, /*logprobs=*/true);
      const Collected c = Drain(*r);
      EXPECT_EQ(s.stats().prefill_tokens, static_cast<int64_t>(prompt.size()));
      for (size_t i = 0; i < configs.size(); ++i) {
        Scheduler alone(*model, *m.tokenizer, o);
        auto one = alone.TrySubmit(prompt, {configs[i]}, 2, true);
        const Collected a = Drain(*one);
        EXPECT_EQ(c.ids[i], a.ids[0]) << "choice " << i << ", max_new " << max_new;
        EXPECT_EQ(c.text[i], a.text[0]);
        ASSERT_EQ(c.logprobs[i].size(), a.logprobs[0].size());
        for (size_t t = 0; t < a.logprobs[0].size(); ++t) {
          EXPECT_EQ(c.logprobs[i][t].logprob, a.logprobs[0][t].logprob);
          EXPECT_EQ(c.logprobs[i][t].top, a.logprobs[0][t].top);
        }
      }
      EXPECT_EQ(s.stats().active_sequences, 0);
    }
  }
}

TEST(SchedulerTest, LogprobsAreTheLogSoftmaxOfTheRawLogits) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  const auto prompt = Prompts()[0];
  GenerationConfig c;
  c.max_new_tokens = 4;
  c.sampling.temperature = 0.7f;
  c.sampling.repetition_penalty = 1.3f;  // must not affect the reported values
  c.sampling.seed = 3;
  Scheduler s(*m.model, *m.tokenizer, {});
  const Collected got = Drain(*s.TrySubmit(prompt, {c}, 3, true));
  ASSERT_EQ(got.logprobs[0].size(), got.ids[0].size());
  ASSERT_FALSE(got.ids[0].empty());
  // Reference: the full forward over prompt + generated, position by position.
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), got.ids[0].begin(), got.ids[0].end());
  const model::ForwardOutput out = model::ForwardSequence(*m.model, seq);
  const int64_t vocab = m.model->config().vocab_size;
  for (size_t t = 0; t < got.ids[0].size(); ++t) {
    const float* row = out.logits.data() + (prompt.size() - 1 + t) * vocab;
    double max = row[0], sum = 0;
    for (int64_t v = 0; v < vocab; ++v) max = std::max<double>(max, row[v]);
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - max);
    const TokenLogprob& lp = got.logprobs[0][t];
    EXPECT_EQ(lp.id, got.ids[0][t]);
    EXPECT_NEAR(lp.logprob, row[lp.id] - max - std::log(sum), 1e-4);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_GE(lp.top[0].second, lp.top[1].second);
    EXPECT_GE(lp.top[1].second, lp.top[2].second);
    for (int64_t v = 0; v < vocab; ++v)
      EXPECT_LE(row[v] - max - std::log(sum), lp.top[0].second + 1e-5);
  }
}

GenerationConfig Endless() {
  GenerationConfig c;
  c.max_new_tokens = 100000;   // clamped by the context
  c.stop_token_ids.emplace();  // no stop tokens: runs to the context
  c.sampling.temperature = 1.0f;
  c.sampling.seed = 1;
  return c;
}

TEST(SchedulerTest, CancelFreesTheSequence) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  Scheduler s(*m.model, *m.tokenizer, {});
  auto r = s.TrySubmit(Prompts()[0], {Endless(), Endless()});
  // Wait for some output, then cancel.
  bool done = false;
  std::vector<SequenceEvent> first;
  while (first.empty()) first = r->Wait(1000ms, &done);
  EXPECT_EQ(s.stats().active_sequences, 2);
  r->Cancel();
  std::vector<talkie::FinishReason> finishes;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done && std::chrono::steady_clock::now() < deadline)
    for (auto& e : r->Wait(100ms, &done))
      if (e.finished) finishes.push_back(e.finish);
  ASSERT_TRUE(done);
  EXPECT_EQ(finishes, (std::vector<talkie::FinishReason>(2, talkie::FinishReason::kCancelled)));
  EXPECT_EQ(s.stats().active_sequences, 0);
  EXPECT_EQ(s.stats().sequences_cancelled, 2);
}

TEST(SchedulerTest, QueueIsBoundedAndShutdownEndsEverything) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  SchedulerOptions o;
  o.max_batch = 1;
  o.max_queue = 2;
  Scheduler s(*m.model, *m.tokenizer, o);
  auto running = s.TrySubmit(Prompts()[0], {Endless()});
  ASSERT_NE(running, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.stats().active_sequences != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(s.stats().active_sequences, 1);
  auto q1 = s.TrySubmit(Prompts()[1], {Endless()});
  auto q2 = s.TrySubmit(Prompts()[2], {Endless()});
  EXPECT_NE(q1, nullptr);
  EXPECT_NE(q2, nullptr);
  EXPECT_EQ(s.TrySubmit(Prompts()[3], {Endless()}), nullptr);  // queue full
  EXPECT_EQ(s.stats().queued_requests, 2);
  EXPECT_EQ(s.stats().requests_rejected, 1);
  // A request cancelled while queued leaves the queue without running.
  q1->Cancel();
  while (s.stats().queued_requests != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(s.stats().queued_requests, 1);

  s.Shutdown();
  EXPECT_FALSE(s.accepting());
  EXPECT_EQ(s.TrySubmit(Prompts()[3], {Endless()}), nullptr);
  for (auto* r : {&running, &q1, &q2}) {
    bool done = false;
    for (int i = 0; i < 50 && !done; ++i) (*r)->Wait(100ms, &done);
    EXPECT_TRUE(done);
  }
  EXPECT_EQ(s.stats().active_sequences, 0);
}

// Issue #17: a request that starts with the tokens of a finished one (a
// conversation's next turn) takes them from the prompt cache, reports them
// as cached, and gives the tokens and logprobs bit for bit of a server
// without the cache, under both policies and with n > 1 choices.
TEST(SchedulerTest, APromptCacheHitGivesTheBitsOfAWholePrefill) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  const auto& m = DefaultModel();
  auto fast = model::Model::Load(SchedulerModelDir());
  fast->SetPrecision(ops::Precision::kFast);
  for (const model::Model* model : {m.model.get(), fast.get()}) {
    SchedulerOptions with, without;
    with.prefill_chunk = 5;
    without.prompt_cache_bytes = 0;
    Scheduler reusing(*model, *m.tokenizer, with), plain(*model, *m.tokenizer, without);
    std::vector<int32_t> prompt = Prompts()[3];
    for (int turn = 0; turn < 3; ++turn) {
      std::vector<GenerationConfig> configs(turn == 2 ? 2 : 1, ConfigFor(turn));
      for (size_t i = 0; i < configs.size(); ++i) configs[i].sampling.seed = 90 + i;
      auto a = reusing.TrySubmit(prompt, configs, 3, true);
      auto b = plain.TrySubmit(prompt, configs, 3, true);
      const Collected got = Drain(*a), want = Drain(*b);
      EXPECT_EQ(b->cached_tokens(), 0);
      if (turn > 0) {
        EXPECT_GT(a->cached_tokens(), static_cast<int64_t>(prompt.size()) / 2);
      }
      ASSERT_EQ(got.ids, want.ids) << "turn " << turn;
      for (size_t i = 0; i < got.logprobs.size(); ++i) {
        ASSERT_EQ(got.logprobs[i].size(), want.logprobs[i].size());
        for (size_t t = 0; t < got.logprobs[i].size(); ++t) {
          EXPECT_EQ(got.logprobs[i][t].logprob, want.logprobs[i][t].logprob);
          EXPECT_EQ(got.logprobs[i][t].top, want.logprobs[i][t].top);
        }
      }
      prompt.insert(prompt.end(), got.ids[0].begin(), got.ids[0].end());
      const auto more = m.tokenizer->Encode(" And then", false);
      prompt.insert(prompt.end(), more.begin(), more.end());
    }
    EXPECT_GT(reusing.stats().cached_tokens, 0);
    EXPECT_LT(reusing.stats().prefill_tokens, plain.stats().prefill_tokens);
    EXPECT_GT(reusing.metrics().prompt_cache_bytes, 0);
    EXPECT_EQ(plain.metrics().prompt_cache_bytes, 0);
  }
}

}  // namespace
}  // namespace talkie::generate
