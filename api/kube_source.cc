#include "api/kube_source.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <exception>
#include <utility>

#include "api/jobs.h"
#include "api/wire.h"
#include "scheduler/gang.h"
#include "scheduler/planner.h"

namespace gangsched::api {

using scheduler::BarrierDecision;
using scheduler::GangScheduler;
using scheduler::Millis;

namespace {

constexpr const char* kGangAnnotation = "gangsched.io/gang";
constexpr const char* kMinMembersAnnotation = "gangsched.io/min-members";
constexpr const char* kGpuIdsAnnotation = "gangsched.io/gpu-ids";
constexpr const char* kPlacementAnnotation = "gangsched.io/placement";
constexpr const char* kNudgeAnnotation = "gangsched.io/nudge";
constexpr const char* kReportingController = "gangsched.io/gangsched";

// Runs a handler; an exception is logged, never thrown across the watcher thread.
template <typename Fn>
void Guarded(const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error("verb=watch resource={} decision=handler_failed error=\"{}\"", what, e.what());
  }
}

}  // namespace

tl::expected<StandaloneState, std::string> LoadApiState(const config::Config& config) {
  scheduler::EngineOptions options = EngineOptionsFrom(config);
  options.require_quorum_pods = true;
  auto state = scheduler::ClusterState::Create({}, options.state);
  if (!state) return tl::unexpected(state.error());
  StandaloneState out;
  out.engine = std::make_unique<scheduler::GangScheduler>(std::move(*state), options);
  out.inventory_loaded = false;  // ready after the first list of nodes and pods
  return out;
}

// ---- ListWatcher --------------------------------------------------------------------------------

ListWatcher::ListWatcher(KubeClient& client, std::string path, bool optional, Handlers handlers,
                         WatchTiming timing)
    : client_(client),
      path_(std::move(path)),
      optional_(optional),
      handlers_(std::move(handlers)),
      timing_(timing) {}

ListWatcher::~ListWatcher() { Stop(); }

void ListWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ListWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ListWatcher::Pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stop_; });
}

std::optional<std::pair<std::vector<std::string>, std::string>> ListWatcher::ListAll(
    bool& unserved, std::string& error) {
  std::vector<std::string> items;
  std::string resource_version;
  std::string continue_token;
  int restarts = 0;
  while (true) {
    std::string path = path_ + "?limit=" + std::to_string(timing_.page_size);
    if (!continue_token.empty()) path += "&continue=" + QueryEscape(continue_token);
    const KubeResponse response = client_.Get(path, 60);
    if (response.status == 404) {
      unserved = true;
      error = response.Describe();
      return std::nullopt;
    }
    if (response.status == 410 && !continue_token.empty() && restarts++ < 3) {
      // The continue token expired (about 5 minutes, reference/extender-protocol.md §4.1):
      // list again from the start.
      spdlog::info("verb=list resource={} decision=restart reason=\"continue token expired\"",
                   path_);
      items.clear();
      continue_token.clear();
      continue;
    }
    if (!response.Ok()) {
      error = response.Describe();
      return std::nullopt;
    }
    auto page = DecodeListPage(response.body);
    if (!page) {
      error = "GET " + path + ": " + page.error();
      return std::nullopt;
    }
    if (items.empty()) {
      items = std::move(page->items);
    } else {
      std::move(page->items.begin(), page->items.end(), std::back_inserter(items));
    }
    if (continue_token.empty()) resource_version = page->resource_version;
    continue_token = page->continue_token;
    if (continue_token.empty()) break;
    if (!page->resource_version.empty()) resource_version = page->resource_version;
  }
  ++lists_;
  return std::make_pair(std::move(items), std::move(resource_version));
}

ListWatcher::WatchEnd ListWatcher::WatchFrom(std::string& resource_version, std::string& error) {
  const std::string path =
      path_ + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + QueryEscape(resource_version) +
      "&timeoutSeconds=" + std::to_string(timing_.watch_timeout_seconds);
  ++watches_;
  WatchStreamParser parser;
  bool expired = false;
  std::string stream_error;
  const KubeResponse response =
      client_.Stream(path, timing_.watch_timeout_seconds + 30, [&](std::string_view chunk) {
        {
          std::lock_guard lock(mu_);
          if (stop_) return false;
        }
        auto fed = parser.Feed(chunk, [&](WatchEvent event) {
          if (expired || !stream_error.empty()) return;
          switch (event.type) {
            case WatchEventType::kBookmark:
              if (!event.resource_version.empty()) resource_version = event.resource_version;
              return;
            case WatchEventType::kError:
              if (event.status.code == 410) {
                expired = true;
              } else {
                stream_error = "ERROR event: " + std::to_string(event.status.code) + " " +
                               event.status.reason + ": " + event.status.message;
              }
              return;
            default:
              Guarded(path_, [&] { handlers_.event(event); });
              if (!event.resource_version.empty()) resource_version = event.resource_version;
          }
        });
        if (!fed) stream_error = fed.error();
        return !expired && stream_error.empty();
      });
  if (expired || response.status == 410) return WatchEnd::kExpired;
  if (!stream_error.empty()) {
    error = stream_error;
    return WatchEnd::kFailed;
  }
  if (response.status == 200 && response.error.empty()) return WatchEnd::kClosed;
  error = response.Describe();
  return WatchEnd::kFailed;
}

void ListWatcher::Run() {
  auto backoff = timing_.initial_backoff;
  auto grow = [this, &backoff] { backoff = std::min(backoff * 2, timing_.max_backoff); };
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stop_;
  };
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    bool unserved = false;
    std::string error;
    auto listed = ListAll(unserved, error);
    if (!listed) {
      if (stopping()) return;  // the aborted request is not a failure worth a warning
      if (unserved) {
        if (optional_) {
          spdlog::debug("verb=list resource={} decision=not_served retry_in_ms={}", path_,
                        timing_.unserved_retry.count());
        } else {
          spdlog::warn("verb=list resource={} decision=not_served error=\"{}\"", path_, error);
        }
        if (handlers_.unserved) Guarded(path_, [&] { handlers_.unserved(); });
        if (!Pause(timing_.unserved_retry)) return;
        continue;
      }
      spdlog::warn("verb=list resource={} decision=retry error=\"{}\" retry_in_ms={}", path_, error,
                   backoff.count());
      if (!Pause(backoff)) return;
      grow();
      continue;
    }
    spdlog::info("verb=list resource={} items={} resource_version={}", path_, listed->first.size(),
                 listed->second);
    Guarded(path_, [&] { handlers_.replace(std::move(listed->first)); });
    std::string resource_version = std::move(listed->second);
    backoff = timing_.initial_backoff;
    bool relist = false;
    while (!relist) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      switch (WatchFrom(resource_version, error)) {
        case WatchEnd::kClosed:
          backoff = timing_.initial_backoff;
          break;
        case WatchEnd::kExpired:
          ++expired_;
          spdlog::info("verb=watch resource={} decision=relist reason=\"too old resource version\"",
                       path_);
          relist = true;
          break;
        case WatchEnd::kFailed:
          if (stopping()) return;
          spdlog::warn("verb=watch resource={} decision=retry error=\"{}\" retry_in_ms={}", path_,
                       error, backoff.count());
          if (!Pause(backoff)) return;
          grow();
          // After a failure the stream may have missed events past recovery only through 410;
          // an HTTP error status (403, 404, 5xx) relists, a dropped connection re-watches.
          relist = error.rfind("HTTP ", 0) == 0;
          break;
      }
    }
  }
}

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

// A PodGroup's namespace, name and size: spec.minMember (coscheduling, Volcano) or
// spec.schedulingPolicy.gang.minCount (native scheduling.k8s.io); 0 when absent.
struct GroupInfo {
  std::string key;
  int min_member = 0;
};
std::optional<GroupInfo> DecodeGroup(const std::string& json) {
  thread_local simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return std::nullopt;
  std::string ns;
  std::string name;
  std::int64_t min_member = 0;
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return std::nullopt;
  for (auto field : root) {
    std::string_view key;
    simdjson::ondemand::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return std::nullopt;
    if (key == "metadata") {
      simdjson::ondemand::object meta;
      if (v.get_object().get(meta)) return std::nullopt;
      for (auto m : meta) {
        std::string_view mkey;
        simdjson::ondemand::value mv;
        if (m.unescaped_key().get(mkey) || m.value().get(mv)) return std::nullopt;
        std::string_view s;
        if (mkey == "namespace" && !mv.get_string().get(s)) ns = std::string(s);
        if (mkey == "name" && !mv.get_string().get(s)) name = std::string(s);
      }
    } else if (key == "spec") {
      simdjson::ondemand::object spec;
      if (v.get_object().get(spec)) return std::nullopt;
      for (auto f : spec) {
        std::string_view skey;
        simdjson::ondemand::value sv;
        if (f.unescaped_key().get(skey) || f.value().get(sv)) return std::nullopt;
        std::int64_t n = 0;
        if (skey == "minMember" && !sv.get_int64().get(n)) min_member = n;
        if (skey == "schedulingPolicy" &&
            !sv.find_field_unordered("gang").find_field_unordered("minCount").get_int64().get(n)) {
          min_member = n;
        }
      }
    }
  }
  if (name.empty()) return std::nullopt;
  if (ns.empty()) ns = "default";
  return GroupInfo{GroupKey(ns, name), static_cast<int>(std::max<std::int64_t>(0, min_member))};
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

KubeStateSource::KubeStateSource(KubeClient& client, ExtenderService& service, WatchTiming timing)
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
    if (auto g = DecodeGroup(item)) next[g->key] = g->min_member;
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
  auto g = DecodeGroup(event.object);
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

// A Kubeflow job object's roster (api/jobs.h); nothing (logged) when it cannot be read.
std::optional<scheduler::GangSpec> DecodeJob(const WatchedResource& r, const std::string& json) {
  SourceObject object;
  try {
    object.node = YAML::Load(json);
  } catch (const YAML::Exception& e) {
    spdlog::warn("verb=watch resource={} decision=skip error=\"{}\"", r.path, e.what());
    return std::nullopt;
  }
  object.kind = r.kind;
  object.api_version = r.api_version;
  auto jobs = DecodeJobObjects({object}, r.path);
  if (!jobs) {
    spdlog::warn("verb=watch resource={} decision=skip error=\"{}\"", r.path,
                 jobs.error().ToString());
    return std::nullopt;
  }
  if (jobs->empty()) return std::nullopt;
  return jobs->front().gang;
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

// ---- ApiBinder ----------------------------------------------------------------------------------

std::string EncodeBinding(const BindingRequest& request) {
  std::string out = R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":)";
  AppendJsonString(out, request.pod_name);
  out += R"(,"namespace":)";
  AppendJsonString(out, request.pod_namespace);
  out += R"(,"uid":)";
  AppendJsonString(out, request.pod_uid);
  std::string ids;
  for (int id : request.gpu_ids) {
    if (!ids.empty()) ids += ",";
    ids += std::to_string(id);
  }
  out += R"(,"annotations":{)";
  bool first = true;
  if (!ids.empty()) {
    AppendJsonString(out, kGpuIdsAnnotation);
    out += ":";
    AppendJsonString(out, ids);
    first = false;
  }
  if (!request.placement_summary.empty()) {
    if (!first) out += ",";
    AppendJsonString(out, kPlacementAnnotation);
    out += ":";
    AppendJsonString(out, request.placement_summary);
  }
  out += R"(}},"target":{"apiVersion":"v1","kind":"Node","name":)";
  AppendJsonString(out, request.node);
  out += "}}";
  return out;
}

std::string ApiBinder::BindOne(const BindingRequest& r) {
  const std::string pod_path = "/api/v1/namespaces/" + r.pod_namespace + "/pods/" + r.pod_name;
  const KubeResponse response = client_.Post(pod_path + "/binding", EncodeBinding(r));
  if (response.Ok()) return {};
  if (response.status == 409) {
    // Already bound (a retried bind, or a Binding that succeeded before a lost reply): success
    // when the pod with this UID is on this node (reference/extender-protocol.md §4.2).
    const KubeResponse pod = client_.Get(pod_path, 30);
    if (pod.Ok()) {
      if (auto p = DecodePodJson(pod.body); p && p->uid == r.pod_uid && p->node_name == r.node) {
        return {};
      }
    }
  }
  return "binding pod " + r.pod_namespace + "/" + r.pod_name + " to node " + r.node + ": " +
         response.Describe();
}

std::vector<std::string> ApiBinder::BindAll(const std::vector<BindingRequest>& requests) {
  std::vector<std::string> errors(requests.size());
  if (requests.empty()) return errors;
  // In parallel, bounded: a 1,000-pod gang does not open 1,000 connections at once.
  const std::size_t workers = std::min<std::size_t>(requests.size(), 64);
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < requests.size(); i = next++) {
        try {
          errors[i] = BindOne(requests[i]);
        } catch (const std::exception& e) {
          errors[i] = "binding pod " + requests[i].pod_namespace + "/" + requests[i].pod_name +
                      ": " + e.what();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return errors;
}

// ---- GangNotifier -------------------------------------------------------------------------------

std::string MicroTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros % 1'000'000));
  return out;
}

struct GangNotifier::GangView {
  scheduler::GangKey key;
  scheduler::GangPhase phase = scheduler::GangPhase::kWaiting;
  std::string reason;
  int quorum = 0;
  int members_seen = 0;
  std::vector<std::string> arrived_uids;  // members in the barrier (or bound)
  bool size_known = true;
  std::string summary;
};

GangNotifier::GangNotifier(KubeClient& client, ExtenderService& service, MembersFn members,
                           Options options)
    : client_(client),
      service_(service),
      members_(std::move(members)),
      options_(std::move(options)) {
  if (options_.instance.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    options_.instance = host[0] != '\0' ? host : "gangsched";
  }
}

GangNotifier::~GangNotifier() { Stop(); }

void GangNotifier::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void GangNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GangNotifier::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.period, [this] { return stop_; })) {
    lock.unlock();
    try {
      RunOnce(std::chrono::system_clock::now());
    } catch (const std::exception& e) {
      spdlog::error("verb=notify decision=failed error=\"{}\"", e.what());
    }
    lock.lock();
  }
}

void GangNotifier::RunOnce(std::chrono::system_clock::time_point now) {
  std::vector<GangView> gangs;
  std::int64_t free_gpus = 0;
  service_.UpdateEngine([&](GangScheduler& engine, Millis t) {
    for (const scheduler::GangStatus& g : engine.Gangs(t)) {
      GangView v;
      v.key = g.key;
      v.phase = g.phase;
      v.reason = g.reason;
      v.quorum = g.quorum;
      v.members_seen = g.members_seen;
      v.arrived_uids = g.arrived_uids;
      v.size_known = g.size_known;
      if (g.plan) {
        v.summary = scheduler::DescribePlan(*g.plan, engine.state().topology().level_names());
      }
      gangs.push_back(std::move(v));
    }
    free_gpus = engine.state().FreeGpus();
    return std::vector<BarrierDecision>{};
  });
  const bool first = last_free_gpus_ < 0;
  // Capacity was freed since the last look: a waiting gang may now fit (DESIGN.md §3.7). The
  // engine decides when kube-scheduler retries; the nudge only requeues the parked members.
  const bool freed = !first && free_gpus > last_free_gpus_;
  last_free_gpus_ = free_gpus;
  auto due = [now](std::map<std::string, std::chrono::system_clock::time_point>& last,
                   const std::string& key, std::chrono::milliseconds interval) {
    auto it = last.find(key);
    if (it != last.end() && now - it->second < interval) return false;
    last[key] = now;
    return true;
  };
  for (const GangView& g : gangs) {
    const std::string gang = g.key.ToString();
    if (g.phase != scheduler::GangPhase::kWaiting) owed_nudge_.erase(gang);  // it was planned
    if (g.phase == scheduler::GangPhase::kBound) {
      // Gangs found bound at start-up were placed before this process: no Event for them; nor
      // for gangs of one pod (kube-scheduler's own Scheduled event says it all).
      if (placed_.insert(gang).second && !first && g.quorum > 1) {
        const std::vector<MemberRef> members = members_(g.key);
        if (!members.empty()) {
          const std::string note =
              "gang " + gang + " placed whole: " + (g.summary.empty() ? "bound" : g.summary);
          PostEvent(members.front().ns, members.front().name, members.front().uid, "GangPlaced",
                    false, note, now);
        }
      }
      continue;
    }
    placed_.erase(gang);  // waits again (a member was replaced): placed again later
    const bool had_quorum = seen_quorum_.count(gang) > 0;
    const bool has_quorum = g.size_known && g.members_seen >= g.quorum;
    if (has_quorum) {
      seen_quorum_.insert(gang);
    } else {
      seen_quorum_.erase(gang);
      owed_nudge_.erase(gang);
    }
    std::vector<MemberRef> pending = members_(g.key);
    pending.erase(
        std::remove_if(pending.begin(), pending.end(), [](const MemberRef& m) { return m.bound; }),
        pending.end());
    if (pending.empty()) continue;
    if (g.phase == scheduler::GangPhase::kPlanned) {
      // The gang holds its capacity; members that were rejected before it was planned (too few
      // pods, no room) sit in kube-scheduler's unschedulable queue. Requeue those that have not
      // reached bind so the barrier fills now rather than at the 5-minute flush.
      pending.erase(std::remove_if(pending.begin(), pending.end(),
                                   [&g](const MemberRef& m) {
                                     return !m.parked ||
                                            std::binary_search(g.arrived_uids.begin(),
                                                               g.arrived_uids.end(), m.uid);
                                   }),
                    pending.end());
      if (!pending.empty() && due(last_nudge_, gang, options_.nudge_interval)) {
        Nudge(gang, pending, "gang planned", now);
      }
      continue;
    }
    if (g.phase != scheduler::GangPhase::kWaiting || g.reason.empty()) continue;
    if (due(last_event_, gang + "|GangWaiting", options_.event_interval)) {
      PostEvent(pending.front().ns, pending.front().name, pending.front().uid, "GangWaiting", true,
                "gang " + gang + " waits: " + g.reason, now);
    }
    // Capacity was freed, or the gang's last pods appeared after its members were rejected for
    // want of pods: the gang may be plannable now.
    // Only pods kube-scheduler has parked (PodScheduled=False) need the nudge; the others are
    // still in its active queue and an update would only churn it.
    // The nudge is owed until it reaches a parked pod: kube-scheduler marks a rejected pod
    // PodScheduled=False a moment after rejecting it, possibly after this look.
    const bool quorum_reached = has_quorum && !had_quorum && !first;
    if (has_quorum && (freed || quorum_reached)) {
      owed_nudge_[gang] = freed ? "capacity freed" : "quorum of pods reached";
    }
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [](const MemberRef& m) { return !m.parked; }),
                  pending.end());
    auto owed = owed_nudge_.find(gang);
    if (owed != owed_nudge_.end() && !pending.empty() &&
        due(last_nudge_, gang, options_.nudge_interval)) {
      Nudge(gang, pending, owed->second.c_str(), now);
      owed_nudge_.erase(owed);
    }
  }
  // Forget gangs that are gone.
  for (auto it = seen_quorum_.begin(); it != seen_quorum_.end();) {
    const bool known = std::any_of(gangs.begin(), gangs.end(),
                                   [&it](const GangView& g) { return g.key.ToString() == *it; });
    it = known ? std::next(it) : seen_quorum_.erase(it);
  }
  for (auto it = owed_nudge_.begin(); it != owed_nudge_.end();) {
    it = seen_quorum_.count(it->first) > 0 ? std::next(it) : owed_nudge_.erase(it);
  }
}

void GangNotifier::Nudge(const std::string& gang, const std::vector<MemberRef>& pods,
                         const char* why, std::chrono::system_clock::time_point now) {
  std::string patch = R"({"metadata":{"annotations":{")";
  patch += kNudgeAnnotation;
  patch += R"(":)";
  AppendJsonString(patch, MicroTime(now));
  patch += "}}}";
  for (const MemberRef& m : pods) {
    const KubeResponse r =
        client_.MergePatch("/api/v1/namespaces/" + m.ns + "/pods/" + m.name, patch);
    if (r.Ok()) {
      ++nudges_;
    } else {
      spdlog::warn("verb=nudge pod={}/{} gang={} decision=failed error=\"{}\"", m.ns, m.name, gang,
                   r.Describe());
    }
  }
  spdlog::info("verb=nudge gang={} pods={} reason=\"{}\"", gang, pods.size(), why);
}

void GangNotifier::PostEvent(const std::string& ns, const std::string& pod,
                             const std::string& pod_uid, const std::string& reason, bool warning,
                             const std::string& note, std::chrono::system_clock::time_point now) {
  // events.k8s.io/v1 (reference/extender-protocol.md §4.5): eventTime, reportingController,
  // reportingInstance, action, reason, type required; note <= 1024 bytes; deprecated fields unset.
  std::string body = R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{)";
  body += R"("generateName":)";
  AppendJsonString(body, pod + ".gangsched-");
  body += R"(,"namespace":)";
  AppendJsonString(body, ns);
  body += R"(},"eventTime":)";
  AppendJsonString(body, MicroTime(now));
  body += R"(,"reportingController":)";
  AppendJsonString(body, kReportingController);
  body += R"(,"reportingInstance":)";
  AppendJsonString(body, options_.instance.substr(0, 128));
  body += R"(,"action":"Scheduling","reason":)";
  AppendJsonString(body, reason);
  body += R"(,"type":)";
  AppendJsonString(body, warning ? "Warning" : "Normal");
  body += R"(,"note":)";
  std::string trimmed = note.substr(0, 1024);
  while (!trimmed.empty() && (static_cast<unsigned char>(trimmed.back()) & 0xC0) == 0x80 &&
         trimmed.size() == 1024) {
    trimmed.pop_back();  // do not cut a UTF-8 sequence in half
  }
  AppendJsonString(body, trimmed);
  body += R"(,"regarding":{"apiVersion":"v1","kind":"Pod","namespace":)";
  AppendJsonString(body, ns);
  body += R"(,"name":)";
  AppendJsonString(body, pod);
  body += R"(,"uid":)";
  AppendJsonString(body, pod_uid);
  body += "}}";
  const KubeResponse r = client_.Post("/apis/events.k8s.io/v1/namespaces/" + ns + "/events", body);
  if (!r.Ok()) {
    spdlog::warn("verb=event pod={}/{} reason={} decision=failed error=\"{}\"", ns, pod, reason,
                 r.Describe());
    return;
  }
  ++events_;
}

}  // namespace gangsched::api
