// GGUF reader: a written file reads back; every malformed header, value,
// tensor entry and truncation is an Error naming the problem, never a crash.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "common/error.h"
#include "io/gguf.h"

namespace talkie::io {
namespace {

std::vector<std::byte> Bytes(size_t n, uint8_t first) {
  std::vector<std::byte> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(first + i);
  return b;
}

std::vector<GgufEntry> SampleMetadata() {
  GgufEntry ints{"talkie.block_count", {}};
  ints.value.type = GgufType::kArray;
  ints.value.element_type = GgufType::kInt32;
  ints.value.ints = {1, -2, 3};
  GgufEntry flag{"general.flag", {}};
  flag.value.type = GgufType::kBool;
  flag.value.b = true;
  return {GgufString("general.architecture", "talkie"),
          GgufUint32("talkie.embedding_length", 64),
          GgufFloat32("talkie.attention.layer_norm_rms_epsilon", 1.1920929e-07f),
          GgufStringArray("tokenizer.ggml.tokens", {"a", "", "<|endoftext|>"}),
          ints,
          flag};
}

std::vector<GgufTensorToWrite> SampleTensors() {
  return {{"token_embd.weight", {64, 3}, 0, Bytes(64 * 3 * 4, 1)},    // F32 [3, 64]
          {"blk.0.attn_q.weight", {64, 2}, 8, Bytes(2 * 2 * 34, 7)},  // Q8_0: 2 blocks per row
          {"output.weight", {64, 3}, 30, Bytes(64 * 3 * 2, 9)}};      // BF16
}

GgufFile Parse(const std::string& s) {
  return ParseGguf(reinterpret_cast<const std::byte*>(s.data()), s.size(), "test.gguf");
}

std::string ErrorOf(const std::string& s) {
  try {
    Parse(s);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

template <typename T>
void Poke(std::string& s, size_t at, T v) {
  std::memcpy(&s[at], &v, sizeof(T));
}

TEST(GgufTest, WrittenFileReadsBack) {
  const std::string s = SerializeGguf(SampleMetadata(), SampleTensors());
  const GgufFile f = Parse(s);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.GetString("general.architecture"), "talkie");
  EXPECT_EQ(f.GetUint("talkie.embedding_length"), 64u);
  EXPECT_FLOAT_EQ(static_cast<float>(f.GetFloat("talkie.attention.layer_norm_rms_epsilon")),
                  1.1920929e-07f);
  EXPECT_EQ(f.Find("tokenizer.ggml.tokens")->strings,
            (std::vector<std::string>{"a", "", "<|endoftext|>"}));
  EXPECT_EQ(f.Find("talkie.block_count")->ints, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_TRUE(f.Find("general.flag")->b);
  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensor* q = f.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_STREQ(q->type->name, "Q8_0");
  EXPECT_EQ(q->nbytes, 2u * 2 * 34);
  EXPECT_EQ(q->dims, (std::vector<int64_t>{64, 2}));
  EXPECT_EQ(static_cast<uint8_t>(q->data[0]), 7);
  EXPECT_EQ(q->offset % 32, 0u);
  const GgufTensor* out = f.FindTensor("output.weight");
  EXPECT_EQ(static_cast<uint8_t>(out->data[out->nbytes - 1]),
            static_cast<uint8_t>(9 + out->nbytes - 1));
  EXPECT_THROW(f.GetUint("general.architecture"), Error);
  EXPECT_THROW(f.GetString("missing.key"), Error);
}

TEST(GgufTest, EveryTruncationIsAnError) {
  const std::string s = SerializeGguf(SampleMetadata(), SampleTensors());
  for (size_t n = 0; n < s.size(); ++n)
    EXPECT_THROW(Parse(s.substr(0, n)), Error) << "prefix of " << n << " bytes";
}

TEST(GgufTest, BadHeadersAreNamed) {
  const std::string good = SerializeGguf(SampleMetadata(), SampleTensors());
  std::string s = good;
  s[0] = 'X';
  EXPECT_NE(ErrorOf(s).find("not a GGUF file"), std::string::npos);
  s = good;
  Poke<uint32_t>(s, 4, 1);
  EXPECT_NE(ErrorOf(s).find("version 1"), std::string::npos);
  s = good;
  Poke<uint32_t>(s, 4, 3u << 24);  // version 3 written big-endian
  EXPECT_NE(ErrorOf(s).find("big-endian"), std::string::npos);
  s = good;
  Poke<uint64_t>(s, 8, uint64_t{1} << 60);  // tensor count
  EXPECT_NE(ErrorOf(s).find("tensor count"), std::string::npos);
  s = good;
  Poke<uint64_t>(s, 16, uint64_t{1} << 60);  // metadata count
  EXPECT_NE(ErrorOf(s).find("metadata count"), std::string::npos);
}

TEST(GgufTest, BadValuesAreNamed) {
  auto with = [](std::vector<GgufEntry> md) { return SerializeGguf(md, {}); };
  std::string s = with({GgufUint32("general.alignment", 64)});  // the writer refuses 48
  Poke<uint32_t>(s, 24 + 8 + 17 + 4, 48);
  EXPECT_NE(ErrorOf(s).find("power of two"), std::string::npos);
  s = with({GgufString("a", "x"), GgufString("a", "y")});
  EXPECT_NE(ErrorOf(s).find("twice"), std::string::npos);
  // Unknown value type, nested array, bad bool, array count past the end.
  const std::string base = with({GgufUint32("key", 5)});
  const size_t type_at = 24 + 8 + 3;  // header, key length, "key"
  s = base;
  Poke<uint32_t>(s, type_at, 13);
  EXPECT_NE(ErrorOf(s).find("unknown value type 13"), std::string::npos);
  s = base;
  Poke<uint32_t>(s, type_at, 9);
  Poke<uint32_t>(s, type_at + 4, 9);
  EXPECT_NE(ErrorOf(s).find("nested"), std::string::npos);
  s = base;
  Poke<uint32_t>(s, type_at, 7);
  Poke<uint8_t>(s, type_at + 4, 2);
  EXPECT_NE(ErrorOf(s).find("bool"), std::string::npos);
  s = base + std::string(8, '\0');
  Poke<uint32_t>(s, type_at, 9);
  Poke<uint32_t>(s, type_at + 4, 8);  // array of strings
  Poke<uint64_t>(s, type_at + 8, uint64_t{1} << 40);
  EXPECT_NE(ErrorOf(s).find("does not fit"), std::string::npos);
  s = base;
  Poke<uint64_t>(s, 24, uint64_t{1} << 50);  // key length
  EXPECT_NE(ErrorOf(s).find("truncated"), std::string::npos);
}

TEST(GgufTest, BadTensorEntriesAreNamed) {
  auto one = [](std::vector<int64_t> dims, uint32_t type, size_t bytes) {
    return SerializeGguf({}, {{"w", std::move(dims), type, Bytes(bytes, 0)}});
  };
  EXPECT_NE(ErrorOf(one({64, 2}, 99, 64)).find("unknown tensor type 99"), std::string::npos);
  EXPECT_NE(ErrorOf(one({48, 2}, 8, 3 * 34)).find("not a multiple"), std::string::npos);
  EXPECT_NE(ErrorOf(one({0, 2}, 0, 0)).find("dimension 0 is 0"), std::string::npos);
  EXPECT_NE(ErrorOf(one({1, 1, 1, 1, 1}, 0, 4)).find("5 dimensions"), std::string::npos);
  EXPECT_NE(ErrorOf(one({64, 2}, 0, 64)).find("runs past the end"), std::string::npos);
  // A misaligned offset and overlapping tensors.
  std::string s = SerializeGguf({}, {{"a", {8}, 0, Bytes(32, 0)}, {"b", {8}, 0, Bytes(32, 0)}});
  const size_t offset_b = 24 + (8 + 1 + 4 + 8 + 4 + 8) + (8 + 1 + 4 + 8 + 4);
  std::string mis = s;
  Poke<uint64_t>(mis, offset_b, 4);
  EXPECT_NE(ErrorOf(mis).find("not aligned"), std::string::npos);
  std::string overlap = s;
  Poke<uint64_t>(overlap, offset_b, 0);
  EXPECT_NE(ErrorOf(overlap).find("overlap"), std::string::npos);
  s = SerializeGguf({}, {{"a", {8}, 0, Bytes(32, 0)}, {"a", {8}, 0, Bytes(32, 0)}});
  EXPECT_NE(ErrorOf(s).find("twice"), std::string::npos);
}

TEST(GgufTest, KnowsTheBlockSizesOfTheTypesTalkieFilesUse) {
  for (auto [id, elems, bytes] :
       {std::tuple{8u, 32, 34}, std::tuple{2u, 32, 18}, std::tuple{12u, 256, 144},
        std::tuple{14u, 256, 210}, std::tuple{13u, 256, 176}, std::tuple{20u, 32, 18},
        std::tuple{30u, 1, 2}}) {
    const GgmlTypeInfo* t = FindGgmlType(id);
    ASSERT_NE(t, nullptr) << id;
    EXPECT_EQ(t->block_elems, elems) << t->name;
    EXPECT_EQ(t->block_bytes, bytes) << t->name;
  }
  EXPECT_EQ(FindGgmlType(4), nullptr);  // removed Q4_2
}

}  // namespace
}  // namespace talkie::io
