// The API-server state source (issue 4, DESIGN.md §3.2, §3.8): list+watch of nodes, pods,
// PodGroups and Kubeflow jobs feeding the engine through the service seam (api/service_seam.h).
// Owns the caches of the watched objects; every placement decision stays in the engine. Objects
// are decoded by k8s/ (one decoder per kind).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/service_seam.h"
#include "kube/kube_client.h"
#include "kube/watch.h"
#include "scheduler/gang.h"

namespace gangsched::kube {

// A member pod of a gang, as the notifier addresses it.
struct MemberRef {
  std::string ns;
  std::string name;
  std::string uid;
  bool bound = false;
  bool parked =
      false;  // PodScheduled=False: kube-scheduler rejected it (only such pods are nudged)
};

// The collections gangsched watches (DESIGN.md §3, §4). Optional ones may be absent (404).
struct WatchedResource {
  const char* path;
  const char* kind;  // "Node", "Pod", "PodGroup", "TFJob", ...
  const char* api_version;
  bool optional;
};
const std::vector<WatchedResource>& WatchedResources();

// Keeps the engine equal to the API server's view: nodes, pods (all namespaces, other schedulers'
// pods count against capacity), PodGroup minMember, Kubeflow job rosters. Ready after the first
// full list of both nodes and pods.
class KubeStateSource {
 public:
  KubeStateSource(KubeClient& client, api::EngineHost& service, WatchTiming timing = {});
  ~KubeStateSource();
  KubeStateSource(const KubeStateSource&) = delete;
  KubeStateSource& operator=(const KubeStateSource&) = delete;

  void Start();
  void Stop();
  // Blocks until the first full sync of nodes and pods, or `timeout`. True when synced.
  bool WaitSynced(std::chrono::milliseconds timeout);
  bool synced() const;

  // Sizes of the caches, for tests and the start-up log.
  std::size_t node_count() const;
  std::size_t pod_count() const;
  const ListWatcher* watcher(const std::string& path) const;
  // The known member pods of a gang (from the pod cache), by name.
  std::vector<MemberRef> Members(const scheduler::GangKey& key) const;

 private:
  struct Cache;
  void ReplaceNodes(std::vector<std::string> items);
  void NodeEvent(const WatchEvent& event);
  void ReplacePods(std::vector<std::string> items);
  void PodEvent(const WatchEvent& event);
  void ReplaceGroups(const WatchedResource& r, std::vector<std::string> items);
  void GroupEvent(const WatchedResource& r, const WatchEvent& event);
  void ReplaceJobs(const WatchedResource& r, std::vector<std::string> items);
  void JobEvent(const WatchedResource& r, const WatchEvent& event);
  void MarkListed(bool nodes);

  KubeClient& client_;
  api::EngineHost& service_;
  WatchTiming timing_;
  std::unique_ptr<Cache> cache_;  // guarded by cache_->mu
  std::vector<std::unique_ptr<ListWatcher>> watchers_;
};

}  // namespace gangsched::kube
