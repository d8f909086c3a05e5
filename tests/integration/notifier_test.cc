// The gang notifier (kube/notifier.h: GangWaiting/GangPlaced Events and nudges) against the
// in-process fake kube-apiserver (tests/integration/fake_kube_apiserver.h).
#include "kube/notifier.h"

#include <catch2/catch.hpp>

#include "tests/integration/fake_kube_apiserver.h"

namespace gangsched::kube {
namespace {

using namespace fake_api;  // NOLINT(google-build-using-namespace): the fake API server and harness

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
