// The smallest libtalkie program: load a model (the one given, else the
// bundled one), continue a prompt greedily, print the text.
//
//   minimal [MODEL_PATH] [PROMPT]
#include <cstdio>
#include <string>

#include <talkie/talkie.h>

int main(int argc, char** argv) {
  const std::string model_path = argc > 1 ? argv[1] : "";  // "" = the bundled model
  const std::string prompt = argc > 2 ? argv[2] : "And it came to pass, when the king";
  try {
    const talkie::Model model = talkie::Model::Load(model_path);
    const talkie::Tokenizer tokenizer = talkie::Tokenizer::ForModel(model);

    talkie::GenerateOptions options;
    options.max_new_tokens = 48;
    options.sampling.temperature = 0;  // greedy

    std::printf("%s", prompt.c_str());
    const talkie::Generation g = talkie::Generate(
        model, tokenizer, tokenizer.Encode(prompt), options, [](size_t, std::string_view text) {
          std::fwrite(text.data(), 1, text.size(), stdout);  // stream as it comes
          std::fflush(stdout);
          return true;
        });
    std::printf("\n[%zu tokens, finish: %s]\n", g.tokens.size(),
                talkie::FinishReasonName(g.finish));
  } catch (const talkie::Error& e) {
    std::fprintf(stderr, "minimal: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
