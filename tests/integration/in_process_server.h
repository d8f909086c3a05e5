// gangsched serving in-process for the integration tests: the standalone state of the config's
// cluster file, the extender service and its listeners on free ports (the main and bind listeners
// on 127.0.0.1:0; the ops listener as the config has it, "" for none), stopped on destruction.
#pragma once

#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "api/extender_service.h"
#include "api/http_server.h"
#include "api/state_setup.h"
#include "config/config.h"

namespace gangsched::api {

// A file of tests/fixtures/extender/, whole.
inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/" + name);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class InProcessServer {
 public:
  explicit InProcessServer(config::Config c) : config_(std::move(c)) {
    config_.listen = "127.0.0.1:0";
    config_.bind_listen = "127.0.0.1:0";
    config_.log_level = "warn";
    spdlog::set_level(spdlog::level::warn);
    auto state = LoadStandaloneState(config_);
    REQUIRE(state.has_value());
    service_ = std::make_unique<ExtenderService>(config_, std::move(state->engine),
                                                 state->inventory_loaded,
                                                 std::make_unique<StandaloneBinder>());
    server_ = std::make_unique<ExtenderServer>(config_, *service_);
    REQUIRE(server_->Start().has_value());
  }
  ~InProcessServer() {
    service_->Shutdown("test over");
    server_->Stop();
  }
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  const ExtenderServer& server() const { return *server_; }

 private:
  config::Config config_;
  std::unique_ptr<ExtenderService> service_;
  std::unique_ptr<ExtenderServer> server_;
};

}  // namespace gangsched::api
