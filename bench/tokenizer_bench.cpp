// Tokenizer throughput: single-thread encode MB/s on a few MB of English
// prose, with the hand-written pre-tokenizer and with PCRE2 JIT, plus the
// pre-tokenizers alone, decode, and load time.
//
// Text: the file named by $TALKIE_BENCH_TEXT if set (e.g. the KJV Bible,
// `bible -f "Gen1:1-Rev22:21" > kjv.txt` from Debian's bible-kjv), else the
// prose, prose_archaic and documents cases of the repository's cases.jsonl,
// repeated to 4 MiB.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "tokenizer/bpe.h"
#include "tokenizer/pcre2_pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

namespace tok = talkie::tokenizer;

const std::filesystem::path kDataDir =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "tests/data/tokenizer";

const std::string& Corpus() {
  static const std::string text = [] {
    std::string out;
    if (const char* path = std::getenv("TALKIE_BENCH_TEXT")) {
      out = tok::ReadFileOrThrow(path);
    } else {
      std::ifstream in(kDataDir / "cases.jsonl");
      std::string line, prose;
      while (std::getline(in, line)) {
        const auto c = nlohmann::json::parse(line);
        const std::string tag = c["tag"];
        if (tag == "prose" || tag == "prose_archaic" || tag == "documents") {
          prose += c["text"].get<std::string>() + "\n\n";
        }
      }
      while (out.size() < (4u << 20) && !prose.empty()) out += prose;
    }
    return out;
  }();
  return text;
}

const tok::Tokenizer& Tokenizer() {
  static const tok::Tokenizer* t = new tok::Tokenizer(
      tok::Tokenizer::FromVocabTxt((kDataDir / "vocab.txt").string(), tok::Style::kIt));
  return *t;
}

void BM_Encode(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Tokenizer& t = Tokenizer();
  size_t n = 0;
  for (auto _ : state) {
    auto ids = t.Encode(text, /*allow_special=*/true);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n);
  state.counters["MiB"] = static_cast<double>(text.size()) / (1 << 20);
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The same work without the per-thread piece cache: every piece that is not
// a whole token runs the merge loop (tiktoken's behaviour).
void BM_EncodeNoCache(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Tokenizer& t = Tokenizer();
  for (auto _ : state) {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 4);
    t.pretokenizer().ForEachPiece(text, [&](std::string_view piece) {
      const int32_t whole = t.ranks().Find(piece);
      if (whole >= 0) {
        ids.push_back(whole);
      } else {
        tok::BytePairEncode(piece, t.ranks(), &ids);
      }
    });
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeNoCache)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_EncodeWithPcre2(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Tokenizer& t = Tokenizer();
  const tok::Pcre2Pretokenizer pcre;
  for (auto _ : state) {
    // Same merge path as BM_EncodeNoCache, pieces from PCRE2 instead.
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 4);
    for (std::string_view piece : pcre.Split(text)) {
      const int32_t whole = t.ranks().Find(piece);
      if (whole >= 0) {
        ids.push_back(whole);
      } else {
        tok::BytePairEncode(piece, t.ranks(), &ids);
      }
    }
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeWithPcre2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_PretokenizeHandWritten(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Pretokenizer& pre = Tokenizer().pretokenizer();
  for (auto _ : state) {
    size_t pieces = 0;
    pre.ForEachPiece(text, [&](std::string_view) { ++pieces; });
    benchmark::DoNotOptimize(pieces);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_PretokenizeHandWritten)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_PretokenizePcre2(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Pcre2Pretokenizer pcre;
  for (auto _ : state) {
    auto pieces = pcre.Split(text);
    benchmark::DoNotOptimize(pieces.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_PretokenizePcre2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_Decode(benchmark::State& state) {
  const std::string& text = Corpus();
  const tok::Tokenizer& t = Tokenizer();
  const auto ids = t.Encode(text, true);
  for (auto _ : state) {
    auto bytes = t.Decode(ids);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_LoadVocabTxt(benchmark::State& state) {
  tok::UnicodeClasses::Get();  // Built once per process; measured below.
  for (auto _ : state) {
    auto t = tok::Tokenizer::FromVocabTxt((kDataDir / "vocab.txt").string(), tok::Style::kIt);
    benchmark::DoNotOptimize(&t);
  }
}
BENCHMARK(BM_LoadVocabTxt)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
