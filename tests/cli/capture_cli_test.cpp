// End-to-end tests of `talkie capture`: resid_post against `talkie forward
// --hidden-states` bit for bit, shards and --shard slices that concatenate to
// the one-shard whole run byte for byte, --positions last, bf16 rounding,
// text documents, the manifest, and one-line errors / the --out guard.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../model/fixtures.h"
#include "cli_pty.h"
#include "cli_util.h"
#include "io/tensor_store.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::kBundled;
using testing::RunTalkie;

const std::string kSmall = testing::ModelFixtureDir() + "/models/small";  // 4 blocks, 256 wide

std::string Temp(const std::string& name) {
  return ::testing::TempDir() + "talkie_capture_" + name;
}

// A fresh (missing) output folder.
std::string OutDir(const std::string& name) {
  const std::string dir = Temp(name);
  fs::remove_all(dir);
  return dir;
}

json Manifest(const std::string& dir) {
  std::ifstream in(dir + "/manifest.json");
  return json::parse(in);
}

void Capture(const std::string& args) {
  const auto r = RunTalkie("capture " + args);
  ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
}

std::string Bytes(const io::TensorView& t) {
  return std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
}

// Every tensor of every shard of a capture folder, in shard order: row
// tensors (and token_ids) concatenated along their first axis, doc_offsets
// rebased into one [docs + 1] list, per-document tensors by name.
struct Joined {
  std::map<std::string, std::string> bytes;
  std::map<std::string, std::vector<int64_t>> shape;
  std::vector<int64_t> doc_offsets{0};
  size_t shards = 0;
};

Joined Join(const std::vector<std::string>& dirs) {
  Joined j;
  for (const std::string& dir : dirs) {
    const json manifest = Manifest(dir);
    for (const json& s : manifest["shards"]) {
      const io::TensorStore store = io::LoadSafetensors(dir + "/" + s["file"].get<std::string>());
      ++j.shards;
      for (const io::TensorView& t : store.tensors()) {
        if (t.name == "doc_offsets") {
          std::vector<int64_t> offsets(static_cast<size_t>(t.shape[0]));
          std::memcpy(offsets.data(), t.data, t.nbytes);
          const int64_t base = j.doc_offsets.back();
          for (size_t i = 1; i < offsets.size(); ++i) j.doc_offsets.push_back(base + offsets[i]);
          continue;
        }
        j.bytes[t.name] += Bytes(t);
        auto [it, fresh] = j.shape.emplace(t.name, t.shape);
        if (!fresh) it->second[0] += t.shape[0];
      }
    }
  }
  return j;
}

void ExpectSameJoined(const Joined& a, const Joined& b) {
  ASSERT_GT(a.shards, 0u);
  ASSERT_GT(b.shards, 0u);
  ASSERT_GT(a.bytes.size(), 2u);
  ASSERT_EQ(a.bytes.size(), b.bytes.size());
  for (const auto& [name, bytes] : a.bytes) {
    ASSERT_TRUE(b.bytes.count(name)) << name;
    EXPECT_EQ(a.shape.at(name), b.shape.at(name)) << name;
    EXPECT_TRUE(bytes == b.bytes.at(name)) << name << " differs";
  }
  EXPECT_EQ(a.doc_offsets, b.doc_offsets);
}

// A corpus of id documents of assorted lengths for the small model.
std::string WriteIdsCorpus(const std::string& name, int docs) {
  const std::string path = Temp(name + ".jsonl");
  std::ofstream out(path);
  for (int d = 0; d < docs; ++d) {
    json ids = json::array();
    const int len = 1 + (d * 7) % 11;
    for (int t = 0; t < len; ++t) ids.push_back((d * 131 + t * 17 + 3) % 4100);
    out << json{{"ids", ids}}.dump() << "\n";
    if (d == 2) out << "\n";  // blank lines are skipped, not documents
  }
  return path;
}

const std::string kHooks =
    "--hooks 'blocks.*.hook_resid_post,blocks.1.mlp.hook_post,blocks.2.attn.hook_pattern,"
    "ln_final.hook_normalized' ";

TEST(CaptureCliTest, SingleIdsResidPostEqualsForwardHiddenStatesBitForBit) {
  const std::string ids = "5,17,300,2,9,4000,12,8,1,1,77";
  const std::string forward = Temp("forward.safetensors");
  const auto r = RunTalkie("forward --model " + kSmall + " --ids " + ids +
                           " --hidden-states --out " + forward);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dir = OutDir("single");
  Capture("--model " + kSmall + " --ids " + ids +
          " --hooks 'blocks.*.hook_resid_post,ln_final.hook_normalized' --out " + dir);
  const io::TensorStore f = io::LoadSafetensors(forward);
  const io::TensorStore c = io::LoadSafetensors(dir + "/shard-00000.safetensors");
  const int64_t n_layer = 4;
  for (int64_t l = 0; l + 1 < n_layer; ++l) {
    const std::string name = "blocks." + std::to_string(l) + ".hook_resid_post";
    const io::TensorView* got = c.Find(name);
    const io::TensorView* want = f.Find("hidden_states." + std::to_string(l + 1));
    ASSERT_NE(got, nullptr) << name;
    ASSERT_NE(want, nullptr);
    EXPECT_EQ(got->shape, (std::vector<int64_t>{11, 256})) << name;
    EXPECT_EQ(got->dtype, io::DType::kF32);
    EXPECT_TRUE(Bytes(*got) == Bytes(*want)) << name << " differs from hidden_states." << l + 1;
  }
  ASSERT_NE(c.Find("ln_final.hook_normalized"), nullptr);
  EXPECT_TRUE(Bytes(*c.Find("ln_final.hook_normalized")) ==
              Bytes(*f.Find("hidden_states." + std::to_string(n_layer))));
  // token_ids and doc_offsets describe the one document.
  const io::TensorView* tok = c.Find("token_ids");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->dtype, io::DType::kI32);
  std::vector<int32_t> got_ids(11);
  ASSERT_EQ(tok->nbytes, 44u);
  std::memcpy(got_ids.data(), tok->data, 44);
  EXPECT_EQ(got_ids, (std::vector<int32_t>{5, 17, 300, 2, 9, 4000, 12, 8, 1, 1, 77}));
  const io::TensorView* off = c.Find("doc_offsets");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->dtype, io::DType::kI64);
  ASSERT_EQ(off->nbytes, 16u);
  std::vector<int64_t> offsets(2);
  std::memcpy(offsets.data(), off->data, 16);
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 11}));
}

TEST(CaptureCliTest, TinyShardBudgetGivesShardsConcatenatingToTheOneShardRun) {
  const std::string corpus = WriteIdsCorpus("shards", 9);
  const std::string whole = OutDir("whole"), split = OutDir("split");
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--out " + whole);
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks +
          "--shard-tokens 7 --batch-tokens 16 --out " + split);
  const json m = Manifest(split);
  ASSERT_GT(m["shards"].size(), 2u) << m.dump(2);
  EXPECT_EQ(Manifest(whole)["shards"].size(), 1u);
  // The shards' ranges tile the documents and tokens.
  int64_t doc = 0, token = 0;
  for (const json& s : m["shards"]) {
    EXPECT_EQ(s["documents"][0], doc);
    EXPECT_EQ(s["tokens"][0], token);
    EXPECT_TRUE(fs::exists(split + "/" + s["file"].get<std::string>()));
    doc = s["documents"][1];
    token = s["tokens"][1];
  }
  EXPECT_EQ(doc, 9);
  EXPECT_EQ(m["documents"], 9);
  EXPECT_EQ(token, m["tokens"].get<int64_t>());
  EXPECT_EQ(m["tokens"], Manifest(whole)["tokens"]);
  const Joined a = Join({whole}), b = Join({split});
  EXPECT_EQ(b.shards, m["shards"].size());
  ExpectSameJoined(a, b);
  EXPECT_TRUE(a.bytes.count("blocks.2.attn.hook_pattern.doc8"));
}

TEST(CaptureCliTest, ShardSlicesZeroAndOneOfTwoTogetherEqualTheWholeRun) {
  const std::string corpus = WriteIdsCorpus("slices", 7);
  const std::string whole = OutDir("slices_whole"), s0 = OutDir("slice0"), s1 = OutDir("slice1");
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--out " + whole);
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--shard 0/2 --out " + s0);
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--shard 1/2 --out " + s1);
  const json m0 = Manifest(s0), m1 = Manifest(s1);
  EXPECT_EQ(m0["document_range"], json::array({0, 3}));
  EXPECT_EQ(m1["document_range"], json::array({3, 7}));
  EXPECT_EQ(m1["shard"]["index"], 1);
  EXPECT_EQ(m1["shard"]["count"], 2);
  EXPECT_EQ(m0["corpus"]["documents"], 7);
  EXPECT_EQ(m0["documents"].get<int64_t>() + m1["documents"].get<int64_t>(), 7);
  EXPECT_EQ(m0["tokens"].get<int64_t>() + m1["tokens"].get<int64_t>(),
            Manifest(whole)["tokens"].get<int64_t>());
  ExpectSameJoined(Join({whole}), Join({s0, s1}));
}

TEST(CaptureCliTest, EmptySliceOfMoreTasksThanDocumentsWritesAManifestWithNoShards) {
  const std::string dir = OutDir("empty_slice");
  Capture("--model " + kSmall + " --ids 1,2 --ids 3 --hooks blocks.0.hook_resid_post --shard 5/8 " +
          "--out " + dir);
  const json m = Manifest(dir);
  EXPECT_EQ(m["documents"], 0);
  EXPECT_EQ(m["shards"].size(), 0u);
  EXPECT_EQ(m["corpus"]["documents"], 2);
  EXPECT_FALSE(fs::exists(dir + "/shard-00000.safetensors"));
}

TEST(CaptureCliTest, PositionsLastEqualsTheLastRowsOfTheAllPositionsRun) {
  const std::string corpus = WriteIdsCorpus("last", 6);
  const std::string all = OutDir("all"), last = OutDir("lastonly");
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--out " + all);
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--positions last --out " +
          last);
  EXPECT_EQ(Manifest(last)["positions"], "last");
  EXPECT_EQ(Manifest(last)["rows"], 6);
  const io::TensorStore a = io::LoadSafetensors(all + "/shard-00000.safetensors");
  const io::TensorStore b = io::LoadSafetensors(last + "/shard-00000.safetensors");
  EXPECT_TRUE(Bytes(*a.Find("token_ids")) == Bytes(*b.Find("token_ids")));
  EXPECT_TRUE(Bytes(*a.Find("doc_offsets")) == Bytes(*b.Find("doc_offsets")));
  std::vector<int64_t> offsets(7);
  std::memcpy(offsets.data(), a.Find("doc_offsets")->data, 7 * 8);
  for (const io::TensorView& t : b.tensors()) {
    if (t.name == "token_ids" || t.name == "doc_offsets") continue;
    const io::TensorView* full = a.Find(t.name);
    ASSERT_NE(full, nullptr) << t.name;
    if (t.name.find("hook_pattern") != std::string::npos) {
      // [n_head, 1, len]: the last query row of [n_head, len, len].
      const int64_t heads = full->shape[0], len = full->shape[2];
      EXPECT_EQ(t.shape, (std::vector<int64_t>{heads, 1, len})) << t.name;
      for (int64_t h = 0; h < heads; ++h)
        EXPECT_EQ(std::memcmp(t.data + h * len * 4, full->data + ((h * len) + len - 1) * len * 4,
                              static_cast<size_t>(len) * 4),
                  0)
            << t.name << " head " << h;
      continue;
    }
    const int64_t width = full->shape[1];
    ASSERT_EQ(t.shape, (std::vector<int64_t>{6, width})) << t.name;
    for (int64_t d = 0; d < 6; ++d)
      EXPECT_EQ(std::memcmp(t.data + d * width * 4, full->data + (offsets[d + 1] - 1) * width * 4,
                            static_cast<size_t>(width) * 4),
                0)
          << t.name << " document " << d;
  }
}

// Round to nearest even, written out independently of the engine's helper.
uint16_t RoundToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  const uint32_t lower = bits & 0xffffu, upper = bits >> 16;
  if (lower > 0x8000u || (lower == 0x8000u && (upper & 1u)))
    return static_cast<uint16_t>(upper + 1);
  return static_cast<uint16_t>(upper);
}

TEST(CaptureCliTest, Bf16IsTheRoundToNearestEvenOfF32) {
  const std::string corpus = WriteIdsCorpus("bf16", 4);
  const std::string f32 = OutDir("f32"), bf16 = OutDir("bf16");
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--out " + f32);
  Capture("--model " + kSmall + " --jsonl " + corpus + " " + kHooks + "--dtype bf16 --out " + bf16);
  EXPECT_EQ(Manifest(bf16)["dtype"], "bf16");
  const io::TensorStore a = io::LoadSafetensors(f32 + "/shard-00000.safetensors");
  const io::TensorStore b = io::LoadSafetensors(bf16 + "/shard-00000.safetensors");
  size_t checked = 0;
  for (const io::TensorView& t : b.tensors()) {
    const io::TensorView* full = a.Find(t.name);
    ASSERT_NE(full, nullptr) << t.name;
    if (t.name == "token_ids" || t.name == "doc_offsets") {
      EXPECT_TRUE(Bytes(t) == Bytes(*full)) << t.name;
      continue;
    }
    ASSERT_EQ(t.dtype, io::DType::kBF16) << t.name;
    ASSERT_EQ(t.shape, full->shape) << t.name;
    ASSERT_EQ(t.nbytes * 2, full->nbytes) << t.name;
    const size_t n = t.nbytes / 2;
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
      float f;
      uint16_t h;
      std::memcpy(&f, full->data + 4 * i, 4);
      std::memcpy(&h, t.data + 2 * i, 2);
      bad += h != RoundToBf16(f);
    }
    EXPECT_EQ(bad, 0u) << t.name;
    checked += n;
  }
  EXPECT_GT(checked, 1000u);
}

TEST(CaptureCliTest, TextDocumentsFromFileAndJsonlAreTheirTokenIds) {
  const std::string text = "It was the best of times, it was the worst of times.";
  const std::string file = Temp("doc.txt"), jsonl = Temp("text.jsonl");
  std::ofstream(file) << text;
  std::ofstream(jsonl) << json{{"text", text}}.dump() << "\n";
  const std::string from_file = OutDir("file"), from_jsonl = OutDir("jsonl"),
                    from_ids = OutDir("ids");
  Capture("--model " + kBundled + " --file " + file + " --hooks blocks.0.hook_resid_post --out " +
          from_file);
  Capture("--model " + kBundled + " --jsonl " + jsonl + " --hooks blocks.0.hook_resid_post --out " +
          from_jsonl);
  const io::TensorStore a = io::LoadSafetensors(from_file + "/shard-00000.safetensors");
  const io::TensorStore b = io::LoadSafetensors(from_jsonl + "/shard-00000.safetensors");
  EXPECT_TRUE(Bytes(*a.Find("token_ids")) == Bytes(*b.Find("token_ids")));
  EXPECT_TRUE(Bytes(*a.Find("blocks.0.hook_resid_post")) ==
              Bytes(*b.Find("blocks.0.hook_resid_post")));
  // The same ids given as --ids capture the same rows.
  std::vector<int32_t> ids(a.Find("token_ids")->nbytes / 4);
  ASSERT_GT(ids.size(), 3u);
  std::memcpy(ids.data(), a.Find("token_ids")->data, ids.size() * 4);
  std::string list;
  for (int32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  Capture("--model " + kBundled + " --ids " + list + " --hooks blocks.0.hook_resid_post --out " +
          from_ids);
  const io::TensorStore c = io::LoadSafetensors(from_ids + "/shard-00000.safetensors");
  EXPECT_TRUE(Bytes(*a.Find("blocks.0.hook_resid_post")) ==
              Bytes(*c.Find("blocks.0.hook_resid_post")));
  EXPECT_EQ(Manifest(from_file)["corpus"]["source"], "file");
}

void ExpectOneLineError(const std::string& args, const std::string& message) {
  const auto r = RunTalkie("capture " + args);
  EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find("talkie: error: "), 0u) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
}

TEST(CaptureCliTest, BadInputsGiveOneLineErrorsAndNonZeroExit) {
  const std::string m = "--model " + kSmall + " ";
  const std::string out = " --out " + OutDir("bad");
  const std::string ok_hooks = "--hooks blocks.0.hook_resid_post ";
  ExpectOneLineError(m + "--hooks blocks.0.hook_bogus --ids 1,2" + out, "hook_bogus");
  ExpectOneLineError(m + "--hooks blocks.4.hook_resid_post --ids 1,2" + out, "out of range");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --shard 3/2" + out, "--shard 3/2");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --shard 0/0" + out, "--shard 0/0");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --shard x" + out, "--shard x");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --dtype f16" + out, "--dtype");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --positions first" + out, "--positions");
  ExpectOneLineError(m + ok_hooks + "--ids 1,99999" + out, "outside the vocabulary");
  ExpectOneLineError(m + ok_hooks + "--jsonl /nonexistent/corpus.jsonl" + out, "--jsonl");
  ExpectOneLineError(m + ok_hooks + "--file /nonexistent/doc.txt" + out, "--file");
  ExpectOneLineError(m + ok_hooks + out, "exactly one of --ids, --file or --jsonl");
  const std::string empty = Temp("empty.jsonl");
  std::ofstream(empty) << "\n\n";
  ExpectOneLineError(m + ok_hooks + "--jsonl " + empty + out, "empty corpus");
  const std::string bad_line = Temp("badline.jsonl");
  std::ofstream(bad_line) << "{\"ids\": [1, 2]}\n{\"ids\": [3]}\n{\"txt\": \"x\"}\n";
  ExpectOneLineError(m + ok_hooks + "--jsonl " + bad_line + out, "line 3");
  const std::string not_json = Temp("notjson.jsonl");
  std::ofstream(not_json) << "{\"ids\": [1, 2]}\nnot json\n";
  ExpectOneLineError(m + ok_hooks + "--jsonl " + not_json + out, "line 2: not valid JSON");
  const std::string too_long = Temp("toolong.jsonl");
  {
    json ids = json::array();
    for (int i = 0; i < 2049; ++i) ids.push_back(i % 100);
    std::ofstream(too_long) << json{{"ids", ids}}.dump() << "\n";
  }
  ExpectOneLineError(m + ok_hooks + "--jsonl " + too_long + out, "the model's context is 2048");
  ExpectOneLineError(m + ok_hooks + "--ids 1,2 --out " + kSmall, "folder of the input model");
}

TEST(CaptureCliTest, OutOverAnUnrelatedNonEmptyFolderIsRefusedAndNothingDeleted) {
  const std::string dir = OutDir("user_data");
  fs::create_directories(dir);
  std::ofstream(dir + "/notes.txt") << "precious";
  std::ofstream(dir + "/shard-00000.safetensors") << "not ours";
  const std::string args =
      "--model " + kSmall + " --hooks blocks.0.hook_resid_post --ids 1,2,3 --out " + dir;
  ExpectOneLineError(args, "not a `talkie capture` output");
  EXPECT_EQ(testing::ReadFileBytes(dir + "/notes.txt"), "precious");
  EXPECT_EQ(testing::ReadFileBytes(dir + "/shard-00000.safetensors"), "not ours");
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 2u);
  // With --force it writes its files there and leaves the others alone.
  Capture(args + " --force");
  EXPECT_EQ(testing::ReadFileBytes(dir + "/notes.txt"), "precious");
  EXPECT_TRUE(fs::exists(dir + "/manifest.json"));
}

TEST(CaptureCliTest, RerunIntoAnEarlierCaptureReplacesItAndRemovesStaleShards) {
  const std::string corpus = WriteIdsCorpus("rerun", 5);
  const std::string dir = OutDir("rerun");
  const std::string base =
      "--model " + kSmall + " --jsonl " + corpus + " --hooks blocks.0.hook_resid_post ";
  Capture(base + "--shard-tokens 3 --out " + dir);
  const size_t before = Manifest(dir)["shards"].size();
  ASSERT_GT(before, 2u);
  Capture(base + "--out " + dir);  // no --force needed over its own output
  EXPECT_EQ(Manifest(dir)["shards"].size(), 1u);
  size_t shards = 0;
  for (const auto& e : fs::directory_iterator(dir))
    shards += e.path().filename().string().rfind("shard-", 0) == 0;
  EXPECT_EQ(shards, 1u);
}

TEST(CaptureCliTest, ProgressBarShowsTokensPerSecondOnATerminalOnly) {
  const std::string corpus = WriteIdsCorpus("progress", 12);
  const std::string dir = OutDir("progress");
  testing::PtyProcess run({"capture", "--model", kSmall, "--jsonl", corpus, "--hooks",
                           "blocks.0.hook_resid_post", "--batch-tokens", "8", "--out", dir});
  ASSERT_EQ(run.Wait(120), 0) << run.out();
  EXPECT_NE(run.out().find("capture ["), std::string::npos) << run.out();
  EXPECT_NE(run.out().find("100% 12/12 docs"), std::string::npos) << run.out();
  EXPECT_NE(run.out().find(" tok/s, ETA "), std::string::npos) << run.out();
  // Piped: the summary line only.
  const auto piped = RunTalkie("capture --model " + kSmall + " --jsonl " + corpus +
                               " --hooks blocks.0.hook_resid_post --out " + dir);
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(piped.output.find('%'), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
  EXPECT_NE(piped.output.find("capture: 12 document(s)"), std::string::npos) << piped.output;
}

}  // namespace
}  // namespace talkie
