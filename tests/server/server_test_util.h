// Helpers shared by the server tests: the default (IT) model and a base
// fixture model with their tokenizers, an in-process HttpServer on a free
// loopback port, and small HTTP client helpers (plain and streaming).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/access.h"
#include "generate/test_tokenizer.h"
#include "server/http_server.h"
#include "server/httplib_config.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"

namespace talkie::testing {

inline std::string DefaultModelDir() { return TALKIE_DEFAULT_MODEL_DIR; }
inline bool HaveDefaultModel() {
  return std::filesystem::exists(DefaultModelDir() + "/vocab.txt") &&
         std::filesystem::exists(DefaultModelDir() + "/model.safetensors");
}

#define TALKIE_REQUIRE_DEFAULT_MODEL()                                                         \
  do {                                                                                         \
    if (!::talkie::testing::HaveDefaultModel())                                                \
      GTEST_SKIP() << "default model not present at " << ::talkie::testing::DefaultModelDir(); \
  } while (0)

// The server takes the public types; TokenizerAccess::Internal reaches the
// internal tokenizer where a test compares with it.
struct LoadedPair {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// models/talkie-tiny-1930: IT style, with vocab.txt. Loaded once.
inline const LoadedPair& DefaultModel() {
  static const LoadedPair p = [] {
    LoadedPair l;
    l.model = std::make_unique<Model>(Model::Load(DefaultModelDir()));
    l.tokenizer = std::make_unique<Tokenizer>(Tokenizer::ForModel(*l.model));
    return l;
  }();
  return p;
}

// tests/data/model/models/tiny (vocab 1000) with a base-style test tokenizer.
inline const LoadedPair& BaseFixtureModel() {
  static const LoadedPair p = [] {
    LoadedPair l;
    l.model = std::make_unique<Model>(
        Model::Load(std::string(TALKIE_TEST_DATA_DIR) + "/model/models/tiny"));
    l.tokenizer = std::make_unique<Tokenizer>(
        TokenizerAccess::Wrap(TokenizerForVocab(l.model->config().vocab_size)));
    return l;
  }();
  return p;
}

// A real HttpServer on 127.0.0.1:<free port>, serving on its own thread.
class TestServer {
 public:
  TestServer(const LoadedPair& m, server::ServerOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;  // the kernel picks a free port
    server_ = std::make_unique<server::HttpServer>(*m.model, *m.tokenizer, options);
    port_ = server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
    // Ready once /health answers.
    for (int i = 0; i < 500; ++i) {
      auto c = Client();
      if (auto r = c.Get("/health"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "server did not come up";
  }
  ~TestServer() { Stop(); }
  void Stop() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
    server_.reset();
  }

  int port() const { return port_; }
  server::HttpServer& server() { return *server_; }

  httplib::Client Client(int read_timeout_s = 60) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(read_timeout_s);
    c.set_write_timeout(5);
    return c;
  }

  nlohmann::json Health() const {
    auto c = Client();
    auto r = c.Get("/health");
    if (!r) return {};
    return nlohmann::json::parse(r->body);
  }

  // Polls /health until `pred` holds (or ~timeout).
  bool WaitHealth(const std::function<bool(const nlohmann::json&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const nlohmann::json h = Health();
      if (!h.is_null() && pred(h)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

 private:
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

struct HttpResult {
  int status = -1;  // -1: no response (connection error)
  std::string body;
  std::string content_type;
  std::string retry_after;
};

inline HttpResult PostJson(const TestServer& s, const std::string& path, const std::string& body) {
  auto c = s.Client();
  auto r = c.Post(path.c_str(), body, "application/json");
  HttpResult out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.content_type = r->get_header_value("Content-Type");
  out.retry_after = r->get_header_value("Retry-After");
  return out;
}

// POSTs and feeds the response body to `on_data` as it arrives; returning
// false from it closes the connection (a client that goes away).
inline HttpResult PostStreaming(
    const TestServer& s, const std::string& path, const std::string& body,
    const std::function<bool(const std::string& so_far)>& on_data = {}) {
  auto c = s.Client();
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  HttpResult out;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    out.body.append(data, len);
    return on_data ? on_data(out.body) : true;
  };
  auto r = c.send(req);
  if (r) {
    out.status = r->status;
    out.content_type = r->get_header_value("Content-Type");
  }
  return out;
}

// Splits an SSE body into its events' payloads ("data: X\n\n" -> X); a
// malformed frame fails the test.
inline std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated SSE event: " << body.substr(pos);
      break;
    }
    const std::string frame = body.substr(pos, end - pos);
    if (frame.rfind("data: ", 0) != 0) {
      ADD_FAILURE() << "SSE frame without 'data: ': " << frame;
    } else {
      events.push_back(frame.substr(6));
    }
    pos = end + 2;
  }
  return events;
}

}  // namespace talkie::testing
