// The default thread count degrades gracefully when other processes keep the
// cores busy: it uses only idle cores (at least one); --threads still wins.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace talkie {
namespace {

int AllowedCpus() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  return sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 1;
}

// One busy-looping child per allowed CPU for its lifetime.
class BusyCores {
 public:
  explicit BusyCores(int n) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        alarm(60);  // never outlives a crashed test
        volatile unsigned long x = 0;
        for (;;) x = x + 1;
      }
      pids_.push_back(pid);
    }
    usleep(100 * 1000);
  }
  ~BusyCores() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }

 private:
  std::vector<pid_t> pids_;
};

int ThreadsUsed(const std::string& extra) {
  const auto r = testing::RunTalkie("generate 'In the beginning' -n 2 -t 0 --json --quiet" + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const size_t brace = r.output.find('{');
  if (brace == std::string::npos) return -1;
  return nlohmann::json::parse(r.output.substr(brace))["threads"].get<int>();
}

TEST(ThreadsCliTest, DefaultUsesOnlyIdleCoresAndTheFlagStillWins) {
  const int cpus = AllowedCpus();
  if (cpus < 2) GTEST_SKIP() << "needs 2 cores to tell the counts apart";
  unsetenv("OMP_NUM_THREADS");
  const BusyCores busy(cpus);
  EXPECT_EQ(ThreadsUsed(""), 1);
  EXPECT_EQ(ThreadsUsed(" --threads 2"), 2);
}

// serve uses the same default: its first line (printed before the model
// loads, so a model that does not exist ends the run right after) names it.
TEST(ThreadsCliTest, ServeDefaultsToTheIdleCoresToo) {
  const int cpus = AllowedCpus();
  if (cpus < 2) GTEST_SKIP() << "needs 2 cores to tell the counts apart";
  unsetenv("OMP_NUM_THREADS");
  const BusyCores busy(cpus);
  const auto idle = testing::RunTalkie("serve --port 0 --model /nonexistent/talkie-model");
  EXPECT_EQ(idle.exit_code, 1) << idle.output;
  EXPECT_NE(idle.output.find("(threads 1)"), std::string::npos) << idle.output;
  const auto given =
      testing::RunTalkie("serve --port 0 --threads 2 --model /nonexistent/talkie-model");
  EXPECT_NE(given.output.find("(threads 2)"), std::string::npos) << given.output;
}

}  // namespace
}  // namespace talkie
