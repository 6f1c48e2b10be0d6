// End-to-end tests of `talkie lens` on the bundled model: the table, --top,
// --all, the JSON fields, the last layer against the real logits of
// `talkie forward`, the PNG heat map (size, cell colours) and its overwrite
// guard, and one-line errors for bad input.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../model/fixtures.h"
#include "cli_util.h"
#include "io/png_test_decode.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::kBundled;
using testing::ReadFileBytes;
using testing::RunTalkie;

const std::string kPrompt = "'It was the best of times, it was the worst of'";

int64_t BundledConfig(const char* key) {
  std::ifstream in(kBundled + "/config.json");
  return json::parse(in).at(key).get<int64_t>();
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "talkie_lens_" + name;
}

// stdout of a command that wrote only JSON (stderr is merged by RunTalkie,
// and `lens` without --png writes nothing there).
json RunJson(const std::string& args) {
  const auto r = RunTalkie(args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
  return json::parse(r.output);
}

// The lines of the table that are layer rows: "    3  ..."
std::vector<std::string> LayerRows(const std::string& table) {
  std::vector<std::string> rows;
  std::istringstream in(table);
  std::string line;
  static const std::regex row(R"(^ *[0-9]+  ".*)");
  while (std::getline(in, line))
    if (std::regex_match(line, row)) rows.push_back(line);
  return rows;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

void ExpectOneLineError(const std::string& args, const std::string& message,
                        const std::string& stdin_text = "") {
  const auto r = RunTalkie(args, stdin_text);
  EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find("talkie: error: "), 0u) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
}

TEST(LensCliTest, TableHasOneRowPerLayerWithFiveEntriesByDefault) {
  const auto r = RunTalkie("lens " + kPrompt);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> rows = LayerRows(r.output);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), BundledConfig("num_hidden_layers")) << r.output;
  for (size_t l = 0; l < rows.size(); ++l) {
    EXPECT_EQ(std::stoi(rows[l]), static_cast<int>(l)) << rows[l];
    EXPECT_EQ(Count(rows[l], " 0."), 5u) << rows[l];  // five probabilities
  }
  EXPECT_EQ(Count(r.output, "position "), 1u) << r.output;  // the last position only
}

TEST(LensCliTest, TopKGivesKEntriesInTableAndJson) {
  for (int k : {1, 3, 12}) {
    const auto r = RunTalkie("lens --top " + std::to_string(k) + " " + kPrompt);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const std::string& row : LayerRows(r.output))
      EXPECT_EQ(Count(row, " 0.") + Count(row, " 1.0000"), static_cast<size_t>(k)) << row;
    const json j = RunJson("lens --json --top " + std::to_string(k) + " " + kPrompt);
    EXPECT_EQ(j["top_k"], k);
    for (const json& layer : j["positions"][0]["layers"]) EXPECT_EQ(layer["top"].size(), size_t(k));
  }
}

TEST(LensCliTest, JsonHasTheDocumentedFields) {
  const json j = RunJson("lens --json --top 4 " + kPrompt);
  const int64_t n_layer = BundledConfig("num_hidden_layers");
  EXPECT_EQ(j["n_layer"], n_layer);
  EXPECT_EQ(j["vocab_size"], BundledConfig("vocab_size"));
  EXPECT_EQ(j["prob_dtype"], "float64");
  EXPECT_TRUE(j["model"].is_string());
  ASSERT_TRUE(j["ids"].is_array());
  ASSERT_EQ(j["tokens"].size(), j["ids"].size());
  ASSERT_EQ(j["positions"].size(), 1u);
  const json& pos = j["positions"][0];
  EXPECT_EQ(pos["position"], j["ids"].size() - 1);
  EXPECT_EQ(pos["id"], j["ids"].back());
  EXPECT_EQ(pos["token"], j["tokens"].back());
  ASSERT_EQ(static_cast<int64_t>(pos["layers"].size()), n_layer);
  for (int64_t l = 0; l < n_layer; ++l) {
    const json& layer = pos["layers"][l];
    EXPECT_EQ(layer["layer"], l);
    double previous = 1.0, sum = 0;
    for (const json& c : layer["top"]) {
      ASSERT_TRUE(c["id"].is_number_integer() && c["token"].is_string() && c["logit"].is_number() &&
                  c["prob"].is_number())
          << c;
      const double p = c["prob"];
      EXPECT_GT(p, 0.0);
      EXPECT_LE(p, previous) << "most likely first";
      previous = p, sum += p;
    }
    EXPECT_LE(sum, 1.0 + 1e-12);
  }
}

TEST(LensCliTest, LastLayerEqualsTheModelsRealLogitsAtEveryPosition) {
  const std::string ids = "464,3290,318,262,1266,286,1661,11,340,373";
  const std::string out = TempPath("forward.safetensors");
  const auto f = RunTalkie("forward --ids " + ids + " --out " + out);
  ASSERT_EQ(f.exit_code, 0) << f.output;
  const io::TensorStore store = io::LoadSafetensors(out);
  const std::vector<float> logits = testing::FloatsOf(*store.Find("logits"));
  const int64_t vocab = BundledConfig("vocab_size");

  const json j = RunJson("lens --all --json --top 2 --ids " + ids);
  ASSERT_EQ(j["positions"].size(), 10u);
  for (size_t p = 0; p < 10; ++p) {
    const float* row = logits.data() + p * vocab;
    const auto argmax = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
    const json& top1 = j["positions"][p]["layers"].back()["top"][0];
    EXPECT_EQ(top1["id"], argmax) << "position " << p;
    // Bit for bit: the lens logit is the forward's logit.
    EXPECT_EQ(top1["logit"].get<float>(), row[argmax]) << "position " << p;
  }
}

TEST(LensCliTest, AllGivesOneEntryPerPosition) {
  const json j = RunJson("lens --all --json " + kPrompt);
  const size_t n = j["ids"].size();
  ASSERT_GT(n, 3u);
  ASSERT_EQ(j["positions"].size(), n);
  for (size_t p = 0; p < n; ++p) {
    EXPECT_EQ(j["positions"][p]["position"], p);
    EXPECT_EQ(j["positions"][p]["id"], j["ids"][p]);
  }
  const auto table = RunTalkie("lens --all " + kPrompt);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(Count(table.output, "position "), n);
  EXPECT_EQ(static_cast<int64_t>(LayerRows(table.output).size()),
            static_cast<int64_t>(n) * BundledConfig("num_hidden_layers"));
}

TEST(LensCliTest, DashReadsThePromptFromStdin) {
  const auto piped = RunTalkie("lens --json -", "It was the best of times\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(json::parse(piped.output), RunJson("lens --json 'It was the best of times'"));
}

TEST(LensCliTest, TableEscapesNewlinesInTokens) {
  const json j = RunJson("lens --json --all --top 50 " + kPrompt);
  bool saw_newline = false;
  for (const json& pos : j["positions"])
    for (const json& layer : pos["layers"])
      for (const json& c : layer["top"])
        saw_newline = saw_newline || c["token"].get<std::string>().find('\n') != std::string::npos;
  ASSERT_TRUE(saw_newline) << "the prompt should bring a token with a newline into the top 50";
  const auto table = RunTalkie("lens --all --top 50 " + kPrompt);
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("\\n\""), std::string::npos);
  // Every table line is a header or a row: no token broke a line.
  std::istringstream in(table.output);
  std::string line;
  static const std::regex ok(R"(^(position .*|layer .*| *[0-9]+  ".*|)$)");
  while (std::getline(in, line)) EXPECT_TRUE(std::regex_match(line, ok)) << line;
}

// The heat map's colour ramp, restated: viridis at 0, 1/4, 1/2, 3/4, 1.
std::array<uint8_t, 3> Viridis(double t) {
  static const double a[5][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  std::array<uint8_t, 3> c;
  for (int k = 0; k < 3; ++k)
    c[k] = static_cast<uint8_t>(std::lround(a[i][k] + (a[i + 1][k] - a[i][k]) * f));
  return c;
}

TEST(LensCliTest, PngIsAValidHeatMapOfTheDocumentedSize) {
  const std::string png_path = TempPath("map.png");
  fs::remove(png_path);
  const auto r = RunTalkie("lens --png " + png_path + " " + kPrompt);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto png = testing::DecodePng(ReadFileBytes(png_path));
  ASSERT_EQ(png.error, "");
  const json j = RunJson("lens --all --json --top 1 " + kPrompt);
  const int64_t positions = static_cast<int64_t>(j["ids"].size());
  const int64_t layers = BundledConfig("num_hidden_layers");
  EXPECT_EQ(png.width, 56 + 80 * positions + 88);
  EXPECT_EQ(png.height, 32 + 24 * layers + 40);
  // Each cell's corner has the ramp colour of its top-1 probability (the
  // last layer is the top row).
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t l = 0; l < layers; ++l) {
      const double prob = j["positions"][p]["layers"][l]["top"][0]["prob"];
      const auto x = static_cast<uint32_t>(56 + 80 * p + 2);
      const auto y = static_cast<uint32_t>(32 + 24 * (layers - 1 - l) + 2);
      const uint8_t* px = png.Pixel(x, y);
      EXPECT_EQ((std::array<uint8_t, 3>{px[0], px[1], px[2]}), Viridis(prob))
          << "layer " << l << " position " << p;
    }
}

TEST(LensCliTest, PngRefusesToOverwriteWithoutForce) {
  const std::string png_path = TempPath("existing.png");
  std::ofstream(png_path) << "keep me";
  const auto refused = RunTalkie("lens --png " + png_path + " hello");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("already exists; pass --force"), std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find("position "), std::string::npos) << "nothing ran";
  EXPECT_EQ(ReadFileBytes(png_path), "keep me");
  const auto forced = RunTalkie("lens --force --png " + png_path + " hello");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(testing::DecodePng(ReadFileBytes(png_path)).error, "");
}

TEST(LensCliTest, PngNeverReplacesAFileOfTheModel) {
  const std::string model = ::testing::TempDir() + "talkie_lens_model";
  fs::remove_all(model);
  fs::copy(kBundled, model, fs::copy_options::recursive);
  const std::string weights = ReadFileBytes(model + "/model.safetensors");
  ExpectOneLineError("lens -m " + model + " --force --png " + model + "/model.safetensors hi",
                     "is a file of the input model");
  EXPECT_EQ(ReadFileBytes(model + "/model.safetensors"), weights);
}

TEST(LensCliTest, BadInputIsOneClearError) {
  const int64_t vocab = BundledConfig("vocab_size");
  ExpectOneLineError("lens --top 0 hello", "--top must be >= 1, got 0");
  ExpectOneLineError("lens --top -3 hello", "--top must be >= 1, got -3");
  ExpectOneLineError("lens --top " + std::to_string(vocab + 1) + " hello",
                     "--top must be in [1, " + std::to_string(vocab) + "]");
  ExpectOneLineError("lens --top many hello", "--top");
  ExpectOneLineError("lens --top 99999999999999999999 hello", "--top");
  ExpectOneLineError("lens ''", "empty prompt");
  ExpectOneLineError("lens", "empty prompt");
  ExpectOneLineError("lens -", "empty prompt on stdin", "");
  ExpectOneLineError("lens --ids 1,2 hello", "give one of PROMPT");
  ExpectOneLineError("lens --ids " + std::to_string(vocab), "outside the vocabulary");
  ExpectOneLineError("lens --ids 1,x", "--ids");
  ExpectOneLineError("lens --frobnicate hello", "--frobnicate");
  ExpectOneLineError("lens --policy turbo hello", "turbo");
  ExpectOneLineError("lens -m /no/such/model hello", "/no/such/model");
  ExpectOneLineError("lens --png /no/such/folder/x.png hello",
                     "folder /no/such/folder does not exist");
  ExpectOneLineError("lens --png " + ::testing::TempDir() + " hello", "is a directory");
  ExpectOneLineError("lens --png '' hello", "--png: empty file name");
}

TEST(LensCliTest, UnwritablePngPathIsOneClearErrorBeforeAnyOutput) {
  // /proc takes no new files, even from root.
  ExpectOneLineError("lens --png /proc/talkie_lens.png hello", "--png /proc/talkie_lens.png");
}

TEST(LensCliTest, AFailedRunLeavesNoPngOrTemporaryFile) {
  const std::string dir = TempPath("failed");
  fs::remove_all(dir);
  fs::create_directories(dir);
  // The id is checked against the model's vocabulary after the PNG's
  // temporary file exists.
  ExpectOneLineError("lens --png " + dir + "/x.png --ids 999999", "outside the vocabulary");
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(LensCliTest, PromptsBeyondTheLimitsAreOneClearError) {
  std::string ids = "1";
  for (int64_t i = 0; i < BundledConfig("max_position_embeddings"); ++i) ids += ",1";
  ExpectOneLineError("lens --ids " + ids, "the model's context is");
  ExpectOneLineError("lens --png " + TempPath("long.png") + " --ids " + ids,
                     "--png draws at most 1024 positions");
}

TEST(LensCliTest, ReadOnlyPngFolderIsOneClearError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only folders";
  const std::string dir = TempPath("readonly");
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0555);
  ExpectOneLineError("lens --png " + dir + "/x.png hello", "is not writable");
  ::chmod(dir.c_str(), 0755);
}

}  // namespace
}  // namespace talkie
