// What an operator watches: GET /health while the model loads (503
// "loading", every other route 503 until the model is set), GET /metrics
// after requests (counters move by exactly what the requests did, the
// histograms stay consistent, the KV gauge follows the active sequences),
// and the built binary while it loads (a model that never finishes loading
// still answers /health and stops on SIGTERM; one that fails is a one-line
// error with exit code 1).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "../cli/cli_util.h"
#include "common/error.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server_test_util.h"

namespace talkie::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::DefaultModel;
using testing::PostStreaming;
using testing::TestServer;

ServerOptions OperationsOptions() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.scheduler.prefill_chunk = 4;
  o.model_name = "talkie-tiny-1930";
  return o;
}

struct Answer {
  int status = -1;  // -1: no answer
  std::string body, content_type, retry_after;
};

Answer Get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(60);
  Answer a;
  if (auto r = c.Get(path.c_str())) {
    a = {r->status, r->body, r->get_header_value("Content-Type"),
         r->get_header_value("Retry-After")};
  }
  return a;
}

Answer Post(int port, const std::string& path, const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(60);
  Answer a;
  if (auto r = c.Post(path.c_str(), body, "application/json")) {
    a = {r->status, r->body, r->get_header_value("Content-Type"),
         r->get_header_value("Retry-After")};
  }
  return a;
}

// GET /health until it answers at all (the serving thread is starting).
Answer FirstHealth(int port) {
  for (int i = 0; i < 500; ++i) {
    Answer a = Get(port, "/health");
    if (a.status != -1) return a;
    std::this_thread::sleep_for(10ms);
  }
  return {};
}

// Every route but /health while the model loads: 503 with an OpenAI error
// saying so, and Retry-After.
void ExpectStillLoading(int port) {
  const std::vector<Answer> answers = {
      Post(port, "/v1/completions", R"({"prompt": "In the beginning", "max_tokens": 2})"),
      Post(port, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "Hi"}]})"),
      Post(port, "/tokenize", R"({"content": "Hello"})"),
      Post(port, "/detokenize", R"({"tokens": [1]})"),
      Get(port, "/v1/models"),
      Get(port, "/metrics"),
      Get(port, "/no/such/route"),
  };
  for (const Answer& a : answers) {
    EXPECT_EQ(a.status, 503) << a.body;
    EXPECT_EQ(a.retry_after, "1");
    const json e = json::parse(a.body, nullptr, false);
    ASSERT_TRUE(e.is_object()) << a.body;
    EXPECT_NE(e["error"]["message"].get<std::string>().find("the model is still loading"),
              std::string::npos)
        << a.body;
    EXPECT_EQ(e["error"]["type"], "server_error");
  }
}

TEST(OperationsTest, HealthSaysLoadingAndOtherRoutesAre503UntilTheModelIsSet) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  HttpServer srv(OperationsOptions());
  const int port = srv.Bind();
  std::thread serving([&] { srv.Run(); });
  EXPECT_FALSE(srv.ready());
  const Answer loading = FirstHealth(port);
  EXPECT_EQ(loading.status, 503);
  EXPECT_EQ(json::parse(loading.body), json({{"status", "loading"}}));
  EXPECT_EQ(loading.retry_after, "1");
  ExpectStillLoading(port);
  EXPECT_EQ(srv.stats().requests_total, 0);

  srv.SetModel(*DefaultModel().model, *DefaultModel().tokenizer, "tiny-by-set-model");
  EXPECT_TRUE(srv.ready());
  const Answer ok = Get(port, "/health");
  EXPECT_EQ(ok.status, 200);
  const json h = json::parse(ok.body);
  EXPECT_EQ(h["status"], "ok");
  for (const char* field : {"active_sequences", "queued_requests", "requests_total",
                            "requests_rejected", "sequences_cancelled", "peak_active_sequences",
                            "steps", "generated_tokens", "max_batch", "max_queue", "context"})
    EXPECT_TRUE(h.contains(field)) << field;
  EXPECT_EQ(h["context"], DefaultModel().model->config().max_position_embeddings);
  const Answer models = Get(port, "/v1/models");
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(json::parse(models.body)["data"][0]["id"], "tiny-by-set-model");
  const Answer done =
      Post(port, "/v1/completions", R"({"prompt": "In the beginning", "max_tokens": 2})");
  EXPECT_EQ(done.status, 200) << done.body;
  srv.Stop();
  serving.join();
}

TEST(OperationsTest, StopWhileLoadingEndsRunAndALaterModelIsNotServed) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  HttpServer srv(OperationsOptions());
  const int port = srv.Bind();
  std::thread serving([&] { srv.Run(); });
  EXPECT_EQ(FirstHealth(port).status, 503);
  srv.Stop();
  serving.join();  // Run() returns although no model was ever set
  EXPECT_NO_THROW(srv.SetModel(*DefaultModel().model, *DefaultModel().tokenizer));
  EXPECT_FALSE(srv.ready());
  EXPECT_EQ(Get(port, "/health").status, -1);  // no longer listening
}

TEST(OperationsTest, AModelThatDoesNotFitTheOptionsIsRefusedAndLoadingGoesOn) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  ServerOptions o = OperationsOptions();
  o.context = DefaultModel().model->config().max_position_embeddings + 1;
  HttpServer srv(o);
  const int port = srv.Bind();
  std::thread serving([&] { srv.Run(); });
  try {
    srv.SetModel(*DefaultModel().model, *DefaultModel().tokenizer);
    ADD_FAILURE() << "a context beyond the model's was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--ctx"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(srv.ready());
  EXPECT_EQ(FirstHealth(port).status, 503);
  srv.Stop();
  serving.join();
}

// "name{labels} value" lines of a text exposition -> value by series.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    const std::string value = line.substr(space + 1);
    out[line.substr(0, space)] = value == "+Inf" ? 1.0 / 0.0 : std::stod(value);
  }
  return out;
}

std::map<std::string, double> Metrics(const TestServer& s) {
  const Answer a = Get(s.port(), "/metrics");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, kMetricsContentType);
  return ParseMetrics(a.body);
}

// A histogram's buckets never decrease and its +Inf bucket is its count.
void ExpectConsistentHistogram(const std::map<std::string, double>& m, const std::string& name) {
  // (bound, count); the map orders series by their text, not by bound.
  std::vector<std::pair<double, double>> by_bound;
  for (const auto& [series, value] : m) {
    const std::string prefix = name + "_bucket{le=\"";
    if (series.rfind(prefix, 0) != 0) continue;
    const std::string le = series.substr(prefix.size(), series.size() - prefix.size() - 2);
    by_bound.emplace_back(le == "+Inf" ? 1.0 / 0.0 : std::stod(le), value);
  }
  std::sort(by_bound.begin(), by_bound.end());
  EXPECT_GE(by_bound.size(), 2u) << name;
  double previous = 0;
  for (const auto& [bound, count] : by_bound) {
    EXPECT_GE(count, previous) << name << " le=" << bound;
    previous = count;
  }
  ASSERT_FALSE(by_bound.empty());
  EXPECT_EQ(by_bound.back().first, 1.0 / 0.0) << name;
  EXPECT_EQ(by_bound.back().second, m.at(name + "_count")) << name;
}

TEST(OperationsTest, MetricsMoveByExactlyWhatARequestDid) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), OperationsOptions());
  const auto before = Metrics(s);
  for (const char* name :
       {"talkie_requests_total", "talkie_requests_rejected_total", "talkie_prompt_tokens_total",
        "talkie_prefill_tokens_total", "talkie_generated_tokens_total",
        "talkie_sequences_cancelled_total", "talkie_steps_total", "talkie_queued_requests",
        "talkie_active_sequences", "talkie_last_step_batch_size", "talkie_kv_cache_bytes"})
    EXPECT_EQ(before.count(name), 1u) << name;
  EXPECT_EQ(before.at("talkie_time_to_first_token_seconds_count"), 0);

  // Two choices of five tokens each (ignore_eos: no stop token ends one early).
  const json body = {{"prompt", "In the beginning God created"},
                     {"max_tokens", 5},
                     {"n", 2},
                     {"ignore_eos", true},
                     {"temperature", 0}};
  const Answer r = Post(s.port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json response = json::parse(r.body);
  const int64_t prompt_tokens = response["usage"]["prompt_tokens"];
  ASSERT_EQ(response["usage"]["completion_tokens"], 10);
  // A malformed request is refused before it reaches the scheduler.
  EXPECT_EQ(Post(s.port(), "/v1/completions", R"({"prompt": ""})").status, 400);

  const auto after = Metrics(s);
  auto delta = [&](const std::string& name) { return after.at(name) - before.at(name); };
  EXPECT_EQ(delta("talkie_requests_total"), 1);
  EXPECT_EQ(delta("talkie_requests_rejected_total"), 0);
  EXPECT_EQ(delta("talkie_prompt_tokens_total"), prompt_tokens);
  // The two choices share one prefill of the prompt.
  EXPECT_EQ(delta("talkie_prefill_tokens_total"), prompt_tokens);
  EXPECT_EQ(delta("talkie_generated_tokens_total"), 10);
  EXPECT_EQ(delta("talkie_sequences_cancelled_total"), 0);
  // Each sequence's first token is one time to first token, each later one
  // an inter-token gap.
  EXPECT_EQ(delta("talkie_time_to_first_token_seconds_count"), 2);
  EXPECT_EQ(delta("talkie_inter_token_latency_seconds_count"), 8);
  EXPECT_GE(delta("talkie_time_to_first_token_seconds_sum"), 0);
  EXPECT_GE(delta("talkie_inter_token_latency_seconds_sum"), 0);
  // One batch-size observation per forward, of 1 or 2 sequences.
  const double steps = delta("talkie_steps_total");
  EXPECT_GE(steps, 5);  // at least one forward per sampled token of a sequence
  EXPECT_EQ(delta("talkie_step_batch_size_count"), steps);
  EXPECT_GE(delta("talkie_step_batch_size_sum"), steps);
  EXPECT_LE(delta("talkie_step_batch_size_sum"), 2 * steps);
  EXPECT_GE(after.at("talkie_last_step_batch_size"), 1);
  EXPECT_LE(after.at("talkie_last_step_batch_size"), 2);
  EXPECT_EQ(after.at("talkie_steps_total"), s.Health()["steps"].get<double>());
  for (const char* h : {"talkie_time_to_first_token_seconds", "talkie_inter_token_latency_seconds",
                        "talkie_step_batch_size"})
    ExpectConsistentHistogram(after, h);
  // Every sampled token is one observation of one of the two histograms.
  EXPECT_EQ(after.at("talkie_time_to_first_token_seconds_count") +
                after.at("talkie_inter_token_latency_seconds_count"),
            after.at("talkie_generated_tokens_total"));
  EXPECT_EQ(after.at("talkie_queued_requests"), 0);
  EXPECT_EQ(after.at("talkie_active_sequences"), 0);
}

TEST(OperationsTest, KvCacheGaugeFollowsTheActiveSequences) {
  TALKIE_REQUIRE_DEFAULT_MODEL();
  TestServer s(DefaultModel(), OperationsOptions());
  EXPECT_EQ(Metrics(s).at("talkie_kv_cache_bytes"), 0);
  const json endless = {
      {"prompt", "And"}, {"max_tokens", 100000}, {"ignore_eos", true}, {"stream", true}};
  std::atomic<bool> leave{false};
  std::thread client([&] {
    PostStreaming(s, "/v1/completions", endless.dump(),
                  [&](const std::string&) { return !leave.load(); });
  });
  // While the stream runs, its cache holds at least one token of keys and
  // values in every layer: 2 x n_layer x n_embd floats.
  const ModelConfig& c = DefaultModel().model->config();
  const double one_token = 2.0 * static_cast<double>(c.n_layer * c.n_embd) * 4;
  bool seen = false;
  for (int i = 0; i < 2000 && !seen; ++i) {
    const auto m = Metrics(s);
    seen = m.at("talkie_active_sequences") == 1 && m.at("talkie_kv_cache_bytes") >= one_token;
    if (!seen) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(seen) << "the KV gauge never showed the running sequence's cache";
  leave.store(true);
  client.join();
  // The client left: its sequence is cancelled and its cache freed.
  bool freed = false;
  for (int i = 0; i < 2000 && !freed; ++i) {
    const auto m = Metrics(s);
    freed = m.at("talkie_active_sequences") == 0 && m.at("talkie_kv_cache_bytes") == 0;
    if (!freed) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(freed);
  EXPECT_EQ(Metrics(s).at("talkie_sequences_cancelled_total"), 1);
}

// --- The binary ---

struct ServeProcess {
  pid_t pid = -1;
  std::string log;
  int port = 0;

  // `talkie serve --port 0 ARGS`, stderr and stdout to a log; waits for its
  // "listening on" line (bounded).
  explicit ServeProcess(const std::vector<std::string>& args, const std::string& name) {
    log = ::testing::TempDir() + name + "." + std::to_string(getpid()) + ".log";
    std::remove(log.c_str());
    pid = fork();
    if (pid == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      dup2(fd, 1);
      std::vector<const char*> argv = {TALKIE_CLI_PATH, "serve", "--port", "0", "--threads", "1"};
      for (const std::string& a : args) argv.push_back(a.c_str());
      argv.push_back(nullptr);
      execv(TALKIE_CLI_PATH, const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 600 && port == 0; ++i) {
      std::smatch m;
      const std::string text = Log();
      if (std::regex_search(text, m, listening))
        port = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(50ms);
    }
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    std::remove(log.c_str());
  }
  std::string Log() const {
    std::ifstream in(log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Sends `sig` and returns the exit status (-1 when it did not exit within 20 s).
  int SignalAndWait(int sig) {
    kill(pid, sig);
    for (int i = 0; i < 400; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(50ms);
    }
    return -1;
  }
};

// A model file that is a FIFO nobody writes: opening it blocks, so the
// server stays "loading" for as long as the test likes.
TEST(ServeCommandTest, AnswersLoadingWhileTheModelLoadsAndSigtermStillStops) {
  if (access(TALKIE_CLI_PATH, X_OK) != 0) GTEST_SKIP() << "talkie binary not built";
  const std::string fifo =
      ::testing::TempDir() + "talkie_loading_fifo." + std::to_string(getpid()) + ".safetensors";
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    ServeProcess serve({"--model", fifo, "--shutdown-grace", "0.2"}, "talkie_serve_loading");
    ASSERT_NE(serve.port, 0) << serve.Log();
    const Answer health = FirstHealth(serve.port);
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_EQ(json::parse(health.body), json({{"status", "loading"}}));
    EXPECT_EQ(health.retry_after, "1");
    ExpectStillLoading(serve.port);
    EXPECT_EQ(serve.SignalAndWait(SIGTERM), 0) << serve.Log();
    EXPECT_NE(serve.Log().find("stopped while the model was still loading"), std::string::npos)
        << serve.Log();
  }
  std::remove(fifo.c_str());
}

TEST(ServeCommandTest, AModelThatFailsToLoadIsAOneLineErrorAndExitCode1) {
  if (access(TALKIE_CLI_PATH, X_OK) != 0) GTEST_SKIP() << "talkie binary not built";
  const std::string bad =
      ::testing::TempDir() + "talkie_bad_model." + std::to_string(getpid()) + ".safetensors";
  std::ofstream(bad, std::ios::binary) << "not a checkpoint";
  for (const std::string& model : {std::string("/nonexistent/talkie-model"), bad}) {
    const auto r = testing::RunTalkie("serve --threads 1 --port 0 --model " + model);
    const std::string& out = r.output;
    ASSERT_NE(r.exit_code, -1) << out;  // exited, not killed
    EXPECT_EQ(r.exit_code, 1) << out;
    // The "listening" line, then the error: one line naming the file, last.
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_FALSE(lines.empty()) << out;
    EXPECT_EQ(lines.back().rfind("talkie: error: ", 0), 0u) << out;
    EXPECT_NE(lines.back().find(model), std::string::npos) << out;
    EXPECT_EQ(
        std::count_if(lines.begin(), lines.end(),
                      [](const std::string& l) { return l.find("error") != std::string::npos; }),
        1)
        << out;
  }
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace talkie::server
