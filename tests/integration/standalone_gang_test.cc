// Issue 11's scenario as a new user ran it, against `gangsched serve --cluster` (standalone) over
// HTTP: one gang of a PS with no GPU and 4 workers x 8 GPUs (gangsched.io/gang=bert,
// min-members=5) on a 3-rack cluster, the hold TTL at 3 s. Members are filtered in queue order;
// a member narrowed to a node has its bind sent and held; a rejected member, or one whose bind
// failed, is filtered again a moment later, as kube-scheduler retries it. The gang must bind whole
// in one rack within seconds of the last member's filter, whether the PS comes first, last or in
// the middle. It used to be planned as five copies of the PS, with every worker rejected for good.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "tests/integration/in_process_server.h"

namespace gangsched::api {
namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

std::vector<std::string> NodeNames() {
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) names.push_back("s0-r0-n" + std::to_string(i));
  for (int i = 0; i < 2; ++i) names.push_back("s0-r1-n" + std::to_string(i));
  for (int i = 0; i < 8; ++i) names.push_back("s1-r0-n" + std::to_string(i));
  return names;
}

struct Member {
  std::string name;
  std::string uid;
  std::string filter;  // the ExtenderArgs kube-scheduler sends for it
};

Member BertMember(const std::string& role, int gpus) {
  ordered args = ordered::parse(Fixture("filter-nodecache.json"));
  ordered& meta = args["Pod"]["metadata"];
  Member m{"bert-" + role, "uid-bert-" + role, ""};
  meta["name"] = m.name;
  meta["uid"] = m.uid;
  meta["annotations"] = {{"gangsched.io/gang", "bert"}, {"gangsched.io/min-members", "5"}};
  meta["labels"] = ordered::object();
  ordered& res = args["Pod"]["spec"]["containers"][0]["resources"];
  res = {{"requests", {{"cpu", "4"}, {"memory", "32Gi"}}}, {"limits", ordered::object()}};
  if (gpus > 0) {
    res["requests"]["nvidia.com/gpu"] = std::to_string(gpus);
    res["limits"]["nvidia.com/gpu"] = std::to_string(gpus);
  }
  args["NodeNames"] = NodeNames();
  m.filter = args.dump();
  return m;
}

std::string Bind(int port, const Member& m, const std::string& node) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  const json body = {
      {"PodName", m.name}, {"PodNamespace", "ml"}, {"PodUID", m.uid}, {"Node", node}};
  auto res = cli.Post("/bind", body.dump(), "application/json");
  if (!res || res->status != 200) return "transport error";
  return json::parse(res->body).at("Error").get<std::string>();
}

TEST_CASE("standalone serve binds issue 11's PS and workers whole in one rack, in any order",
          "[server][issue11]") {
  const Member ps = BertMember("ps-0", 0);
  std::vector<Member> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(BertMember("worker-" + std::to_string(i), 8));
  const std::vector<std::pair<const char*, std::vector<Member>>> orders = {
      {"PS first", {ps, workers[0], workers[1], workers[2], workers[3]}},
      {"PS in the middle", {workers[0], workers[1], ps, workers[2], workers[3]}},
      {"PS last", {workers[0], workers[1], workers[2], workers[3], ps}}};
  for (const auto& [label, order] : orders) {
    INFO(label);
    config::Config c;
    c.cluster_file =
        std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/cluster-issue11.yaml";
    c.holds.ttl = 3000;  // the issue's --hold-ttl 3s
    c.ops_listen = "";
    InProcessServer gs(c);
    httplib::Client main("127.0.0.1", gs.server().main_port());
    main.set_read_timeout(10, 0);

    std::map<std::string, std::future<std::string>> binds;  // by pod name, while in flight
    std::map<std::string, std::string> narrowed;            // pod name -> node, bind in flight
    std::map<std::string, std::string> bound;               // pod name -> node
    const auto start = std::chrono::steady_clock::now();
    const auto limit = start + std::chrono::seconds(20);
    while (bound.size() < order.size() && std::chrono::steady_clock::now() < limit) {
      for (const Member& m : order) {
        if (bound.count(m.name) || binds.count(m.name)) continue;
        auto res = main.Post("/filter", m.filter, "application/json");
        REQUIRE(res);
        REQUIRE(res->status == 200);
        const json reply = json::parse(res->body);
        if (reply.at("NodeNames").size() != 1) continue;  // rejected: retried next round
        const std::string node = reply["NodeNames"][0];
        const int port = gs.server().bind_port();
        narrowed[m.name] = node;
        binds[m.name] =
            std::async(std::launch::async, [port, m, node] { return Bind(port, m, node); });
      }
      // Binds answered: bound, or failed and retried like a rejected pod.
      for (auto it = binds.begin(); it != binds.end();) {
        if (it->second.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
          ++it;
          continue;
        }
        if (it->second.get().empty()) bound[it->first] = narrowed[it->first];
        narrowed.erase(it->first);
        it = binds.erase(it);
      }
      // kube-scheduler's retry of a rejected pod, scaled down from the second.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    for (auto& [name, b] : binds) b.wait_for(std::chrono::seconds(5));
    std::set<std::string> racks;
    for (const auto& [name, node] : bound) racks.insert(node.substr(0, 5));
    CHECK(bound.size() == 5);
    CHECK(racks == std::set<std::string>{"s0-r0"});
    INFO("took " << took.count() << " ms");
    CHECK(took < std::chrono::seconds(10));  // a generous bound; it takes well under a second
    auto gang = main.Get("/api/v1/gangs/ml/bert");
    REQUIRE(gang);
    const json g = json::parse(gang->body);
    CHECK(g.at("phase") == "Bound");
    CHECK(g.at("members_bound") == 5);
  }
}

}  // namespace
}  // namespace gangsched::api
