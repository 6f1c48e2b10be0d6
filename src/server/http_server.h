// The HTTP front of `talkie serve` (cpp-httplib): routes, limits and
// streaming. Handler threads parse requests, submit them to the Scheduler and
// wait on / stream from the request's event channel; the scheduler thread is
// the only one that runs the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/connection.h"
#include "talkie/model.h"
#include "talkie/scheduler.h"
#include "talkie/steering.h"
#include "talkie/tokenizer.h"

namespace talkie::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see Bind())
  int64_t context = 0;                // 0: the model's max_position_embeddings
  size_t max_body_bytes = 1 << 20;    // larger bodies get 413
  std::string model_name = "talkie";  // the id /v1/models lists
  // Origins allowed to call from a browser (--cors; "*" allows any): their
  // requests get Access-Control-Allow-Origin, and OPTIONS preflights are
  // answered. Empty: no CORS headers (browsers block cross-origin calls).
  std::vector<std::string> cors_origins;
  ConnectionLimits connections;  // deadlines, caps, shutdown grace
  SchedulerOptions scheduler;
  // Control vectors / ablation applied to every request (--control-vector*,
  // --ablate-direction); the per-request "control_vectors" field scales
  // them by name (steering.names()).
  Steering steering;
};

class HttpServer {
 public:
  // A server without a model yet: it can Bind() and Run() while the model
  // loads; until SetModel(), GET /health answers 503 {"status": "loading"}
  // and every other route 503 "the model is still loading".
  explicit HttpServer(ServerOptions options);
  // HttpServer(options) then SetModel(model, tokenizer).
  HttpServer(const Model& model, const Tokenizer& tokenizer, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Checks the options against the model (context, vocabulary, steering),
  // starts the scheduler and begins serving requests. The model and
  // tokenizer must outlive the server. Once only; does nothing after Stop().
  // Throws talkie::Error on a mismatch (the server keeps answering "loading").
  // model_name, when not empty, replaces ServerOptions::model_name.
  void SetModel(const Model& model, const Tokenizer& tokenizer, const std::string& model_name = "");
  bool ready() const;

  // Binds host:port and returns the port (the chosen one for port 0). Throws
  // talkie::Error when the address cannot be bound.
  int Bind();
  // Serves until Stop(); returns after in-flight handlers have ended.
  void Run();
  // Thread-safe, idempotent: stops accepting connections and cancels the
  // queued and running sequences (streams end, waiting requests get 503).
  void Stop();

  // Zeros before SetModel().
  SchedulerStats stats() const;
  int open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace talkie::server
