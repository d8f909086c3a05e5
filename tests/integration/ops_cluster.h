// gangsched serving in-process with its ops listener on port 0, on the two-rack fixture with NVLink
// matrices (tests/fixtures/extender/cluster-two-racks-nvlink.json: racks r1 = gpu-a1, gpu-a2 and
// r2 = gpu-b1, gpu-b2, 8 GPUs each), and kube-scheduler's calls for whole test gangs.
#pragma once

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "tests/integration/gang_requests.h"
#include "tests/integration/in_process_server.h"

namespace gangsched::api {

class OpsCluster {
 public:
  OpsCluster() : gs_(Config()) {}
  std::string ops() const { return "http://127.0.0.1:" + std::to_string(gs_.server().ops_port()); }

  // Filters members 1..size-1, then 0..size-1 again: the gang is planned once its quorum of pods
  // is known. Returns the nodes the members were narrowed to ("" for a member rejected).
  std::vector<std::string> FilterGang(const std::string& gang, int size, int gpus) const {
    for (int i = 1; i < size; ++i) Filter(gang, i, size, gpus);
    std::vector<std::string> nodes;
    for (int i = 0; i < size; ++i) nodes.push_back(Filter(gang, i, size, gpus));
    return nodes;
  }
  void BindGang(const std::string& gang, const std::vector<std::string>& nodes) const {
    std::vector<std::future<std::string>> binds;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const std::string body = BindArgs(gang, static_cast<int>(i), nodes[i]);
      const int port = gs_.server().bind_port();
      binds.push_back(std::async(std::launch::async, [port, body] {
        httplib::Client cli("127.0.0.1", port);
        cli.set_read_timeout(60, 0);
        auto res = cli.Post("/bind", body, "application/json");
        return res ? nlohmann::json::parse(res->body).at("Error").get<std::string>()
                   : "transport error";
      }));
    }
    for (auto& b : binds) {
      REQUIRE(b.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
      REQUIRE(b.get() == "");
    }
  }
  std::string Metrics() const {
    httplib::Client cli("127.0.0.1", gs_.server().ops_port());
    auto res = cli.Get("/metrics");
    REQUIRE(res);
    return res->body;
  }

 private:
  static config::Config Config() {
    config::Config c;
    c.cluster_file = std::string(GANGSCHED_SOURCE_DIR) +
                     "/tests/fixtures/extender/cluster-two-racks-nvlink.json";
    c.ops_listen = "127.0.0.1:0";
    c.threads.filter = 2;
    c.threads.bind = 16;
    c.threads.ops = 2;
    return c;
  }
  std::string Filter(const std::string& gang, int index, int size, int gpus) const {
    httplib::Client cli("127.0.0.1", gs_.server().main_port());
    auto res = cli.Post("/filter", MemberArgs("filter-nodecache.json", gang, index, size, gpus),
                        "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    const nlohmann::json reply = nlohmann::json::parse(res->body);
    return reply.at("NodeNames").size() == 1 ? reply["NodeNames"][0].get<std::string>() : "";
  }
  InProcessServer gs_;
};

}  // namespace gangsched::api
