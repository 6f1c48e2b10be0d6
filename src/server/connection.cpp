// GuardedServer: one thread and one buffered stream per connection, request
// deadlines, connection caps and a bounded shutdown (see connection.h).
#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <thread>

namespace talkie::server {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Waits are cut in slices so that a shutdown is noticed within one.
constexpr auto kSlice = 50ms;

// What handlers may learn about, or ask of, the connection on their thread.
struct ConnectionState {
  socket_t sock = INVALID_SOCKET;
  bool over_cap = false;
  bool close_after = false;
};
thread_local ConnectionState* current = nullptr;

std::string Address(const sockaddr_storage& a, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    *port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    *port = ntohs(v6.sin6_port);
  }
  return text;
}

std::string PeerAddress(socket_t sock, int* port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getpeername(sock, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  return Address(a, port);
}

// A connection's byte stream for httplib's parser: one read buffer that
// lives as long as the connection (so pipelined requests survive), a total
// deadline and byte budget per request, and writes that give up after the
// write timeout or the shutdown grace period.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(socket_t sock, const GuardedServer& server) : sock_(sock), server_(server) {}

  // Waits up to `idle` for the next request's first byte; false on EOF,
  // error, timeout or shutdown.
  bool WaitForRequest(std::chrono::milliseconds idle) {
    if (begin_ < buffer_.size()) return true;
    return Fill(Clock::now() + idle) > 0;
  }
  void StartRequest(std::chrono::milliseconds timeout, size_t budget) {
    deadline_ = Clock::now() + timeout;
    budget_ = budget;
  }

  bool is_readable() const override { return begin_ < buffer_.size() || Poll(POLLIN, 0ms) > 0; }
  bool is_writable() const override {
    return !server_.past_grace() && Poll(POLLOUT, server_.limits().write_timeout) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == buffer_.size() && Fill(deadline_) <= 0) return -1;
    size = std::min({size, buffer_.size() - begin_, budget_});
    if (size == 0) return -1;  // the request is larger than any we accept
    std::copy_n(buffer_.data() + begin_, size, ptr);
    begin_ += size;
    budget_ -= size;
    return static_cast<ssize_t>(size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    const auto end = Clock::now() + server_.limits().write_timeout;
    size_t sent = 0;
    while (sent < size) {
      if (server_.past_grace() || Clock::now() >= end) return -1;
      const ssize_t n = ::send(sock_, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        Poll(POLLOUT, kSlice);
      } else {
        return -1;
      }
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = PeerAddress(sock_, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = Address(a, &port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // poll() in slices; 0 on timeout or shutdown (reads stop at once, writes
  // after the grace period).
  int Poll(short events, std::chrono::milliseconds timeout) const {
    const auto end = Clock::now() + timeout;
    for (;;) {
      if (events == POLLIN ? server_.stopping() : server_.past_grace()) return 0;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::clamp(left, 0ms, kSlice).count()));
      if (r != 0 || left <= kSlice) return r < 0 && errno == EINTR ? 0 : r;
    }
  }

  // Reads what the socket has (at most 16 KB) into the emptied buffer.
  ssize_t Fill(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms || Poll(POLLIN, left) <= 0) return -1;
    buffer_.resize(16384);
    begin_ = 0;
    const ssize_t n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
    buffer_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return n;
  }

  socket_t sock_;
  const GuardedServer& server_;
  std::string buffer_;
  size_t begin_ = 0;
  Clock::time_point deadline_ = Clock::now();
  size_t budget_ = 0;
};

// Closes after sending everything: shut the sending side, then read what
// the client still sends for a moment, since closing with unread bytes
// makes the kernel answer with a reset that can destroy the response.
void LingeringClose(socket_t sock, bool quick) {
  ::shutdown(sock, SHUT_WR);
  const auto end = Clock::now() + (quick ? 0ms : 200ms);
  char sink[4096];
  while (Clock::now() < end) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    if (::recv(sock, sink, sizeof sink, 0) <= 0) break;
  }
  ::close(sock);
}

// A thread per connection up to `max_threads`; beyond, connections wait for
// one to finish. shutdown() waits for them all, closing the sockets of
// those still open when the grace period is over.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  ConnectionThreads(GuardedServer& server, int max_threads)
      : server_(server), max_threads_(max_threads) {}

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(fn));
    if (running_ >= max_threads_) return;
    ++running_;
    std::thread([this] { Work(); }).detach();
  }

  void shutdown() override {
    std::unique_lock lock(mutex_);
    while (running_ > 0) {
      if (server_.past_grace()) server_.ForceCloseAll();
      idle_.wait_for(lock, kSlice);
    }
  }

 private:
  void Work() {
    std::unique_lock lock(mutex_);
    while (!pending_.empty()) {
      std::function<void()> fn = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
    --running_;
    idle_.notify_all();  // under the lock: the queue may be destroyed right after
  }

  GuardedServer& server_;
  const int max_threads_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> pending_;
  int running_ = 0;
};

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits) : limits_(limits) {
  // Room beyond the cap for /health and for telling the excess to go away.
  const int threads = limits_.max_connections + 16;
  new_task_queue = [this, threads] { return new ConnectionThreads(*this, threads); };
}

bool GuardedServer::OverCap() { return current && current->over_cap; }
void GuardedServer::CloseAfterResponse() {
  if (current) current->close_after = true;
}

bool GuardedServer::ClientGone() {
  if (!current) return false;
  pollfd p{current->sock, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  // Readable: either a pipelined next request (still here) or the end.
  char byte;
  const ssize_t n = ::recv(current->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void GuardedServer::BeginShutdown() {
  const auto end = Clock::now() + limits_.shutdown_grace;
  grace_end_ns_.store(end.time_since_epoch().count());
  stopping_.store(true);
}

bool GuardedServer::past_grace() const {
  return stopping_.load() && Clock::now().time_since_epoch().count() >= grace_end_ns_.load();
}

void GuardedServer::WidenBacklog() {
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
}

int GuardedServer::open_connections() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(sockets_.size());
}

void GuardedServer::ForceCloseAll() {
  std::lock_guard lock(mutex_);
  for (socket_t s : sockets_) ::shutdown(s, SHUT_RDWR);
}

bool GuardedServer::Admit(socket_t sock, const std::string& address) {
  std::lock_guard lock(mutex_);
  sockets_.insert(sock);
  int& mine = per_client_[address];
  if (admitted_ >= limits_.max_connections || mine >= limits_.max_connections_per_client) {
    if (mine == 0) per_client_.erase(address);
    return false;
  }
  ++mine;
  ++admitted_;
  return true;
}

void GuardedServer::Release(socket_t sock, const std::string& address, bool admitted) {
  std::lock_guard lock(mutex_);
  sockets_.erase(sock);
  if (!admitted) return;
  --admitted_;
  if (--per_client_[address] == 0) per_client_.erase(address);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  int port = 0;
  const std::string address = PeerAddress(sock, &port);
  const bool admitted = Admit(sock, address);
  ConnectionState state;
  state.sock = sock;
  state.over_cap = !admitted;
  current = &state;
  {
    ConnectionStream stream(sock, *this);
    // A connection over a cap gets one quick request: /health, or a 503.
    const auto timeout = admitted ? limits_.request_timeout
                                  : std::min<std::chrono::milliseconds>(
                                        limits_.request_timeout, std::chrono::milliseconds(2000));
    for (int served = 0; !stopping(); ++served) {
      if (!stream.WaitForRequest(served == 0 ? timeout : limits_.keep_alive_timeout)) break;
      stream.StartRequest(timeout, limits_.max_request_bytes + 65536);
      state.close_after = false;
      const bool last = !admitted || served + 1 >= limits_.max_requests_per_connection;
      bool closed = false;
      if (!process_request(stream, last, closed, nullptr) || closed || last || state.close_after)
        break;
    }
  }
  current = nullptr;
  Release(sock, address, admitted);
  LingeringClose(sock, past_grace());
  return true;
}

}  // namespace talkie::server
