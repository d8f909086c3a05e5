// The extender over HTTP, in-process on port 0, driven with kube-scheduler's exact payloads
// (tests/fixtures/extender/). Waits on futures and on the server's own state, never on sleeps.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/extender_service.h"
#include "api/http_server.h"
#include "api/state_setup.h"
#include "config/config.h"
#include "tests/integration/gang_requests.h"
#include "tests/integration/in_process_server.h"
#include "tests/integration/raw_connection.h"

namespace gangsched::api {
namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;
constexpr auto kGenerous = std::chrono::seconds(20);

// An in-process gangsched on free ports (no ops listener), with kube-scheduler's calls.
class TestServer {
 public:
  explicit TestServer(config::Config c) : gs_(WithTestThreads(std::move(c))) {}
  httplib::Client Main() const { return Client(gs_.server().main_port()); }
  httplib::Client Binds() const { return Client(gs_.server().bind_port()); }
  int main_port() const { return gs_.server().main_port(); }

  json Post(const std::string& path, const std::string& body, int expect = 200) const {
    auto cli = Main();
    auto res = cli.Post(path.c_str(), body, "application/json");
    REQUIRE(res);
    INFO(path << " -> " << res->body);
    CHECK(res->status == expect);
    return json::parse(res->body);
  }
  json Get(const std::string& path) const {
    auto cli = Main();
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }
  // The bind runs on the bind listener, on its own connection, as kube-scheduler's binding cycle.
  std::future<std::string> BindAsync(std::string body) const {
    const int port = gs_.server().bind_port();
    return std::async(std::launch::async, [port, body] {
      auto cli = Client(port);
      cli.set_read_timeout(60, 0);
      auto res = cli.Post("/bind", body, "application/json");
      if (!res) return std::string("transport error");
      if (res->status != 200) return "status " + std::to_string(res->status);
      return json::parse(res->body).at("Error").get<std::string>();
    });
  }
  // Members 1..size-1 of the gang reach filter first and are rejected: a gang is planned only once
  // its quorum of pods is known, in standalone mode from their filter calls (DESIGN.md §3.2). The
  // next member's filter then plans it, and the rejected ones are narrowed when retried.
  void Introduce(const std::string& fixture, const std::string& gang, int size, int gpus) const {
    for (int i = 1; i < size; ++i) {
      const json reply = Post("/filter", MemberArgs(fixture, gang, i, size, gpus));
      CHECK(reply.at("FailedNodes").empty());
      for (const auto& [node, why] : reply.at("FailedAndUnresolvableNodes").items()) {
        CHECK_THAT(why.get<std::string>(), Catch::Contains("more pods of gang ml/" + gang));
      }
    }
  }
  // Waits (bounded) until `n` binds are held in the barrier, reading the server's state.
  void WaitHeldBinds(std::size_t n) const {
    const auto deadline = std::chrono::steady_clock::now() + kGenerous;
    while (Get("/api/v1/state").at("held_binds").get<std::size_t>() != n) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::yield();
    }
  }

 private:
  static config::Config WithTestThreads(config::Config c) {
    c.ops_listen = "";
    c.threads.filter = 4;
    c.threads.bind = 64;
    c.max_held_binds = 64;
    return c;
  }
  static httplib::Client Client(int port) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(30, 0);
    return cli;
  }
  InProcessServer gs_;
};

config::Config TwoRacks() {
  config::Config c;
  c.cluster_file =
      std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/cluster-two-racks.json";
  return c;
}

std::string RackOf(const std::string& node) { return node.substr(0, 5); }  // gpu-a / gpu-b

TEST_CASE("a gang is placed whole and bound only when its last member arrives", "[server]") {
  TestServer server(TwoRacks());
  REQUIRE(server.Get("/readyz").at("status") == "ready");
  server.Introduce("filter-nodecache.json", "bert", 4, 4);
  std::vector<std::string> nodes;
  for (int i = 0; i < 4; ++i) {
    json reply = server.Post("/filter", MemberArgs("filter-nodecache.json", "bert", i, 4, 4));
    REQUIRE(reply.at("NodeNames").size() == 1);  // narrowed to its planned node
    CHECK(reply.at("Nodes").is_null());
    CHECK(reply.at("Error") == "");
    CHECK(reply.at("FailedNodes").empty());
    nodes.push_back(reply["NodeNames"][0]);
  }
  // 4 pods x 4 GPUs: two nodes of one rack, 8 GPUs each.
  for (const std::string& n : nodes) CHECK(RackOf(n) == RackOf(nodes[0]));
  for (const std::string& n : nodes) {
    CHECK(std::count(nodes.begin(), nodes.end(), n) == 2);
  }
  json prio = server.Post("/prioritize", MemberArgs("filter-nodecache.json", "bert", 0, 4, 4));
  REQUIRE(prio.is_array());  // HostPriorityList is a bare array
  for (const json& h : prio) {
    CHECK(h.at("Score").get<int>() >= 0);
    CHECK(h.at("Score").get<int>() <= 10);
  }

  std::vector<std::future<std::string>> binds;
  for (int i = 0; i < 3; ++i) binds.push_back(server.BindAsync(BindArgs("bert", i, nodes[i])));
  server.WaitHeldBinds(3);
  for (auto& b : binds) CHECK(b.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  json state = server.Get("/api/v1/state");
  CHECK(state.at("holds").size() == 1);
  for (const json& n : state.at("nodes")) CHECK(n.at("gpus").at("used") == 0);  // nothing bound

  binds.push_back(server.BindAsync(BindArgs("bert", 3, nodes[3])));
  for (auto& b : binds) {
    REQUIRE(b.wait_for(kGenerous) == std::future_status::ready);
    CHECK(b.get() == "");
  }
  state = server.Get("/api/v1/state");
  CHECK(state.at("holds").empty());
  int used = 0;
  for (const json& n : state.at("nodes")) used += n.at("gpus").at("used").get<int>();
  CHECK(used == 16);
  json gang = server.Get("/api/v1/gangs/ml/bert");
  CHECK(gang.at("phase") == "Bound");
  CHECK(gang.at("members_bound") == 4);

  const std::string metrics = server.Main().Get("/metrics")->body;
  CHECK(metrics.find("gangsched_barrier_waits_total 3") != std::string::npos);
  CHECK(metrics.find("gangsched_gpus{state=\"allocated\"} 16") != std::string::npos);
  CHECK(metrics.find("gangsched_requests_total{outcome=\"bound\",verb=\"bind\"} 4") !=
        std::string::npos);
}

TEST_CASE("held binds do not starve filter and prioritize calls", "[server]") {
  TestServer server(TwoRacks());
  constexpr int kMembers = 32;  // one GPU each: the whole 32-GPU cluster
  server.Introduce("filter-nodecache.json", "wide", kMembers, 1);
  std::vector<std::string> nodes;
  for (int i = 0; i < kMembers; ++i) {
    json reply =
        server.Post("/filter", MemberArgs("filter-nodecache.json", "wide", i, kMembers, 1));
    REQUIRE(reply.at("NodeNames").size() == 1);
    nodes.push_back(reply["NodeNames"][0]);
  }
  std::vector<std::future<std::string>> binds;
  for (int i = 0; i + 1 < kMembers; ++i) {
    binds.push_back(server.BindAsync(BindArgs("wide", i, nodes[static_cast<std::size_t>(i)])));
  }
  server.WaitHeldBinds(kMembers - 1);
  // While 31 binds are held, other pods are filtered and scored at once (the cluster is held, so
  // they wait with a reason).
  for (int i = 0; i < 20; ++i) {
    json reply = server.Post("/filter", MemberArgs("filter-nodecache.json", "other", i, 1, 1));
    CHECK(reply.at("NodeNames").empty());
    CHECK(reply.at("FailedAndUnresolvableNodes").size() == 4);
    CHECK(server.Post("/prioritize", MemberArgs("filter-nodecache.json", "other", i, 1, 1))
              .is_array());
  }
  for (auto& b : binds) CHECK(b.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  binds.push_back(server.BindAsync(BindArgs("wide", kMembers - 1, nodes.back())));
  for (auto& b : binds) {
    REQUIRE(b.wait_for(kGenerous) == std::future_status::ready);
    CHECK(b.get() == "");
  }
  CHECK(server.Get("/api/v1/gangs/ml/wide").at("members_bound") == kMembers);
  const json state = server.Get("/api/v1/state");
  for (const json& n : state.at("nodes")) {
    CHECK(n.at("gpus").at("used") == 8);
  }
}

TEST_CASE("standalone: a job manifest in the cluster file declares the gang's roster", "[server]") {
  config::Config c;
  c.cluster_file =
      std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/cluster-with-tfjob.yaml";
  auto loaded = LoadStandaloneState(c);
  REQUIRE(loaded.has_value());
  CHECK(loaded->nodes == 4);
  CHECK(loaded->jobs == 1);
  TestServer server(c);
  // The pod training-operator creates for the chief: only its labels name the job.
  ordered args = ordered::parse(Fixture("filter-nodecache.json"));
  ordered& meta = args["Pod"]["metadata"];
  meta["name"] = "resnet-chief-0";
  meta["uid"] = "uid-resnet-chief-0";
  meta["annotations"] = ordered::object();
  meta["labels"] = {{"training.kubeflow.org/job-name", "resnet"},
                    {"training.kubeflow.org/replica-type", "chief"},
                    {"training.kubeflow.org/replica-index", "0"}};
  ordered& res = args["Pod"]["spec"]["containers"][0]["resources"];
  res["limits"]["nvidia.com/gpu"] = "1";
  res["requests"]["nvidia.com/gpu"] = "1";
  // The roster names 7 pods: the chief alone waits for the other 6, in standalone mode too.
  json reply = server.Post("/filter", args.dump());
  CHECK(reply.at("NodeNames").empty());
  json gang = server.Get("/api/v1/gangs/ml/resnet");
  CHECK(gang.at("quorum") == 7);  // 1 chief + 2 PS + 4 workers, from the TFJob
  CHECK(gang.at("phase") == "Waiting");
  CHECK_THAT(gang.at("reason").get<std::string>(),
             Catch::Contains("waiting for 6 more pods of gang ml/resnet (1 of 7 seen)"));
  // The other members, as the operator creates them from the TFJob's templates.
  auto member = [&](const std::string& role, int index, const std::string& cpu,
                    const std::string& memory, int gpus) {
    ordered m = args;
    m["Pod"]["metadata"]["name"] = "resnet-" + role + "-" + std::to_string(index);
    m["Pod"]["metadata"]["uid"] = "uid-resnet-" + role + "-" + std::to_string(index);
    m["Pod"]["metadata"]["labels"]["training.kubeflow.org/replica-type"] = role;
    m["Pod"]["metadata"]["labels"]["training.kubeflow.org/replica-index"] = std::to_string(index);
    ordered& r = m["Pod"]["spec"]["containers"][0]["resources"];
    r = {{"requests", {{"cpu", cpu}, {"memory", memory}}}, {"limits", ordered::object()}};
    if (gpus > 0) {
      r["requests"]["nvidia.com/gpu"] = std::to_string(gpus);
      r["limits"]["nvidia.com/gpu"] = std::to_string(gpus);
    }
    return m.dump();
  };
  std::vector<std::string> others;
  for (int i = 0; i < 2; ++i) others.push_back(member("ps", i, "4", "16Gi", 0));
  for (int i = 0; i < 4; ++i) others.push_back(member("worker", i, "8", "32Gi", 2));
  for (std::size_t i = 0; i + 1 < others.size(); ++i) {
    CHECK(server.Post("/filter", others[i]).at("NodeNames").empty());
  }
  CHECK(server.Post("/filter", others.back()).at("NodeNames").size() == 1);
  gang = server.Get("/api/v1/gangs/ml/resnet");
  CHECK(gang.at("phase") == "Planned");
  REQUIRE(gang.at("plan").is_object());
  CHECK(gang["plan"]["pods"].size() == 7);  // the whole roster is held
  std::map<std::string, int> roles;
  for (const json& p : gang["plan"]["pods"]) ++roles[p.at("role").get<std::string>()];
  CHECK(roles == std::map<std::string, int>{{"chief", 1}, {"ps", 2}, {"worker", 4}});
  CHECK(server.Post("/filter", args.dump()).at("NodeNames").size() == 1);  // the chief's retry
}

TEST_CASE("a gang that does not fit is rejected on every node with one gang-level reason",
          "[server]") {
  TestServer server(TwoRacks());
  json reply = server.Post("/filter", MemberArgs("filter-nodecache.json", "huge", 0, 5, 8));
  CHECK(reply.at("NodeNames").empty());
  CHECK(reply.at("FailedNodes").empty());  // not preemption candidates (DESIGN.md §3.3)
  CHECK(reply.at("Error") == "");
  const json& unresolvable = reply.at("FailedAndUnresolvableNodes");
  REQUIRE(unresolvable.size() == 4);
  const std::string reason = unresolvable.begin().value();
  CHECK(reason.find("ml/huge") != std::string::npos);
  for (const auto& [node, r] : unresolvable.items()) CHECK(r == reason);
  CHECK(server.Get("/api/v1/gangs/ml/huge").at("phase") == "Waiting");
  CHECK(server.Get("/api/v1/state").at("holds").empty());
}

TEST_CASE("the gang view is served in pages that list every gang once", "[server][issue15]") {
  // Reading the view copies one page under the engine's lock (issue 15): a client follows
  // `continue` to read them all.
  TestServer server(TwoRacks());
  std::set<std::string> expected;
  for (int g = 0; g < 7; ++g) {
    const std::string name = "g" + std::to_string(g);
    server.Post("/filter", MemberArgs("filter-nodecache.json", name, 0, 2, 8));
    expected.insert("ml/" + name);
  }
  std::set<std::string> seen;
  std::string next;
  int pages = 0;
  do {
    const json page =
        server.Get("/api/v1/gangs?limit=3" + (next.empty() ? "" : "&continue=" + next));
    CHECK(page.at("total") == 7);
    CHECK(page.at("gangs").size() <= 3);
    for (const json& g : page.at("gangs")) {
      CHECK(
          seen.insert(g.at("namespace").get<std::string>() + "/" + g.at("name").get<std::string>())
              .second);
    }
    next = page.value("continue", "");
    REQUIRE(++pages <= 3);
  } while (!next.empty());
  CHECK(pages == 3);
  CHECK(seen == expected);
  CHECK(server.Get("/api/v1/gangs").at("gangs").size() == 7);  // one default page
  auto bad = server.Main().Get("/api/v1/gangs?limit=many");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, Catch::Contains("limit"));
}

TEST_CASE("a rejection lists each offered node once, in name order, whatever the offer's order",
          "[server]") {
  // kube-scheduler's parallel filter sends NodeNames in any order (and the reply's maps are Go
  // maps): every offered node once, sorted, with the one reason, also a node gangsched does not
  // know. The same offer again is answered from the kept offer, byte for byte.
  TestServer server(TwoRacks());
  auto filter = [&](const std::vector<std::string>& names) {
    ordered args = ordered::parse(MemberArgs("filter-nodecache.json", "huge", 0, 5, 8));
    args["NodeNames"] = names;
    auto res = server.Main().Post("/filter", args.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return res->body;
  };
  const std::string reply = filter({"gpu-b2", "gone", "gpu-a1", "gpu-b2", "gpu-a2"});
  const std::string head =
      R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"gone":)";
  REQUIRE(reply.rfind(head, 0) == 0);
  const std::size_t end = reply.find(R"(,"gpu-a1":)", head.size());
  REQUIRE(end != std::string::npos);
  const std::string reason = reply.substr(head.size(), end - head.size());  // as JSON
  CHECK_THAT(reason, Catch::Contains("gang ml/huge"));
  CHECK(reply == head + reason + R"(,"gpu-a1":)" + reason + R"(,"gpu-a2":)" + reason +
                     R"(,"gpu-b2":)" + reason + R"(},"Error":""})");
  CHECK(filter({"gpu-b2", "gone", "gpu-a1", "gpu-b2", "gpu-a2"}) == reply);  // the kept offer
  CHECK(filter({"gpu-a2", "gpu-b2", "gpu-a1", "gone"}) == reply);
}

TEST_CASE("a barrier whose deadline passes fails every held bind and releases the hold",
          "[server]") {
  config::Config c = TwoRacks();
  c.holds.ttl = 400;  // short barrier deadline
  TestServer server(c);
  server.Introduce("filter-nodecache.json", "late", 3, 8);
  std::vector<std::string> nodes;
  for (int i = 0; i < 3; ++i) {
    json reply = server.Post("/filter", MemberArgs("filter-nodecache.json", "late", i, 3, 8));
    REQUIRE(reply.at("NodeNames").size() == 1);
    nodes.push_back(reply["NodeNames"][0]);
  }
  REQUIRE(server.Get("/api/v1/state").at("holds").size() == 1);
  auto first = server.BindAsync(BindArgs("late", 0, nodes[0]));
  auto second = server.BindAsync(BindArgs("late", 1, nodes[1]));
  REQUIRE(first.wait_for(kGenerous) == std::future_status::ready);
  REQUIRE(second.wait_for(kGenerous) == std::future_status::ready);
  const std::string e1 = first.get();
  CHECK_FALSE(e1.empty());
  CHECK(e1.find("ml/late") != std::string::npos);
  CHECK_FALSE(second.get().empty());
  json state = server.Get("/api/v1/state");
  CHECK(state.at("holds").empty());
  CHECK(state.at("held_binds") == 0);
  for (const json& n : state.at("nodes")) {
    CHECK(n.at("gpus").at("used") == 0);
    CHECK(n.at("gpus").at("held") == 0);
  }
  CHECK(server.Get("/api/v1/gangs/ml/late").at("phase") == "Waiting");
  const std::string metrics = server.Main().Get("/metrics")->body;
  CHECK(metrics.find("gangsched_barrier_timeouts_total 2") != std::string::npos);
}

TEST_CASE("two gangs racing for one rack: one placed whole, one waiting, no double booking",
          "[server]") {
  TestServer server(config::Config{});  // no cluster file: the inventory comes from full Nodes
  CHECK(server.Main().Get("/readyz")->status == 503);
  std::map<std::string, std::vector<std::string>> placed;
  std::map<std::string, int> rejected;
  server.Introduce("filter-fullnodes.json", "gpt", 2, 8);
  server.Introduce("filter-fullnodes.json", "llama", 2, 8);
  for (int i = 0; i < 2; ++i) {
    for (const char* gang : {"gpt", "llama"}) {
      const std::string body = MemberArgs("filter-fullnodes.json", gang, i, 2, 8);
      auto res = server.Main().Post("/filter", body, "application/json");
      REQUIRE(res);
      REQUIRE(res->status == 200);
      const json reply = json::parse(res->body);
      CHECK(reply.at("NodeNames").is_null());
      REQUIRE(reply.at("Nodes").is_object());
      const json& items = reply["Nodes"]["items"];
      if (items.size() == 1) {
        placed[gang].push_back(items[0]["metadata"]["name"]);
        // The kept Node is the request's own JSON, copied verbatim into the reply.
        const ordered request = ordered::parse(body);
        for (const ordered& node : request["Nodes"]["items"]) {
          if (node["metadata"]["name"] == items[0]["metadata"]["name"]) {
            CHECK(res->body.find(node.dump()) != std::string::npos);
          }
        }
      } else {
        CHECK(items.empty());
        CHECK(reply.at("FailedAndUnresolvableNodes").size() == 2);
        ++rejected[gang];
      }
    }
  }
  CHECK(server.Main().Get("/readyz")->status == 200);
  REQUIRE(placed.size() == 1);
  const std::string winner = placed.begin()->first;
  const std::string loser = winner == "gpt" ? "llama" : "gpt";
  REQUIRE(placed[winner].size() == 2);
  CHECK(placed[winner][0] != placed[winner][1]);  // 8 GPUs each: one node per pod
  CHECK(rejected[loser] == 2);

  std::vector<std::future<std::string>> binds;
  for (int i = 0; i < 2; ++i)
    binds.push_back(server.BindAsync(BindArgs(winner, i, placed[winner][i])));
  for (auto& b : binds) {
    REQUIRE(b.wait_for(kGenerous) == std::future_status::ready);
    CHECK(b.get() == "");
  }
  json state = server.Get("/api/v1/state");
  for (const json& n : state.at("nodes")) {
    CHECK(n.at("gpus").at("used") == 8);
    CHECK(n.at("gpus").at("free") == 0);
  }
  CHECK(server.Get("/api/v1/gangs/ml/" + winner).at("phase") == "Bound");
  json waiting = server.Get("/api/v1/gangs/ml/" + loser);
  CHECK(waiting.at("phase") == "Waiting");
  CHECK_FALSE(waiting.at("reason").get<std::string>().empty());
  // The loser's members are still rejected: its capacity is the winner's.
  json again = server.Post("/filter", MemberArgs("filter-fullnodes.json", loser, 0, 2, 8));
  CHECK(again["Nodes"]["items"].empty());

  // kube-scheduler offers only the nodes that passed its own filters: a request with fewer nodes
  // does not shrink the inventory, and a changed node is updated in place.
  ordered subset = ordered::parse(MemberArgs("filter-fullnodes.json", "small", 0, 1, 1));
  subset["Nodes"]["items"].erase(1);
  subset["Nodes"]["items"][0]["status"]["allocatable"]["nvidia.com/gpu"] = "16";
  json small = server.Post("/filter", subset.dump());
  REQUIRE(small["Nodes"]["items"].size() == 1);  // the 8 GPUs the node gained
  state = server.Get("/api/v1/state");
  REQUIRE(state.at("nodes").size() == 2);
  CHECK(state["nodes"][0]["gpus"]["allocatable"] == 16);
  CHECK(state["nodes"][0]["gpus"]["used"] == 8);  // the winner's pod stayed bound there
  CHECK(state["nodes"][1]["gpus"]["used"] == 8);
}

TEST_CASE("bad input gets a clear 4xx JSON answer and the server keeps serving", "[server]") {
  config::Config c = TwoRacks();
  c.max_body_bytes = 1 << 20;
  TestServer server(c);
  const std::string good = MemberArgs("filter-nodecache.json", "solo", 0, 1, 1);
  auto still_serving = [&] {
    json reply = server.Post("/filter", good);
    CHECK(reply.at("NodeNames").size() == 1);
  };

  struct Bad {
    const char* name;
    std::string body;
    const char* mentions;
  };
  const std::vector<Bad> bad = {
      {"malformed", R"({"Pod": {"metadata": {"name": "x"}, "NodeNames": [)", "JSON"},
      {"truncated", good.substr(0, good.size() / 2), "JSON"},
      {"not an object", R"([1, 2, 3])", "object"},
      {"NodeNames of the wrong type", R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":"gpu-a1"})",
       "NodeNames"},
      {"Pod of the wrong type", R"({"Pod":[],"NodeNames":["gpu-a1"]})", "Pod"},
      {"quantity of the wrong type",
       R"({"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"cpu":{}}}}]}},"NodeNames":[]})",
       "Pod.spec.containers[0].resources.requests.cpu"},
      {"missing Pod", R"({"Nodes":null,"NodeNames":["gpu-a1"]})", "Pod"},
      {"null Pod", R"({"Pod":null,"Nodes":null,"NodeNames":["gpu-a1"]})", "Pod"},
      {"text after the object", good + "{}", "JSON"},
      // Summed unchecked, 2 x 2^62 GPUs wrapped to 0 and the pod was placed (issue 15).
      {"GPU requests whose sum overflows",
       R"({"Pod":{"metadata":{"name":"p","uid":"u"},"spec":{"containers":[)"
       R"({"resources":{"requests":{"nvidia.com/gpu":"4611686018427387904"}}},)"
       R"({"resources":{"requests":{"nvidia.com/gpu":"4611686018427387904"}}}]}},)"
       R"("NodeNames":["gpu-a1"]})",
       "Pod.spec.containers[1] brings the sum of the containers' requests of nvidia.com/gpu over"},
  };
  for (const Bad& b : bad) {
    INFO(b.name);
    auto res = server.Main().Post("/filter", b.body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    const json reply = json::parse(res->body);
    CHECK(reply.at("Error").get<std::string>().find(b.mentions) != std::string::npos);
    still_serving();
  }

  SECTION("unknown fields and lower-case keys are accepted") {
    ordered args = ordered::parse(good);
    args["SomethingNew"] = {{"a", 1}};
    args["Pod"]["spec"]["futureField"] = true;
    json reply = server.Post("/filter", args.dump());
    CHECK(reply.at("NodeNames").size() == 1);
    std::string lower = good;
    lower.replace(lower.find("\"Pod\""), 5, "\"pod\"");
    lower.replace(lower.find("\"NodeNames\""), 11, "\"nodenames\"");
    CHECK(server.Post("/filter", lower).at("NodeNames").size() == 1);
  }
  SECTION("a body over the configured 1 MiB limit is refused with 413") {
    ordered args = ordered::parse(good);
    args["Padding"] = std::string(1 << 20, 'x');
    auto res = server.Main().Post("/filter", args.dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK_FALSE(json::parse(res->body).at("Error").get<std::string>().empty());
    still_serving();
  }
  SECTION("a declared 1 GB body is refused with 413 before any of it is sent") {
    RawConnection conn(server.main_port());
    conn.Send(
        "POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n");
    const std::string response = conn.ReadResponse();
    CHECK(response.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(response.find("{\"Error\":") != std::string::npos);
    still_serving();
  }
  SECTION("wrong methods and unknown paths answer JSON") {
    auto get = server.Main().Get("/filter");
    REQUIRE(get);
    CHECK(get->status == 405);
    CHECK(json::parse(get->body).contains("Error"));
    auto post = server.Main().Post("/metrics", "{}", "application/json");
    REQUIRE(post);
    CHECK(post->status == 405);
    auto missing = server.Main().Get("/nope");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(json::parse(missing->body).contains("Error"));
    auto filter_on_bind_listener = server.Binds().Post("/filter", good, "application/json");
    REQUIRE(filter_on_bind_listener);
    CHECK(filter_on_bind_listener->status == 404);
    still_serving();
  }
  SECTION("a slow client does not block other requests") {
    RawConnection slow(server.main_port());
    slow.Send(
        "POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(good.size()) + "\r\n\r\n" + good.substr(0, 10));
    for (int i = 0; i < 5; ++i) still_serving();  // answered while `slow` is still sending
  }
  SECTION("bind and preempt decode errors are 400 too") {
    auto res = server.Binds().Post("/bind", R"({"PodName": 3})", "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    auto pre =
        server.Main().Post("/preempt", R"({"NodeNameToMetaVictims":{}})", "application/json");
    REQUIRE(pre);
    CHECK(pre->status == 400);
    still_serving();
  }
}

TEST_CASE("preempt answers NodeNameToMetaVictims", "[server]") {
  TestServer server(TwoRacks());
  json reply = server.Post("/preempt", Fixture("preempt-nodecache.json"));
  REQUIRE(reply.contains("NodeNameToMetaVictims"));
  CHECK(reply.at("NodeNameToMetaVictims").is_object());
  for (const auto& [node, victims] : reply["NodeNameToMetaVictims"].items()) {
    CHECK(victims.at("Pods").is_array());
    CHECK(victims.contains("NumPDBViolations"));
  }
}

// The two-rack cluster with every GPU taken: a low-priority gang ml/old on rack r1, a
// low-priority lone pod on gpu-b1 and a high-priority one on gpu-b2.
class FullClusterFile {
 public:
  FullClusterFile() {
    ordered nodes = ordered::parse(Fixture("cluster-two-racks.json"));
    ordered list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", ordered::array()}};
    for (ordered node : nodes.at("items")) {
      node["apiVersion"] = "v1";
      node["kind"] = "Node";
      list["items"].push_back(node);
    }
    list["items"].push_back(RunningPod("old-0", "gpu-a1", 0, "old"));
    list["items"].push_back(RunningPod("old-1", "gpu-a2", 0, "old"));
    list["items"].push_back(RunningPod("loose", "gpu-b1", 0, ""));
    list["items"].push_back(RunningPod("vip", "gpu-b2", 1000, ""));
    path_ = std::filesystem::temp_directory_path() /
            ("gangsched-full-" + std::to_string(::getpid()) + ".json");
    std::ofstream(path_) << list.dump();
  }
  ~FullClusterFile() { std::filesystem::remove(path_); }
  config::Config Config() const {
    config::Config c;
    c.cluster_file = path_.string();
    return c;
  }
  // An 8-GPU pod as the API server prints it, bound to `node`.
  static ordered RunningPod(const std::string& name, const std::string& node, int priority,
                            const std::string& gang) {
    ordered pod = ordered::parse(Fixture("filter-nodecache.json")).at("Pod");
    pod["apiVersion"] = "v1";
    pod["kind"] = "Pod";
    pod["metadata"]["name"] = name;
    pod["metadata"]["uid"] = "uid-" + name;
    pod["metadata"]["annotations"] = ordered::object();
    if (!gang.empty()) {
      pod["metadata"]["annotations"]["gangsched.io/gang"] = gang;
      pod["metadata"]["annotations"]["gangsched.io/min-members"] = "2";
    }
    ordered& res = pod["spec"]["containers"][0]["resources"];
    res["limits"]["nvidia.com/gpu"] = "8";
    res["requests"]["nvidia.com/gpu"] = "8";
    pod["spec"]["nodeName"] = node;
    pod["spec"]["priority"] = priority;
    pod["status"]["phase"] = "Running";
    return pod;
  }

 private:
  std::filesystem::path path_;
};

// A member of the high-priority gang ml/bert (2 pods x 8 GPUs).
ordered Urgent(int index) {
  ordered args = ordered::parse(MemberArgs("filter-nodecache.json", "bert", index, 2, 8));
  args["Pod"]["spec"]["priority"] = 100;
  return args;
}

TEST_CASE("a high-priority gang is offered for preemption only on its victim plan's nodes",
          "[server][preempt]") {
  FullClusterFile cluster;
  TestServer server(cluster.Config());
  // kube-scheduler's filter: only the member's planned node is resolvable (FailedNodes).
  CHECK(server.Post("/filter", Urgent(1).dump()).at("FailedNodes").empty());  // 1 of 2 seen
  std::vector<std::string> planned;
  for (int i = 0; i < 2; ++i) {
    json reply = server.Post("/filter", Urgent(i).dump());
    CHECK(reply.at("NodeNames").empty());
    REQUIRE(reply.at("FailedNodes").size() == 1);
    CHECK(reply.at("FailedAndUnresolvableNodes").size() == 3);
    const std::string node = reply["FailedNodes"].begin().key();
    CHECK_THAT(reply["FailedNodes"][node].get<std::string>(),
               Catch::Contains("gang ml/bert needs this node after preempting 1 lower-priority "
                               "pod (gang ml/old)"));
    CHECK_FALSE(reply.at("FailedAndUnresolvableNodes").contains(node));
    planned.push_back(node);
  }
  // The whole low-priority gang on rack r1 goes, not the lone pod (whose eviction would not be
  // enough) nor the vip.
  CHECK(std::set<std::string>(planned.begin(), planned.end()) ==
        std::set<std::string>{"gpu-a1", "gpu-a2"});
  auto victim_on = [](const std::string& node) {
    return node == "gpu-a1" ? "uid-old-0" : "uid-old-1";
  };
  json gang = server.Get("/api/v1/gangs/ml/bert");
  CHECK(gang.at("phase") == "Waiting");
  CHECK_THAT(gang.at("reason").get<std::string>(),
             Catch::Contains("preempts 2 lower-priority pods (gang ml/old)"));

  SECTION("NodeNameToMetaVictims (nodeCacheCapable)") {
    ordered args = ordered::parse(Fixture("preempt-nodecache.json"));
    args["Pod"] = Urgent(0)["Pod"];
    args["NodeNameToMetaVictims"] = {
        {"gpu-a1", {{"Pods", {{{"UID", "uid-old-0"}}}}, {"NumPDBViolations", 0}}},
        {"gpu-a2", {{"Pods", {{{"UID", "uid-old-1"}}}}, {"NumPDBViolations", 0}}},
        {"gpu-b1", {{"Pods", {{{"UID", "uid-loose"}}}}, {"NumPDBViolations", 0}}}};
    json reply = server.Post("/preempt", args.dump());
    const json& kept = reply.at("NodeNameToMetaVictims");
    REQUIRE(kept.size() == 1);
    REQUIRE(kept.contains(planned[0]));
    CHECK(kept[planned[0]].at("Pods") == json::array({{{"UID", victim_on(planned[0])}}}));
    CHECK(kept[planned[0]].at("NumPDBViolations") == 0);
  }
  SECTION("NodeNameToVictims (full pods); the reply is NodeNameToMetaVictims all the same") {
    ordered args = {{"Pod", Urgent(1)["Pod"]}, {"NodeNameToMetaVictims", nullptr}};
    args["NodeNameToVictims"] = {
        {"gpu-a1",
         {{"Pods", {FullClusterFile::RunningPod("old-0", "gpu-a1", 0, "old")}},
          {"NumPDBViolations", 0}}},
        {"gpu-a2",
         {{"Pods", {FullClusterFile::RunningPod("old-1", "gpu-a2", 0, "old")}},
          {"NumPDBViolations", 0}}},
        {"gpu-b1",
         {{"Pods", {FullClusterFile::RunningPod("loose", "gpu-b1", 0, "")}},
          {"NumPDBViolations", 0}}}};
    json reply = server.Post("/preempt", args.dump());
    CHECK_FALSE(reply.contains("NodeNameToVictims"));
    const json& kept = reply.at("NodeNameToMetaVictims");
    REQUIRE(kept.size() == 1);
    REQUIRE(kept.contains(planned[1]));
    CHECK(kept[planned[1]].at("Pods") == json::array({{{"UID", victim_on(planned[1])}}}));
  }
  SECTION("a pod outside any gang keeps kube-scheduler's candidates that break no gang") {
    ordered args = ordered::parse(Fixture("preempt-nodecache.json"));
    args["Pod"] = Urgent(0)["Pod"];
    args["Pod"]["metadata"]["annotations"] = ordered::object();
    args["Pod"]["metadata"]["uid"] = "uid-lone";
    args["NodeNameToMetaVictims"] = {
        {"gpu-a1", {{"Pods", {{{"UID", "uid-old-0"}}}}, {"NumPDBViolations", 0}}},
        {"gpu-b1", {{"Pods", {{{"UID", "uid-loose"}}}}, {"NumPDBViolations", 0}}}};
    json reply = server.Post("/preempt", args.dump());
    const json& kept = reply.at("NodeNameToMetaVictims");
    REQUIRE(kept.size() == 1);
    CHECK(kept.contains("gpu-b1"));
  }
}

}  // namespace
}  // namespace gangsched::api
