// GgufTokenizerMetadata (see gguf_metadata.h).
#include "tokenizer/gguf_metadata.h"

#include <string>

#include "common/error.h"
#include "tokenizer/vocab.h"

namespace talkie::tokenizer {
namespace {

// llama_token_type values.
constexpr int64_t kNormal = 1, kControl = 3, kUnused = 5;

// The two parts token `rank` splits into when its bytes are byte-pair
// encoded with only lower ranks (lowest rank first, leftmost on ties, as the
// encoder merges); empty when that does not end in exactly two parts.
std::vector<std::string_view> LastMerge(const RankMap& ranks, int32_t rank) {
  const std::string_view bytes = ranks.Bytes(rank);
  std::vector<std::string_view> parts;
  for (size_t i = 0; i < bytes.size(); ++i) parts.push_back(bytes.substr(i, 1));
  while (parts.size() > 2) {
    int32_t best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const int32_t r = ranks.Find(parts[i].data(), parts[i].size() + parts[i + 1].size());
      if (r >= 0 && r < rank && (best < 0 || r < best)) best = r, at = i;
    }
    if (best < 0) return {};
    parts[at] = std::string_view(parts[at].data(), parts[at].size() + parts[at + 1].size());
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  return parts.size() == 2 ? parts : std::vector<std::string_view>{};
}

}  // namespace

// The IT chat template (spec §4) in the Jinja form llama.cpp and
// Transformers read: each message as <|role|>content<|end|>, then
// <|assistant|> when a reply is asked for.
const char* const kItChatTemplate =
    "{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + "
    "'<|end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

std::vector<io::GgufEntry> GgufTokenizerMetadata(const Tokenizer& tokenizer, int64_t n_vocab) {
  Check(n_vocab >= tokenizer.vocab_size(),
        "gguf tokenizer: the model has " + std::to_string(n_vocab) + " embedding rows but the " +
            "tokenizer uses " + std::to_string(tokenizer.vocab_size()) + " ids");
  const RankMap& ranks = tokenizer.ranks();
  io::GgufEntry tokens = io::GgufStringArray("tokenizer.ggml.tokens", {});
  io::GgufEntry types{"tokenizer.ggml.token_type", {}};
  types.value.type = io::GgufType::kArray;
  types.value.element_type = io::GgufType::kInt32;
  std::vector<std::string> merges;
  for (int64_t id = 0; id < n_vocab; ++id) {
    const auto i = static_cast<int32_t>(id);
    if (ranks.Has(i)) {
      tokens.value.strings.push_back(BytesToByteLevel(ranks.Bytes(i)));
      types.value.ints.push_back(kNormal);
      if (ranks.Bytes(i).size() < 2) continue;
      const std::vector<std::string_view> parts = LastMerge(ranks, i);
      Check(parts.size() == 2, "gguf tokenizer: token " + std::to_string(id) +
                                   " is not the merge of two lower-ranked tokens");
      merges.push_back(BytesToByteLevel(parts[0]) + " " + BytesToByteLevel(parts[1]));
      continue;
    }
    tokens.value.strings.push_back("[PAD" + std::to_string(id) + "]");
    types.value.ints.push_back(kUnused);
  }
  for (const SpecialToken& s : tokenizer.special_tokens()) {
    if (s.id < 0 || s.id >= n_vocab) continue;
    tokens.value.strings[static_cast<size_t>(s.id)] = s.text;
    types.value.ints[static_cast<size_t>(s.id)] = kControl;
  }
  std::vector<io::GgufEntry> out = {
      io::GgufString("tokenizer.ggml.model", "gpt2"),
      io::GgufString("tokenizer.ggml.pre", "talkie"), std::move(tokens), std::move(types),
      io::GgufStringArray("tokenizer.ggml.merges", std::move(merges))};
  const std::optional<int32_t> eot = tokenizer.SpecialTokenId("<|endoftext|>");
  const std::optional<int32_t> end = tokenizer.SpecialTokenId("<|end|>");
  if (eot)
    out.push_back(io::GgufUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*eot)));
  if (end || eot)
    out.push_back(
        io::GgufUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(end ? *end : *eot)));
  if (end && eot)  // IT: <|endoftext|> ends generation too
    out.push_back(io::GgufUint32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(*eot)));
  if (tokenizer.style() == Style::kIt)
    out.push_back(io::GgufString("tokenizer.chat_template", kItChatTemplate));
  return out;
}

}  // namespace talkie::tokenizer
