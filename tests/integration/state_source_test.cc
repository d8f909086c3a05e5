// The API-server state source and the binder against an in-process fake
// kube-apiserver on port 0 serving payloads recorded from kube-apiserver v1.36.3
// (tests/fixtures/kube/): paged lists, watch streams with bookmarks, "too old resource version" as
// an ERROR event and as HTTP 410, resources that are not served, Bindings and their 409s.
#include "kube/state_source.h"

#include <catch2/catch.hpp>

#include "tests/integration/fake_kube_apiserver.h"

namespace gangsched::kube {
namespace {

using namespace fake_api;  // NOLINT(google-build-using-namespace): the fake API server and harness

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

}  // namespace
}  // namespace gangsched::kube
