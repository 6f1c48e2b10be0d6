// talkie/tensor_file.h and talkie/convert.h as a library user sees them:
// tensor files round-trip bit for bit, conversions reload with the logits
// they promise, nothing is written over its input, bad paths name the file.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include "talkie/talkie.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("talkie_convert_api_" + name)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename T>
bool SameBits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

std::string TinyModelDir() { return std::string(TALKIE_TEST_DATA_DIR) + "/model/models/tiny"; }

Tensor<float> LogitsOf(const Model& model, const std::vector<int32_t>& ids) {
  ForwardRequest req;
  req.input_ids = Tensor<int32_t>({1, static_cast<int64_t>(ids.size())}, ids);
  return model.Forward(req).logits;
}

// Every message of a thrown Error, for EXPECT_THAT-free substring checks.
template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TensorFileTest, SavedThenLoadedEqualsOriginalBitForBit) {
  const ScratchDir dir("roundtrip");
  TensorFile file;
  file.metadata = {{"producer", "test"}, {"format", "pt"}};
  std::vector<float> floats = {1.5f,
                               -0.0f,
                               std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::denorm_min(),
                               3.25e-20f,
                               -7.0f};
  floats.push_back(std::numeric_limits<float>::quiet_NaN());
  floats.push_back(1e30f);
  file.Add("z.logits", Tensor<float>({2, 4}, floats));
  file.Add("a.ids", Tensor<int32_t>({3}, {7, -2, 2147483647}));
  file.Add("m.offsets", Tensor<int64_t>({2}, {0, int64_t{1} << 40}));
  file.Add("empty", Tensor<float>({0, 5}));
  SaveTensorFile(dir / "t.safetensors", file);

  const TensorFile back = LoadTensorFile(dir / "t.safetensors");
  EXPECT_EQ(back.metadata, file.metadata);
  ASSERT_EQ(back.tensors.size(), 4u);
  // File order is the order of Add, not sorted by name.
  EXPECT_EQ(back.tensors[0].name, "z.logits");
  EXPECT_EQ(back.tensors[1].name, "a.ids");
  EXPECT_EQ(back.tensors[2].name, "m.offsets");
  EXPECT_TRUE(SameBits(back.Floats("z.logits"), file.Floats("z.logits")));
  EXPECT_TRUE(SameBits(back.Int32s("a.ids"), file.Int32s("a.ids")));
  EXPECT_TRUE(SameBits(back.Int64s("m.offsets"), file.Int64s("m.offsets")));
  EXPECT_EQ(back.Floats("empty").shape(), (std::vector<int64_t>{0, 5}));

  // Saving what was loaded gives the same bytes.
  SaveTensorFile(dir / "again.safetensors", back);
  EXPECT_EQ(FileBytes(dir / "again.safetensors"), FileBytes(dir / "t.safetensors"));
}

TEST(TensorFileTest, Bf16EntriesRoundToNearestEvenAndReloadAsBf16) {
  const ScratchDir dir("bf16");
  TensorFile file;
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to even (1.0);
  // 1 + 3 * 2^-8 goes up to 1 + 2^-6.
  file.Add("x", Tensor<float>({3}, {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f}), true);
  SaveTensorFile(dir / "b.safetensors", file);
  const TensorFile back = LoadTensorFile(dir / "b.safetensors");
  ASSERT_NE(back.Find("x"), nullptr);
  EXPECT_TRUE(back.Find("x")->as_bf16);
  EXPECT_EQ(back.Floats("x").values(), (std::vector<float>{1.0f, 1.0f + 0x1p-6f, -2.5f}));
  // Two bytes per value after the header.
  const std::string bytes = FileBytes(dir / "b.safetensors");
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(bytes.size(), 8 + header + 3 * 2);
}

TEST(TensorFileTest, ProgressHearsEveryByteOfTheFile) {
  const ScratchDir dir("progress");
  TensorFile file;
  file.Add("a", Tensor<float>({100}, 1.0f));
  file.Add("b", Tensor<int32_t>({50}, 3));
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  std::string stage;
  SaveTensorFile(dir / "p.safetensors", file,
                 [&](const std::string& s, uint64_t done, uint64_t total) {
                   stage = s;
                   calls.emplace_back(done, total);
                 });
  ASSERT_EQ(calls.size(), 3u);  // the start, then after each tensor
  EXPECT_EQ(stage, "writing p.safetensors");
  EXPECT_EQ(calls.front().first, 0u);
  EXPECT_EQ(calls.back().first, calls.back().second);
  EXPECT_EQ(calls.back().second, fs::file_size(dir / "p.safetensors"));
}

TEST(TensorFileTest, AbandonedWriteLeavesTheOldFile) {
  const ScratchDir dir("abandon");
  TensorFile old_file;
  old_file.Add("old", Tensor<float>({2}, 5.0f));
  SaveTensorFile(dir / "f.safetensors", old_file);
  const std::string before = FileBytes(dir / "f.safetensors");
  TensorFile next;
  next.Add("new", Tensor<float>({1000}, 1.0f));
  next.Add("more", Tensor<float>({1000}, 2.0f));
  EXPECT_THROW(SaveTensorFile(dir / "f.safetensors", next,
                              [](const std::string&, uint64_t done, uint64_t) {
                                if (done > 0) throw Error("stop");
                              }),
               Error);
  EXPECT_EQ(FileBytes(dir / "f.safetensors"), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.str()), fs::directory_iterator()), 1);
}

TEST(TensorFileTest, BadPathsAndTypesGiveErrorsNamingThem) {
  const ScratchDir dir("errors");
  TensorFile file;
  file.Add("a", Tensor<float>({1}, 1.0f));
  const std::string missing = dir / "no/such/folder/out.safetensors";
  EXPECT_NE(ErrorOf([&] { SaveTensorFile(missing, file); }).find(missing), std::string::npos);
  const std::string absent = dir / "absent.safetensors";
  EXPECT_NE(ErrorOf([&] { LoadTensorFile(absent); }).find(absent), std::string::npos);
  EXPECT_NE(ErrorOf([&] { LoadTensorFileMetadata(absent); }).find(absent), std::string::npos);
  file.Add("a", Tensor<float>({1}, 2.0f));
  EXPECT_NE(ErrorOf([&] { SaveTensorFile(dir / "dup.safetensors", file); }).find("'a'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "dup.safetensors"));
  EXPECT_NE(ErrorOf([&] { file.Int32s("a"); }).find("'a'"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { file.Floats("b"); }).find("'b'"), std::string::npos);
}

TEST(TensorFileTest, MetadataReadsOnlyTheHeader) {
  const ScratchDir dir("metadata");
  TensorFile file;
  file.metadata = {{"producer", "talkie forward"}};
  file.Add("x", Tensor<float>({4}, 0.5f));
  SaveTensorFile(dir / "m.safetensors", file);
  EXPECT_EQ(LoadTensorFileMetadata(dir / "m.safetensors"), file.metadata);
}

TEST(AtomicFileTest, CommitReplacesAndAbandonLeavesTheOldFile) {
  const ScratchDir dir("atomic_class");
  WriteFileAtomically(dir / "f.txt", "old");
  {
    AtomicFile out(dir / "f.txt");
    out.Write("new");
    // Not committed: the old file stays and the temporary goes.
  }
  EXPECT_EQ(FileBytes(dir / "f.txt"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.str()), fs::directory_iterator()), 1);
  AtomicFile out(dir / "f.txt");
  out.Write("ne");
  out.Write("w");
  EXPECT_EQ(FileBytes(dir / "f.txt"), "old");  // readers see the old file until Commit
  out.Commit();
  EXPECT_EQ(FileBytes(dir / "f.txt"), "new");
  const std::string missing = dir / "none/f.txt";
  EXPECT_NE(ErrorOf([&] { AtomicFile bad(missing); }).find(missing), std::string::npos);
}

TEST(WriteFileAtomicallyTest, WritesTheBytesAndNamesABadPath) {
  const ScratchDir dir("atomic");
  WriteFileAtomically(dir / "a.txt", std::string("old"));
  WriteFileAtomically(dir / "a.txt", std::string("new\0bytes", 9));
  EXPECT_EQ(FileBytes(dir / "a.txt"), std::string("new\0bytes", 9));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.str()), fs::directory_iterator()), 1);
  const std::string missing = dir / "none/a.txt";
  EXPECT_NE(ErrorOf([&] { WriteFileAtomically(missing, "x"); }).find(missing), std::string::npos);
}

const std::vector<int32_t> kIds = {1, 17, 300, 42, 9, 999, 5, 77};

TEST(ConvertTest, QuantizedCopyAndGgufOfTheSameTypeReloadWithIdenticalLogits) {
  const ScratchDir dir("quantize");
  const Model model = Model::Load(TinyModelDir());
  for (const auto& [quant, gguf, name] : {std::tuple{QuantType::kQ8, GgufType::kQ8_0, "q8"},
                                          std::tuple{QuantType::kQ4, GgufType::kQ4_0, "q4"}}) {
    SCOPED_TRACE(name);
    std::string stage;
    uint64_t last_done = 0, last_total = 1;
    Quantize(model, quant, dir / name, [&](const std::string& s, uint64_t done, uint64_t total) {
      stage = s, last_done = done, last_total = total;
    });
    EXPECT_EQ(stage, "writing model.safetensors");
    EXPECT_EQ(last_done, last_total);
    ExportGguf(model, gguf, dir / (std::string(name) + ".gguf"));
    const Model copy = Model::Load(dir / name);
    const Model from_gguf = Model::Load(dir / (std::string(name) + ".gguf"));
    EXPECT_EQ(copy.info().quantization, name);
    const Tensor<float> a = LogitsOf(copy, kIds), b = LogitsOf(from_gguf, kIds);
    EXPECT_TRUE(SameBits(a, b));
    // Quantized, so not the original's logits, but close to them.
    const LogitComparison q = CompareLogits(model, copy, kIds);
    EXPECT_GT(q.mean_kl, 0.0);
    EXPECT_LT(q.mean_kl, 0.05);
    EXPECT_EQ(q.positions, static_cast<int64_t>(kIds.size()));
    EXPECT_TRUE(q.finite);
  }
}

TEST(ConvertTest, F32GgufReloadsWithTheOriginalLogits) {
  const ScratchDir dir("gguf_f32");
  const Model model = Model::Load(TinyModelDir());
  ExportGguf(model, ParseGgufType("f32"), dir / "m.gguf");
  const Model back = Model::Load(dir / "m.gguf");
  const LogitComparison c = CompareLogits(model, back, kIds);
  EXPECT_EQ(c.top1_agreement, 1.0);
  EXPECT_LT(c.max_abs_logit_diff, 1e-4);
  EXPECT_LT(c.mean_kl, 1e-9);
}

TEST(ConvertTest, GgufCarriesTheTokenizerWhenGiven) {
  const ScratchDir dir("gguf_tok");
  const Model model = Model::Load(TALKIE_DEFAULT_MODEL_DIR);  // has a tokenizer
  const Tokenizer tok = Tokenizer::ForModel(model);
  ExportGguf(model, GgufType::kBF16, dir / "with.gguf", &tok);
  ExportGguf(model, GgufType::kBF16, dir / "without.gguf");
  const Model with = Model::Load(dir / "with.gguf");
  const Tokenizer from_file = Tokenizer::ForModel(with);
  EXPECT_EQ(from_file.Encode("And it came to pass"), tok.Encode("And it came to pass"));
  EXPECT_GT(fs::file_size(dir / "with.gguf"), fs::file_size(dir / "without.gguf"));
}

TEST(ConvertTest, NothingIsWrittenOverTheModelBeingRead) {
  const ScratchDir dir("own_input");
  fs::copy(TinyModelDir(), dir / "model");
  const Model model = Model::Load(dir / "model");
  std::map<std::string, std::string> before;
  for (const auto& e : fs::directory_iterator(dir / "model"))
    before[e.path().string()] = FileBytes(e.path().string());
  const std::string folder = dir / "model";
  EXPECT_NE(ErrorOf([&] { Quantize(model, QuantType::kQ8, folder); }).find(folder),
            std::string::npos);
  ASSERT_FALSE(model.info().files.empty());
  const std::string weights = model.info().files.front();
  EXPECT_NE(ErrorOf([&] { ExportGguf(model, GgufType::kF32, weights); }).find(weights),
            std::string::npos);
  const std::string config = dir / "model/config.json";
  EXPECT_NE(ErrorOf([&] { ExportGguf(model, GgufType::kF32, config); }).find(config),
            std::string::npos);
  std::map<std::string, std::string> after;
  for (const auto& e : fs::directory_iterator(dir / "model"))
    after[e.path().string()] = FileBytes(e.path().string());
  EXPECT_EQ(after, before);
}

TEST(ConvertTest, BadNamesAndPathsGiveErrorsNamingThem) {
  const ScratchDir dir("bad");
  EXPECT_NE(ErrorOf([] { ParseGgufType("q5"); }).find("'q5'"), std::string::npos);
  EXPECT_EQ(ParseGgufType("q8_0"), GgufType::kQ8_0);
  EXPECT_EQ(ParseGgufType("q4"), GgufType::kQ4_0);
  EXPECT_EQ(ParseGgufType("bf16"), GgufType::kBF16);
  EXPECT_NE(ErrorOf([&] { WriteSyntheticModel(dir / "x", "talkie-7b"); }).find("talkie-7b"),
            std::string::npos);
  const Model model = Model::Load(TinyModelDir());
  const std::string missing = dir / "no/such/m.gguf";
  EXPECT_NE(ErrorOf([&] { ExportGguf(model, GgufType::kF32, missing); }).find(missing),
            std::string::npos);
}

TEST(ConvertTest, SyntheticModelIsReproducibleAndLoadsAtItsShape) {
  const ScratchDir dir("synth");
  uint64_t last_done = 0, last_total = 1;
  WriteSyntheticModel(dir / "a", "talkie-tiny", WeightType::kBF16, 7,
                      [&](const std::string&, uint64_t done, uint64_t total) {
                        last_done = done, last_total = total;
                      });
  EXPECT_EQ(last_done, last_total);
  WriteSyntheticModel(dir / "b", "talkie-tiny", WeightType::kBF16, 7);
  WriteSyntheticModel(dir / "c", "talkie-tiny", WeightType::kBF16, 8);
  const std::string a = FileBytes(dir / "a/model.safetensors");
  EXPECT_EQ(a, FileBytes(dir / "b/model.safetensors"));
  EXPECT_NE(a, FileBytes(dir / "c/model.safetensors"));
  EXPECT_EQ(last_total, a.size());
  const Model m = Model::Load(dir / "a");
  EXPECT_EQ(m.config().vocab_size, 4101);
  EXPECT_EQ(m.config().n_embd, 256);
  EXPECT_EQ(m.config().n_layer, 6);
  EXPECT_EQ(m.info().dtype_tensor_counts.count("BF16"), 1u);
  const Tensor<float> logits = LogitsOf(m, {1, 2, 3});
  for (float v : logits.values()) ASSERT_TRUE(std::isfinite(v));
}

TEST(ConvertTest, CompareLogitsOfAModelWithItselfIsZero) {
  const Model model = Model::Load(TinyModelDir());
  const LogitComparison c = CompareLogits(model, model, kIds);
  EXPECT_EQ(c.mean_kl, 0.0);
  EXPECT_EQ(c.max_abs_logit_diff, 0.0);
  EXPECT_EQ(c.top1_agreement, 1.0);
  EXPECT_TRUE(c.finite);
  EXPECT_THROW(CompareLogits(model, model, {}), Error);
}

TEST(SteeringFilesTest, ControlVectorsListTheFilesAndScalesInTheOrderAdded) {
  const std::string cvec = std::string(TALKIE_TEST_DATA_DIR) + "/control_vectors/";
  Steering s;
  EXPECT_TRUE(s.control_vectors().empty());
  s.AddControlVector(cvec + "tiny-cvec.safetensors", 0.5f);
  s.AddControlVector(cvec + "tiny-cvec.gguf", -2.0f, "other");
  const std::vector<std::pair<std::string, float>> expected = {
      {cvec + "tiny-cvec.safetensors", 0.5f}, {cvec + "tiny-cvec.gguf", -2.0f}};
  EXPECT_EQ(s.control_vectors(), expected);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"tiny-cvec", "other"}));
}

TEST(ReplaceInvalidUtf8Test, KeepsValidTextAndReplacesEachIllFormedRunOnce) {
  EXPECT_EQ(ReplaceInvalidUtf8("plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac"),
            "plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(ReplaceInvalidUtf8("a\xff"
                               "b"),
            "a\xef\xbf\xbd"
            "b");
  // A cut three-byte character at the end is one replacement character.
  EXPECT_EQ(ReplaceInvalidUtf8("x\xe2\x82"), "x\xef\xbf\xbd");
  EXPECT_EQ(ReplaceInvalidUtf8(""), "");
}

}  // namespace
}  // namespace talkie
