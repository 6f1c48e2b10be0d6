// A raw TCP client for the hostile-client tests: it writes exactly the bytes
// a test gives (pipelined requests, HTTP/1.0, one byte at a time) from any
// loopback source address, and reads whatever comes back, with deadlines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace talkie::testing {

class RawClient {
 public:
  // Connects to 127.0.0.1:port from `source` (any 127.x.y.z is local).
  RawClient(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the server has closed or reset the connection.
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads until the server closes the connection, `until` appears in what
  // was read, or `timeout` passes.
  std::string Read(std::chrono::milliseconds timeout, const std::string& until = "") {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (until.empty() || out.find(until) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_by_peer_ = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // Whether the last Read() ended because the server closed (or reset).
  bool closed_by_peer() const { return closed_by_peer_; }

  // True when the server closes the connection within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    Read(timeout);
    return closed_by_peer_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_by_peer_ = false;
};

}  // namespace talkie::testing
