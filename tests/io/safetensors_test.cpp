// Tests for the safetensors reader / writer: fixtures, round trip, every
// malformed-header case, and corruption sweeps over a real file.
#include <nlohmann/json.hpp>

#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

using testing::Bytes;
using testing::DataPath;
using testing::ExpectError;
using testing::TempDir;

// 8-byte length + header + `data_size` zero bytes.
std::string MakeImage(const std::string& header, size_t data_size) {
  std::string out;
  testing::PutLe(&out, header.size(), 8);
  return out + header + std::string(data_size, '\0');
}

std::vector<TensorView> Parse(const std::string& image) {
  return ParseSafetensors(Bytes(image), image.size(), "model.safetensors", nullptr);
}

TEST(Safetensors, LoadsTinyFixture) {
  const std::string path = DataPath("model/models/tiny/model.safetensors");
  TensorStore store = LoadSafetensors(path);
  ASSERT_FALSE(store.tensors().empty());
  ASSERT_EQ(store.files(), std::vector<std::string>{path});
  const TensorView* lm_head = store.Find("lm_head");
  ASSERT_NE(lm_head, nullptr);
  EXPECT_EQ(lm_head->dtype, DType::kBF16);
  EXPECT_EQ(lm_head->nbytes, static_cast<size_t>(lm_head->NumElements()) * 2);
  EXPECT_EQ(store.Find("no.such.tensor"), nullptr);
  // Views are in file order and do not overlap.
  for (size_t i = 1; i < store.tensors().size(); ++i) {
    const TensorView& a = store.tensors()[i - 1];
    EXPECT_LE(a.data + a.nbytes, store.tensors()[i].data);
  }
}

TEST(Safetensors, LoadsShardedIndex) {
  const std::string index_path = DataPath("model/models/small/model.safetensors.index.json");
  TensorStore store = LoadSafetensorsIndex(index_path);
  const auto index = nlohmann::json::parse(testing::ReadFileBytes(index_path));
  EXPECT_EQ(store.files().size(), 2u);
  EXPECT_EQ(store.tensors().size(), index["weight_map"].size());
  for (const auto& [name, shard] : index["weight_map"].items()) {
    EXPECT_NE(store.Find(name), nullptr) << name;
  }
  // Each view matches the shard file read on its own.
  TensorStore shard2 =
      LoadSafetensors(DataPath("model/models/small/model-00002-of-00002.safetensors"));
  for (const TensorView& t : shard2.tensors()) {
    const TensorView* u = store.Find(t.name);
    ASSERT_NE(u, nullptr);
    ASSERT_EQ(u->nbytes, t.nbytes);
    EXPECT_EQ(std::memcmp(u->data, t.data, t.nbytes), 0);
  }
}

TEST(Safetensors, RoundTrip) {
  TempDir dir;
  const float a[6] = {1, 2, 3, 4, 5, 6.5f};
  const float b[1] = {-7};
  std::vector<OwnedTensor> tensors = {MakeF32Tensor("z.first", {2, 3}, a),
                                      MakeF32Tensor("a.second", {1}, b),
                                      MakeF32Tensor("empty", {0, 4}, nullptr)};
  const std::string path = dir.File("out.safetensors");
  WriteSafetensors(path, tensors, {{"format", "pt"}});

  const std::string image = testing::ReadFileBytes(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, image.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);

  TensorStore store = LoadSafetensors(path);
  EXPECT_EQ(store.metadata().at("format"), "pt");
  ASSERT_EQ(store.tensors().size(), 3u);
  EXPECT_EQ(store.tensors()[0].name, "z.first");  // written order kept
  const TensorView* first = store.Find("z.first");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->shape, (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ElementAsFloat(*first, i), a[i]);
  EXPECT_EQ(ElementAsFloat(*store.Find("a.second"), 0), -7.0f);
  EXPECT_EQ(store.Find("empty")->nbytes, 0u);
  EXPECT_EQ(store.Find("empty")->shape, (std::vector<int64_t>{0, 4}));
}

TEST(Safetensors, WriterRejectsBadInput) {
  TempDir dir;
  const float a[1] = {1};
  ExpectError(
      [&] {
        WriteSafetensors(dir.File("x"), {MakeF32Tensor("t", {1}, a), MakeF32Tensor("t", {1}, a)});
      },
      {"duplicate", "'t'"});
  OwnedTensor bad = MakeF32Tensor("bad", {1}, a);
  bad.shape = {2};
  ExpectError([&] { WriteSafetensors(dir.File("x"), {bad}); }, {"'bad'", "4 bytes", "needs 8"});
  ExpectError([&] { MakeF32Tensor("neg", {-1}, a); }, {"'neg'"});
}

TEST(SafetensorsMalformed, TruncatedFile) {
  ExpectError([] { Parse(std::string("\x10\0\0", 3)); },
              {"model.safetensors", "3 bytes", "shorter"});
}

TEST(SafetensorsMalformed, EmptyFile) {
  TempDir dir;
  const std::string path = dir.Write("empty.safetensors", "");
  ExpectError([&] { LoadSafetensors(path); }, {path, "0 bytes"});
}

TEST(SafetensorsMalformed, HeaderLengthPastEnd) {
  std::string image = MakeImage("{}", 0);
  image[0] = 100;
  ExpectError([&] { Parse(image); }, {"model.safetensors", "header length 100", "past the end"});
  image = MakeImage("{}", 0);
  std::memset(image.data(), 0xff, 8);  // would wrap around if added naively
  ExpectError([&] { Parse(image); }, {"header length 18446744073709551615"});
}

TEST(SafetensorsMalformed, HeaderNotJson) {
  ExpectError([] { Parse(MakeImage("{\"a\": ", 0)); }, {"model.safetensors", "not valid JSON"});
  ExpectError([] { Parse(MakeImage("[1, 2]", 0)); }, {"model.safetensors", "not a JSON object"});
}

TEST(SafetensorsMalformed, EntryNotObject) {
  ExpectError([] { Parse(MakeImage(R"({"w": [1]})", 0)); }, {"tensor 'w'", "not a JSON object"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  ExpectError(
      [] {
        Parse(MakeImage(R"({"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}})", 1));
      },
      {"model.safetensors", "tensor 'w'", "unknown dtype 'F8'"});
  ExpectError([] { Parse(MakeImage(R"({"w": {"shape": [1], "data_offsets": [0, 1]}})", 1)); },
              {"tensor 'w'", "dtype"});
}

TEST(SafetensorsMalformed, BadShape) {
  for (const char* shape : {"[-1]", "[1.5]", "\"4\"", "[[2]]", "[true]"}) {
    const std::string header =
        std::string(R"({"w": {"dtype": "U8", "shape": )") + shape + R"(, "data_offsets": [0, 0]}})";
    ExpectError([&] { Parse(MakeImage(header, 0)); }, {"tensor 'w'", "shape"});
  }
  // The element count product overflows 64 bits.
  ExpectError(
      [] {
        Parse(MakeImage(
            R"({"w": {"dtype": "BF16", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})",
            0));
      },
      {"tensor 'w'", "overflows"});
}

TEST(SafetensorsMalformed, BadDataOffsets) {
  for (const char* offsets : {"", R"(, "data_offsets": [0])", R"(, "data_offsets": [0, 1, 2])",
                              R"(, "data_offsets": [0, -1])", R"(, "data_offsets": "0-1")",
                              R"(, "data_offsets": [0.0, 1])"}) {
    const std::string header =
        std::string(R"({"w": {"dtype": "U8", "shape": [1])") + offsets + "}}";
    ExpectError([&] { Parse(MakeImage(header, 1)); }, {"tensor 'w'", "data_offsets"});
  }
  ExpectError(
      [] {
        Parse(MakeImage(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [2, 1]}})", 4));
      },
      {"tensor 'w'", "begin after end"});
}

TEST(SafetensorsMalformed, DataOffsetsOutOfRange) {
  ExpectError(
      [] {
        Parse(MakeImage(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 8));
      },
      {"model.safetensors", "tensor 'w'", "[4, 12)", "past the data section (8 bytes)"});
}

TEST(SafetensorsMalformed, ShapeByteLengthMismatch) {
  ExpectError(
      [] {
        Parse(MakeImage(
            R"({"lm_head": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 12]}})", 32));
      },
      {"model.safetensors: tensor 'lm_head': data_offsets [0, 12) hold 12 bytes but shape [4, 4] "
       "of "
       "BF16 needs 32"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  ExpectError(
      [] {
        Parse(MakeImage(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                        "b": {"dtype": "U8", "shape": [4], "data_offsets": [3, 7]}})",
                        8));
      },
      {"model.safetensors", "'b'", "overlaps tensor 'a'"});
  // Empty tensors may sit anywhere; touching ranges are fine.
  EXPECT_EQ(Parse(MakeImage(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                               "e": {"dtype": "U8", "shape": [0], "data_offsets": [2, 2]},
                               "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                            8))
                .size(),
            3u);
}

TEST(SafetensorsMalformed, DuplicateTensor) {
  ExpectError(
      [] {
        Parse(MakeImage(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                        "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                        2));
      },
      {"model.safetensors", "duplicate tensor 'w'"});
}

TEST(SafetensorsMalformed, BadMetadata) {
  ExpectError([] { Parse(MakeImage(R"({"__metadata__": {"format": 1}})", 0)); },
              {"__metadata__", "'format'"});
  ExpectError([] { Parse(MakeImage(R"({"__metadata__": []})", 0)); }, {"__metadata__"});
  std::map<std::string, std::string> meta;
  const std::string image = MakeImage(R"({"__metadata__": {"format": "pt"}})", 0);
  EXPECT_TRUE(ParseSafetensors(Bytes(image), image.size(), "m", &meta).empty());
  EXPECT_EQ(meta.at("format"), "pt");
}

TEST(SafetensorsMalformed, MissingFileAndDirectory) {
  TempDir dir;
  ExpectError([&] { LoadSafetensors(dir.File("nope.safetensors")); },
              {dir.File("nope.safetensors"), "cannot open"});
  ExpectError([&] { LoadSafetensors(dir.path()); }, {dir.path(), "directory"});
}

// An index over copies of the small fixture's shards, with `weight_map` edited.
class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string src = DataPath("model/models/small/");
    for (const char* shard :
         {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
      std::filesystem::copy_file(src + shard, dir_.File(shard));
    }
    index_ = nlohmann::json::parse(testing::ReadFileBytes(src + "model.safetensors.index.json"));
  }
  std::string WriteIndex() { return dir_.Write("model.safetensors.index.json", index_.dump()); }
  TempDir dir_;
  nlohmann::json index_;
};

TEST_F(IndexTest, CopyLoads) { EXPECT_EQ(LoadSafetensorsIndex(WriteIndex()).files().size(), 2u); }

TEST_F(IndexTest, MissingShard) {
  index_["weight_map"]["lm_head"] = "model-00003-of-00002.safetensors";
  const std::string path = WriteIndex();
  ExpectError([&] { LoadSafetensorsIndex(path); },
              {path, "shard 'model-00003-of-00002.safetensors'", "'lm_head'", "cannot open"});
}

TEST_F(IndexTest, TensorAbsentFromShard) {
  index_["weight_map"]["model.blocks.0.attn.attn_key.weight"] = "model-00002-of-00002.safetensors";
  index_["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
  const std::string path = WriteIndex();
  ExpectError([&] { LoadSafetensorsIndex(path); }, {path, "tensor '", "does not contain it"});
  index_["weight_map"].erase("model.blocks.0.attn.attn_key.weight");
  const std::string path2 = WriteIndex();
  ExpectError(
      [&] { LoadSafetensorsIndex(path2); },
      {"tensor 'ghost'", "shard 'model-00001-of-00002.safetensors'", "does not contain it"});
}

TEST_F(IndexTest, MalformedIndex) {
  ExpectError([&] { LoadSafetensorsIndex(dir_.Write("a.json", "{")); },
              {"a.json", "not valid JSON"});
  ExpectError([&] { LoadSafetensorsIndex(dir_.Write("b.json", R"({"metadata": {}})")); },
              {"b.json", "weight_map"});
  ExpectError([&] { LoadSafetensorsIndex(dir_.Write("c.json", R"({"weight_map": {"x": 3}})")); },
              {"c.json", "'x'"});
  ExpectError(
      [&] {
        LoadSafetensorsIndex(dir_.Write("d.json", R"({"weight_map": {"x": "../x.safetensors"}})"));
      },
      {"d.json", "'../x.safetensors'"});
  ExpectError([&] { LoadSafetensorsIndex(dir_.File("missing.json")); }, {"missing.json"});
}

TEST_F(IndexTest, TensorInTwoShards) {
  const float v[1] = {1};
  WriteSafetensors(dir_.File("extra.safetensors"),
                   {MakeF32Tensor("zzz", {1}, v), MakeF32Tensor("lm_head", {1}, v)});
  index_["weight_map"]["zzz"] = "extra.safetensors";
  const std::string path = WriteIndex();
  ExpectError([&] { LoadSafetensorsIndex(path); }, {"'lm_head'", "both shard"});
}

// Corrupted copies of a real file: each must load or throw talkie::Error.
void LoadOrError(const std::string& image) {
  try {
    auto views = ParseSafetensors(Bytes(image), image.size(), "corrupt", nullptr);
    for (const TensorView& v : views) {
      ASSERT_GE(v.data, Bytes(image));
      ASSERT_LE(v.data + v.nbytes, Bytes(image) + image.size());
    }
  } catch (const Error&) {
  }
}

TEST(SafetensorsCorruption, FlippedBytes) {
  const std::string original =
      testing::ReadFileBytes(DataPath("model/models/tiny/model.safetensors"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, original.data(), 8);
  std::vector<size_t> positions;
  for (size_t i = 0; i < original.size(); i += 997) positions.push_back(i);
  for (size_t i = 0; i < 8 + header_len; i += 7) positions.push_back(i);  // dense in the header
  for (size_t pos : positions) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string image = original;
      image[pos] = static_cast<char>(image[pos] ^ mask);
      LoadOrError(image);
    }
  }
}

TEST(SafetensorsCorruption, Truncated) {
  const std::string original =
      testing::ReadFileBytes(DataPath("model/models/tiny/model.safetensors"));
  for (size_t k = 0; k < 50; ++k) {
    const size_t len = original.size() * k / 50;
    const std::string image = original.substr(0, len);
    if (len < original.size()) {
      // Every truncation of this file cuts a tensor or the header.
      EXPECT_THROW(ParseSafetensors(Bytes(image), image.size(), "t", nullptr), Error) << len;
    }
  }
  for (size_t len = 0; len < 300; ++len) LoadOrError(original.substr(0, len));
}

}  // namespace
}  // namespace talkie::io
