// No command destroys data: each test really tries to write over a model
// (its own input, an existing model, a model another process has mapped)
// and checks the bytes that must survive.
#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "../server/raw_client.h"
#include "cli_process.h"
#include "cli_util.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using testing::kBundled;
using testing::ReadFileBytes;
using testing::RunTalkie;

const std::string kTinyFixture = std::string(TALKIE_TEST_DATA_DIR) + "/model/models/tiny";

// A fresh copy of a model folder under the test temp dir.
std::string CopyModel(const std::string& from, const std::string& name) {
  const std::string dir = ::testing::TempDir() + "talkie_overwrite_" + name;
  fs::remove_all(dir);
  fs::copy(from, dir, fs::copy_options::recursive);
  return dir;
}

// Every file of a folder with its bytes (and nothing else, e.g. no temp files).
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    files[e.path().filename().string()] = ReadFileBytes(e.path().string());
  return files;
}

void ExpectRefused(const testing::CommandResult& r, const std::string& message) {
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.find("talkie: error: "), 0u) << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
}

TEST(OverwriteCliTest, QuantizeOntoItsOwnInputIsRefusedEvenWithForce) {
  const std::string dir = CopyModel(kBundled, "quantize_self");
  const auto before = Snapshot(dir);
  for (const std::string& args :
       {"quantize --type q8 -m " + dir + " --out " + dir,
        "quantize --type q4 -m " + dir + " --out " + dir + " --force",
        "quantize --type q8 -m " + dir + "/model.safetensors --out " + dir + "/ --force",
        "quantize --type q8 -m " + dir + " --out " + dir + "/../" +
            fs::path(dir).filename().string()}) {
    ExpectRefused(RunTalkie(args), "is the folder of the input model");
    EXPECT_EQ(Snapshot(dir), before) << args;  // byte-identical, no temp files left
  }
  // The default model ($TALKIE_MODEL here, to keep the bundled one safe) is an input too.
  setenv("TALKIE_MODEL", dir.c_str(), 1);
  const auto r = RunTalkie("quantize --type q8 --out " + dir + " --force");
  unsetenv("TALKIE_MODEL");
  ExpectRefused(r, "is the folder of the input model");
  EXPECT_EQ(Snapshot(dir), before);
}

TEST(OverwriteCliTest, QuantizeOverAnotherModelNeedsForce) {
  const std::string dir = CopyModel(kTinyFixture, "quantize_other");
  const auto before = Snapshot(dir);
  const auto r = RunTalkie("quantize --type q8 --out " + dir);
  ExpectRefused(r, "already holds a model");
  EXPECT_NE(r.output.find("pass --force"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dir), std::string::npos) << r.output;
  EXPECT_EQ(Snapshot(dir), before);

  const auto forced = RunTalkie("quantize --type q8 --out " + dir + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  const auto info = RunTalkie("info -m " + dir);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("q8"), std::string::npos) << info.output;
  for (const auto& [name, bytes] : Snapshot(dir))
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
}

TEST(OverwriteCliTest, SynthOverAnExistingModelNeedsForce) {
  const std::string dir = CopyModel(kBundled, "synth");
  const auto before = Snapshot(dir);
  const auto r = RunTalkie("synth --shape talkie-tiny --out " + dir);
  ExpectRefused(r, "already holds a model");
  EXPECT_NE(r.output.find("pass --force"), std::string::npos) << r.output;
  EXPECT_EQ(Snapshot(dir), before);

  ASSERT_EQ(RunTalkie("synth --shape talkie-tiny --out " + dir + " --force").exit_code, 0);
  EXPECT_NE(ReadFileBytes(dir + "/model.safetensors"), before.at("model.safetensors"));
  EXPECT_EQ(RunTalkie("info -m " + dir).exit_code, 0);
  // A new or empty folder needs no --force.
  const std::string fresh = ::testing::TempDir() + "talkie_overwrite_synth_fresh";
  fs::remove_all(fresh);
  EXPECT_EQ(RunTalkie("synth --shape talkie-tiny --out " + fresh).exit_code, 0);
}

TEST(OverwriteCliTest, ForwardOntoAModelFileIsRefused) {
  const std::string dir = CopyModel(kTinyFixture, "forward");
  const auto before = Snapshot(dir);
  for (const std::string& out : {dir + "/model.safetensors", dir + "/config.json"})
    for (const char* force : {"", " --force"}) {
      ExpectRefused(RunTalkie("forward -m " + dir + " --ids 1,2,3 --out " + out + force),
                    "is a file of the input model");
      EXPECT_EQ(Snapshot(dir), before);
    }
  ExpectRefused(RunTalkie("forward -m " + dir + "/model.safetensors --ids 1,2 --out " + dir +
                          "/model.safetensors --force"),
                "is a file of the input model");
  EXPECT_EQ(Snapshot(dir), before);

  // Some other model's file: only with --force.
  const std::string other = CopyModel(kTinyFixture, "forward_other") + "/model.safetensors";
  const std::string other_bytes = ReadFileBytes(other);
  const auto r = RunTalkie("forward -m " + dir + " --ids 1,2,3 --out " + other);
  ExpectRefused(r, "pass --force");
  EXPECT_EQ(ReadFileBytes(other), other_bytes);
  ASSERT_EQ(RunTalkie("forward -m " + dir + " --ids 1,2,3 --out " + other + " --force").exit_code,
            0);
  // An earlier forward output is replaced without --force (re-running).
  const auto again = RunTalkie("forward -m " + dir + " --ids 4,5 --out " + other);
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// A running process keeps the model it mapped: the forced overwrite renames
// a new file into place instead of truncating the mapped one.
TEST(OverwriteCliTest, MappedModelSurvivesAForcedOverwrite) {
  const std::vector<std::string> chat_args = {"chat", "-t", "0", "-n", "8"};
  const std::string turn1 = "What is wisdom?\n", turn2 = "And what is folly?\n";

  const std::string dir = CopyModel(kBundled, "mapped");
  std::vector<std::string> args = chat_args;
  args.insert(args.end(), {"-m", dir});
  // The same session on an untouched model, for the expected replies.
  testing::TalkieProcess reference(args);
  reference.Write(turn1 + turn2);
  reference.CloseStdin();
  ASSERT_EQ(reference.Wait(120), 0) << reference.err();

  testing::TalkieProcess chat(args);
  chat.Write(turn1);
  // The speed line on stderr follows each reply: the model is mapped and read.
  ASSERT_TRUE(chat.WaitForStderr("generated", 1, 120)) << chat.err();
  const auto q = RunTalkie("quantize --type q4 -m " + kBundled + " --out " + dir + " --force");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  chat.Write(turn2);
  chat.CloseStdin();
  EXPECT_EQ(chat.Wait(120), 0) << chat.err();  // no SIGBUS
  EXPECT_EQ(chat.out(), reference.out());      // still the old weights, intact

  const auto info = RunTalkie("info -m " + dir);  // the new file is complete
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("q4"), std::string::npos) << info.output;
}

// One HTTP/1.0 POST; the response body ("" when there was no answer).
std::string Post(int port, const std::string& path, const std::string& body) {
  testing::RawClient c(port);
  if (!c.connected()) return "";
  c.Send("POST " + path + " HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string response = c.Read(std::chrono::seconds(60));
  const size_t head_end = response.find("\r\n\r\n");
  return head_end == std::string::npos ? "" : response.substr(head_end + 4);
}

// The issue's case: a running `talkie serve` whose model folder is
// overwritten by quantize --force died with SIGBUS. Now it keeps serving the
// model it mapped, with the same answers, and exits 0 on SIGTERM.
TEST(OverwriteCliTest, ARunningServerSurvivesAForcedOverwriteOfItsModel) {
  const std::string dir = CopyModel(kBundled, "served");
  testing::TalkieProcess serve({"serve", "-m", dir, "--port", "0", "--threads", "1"});
  std::smatch m;
  ASSERT_TRUE(
      serve.WaitForStderrMatch(std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)"), &m, 60))
      << serve.err();
  const int port = std::stoi(m[1]);
  const std::string request =
      R"({"prompt": "In the beginning", "max_tokens": 24, "temperature": 0, "ignore_eos": true})";
  std::string before;
  for (int i = 0; i < 600 && before.find("\"choices\"") == std::string::npos; ++i) {
    before = Post(port, "/v1/completions", request);  // 503 while the model loads
    if (before.find("\"choices\"") == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto text_of = [](const std::string& body) {
    return nlohmann::json::parse(body)["choices"][0]["text"].get<std::string>();
  };
  ASSERT_NE(before.find("\"choices\""), std::string::npos) << before << serve.err();

  const auto q = RunTalkie("quantize --type q4 -m " + kBundled + " --out " + dir + " --force");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const std::string after = Post(port, "/v1/completions", request);
  ASSERT_NE(after.find("\"choices\""), std::string::npos) << after << serve.err();
  EXPECT_EQ(text_of(after), text_of(before));  // still the old weights, intact

  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(30), 0) << serve.err();  // no SIGBUS
  const auto info = RunTalkie("info -m " + dir);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("q4"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace talkie
