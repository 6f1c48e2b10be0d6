// Tokenizer: loading from the supported files and the encode/decode loops.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace fs = std::filesystem;
namespace {

// Unique per constructed tokenizer (never reused), for PieceCache tags.
uint64_t NextTokenizerId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab, std::vector<SpecialToken> specials, Style style)
    : ranks_(vocab.tokens), specials_(std::move(specials)), style_(style), id_(NextTokenizerId()) {
  for (const SpecialToken& t : specials_) {
    Check(!t.text.empty(), "tokenizer: empty special token");
    Check(!ranks_.Has(t.id),
          "tokenizer: special token " + t.text + " reuses rank " + std::to_string(t.id));
    for (const SpecialToken& u : specials_) {
      Check(&t == &u || (t.id != u.id && t.text != u.text),
            "tokenizer: duplicate special token " + t.text);
    }
  }
}

Tokenizer Tokenizer::FromVocabTxt(const std::string& path, Style style) {
  Vocab vocab = LoadTiktokenVocab(path);
  const auto n_ranks = static_cast<int32_t>(vocab.tokens.size());
  return Tokenizer(std::move(vocab), SpecialTokensFor(style, n_ranks), style);
}

Tokenizer Tokenizer::FromTokenizerJson(const std::string& path, std::optional<Style> style) {
  return FromAddedTokens(LoadHfTokenizerJson(path), style);
}

Tokenizer Tokenizer::FromGguf(const std::string& path, std::optional<Style> style) {
  const io::GgufFile file = io::LoadGguf(path);
  Tokenizer t = FromAddedTokens(VocabFromGguf(file), style);
  const io::GgufValue* chat = file.Find("tokenizer.chat_template");
  if (chat != nullptr) t.file_chat_template_ = file.GetString("tokenizer.chat_template");
  return t;
}

Tokenizer Tokenizer::FromAddedTokens(Vocab vocab, std::optional<Style> style) {
  if (!style) {
    const bool it = std::any_of(vocab.added.begin(), vocab.added.end(),
                                [](const SpecialToken& t) { return t.text == kUser; });
    style = it ? Style::kIt : Style::kBase;
  }
  std::vector<SpecialToken> specials;
  for (const SpecialToken& want : SpecialTokensFor(*style, 0)) {
    for (const SpecialToken& t : vocab.added) {
      if (t.text == want.text) specials.push_back(t);
    }
  }
  return Tokenizer(std::move(vocab), std::move(specials), *style);
}

Tokenizer Tokenizer::FromPath(const std::string& path, std::optional<Style> style,
                              std::optional<int64_t> model_vocab) {
  fs::path file = path;
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    std::vector<fs::path> ggufs;
    for (const auto& e : fs::directory_iterator(file, ec))
      if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
    if (fs::exists(file / "vocab.txt", ec)) {
      file /= "vocab.txt";
    } else if (fs::exists(file / "tokenizer.json", ec)) {
      file /= "tokenizer.json";
    } else if (ggufs.size() == 1) {
      file = ggufs[0];  // a GGUF model carries its tokenizer
    } else {
      throw Error("tokenizer: " + path +
                  " holds no vocab.txt, tokenizer.json or single .gguf file");
    }
  }
  Check(fs::exists(file, ec), "tokenizer: " + path + " does not exist");
  if (file.extension() == ".gguf") {
    if (style || !model_vocab) return FromGguf(file.string(), style);
    Tokenizer all = FromGguf(file.string(), Style::kIt);
    return FromGguf(file.string(), StyleForVocabSize(*model_vocab, all.num_ranks()));
  }
  if (!style && !model_vocab) {
    // A model directory's config.json tells base from it by its vocab size.
    const fs::path config = file.parent_path() / "config.json";
    if (fs::exists(config, ec)) {
      nlohmann::json doc = nlohmann::json::parse(ReadFileOrThrow(config.string()), nullptr, false);
      if (doc.is_object() && doc.contains("vocab_size") && doc["vocab_size"].is_number_integer()) {
        model_vocab = doc["vocab_size"].get<int64_t>();
      }
    }
  }
  const bool json = file.extension() == ".json";
  if (json && !style && !model_vocab) return FromTokenizerJson(file.string(), std::nullopt);
  if (json) {
    Tokenizer all = FromTokenizerJson(file.string(), Style::kIt);
    if (!style) style = StyleForVocabSize(*model_vocab, all.num_ranks());
    return FromTokenizerJson(file.string(), style);
  }
  Vocab vocab = LoadTiktokenVocab(file.string());
  const auto n_ranks = static_cast<int32_t>(vocab.tokens.size());
  if (!style) style = model_vocab ? StyleForVocabSize(*model_vocab, n_ranks) : Style::kBase;
  return Tokenizer(std::move(vocab), SpecialTokensFor(*style, n_ranks), *style);
}

int64_t Tokenizer::vocab_size() const {
  int64_t size = ranks_.size();
  for (const SpecialToken& t : specials_) size = std::max<int64_t>(size, t.id + 1);
  return size;
}

void Tokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>* out) const {
  const int32_t whole = ranks_.Find(piece);
  if (whole >= 0) {
    out->push_back(whole);
    return;
  }
  if (piece.size() > PieceCache::kMaxBytes) {
    BytePairEncode(piece, ranks_, out);
    return;
  }
  PieceCache& cache = PieceCache::ForThread();
  const uint64_t hash =
      RankMap::Hash(RankMap::Head(piece.data(), piece.size()), piece.data(), piece.size());
  if (cache.Lookup(id_, hash, piece, out)) return;
  const size_t first = out->size();
  BytePairEncode(piece, ranks_, out);
  cache.Store(id_, hash, piece, out->data() + first, out->size() - first);
}

void Tokenizer::EncodeOrdinary(std::string_view text, std::vector<int32_t>* out) const {
  pretokenizer_.ForEachPiece(text, [&](std::string_view piece) { EncodePiece(piece, out); });
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool allow_special) const {
  const size_t bad = FindInvalidUtf8(text);
  Check(bad == kValidUtf8,
        "tokenizer: text to encode is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4 + 1);
  if (!allow_special || specials_.empty()) {
    EncodeOrdinary(text, &ids);
    return ids;
  }
  // next[i]: next occurrence of special i at or after pos, searched again
  // only once pos passes it, so the scan stays linear in practice.
  std::vector<size_t> next(specials_.size(), 0);
  std::vector<bool> searched(specials_.size(), false);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t best = std::string_view::npos;
    size_t best_i = 0;
    for (size_t i = 0; i < specials_.size(); ++i) {
      if (!searched[i] || (next[i] != std::string_view::npos && next[i] < pos)) {
        next[i] = text.find(specials_[i].text, pos);
        searched[i] = true;
      }
      // Leftmost match; the longest token wins at the same position.
      if (next[i] < best || (next[i] == best && next[i] != std::string_view::npos &&
                             specials_[i].text.size() > specials_[best_i].text.size())) {
        best = next[i];
        best_i = i;
      }
    }
    if (best == std::string_view::npos) {
      EncodeOrdinary(text.substr(pos), &ids);
      break;
    }
    EncodeOrdinary(text.substr(pos, best - pos), &ids);
    ids.push_back(specials_[best_i].id);
    pos = best + specials_[best_i].text.size();
  }
  return ids;
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  if (ranks_.Has(id)) return ranks_.Bytes(id);
  for (const SpecialToken& t : specials_) {
    if (t.id == id) return t.text;
  }
  throw Error("tokenizer: unknown token id " + std::to_string(id));
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += TokenBytes(id);
  return out;
}

std::optional<int32_t> Tokenizer::SpecialTokenId(std::string_view text) const {
  for (const SpecialToken& t : specials_) {
    if (t.text == text) return t.id;
  }
  return std::nullopt;
}

std::vector<int32_t> DefaultStopTokenIds(const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (std::string_view name : {kEndOfText, kEnd})
    if (auto id = tokenizer.SpecialTokenId(name)) ids.push_back(*id);
  return ids;
}

std::vector<int32_t> EndTokenIds(const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (const std::string& marker : StopFilter::ChatMarkers())
    if (auto id = tokenizer.SpecialTokenId(marker)) ids.push_back(*id);
  return ids;
}

}  // namespace talkie::tokenizer
