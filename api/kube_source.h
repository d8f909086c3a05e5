// The API-server state source (issue 4, DESIGN.md §3.2, §3.7–§3.8, reference/extender-protocol.md
// §4): list+watch of nodes, pods, PodGroups and Kubeflow jobs feeding the engine through the
// service's lock; the Binder that posts Bindings; gang Events and nudges. Owns threads (one per
// watched resource plus one notifier), caches of the watched objects and the relist/backoff logic;
// every placement decision stays in the engine. No exception crosses a thread boundary.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/kube_client.h"
#include "api/server.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

// Retry timing of list/watch (exponential backoff, capped).
struct WatchTiming {
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds unserved_retry{60'000};  // a 404 resource is looked for again after
  int watch_timeout_seconds = 300;                   // timeoutSeconds of each watch request
  int page_size = 500;                               // limit= of each list page
};

// One watched resource: list (paged) then watch from the list's resourceVersion, relisting on
// "too old resource version" (HTTP 410 or an ERROR event with code 410), reconnecting with backoff.
class ListWatcher {
 public:
  struct Handlers {
    // A full list: every item's JSON. Replaces what the previous list and events said.
    std::function<void(std::vector<std::string> items)> replace;
    // One ADDED / MODIFIED / DELETED event.
    std::function<void(const WatchEvent& event)> event;
    // The resource is not served (404): whatever an earlier list said is gone.
    std::function<void()> unserved;
  };
  // `path`: the collection, e.g. "/api/v1/pods". `optional`: a 404 is normal (a CRD that is not
  // installed) and is logged at debug level.
  ListWatcher(KubeClient& client, std::string path, bool optional, Handlers handlers,
              WatchTiming timing = {});
  ~ListWatcher();
  ListWatcher(const ListWatcher&) = delete;
  ListWatcher& operator=(const ListWatcher&) = delete;

  void Start();
  void Stop();

  // Counters for tests and logs.
  int lists() const { return lists_; }
  int watches() const { return watches_; }
  int relists_for_expired() const { return expired_; }
  const std::string& path() const { return path_; }

 private:
  enum class WatchEnd : std::uint8_t { kClosed, kExpired, kFailed };
  void Run();
  // Lists every page. 404 -> nullopt with `unserved`; 410 (continue token expired) restarts.
  std::optional<std::pair<std::vector<std::string>, std::string>> ListAll(bool& unserved,
                                                                          std::string& error);
  WatchEnd WatchFrom(std::string& resource_version, std::string& error);
  // Waits `delay` or until Stop(); false when stopping.
  bool Pause(std::chrono::milliseconds delay);

  KubeClient& client_;
  std::string path_;
  bool optional_;
  Handlers handlers_;
  WatchTiming timing_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int> lists_{0};
  std::atomic<int> watches_{0};
  std::atomic<int> expired_{0};
  std::thread thread_;
};

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
  KubeStateSource(KubeClient& client, ExtenderService& service, WatchTiming timing = {});
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
  ExtenderService& service_;
  WatchTiming timing_;
  std::unique_ptr<Cache> cache_;  // guarded by cache_->mu
  std::vector<std::unique_ptr<ListWatcher>> watchers_;
};

// Posts Bindings (reference/extender-protocol.md §4.2): all of a gang's in parallel, each with the
// pod's UID as precondition and gangsched's annotations; a 409 because the pod is already on that
// node counts as bound.
class ApiBinder final : public Binder {
 public:
  explicit ApiBinder(KubeClient& client) : client_(client) {}
  std::vector<std::string> BindAll(const std::vector<BindingRequest>& requests) override;

 private:
  std::string BindOne(const BindingRequest& request);
  KubeClient& client_;
};

// The Binding body for one request (the annotations gangsched.io/gpu-ids and
// gangsched.io/placement, metadata.uid as precondition).
std::string EncodeBinding(const BindingRequest& request);

// Tells users and kube-scheduler about waiting gangs (DESIGN.md §3.3, §3.7): a Warning Event
// GangWaiting with the gang-level reason, a Normal Event GangPlaced with the placement once bound,
// and a nudge (merge patch of gangsched.io/nudge) on the pending members of a waiting gang when
// capacity was freed, so parked pods are requeued before kube-scheduler's 5-minute flush. Each is
// rate-limited per gang.
class GangNotifier {
 public:
  struct Options {
    std::chrono::milliseconds period{1'000};           // how often gangs are looked at
    std::chrono::milliseconds event_interval{30'000};  // per gang and reason
    std::chrono::milliseconds nudge_interval{10'000};  // per gang
    std::string instance;                              // reportingInstance (host name)
  };
  using MembersFn = std::function<std::vector<MemberRef>(const scheduler::GangKey&)>;
  GangNotifier(KubeClient& client, ExtenderService& service, MembersFn members, Options options);
  ~GangNotifier();
  GangNotifier(const GangNotifier&) = delete;
  GangNotifier& operator=(const GangNotifier&) = delete;
  void Start();
  void Stop();
  // One pass now (tests): looks at every gang, posts what is due. `now` is wall-clock time.
  void RunOnce(std::chrono::system_clock::time_point now);

  int events_posted() const { return events_; }
  int nudges_posted() const { return nudges_; }

 private:
  struct GangView;
  void Loop();
  void PostEvent(const std::string& ns, const std::string& pod, const std::string& pod_uid,
                 const std::string& reason, bool warning, const std::string& note,
                 std::chrono::system_clock::time_point now);
  // Patches gangsched.io/nudge on each pod so kube-scheduler requeues it.
  void Nudge(const std::string& gang, const std::vector<MemberRef>& pods, const char* why,
             std::chrono::system_clock::time_point now);

  KubeClient& client_;
  ExtenderService& service_;
  MembersFn members_;
  Options options_;
  std::map<std::string, std::chrono::system_clock::time_point> last_event_;  // gang|reason
  std::map<std::string, std::chrono::system_clock::time_point> last_nudge_;  // gang
  std::set<std::string> placed_;       // gangs whose GangPlaced was posted
  std::set<std::string> seen_quorum_;  // gangs that had a quorum of pods at the last look
  // Waiting gangs owed a nudge (capacity freed, quorum reached) until one reaches a parked pod.
  std::map<std::string, std::string> owed_nudge_;
  std::int64_t last_free_gpus_ = -1;
  std::atomic<int> events_{0};
  std::atomic<int> nudges_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The engine for the API state source: no nodes yet (the first list fills them), and a gang is
// planned only once a quorum of its pods exists (EngineOptions.require_quorum_pods, DESIGN.md
// §3.2).
tl::expected<StandaloneState, std::string> LoadApiState(const config::Config& config);

// MicroTime "2006-01-02T15:04:05.000000Z" of a wall-clock time.
std::string MicroTime(std::chrono::system_clock::time_point t);

}  // namespace gangsched::api
