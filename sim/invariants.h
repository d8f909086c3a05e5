// The properties the kube-scheduler model checks after every event (issue 11 item 4, DESIGN.md
// §8), computed from the API's truth (which pod is bound where), never from the engine's own
// bookkeeping:
//  - no node over-committed: the bound pods' requests fit its allocatable, in every resource;
//  - no gang partly bound for longer than the binding window;
//  - a pod is bound only to the node the engine's filter narrowed it to, which is also the node
//    kube-scheduler assumed it on and sent in its bind request;
//  - liveness: a job whose pods all exist and whose unbound pods fit the free capacity
//    (allocatable minus bound pods; other gangs' holds do not count, they are the engine's to give
//    back) is bound within the liveness bound after it started to fit (see kLivenessBound);
//  - no hold outlives its deadline plus one tick, read through the engine's views (CheckHolds),
//    and a hold's deadline moves only on its gang's progress (HoldMoved, DESIGN.md §3.4).
// Faults (sim/faults.h) disturb a job: its partial binding and liveness clocks start again from
// the fault, with the windows below. While a node is away (deleted or cordoned) the capacity a
// partly bound gang needs may be away with it: partial binding is judged again from its return.
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

namespace gangsched::scheduler {
class GangScheduler;
}  // namespace gangsched::scheduler

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

// A partly bound gang whose Binding failed (or whose member was deleted, or whose schedulers
// restarted) completes through kube-scheduler's retry of the failed member: its backoff (at most
// 10 s, reference/extender-protocol.md §3.2), the backoffQ flush (1 s), a replacement's creation
// by the operator (1 s) and slack for the queue ahead of it (3 s).
inline constexpr Millis kRetryWindow = 15'000;

// The engine's timer runs Tick at the earliest hold deadline (api/extender_service.cc TimerLoop);
// the model does the same on its millisecond clock, so one tick is one millisecond.
inline constexpr Millis kHoldTick = 1;

// What a violation broke; the first four and the holds are safety, the last is liveness.
enum class Invariant : std::uint8_t {
  kOverCommit,        // a node's bound pods exceed its allocatable
  kPartlyBound,       // a gang partly bound past the binding (or retry) window
  kUnplannedNode,     // a pod bound to a node the engine's filter did not narrow it to
  kHoldPastDeadline,  // a hold still there more than one tick after its deadline
  kHoldExtended,      // a hold's deadline moved by a filter that rejected its member
  kLiveness,          // a job that fits not bound within the liveness bound
};
const char* InvariantName(Invariant invariant);
bool IsSafety(Invariant invariant);

struct InvariantOptions {
  bool liveness = true;
  // Whether gangs must bind whole (the engine's promise); off for the per-pod baselines, which
  // bind part of a gang by design (sim/kube_profile.h).
  bool whole_gangs = true;
  // DESIGN.md §3.4's "a rejected member's filter is not progress": off only where a known engine
  // bug (issue 11 item 6) is excluded on purpose.
  bool hold_progress = true;
  Millis binding_window = kBindingWindow;
  Millis retry_window = kRetryWindow;
  Millis liveness_bound = kLivenessBound;
};

class InvariantChecker {
 public:
  InvariantChecker(std::vector<scheduler::Node> nodes, InvariantOptions options);

  // A job `id` of `pods` pods, all needed (quorum = every pod).
  void AddJob(int job, std::string id, int pods);
  // Pod `pod` of `job` exists (a new pod or an operator's replacement of a deleted one).
  void PodCreated(int pod, int job, const scheduler::Pod& spec, Millis now);
  // The API accepted a Binding of `pod` to `node`. `engine_nodes` are the nodes the engine's last
  // filter answered for it and `assumed` the node kube-scheduler assumed it on ("" when it held no
  // bind), both when the Binding was posted.
  void BindingPosted(int pod, const std::string& node, const std::vector<std::string>& engine_nodes,
                     const std::string& assumed, Millis now);
  // The pod is gone (finished, or deleted by a fault).
  void PodDeleted(int pod, Millis now);
  // A node left or came back, or was cordoned or uncordoned: `usable` when pods may go on it.
  void NodeChanged(int node, bool usable, Millis now);
  // A fault touched the job (-1: every job): a partly bound gang then has the retry window from
  // the fault to complete, and its liveness clock starts again.
  void Disturbed(int job, Millis now);
  // The engine's holds after an event: none may be more than kHoldTick past its deadline.
  void CheckHolds(const scheduler::GangScheduler& engine, Millis now);
  // A filter call of a member of `gang` moved its hold's deadline from `before` to `after`;
  // `progress` when it narrowed the member.
  void HoldMoved(const std::string& gang, std::optional<Millis> before, std::optional<Millis> after,
                 bool progress, Millis now);

  // The first property broken so far, checked at `now` (plain words, naming pod, node, gang).
  std::optional<std::string> Check(Millis now);
  // Which property that first violation broke.
  std::optional<Invariant> broken() const { return broken_; }

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
    std::optional<Millis> disturbed_at;  // the last fault that touched it
    std::optional<Millis> fit_since;     // fits the free capacity without a break since
    std::vector<int> witness;            // nodes of one packing that shows it fits
  };
  // Whether the job's unbound pods fit the free capacity (first fit, largest pods first: a packing
  // found proves it fits; one not found may be a miss of the heuristic, which only makes the check
  // weaker). Fills `witness`.
  bool Fits(const JobInfo& job, std::vector<int>& witness) const;
  void Refit(int job, Millis now);
  void CapacityTaken(int node, Millis now);
  void CapacityFreed(Millis now);
  void Fail(Invariant invariant, std::string what);

  std::vector<scheduler::Node> nodes_;
  std::unordered_map<std::string, int> node_index_;
  InvariantOptions options_;
  std::vector<scheduler::Resources> bound_;  // per node, by bound pods
  std::vector<bool> usable_;                 // per node: present and not cordoned
  int nodes_away_ = 0;                       // nodes deleted or cordoned now
  std::map<int, PodInfo> pods_;
  std::map<int, JobInfo> jobs_;
  std::set<int> waiting_;       // jobs with every pod created, not bound whole
  std::set<int> partly_bound_;  // jobs with partly_bound_since set
  std::optional<std::string> violation_;
  std::optional<Invariant> broken_;
};

}  // namespace gangsched::sim
