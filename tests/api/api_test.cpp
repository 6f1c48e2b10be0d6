// The public API (include/talkie/) as a library user sees it: linked against
// libtalkie itself, including nothing from src/ but the io reader for the
// oracle's files. Checks the reference outputs, the inference contract
// (cache, padding, masks, hidden states), generation, errors and settings.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "io/tensor_store.h"
#include "talkie/talkie.h"

namespace talkie {
namespace {

std::string ModelDir(const std::string& name) {
  return std::string(TALKIE_TEST_DATA_DIR) + "/model/models/" + name;
}
std::string ExpectedFile(const std::string& model, const std::string& c) {
  return std::string(TALKIE_TEST_DATA_DIR) + "/model/expected/" + model + "/" + c + ".safetensors";
}

std::vector<float> FloatsOf(const io::TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = io::ElementAsFloat(t, static_cast<int64_t>(i));
  return v;
}
std::vector<int32_t> IdsOf(const io::TensorView& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x;
    std::memcpy(&x, t.data + 8 * i, 8);
    v[i] = static_cast<int32_t>(x);
  }
  return v;
}

// The project's reference tolerance: max |a - b| <= 1e-4 * max(1, max |ref|).
::testing::AssertionResult Close(const float* ours, const std::vector<float>& ref) {
  float max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    const float d = std::fabs(ours[i] - ref[i]);
    if (!(d <= max_diff)) max_diff = d;
  }
  if (max_diff <= 1e-4f * std::max(1.0f, max_ref)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max diff " << max_diff;
}

bool SameBytes(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

ForwardRequest Request(const std::vector<int32_t>& ids) {
  ForwardRequest r;
  r.input_ids = Tensor<int32_t>({1, static_cast<int64_t>(ids.size())}, ids);
  return r;
}

TEST(ApiModel, ForwardMatchesReferenceLogitsHiddenStatesAndAttentions) {
  const Model model = Model::Load(ModelDir("tiny"));
  const io::TensorStore expected = io::LoadSafetensors(ExpectedFile("tiny", "len17"));
  ForwardRequest req = Request(IdsOf(*expected.Find("input_ids")));
  req.output_hidden_states = req.output_attentions = true;
  const ForwardResult out = model.Forward(req);
  const int64_t n = req.input_ids.dim(1);
  EXPECT_EQ(out.logits.shape(), (std::vector<int64_t>{1, n, model.config().vocab_size}));
  EXPECT_TRUE(Close(out.logits.data(), FloatsOf(*expected.Find("logits"))));
  ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(model.config().n_layer + 1));
  ASSERT_EQ(out.attentions.size(), static_cast<size_t>(model.config().n_layer));
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    EXPECT_EQ(out.hidden_states[i].shape(), (std::vector<int64_t>{1, n, model.config().n_embd}));
    EXPECT_TRUE(Close(out.hidden_states[i].data(),
                      FloatsOf(*expected.Find("hidden_states." + std::to_string(i)))));
  }
  for (size_t l = 0; l < out.attentions.size(); ++l) {
    EXPECT_EQ(out.attentions[l].shape(), (std::vector<int64_t>{1, model.config().n_head, n, n}));
    EXPECT_TRUE(Close(out.attentions[l].data(),
                      FloatsOf(*expected.Find("attentions." + std::to_string(l)))));
  }
}

TEST(ApiModel, LoadsEveryLayout) {
  for (const char* name : {"tiny", "tiny-folded", "tiny-raw", "small", "wide-head"}) {
    const Model m = Model::Load(ModelDir(name));
    EXPECT_GT(m.config().n_layer, 0) << name;
    EXPECT_FALSE(m.info().checkpoint_format.empty()) << name;
  }
}

TEST(ApiModel, CachedDecodeIsBitIdenticalToOneForward) {
  const Model model = Model::Load(ModelDir("tiny"));
  const std::vector<int32_t> ids = {5, 77, 310, 42, 9, 600, 18};
  const ForwardResult whole = model.Forward(Request(ids));
  const int64_t vocab = model.config().vocab_size;

  KvCache cache = model.NewCache();
  const std::vector<int32_t> head(ids.begin(), ids.begin() + 4);
  const ForwardResult first = model.Forward(Request(head), &cache);
  EXPECT_EQ(cache.length(), 4);
  EXPECT_TRUE(SameBytes(first.logits.data(), whole.logits.data(), 4 * vocab));
  // Branch: a copy of the cache continues independently of the original.
  KvCache branch = cache.Copy();
  for (size_t t = 4; t < ids.size(); ++t) {
    const ForwardResult step = model.Forward(Request({ids[t]}), &cache);
    EXPECT_TRUE(SameBytes(step.logits.data(), whole.logits.data() + t * vocab, vocab)) << t;
  }
  EXPECT_EQ(branch.length(), 4);
  const ForwardResult rest = model.Forward(Request({ids[4], ids[5], ids[6]}), &branch);
  EXPECT_TRUE(SameBytes(rest.logits.data(), whole.logits.data() + 4 * vocab, 3 * vocab));
  // Truncate and re-feed gives the same bits again.
  cache.Truncate(5);
  const ForwardResult refeed = model.Forward(Request({ids[5]}), &cache);
  EXPECT_TRUE(SameBytes(refeed.logits.data(), whole.logits.data() + 5 * vocab, vocab));
  EXPECT_THROW(cache.Truncate(99), Error);
}

TEST(ApiModel, LeftPaddedBatchGivesEachSequenceItsReferenceOutputs) {
  const Model model = Model::Load(ModelDir("tiny"));
  const io::TensorStore expected = io::LoadSafetensors(ExpectedFile("tiny", "batch_9_4"));
  const std::vector<int32_t> a = IdsOf(*expected.Find("seq0.input_ids"));
  const std::vector<int32_t> b = IdsOf(*expected.Find("seq1.input_ids"));
  const int64_t len = static_cast<int64_t>(a.size()), pad = len - static_cast<int64_t>(b.size());
  std::vector<int32_t> ids = a;
  std::vector<uint8_t> mask(2 * len, 1);
  for (int64_t j = 0; j < len; ++j) ids.push_back(j < pad ? 999 : b[j - pad]);
  for (int64_t j = 0; j < pad; ++j) mask[len + j] = 0;
  ForwardRequest req;
  req.input_ids = Tensor<int32_t>({2, len}, ids);
  req.attention_mask = Tensor<uint8_t>({2, len}, mask);
  req.output_hidden_states = req.output_attentions = true;
  const ForwardResult out = model.Forward(req);
  const int64_t vocab = model.config().vocab_size;
  EXPECT_TRUE(Close(out.logits.data(), FloatsOf(*expected.Find("seq0.logits"))));
  EXPECT_TRUE(
      Close(out.logits.data() + (len + pad) * vocab, FloatsOf(*expected.Find("seq1.logits"))));
  // Derived positions: cumsum(mask) - 1 for the real tokens.
  EXPECT_EQ(out.position_ids.at({1, pad}), 0);
  EXPECT_EQ(out.position_ids.at({1, len - 1}), static_cast<int64_t>(b.size()) - 1);
  // The padded row's real tokens get the bits they get alone.
  const ForwardResult alone = model.Forward(Request(b));
  EXPECT_TRUE(
      SameBytes(out.logits.data() + (len + pad) * vocab, alone.logits.data(), b.size() * vocab));
  EXPECT_EQ(out.attentions[0].shape(), (std::vector<int64_t>{2, model.config().n_head, len, len}));
}

TEST(ApiModel, InputsEmbedsOfTheEmbeddingRowsGiveTheIdsLogitsBitForBit) {
  const Model model = Model::Load(ModelDir("small"));
  const Tensor<int32_t> ids({2, 4}, {11, 250, 3, 999, 42, 7, 300, 5});
  ForwardRequest by_ids;
  by_ids.input_ids = ids;
  by_ids.output_hidden_states = true;
  ForwardRequest by_embeds;
  by_embeds.inputs_embeds = model.Embed(ids);
  by_embeds.output_hidden_states = true;
  EXPECT_EQ(by_embeds.inputs_embeds.shape(), (std::vector<int64_t>{2, 4, model.config().n_embd}));
  const ForwardResult a = model.Forward(by_ids), b = model.Forward(by_embeds);
  EXPECT_TRUE(SameBytes(a.logits.data(), b.logits.data(), a.logits.size()));
  EXPECT_TRUE(
      SameBytes(a.hidden_states[2].data(), b.hidden_states[2].data(), a.hidden_states[2].size()));
  ForwardRequest both = by_embeds;
  both.input_ids = ids;
  EXPECT_THROW(model.Forward(both), Error);
  ForwardRequest narrow;
  narrow.inputs_embeds = Tensor<float>({1, 2, 7});
  EXPECT_THROW(model.Forward(narrow), Error);
  EXPECT_THROW(model.Embed(Tensor<int32_t>({1}, std::vector<int32_t>{1 << 20})), Error);
}

TEST(ApiModel, SelectedLogitsAndCacheRows) {
  const Model model = Model::Load(ModelDir("tiny"));
  ForwardRequest req = Request({3, 4, 5, 6});
  req.logits = LogitsFor::kLast;
  const ForwardResult last = model.Forward(req);
  EXPECT_EQ(last.logits.shape(), (std::vector<int64_t>{1, 1, model.config().vocab_size}));
  KvCache one = model.NewCache(1);
  model.Forward(Request({3, 4}), &one);
  KvCache three = one.SelectRows({0, 0, 0});
  EXPECT_EQ(three.batch(), 3);
  EXPECT_EQ(three.length(), 2);
  EXPECT_THROW(one.SelectRows({1}), Error);
}

TEST(ApiModel, BadInputIsAnErrorNamingIt) {
  const Model model = Model::Load(ModelDir("tiny"));
  auto message = [&](const ForwardRequest& r, KvCache* c = nullptr) -> std::string {
    try {
      model.Forward(r, c);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  ForwardRequest flat;
  flat.input_ids = Tensor<int32_t>({3}, {1, 2, 3});
  EXPECT_NE(message(flat).find("input_ids"), std::string::npos);
  ForwardRequest bad_id = Request({1, 1000000});
  EXPECT_NE(message(bad_id).find("1000000"), std::string::npos);
  ForwardRequest bad_mask = Request({1, 2});
  bad_mask.attention_mask = Tensor<uint8_t>({2, 2}, {1, 1, 1, 1});
  EXPECT_NE(message(bad_mask).find("attention_mask"), std::string::npos);
  KvCache two = model.NewCache(2);
  EXPECT_NE(message(Request({1, 2}), &two), "no error");
  EXPECT_THROW(Model::Load(ModelDir("no-such-model")), Error);
  EXPECT_THROW(Engine(EngineOptions{.threads = -1}), Error);
  EXPECT_THROW(Engine(EngineOptions{.kernel_path = "AVX9"}), Error);
  EXPECT_THROW(model.NewCache(0), Error);
  EXPECT_THROW(Tensor<float>({2, 2}, std::vector<float>{1, 2, 3}), Error);
}

TEST(ApiEngine, TwoEnginesRunSideBySideWithTheirOwnSettings) {
  const Model exact1 = Model::Load(ModelDir("small"), Engine({.threads = 1}));
  const Model exact2 = Model::Load(ModelDir("small"), Engine({.threads = 2}));
  const Model fast =
      Model::Load(ModelDir("small"),
                  Engine({.threads = 2, .policy = Policy::kFast, .kernel_path = "portable"}));
  EXPECT_EQ(fast.engine().options().policy, Policy::kFast);
  const std::vector<int32_t> ids = {11, 250, 3, 999, 42, 7, 300, 5};
  ForwardResult r1, r2, rf;
  std::thread t1([&] { r1 = exact1.Forward(Request(ids)); });
  std::thread t2([&] { r2 = exact2.Forward(Request(ids)); });
  std::thread t3([&] { rf = fast.Forward(Request(ids)); });
  t1.join();
  t2.join();
  t3.join();
  ASSERT_EQ(r1.logits.size(), r2.logits.size());
  EXPECT_TRUE(SameBytes(r1.logits.data(), r2.logits.data(), r1.logits.size()));
  EXPECT_FALSE(SameBytes(r1.logits.data(), rf.logits.data(), r1.logits.size()));
  // The fast model alone gives the same bits as it did beside the others.
  const ForwardResult again = fast.Forward(Request(ids));
  EXPECT_TRUE(SameBytes(again.logits.data(), rf.logits.data(), rf.logits.size()));
}

TEST(ApiTokenizer, EncodeDecodeChatAndSpecials) {
  const Model model = Model::Load("");  // the bundled model, found at run time
  const Tokenizer tok = Tokenizer::ForModel(model);
  const std::string text = "And it came to pass, when the king";
  const std::vector<int32_t> ids = tok.Encode(text);
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ(tok.Decode(ids), text);
  ASSERT_TRUE(tok.is_chat());
  const auto end = tok.SpecialTokenId("<|end|>");
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(tok.Encode("<|end|>", true), std::vector<int32_t>{*end});
  EXPECT_NE(tok.Encode("<|end|>", false), std::vector<int32_t>{*end});
  const std::vector<ChatMessage> chat = {{"developer", "Be brief."}, {"user", "Hello"}};
  EXPECT_EQ(tok.ApplyChatTemplate(chat),
            "<|system|>Be brief.<|end|><|user|>Hello<|end|><|assistant|>");
  EXPECT_EQ(tok.Decode(tok.EncodeChat(chat)), tok.ApplyChatTemplate(chat));
  EXPECT_THROW(tok.ApplyChatTemplate({{"robot", "x"}}), Error);
  EXPECT_THROW(tok.Decode({1 << 30}), Error);
  EXPECT_THROW(tok.Encode("\xff"), Error);
}

TEST(ApiGenerate, GreedyBatchMatchesSingleAndStreamsItsText) {
  const Model model = Model::Load("");
  const Tokenizer tok = Tokenizer::ForModel(model);
  GenerateOptions opt;
  opt.max_new_tokens = 24;
  opt.sampling.temperature = 0;
  const std::vector<int32_t> p1 = tok.Encode("And it came to pass");
  const std::vector<int32_t> p2 = tok.Encode("The king said unto");
  std::string streamed;
  const Generation alone = Generate(model, tok, p1, opt, [&](size_t i, std::string_view piece) {
    EXPECT_EQ(i, 0u);
    streamed += piece;
    return true;
  });
  EXPECT_EQ(streamed, alone.text);
  EXPECT_FALSE(alone.tokens.empty());
  const std::vector<Generation> both = Generate(model, tok, {p2, p1}, {opt});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].tokens, alone.tokens);
  EXPECT_EQ(both[1].text, alone.text);
  // Sampling with a seed reproduces itself.
  GenerateOptions sampled = opt;
  sampled.sampling = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .seed = 1234};
  EXPECT_EQ(Generate(model, tok, p1, sampled).tokens, Generate(model, tok, p1, sampled).tokens);
  // A stop string ends the text before it.
  GenerateOptions stop = opt;
  ASSERT_GE(alone.text.size(), 6u);
  stop.stop_strings = {alone.text.substr(3, 3)};
  const Generation cut = Generate(model, tok, p1, stop);
  EXPECT_EQ(cut.finish, FinishReason::kStopString);
  EXPECT_EQ(cut.text, alone.text.substr(0, 3));
}

TEST(ApiGenerate, CancelAndCallbackStop) {
  const Model model = Model::Load("");
  const Tokenizer tok = Tokenizer::ForModel(model);
  GenerateOptions opt;
  opt.max_new_tokens = 200;
  opt.stop_token_ids = std::vector<int32_t>{};  // never stop at a token
  std::stop_source source;
  int pieces = 0;
  const Generation g = Generate(
      model, tok, tok.Encode("In the beginning"), opt,
      [&](size_t, std::string_view) {
        if (++pieces == 3) source.request_stop();
        return true;
      },
      source.get_token());
  EXPECT_EQ(g.finish, FinishReason::kCancelled);
  EXPECT_LT(g.tokens.size(), 200u);
  const Generation h = Generate(model, tok, tok.Encode("In the beginning"), opt,
                                [&](size_t, std::string_view) { return false; });
  EXPECT_EQ(h.finish, FinishReason::kCancelled);
  GenerateOptions bad = opt;
  bad.sampling.top_p = 2;
  EXPECT_THROW(Generate(model, tok, tok.Encode("x"), bad), Error);
}

TEST(ApiModel, ScoreAgreesWithForwardLogits) {
  const Model model = Model::Load(ModelDir("tiny"));
  const std::vector<int32_t> ids = {5, 77, 310, 42, 9};
  const ScoreResult s = model.Score(ids);
  ASSERT_EQ(s.token_logprobs.size(), ids.size() - 1);
  const ForwardResult f = model.Forward(Request(ids));
  const int64_t vocab = model.config().vocab_size;
  double sum = 0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const float* row = f.logits.data() + t * vocab;
    double m = row[0], z = 0;
    for (int64_t v = 0; v < vocab; ++v) m = std::max(m, static_cast<double>(row[v]));
    for (int64_t v = 0; v < vocab; ++v) z += std::exp(row[v] - m);
    const double logp = row[ids[t + 1]] - m - std::log(z);
    EXPECT_NEAR(s.token_logprobs[t], logp, 1e-4);
    sum -= logp;
  }
  EXPECT_NEAR(s.mean_nll, sum / 4, 1e-4);
  EXPECT_NEAR(s.perplexity, std::exp(s.mean_nll), 1e-9);
  EXPECT_THROW(model.Score({1}), Error);
}

TEST(ApiEngine, DefaultModelPathAndVersion) {
  EXPECT_STREQ(Version(), "0.1.0");
  EXPECT_FALSE(SimdTarget().empty());
  EXPECT_NE(DefaultModelPath().find("talkie-tiny-1930"), std::string::npos);
  setenv("TALKIE_MODEL", "/nonexistent/model-dir", 1);
  try {
    DefaultModelPath();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model-dir"), std::string::npos);
  }
  unsetenv("TALKIE_MODEL");
  EXPECT_EQ(ParsePolicy("fast"), Policy::kFast);
  EXPECT_THROW(ParsePolicy("quick"), Error);
}

}  // namespace
}  // namespace talkie
