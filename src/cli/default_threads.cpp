// Default thread count (see default_threads.h).
#include "cli/default_threads.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "talkie/engine.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

struct CpuTimes {
  unsigned long long idle = 0, total = 0;
};

// Per-CPU jiffies from /proc/stat ("cpuN user nice system idle iowait ...").
std::map<int, CpuTimes> ReadCpuTimes() {
  std::map<int, CpuTimes> times;
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream fields(line.substr(3));
    int cpu = 0;
    fields >> cpu;
    CpuTimes t;
    unsigned long long v = 0;
    for (int i = 0; fields >> v; ++i) {
      t.total += v;
      if (i == 3 || i == 4) t.idle += v;  // idle, iowait
    }
    times[cpu] = t;
  }
  return times;
}

// OpenMP's own count ($OMP_NUM_THREADS, else the cores), as the library sees it.
int OpenMpDefault() { return Engine().threads(); }

}  // namespace

int IdleCoreCount() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return OpenMpDefault();
  const std::map<int, CpuTimes> before = ReadCpuTimes();
  if (before.empty()) return OpenMpDefault();
  usleep(50 * 1000);
  const std::map<int, CpuTimes> after = ReadCpuTimes();
  int idle = 0, allowed = 0;
  for (const auto& [cpu, t1] : after) {
    if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mask)) continue;
    ++allowed;
    const auto it = before.find(cpu);
    if (it == before.end()) continue;
    const unsigned long long total = t1.total - it->second.total;
    const unsigned long long idle_ticks = t1.idle - it->second.idle;
    // No ticks at all (a tickless idle CPU over the short sample) is idle.
    if (total == 0 || 2 * idle_ticks >= total) ++idle;
  }
  if (allowed == 0) return OpenMpDefault();
  return std::clamp(idle, 1, OpenMpDefault());
}

int ResolveThreads(int threads) {
  Check(threads >= 0, "--threads must be >= 0, got " + std::to_string(threads));
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (threads == 0 && !(omp && *omp)) return IdleCoreCount();
  return threads;
}

}  // namespace talkie::cli
