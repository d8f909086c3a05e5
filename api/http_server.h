// The three listeners of `serve` (DESIGN.md §2, §3.6): the verbs on the main port, binds on their
// own port and thread pool, the read-only endpoints on the ops port, over one ExtenderService.
// Owns sockets and listener threads, body limits and routing; decides nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tl/expected.hpp>
#include <vector>

#include "api/extender_service.h"
#include "config/config.h"

namespace httplib {
class Server;
}

namespace gangsched::api {

// The three listeners of DESIGN.md §2 over one service.
class ExtenderServer {
 public:
  ExtenderServer(const config::Config& config, ExtenderService& service);
  ~ExtenderServer();
  ExtenderServer(const ExtenderServer&) = delete;
  ExtenderServer& operator=(const ExtenderServer&) = delete;

  // Binds every configured listener (port 0 picks a free port), raises the accept backlog, and
  // starts serving. Fails naming the listener and address.
  tl::expected<void, std::string> Start();
  // The bound ports (0 when the listener is disabled).
  int main_port() const { return ports_[0]; }
  int bind_port() const { return ports_[1]; }
  int ops_port() const { return ports_[2]; }
  // Stops accepting and joins the listener threads (call ExtenderService::Shutdown first, so held
  // binds return).
  void Stop();

 private:
  enum class Listener : std::uint8_t { kMain, kBind, kOps };
  std::unique_ptr<httplib::Server> Make(Listener which, int threads);

  config::Config config_;
  ExtenderService& service_;
  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
  int ports_[3] = {0, 0, 0};
};

}  // namespace gangsched::api
