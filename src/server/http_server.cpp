// Routes, limits and streaming of `talkie serve` (see http_server.h).
#include "server/http_server.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "server/httplib_config.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "talkie/error.h"

namespace talkie::server {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string ErrorType(int status) {
  if (status == 404) return "not_found_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(Dump(body), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message,
               const std::string& type, const std::string& param = "") {
  // Every 503 is temporary (busy, too many connections, shutting down).
  if (status == 503) res.set_header("Retry-After", "1");
  SendJson(res, status, ErrorBody(message, type, param));
}

// Refuses, before the body is read, what would make reading it unbounded:
// compressed bodies (a few KB can inflate to GB), chunked bodies (no length
// to check up front) and a Content-Length over the limit. Connections over
// a cap, and every connection while the model loads, get /health only. A
// refused request's body stays unread, so its connection is closed after
// the answer.
bool Refuse(const httplib::Request& req, httplib::Response& res, size_t max_body, bool loading) {
  auto refuse = [&](int status, const std::string& message) {
    GuardedServer::CloseAfterResponse();
    SendError(res, status, message, ErrorType(status));
    return true;
  };
  if (GuardedServer::OverCap() && req.path != "/health")
    return refuse(503,
                  "too many connections are open (from this address or in total); retry "
                  "later or reuse a connection");
  if (loading && req.path != "/health")
    return refuse(503, "the model is still loading; retry shortly (GET /health answers 200 then)");
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity")
    return refuse(415, "compressed request bodies are not accepted (Content-Encoding: " + encoding +
                           "); send plain JSON");
  if (req.has_header("Transfer-Encoding"))
    return refuse(411, "chunked request bodies are not accepted; send a Content-Length");
  const std::string length = req.get_header_value("Content-Length");
  if (!length.empty()) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || length[0] == '-')
      return refuse(400, "Content-Length is not a number: " + length);
    if (n > max_body)
      return refuse(
          413, "request body is larger than the limit of " + std::to_string(max_body) + " bytes");
  }
  return false;
}

// The routes and their methods: a known path asked with another method is
// a 405 naming the allowed one, not a 404.
std::string AllowedMethod(const std::string& path) {
  for (const char* get : {"/health", "/metrics", "/v1/models"})
    if (path == get) return "GET";
  if (path.rfind("/v1/models/", 0) == 0) return "GET";
  for (const char* post : {"/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"})
    if (path == post) return "POST";
  return "";
}

// The Access-Control-Allow-Origin value for a request's Origin ("" for none).
std::string AllowedOrigin(const std::vector<std::string>& allowed, const std::string& origin) {
  if (origin.empty()) return "";
  for (const std::string& a : allowed) {
    if (a == "*") return "*";
    if (a == origin) return origin;
  }
  return "";
}

// Runs a handler body, turning errors into OpenAI-style JSON error responses.
template <typename F>
void Guarded(httplib::Response& res, F&& body) {
  try {
    body();
  } catch (const ApiError& e) {
    SendError(res, e.status(), e.what(), e.type(), e.param());
  } catch (const Error& e) {
    SendError(res, 400, e.what(), "invalid_request_error");
  } catch (const std::exception& e) {
    SendError(res, 500, std::string("internal error: ") + e.what(), "server_error");
  }
}

// The state a streaming response keeps between calls of its provider.
struct StreamState {
  std::shared_ptr<ScheduledRequest> request;
  ResponseMeta meta;
  bool include_usage = false;
  std::vector<bool> started;
  int64_t completion_tokens = 0;
  bool cancelled = false;
  std::string error;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)), http(options.connections) {}

  void Routes();
  // The entry of /v1/models and /v1/models/{id}.
  json ModelObject() const;
  void HandleGeneration(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
  void Stream(const std::shared_ptr<StreamState>& state, const httplib::Request& req,
              httplib::Response& res);
  std::string NewId(Endpoint endpoint);
  // The request's steering: the server's, or with the request's scales.
  std::shared_ptr<const Hooks> SteeringFor(const std::map<std::string, float>& scales) const;

  // Set by SetModel before `ready` turns true; until then every route but
  // /health is refused, so handlers that use them always find them set.
  const Model* model = nullptr;
  const Tokenizer* tokenizer = nullptr;
  ServerOptions options;
  ApiLimits limits;
  std::shared_ptr<const Hooks> steering;  // the default; null when none
  std::unique_ptr<Scheduler> scheduler;
  GuardedServer http;
  std::atomic<bool> ready{false};
  std::mutex attach_mutex;                                              // SetModel against Stop
  const int64_t started_at = static_cast<int64_t>(std::time(nullptr));  // models' "created"
  std::atomic<bool> stopped{false}, in_run{false};
  std::mutex rng_mutex;
  std::mt19937_64 rng{std::random_device{}()};
};

std::shared_ptr<const Hooks> HttpServer::Impl::SteeringFor(
    const std::map<std::string, float>& scales) const {
  if (scales.empty()) return steering;
  try {
    return std::make_shared<const Hooks>(options.steering.MakeHooks(model->config(), scales));
  } catch (const Error& e) {  // e.g. scales whose sum overflows
    throw ApiError(400, std::string("control_vectors: ") + e.what(), "control_vectors");
  }
}

json HttpServer::Impl::ModelObject() const {
  return {{"id", options.model_name},
          {"object", "model"},
          {"created", started_at},
          {"owned_by", "talkie.cpp"},
          {"context_length", limits.context},
          {"chat", tokenizer->is_chat()}};
}

std::string HttpServer::Impl::NewId(Endpoint endpoint) {
  std::lock_guard lock(rng_mutex);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + hex;
}

void HttpServer::Impl::HandleGeneration(Endpoint endpoint, const httplib::Request& req,
                                        httplib::Response& res) {
  uint64_t random_seed;
  {
    std::lock_guard lock(rng_mutex);
    random_seed = rng() & 0x7fffffffu;  // small enough for any client to echo
  }
  ParsedRequest p = ParseRequest(endpoint, req.body, *tokenizer, limits, random_seed);
  ResponseMeta meta;
  meta.endpoint = endpoint;
  meta.id = NewId(endpoint);
  meta.created = static_cast<int64_t>(std::time(nullptr));
  meta.model = p.model.empty() ? options.model_name : p.model;
  meta.seed = p.seed;
  meta.prompt_tokens = static_cast<int64_t>(p.prompt.size());
  meta.logprobs = p.logprobs;
  const size_t n = p.configs.size();

  std::shared_ptr<ScheduledRequest> request =
      scheduler->TrySubmit(std::move(p.prompt), std::move(p.configs), p.top_logprobs, p.logprobs,
                           SteeringFor(p.control_vector_scales));
  if (!request) {
    if (!scheduler->accepting())
      throw ApiError(503, "the server is shutting down", "", "server_error");
    throw ApiError(503,
                   "the server is busy: " + std::to_string(scheduler->options().max_queue) +
                       " requests are already waiting; retry later",
                   "", "server_error");
  }

  if (p.stream) {
    auto state = std::make_shared<StreamState>();
    state->request = std::move(request);
    state->meta = std::move(meta);
    state->include_usage = p.include_usage;
    state->started.assign(n, false);
    Stream(state, req, res);
    return;
  }

  std::vector<ChoiceResult> choices(n);
  bool done = false, cancelled = false, client_gone = false;
  std::string error;
  while (!done) {
    // A client that hung up gets no answer: stop its sequences now rather
    // than generate for nobody.
    if (!client_gone && GuardedServer::ClientGone()) {
      client_gone = true;
      request->Cancel();
    }
    for (SequenceEvent& e : request->Wait(200ms, &done)) {
      ChoiceResult& c = choices[e.index];
      c.text += e.text;
      c.ids.insert(c.ids.end(), e.ids.begin(), e.ids.end());
      for (auto& lp : e.logprobs) c.logprobs.push_back(std::move(lp));
      if (!e.error.empty()) error = e.error;
      if (e.finished) {
        c.finish = e.finish;
        cancelled = cancelled || e.finish == FinishReason::kCancelled;
      }
    }
  }
  if (client_gone) {
    GuardedServer::CloseAfterResponse();
    throw ApiError(499, "the client closed the connection", "", "server_error");
  }
  if (!error.empty()) throw ApiError(500, error, "", "server_error");
  if (cancelled) throw ApiError(503, "the server is shutting down", "", "server_error");
  meta.cached_tokens = request->cached_tokens();
  SendJson(res, 200, CompletionResponse(meta, choices, *tokenizer));
}

void HttpServer::Impl::Stream(const std::shared_ptr<StreamState>& state,
                              const httplib::Request& req, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  const Tokenizer* tok = tokenizer;
  auto provider = [state, tok](size_t, httplib::DataSink& sink) {
    bool done = false;
    std::string out;
    for (SequenceEvent& e : state->request->Wait(100ms, &done)) {
      if (!e.error.empty()) state->error = e.error;
      if (e.finished && e.finish == FinishReason::kCancelled) {
        state->cancelled = true;
        continue;
      }
      const bool first = !state->started[e.index];
      state->started[e.index] = true;
      const bool chat = state->meta.endpoint == Endpoint::kChat;
      if (chat && first)  // OpenAI's first chat chunk carries only the role
        out += SseEvent(StreamChunk(state->meta, e.index, true, "", {}, {}, std::nullopt, *tok));
      if (!e.text.empty() || !e.ids.empty())
        out += SseEvent(StreamChunk(state->meta, e.index, false, e.text, e.ids, e.logprobs,
                                    std::nullopt, *tok));
      if (e.finished) {
        state->completion_tokens += e.completion_tokens;
        out += SseEvent(StreamChunk(state->meta, e.index, false, "", {}, {}, e.finish, *tok));
      }
    }
    if (done) {
      if (!state->error.empty())
        out += SseEvent(ErrorBody(state->error, "server_error"));
      else if (state->cancelled)
        out += SseEvent(ErrorBody("the server is shutting down", "server_error"));
      state->meta.cached_tokens = state->request->cached_tokens();
      if (state->include_usage) out += SseEvent(UsageChunk(state->meta, state->completion_tokens));
      out += "data: [DONE]\n\n";
    }
    // A failed write (or an unwritable socket while idle) means the client
    // left: cancel so the scheduler frees the sequences at its next step.
    if (!out.empty() ? !sink.write(out.data(), out.size()) : !sink.is_writable()) {
      state->request->Cancel();
      return false;
    }
    if (done) sink.done();
    return true;
  };
  // Runs when the response ends for any reason; cancelling a finished
  // request is harmless.
  auto release = [state](bool) { state->request->Cancel(); };
  if (req.version == "HTTP/1.0") {
    // HTTP/1.0 has no chunked encoding: the end of the stream is the close.
    GuardedServer::CloseAfterResponse();
    res.set_header("Connection", "close");
    res.set_content_provider("text/event-stream", provider, release);
  } else {
    res.set_chunked_content_provider("text/event-stream", provider, release);
  }
}

void HttpServer::Impl::Routes() {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = AllowedOrigin(options.cors_origins, req.get_header_value("Origin"));
    if (!origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", origin);
      if (origin != "*") res.set_header("Vary", "Origin");
    }
    return Refuse(req, res, options.max_body_bytes, !ready.load())
               ? httplib::Server::HandlerResponse::Handled
               : httplib::Server::HandlerResponse::Unhandled;
  });
  // A CORS preflight, or a client asking what a route takes.
  http.Options(R"(.*)", [](const httplib::Request& req, httplib::Response& res) {
    const std::string method = AllowedMethod(req.path);
    if (method.empty()) {
      SendError(res, 404, "no route for OPTIONS " + req.path, ErrorType(404));
      return;
    }
    res.status = 204;
    res.set_header("Allow", method + ", OPTIONS");
    if (res.has_header("Access-Control-Allow-Origin")) {
      res.set_header("Access-Control-Allow-Methods", method + ", OPTIONS");
      const std::string asked = req.get_header_value("Access-Control-Request-Headers");
      res.set_header("Access-Control-Allow-Headers",
                     asked.empty() ? "Content-Type, Authorization" : asked);
      res.set_header("Access-Control-Max-Age", "600");
    }
  });
  // 200 "ok" when serving; 503 "loading" (with Retry-After) until the model
  // is set, and "shutting_down" once stopping.
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready.load()) {
      if (!stopped.load()) res.set_header("Retry-After", "1");
      SendJson(res, 503, {{"status", stopped.load() ? "shutting_down" : "loading"}});
      return;
    }
    const SchedulerStats s = scheduler->stats();
    SendJson(res, scheduler->accepting() ? 200 : 503,
             {{"status", scheduler->accepting() ? "ok" : "shutting_down"},
              {"active_sequences", s.active_sequences},
              {"queued_requests", s.queued_requests},
              {"requests_total", s.requests_total},
              {"requests_rejected", s.requests_rejected},
              {"steps", s.steps},
              {"generated_tokens", s.generated_tokens},
              {"prefill_tokens", s.prefill_tokens},
              {"sequences_cancelled", s.sequences_cancelled},
              {"peak_active_sequences", s.peak_active_sequences},
              {"max_batch", scheduler->options().max_batch},
              {"max_queue", scheduler->options().max_queue},
              {"context", limits.context}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(scheduler->metrics()), kMetricsContentType);
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"object", "list"}, {"data", json::array({ModelObject()})}});
  });
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (id != options.model_name) {
      SendError(
          res, 404,
          "the model '" + id + "' does not exist (this server serves '" + options.model_name + "')",
          ErrorType(404), "model");
      return;
    }
    SendJson(res, 200, ModelObject());
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Guarded(res, [&] { HandleGeneration(Endpoint::kCompletions, req, res); });
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Guarded(res, [&] { HandleGeneration(Endpoint::kChat, req, res); });
  });
  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    Guarded(res, [&] {
      SendJson(res, 200, {{"tokens", ParseTokenizeRequest(req.body, *tokenizer)}});
    });
  });
  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    Guarded(res, [&] { SendJson(res, 200, Detokenize(req.body, *tokenizer)); });
  });
  // Statuses httplib sets itself (404, 413 for an oversized body, ...) get a
  // JSON body too; responses our handlers filled are left alone.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    // httplib's own answers (bad request line or headers, ...) may leave
    // the stream mid-request: do not read another request from it.
    if (res.status != 404) GuardedServer::CloseAfterResponse();
    std::string message = "HTTP " + std::to_string(res.status);
    if (res.status == 404) message = "no route for " + req.method + " " + req.path;
    if (const std::string allowed = AllowedMethod(req.path);
        res.status == 404 && !allowed.empty() && allowed != req.method) {
      res.status = 405;
      res.set_header("Allow", allowed + ", OPTIONS");
      message = req.path + " takes " + allowed + ", not " + req.method;
    }
    if (res.status == 413)
      message = "request body is larger than the limit of " +
                std::to_string(options.max_body_bytes) + " bytes";
    SendError(res, res.status, message, ErrorType(res.status));
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message += std::string(": ") + e.what();
        } catch (...) {
        }
        SendError(res, 500, message, "server_error");
      });
}

HttpServer::HttpServer(ServerOptions options) {
  options.connections.max_request_bytes = options.max_body_bytes;
  impl_ = std::make_unique<Impl>(std::move(options));
  Impl& s = *impl_;
  const std::vector<std::string>& names = s.options.steering.names();
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      Check(names[i] != names[k],
            "two control vectors are named '" + names[i] +
                "' (the file name without its extension names a vector in requests)");
  s.limits.control_vectors = names;
  // A client that goes away must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  s.http.set_payload_max_length(s.options.max_body_bytes);
  // httplib's default options add SO_REUSEPORT, which lets a second server
  // share the port and the kernel split connections between the two:
  // SO_REUSEADDR alone only allows a restart over TIME_WAIT connections.
  s.http.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.Routes();
}

HttpServer::HttpServer(const Model& model, const Tokenizer& tokenizer, ServerOptions options)
    : HttpServer(std::move(options)) {
  SetModel(model, tokenizer);
}

void HttpServer::SetModel(const Model& model, const Tokenizer& tokenizer,
                          const std::string& model_name) {
  Impl& s = *impl_;
  std::lock_guard lock(s.attach_mutex);
  Check(s.model == nullptr, "server: the model is already set");
  if (s.stopped.load()) return;
  const int64_t max_context = model.config().max_position_embeddings;
  const int64_t context = s.options.context == 0 ? max_context : s.options.context;
  Check(context >= 2 && context <= max_context,
        "--ctx must be in [2, " + std::to_string(max_context) + "] (the model's context), got " +
            std::to_string(context));
  Check(tokenizer.vocab_size() <= model.config().vocab_size,
        "the tokenizer has more ids than the model's vocabulary");
  std::shared_ptr<const Hooks> steering;
  if (!s.options.steering.empty())
    steering = std::make_shared<const Hooks>(s.options.steering.MakeHooks(model.config()));
  auto scheduler = std::make_unique<Scheduler>(model, tokenizer, s.options.scheduler);
  // Everything checked: publish, then let requests in.
  s.options.context = context;
  s.limits.context = context;
  if (!model_name.empty()) s.options.model_name = model_name;
  s.model = &model;
  s.tokenizer = &tokenizer;
  s.steering = std::move(steering);
  s.scheduler = std::move(scheduler);
  s.ready.store(true);
}

bool HttpServer::ready() const { return impl_->ready.load(); }

HttpServer::~HttpServer() { Stop(); }

int HttpServer::Bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    const int port = s.http.bind_to_any_port(s.options.host);
    Check(port > 0, "cannot bind " + s.options.host + " on any port");
    s.options.port = port;
  } else if (!s.http.bind_to_port(s.options.host, s.options.port)) {
    const int err = errno;
    throw Error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) + ": " +
                (err == EADDRINUSE ? std::string("the port is in use (another server?)")
                                   : std::string(std::strerror(err))));
  }
  s.http.WidenBacklog();
  return s.options.port;
}

void HttpServer::Run() {
  impl_->in_run.store(true);
  if (impl_->stopped.load()) return;
  impl_->http.listen_after_bind();
}

void HttpServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  // Cancel first: handlers waiting on the scheduler wake up and answer, so
  // httplib's workers can finish and listen_after_bind() can return.
  {
    std::lock_guard lock(impl_->attach_mutex);
    if (impl_->scheduler) impl_->scheduler->Shutdown();
  }
  impl_->http.BeginShutdown();
  // httplib's stop() does nothing until the listen loop runs: give a Run()
  // that has just started a moment to get there.
  for (int i = 0; i < 100 && impl_->in_run.load() && !impl_->http.is_running(); ++i)
    std::this_thread::sleep_for(10ms);
  impl_->http.stop();
}

SchedulerStats HttpServer::stats() const {
  return impl_->ready.load() ? impl_->scheduler->stats() : SchedulerStats{};
}

int HttpServer::open_connections() const { return impl_->http.open_connections(); }

}  // namespace talkie::server
