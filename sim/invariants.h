// The properties the kube-scheduler model checks after every event (issue 11 item 4, DESIGN.md
// §8), computed from the API's truth (which pod is bound where), never from the engine's own
// bookkeeping:
//  - no node over-committed: the bound pods' requests fit its allocatable, in every resource;
//  - no gang partly bound for longer than the binding window;
//  - a pod is bound only to the node the engine's filter narrowed it to, which is also the node
//    kube-scheduler assumed it on and sent in its bind request;
//  - liveness: a job whose pods all exist and whose unbound pods fit the free capacity
//    (allocatable minus bound pods; other gangs' holds do not count, they are the engine's to give
//    back) is bound within the liveness bound after it started to fit (see kLivenessBound).
// Owns that bookkeeping only; the model (sim/kube_scheduler_model.h) reports what happens.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/holds.h"
#include "scheduler/model.h"

namespace gangsched::sim {

using scheduler::Millis;

// Released gangs' Bindings are posted together and answered within the model's API latency, and
// the watch reports them within its latency: 2 s covers both many times over.
inline constexpr Millis kBindingWindow = 2'000;

// How long a gang that fits may wait, counted from when its last pod exists and it fits the free
// capacity without a break. Without nudges (kube/'s notifier, not modelled yet) kube-scheduler
// retries a parked member only on a cluster event or when unschedulablePods is flushed: 5 minutes
// in the pool, checked every 30 s (reference/extender-protocol.md §6.2), then at most 10 s of
// backoff (§3.2). Freed capacity and expired holds send no event, so the first plan may find some
// members parked, its hold (60 s by default) expire, the held binds fail (which does requeue every
// parked pod, as a failed binding cycle does) and the gang back off; the second round then starts
// with every member in the queue. Two flush rounds (2 x 330 s), one pod backoff (10 s), one hold
// TTL (60 s) and slack for cycles, binding and watch latencies (20 s): 750 s. A gang that misses it
// is not slow but stuck (the livelock never binds at all).
inline constexpr Millis kLivenessBound = 750'000;

struct InvariantOptions {
  bool liveness = true;
  Millis binding_window = kBindingWindow;
  Millis liveness_bound = kLivenessBound;
};

class InvariantChecker {
 public:
  InvariantChecker(std::vector<scheduler::Node> nodes, InvariantOptions options);

  // A job `id` of `pods` pods, all needed (quorum = every pod).
  void AddJob(int job, std::string id, int pods);
  // Pod `pod` of `job` exists; `last` when it is the job's last pod to be created.
  void PodCreated(int pod, int job, const scheduler::Pod& spec, bool last, Millis now);
  // A Binding of `pod` to `node` was posted. `engine_nodes` are the nodes the engine's last filter
  // answered for it, `assumed` the node kube-scheduler assumed it on ("" when it holds no bind).
  void BindingPosted(int pod, const std::string& node, const std::vector<std::string>& engine_nodes,
                     const std::string& assumed, Millis now);
  // The pod is gone (finished and deleted).
  void PodDeleted(int pod, Millis now);

  // The first property broken so far, checked at `now` (plain words, naming pod, node, gang).
  std::optional<std::string> Check(Millis now);

 private:
  struct PodInfo {
    int job = 0;
    scheduler::Pod spec;
    int node = -1;  // bound node
  };
  struct JobInfo {
    std::string id;
    int pods = 0;
    int created = 0;
    int bound = 0;
    bool complete = false;  // bound whole once (its pods may have finished since)
    std::vector<int> members;
    std::optional<Millis> all_created;
    std::optional<Millis> partly_bound_since;
    std::optional<Millis> fit_since;  // fits the free capacity without a break since
    std::vector<int> witness;         // nodes of one packing that shows it fits
  };
  // Whether the job's unbound pods fit the free capacity (first fit, largest pods first: a packing
  // found proves it fits; one not found may be a miss of the heuristic, which only makes the check
  // weaker). Fills `witness`.
  bool Fits(const JobInfo& job, std::vector<int>& witness) const;
  void Refit(int job, Millis now);
  void CapacityTaken(int node, Millis now);
  void CapacityFreed(Millis now);
  void Fail(std::string what);

  std::vector<scheduler::Node> nodes_;
  std::unordered_map<std::string, int> node_index_;
  InvariantOptions options_;
  std::vector<scheduler::Resources> bound_;  // per node, by bound pods
  std::map<int, PodInfo> pods_;
  std::map<int, JobInfo> jobs_;
  std::set<int> waiting_;  // jobs with every pod created, not bound whole
  std::optional<std::string> violation_;
};

}  // namespace gangsched::sim
