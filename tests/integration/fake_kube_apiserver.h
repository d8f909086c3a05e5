// An in-process fake kube-apiserver on port 0 serving payloads recorded from kube-apiserver
// v1.36.3 (tests/fixtures/kube/): paged lists, watch streams with bookmarks, "too old resource
// version" as an ERROR event and as HTTP 410, resources that are not served, Bindings, Events and
// patches; and gangsched's service with the API state source's engine (Harness, Synced). Shared by
// the state source's and the notifier's integration tests.
#pragma once

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
#include "kube/state_source.h"

namespace gangsched::kube::fake_api {

using api::BindingRequest;
using api::ExtenderService;
using api::LoadApiState;
using api::StandaloneBinder;
using k8s::DecodeNodeJson;
using k8s::DecodePodJson;

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr auto kGenerous = std::chrono::seconds(20);

// Also read on the fake API server's threads, where Catch2 assertions must not run (not thread
// safe): a missing fixture throws, and the test that asked fails.
inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/kube/" + name);
  if (!in) throw std::runtime_error("cannot read fixture tests/fixtures/kube/" + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The four recorded fake GPU nodes (8 GPUs each, racks b1-r1 and b1-r2).
inline std::vector<std::string> RecordedNodes() {
  std::vector<std::string> out;
  for (const char* page : {"nodes-page1.json", "nodes-page2.json"}) {
    const json list = json::parse(ReadFixture(page));
    for (const json& item : list["items"]) out.push_back(item.dump());
  }
  return out;
}

// The recorded pod (4 GPUs), renamed; bound to `node` unless it is "".
inline std::string PodJson(const std::string& name, const std::string& uid, const std::string& node,
                           const std::string& gang = "bert", int min_members = 2) {
  json pod = json::parse(ReadFixture("pod-created.json"));
  pod["metadata"]["name"] = name;
  pod["metadata"]["uid"] = uid;
  pod["metadata"]["annotations"]["gangsched.io/gang"] = gang;
  pod["metadata"]["annotations"]["gangsched.io/min-members"] = std::to_string(min_members);
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  return pod.dump();
}

inline std::string Event(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}\n";
}
inline std::string Bookmark(const std::string& rv) {
  return Event("BOOKMARK", R"({"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":")" +
                               rv + R"("},"spec":{"containers":null},"status":{}})");
}
inline std::string WithRv(std::string object, const std::string& rv) {
  json j = json::parse(object);
  j["metadata"]["resourceVersion"] = rv;
  return j.dump();
}
inline const char* const kExpiredStatus =
    R"j({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)j"
    R"j("message":"too old resource version: 5 (216)","reason":"Expired","code":410})j";

// Waits until `done()` holds or the timeout passes; true when it held. A condition wait, not a
// fixed sleep: it returns as soon as the condition is seen.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = kGenerous) {
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

inline WatchTiming FastTiming() {
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

}  // namespace gangsched::kube::fake_api
