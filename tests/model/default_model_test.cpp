// The bundled default model (models/talkie-tiny-1930): the engine reproduces
// the trainer's own float32 logits on a held-out passage, so the trainer and
// the engine cannot silently disagree.
#include "fixtures.h"
#include "model/forward.h"

namespace talkie {
namespace {

TEST(DefaultModelTest, EngineReproducesTrainerLogits) {
  const auto m = model::Model::Load(TALKIE_DEFAULT_MODEL_DIR);
  EXPECT_EQ(m->config().vocab_size, 4101);
  EXPECT_TRUE(m->info().unknown_tensors.empty());
  const io::TensorStore cc =
      io::LoadSafetensors(testing::DataDir() + "/tiny1930/crosscheck.safetensors");
  const std::vector<int32_t> ids = testing::IdsOf(*cc.Find("input_ids"));
  ASSERT_GE(ids.size(), 32u);
  const model::ForwardOutput out = model::ForwardSequence(*m, ids);
  EXPECT_TRUE(testing::CloseToReference(out.logits, testing::FloatsOf(*cc.Find("logits")),
                                        "crosscheck logits"));
}

}  // namespace
}  // namespace talkie
