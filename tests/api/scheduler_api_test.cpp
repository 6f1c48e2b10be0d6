// The public scheduler (talkie/scheduler.h) as a library user sees it:
// requests submitted together from several threads get the tokens Generate
// gives each alone, also with hooks and n choices; events, stats and metrics
// add up; bad submissions are Errors.
#include <thread>

#include <gtest/gtest.h>

#include "talkie/talkie.h"

namespace talkie {
namespace {

using namespace std::chrono_literals;

struct SchedulerModelPair {
  Model model;
  Tokenizer tokenizer;
};

// The bundled IT model and its tokenizer. Loaded once.
const SchedulerModelPair& Bundled() {
  static const SchedulerModelPair p = [] {
    Model m = Model::Load(TALKIE_DEFAULT_MODEL_DIR);
    Tokenizer t = Tokenizer::ForModel(m);
    return SchedulerModelPair{std::move(m), std::move(t)};
  }();
  return p;
}

GenerateOptions Sampled(uint64_t seed, int64_t max_new_tokens) {
  GenerateOptions o;
  o.max_new_tokens = max_new_tokens;
  o.sampling.temperature = 0.9f;
  o.sampling.top_k = 40;
  o.sampling.seed = seed;
  return o;
}

// Every choice's tokens and text, and the request's finished events.
struct Drained {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::string> text;
  std::vector<FinishReason> finish;
};

Drained DrainRequest(ScheduledRequest& r) {
  Drained d;
  d.tokens.resize(r.n());
  d.text.resize(r.n());
  d.finish.resize(r.n());
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!done && std::chrono::steady_clock::now() < deadline)
    for (SequenceEvent& e : r.Wait(100ms, &done)) {
      EXPECT_TRUE(e.error.empty()) << e.error;
      d.tokens[e.index].insert(d.tokens[e.index].end(), e.ids.begin(), e.ids.end());
      d.text[e.index] += e.text;
      if (e.finished) d.finish[e.index] = e.finish;
    }
  EXPECT_TRUE(done);
  return d;
}

TEST(SchedulerApi, RequestsFromSeveralThreadsGetWhatGenerateGivesThemAlone) {
  const auto& [model, tok] = Bundled();
  const std::vector<std::string> texts = {"It was", "WIT, n.", "And it came to pass", "Behold"};
  Scheduler sched(model, tok, {.max_batch = 3, .prefill_chunk = 2});
  std::vector<Drained> got(texts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < texts.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = sched.TrySubmit(tok.Encode(texts[i]), {Sampled(10 + i, 6 + i)});
      ASSERT_NE(r, nullptr);
      got[i] = DrainRequest(*r);
    });
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < texts.size(); ++i) {
    const Generation alone = Generate(model, tok, tok.Encode(texts[i]), Sampled(10 + i, 6 + i));
    EXPECT_EQ(got[i].tokens[0], alone.tokens) << texts[i];
    EXPECT_EQ(got[i].text[0], alone.text) << texts[i];
    EXPECT_EQ(got[i].finish[0], alone.finish) << texts[i];
  }
  const SchedulerStats s = sched.stats();
  EXPECT_EQ(s.requests_total, 4);
  EXPECT_EQ(s.active_sequences, 0);
  EXPECT_LE(s.peak_active_sequences, 3);
  const SchedulerMetrics m = sched.metrics();
  EXPECT_EQ(m.time_to_first_token.count, 4u);
  EXPECT_EQ(m.step_batch_size.count, static_cast<uint64_t>(s.steps));
}

TEST(SchedulerApi, HooksAndNChoicesGiveWhatGenerateGives) {
  const auto& [model, tok] = Bundled();
  auto hooks = std::make_shared<Hooks>();
  hooks->AddVector("blocks.1.hook_resid_post",
                   std::vector<float>(static_cast<size_t>(model.config().n_embd), 0.5f));
  Scheduler sched(model, tok);
  const std::vector<int32_t> prompt = tok.Encode("In the beginning");
  auto r = sched.TrySubmit(prompt, {Sampled(3, 8), Sampled(4, 8)}, 0, false, hooks);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->n(), 2);
  const Drained got = DrainRequest(*r);
  for (int i = 0; i < 2; ++i) {
    GenerateOptions o = Sampled(3 + i, 8);
    o.hooks = hooks.get();
    EXPECT_EQ(got.tokens[i], Generate(model, tok, prompt, o).tokens) << "choice " << i;
  }
  // The same prompt again under the same hooks: from the prompt cache, same bits.
  auto again = sched.TrySubmit(prompt, {Sampled(3, 8)}, 0, false, hooks);
  const Drained second = DrainRequest(*again);
  EXPECT_GT(again->cached_tokens(), 0);
  EXPECT_EQ(second.tokens[0], got.tokens[0]);
}

TEST(SchedulerApi, LogprobsCancelAndBadSubmissions) {
  const auto& [model, tok] = Bundled();
  Scheduler sched(model, tok);
  const std::vector<int32_t> prompt = tok.Encode("It was");
  auto r = sched.TrySubmit(prompt, {Sampled(1, 3)}, /*top_logprobs=*/2, /*logprobs=*/true);
  bool done = false;
  size_t tokens = 0;
  while (!done)
    for (const SequenceEvent& e : r->Wait(100ms, &done)) {
      ASSERT_EQ(e.logprobs.size(), e.ids.size());
      for (size_t k = 0; k < e.ids.size(); ++k) {
        EXPECT_EQ(e.logprobs[k].id, e.ids[k]);
        EXPECT_LE(e.logprobs[k].logprob, 0.0f);
        EXPECT_EQ(e.logprobs[k].top.size(), 2u);
      }
      tokens += e.ids.size();
    }
  EXPECT_GT(tokens, 0u);

  GenerateOptions endless = Sampled(2, 100000);
  endless.stop_token_ids.emplace();  // runs to the context unless cancelled
  auto long_one = sched.TrySubmit(prompt, {endless});
  long_one->Cancel();
  EXPECT_EQ(DrainRequest(*long_one).finish[0], FinishReason::kCancelled);

  EXPECT_THROW(sched.TrySubmit(prompt, {}), Error);
  EXPECT_THROW(sched.TrySubmit({}, {Sampled(1, 3)}), Error);
  GenerateOptions bad = Sampled(1, 3);
  bad.sampling.temperature = -1;
  EXPECT_THROW(sched.TrySubmit(prompt, {bad}), Error);
  Hooks hooks;
  GenerateOptions with_hooks = Sampled(1, 3);
  with_hooks.hooks = &hooks;
  EXPECT_THROW(sched.TrySubmit(prompt, {with_hooks}), Error);
  EXPECT_THROW(Scheduler(model, tok, {.max_batch = 0}), Error);

  sched.Shutdown();
  EXPECT_FALSE(sched.accepting());
  EXPECT_EQ(sched.TrySubmit(prompt, {Sampled(1, 3)}), nullptr);
}

}  // namespace
}  // namespace talkie
