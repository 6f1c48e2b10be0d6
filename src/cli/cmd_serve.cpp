// `talkie serve`: the OpenAI-compatible HTTP server (docs/server.md) with
// continuous batching. It binds and answers (/health: "loading") while the
// model loads. SIGINT / SIGTERM stop it gracefully, also while loading: it
// stops accepting, cancels in-flight sequences and exits 0.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_threads.h"
#include "cli/generation_options.h"
#include "cli/validators.h"
#include "server/http_server.h"
#include "talkie/engine.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string tokenizer;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t max_batch = 8;
  int64_t ctx = 0;
  int64_t queue = 64;
  int64_t prefill_chunk = 256;
  int64_t prompt_cache_mb = 1024;
  size_t max_body = 1 << 20;
  int threads = 0;
  std::string policy = "exact";
  double request_timeout = 10;
  double shutdown_grace = 5;
  int max_connections = 256;
  int max_connections_per_client = 32;
  SteeringArgs steering;  // the default for every request
  std::vector<std::string> cors;
};

std::string ModelName(const Model& m) {
  const std::filesystem::path dir(m.info().directory);
  const std::string name = dir.filename().string();
  return name.empty() ? "talkie" : name;
}

// Thrown from the load's progress reports when a signal stopped the server.
struct LoadAbandoned {};

void RunServe(const ServeArgs& a) {
  Check(a.port >= 0 && a.port <= 65535, "--port must be in [0, 65535]");
  Check(a.max_batch >= 1, "--max-batch must be >= 1");
  Check(a.queue >= 1, "--queue must be >= 1");
  Check(a.prefill_chunk >= 1, "--prefill-chunk must be >= 1");
  Check(a.prompt_cache_mb >= 0 && a.prompt_cache_mb <= (int64_t{1} << 40),
        "--prompt-cache-mb must be in [0, 2^40]");
  Check(a.ctx >= 0, "--ctx must be >= 0");
  Check(a.threads >= 0, "--threads must be >= 0");
  Check(a.request_timeout > 0 && a.request_timeout <= 3600,
        "--request-timeout must be in (0, 3600] seconds");
  Check(a.shutdown_grace >= 0 && a.shutdown_grace <= 3600,
        "--shutdown-grace must be in [0, 3600] seconds");
  Check(a.max_connections >= 1, "--max-connections must be >= 1");
  Check(a.max_connections_per_client >= 1, "--max-connections-per-client must be >= 1");
  // Resolved once (a default measures the idle cores): the count printed and
  // given to the engine the scheduler thread runs under.
  const int threads = ResolveThreads(a.threads);

  // Signals go to one waiting thread only: block them before any thread
  // (scheduler, HTTP workers) is created so that all inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServerOptions o;
  o.host = a.host;
  o.port = a.port;
  o.context = a.ctx;
  o.max_body_bytes = a.max_body;
  o.cors_origins = a.cors;
  o.connections.request_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(a.request_timeout * 1000));
  o.connections.shutdown_grace =
      std::chrono::milliseconds(static_cast<int64_t>(a.shutdown_grace * 1000));
  o.connections.max_connections = a.max_connections;
  o.connections.max_connections_per_client = a.max_connections_per_client;
  o.scheduler.max_batch = a.max_batch;
  o.scheduler.max_queue = a.queue;
  o.scheduler.prefill_chunk = a.prefill_chunk;
  o.scheduler.prompt_cache_bytes = a.prompt_cache_mb << 20;
  o.steering = LoadSteering(a.steering);
  // The model outlives the server that serves it.
  LoadedModel m;
  // Bound and answering (/health: "loading") before the model loads, so a
  // taken port fails at once and orchestrators see the server come up.
  server::HttpServer srv(o);
  const int port = srv.Bind();

  std::atomic<bool> finished{false}, stop_requested{false}, loading{true};
  std::thread waiter([&] {
    const timespec poll = {0, 200 * 1000 * 1000};
    while (!finished.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &poll);
      if (sig == SIGINT || sig == SIGTERM) {
        std::fprintf(stderr, "talkie serve: %s, shutting down\n",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        stop_requested.store(true);
        srv.Stop();
        // A load that reports progress stops at its next report and one that
        // only maps files ends at once; one stuck in a read (a hung file
        // system) is left behind after the grace period: nothing is written
        // by the server, so exiting is safe.
        const auto deadline =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(static_cast<int64_t>(a.shutdown_grace * 1000));
        while (loading.load() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (loading.load()) {
          std::fprintf(stderr, "talkie serve: stopped while the model was still loading\n");
          std::_Exit(0);
        }
        return;
      }
    }
  });
  std::thread serving([&] { srv.Run(); });
  std::fprintf(stderr, "talkie serve: listening on http://%s:%d (threads %d), loading the model\n",
               a.host.c_str(), port, Engine({.threads = threads}).threads());
  try {
    GenerationArgs gen;
    gen.model = a.model;
    gen.tokenizer = a.tokenizer;
    gen.policy = a.policy;
    gen.threads = threads;
    m = LoadModelAndTokenizer(gen, [&] {
      if (stop_requested.load()) throw LoadAbandoned{};
    });
    srv.SetModel(*m.model, *m.tokenizer, ModelName(*m.model));  // nothing once stopped
  } catch (const LoadAbandoned&) {
    // Stopped by a signal while loading: an ordinary shutdown.
  } catch (...) {
    // A model that cannot be served ends the process with its error.
    loading.store(false);
    srv.Stop();
    serving.join();
    finished.store(true);
    waiter.join();
    throw;
  }
  loading.store(false);
  if (srv.ready())
    std::fprintf(stderr,
                 "talkie serve: model %s (%s) ready on http://%s:%d "
                 "(max-batch %lld, queue %lld, ctx %lld)\n",
                 ModelName(*m.model).c_str(), m.tokenizer->is_chat() ? "IT: chat enabled" : "base",
                 a.host.c_str(), port, static_cast<long long>(a.max_batch),
                 static_cast<long long>(a.queue),
                 static_cast<long long>(a.ctx ? a.ctx : m.model->config().max_position_embeddings));
  serving.join();
  finished.store(true);
  waiter.join();
  srv.Stop();
  std::fprintf(stderr, "talkie serve: stopped\n");
}

}  // namespace

void RegisterServeCommand(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (docs/server.md)");
  cmd->add_option("-m,--model", a->model, "model directory or checkpoint (default: bundled model)");
  cmd->add_option("--tokenizer", a->tokenizer,
                  "vocab.txt / tokenizer.json / .gguf (default: the model's)");
  cmd->add_option("--host", a->host, "address to listen on")->capture_default_str();
  cmd->add_option("--cors", a->cors,
                  "allow browser calls from this origin (repeatable; * for any); off by default")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--port", a->port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--max-batch", a->max_batch, "sequences stepped together at most")
      ->capture_default_str();
  cmd->add_option("--ctx", a->ctx, "context limit per sequence (default: the model's)")
      ->check(IntegerIn(1));
  cmd->add_option("--queue", a->queue, "requests waiting at most (beyond: 503)")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "prompt tokens per sequence per step")
      ->capture_default_str();
  cmd->add_option("--prompt-cache-mb", a->prompt_cache_mb,
                  "MiB of finished requests' KV caches kept so that a request starting with the "
                  "same tokens skips them (0: off)")
      ->capture_default_str();
  cmd->add_option("--max-body", a->max_body, "largest request body in bytes (beyond: 413)")
      ->capture_default_str();
  cmd->add_option("--request-timeout", a->request_timeout,
                  "seconds to receive a request's headers and body, in total")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", a->shutdown_grace,
                  "seconds SIGTERM waits for open connections before closing them")
      ->capture_default_str();
  cmd->add_option("--max-connections", a->max_connections,
                  "open connections at most (beyond: /health only)")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-client", a->max_connections_per_client,
                  "open connections per client address at most")
      ->capture_default_str();
  AddThreadsOption(cmd, &a->threads);
  AddPolicyOption(cmd, &a->policy);
  AddSteeringOptions(cmd, &a->steering);
  cmd->callback([a] { RunServe(*a); });
}

}  // namespace talkie::cli
