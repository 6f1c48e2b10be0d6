// Batched generation (see generator.h).
#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "common/error.h"
#include "model/forward.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/utf8.h"

namespace talkie::generate {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// One sequence in flight: its config, random stream, text pipeline and result.
struct Sequence {
  size_t index = 0;
  const GenerationConfig* config = nullptr;
  std::vector<int32_t> history;  // prompt + generated (repetition penalty)
  int64_t prompt_len = 0;
  model::KvCache cache;          // its own cache: no padding, no copying
  Rng rng;
  tokenizer::Utf8StreamDecoder utf8;
  std::unique_ptr<tokenizer::StopFilter> stop;
  SequenceResult result;
  bool done = false;
};

}  // namespace

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopToken: return "stop_token";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "?";
}

Generator::Generator(const model::Model& model, const tokenizer::Tokenizer& tokenizer)
    : model_(model), tokenizer_(tokenizer) {
  Check(tokenizer.vocab_size() <= model.config().vocab_size,
        "tokenizer has " + std::to_string(tokenizer.vocab_size()) + " ids but the model only " +
            std::to_string(model.config().vocab_size));
}

std::vector<int32_t> Generator::DefaultStopTokenIds() const {
  std::vector<int32_t> ids;
  for (const char* name : {"<|endoftext|>", "<|end|>"})
    if (auto id = tokenizer_.SpecialTokenId(name)) ids.push_back(*id);
  return ids;
}

std::vector<SequenceResult> Generator::Generate(const std::vector<std::vector<int32_t>>& prompts,
                                                const std::vector<GenerationConfig>& configs,
                                                const TextCallback& on_text, GenerationStats* stats,
                                                int64_t prefill_chunk) {
  const model::ModelConfig& mc = model_.config();
  Check(!prompts.empty(), "generate: no prompt given");
  Check(configs.size() == 1 || configs.size() == prompts.size(),
        "generate: give one config, or one per prompt (" + std::to_string(prompts.size()) + ")");
  const int64_t context = mc.max_position_embeddings;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Check(!prompts[i].empty(), "prompt " + std::to_string(i) + " is empty");
    Check(static_cast<int64_t>(prompts[i].size()) < context,
          "prompt " + std::to_string(i) + " has " + std::to_string(prompts[i].size()) +
              " tokens; the context limit is " + std::to_string(context) + " (one more is needed to generate)");
  }
  for (const GenerationConfig& c : configs) {
    ValidateSamplingConfig(c.sampling);
    Check(c.max_new_tokens >= 0, "max_new_tokens must be >= 0, got " + std::to_string(c.max_new_tokens));
  }
  const std::vector<int32_t> default_stops = DefaultStopTokenIds();

  std::vector<Sequence> seqs(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    Sequence& s = seqs[i];
    s.index = i;
    s.config = &configs[configs.size() == 1 ? 0 : i];
    s.history = prompts[i];
    s.prompt_len = static_cast<int64_t>(prompts[i].size());
    s.cache = model::KvCache(mc, 1);
    s.rng = Rng(s.config->sampling.seed);
    s.stop = std::make_unique<tokenizer::StopFilter>(s.config->stop_strings);
    s.result.prompt_tokens = s.prompt_len;
  }
  GenerationStats local_stats;
  GenerationStats& st = stats ? *stats : local_stats;
  for (const auto& p : prompts) st.prompt_tokens += static_cast<int64_t>(p.size());

  auto emit = [&](Sequence& s, const std::string& piece) {
    if (piece.empty()) return;
    s.result.text += piece;
    if (on_text && !on_text(s.index, piece)) {
      s.result.finish = FinishReason::kCancelled;
      s.done = true;
    }
  };
  auto finish = [&](Sequence& s, FinishReason reason) {
    s.done = true;
    s.result.finish = reason;
    // After a stop string the rest is cut; after a cancel nothing more is sent.
    if (reason == FinishReason::kStopString || reason == FinishReason::kCancelled) return;
    std::string tail = s.stop->Push(s.utf8.Flush());
    if (!s.stop->stopped()) tail += s.stop->Flush();
    if (s.stop->stopped()) {
      s.result.finish = FinishReason::kStopString;
      s.result.stop_string = s.stop->matched();
    }
    emit(s, tail);
  };
  // Samples the next token of `s` from its logits row and updates its state.
  auto step = [&](Sequence& s, std::span<float> logits) {
    if (processor_) processor_(s.index, logits);
    if (s.config->max_new_tokens == 0) {
      finish(s, FinishReason::kLength);
      return;
    }
    const int32_t id = SampleToken(logits, s.config->sampling, s.history, s.rng);
    ++st.generated_tokens;
    const auto& stops = s.config->stop_token_ids ? *s.config->stop_token_ids : default_stops;
    if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
      finish(s, FinishReason::kStopToken);
      return;
    }
    s.result.ids.push_back(id);
    s.history.push_back(id);
    emit(s, s.stop->Push(s.utf8.Feed(tokenizer_.TokenBytes(id))));
    if (s.done) return;  // cancelled by the callback
    if (s.stop->stopped()) {
      s.result.stop_string = s.stop->matched();
      finish(s, FinishReason::kStopString);
    } else if (static_cast<int64_t>(s.result.ids.size()) >= s.config->max_new_tokens ||
               s.cache.length() >= context) {
      finish(s, FinishReason::kLength);
    }
  };

  // Every step feeds each unfinished sequence either its next prompt chunk or
  // its last sampled token, all in one ragged forward; sequences whose prompt
  // is complete get logits and sample. Finished ones simply leave.
  const int64_t chunk = prefill_chunk > 0 ? prefill_chunk : context;
  const int64_t vocab = mc.vocab_size;
  while (true) {
    std::vector<model::SequenceStep> steps;
    std::vector<Sequence*> fed;
    bool prefilling = false;
    for (Sequence& s : seqs) {
      if (s.done) continue;
      model::SequenceStep item;
      item.cache = &s.cache;
      const int64_t cached = s.cache.length();
      if (cached < s.prompt_len) {
        const int64_t n = std::min(chunk, s.prompt_len - cached);
        item.ids.assign(s.history.begin() + cached, s.history.begin() + cached + n);
        item.logits = cached + n == s.prompt_len ? model::LogitsFor::kLast : model::LogitsFor::kNone;
        prefilling = true;
      } else {
        item.ids = {s.result.ids.back()};
      }
      steps.push_back(std::move(item));
      fed.push_back(&s);
    }
    if (steps.empty()) break;
    const auto t = Clock::now();
    std::vector<std::vector<float>> logits = model::ForwardRagged(model_, steps);
    (prefilling ? st.prefill_seconds : st.decode_seconds) += Seconds(t);
    for (size_t i = 0; i < fed.size(); ++i)
      if (!logits[i].empty()) step(*fed[i], std::span<float>(logits[i].data(), vocab));
  }

  std::vector<SequenceResult> results;
  for (Sequence& s : seqs) results.push_back(std::move(s.result));
  return results;
}

}  // namespace talkie::generate
