// Tests for LoadTorchCheckpoint: the real rl-refined.pt fixture against the
// same weights in safetensors, synthetic archives of every accepted layout,
// each refusal, and corruption sweeps over the fixture.
#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

using testing::Contiguous;
using testing::ExpectError;
using testing::PickleBuilder;
using testing::TempDir;
using testing::ZipBuilder;

const std::string kFixture = "model/models/tiny-raw/rl-refined.pt";

// HF name of a raw (torch.compile'd) training name.
std::string HfName(std::string raw) {
  const std::string prefix = "_orig_mod.";
  if (raw.rfind(prefix, 0) == 0) raw = raw.substr(prefix.size());
  if (raw == "lm_head" || raw == "lm_head_gain.w_g") return raw;
  return "model." + raw;
}

TEST(TorchCheckpoint, FixtureMatchesSafetensors) {
  TensorStore pt = LoadTorchCheckpoint(testing::DataPath(kFixture));
  TensorStore st = LoadSafetensors(testing::DataPath("model/models/tiny/model.safetensors"));
  ASSERT_EQ(pt.tensors().size(), st.tensors().size());
  EXPECT_EQ(pt.files().size(), 1u);
  for (const TensorView& t : pt.tensors()) {
    EXPECT_EQ(t.name.rfind("_orig_mod.", 0), 0u) << t.name;
    const TensorView* ref = st.Find(HfName(t.name));
    ASSERT_NE(ref, nullptr) << t.name;
    EXPECT_EQ(t.dtype, ref->dtype) << t.name;
    EXPECT_EQ(t.shape, ref->shape) << t.name;
    ASSERT_EQ(t.nbytes, ref->nbytes) << t.name;
    EXPECT_EQ(std::memcmp(t.data, ref->data, t.nbytes), 0) << t.name;
  }
}

// A torch.save-style archive holding `pickle` and the given storages.
std::string MakeArchive(const std::string& top, const std::string& pickle,
                        const std::vector<std::pair<std::string, std::string>>& storages,
                        bool zip64 = false) {
  ZipBuilder zip;
  zip.Add(top + "/data.pkl", pickle);
  for (const auto& [key, bytes] : storages) zip.Add(top + "/data/" + key, bytes);
  zip.Add(top + "/version", "3\n");
  return zip.Build(zip64);
}

std::string Iota(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 1);
  return s;
}

TEST(TorchCheckpoint, ArchiveTopFolderPlainDict) {
  // {'w16': f16 [2, 3] at element 2 of storage '0', 'w32': f32 [4] in '1',
  //  'tied': same storage as w16, 'step': 3}
  PickleBuilder p;
  p.Proto(2).Op('}').Op('(');
  p.Str("w16").Tensor("HalfStorage", "0", 8, 2, {2, 3}, {3, 1});
  p.Str("w32").Tensor("FloatStorage", "1", 4, 0, {4}, {1});
  p.Str("tied").Tensor("HalfStorage", "0", 8, 0, {8}, {1});
  p.Str("step").Int(3);
  p.Op('u');
  const std::string s0 = Iota(16), s1 = Iota(16);
  TempDir dir;
  for (bool zip64 : {false, true}) {
    const std::string path =
        dir.Write("c.pt", MakeArchive("archive", p.Stop(), {{"0", s0}, {"1", s1}}, zip64));
    TensorStore store = LoadTorchCheckpoint(path);
    ASSERT_EQ(store.tensors().size(), 3u);
    const TensorView* w16 = store.Find("w16");
    ASSERT_NE(w16, nullptr);
    EXPECT_EQ(w16->dtype, DType::kF16);
    EXPECT_EQ(w16->nbytes, 12u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(w16->data), 12), s0.substr(4, 12));
    EXPECT_EQ(store.Find("w32")->dtype, DType::kF32);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(store.Find("w32")->data), 16), s1);
    EXPECT_EQ(store.Find("tied")->data + 4, w16->data);
    EXPECT_EQ(store.Find("step"), nullptr);
  }
}

TEST(TorchCheckpoint, NestedUnderModelStateDict) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("epoch").Int(1).Op('s').Str("model_state_dict").Op('}');
  p.Str("layer.weight").Tensor("BFloat16Storage", "5", 4, 0, {2, 1, 2}, {2, 7, 1}).Op('s');
  p.Str("scalar").Tensor("FloatStorage", "6", 1, 0, {}, {}).Op('s').Op('s');
  TempDir dir;
  const std::string path =
      dir.Write("c.pt", MakeArchive("my-run", p.Stop(), {{"5", Iota(8)}, {"6", Iota(4)}}));
  TensorStore store = LoadTorchCheckpoint(path);
  ASSERT_EQ(store.tensors().size(), 2u);
  // A stride on a size-1 dimension is irrelevant, as in torch.
  EXPECT_EQ(store.Find("layer.weight")->shape, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(store.Find("scalar")->nbytes, 4u);
}

TEST(TorchCheckpointMalformed, NonContiguous) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("t.weight").Tensor("FloatStorage", "0", 6, 0, {2, 3}, {1, 2}).Op('s');
  TempDir dir;
  const std::string path = dir.Write("c.pt", MakeArchive("archive", p.Stop(), {{"0", Iota(24)}}));
  ExpectError([&] { LoadTorchCheckpoint(path); }, {path, "tensor 't.weight'", "not contiguous"});
}

TEST(TorchCheckpointMalformed, TensorPastStorage) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "0", 6, 3, {2, 2}, {2, 1}).Op('s');
  TempDir dir;
  const std::string path = dir.Write("c.pt", MakeArchive("archive", p.Stop(), {{"0", Iota(24)}}));
  ExpectError([&] { LoadTorchCheckpoint(path); },
              {"tensor 'w'", "run past storage 'archive/data/0' of 6 F32"});
}

TEST(TorchCheckpointMalformed, DisallowedGlobal) {
  PickleBuilder p;
  p.Proto(2).Global("os", "system").Str("rm -rf /").Op('\x85').Op('R');
  TempDir dir;
  const std::string path = dir.Write("c.pt", MakeArchive("archive", p.Stop(), {}));
  ExpectError([&] { LoadTorchCheckpoint(path); }, {path, "archive/data.pkl", "'os.system'"});
}

TEST(TorchCheckpointMalformed, DataPklMissingOrDuplicated) {
  TempDir dir;
  ZipBuilder none;
  none.Add("archive/data/0", "1234");
  none.Add("archive/sub/data.pkl", "x");  // not at the top level
  const std::string path = dir.Write("c.pt", none.Build());
  ExpectError([&] { LoadTorchCheckpoint(path); }, {path, "no <top>/data.pkl"});

  ZipBuilder two;
  two.Add("a/data.pkl", "x");
  two.Add("b/data.pkl", "x");
  const std::string path2 = dir.Write("d.pt", two.Build());
  ExpectError([&] { LoadTorchCheckpoint(path2); }, {"several", "'a/data.pkl'", "'b/data.pkl'"});
}

TEST(TorchCheckpointMalformed, StorageKeyMissing) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "9", 1, 0, {1}, {1}).Op('s');
  TempDir dir;
  const std::string path = dir.Write("c.pt", MakeArchive("archive", p.Stop(), {{"0", Iota(4)}}));
  ExpectError([&] { LoadTorchCheckpoint(path); }, {"tensor 'w'", "'archive/data/9' is missing"});
}

TEST(TorchCheckpointMalformed, CompressedEntries) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "0", 1, 0, {1}, {1}).Op('s');
  TempDir dir;
  ZipBuilder zip;
  zip.Add("archive/data.pkl", p.Stop());
  zip.Add("archive/data/0", Iota(4), /*method=*/8);
  const std::string path = dir.Write("c.pt", zip.Build());
  ExpectError([&] { LoadTorchCheckpoint(path); }, {"tensor 'w'", "'archive/data/0' is compressed"});
  ZipBuilder zip2;
  zip2.Add("archive/data.pkl", p.Stop(), 8);
  const std::string path2 = dir.Write("d.pt", zip2.Build());
  ExpectError([&] { LoadTorchCheckpoint(path2); }, {"'archive/data.pkl' is compressed"});
}

TEST(TorchCheckpointMalformed, ByteOrder) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "0", 1, 0, {1}, {1}).Op('s');
  TempDir dir;
  for (const char* order : {"little", "big"}) {
    ZipBuilder zip;
    zip.Add("archive/data.pkl", p.Stop());
    zip.Add("archive/byteorder", order);
    zip.Add("archive/data/0", Iota(4));
    const std::string path = dir.Write("c.pt", zip.Build());
    if (std::string(order) == "little") {
      EXPECT_NE(LoadTorchCheckpoint(path).Find("w"), nullptr);
    } else {
      ExpectError([&] { LoadTorchCheckpoint(path); }, {path, "not little-endian", "'big'"});
    }
  }
}

TEST(TorchCheckpointMalformed, NotAZip) {
  TempDir dir;
  const std::string path = dir.Write("c.pt", std::string(4096, 'x'));
  ExpectError([&] { LoadTorchCheckpoint(path); }, {path, "no end of central directory"});
  ExpectError([&] { LoadTorchCheckpoint(dir.File("missing.pt")); }, {"missing.pt"});
}

// Corrupted copies of the fixture: each must load or throw talkie::Error.
void LoadOrError(const TempDir& dir, const std::string& image) {
  const std::string path = dir.Write("corrupt.pt", image);
  try {
    TensorStore store = LoadTorchCheckpoint(path);
    auto file = MappedFile::Open(path);
    for (const TensorView& t : store.tensors()) {
      ASSERT_EQ(t.nbytes, static_cast<size_t>(t.NumElements()) * DTypeSize(t.dtype));
    }
  } catch (const Error&) {
  }
}

TEST(TorchCheckpointCorruption, FlippedEvery997thByte) {
  const std::string original = testing::ReadFileBytes(testing::DataPath(kFixture));
  TempDir dir;
  for (size_t i = 0; i < original.size(); i += 997) {
    std::string image = original;
    image[i] = static_cast<char>(image[i] ^ 0x5a);
    LoadOrError(dir, image);
  }
}

TEST(TorchCheckpointCorruption, Truncated) {
  const std::string original = testing::ReadFileBytes(testing::DataPath(kFixture));
  TempDir dir;
  for (size_t k = 0; k < 50; ++k) {
    const std::string image = original.substr(0, original.size() * k / 50);
    const std::string path = dir.Write("t.pt", image);
    // The central directory is at the end: every truncation loses it.
    EXPECT_THROW(LoadTorchCheckpoint(path), Error) << image.size();
  }
}

TEST(TorchCheckpointCorruption, DirectoryRegionEveryByte) {
  // Dense sweep over the archive's tail (central directory + EOCD), through
  // the in-memory parsers to keep it fast.
  const std::string original = testing::ReadFileBytes(testing::DataPath(kFixture));
  const size_t cd = original.rfind(std::string("PK\x01\x02", 4), original.size());
  const size_t start = original.find(std::string("PK\x01\x02", 4));
  ASSERT_LT(start, cd);
  for (size_t i = start; i < original.size(); ++i) {
    std::string image = original;
    image[i] = static_cast<char>(image[i] ^ 0xff);
    try {
      for (const ZipEntry& e : ParseZipDirectory(testing::Bytes(image), image.size(), "x")) {
        ASSERT_LE(e.data_offset + e.size, image.size());
      }
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace talkie::io
