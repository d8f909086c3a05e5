// A deterministic model of kube-scheduler driving the real engine (issue 11 item 1, DESIGN.md §8):
// a virtual clock, one event at a time, no threads. kube-scheduler's queue (activeQ, backoffQ,
// unschedulablePods), its scheduling cycle (its own predicates, then the extender's filter with the
// surviving node names, then prioritize when more than one node is left, then assume), and its
// asynchronous binding cycle (the extender's bind, held by the engine's barrier until its decision)
// behave as reference/extender-protocol.md describes them; each step cites the section it follows.
// The API server is a map of pods: a posted Binding sets a pod's node, and the watch reports it
// to both kube-scheduler's cache and the engine (UpsertPod, as kube/state_source.cc does).
// Owns the queue, the scheduler's cache, the API's pods and the event timeline; the engine owns
// every placement decision. Invariants (sim/invariants.h) are checked after every event.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "scheduler/gang_scheduler.h"
#include "sim/invariants.h"
#include "sim/workload.h"

namespace gangsched::sim {

// Where gangsched learns about pods (DESIGN.md §2 `serve`).
enum class StateSource : std::uint8_t {
  // The API server's list+watch: every pod is given to the engine when it is created and when it
  // is bound (UpsertPod), and a gang is planned once a quorum of its pods exists.
  kApi,
  // Standalone (`serve --cluster`): pods are known only from the verbs' requests and Bindings are
  // recorded by the engine itself. The model still removes finished pods from the engine, which
  // standalone serve cannot learn about.
  kStandalone,
};

struct KubeModelOptions {
  std::uint64_t seed = 1;  // the tie-break between equally scored nodes
  StateSource source = StateSource::kApi;
  // The engine's options; require_quorum_pods follows `source`.
  scheduler::EngineOptions engine;
  // kube-scheduler's queue: podInitialBackoffSeconds, podMaxBackoffSeconds
  // (reference/extender-protocol.md §3.2); podMaxInUnschedulablePodsDuration (§6.2) and the
  // periods of the loops that move pods out of backoffQ (1 s) and unschedulablePods (30 s).
  Millis initial_backoff = 1'000;
  Millis max_backoff = 10'000;
  Millis max_in_unschedulable = 300'000;
  Millis backoff_flush_period = 1'000;
  Millis unschedulable_flush_period = 30'000;
  // percentageOfNodesToScore: 100 in the shipped configuration (DESIGN.md §3.5); 0 is
  // kube-scheduler's adaptive default (§2.3).
  int percentage_of_nodes_to_score = 100;
  // Virtual durations: one scheduling cycle (filter call included); from the end of a cycle to
  // the bind request reaching the extender; from posting Bindings to the API's answer; from a
  // change in the API to the informers (kube-scheduler's and the engine's) seeing it.
  Millis cycle = 2;
  Millis bind_call = 1;
  Millis binding_post = 5;
  Millis watch = 10;
  InvariantOptions invariants;
  // When set, one line per event and per engine answer (for a failing seed's story).
  std::function<void(Millis, const std::string&)> trace;
};

// What became of one pod.
struct PodOutcome {
  std::string name;
  std::string role;
  std::string node;  // "" while not bound
  Millis created = -1;
  Millis bound = -1;        // when the watch reported it bound
  int attempts = 0;         // scheduling cycles it went through
  std::string last_reason;  // the last filter rejection
};

struct JobOutcome {
  std::string id;
  Millis last_created = -1;  // -1 until every pod exists
  Millis bound = -1;         // every pod bound (watch), -1 if not
  Millis finished = -1;
  std::vector<PodOutcome> pods;
};

struct ModelStats {
  std::int64_t events = 0;
  std::int64_t cycles = 0;
  std::int64_t filter_calls = 0;  // cycles in which the extender was asked
  std::int64_t narrowed = 0;
  std::int64_t rejected = 0;    // by the extender
  std::int64_t no_fit = 0;      // by kube-scheduler's own predicates (extender not asked)
  std::int64_t preempt_on = 0;  // victim plans answered (preemption is not modelled yet)
  std::int64_t prioritize_calls = 0;
  std::int64_t bind_calls = 0;
  std::int64_t binds_held = 0;     // answered kWait by the barrier
  std::int64_t bind_errors = 0;    // held or immediate binds answered with an error
  std::int64_t bind_timeouts = 0;  // the bind extender's httpTimeout passed first
  std::int64_t bindings = 0;
  std::int64_t queue_moves = 0;  // cluster events that moved unschedulablePods
  std::int64_t flushed = 0;      // pods flushed after max_in_unschedulable
  std::int64_t ticks = 0;
};

struct RunResult {
  std::optional<std::string> violation;  // names the seed, the event index and what broke
  Millis end_time = 0;
  bool drained = false;  // no event left: every job ran and finished
};

class KubeSchedulerModel {
 public:
  // Builds the engine over `nodes` and schedules the jobs' arrivals. Fails when the inventory is
  // bad (duplicate names, bad GPU matrices).
  static tl::expected<std::unique_ptr<KubeSchedulerModel>, std::string> Create(
      std::vector<scheduler::Node> nodes, std::vector<WorkloadJob> jobs,
      KubeModelOptions options = {});

  // Runs events until none is left, the next one is after `until`, `max_events` ran in this call,
  // or an invariant broke.
  RunResult Run(Millis until, std::int64_t max_events = std::numeric_limits<std::int64_t>::max());
  // Runs until `done()` holds after an event (or as Run stops).
  RunResult RunUntil(const std::function<bool()>& done, Millis until,
                     std::int64_t max_events = std::numeric_limits<std::int64_t>::max());

  std::vector<JobOutcome> Jobs() const;
  const ModelStats& stats() const { return stats_; }
  Millis now() const { return now_; }
  const scheduler::GangScheduler& engine() const { return *engine_; }

 private:
  KubeSchedulerModel(std::vector<scheduler::Node> nodes, std::vector<WorkloadJob> jobs,
                     KubeModelOptions options, std::unique_ptr<scheduler::GangScheduler> engine);

  enum class EventKind : std::uint8_t {
    kCreatePod,     // the operator creates a pod
    kCycle,         // kube-scheduler pops activeQ
    kBackoffDone,   // the backoffQ flush finds the pod's backoff over
    kFlush,         // the unschedulablePods flush finds the pod parked too long
    kBindCall,      // the binding cycle's bind request reaches the extender
    kBindTimeout,   // the bind extender's httpTimeout
    kBindingsDone,  // the API answered a batch of posted Bindings
    kWatchBound,    // the watch reports a pod bound
    kJobFinish,     // a job's pods finish and are deleted
    kTick,          // the engine's timer (NextDeadline)
  };
  struct Event {
    Millis time = 0;
    std::uint64_t seq = 0;  // FIFO among events at the same time
    EventKind kind = EventKind::kCycle;
    int subject = -1;       // pod, job or batch, by kind
    std::uint64_t gen = 0;  // the pod's queue or bind generation it was scheduled for
    bool operator>(const Event& o) const { return std::tie(time, seq) > std::tie(o.time, o.seq); }
  };
  enum class Where : std::uint8_t {
    kNotCreated,
    kActive,
    kBackoff,
    kUnschedulable,
    kBinding,  // assumed; its binding cycle runs
    kBound,
    kDeleted,
  };
  struct PodRecord {
    scheduler::Pod pod;  // as the API has it
    int job = 0;
    std::string role;
    Where where = Where::kNotCreated;
    std::uint64_t queue_gen = 0;  // bumped on every queue move: stale events are dropped
    std::uint64_t bind_gen = 0;   // bumped when a binding cycle ends
    Millis created = -1;
    Millis queue_ts = 0;  // activeQ order: when it was created or last failed
    Millis backoff_until = 0;
    int attempts = 0;
    int cache_node = -1;        // node kube-scheduler's cache counts it on (assumed or bound)
    bool bind_pending = false;  // its bind request waits for the extender's answer
    std::vector<std::string> engine_nodes;  // the engine's last filter answer
    Millis bound_at = -1;
    std::string last_reason;
  };
  struct JobRecord {
    WorkloadJob spec;
    std::vector<int> pods;
    int created = 0;
    int bound = 0;
    Millis last_created = -1;
    Millis bound_at = -1;
    Millis finished = -1;
  };
  struct Batch {
    std::vector<scheduler::BindOrder> orders;
  };
  using ActiveKey = std::tuple<std::int64_t, Millis, int>;  // (-priority, queue_ts, pod)

  void Push(Millis time, EventKind kind, int subject = -1, std::uint64_t gen = 0);
  void Handle(const Event& e);
  std::string Describe(const Event& e) const;
  // ---- Queue ----
  void Activate(int pod);
  void ToBackoff(int pod);
  void ToUnschedulable(int pod);
  // The scheduling attempt failed now: the pod's queue timestamp and backoff start again, and it
  // is parked (Unschedulable) or backs off (an error).
  void Failed(int pod, bool unschedulable, std::string reason);
  void LeaveQueue(int pod);
  // A cluster event: every parked pod goes to activeQ, or to backoffQ while it backs off
  // (MoveAllToActiveOrBackoffQueue). Extender-rejected pods move on any event (§2.3, §6.2).
  void MoveAll(int except = -1);
  void WakeScheduler();
  Millis BackoffOf(int attempts) const;
  // ---- Scheduling and binding cycles ----
  void Cycle();
  std::vector<std::string> FeasibleNodes(const scheduler::Pod& pod);
  void Assume(int pod, int node);
  void Forget(int pod);
  void BindCall(int pod);
  void Apply(const scheduler::BarrierDecision& d, int requester);
  void AnswerBindError(int pod, const std::string& error);
  void BindingsDone(int batch);
  void WatchBound(int pod);
  void CreatePod(int pod);
  void FinishJob(int job);
  void ArmTick();
  void Trace(const std::string& line) const {
    if (options_.trace) options_.trace(now_, line);
  }

  std::vector<scheduler::Node> nodes_;
  std::unordered_map<std::string, int> node_index_;
  KubeModelOptions options_;
  std::unique_ptr<scheduler::GangScheduler> engine_;
  InvariantChecker checker_;
  std::mt19937_64 rng_;

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t seq_ = 0;
  Millis now_ = 0;
  std::int64_t event_index_ = 0;

  std::vector<PodRecord> pods_;
  std::unordered_map<std::string, int> uid_index_;
  std::vector<JobRecord> jobs_;
  std::vector<Batch> batches_;
  std::set<ActiveKey> active_;
  std::set<int> unschedulable_;
  std::vector<scheduler::Resources>
      requested_;  // per node: kube-scheduler's cache (bound + assumed)
  bool cycle_scheduled_ = false;
  Millis scheduler_free_at_ = 0;  // when the current cycle ends
  std::size_t next_start_node_ = 0;
  std::optional<Millis> tick_armed_;
  std::optional<Millis> last_tick_;
  ModelStats stats_;
};

}  // namespace gangsched::sim
