#include "api/listener.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace gangsched::api {
namespace {

using Clock = std::chrono::steady_clock;

// A fresh connection that has sent nothing yet is given this long before it counts as idle under
// pressure: a client writes its request right after connecting, and closing a connection before
// its first request would fail a POST that the client cannot safely retry.
constexpr std::chrono::milliseconds kFirstRequestGrace{1000};
// Worker threads beyond min_threads that found no connection for this long exit.
constexpr std::chrono::seconds kIdleThreadExit{10};
// Threads beyond max_connections: they answer 503 to connections past the cap, or their exempt
// path.
constexpr std::size_t kRejectThreads = 16;
// How long a connection past the cap is given to show whether it asks for an exempt path.
constexpr std::chrono::milliseconds kExemptPeek{200};

// Threads started as connections need them, up to a maximum; those idle for long beyond the
// minimum exit. httplib's ThreadPool has a fixed size: its threads were all held by idle clients.
class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(std::size_t min_threads, std::size_t max_threads)
      : min_(std::max<std::size_t>(1, min_threads)), max_(std::max(min_, max_threads)) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < min_; ++i) StartLocked();
  }
  ~ElasticPool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(fn));
    JoinRetiredLocked();
    if (idle_ < jobs_.size() && workers_.size() < max_) StartLocked();
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    std::map<std::thread::id, std::thread> workers;
    {
      std::lock_guard lock(mu_);
      workers.swap(workers_);
      retired_.clear();
    }
    for (auto& [id, t] : workers) t.join();
  }

 private:
  void StartLocked() {
    std::thread t([this] { Work(); });
    const auto id = t.get_id();
    workers_.emplace(id, std::move(t));
  }
  void JoinRetiredLocked() {
    for (const auto& id : retired_) {
      auto it = workers_.find(id);
      if (it == workers_.end()) continue;
      it->second.join();  // it has left Work(): only its exit remains
      workers_.erase(it);
    }
    retired_.clear();
  }
  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      const bool got =
          cv_.wait_for(lock, kIdleThreadExit, [this] { return !jobs_.empty() || shutdown_; });
      --idle_;
      if (jobs_.empty()) {
        if (shutdown_) return;
        if (!got && workers_.size() - retired_.size() > min_) {
          retired_.push_back(std::this_thread::get_id());
          return;
        }
        continue;
      }
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::size_t min_;
  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::map<std::thread::id, std::thread> workers_;
  std::vector<std::thread::id> retired_;  // exited Work(), not joined yet
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

// An eventfd that stays readable while set: wakes every poll() that includes it.
class Signal {
 public:
  Signal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Signal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  // The flag and the eventfd change together under mu_: a Lower between a Raise's flag and its
  // write would leave the eventfd readable with the flag down, and every idle poll would spin.
  void Raise() {
    if (raised_.load()) return;
    std::lock_guard lock(mu_);
    if (raised_.load()) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
    raised_.store(true);
  }
  void Lower() {
    if (!raised_.load()) return;
    std::lock_guard lock(mu_);
    if (!raised_.load()) return;
    std::uint64_t value = 0;
    [[maybe_unused]] auto n = ::read(fd_, &value, sizeof value);
    raised_.store(false);
  }
  bool raised() const { return raised_.load(); }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::mutex mu_;
  std::atomic<bool> raised_{false};
};

class RequestStream;
thread_local RequestStream* t_current = nullptr;

// One connection's socket as httplib reads and writes it: buffered reads against the request's
// deadline and byte budget, writes bounded by the same timeout.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(int sock, const ListenerLimits& limits, int stop_fd)
      : sock_(sock), limits_(limits), stop_fd_(stop_fd) {}

  // A new request starts: its deadline and budget start now.
  void StartRequest() {
    deadline_ = Clock::now() + std::chrono::milliseconds(limits_.request_timeout_ms);
    budget_ = limits_.max_request_bytes;
    cut_short_ = false;
    close_after_ = false;
  }
  bool HasBuffered() const { return off_ < len_; }
  bool cut_short() const { return cut_short_; }
  bool close_after() const { return close_after_; }
  void CloseAfter() { close_after_ = true; }

  bool is_readable() const override { return HasBuffered() || Wait(POLLIN); }
  bool is_writable() const override { return Wait(POLLOUT); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (!HasBuffered()) {
      // Data that keeps coming is cut off at the deadline too, not only a client that pauses.
      if (budget_ == 0 || Clock::now() >= deadline_) return Cut();
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), budget_));
      // Read first, wait only when nothing is there: one system call per buffer while a body
      // streams in.
      ssize_t n = ::recv(sock_, buf_.data(), want, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!Wait(POLLIN)) return Cut();
        n = ::recv(sock_, buf_.data(), want, 0);
      }
      if (n <= 0) return n;
      budget_ -= static_cast<std::uint64_t>(n);
      off_ = 0;
      len_ = static_cast<std::size_t>(n);
    }
    const std::size_t k = std::min(size, len_ - off_);
    std::memcpy(ptr, buf_.data() + off_, k);
    off_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (!Wait(POLLOUT, /*for_write=*/true)) return -1;
    return ::send(sock_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(::getsockname, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  ssize_t Cut() {
    cut_short_ = true;
    return -1;
  }
  // Until the socket is ready, the deadline passes (reads: the request's; writes: a timeout of
  // their own from now) or the listener stops.
  bool Wait(short events, bool for_write = false) const {
    const auto deadline = for_write
                              ? Clock::now() + std::chrono::milliseconds(limits_.request_timeout_ms)
                              : deadline_;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      std::array<pollfd, 2> fds{pollfd{sock_, events, 0}, pollfd{stop_fd_, POLLIN, 0}};
      const int n =
          ::poll(fds.data(), fds.size(),
                 static_cast<int>(std::min<long long>(left, std::numeric_limits<int>::max())));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      if ((fds[1].revents & POLLIN) != 0) return false;
      return fds[0].revents != 0;
    }
  }
  template <typename Fn>
  void Address(Fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = -1;
    if (fn(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text.data(), text.size());
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text.data(), text.size());
      port = ntohs(in6->sin6_port);
    }
    ip = text.data();
  }

  int sock_;
  const ListenerLimits& limits_;
  int stop_fd_;
  Clock::time_point deadline_{};
  std::uint64_t budget_ = 0;
  bool cut_short_ = false;
  bool close_after_ = false;
  std::array<char, 16384> buf_{};
  std::size_t off_ = 0;
  std::size_t len_ = 0;
};

// httplib's request parsing and routing inside gangsched's connection loop.
class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(const ListenerLimits& limits) : limits_(limits) {
    const std::size_t max_threads = limits_.max_connections + kRejectThreads;
    new_task_queue = [this, max_threads] {
      return new ElasticPool(limits_.min_threads, max_threads);
    };
  }

  void Interrupt() { stop_.Raise(); }

 private:
  // Counts one open connection. The pressure signal is raised when more than idle_close_above
  // are open and lowered only when no more than half that many are: every raise wakes every idle
  // connection's poll, and a count hovering at the threshold raised it thousands of times a second
  // (load average 250 on 2 cores in connection_bench with 2,048).
  class Slot {
   public:
    explicit Slot(GuardedServer& s) : s_(s) {
      const std::size_t open = ++s_.open_;
      admitted_ = open <= s_.limits_.max_connections;
      if (open > s_.limits_.idle_close_above) s_.pressure_.Raise();
    }
    ~Slot() {
      if (--s_.open_ <= s_.limits_.idle_close_above / 2) s_.pressure_.Lower();
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    bool admitted() const { return admitted_; }

   private:
    GuardedServer& s_;
    bool admitted_ = false;
  };

  bool process_and_close_socket(socket_t sock) override {
    {
      Slot slot(*this);
      if (slot.admitted()) {
        Serve(sock);
      } else if (AsksForExemptPath(sock)) {
        ServeOne(sock);
      } else {
        Reject(sock);
      }
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }

  static void Reject(int sock) {
    static const std::string kBody =
        R"({"Error":"too many connections to this listener (max_connections); retry shortly"})";
    const std::string reply =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(kBody.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + kBody;
    // Non-blocking: a client that does not read is not waited for.
    [[maybe_unused]] auto n = ::send(sock, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  // Past the cap: whether the connection's request is a GET of an exempt path (liveness and
  // readiness: a kubelet probe must not fail because other clients hold every connection). Waits
  // briefly for the request line; looks at it without consuming it.
  bool AsksForExemptPath(int sock) const {
    if (limits_.exempt_paths.empty()) return false;
    pollfd fd{sock, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(kExemptPeek.count())) <= 0) return false;
    std::array<char, 128> head{};
    const ssize_t n = ::recv(sock, head.data(), head.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0) return false;
    const std::string_view line(head.data(), static_cast<std::size_t>(n));
    return std::any_of(limits_.exempt_paths.begin(), limits_.exempt_paths.end(),
                       [&](const std::string& path) {
                         const std::string get = "GET " + path;
                         return line.size() > get.size() && line.rfind(get, 0) == 0 &&
                                (line[get.size()] == ' ' || line[get.size()] == '?');
                       });
  }

  // One request, answered with Connection: close.
  void ServeOne(int sock) {
    RequestStream stream(sock, limits_, stop_.fd());
    stream.StartRequest();
    bool client_closes = false;
    t_current = &stream;
    process_request(stream, /*close_connection=*/true, client_closes, nullptr);
    t_current = nullptr;
  }

  // Waits for the next request's first byte. False: close (the client left, the keep-alive time
  // passed, the listener stops, or the listener is under pressure and this connection is idle).
  bool AwaitRequest(int sock, bool fresh) {
    const auto start = Clock::now();
    const auto keep_alive = std::chrono::milliseconds(limits_.keep_alive_timeout_ms);
    for (;;) {
      if (stop_.raised()) return false;
      const auto waited = Clock::now() - start;
      if (waited >= keep_alive) return false;
      const bool graced = fresh && waited < kFirstRequestGrace;
      if (pressure_.raised() && !graced) {
        // A request the client has already sent is served (with Connection: close): closing
        // now would fail it, and a POST is not retried by the client. Only a silent one closes.
        pollfd fd{sock, POLLIN, 0};
        return ::poll(&fd, 1, 0) > 0;
      }
      auto until = keep_alive - waited;
      if (graced) until = std::min<Clock::duration>(until, kFirstRequestGrace - waited);
      std::array<pollfd, 3> fds{pollfd{sock, POLLIN, 0}, pollfd{stop_.fd(), POLLIN, 0},
                                pollfd{pressure_.fd(), POLLIN, 0}};
      // While graced, the pressure signal is left out: it would wake this poll at once, again.
      const nfds_t count = graced || pressure_.raised() ? 2 : 3;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until).count() + 1;
      const int n = ::poll(fds.data(), count, static_cast<int>(ms));
      if (n < 0 && errno != EINTR) return false;
      if (n > 0 && fds[0].revents != 0) return true;  // data, or the client closed: read it
    }
  }

  void Serve(int sock) {
    RequestStream stream(sock, limits_, stop_.fd());
    for (std::size_t served = 0; served < limits_.keep_alive_max_count; ++served) {
      if (!stream.HasBuffered() && !AwaitRequest(sock, served == 0)) return;
      stream.StartRequest();
      bool client_closes = false;
      t_current = &stream;
      const bool last = served + 1 == limits_.keep_alive_max_count || pressure_.raised();
      const bool ok = process_request(stream, last, client_closes, nullptr);
      t_current = nullptr;
      if (!ok || client_closes || last || stream.close_after() || stream.cut_short()) return;
    }
  }

  ListenerLimits limits_;
  std::atomic<std::size_t> open_{0};
  Signal pressure_;
  Signal stop_;
};

}  // namespace

std::unique_ptr<httplib::Server> MakeGuardedServer(const ListenerLimits& limits) {
  return std::make_unique<GuardedServer>(limits);
}

void InterruptConnections(httplib::Server& server) {
  if (auto* guarded = dynamic_cast<GuardedServer*>(&server)) guarded->Interrupt();
}

void CloseConnectionAfterResponse(const httplib::Request& req) {
  if (t_current != nullptr) t_current->CloseAfter();
  // httplib writes "Connection: close" when the request asked for it; a handler has the request
  // only as const, though the object it is served from is not (httplib's process_request owns a
  // plain Request), so the header is set on it here.
  auto& headers =
      const_cast<httplib::Headers&>(req.headers);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  headers.erase("Connection");
  headers.emplace("Connection", "close");
}

bool RequestReadCutShort() { return t_current != nullptr && t_current->cut_short(); }

}  // namespace gangsched::api
