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
  std::vector<uint8_t> mask;     // attention mask over its cache slots
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
  int64_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Check(!prompts[i].empty(), "prompt " + std::to_string(i) + " is empty");
    Check(static_cast<int64_t>(prompts[i].size()) < context,
          "prompt " + std::to_string(i) + " has " + std::to_string(prompts[i].size()) +
              " tokens; the context limit is " + std::to_string(context) + " (one more is needed to generate)");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[i].size()));
  }
  for (const GenerationConfig& c : configs) {
    ValidateSamplingConfig(c.sampling);
    Check(c.max_new_tokens >= 0, "max_new_tokens must be >= 0, got " + std::to_string(c.max_new_tokens));
  }
  const std::vector<int32_t> default_stops = DefaultStopTokenIds();

  // Sequences, left-padded to the longest prompt.
  std::vector<Sequence> seqs(prompts.size());
  std::vector<int32_t> padded;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Sequence& s = seqs[i];
    s.index = i;
    s.config = &configs[configs.size() == 1 ? 0 : i];
    s.history = prompts[i];
    s.rng = Rng(s.config->sampling.seed);
    s.stop = std::make_unique<tokenizer::StopFilter>(s.config->stop_strings);
    s.result.prompt_tokens = static_cast<int64_t>(prompts[i].size());
    const int64_t pad = longest - static_cast<int64_t>(prompts[i].size());
    s.mask.assign(static_cast<size_t>(pad), 0);
    s.mask.resize(static_cast<size_t>(longest), 1);
    padded.insert(padded.end(), static_cast<size_t>(pad), 0);
    padded.insert(padded.end(), prompts[i].begin(), prompts[i].end());
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
               static_cast<int64_t>(s.mask.size()) >= context) {
      finish(s, FinishReason::kLength);
    }
  };

  // Prefill: the whole padded batch, in chunks; logits of the last slot only.
  const auto t0 = Clock::now();
  const auto batch = static_cast<int64_t>(seqs.size());
  model::KvCache cache(mc, batch);
  const int64_t chunk = prefill_chunk > 0 ? prefill_chunk : longest;
  std::vector<float> logits;
  for (int64_t start = 0; start < longest; start += chunk) {
    model::ForwardInput in;
    in.batch = batch;
    in.q_len = std::min(chunk, longest - start);
    in.allow_padding_only_rows = true;
    in.logits = start + in.q_len == longest ? model::LogitsFor::kLast : model::LogitsFor::kNone;
    for (int64_t b = 0; b < batch; ++b) {
      in.ids.insert(in.ids.end(), padded.begin() + b * longest + start, padded.begin() + b * longest + start + in.q_len);
      in.attention_mask.insert(in.attention_mask.end(), seqs[b].mask.begin(), seqs[b].mask.begin() + start + in.q_len);
    }
    logits = model::Forward(model_, cache, in).logits;
  }
  st.prefill_seconds += Seconds(t0);

  const auto t1 = Clock::now();
  const int64_t vocab = mc.vocab_size;
  std::vector<Sequence*> active;
  for (Sequence& s : seqs) active.push_back(&s);
  while (true) {
    // Choose each active sequence's next token from its row of logits.
    for (size_t r = 0; r < active.size(); ++r) step(*active[r], std::span<float>(&logits[r * vocab], vocab));
    // Drop finished rows from the batch and the cache.
    std::vector<int64_t> keep;
    std::vector<Sequence*> still;
    for (size_t r = 0; r < active.size(); ++r) {
      if (!active[r]->done) {
        keep.push_back(static_cast<int64_t>(r));
        still.push_back(active[r]);
      }
    }
    if (still.empty()) break;
    if (still.size() != active.size()) cache = cache.SelectRows(keep);
    active = std::move(still);

    model::ForwardInput in;
    in.batch = static_cast<int64_t>(active.size());
    in.q_len = 1;
    in.logits = model::LogitsFor::kLast;
    for (Sequence* s : active) {
      in.ids.push_back(s->result.ids.back());
      s->mask.push_back(1);
      in.attention_mask.insert(in.attention_mask.end(), s->mask.begin(), s->mask.end());
    }
    logits = model::Forward(model_, cache, in).logits;
  }
  st.decode_seconds += Seconds(t1);

  std::vector<SequenceResult> results;
  for (Sequence& s : seqs) results.push_back(std::move(s.result));
  return results;
}

}  // namespace talkie::generate
