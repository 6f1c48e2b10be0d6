// Generation runs each sequence's hooks (GenerationConfig::hooks) on every
// step, prefill chunks and decode alike.
#include <map>

#include "../model/fixtures.h"
#include "generate/generator.h"
#include "model/forward.h"
#include "model/hooks.h"

namespace talkie {
namespace {

using model::HookCall;
using model::HookSet;

// Every call's rows of `name`, appended in call order.
void Record(HookSet& hooks, const std::string& name, std::vector<float>& into) {
  hooks.Add(
      name,
      [&into](const HookCall& call) {
        size_t n = 1;
        for (int64_t d : call.shape) n *= static_cast<size_t>(d);
        into.insert(into.end(), call.data, call.data + n);
      },
      model::HookAccess::kRead);
}

TEST(HookGeneration, GenerationStepsCallTheSequencesHooks) {
  const auto m_owner = model::Model::Load(testing::ModelFixtureDir() + "/models/small");
  const model::Model& m = *m_owner;
  const model::ModelConfig& c = m.config();
  const auto prompt = std::vector<int32_t>{3, 1, 4, 1};
  const std::string name = "blocks.1.hook_resid_post";
  HookSet hooks;
  std::vector<float> generated;
  Record(hooks, name, generated);
  generate::GenerationConfig config;
  config.max_new_tokens = 3;
  config.sampling.temperature = 0;
  config.stop_token_ids = std::vector<int32_t>{};
  config.hooks = &hooks;
  generate::Generator gen(m);
  const auto results = gen.Generate({prompt}, {config}, {}, nullptr, 2);
  // The generated sequence run as one forward shows the same rows: the last
  // sampled token is never fed, so prompt + 2 rows were computed.
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), results[0].ids.begin(), results[0].ids.end() - 1);
  HookSet one_hooks;
  std::vector<float> whole;
  Record(one_hooks, name, whole);
  model::KvCache cache(c, 1);
  model::ForwardInput in;
  in.q_len = static_cast<int64_t>(all.size());
  in.ids = all;
  in.hooks = &one_hooks;
  model::Forward(m, cache, in);
  EXPECT_EQ(generated.size(), all.size() * static_cast<size_t>(c.n_embd));
  EXPECT_TRUE(testing::BytesEqual(generated, whole));
}

}  // namespace
}  // namespace talkie
