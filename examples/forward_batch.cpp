// The research forward pass: two prompts of different lengths as one
// left-padded batch, with hidden states and attention maps. Prints each
// layer's residual-stream norm at every real token and the top next token.
//
//   forward_batch [MODEL_PATH]
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <talkie/talkie.h>

int main(int argc, char** argv) {
  try {
    const talkie::Model model = talkie::Model::Load(argc > 1 ? argv[1] : "");
    const talkie::Tokenizer tokenizer = talkie::Tokenizer::ForModel(model);
    const std::vector<std::vector<int32_t>> prompts = {tokenizer.Encode("In the beginning God"),
                                                       tokenizer.Encode("The king")};

    // Left-pad to the longest prompt; the mask hides the padding, and
    // position ids are derived from it (cumsum(mask) - 1).
    const int64_t len = static_cast<int64_t>(std::max(prompts[0].size(), prompts[1].size()));
    std::vector<int32_t> ids;
    std::vector<uint8_t> mask;
    for (const auto& p : prompts) {
      const int64_t pad = len - static_cast<int64_t>(p.size());
      for (int64_t j = 0; j < len; ++j) {
        ids.push_back(j < pad ? 0 : p[j - pad]);
        mask.push_back(j < pad ? 0 : 1);
      }
    }
    talkie::ForwardRequest request;
    request.input_ids = talkie::Tensor<int32_t>({2, len}, ids);
    request.attention_mask = talkie::Tensor<uint8_t>({2, len}, mask);
    request.output_hidden_states = true;
    request.output_attentions = true;
    const talkie::ForwardResult out = model.Forward(request);

    const talkie::ModelConfig& c = model.config();
    std::printf("logits %s, %zu hidden states %s, %zu attention maps %s\n",
                talkie::Tensor<float>::ShapeString(out.logits.shape()).c_str(),
                out.hidden_states.size(),
                talkie::Tensor<float>::ShapeString(out.hidden_states[0].shape()).c_str(),
                out.attentions.size(),
                talkie::Tensor<float>::ShapeString(out.attentions[0].shape()).c_str());
    for (int64_t b = 0; b < 2; ++b) {
      std::printf("prompt %lld:\n", static_cast<long long>(b));
      for (size_t layer = 0; layer < out.hidden_states.size(); ++layer) {
        const float* h = &out.hidden_states[layer].at({b, len - 1, 0});
        double norm = 0;
        for (int64_t i = 0; i < c.n_embd; ++i) norm += h[i] * h[i];
        std::printf("  hidden_states[%zu] |h| at the last token = %.3f\n", layer, std::sqrt(norm));
      }
      const float* row = &out.logits.at({b, len - 1, 0});
      int32_t best = 0;
      for (int32_t v = 1; v < c.vocab_size; ++v)
        if (row[v] > row[best]) best = v;
      std::printf("  next token: %d '%s'\n", best, tokenizer.TokenBytes(best).c_str());
    }
  } catch (const talkie::Error& e) {
    std::fprintf(stderr, "forward_batch: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
