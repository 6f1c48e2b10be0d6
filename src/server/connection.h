// The connection layer under httplib. httplib 0.11 reads a request with a
// timeout per read (a client sending a byte every few seconds is never cut
// off), gives each connection a fixed pool thread (a few slow clients lock
// everyone out), drops the bytes it has buffered between two requests
// (pipelined requests vanish) and waits for every connection at shutdown.
// GuardedServer serves each connection itself with httplib's request
// parser and routing (process_request) over its own stream, which keeps one
// buffer per connection, gives every request a total deadline, caps
// connections per client address and in total, and ends within a grace
// period at shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "server/httplib_config.h"

namespace talkie::server {

struct ConnectionLimits {
  std::chrono::milliseconds request_timeout{10000};    // a request's headers and body, in total
  std::chrono::milliseconds keep_alive_timeout{5000};  // idle between two requests
  std::chrono::milliseconds write_timeout{5000};       // one write to a client that stopped reading
  std::chrono::milliseconds shutdown_grace{5000};      // Stop() to every connection closed
  int max_connections = 256;                           // in total; beyond, only /health is answered
  int max_connections_per_client = 32;                 // per client IP address
  size_t max_request_bytes = 1 << 20;  // a request's bytes on the wire, head included
  int max_requests_per_connection = 1000;
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(ConnectionLimits limits);

  // For handlers, about the connection of the request on this thread:
  // whether it is over a connection cap (it gets one request, /health only),
  // and asking to close it after the response.
  static bool OverCap();
  static void CloseAfterResponse();
  // Whether the client has closed (or reset) the connection: for handlers
  // that wait long before answering. A client that only half-closes its
  // side counts as gone too (it is indistinguishable from a close).
  static bool ClientGone();

  // Stops reading new requests on every connection (idle ones close now),
  // fails writes after the grace period and closes what is left then.
  void BeginShutdown();
  // Lets the accept queue hold more than httplib's 5 waiting connections.
  void WidenBacklog();
  int open_connections() const;

  // Used by the connection stream and the thread queue (connection.cpp).
  const ConnectionLimits& limits() const { return limits_; }
  bool stopping() const { return stopping_.load(); }
  bool past_grace() const;
  void ForceCloseAll();

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Registers a connection; false when it is over a cap (then not counted).
  bool Admit(socket_t sock, const std::string& address);
  void Release(socket_t sock, const std::string& address, bool admitted);

  ConnectionLimits limits_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> grace_end_ns_{0};
  mutable std::mutex mutex_;
  std::set<socket_t> sockets_;
  std::map<std::string, int> per_client_;
  int admitted_ = 0;
};

}  // namespace talkie::server
