// End-to-end tests of `talkie info` and `talkie forward`: outputs in the
// fixture layout, byte-identical files across chunking / threads / batching,
// and one-line errors with a non-zero exit for bad input.
#include <gtest/gtest.h>

#include "../model/fixtures.h"
#include "cli_util.h"

namespace talkie {
namespace {

using testing::RunTalkie;

std::string Model(const std::string& name) {
  return testing::ModelFixtureDir() + "/models/" + name;
}
std::string Out(const std::string& name) {
  return ::testing::TempDir() + "talkie_cli_" + name + ".safetensors";
}

std::string IdsText(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

TEST(ForwardCliTest, WritesFixtureLayoutMatchingTheReference) {
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/wide-head/len17.safetensors");
  const std::string ids = IdsText(testing::IdsOf(*expected.Find("input_ids")));
  const auto r = RunTalkie("forward --model " + Model("wide-head") + " --ids " + ids +
                           " --hidden-states --attentions --out " + Out("ref"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::TensorStore ours = io::LoadSafetensors(Out("ref"));
  for (const char* name : {"logits", "hidden_states.0", "hidden_states.1", "hidden_states.2",
                           "attentions.0", "attentions.1"}) {
    ASSERT_NE(ours.Find(name), nullptr) << name;
    EXPECT_EQ(ours.Find(name)->shape, expected.Find(name)->shape) << name;
    EXPECT_TRUE(testing::CloseToReference(testing::FloatsOf(*ours.Find(name)),
                                          testing::FloatsOf(*expected.Find(name)), name));
  }
}

TEST(ForwardCliTest, ChunkThreadsAndBatchGiveByteIdenticalFiles) {
  const std::string base = "forward --model " + Model("small") + " --hidden-states --attentions ";
  const std::string a = "--ids 5,17,300,2,9,4000,12,8,1,1,77 ";
  const std::string b = "--ids 44,45,46 ";
  ASSERT_EQ(RunTalkie(base + a + "--out " + Out("whole")).exit_code, 0);
  ASSERT_EQ(RunTalkie(base + a + "--chunk 1 --threads 1 --out " + Out("chunk1")).exit_code, 0);
  ASSERT_EQ(RunTalkie(base + a + "--chunk 3 --threads 2 --out " + Out("chunk3")).exit_code, 0);
  EXPECT_EQ(testing::ReadFileBytes(Out("whole")), testing::ReadFileBytes(Out("chunk1")));
  EXPECT_EQ(testing::ReadFileBytes(Out("whole")), testing::ReadFileBytes(Out("chunk3")));

  const auto r = RunTalkie(base + a + b + "--chunk 2 --pad-id 7 --out " + Out("batch"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::TensorStore batch = io::LoadSafetensors(Out("batch"));
  const io::TensorStore whole = io::LoadSafetensors(Out("whole"));
  for (const io::TensorView& t : whole.tensors()) {
    const io::TensorView* row = batch.Find("seq0." + t.name);
    ASSERT_NE(row, nullptr) << t.name;
    ASSERT_EQ(row->nbytes, t.nbytes);
    EXPECT_EQ(std::memcmp(row->data, t.data, t.nbytes), 0) << t.name;
  }
  ASSERT_NE(batch.Find("seq1.logits"), nullptr);
  EXPECT_EQ(batch.Find("seq1.logits")->shape, (std::vector<int64_t>{3, 4100}));
  EXPECT_EQ(batch.Find("seq1.attentions.0")->shape, (std::vector<int64_t>{4, 3, 3}));
}

TEST(ForwardCliTest, InfoDescribesTheCheckpoint) {
  const auto r = RunTalkie("info --model " + Model("tiny-raw/rl-refined.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pytorch-zip"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("original"), std::string::npos);
  EXPECT_NE(r.output.find("inferred from tensors"), std::string::npos);
  EXPECT_NE(r.output.find("523795"), std::string::npos);
}

// Bad input: non-zero exit, one line naming the problem, no crash.
TEST(ForwardCliTest, BadInputGivesOneLineErrors) {
  struct Case {
    std::string args;
    std::string message;
  };
  const std::string tiny = "forward --model " + Model("tiny") + " --out " + Out("bad") + " ";
  for (const Case& c : std::vector<Case>{
           {tiny + "--ids 1,2,1000", "token id 1000"},
           {tiny + "--ids ''", "--ids: empty id list"},
           {tiny + "--ids 1,,2", "empty entry"},
           {tiny + "--ids 1,x", "'x' is not an integer"},
           {tiny + "--ids 1,-4", "out of range"},
           {"forward --model /nonexistent/model --ids 1 --out " + Out("bad"),
            "no such file or directory"},
           {"info --model " + testing::ModelFixtureDir() + "/manifest.json", "manifest.json"},
       }) {
    const auto r = RunTalkie(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("talkie: error: "), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

}  // namespace
}  // namespace talkie
