#include "kube/state_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "k8s/jobs.h"
#include "k8s/objects_json.h"
#include "k8s/pod_group.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::kube {

using k8s::DecodeNodeJson;
using k8s::DecodePodJson;
using scheduler::BarrierDecision;
using scheduler::GangScheduler;
using scheduler::Millis;

namespace {

constexpr const char* kGangAnnotation = "gangsched.io/gang";
constexpr const char* kMinMembersAnnotation = "gangsched.io/min-members";

}  // namespace

// ---- KubeStateSource ----------------------------------------------------------------------------

const std::vector<WatchedResource>& WatchedResources() {
  static const std::vector<WatchedResource> kResources = {
      {"/api/v1/nodes", "Node", "v1", false},
      {"/api/v1/pods", "Pod", "v1", false},
      {"/apis/scheduling.x-k8s.io/v1alpha1/podgroups", "PodGroup", "scheduling.x-k8s.io/v1alpha1",
       true},
      {"/apis/scheduling.volcano.sh/v1beta1/podgroups", "PodGroup", "scheduling.volcano.sh/v1beta1",
       true},
      // Kubernetes 1.36's native PodGroup (feature gate GenericWorkload, API scheduling.k8s.io/
      // v1alpha2); pods name it in spec.schedulingGroup.podGroupName.
      {"/apis/scheduling.k8s.io/v1alpha2/podgroups", "PodGroup", "scheduling.k8s.io/v1alpha2",
       true},
      {"/apis/kubeflow.org/v1/tfjobs", "TFJob", "kubeflow.org/v1", true},
      {"/apis/kubeflow.org/v1/pytorchjobs", "PyTorchJob", "kubeflow.org/v1", true},
      {"/apis/kubeflow.org/v1/mpijobs", "MPIJob", "kubeflow.org/v1", true},
  };
  return kResources;
}

struct KubeStateSource::Cache {
  mutable std::mutex mu;
  std::condition_variable cv;
  bool nodes_listed = false;
  bool pods_listed = false;
  bool synced = false;
  std::map<std::string, scheduler::Node> nodes;  // by name
  std::map<std::string, scheduler::Pod> pods;    // by UID, as decoded
  // PodGroup minMember by resource path, then "ns/name".
  std::map<std::string, std::map<std::string, int>> groups;
  // Gang keys each job resource declared a roster for.
  std::map<std::string, std::set<scheduler::GangKey>> rosters;
  // The pods of each gang (UIDs), kept with `pods` so Members() does not scan every pod.
  std::map<scheduler::GangKey, std::set<std::string>> gang_pods;
  std::map<std::string, scheduler::GangKey> gang_of;  // UID -> gang

  void Index(const std::string& uid, const scheduler::Pod& pod) {
    Unindex(uid);
    const scheduler::GangKey key = scheduler::IdentifyGang(pod).membership.key;
    gang_pods[key].insert(uid);
    gang_of[uid] = key;
  }
  void Unindex(const std::string& uid) {
    auto it = gang_of.find(uid);
    if (it == gang_of.end()) return;
    auto members = gang_pods.find(it->second);
    if (members != gang_pods.end()) {
      members->second.erase(uid);
      if (members->second.empty()) gang_pods.erase(members);
    }
    gang_of.erase(it);
  }
};

namespace {

bool SameNode(const scheduler::Node& a, const scheduler::Node& b) {
  if (a.name != b.name || a.labels != b.labels || !(a.allocatable == b.allocatable) ||
      a.unschedulable != b.unschedulable || a.taints.size() != b.taints.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.taints.size(); ++i) {
    if (a.taints[i].key != b.taints[i].key || a.taints[i].value != b.taints[i].value ||
        a.taints[i].effect != b.taints[i].effect) {
      return false;
    }
  }
  auto topo = [](const scheduler::Node& n) {
    auto it = n.annotations.find(scheduler::kGpuTopologyAnnotation);
    return it == n.annotations.end() ? std::string() : it->second;
  };
  return topo(a) == topo(b);
}

std::string GroupKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// A PodGroup's key and size (k8s/pod_group.h); nothing (logged) when it cannot be read.
struct GroupInfo {
  std::string key;
  int min_member = 0;
};
std::optional<GroupInfo> DecodeGroup(const WatchedResource& r, const std::string& json) {
  auto group = k8s::DecodePodGroupJson(json);
  if (!group) {
    spdlog::warn("verb=watch resource={} decision=skip error=\"{}\"", r.path, group.error());
    return std::nullopt;
  }
  return GroupInfo{GroupKey(group->namespace_name, group->name), group->min_member};
}

bool InGroupGang(const scheduler::Pod& pod, std::string& key) {
  const scheduler::MembershipResult m = scheduler::IdentifyGang(pod);
  if (m.membership.source != scheduler::GangSource::kCoscheduling &&
      m.membership.source != scheduler::GangSource::kVolcano &&
      m.membership.source != scheduler::GangSource::kNative) {
    return false;
  }
  key = GroupKey(m.membership.key.namespace_name, m.membership.key.name);
  return true;
}

// The pod as the engine sees it: a PodGroup member carries the group's size as gangsched's own
// keys (the gang key is unchanged: namespace and group name), since the core reads sizes only from
// pods and job rosters (scheduler/gang.cc).
scheduler::Pod Enriched(const scheduler::Pod& pod,
                        const std::map<std::string, std::map<std::string, int>>& groups) {
  std::string key;
  if (!InGroupGang(pod, key)) return pod;
  int min_member = 0;
  for (const auto& [path, by_key] : groups) {
    if (auto it = by_key.find(key); it != by_key.end())
      min_member = std::max(min_member, it->second);
  }
  if (min_member <= 0) return pod;
  scheduler::Pod out = pod;
  out.annotations[kGangAnnotation] = key.substr(key.find('/') + 1);
  out.annotations[kMinMembersAnnotation] = std::to_string(min_member);
  return out;
}

}  // namespace

KubeStateSource::KubeStateSource(KubeClient& client, api::EngineHost& service, WatchTiming timing)
    : client_(client), service_(service), timing_(timing), cache_(std::make_unique<Cache>()) {}

KubeStateSource::~KubeStateSource() { Stop(); }

void KubeStateSource::Start() {
  for (const WatchedResource& r : WatchedResources()) {
    ListWatcher::Handlers h;
    const std::string kind = r.kind;
    if (kind == "Node") {
      h.replace = [this](std::vector<std::string> items) { ReplaceNodes(std::move(items)); };
      h.event = [this](const WatchEvent& e) { NodeEvent(e); };
    } else if (kind == "Pod") {
      h.replace = [this](std::vector<std::string> items) { ReplacePods(std::move(items)); };
      h.event = [this](const WatchEvent& e) { PodEvent(e); };
    } else if (kind == "PodGroup") {
      h.replace = [this, &r](std::vector<std::string> items) {
        ReplaceGroups(r, std::move(items));
      };
      h.event = [this, &r](const WatchEvent& e) { GroupEvent(r, e); };
      h.unserved = [this, &r] { ReplaceGroups(r, {}); };
    } else {
      h.replace = [this, &r](std::vector<std::string> items) { ReplaceJobs(r, std::move(items)); };
      h.event = [this, &r](const WatchEvent& e) { JobEvent(r, e); };
      h.unserved = [this, &r] { ReplaceJobs(r, {}); };
    }
    watchers_.push_back(
        std::make_unique<ListWatcher>(client_, r.path, r.optional, std::move(h), timing_));
  }
  for (auto& w : watchers_) w->Start();
}

void KubeStateSource::Stop() {
  client_.Stop();  // aborts watches in flight
  for (auto& w : watchers_) w->Stop();
  watchers_.clear();
  cache_->cv.notify_all();
}

bool KubeStateSource::WaitSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(cache_->mu);
  return cache_->cv.wait_for(lock, timeout, [this] { return cache_->synced; });
}

bool KubeStateSource::synced() const {
  std::lock_guard lock(cache_->mu);
  return cache_->synced;
}

std::size_t KubeStateSource::node_count() const {
  std::lock_guard lock(cache_->mu);
  return cache_->nodes.size();
}

std::size_t KubeStateSource::pod_count() const {
  std::lock_guard lock(cache_->mu);
  return cache_->pods.size();
}

const ListWatcher* KubeStateSource::watcher(const std::string& path) const {
  for (const auto& w : watchers_) {
    if (w->path() == path) return w.get();
  }
  return nullptr;
}

std::vector<MemberRef> KubeStateSource::Members(const scheduler::GangKey& key) const {
  std::vector<MemberRef> out;
  std::lock_guard lock(cache_->mu);
  auto members = cache_->gang_pods.find(key);
  if (members == cache_->gang_pods.end()) return out;
  for (const std::string& uid : members->second) {
    auto pod = cache_->pods.find(uid);
    if (pod == cache_->pods.end()) continue;
    const scheduler::Pod& p = pod->second;
    out.push_back(
        MemberRef{p.namespace_name, p.name, uid, !p.node_name.empty(), p.marked_unschedulable});
  }
  std::sort(out.begin(), out.end(),
            [](const MemberRef& a, const MemberRef& b) { return a.name < b.name; });
  return out;
}

void KubeStateSource::MarkListed(bool nodes) {
  // Called with cache_->mu held.
  (nodes ? cache_->nodes_listed : cache_->pods_listed) = true;
  if (!cache_->synced && cache_->nodes_listed && cache_->pods_listed) {
    cache_->synced = true;
    service_.MarkSynced();
    spdlog::info("verb=sync decision=ready nodes={} pods={}", cache_->nodes.size(),
                 cache_->pods.size());
    cache_->cv.notify_all();
  }
}

// Nodes: the engine's inventory is replaced when a node that matters changed (labels, taints,
// allocatable, cordon, GPU matrix); status heartbeats do not re-plan anything. Pods bound to a node
// the engine did not know are given to it again once the node exists.
void KubeStateSource::ReplaceNodes(std::vector<std::string> items) {
  std::map<std::string, scheduler::Node> next;
  for (const std::string& item : items) {
    auto node = DecodeNodeJson(item);
    if (!node) {
      spdlog::warn("verb=list resource=nodes decision=skip error=\"{}\"", node.error());
      continue;
    }
    next[node->name] = std::move(*node);
  }
  std::lock_guard lock(cache_->mu);
  std::set<std::string> added;
  for (const auto& [name, node] : next) {
    if (!cache_->nodes.count(name)) added.insert(name);
  }
  cache_->nodes = std::move(next);
  std::vector<scheduler::Node> all;
  all.reserve(cache_->nodes.size());
  for (const auto& [name, node] : cache_->nodes) all.push_back(node);
  std::vector<scheduler::Pod> rebind;
  for (const auto& [uid, pod] : cache_->pods) {
    if (!pod.node_name.empty() && added.count(pod.node_name)) {
      rebind.push_back(Enriched(pod, cache_->groups));
    }
  }
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    if (auto ok = engine.ReplaceNodes(std::move(all)); !ok) {
      spdlog::error("verb=list resource=nodes decision=rejected error=\"{}\"", ok.error());
    }
    for (const scheduler::Pod& pod : rebind) engine.UpsertPod(pod);
    return std::vector<BarrierDecision>{};
  });
  MarkListed(true);
}

void KubeStateSource::NodeEvent(const WatchEvent& event) {
  auto node = DecodeNodeJson(event.object);
  if (!node) {
    spdlog::warn("verb=watch resource=nodes decision=skip error=\"{}\"", node.error());
    return;
  }
  std::lock_guard lock(cache_->mu);
  const std::string name = node->name;
  bool added = false;
  if (event.type == WatchEventType::kDeleted) {
    if (!cache_->nodes.erase(name)) return;
  } else {
    auto it = cache_->nodes.find(name);
    if (it != cache_->nodes.end() && SameNode(it->second, *node)) return;
    added = it == cache_->nodes.end();
    cache_->nodes[name] = std::move(*node);
  }
  std::vector<scheduler::Node> all;
  all.reserve(cache_->nodes.size());
  for (const auto& [n, value] : cache_->nodes) all.push_back(value);
  std::vector<scheduler::Pod> rebind;
  if (added) {
    for (const auto& [uid, pod] : cache_->pods) {
      if (pod.node_name == name) rebind.push_back(Enriched(pod, cache_->groups));
    }
  }
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    if (auto ok = engine.ReplaceNodes(std::move(all)); !ok) {
      spdlog::error("verb=watch resource=nodes node={} decision=rejected error=\"{}\"", name,
                    ok.error());
    }
    for (const scheduler::Pod& pod : rebind) engine.UpsertPod(pod);
    return std::vector<BarrierDecision>{};
  });
}

void KubeStateSource::ReplacePods(std::vector<std::string> items) {
  std::map<std::string, scheduler::Pod> next;
  for (const std::string& item : items) {
    auto pod = DecodePodJson(item);
    if (!pod) {
      spdlog::warn("verb=list resource=pods decision=skip error=\"{}\"", pod.error());
      continue;
    }
    std::string uid = pod->uid;
    next[uid] = std::move(*pod);
  }
  std::lock_guard lock(cache_->mu);
  std::vector<std::string> gone;
  for (const auto& [uid, pod] : cache_->pods) {
    if (!next.count(uid)) gone.push_back(uid);
  }
  cache_->pods = std::move(next);
  cache_->gang_pods.clear();
  cache_->gang_of.clear();
  for (const auto& [uid, pod] : cache_->pods) cache_->Index(uid, pod);
  std::vector<scheduler::Pod> current;
  current.reserve(cache_->pods.size());
  for (const auto& [uid, pod] : cache_->pods) current.push_back(Enriched(pod, cache_->groups));
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    std::vector<BarrierDecision> decisions;
    for (const std::string& uid : gone) {
      if (auto d = engine.RemovePod(uid)) decisions.push_back(std::move(*d));
    }
    for (const scheduler::Pod& pod : current) engine.UpsertPod(pod);
    return decisions;
  });
  MarkListed(false);
}

void KubeStateSource::PodEvent(const WatchEvent& event) {
  auto pod = DecodePodJson(event.object);
  if (!pod) {
    spdlog::warn("verb=watch resource=pods decision=skip error=\"{}\"", pod.error());
    return;
  }
  std::lock_guard lock(cache_->mu);
  const std::string uid = pod->uid;
  if (event.type == WatchEventType::kDeleted) {
    cache_->pods.erase(uid);
    cache_->Unindex(uid);
    service_.UpdateEngine([&](GangScheduler& engine, Millis) {
      std::vector<BarrierDecision> decisions;
      if (auto d = engine.RemovePod(uid)) decisions.push_back(std::move(*d));
      return decisions;
    });
    return;
  }
  const scheduler::Pod enriched = Enriched(*pod, cache_->groups);
  cache_->Index(uid, *pod);
  cache_->pods[uid] = std::move(*pod);
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    engine.UpsertPod(enriched);
    return std::vector<BarrierDecision>{};
  });
}

void KubeStateSource::ReplaceGroups(const WatchedResource& r, std::vector<std::string> items) {
  std::map<std::string, int> next;
  for (const std::string& item : items) {
    if (auto g = DecodeGroup(r, item)) next[g->key] = g->min_member;
  }
  std::lock_guard lock(cache_->mu);
  std::map<std::string, int>& current = cache_->groups[r.path];
  if (current == next) return;
  current = std::move(next);
  std::vector<scheduler::Pod> members;
  for (const auto& [uid, pod] : cache_->pods) {
    std::string key;
    if (InGroupGang(pod, key)) members.push_back(Enriched(pod, cache_->groups));
  }
  if (members.empty()) return;
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    for (const scheduler::Pod& pod : members) engine.UpsertPod(pod);
    return std::vector<BarrierDecision>{};
  });
}

void KubeStateSource::GroupEvent(const WatchedResource& r, const WatchEvent& event) {
  auto g = DecodeGroup(r, event.object);
  if (!g) return;
  std::lock_guard lock(cache_->mu);
  std::map<std::string, int>& groups = cache_->groups[r.path];
  if (event.type == WatchEventType::kDeleted) {
    if (!groups.erase(g->key)) return;
  } else {
    auto it = groups.find(g->key);
    if (it != groups.end() && it->second == g->min_member) return;
    groups[g->key] = g->min_member;
  }
  std::vector<scheduler::Pod> members;
  for (const auto& [uid, pod] : cache_->pods) {
    std::string key;
    if (InGroupGang(pod, key) && key == g->key) members.push_back(Enriched(pod, cache_->groups));
  }
  if (members.empty()) return;
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    for (const scheduler::Pod& pod : members) engine.UpsertPod(pod);
    return std::vector<BarrierDecision>{};
  });
}

namespace {

// A Kubeflow job object's roster (k8s/jobs.h); nothing (logged) when it cannot be read.
std::optional<scheduler::GangSpec> DecodeJob(const WatchedResource& r, const std::string& json) {
  auto gang = k8s::DecodeKubeflowJobJson(json, r.kind, r.api_version);
  if (!gang) {
    spdlog::warn("verb=watch resource={} decision=skip error=\"{}\"", r.path, gang.error());
    return std::nullopt;
  }
  return std::move(*gang);
}

}  // namespace

void KubeStateSource::ReplaceJobs(const WatchedResource& r, std::vector<std::string> items) {
  std::vector<scheduler::GangSpec> specs;
  for (const std::string& item : items) {
    if (auto spec = DecodeJob(r, item)) specs.push_back(std::move(*spec));
  }
  std::lock_guard lock(cache_->mu);
  std::set<scheduler::GangKey>& declared = cache_->rosters[r.path];
  std::set<scheduler::GangKey> next;
  for (const scheduler::GangSpec& s : specs) next.insert(s.key);
  std::vector<scheduler::GangKey> gone;
  for (const scheduler::GangKey& key : declared) {
    if (!next.count(key)) gone.push_back(key);
  }
  if (specs.empty() && gone.empty()) return;
  declared = std::move(next);
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    for (const scheduler::GangKey& key : gone) engine.RemoveRoster(key);
    for (const scheduler::GangSpec& s : specs) engine.UpsertRoster(s);
    return std::vector<BarrierDecision>{};
  });
}

void KubeStateSource::JobEvent(const WatchedResource& r, const WatchEvent& event) {
  auto spec = DecodeJob(r, event.object);
  if (!spec) return;
  std::lock_guard lock(cache_->mu);
  std::set<scheduler::GangKey>& declared = cache_->rosters[r.path];
  if (event.type == WatchEventType::kDeleted) {
    declared.erase(spec->key);
  } else {
    declared.insert(spec->key);
  }
  service_.UpdateEngine([&](GangScheduler& engine, Millis) {
    if (event.type == WatchEventType::kDeleted) {
      engine.RemoveRoster(spec->key);
    } else {
      engine.UpsertRoster(*spec);
    }
    return std::vector<BarrierDecision>{};
  });
}

}  // namespace gangsched::kube
