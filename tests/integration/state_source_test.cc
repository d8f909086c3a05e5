// The API-server state source, the binder and the notifier against an in-process fake
// kube-apiserver on port 0 serving payloads recorded from kube-apiserver v1.36.3
// (tests/fixtures/kube/): paged lists, watch streams with bookmarks, "too old resource version" as
// an ERROR event and as HTTP 410, resources that are not served, Bindings and their 409s.
#include "kube/state_source.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "api/extender_service.h"
#include "api/state_setup.h"
#include "api/wire.h"
#include "config/config.h"
#include "k8s/objects_json.h"
#include "kube/binder.h"
#include "kube/kube_client.h"
#include "kube/notifier.h"

namespace gangsched::kube {

using api::BindingRequest;
using api::ExtenderService;
using api::LoadApiState;
using api::StandaloneBinder;
using k8s::DecodeNodeJson;
using k8s::DecodePodJson;
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr auto kGenerous = std::chrono::seconds(20);

// Also read on the fake API server's threads, where Catch2 assertions must not run (not thread
// safe): a missing fixture throws, and the test that asked fails.
std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/kube/" + name);
  if (!in) throw std::runtime_error("cannot read fixture tests/fixtures/kube/" + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The four recorded fake GPU nodes (8 GPUs each, racks b1-r1 and b1-r2).
std::vector<std::string> RecordedNodes() {
  std::vector<std::string> out;
  for (const char* page : {"nodes-page1.json", "nodes-page2.json"}) {
    const json list = json::parse(ReadFixture(page));
    for (const json& item : list["items"]) out.push_back(item.dump());
  }
  return out;
}

// The recorded pod (4 GPUs), renamed; bound to `node` unless it is "".
std::string PodJson(const std::string& name, const std::string& uid, const std::string& node,
                    const std::string& gang = "bert", int min_members = 2) {
  json pod = json::parse(ReadFixture("pod-created.json"));
  pod["metadata"]["name"] = name;
  pod["metadata"]["uid"] = uid;
  pod["metadata"]["annotations"]["gangsched.io/gang"] = gang;
  pod["metadata"]["annotations"]["gangsched.io/min-members"] = std::to_string(min_members);
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  return pod.dump();
}

std::string Event(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}\n";
}
std::string Bookmark(const std::string& rv) {
  return Event("BOOKMARK", R"({"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":")" +
                               rv + R"("},"spec":{"containers":null},"status":{}})");
}
std::string WithRv(std::string object, const std::string& rv) {
  json j = json::parse(object);
  j["metadata"]["resourceVersion"] = rv;
  return j.dump();
}
const char* kExpiredStatus =
    R"j({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)j"
    R"j("message":"too old resource version: 5 (216)","reason":"Expired","code":410})j";

// Waits until `done()` holds or the timeout passes; true when it held. A condition wait, not a
// fixed sleep: it returns as soon as the condition is seen.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kGenerous) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

// A fake kube-apiserver: lists paged from `items`, one scripted watch session per watch request
// (a request with no session waits for one), everything else 404 as the real server answers.
class FakeApiServer {
 public:
  struct Session {
    int status = 200;
    std::string body;  // the whole stream (events), or the error Status
  };
  struct Collection {
    std::vector<std::string> items;
    std::string resource_version = "100";
    int fail_lists = 0;  // answer this many lists with 500 first
    std::deque<Session> sessions;
  };

  FakeApiServer() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.Get(R"(/api/v1/(nodes|pods))",
                [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); });
    // Kubernetes 1.36's native PodGroups, when a test serves them (else 404 like other groups).
    server_.Get(R"(/apis/scheduling\.k8s\.io/v1alpha2/(podgroups))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (!serve_native_podgroups_) {
                    std::lock_guard lock(mu_);
                    Record(req);
                    res.status = 404;
                    return;
                  }
                  Serve(req, res);
                });
    server_.Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mu_);
                  Record(req);
                  auto it = pods_.find(req.matches[2]);
                  if (it == pods_.end()) {
                    res.status = 404;
                    res.set_content(R"({"kind":"Status","code":404})", "application/json");
                    return;
                  }
                  res.set_content(it->second, "application/json");
                });
    server_.Post(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+)/binding)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mu_);
                   Record(req);
                   bindings_.push_back(req.body);
                   auto it = binding_replies_.find(req.matches[2]);
                   if (it != binding_replies_.end()) {
                     res.status = it->second.first;
                     res.set_content(it->second.second, "application/json");
                   } else {
                     res.status = 201;
                     res.set_content(ReadFixture("binding-created.json"), "application/json");
                   }
                   cv_.notify_all();
                 });
    server_.Post(R"(/apis/events.k8s.io/v1/namespaces/([^/]+)/events)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mu_);
                   Record(req);
                   events_.push_back(req.body);
                   res.status = 201;
                   res.set_content(req.body, "application/json");
                 });
    server_.Patch(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+))", [this](const httplib::Request& req,
                                                                       httplib::Response& res) {
      std::lock_guard lock(mu_);
      Record(req);
      patches_.push_back(req.path + " " + req.get_header_value("Content-Type") + " " + req.body);
      res.set_content("{}", "application/json");
    });
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      Record(req);
      res.status = 404;
      res.set_content(ReadFixture("tfjobs-not-served.txt"), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    REQUIRE(WaitUntil([this] { return server_.is_running(); }));
  }
  ~FakeApiServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  KubeConfig Config() const {
    KubeConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(port_);
    c.token = "test-token";
    c.source = "test";
    return c;
  }

  template <typename Fn>
  auto With(Fn&& fn) {
    std::lock_guard lock(mu_);
    return fn(*this);
  }
  void AddSession(const std::string& resource, Session s) {
    {
      std::lock_guard lock(mu_);
      collections_[resource].sessions.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::vector<std::string> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Requests whose path+query contains `part`.
  std::size_t Count(const std::string& part) {
    std::lock_guard lock(mu_);
    return std::count_if(requests_.begin(), requests_.end(),
                         [&](const std::string& r) { return r.find(part) != std::string::npos; });
  }

  std::map<std::string, Collection> collections_;
  std::map<std::string, std::string> pods_;                             // GET pod by name
  std::map<std::string, std::pair<int, std::string>> binding_replies_;  // by pod name
  std::vector<std::string> bindings_;
  std::vector<std::string> events_;
  std::vector<std::string> patches_;
  std::vector<std::string> authorization_;
  std::atomic<bool> serve_native_podgroups_{false};

 private:
  void Record(const httplib::Request& req) {
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "?" : "&") + k + "=" + v;
    requests_.push_back(req.method + " " + req.path + query);
    authorization_.push_back(req.get_header_value("Authorization"));
  }
  void Serve(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mu_);
    Record(req);
    Collection& c = collections_[req.matches[1]];
    if (!req.has_param("watch")) {
      if (c.fail_lists > 0) {
        --c.fail_lists;
        res.status = 500;
        res.set_content(R"({"kind":"Status","code":500,"message":"etcd is down"})",
                        "application/json");
        return;
      }
      const std::size_t limit =
          req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : c.items.size();
      const std::size_t start =
          req.has_param("continue") ? std::stoul(req.get_param_value("continue")) : 0;
      json list = {{"kind", "List"},
                   {"apiVersion", "v1"},
                   {"metadata", {{"resourceVersion", c.resource_version}}}};
      std::string items = "[";
      for (std::size_t i = start; i < std::min(c.items.size(), start + limit); ++i) {
        if (i > start) items += ",";
        items += c.items[i];
      }
      items += "]";
      if (start + limit < c.items.size()) {
        list["metadata"]["continue"] = std::to_string(start + limit);
      }
      std::string body = list.dump();
      body.insert(body.size() - 1, R"(,"items":)" + items);
      res.set_content(body, "application/json");
      return;
    }
    // A watch: the next scripted session, waiting for one when none is queued.
    cv_.wait(lock, [&] { return stopping_ || !c.sessions.empty(); });
    if (stopping_) {
      res.status = 503;
      return;
    }
    Session s = std::move(c.sessions.front());
    c.sessions.pop_front();
    res.status = s.status;
    if (s.status != 200) {
      res.set_content(s.body, "application/json");
      return;
    }
    // Streamed in small chunks so events arrive split across reads.
    auto body = std::make_shared<std::string>(std::move(s.body));
    res.set_chunked_content_provider(
        "application/json", [body](std::size_t offset, httplib::DataSink& sink) {
          if (offset >= body->size()) {
            sink.done();
            return true;
          }
          const std::size_t n = std::min<std::size_t>(97, body->size() - offset);
          sink.write(body->data() + offset, n);
          return true;
        });
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::string> requests_;
};

WatchTiming FastTiming() {
  WatchTiming t;
  t.initial_backoff = std::chrono::milliseconds(5);
  t.max_backoff = std::chrono::milliseconds(50);
  t.unserved_retry = std::chrono::milliseconds(60'000);
  t.page_size = 1;
  return t;
}

// gangsched's service with the API state source's engine.
struct Harness {
  config::Config config;
  std::unique_ptr<ExtenderService> service;
  Harness() {
    spdlog::set_level(spdlog::level::warn);
    config.listen = "127.0.0.1:0";
    auto state = LoadApiState(config);
    REQUIRE(state);
    service = std::make_unique<ExtenderService>(config, std::move(state->engine), false,
                                                std::make_unique<StandaloneBinder>());
  }
  json State() { return json::parse(service->State().body); }
  std::int64_t UsedGpus(const std::string& node) {
    const json state = State();
    for (const json& n : state["nodes"]) {
      if (n["name"] == node) return n["gpus"]["used"].get<std::int64_t>();
    }
    return -1;
  }
  std::size_t Nodes() { return State()["nodes"].size(); }
};

// gangsched with the API state source started against `api`; stopped at the end of the scope.
struct Synced {
  Harness h;
  KubeClient client;
  KubeStateSource source;
  explicit Synced(FakeApiServer& api)
      : client(api.Config()), source(client, *h.service, FastTiming()) {
    source.Start();
  }
  ~Synced() { source.Stop(); }
};

TEST_CASE("state source: paged lists, ready after the first sync, events, bookmarks") {
  FakeApiServer api;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    s.collections_["nodes"].resource_version = "213";
    s.collections_["pods"].resource_version = "300";
    return 0;
  });
  Harness h;
  CHECK(h.service->Readyz().status == 503);
  KubeClient client(api.Config());
  KubeStateSource source(client, *h.service, FastTiming());
  source.Start();
  REQUIRE(source.WaitSynced(kGenerous));
  CHECK(h.service->Readyz().status == 200);
  CHECK(h.Nodes() == 4);
  // Four nodes at one per page: the first page without continue, then tokens 1, 2, 3.
  CHECK(api.Count("GET /api/v1/nodes?limit=1") == 1);
  CHECK(api.Count("GET /api/v1/nodes?continue=") == 3);
  CHECK(api.Count("GET /api/v1/nodes?continue=3&limit=1") == 1);
  CHECK(api.With([](FakeApiServer& s) { return s.authorization_.front(); }) == "Bearer test-token");

  // ADDED (a pod bound to n1, 4 GPUs), then a BOOKMARK; the stream ends.
  const std::string pod = PodJson("bert-worker-0", "uid-0", "gpu-b1-r1-n1");
  api.AddSession("pods", {200, Event("ADDED", WithRv(pod, "301")) + Bookmark("450")});
  REQUIRE(WaitUntil([&] { return h.UsedGpus("gpu-b1-r1-n1") == 4; }));
  // The next watch resumes from the bookmark's resourceVersion, with bookmarks asked for.
  REQUIRE(WaitUntil([&] {
    return api.Count("GET /api/v1/pods?allowWatchBookmarks=true&resourceVersion=450") == 1;
  }));
  REQUIRE(source.Members({"default", "bert"}).size() == 1);
  api.AddSession("pods", {200, Event("DELETED", WithRv(pod, "451"))});
  REQUIRE(WaitUntil([&] { return h.UsedGpus("gpu-b1-r1-n1") == 0; }));
  CHECK(source.Members({"default", "bert"}).empty());  // a DELETED event leaves the index too
  // Kubeflow jobs and PodGroups are not served here: looked for once, readiness not held back.
  // (its watcher thread may still be starting on a loaded machine: wait for the one look)
  CHECK(WaitUntil([&] { return api.Count("GET /apis/kubeflow.org/v1/tfjobs?limit=1") == 1; }));
  CHECK(source.watcher("/apis/kubeflow.org/v1/tfjobs")->lists() == 0);
  source.Stop();
}

TEST_CASE("state source: an ERROR event with code 410 relists and replaces the cache") {
  FakeApiServer api;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    return 0;
  });
  Synced live(api);
  REQUIRE(live.source.WaitSynced(kGenerous));
  REQUIRE(live.h.Nodes() == 4);
  // The relist sees one node fewer and a newer resourceVersion.
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items.pop_back();
    s.collections_["nodes"].resource_version = "900";
    return 0;
  });
  api.AddSession("nodes", {200, Event("ERROR", kExpiredStatus)});
  REQUIRE(WaitUntil([&] { return live.h.Nodes() == 3; }));
  const ListWatcher* nodes = live.source.watcher("/api/v1/nodes");
  CHECK(nodes->relists_for_expired() == 1);
  CHECK(nodes->lists() == 2);
  REQUIRE(WaitUntil([&] { return api.Count("resourceVersion=900") == 1; }));
}

TEST_CASE("state source: HTTP 410 on the watch relists; pods gone meanwhile are removed") {
  FakeApiServer api;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    s.collections_["pods"].items = {PodJson("a", "uid-a", "gpu-b1-r2-n1"),
                                    PodJson("b", "uid-b", "gpu-b1-r2-n2")};
    return 0;
  });
  Synced live(api);
  REQUIRE(live.source.WaitSynced(kGenerous));
  REQUIRE(WaitUntil([&] { return live.h.UsedGpus("gpu-b1-r2-n1") == 4; }));
  CHECK(live.h.UsedGpus("gpu-b1-r2-n2") == 4);
  // The notifier's view of the gang: both members, bound, by name.
  const scheduler::GangKey bert{"default", "bert"};
  auto members = live.source.Members(bert);
  REQUIRE(members.size() == 2);
  CHECK(members[0].name == "a");
  CHECK(members[0].uid == "uid-a");
  CHECK(members[0].bound);
  CHECK(members[1].name == "b");
  CHECK(live.source.Members({"default", "other"}).empty());
  api.With([](FakeApiServer& s) {
    s.collections_["pods"].items.pop_back();  // pod b was deleted while the watch was down
    return 0;
  });
  api.AddSession("pods", {410, kExpiredStatus});
  REQUIRE(WaitUntil([&] { return live.h.UsedGpus("gpu-b1-r2-n2") == 0; }));
  CHECK(live.h.UsedGpus("gpu-b1-r2-n1") == 4);
  members = live.source.Members(bert);
  REQUIRE(members.size() == 1);
  CHECK(members[0].name == "a");
  CHECK(live.source.watcher("/api/v1/pods")->relists_for_expired() == 1);
}

TEST_CASE("state source: a failing list is retried with backoff until it succeeds") {
  FakeApiServer api;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    s.collections_["nodes"].fail_lists = 3;
    return 0;
  });
  Synced live(api);
  REQUIRE(live.source.WaitSynced(kGenerous));
  CHECK(api.Count("GET /api/v1/nodes?limit=1") == 3 + 1);  // 3 failures, then 4 pages
  CHECK(api.Count("GET /api/v1/nodes?continue=") == 3);
  CHECK(live.h.Nodes() == 4);
}

TEST_CASE("state source: a dropped watch re-watches from the last resourceVersion") {
  FakeApiServer api;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    return 0;
  });
  Synced live(api);
  REQUIRE(live.source.WaitSynced(kGenerous));
  // Half an event, then the connection ends: the partial event is dropped, no relist.
  const std::string pod = PodJson("p", "uid-p", "gpu-b1-r1-n2");
  const std::string event = Event("ADDED", WithRv(pod, "777"));
  api.AddSession("pods",
                 {200, Event("ADDED", WithRv(PodJson("q", "uid-q", "gpu-b1-r1-n1"), "500")) +
                           event.substr(0, event.size() / 2)});
  REQUIRE(WaitUntil([&] { return live.h.UsedGpus("gpu-b1-r1-n1") == 4; }));
  REQUIRE(WaitUntil([&] { return api.Count("resourceVersion=500") == 1; }));
  CHECK(live.h.UsedGpus("gpu-b1-r1-n2") == 0);
  CHECK(live.source.watcher("/api/v1/pods")->lists() == 1);
}

TEST_CASE("client: a token file is read again on every request (projected tokens rotate)") {
  FakeApiServer api;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("gangsched-token-" + std::to_string(::getpid())))
          .string();
  KubeConfig config = api.Config();
  config.token.clear();
  config.token_file = path;
  KubeClient client(config);
  std::ofstream(path) << "first\n";
  CHECK(client.Get("/api/v1/namespaces/default/pods/none").status == 404);
  std::ofstream(path) << "rotated\n";
  CHECK(client.Get("/api/v1/namespaces/default/pods/none").status == 404);
  std::remove(path.c_str());
  const auto seen = api.With([](FakeApiServer& s) { return s.authorization_; });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == "Bearer first");
  CHECK(seen[1] == "Bearer rotated");
}

// ---- Binder
// --------------------------------------------------------------------------------------

BindingRequest Request(const std::string& name, const std::string& node) {
  BindingRequest r;
  r.pod_namespace = "default";
  r.pod_name = name;
  r.pod_uid = "uid-" + name;
  r.node = node;
  r.gpu_ids = {0, 1};
  r.placement_summary = "2 pods on 1 node in rack b1-r1 (span: node)";
  return r;
}

TEST_CASE("binder: one Binding per pod with the UID precondition and gangsched's annotations") {
  FakeApiServer api;
  KubeClient client(api.Config());
  ApiBinder binder(client);
  std::vector<BindingRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(Request("w-" + std::to_string(i), "gpu-b1-r1-n1"));
  const std::vector<std::string> errors = binder.BindAll(requests);
  REQUIRE(errors.size() == 8);
  for (const std::string& e : errors) CHECK(e.empty());
  CHECK(api.Count("POST /api/v1/namespaces/default/pods/w-3/binding") == 1);
  std::map<std::string, json> by_name;
  for (const std::string& body : api.With([](FakeApiServer& s) { return s.bindings_; })) {
    json b = json::parse(body);
    by_name[b["metadata"]["name"]] = b;
  }
  REQUIRE(by_name.size() == 8);
  const json& b = by_name["w-3"];
  CHECK(b["apiVersion"] == "v1");
  CHECK(b["kind"] == "Binding");
  CHECK(b["metadata"]["namespace"] == "default");
  CHECK(b["metadata"]["uid"] == "uid-w-3");
  CHECK(b["metadata"]["annotations"]["gangsched.io/gpu-ids"] == "0,1");
  CHECK(b["metadata"]["annotations"]["gangsched.io/placement"] ==
        "2 pods on 1 node in rack b1-r1 (span: node)");
  CHECK(b["target"] == json({{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "gpu-b1-r1-n1"}}));
}

TEST_CASE(
    "binder: 409 because the pod is already on that node is success; other failures name "
    "the pod") {
  FakeApiServer api;
  const std::string assigned = ReadFixture("binding-409-already-assigned.json");
  api.With([&](FakeApiServer& s) {
    // Already bound to the node asked for (a retried bind): success.
    s.binding_replies_["done"] = {409, assigned};
    json on_node = json::parse(PodJson("done", "uid-done", "gpu-b1-r1-n1"));
    s.pods_["done"] = on_node.dump();
    // Bound elsewhere: a failure.
    s.binding_replies_["elsewhere"] = {409, assigned};
    s.pods_["elsewhere"] = PodJson("elsewhere", "uid-elsewhere", "gpu-b1-r2-n2");
    // A recreated pod (another UID): the precondition fails.
    s.binding_replies_["recreated"] = {409, ReadFixture("binding-409-uid-precondition.json")};
    s.pods_["recreated"] = PodJson("recreated", "uid-new", "");
    s.binding_replies_["webhook"] = {
        500, R"({"kind":"Status","code":500,"message":"admission webhook denied the request"})"};
    return 0;
  });
  KubeClient client(api.Config());
  ApiBinder binder(client);
  const std::vector<std::string> errors =
      binder.BindAll({Request("done", "gpu-b1-r1-n1"), Request("elsewhere", "gpu-b1-r1-n1"),
                      Request("recreated", "gpu-b1-r1-n1"), Request("webhook", "gpu-b1-r1-n1"),
                      Request("fine", "gpu-b1-r1-n1")});
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].empty());
  CHECK(errors[1].find("binding pod default/elsewhere to node gpu-b1-r1-n1: HTTP 409") == 0);
  CHECK(errors[2].find("Precondition failed: UID in precondition") != std::string::npos);
  CHECK(errors[3] ==
        "binding pod default/webhook to node gpu-b1-r1-n1: HTTP 500: admission webhook denied "
        "the request");
  CHECK(errors[4].empty());
}

TEST_CASE("binder: an unreachable API server fails every bind with the transport error") {
  KubeConfig c;
  c.server = "http://127.0.0.1:1";
  c.source = "test";
  KubeClient client(c);
  ApiBinder binder(client);
  const auto errors = binder.BindAll({Request("x", "n1")});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("binding pod default/x to node n1: POST http://127.0.0.1:1") == 0);
}

TEST_CASE(
    "state source: a native scheduling.k8s.io PodGroup's gang.minCount sizes its pods' gang") {
  FakeApiServer api;
  api.serve_native_podgroups_ = true;
  api.With([](FakeApiServer& s) {
    s.collections_["nodes"].items = RecordedNodes();
    // Kubernetes 1.36 (scheduling.k8s.io/v1alpha2): the size is
    // spec.schedulingPolicy.gang.minCount.
    s.collections_["podgroups"].items = {R"({"apiVersion":"scheduling.k8s.io/v1alpha2",
        "kind":"PodGroup","metadata":{"name":"trainer","namespace":"default"},
        "spec":{"podGroupTemplateRef":null,"schedulingPolicy":{"gang":{"minCount":3}}}})"};
    // Two pods name it in spec.schedulingGroup (no gangsched keys).
    for (int i = 0; i < 2; ++i) {
      json pod = json::parse(ReadFixture("pod-created.json"));
      pod["metadata"]["name"] = "trainer-" + std::to_string(i);
      pod["metadata"]["uid"] = "uid-t" + std::to_string(i);
      pod["metadata"]["annotations"] = json::object();
      pod["spec"]["schedulingGroup"] = {{"podGroupName", "trainer"}};
      s.collections_["pods"].items.push_back(pod.dump());
    }
    return 0;
  });
  Synced live(api);
  REQUIRE(live.source.WaitSynced(kGenerous));
  REQUIRE(WaitUntil([&] {
    return live.source.watcher("/apis/scheduling.k8s.io/v1alpha2/podgroups")->lists() == 1;
  }));
  json gang;
  REQUIRE(WaitUntil([&] {
    gang = json::parse(live.h.service->Gang("default", "trainer").body);
    return gang.contains("quorum") && gang["quorum"] == 3;
  }));
  CHECK(gang["members_seen"] == 2);
  CHECK(gang["phase"] == "Waiting");
  CHECK(live.source.Members({"default", "trainer"}).size() == 2);
}

// ---- Notifier
// ------------------------------------------------------------------------------------

// Gang bert's two pending members (2 x 4 GPUs, quorum 2) as the watch decodes them.
std::vector<scheduler::Pod> BertMembers() {
  std::vector<scheduler::Pod> members;
  for (int i = 0; i < 2; ++i) {
    auto m = DecodePodJson(PodJson("bert-" + std::to_string(i), "uid-" + std::to_string(i), ""));
    REQUIRE(m);
    members.push_back(*m);
  }
  return members;
}

// The notifier's view of the pod cache: `refs` (read at each call) for gang bert, none for others.
GangNotifier::MembersFn BertRefs(const std::vector<MemberRef>& refs) {
  return [&refs](const scheduler::GangKey& key) {
    return key.name == "bert" ? refs : std::vector<MemberRef>{};
  };
}

// The recorded node alone, and bert-0 (of `members`) seen and filtered: rejected, its gang waits
// for bert-1.
void OnlyBert0Filtered(Harness& h, const std::vector<scheduler::Pod>& members) {
  auto node = DecodeNodeJson(RecordedNodes().front());
  REQUIRE(node);
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis now) {
    REQUIRE(engine.ReplaceNodes({*node}));
    engine.UpsertPod(members[0]);
    engine.Filter(members[0], {node->name}, now);  // rejected: waiting for 1 more pod
    return std::vector<scheduler::BarrierDecision>{};
  });
}

TEST_CASE("notifier: a waiting gang gets one Warning Event per interval; freed capacity nudges") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  // One 8-GPU node, taken by another pod; gang bert (2 x 4 GPUs) exists whole and does not fit.
  auto node = DecodeNodeJson(RecordedNodes().front());
  REQUIRE(node);
  auto blocker = DecodePodJson(PodJson("blocker", "uid-blocker", node->name, "other", 1));
  REQUIRE(blocker);
  blocker->requests.gpus = 8;
  const std::vector<scheduler::Pod> members = BertMembers();
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis now) {
    REQUIRE(engine.ReplaceNodes({*node}));
    engine.UpsertPod(*blocker);
    for (const auto& m : members) engine.UpsertPod(m);
    engine.Filter(members[0], {node->name}, now);
    return std::vector<scheduler::BarrierDecision>{};
  });
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, true},
                                 {"default", "bert-1", "uid-1", false, true}};
  GangNotifier::Options options;
  options.instance = "test-instance";
  options.waiting_grace = std::chrono::milliseconds(0);  // tested on its own below
  GangNotifier notifier(client, *h.service, BertRefs(refs), options);
  const auto t0 = std::chrono::system_clock::now();
  notifier.RunOnce(t0);
  notifier.RunOnce(t0 + std::chrono::seconds(5));  // within 30 s: no second Event
  const auto events = api.With([](FakeApiServer& s) { return s.events_; });
  REQUIRE(events.size() == 1);
  const json e = json::parse(events[0]);
  CHECK(e["apiVersion"] == "events.k8s.io/v1");
  CHECK(e["reason"] == "GangWaiting");
  CHECK(e["type"] == "Warning");
  CHECK(e["action"] == "Scheduling");
  CHECK(e["reportingController"] == "gangsched.io/gangsched");
  CHECK(e["reportingInstance"] == "test-instance");
  CHECK(e["regarding"]["uid"] == "uid-0");
  CHECK(e["note"].get<std::string>().rfind("gang default/bert waits: ", 0) == 0);
  CHECK(e["eventTime"].get<std::string>().size() == 27);  // 2006-01-02T15:04:05.000000Z
  CHECK_FALSE(e.contains("count"));
  CHECK(api.Count("POST /apis/events.k8s.io/v1/namespaces/default/events") == 1);
  CHECK(notifier.nudges_posted() == 0);  // nothing freed yet

  // The blocker finishes: capacity freed, both pending members are nudged (merge patch).
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis) {
    engine.RemovePod("uid-blocker");
    return std::vector<scheduler::BarrierDecision>{};
  });
  notifier.RunOnce(t0 + std::chrono::seconds(6));
  CHECK(notifier.nudges_posted() == 2);
  const auto patches = api.With([](FakeApiServer& s) { return s.patches_; });
  REQUIRE(patches.size() == 2);
  CHECK(patches[0].find("/api/v1/namespaces/default/pods/bert-0 application/merge-patch+json "
                        "{\"metadata\":{\"annotations\":{\"gangsched.io/nudge\":") == 0);
  CHECK(api.With([](FakeApiServer& s) { return s.events_.size(); }) == 1);
  notifier.RunOnce(t0 + std::chrono::seconds(40));  // the interval passed: the gang still waits
  CHECK(api.With([](FakeApiServer& s) { return s.events_.size(); }) == 2);
}

TEST_CASE("notifier: a gang deleted and created again is not throttled by its predecessor") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  const std::vector<scheduler::Pod> members = BertMembers();
  OnlyBert0Filtered(h, members);  // bert waits for 1 more pod
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, true}};
  GangNotifier::Options options;
  options.waiting_grace = std::chrono::milliseconds(0);
  GangNotifier notifier(client, *h.service, BertRefs(refs), options);
  const auto t0 = std::chrono::system_clock::now();
  notifier.RunOnce(t0);
  CHECK(api.With([](FakeApiServer& s) { return s.events_.size(); }) == 1);
  // The job is deleted: its pod goes, the engine forgets the gang.
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis) {
    engine.RemovePod(members[0].uid);
    return std::vector<scheduler::BarrierDecision>{};
  });
  REQUIRE(h.service->Gang("default", "bert").status == 404);
  notifier.RunOnce(t0 + std::chrono::seconds(1));
  // Created again under the same name, and waiting: its users hear why at once, not 30 s after
  // the old gang's event.
  OnlyBert0Filtered(h, members);
  notifier.RunOnce(t0 + std::chrono::seconds(2));
  CHECK(api.With([](FakeApiServer& s) { return s.events_.size(); }) == 2);
}

TEST_CASE("notifier: a gang still being created gets no Warning until its grace has passed") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  const std::vector<scheduler::Pod> members = BertMembers();
  OnlyBert0Filtered(h, members);  // bert waits for 1 more pod: its job is being created
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, true}};
  GangNotifier notifier(client, *h.service, BertRefs(refs), GangNotifier::Options{});  // 10 s
  const auto t0 = std::chrono::system_clock::now();
  const auto events = [&api] {
    return api.With([](FakeApiServer& s) { return s.events_.size(); });
  };
  notifier.RunOnce(t0);
  notifier.RunOnce(t0 + std::chrono::seconds(5));
  CHECK(events() == 0);
  notifier.RunOnce(t0 + std::chrono::seconds(10));  // still waiting after the grace: now it is news
  CHECK(events() == 1);
}

TEST_CASE("notifier: a planned gang's members that have not reached bind are nudged") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  // One free 8-GPU node; gang bert (2 x 4 GPUs) was planned when bert-0 was filtered and bert-0
  // waits in the barrier. bert-1 was rejected earlier (too few pods) and sits in kube-scheduler's
  // unschedulable queue: only it is nudged.
  auto node = DecodeNodeJson(RecordedNodes().front());
  REQUIRE(node);
  const std::vector<scheduler::Pod> members = BertMembers();
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis now) {
    REQUIRE(engine.ReplaceNodes({*node}));
    for (const auto& m : members) engine.UpsertPod(m);
    const auto answer = engine.Filter(members[0], {node->name}, now);
    REQUIRE(std::holds_alternative<scheduler::Narrow>(answer));
    REQUIRE(std::get<scheduler::Narrow>(answer).node == node->name);
    CHECK(engine.Bind("default", "bert-0", "uid-0", node->name, now).action ==
          scheduler::BarrierAction::kWait);
    return std::vector<scheduler::BarrierDecision>{};
  });
  // bert-1 was rejected earlier (PodScheduled=False); bert-0 waits in the barrier.
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, false},
                                 {"default", "bert-1", "uid-1", false, true}};
  GangNotifier notifier(client, *h.service, BertRefs(refs), GangNotifier::Options{});
  const auto t0 = std::chrono::system_clock::now();
  notifier.RunOnce(t0);
  CHECK(notifier.nudges_posted() == 1);
  const auto patches = api.With([](FakeApiServer& s) { return s.patches_; });
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].find("/api/v1/namespaces/default/pods/bert-1 ") == 0);
  notifier.RunOnce(t0 + std::chrono::seconds(3));  // rate-limited per gang
  CHECK(notifier.nudges_posted() == 1);
  notifier.RunOnce(t0 + std::chrono::seconds(12));  // still not at bind: nudged again
  CHECK(notifier.nudges_posted() == 2);
  // A planned gang is not waiting: no GangWaiting Event.
  CHECK(api.With([](FakeApiServer& s) { return s.events_.size(); }) == 0);
}

TEST_CASE("notifier: a gang whose last pods appeared is nudged once it has its quorum") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  const std::vector<scheduler::Pod> members = BertMembers();
  OnlyBert0Filtered(h, members);
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, true}};  // parked
  GangNotifier notifier(client, *h.service, BertRefs(refs), GangNotifier::Options{});
  const auto t0 = std::chrono::system_clock::now();
  notifier.RunOnce(t0);
  CHECK(notifier.nudges_posted() == 0);
  // bert-1 appears (watch): the gang has its quorum; the parked bert-0 is requeued.
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis) {
    engine.UpsertPod(members[1]);
    return std::vector<scheduler::BarrierDecision>{};
  });
  refs.push_back({"default", "bert-1", "uid-1", false, false});  // new: in the active queue
  notifier.RunOnce(t0 + std::chrono::seconds(1));
  CHECK(notifier.nudges_posted() == 1);  // only the parked bert-0
  const auto patches = api.With([](FakeApiServer& s) { return s.patches_; });
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].find("/api/v1/namespaces/default/pods/bert-0 ") == 0);
  notifier.RunOnce(t0 + std::chrono::seconds(20));  // quorum was already there: no new nudge
  CHECK(notifier.nudges_posted() == 1);
}

TEST_CASE(
    "notifier: a gang placed before its first look gets GangPlaced; one found bound does not") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  const std::vector<scheduler::Pod> members = BertMembers();
  auto node = DecodeNodeJson(RecordedNodes().front());
  REQUIRE(node);
  // Gang bert is planned, bound and completed by this engine (a TFJob created right after
  // start-up) before the notifier looks for the first time.
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis now) {
    REQUIRE(engine.ReplaceNodes({*node}));
    for (const auto& m : members) engine.UpsertPod(m);
    for (const auto& m : members) {
      REQUIRE(std::holds_alternative<scheduler::Narrow>(engine.Filter(m, {node->name}, now)));
    }
    scheduler::BarrierDecision d;
    for (const auto& m : members) d = engine.Bind(m.namespace_name, m.name, m.uid, node->name, now);
    REQUIRE(d.action == scheduler::BarrierAction::kBind);
    for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", now);
    // Gang gpt was bound before this process started: found so by the watch.
    for (int i = 0; i < 2; ++i) {
      auto pod = DecodePodJson(PodJson("gpt-" + std::to_string(i), "uid-gpt-" + std::to_string(i),
                                       node->name, "gpt", 2));
      REQUIRE(pod);
      engine.UpsertPod(*pod);
    }
    return std::vector<scheduler::BarrierDecision>{};
  });
  REQUIRE(h.service->Gangs().body.find("\"phase\":\"Bound\"") != std::string::npos);
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", true, false},
                                 {"default", "bert-1", "uid-1", true, false}};
  GangNotifier notifier(
      client, *h.service,
      [&refs](const scheduler::GangKey& key) {
        if (key.name == "gpt") {
          return std::vector<MemberRef>{{"default", "gpt-0", "uid-gpt-0", true, false}};
        }
        return key.name == "bert" ? refs : std::vector<MemberRef>{};
      },
      GangNotifier::Options{});
  notifier.RunOnce(std::chrono::system_clock::now());
  const auto events = api.With([](FakeApiServer& s) { return s.events_; });
  REQUIRE(events.size() == 1);
  CHECK(events[0].find("GangPlaced") != std::string::npos);
  CHECK(events[0].find("bert-0") != std::string::npos);
}

TEST_CASE("notifier: a nudge owed for a reached quorum waits until a member is marked parked") {
  FakeApiServer api;
  Harness h;
  KubeClient client(api.Config());
  const std::vector<scheduler::Pod> members = BertMembers();
  OnlyBert0Filtered(h, members);
  // kube-scheduler has rejected bert-0 but not yet written PodScheduled=False.
  std::vector<MemberRef> refs = {{"default", "bert-0", "uid-0", false, false}};
  GangNotifier notifier(client, *h.service, BertRefs(refs), GangNotifier::Options{});
  const auto t0 = std::chrono::system_clock::now();
  notifier.RunOnce(t0);
  h.service->UpdateEngine([&](scheduler::GangScheduler& engine, scheduler::Millis) {
    engine.UpsertPod(members[1]);
    return std::vector<scheduler::BarrierDecision>{};
  });
  refs.push_back({"default", "bert-1", "uid-1", false, false});
  notifier.RunOnce(t0 + std::chrono::seconds(1));  // quorum reached, nobody parked yet
  CHECK(notifier.nudges_posted() == 0);
  refs[0].parked = true;  // the condition arrives
  notifier.RunOnce(t0 + std::chrono::seconds(2));
  CHECK(notifier.nudges_posted() == 1);
  notifier.RunOnce(t0 + std::chrono::seconds(30));  // paid: not again
  CHECK(notifier.nudges_posted() == 1);
}

}  // namespace
}  // namespace gangsched::kube
