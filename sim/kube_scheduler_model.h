// A deterministic model of kube-scheduler driving the real engine (issue 11 item 1, DESIGN.md §8):
// a virtual clock, one event at a time, no threads. kube-scheduler's queue (activeQ, backoffQ,
// unschedulablePods), its scheduling cycle (its own predicates, then the extender's filter with the
// surviving node names, then prioritize when more than one node is left, then assume), and its
// asynchronous binding cycle (the extender's bind, held by the engine's barrier until its decision)
// behave as reference/extender-protocol.md describes them; each step cites the section it follows.
// The API server is a map of pods: a posted Binding sets a pod's node, and the watch reports it
// to both kube-scheduler's cache and the engine (UpsertPod, as kube/state_source.cc does). The
// API also refuses what a real one refuses: a Binding of a deleted pod or of a pod already bound.
// Faults (sim/faults.h) are injected from the options, seeded and replayable; their handlers are in
// kube_scheduler_faults.cc. Owns the queue, the scheduler's cache, the API's pods and nodes and
// the event timeline; the engine owns every placement decision, and every engine call goes through
// it or sim/engine_calls.h. Invariants (sim/invariants.h) are checked after every event.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
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
#include "sim/engine_calls.h"
#include "sim/faults.h"
#include "sim/invariants.h"
#include "sim/kube_profile.h"
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
  FaultOptions faults;
  // A profile without the extender (sim/kube_profile.h): kube-scheduler's own predicates, the
  // profile's Filter and Score, and the default binder post each Binding at once. No engine is
  // built; faults that act on gangsched are not drawn.
  std::shared_ptr<const KubeProfile> profile;
  // How long job `job` runs once its last pod is bound on `nodes` (its pods' node indices, in the
  // order of `nodes`); unset: the job's WorkloadJob::duration.
  std::function<Millis(int job, const std::vector<std::size_t>& nodes)> run_time;
  // gangsched's nudges (kube/notifier.cc, DESIGN.md §3.7), API mode only: every `notifier_period`
  // after a change (a pod created, a filter narrowed, a job finished, a hold expired) the
  // notifier looks at the gangs whose members kube-scheduler parked, and requeues them (a pod
  // update moves a parked pod) when the gang is planned, or waits with a quorum of pods and
  // capacity was freed or the quorum was reached since the last look; at most once per
  // `nudge_interval` per gang. Off by default: the soak's liveness bound assumes no nudges.
  bool nudges = false;
  Millis notifier_period = 1'000;
  Millis nudge_interval = 10'000;
  // kube-scheduler's DefaultPreemption (PostFilter, reference/extender-protocol.md §2.6) after an
  // unschedulable attempt, with the extender's preempt verb (kube_scheduler_preemption.cc). A
  // victim terminates `victim_termination` after it is chosen (terminationGracePeriodSeconds)
  // and its operator replaces it `faults.recreate_delay` later; its job stops running and
  // resumes, with the run time it had left, once every pod of it is bound again.
  bool preemption = true;
  Millis victim_termination = 1'000;
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
  Millis run_time = -1;  // from bound to finished, as run_time chose it
  int preempted = 0;     // times preemption evicted pods of it
  std::vector<PodOutcome> pods;
};

struct ModelStats {
  std::int64_t events = 0;
  std::int64_t cycles = 0;
  std::int64_t filter_calls = 0;  // cycles in which the extender was asked
  std::int64_t narrowed = 0;
  std::int64_t rejected = 0;        // by the extender
  std::int64_t no_fit = 0;          // by kube-scheduler's own predicates (extender not asked)
  std::int64_t preempt_on = 0;      // filter answers naming a node of the gang's victim plan
  std::int64_t preempt_calls = 0;   // the extender's preempt verb called
  std::int64_t preempt_errors = 0;  // its answer refused (unknown node or pod, no victims)
  std::int64_t preemptions = 0;     // candidates chosen: victims evicted, the pod nominated
  std::int64_t victims = 0;         // pods evicted by preemption
  std::int64_t prioritize_calls = 0;
  std::int64_t bind_calls = 0;
  std::int64_t binds_held = 0;     // answered kWait by the barrier
  std::int64_t bind_errors = 0;    // held or immediate binds answered with an error
  std::int64_t bind_timeouts = 0;  // the bind extender's httpTimeout passed first
  std::int64_t bindings = 0;
  std::int64_t queue_moves = 0;  // cluster events that moved unschedulablePods
  std::int64_t flushed = 0;      // pods flushed after max_in_unschedulable
  std::int64_t ticks = 0;
  std::int64_t bindings_refused = 0;  // by the API (deleted or already bound pod, missing node)
  std::int64_t nudges = 0;            // parked pods the notifier requeued
  std::array<std::int64_t, kFaultKinds> faults{};  // injected, by FaultKind
};

struct RunResult {
  std::optional<std::string> violation;  // names the seed, the event index and what broke
  std::optional<Invariant> invariant;    // which property broke
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
  // The engine behind the extender; null under a profile (KubeModelOptions::profile).
  const scheduler::GangScheduler* engine() const { return engine_.get(); }
  // Whether anything can still change for the jobs: a pod not created yet, a job running, or a
  // Binding accepted or a job finished within the last `quiet` ms. With nothing running and
  // nothing to create, capacity changes only through binds: a gang that fits binds within the
  // liveness bound (sim/invariants.h), so jobs still waiting after a quiet spell that long wait
  // for capacity nothing will free (per-pod baselines deadlocked on partial gangs).
  bool Busy(Millis quiet = kLivenessBound) const;
  // Ids of the faults injected so far, in order (FaultOptions::disabled takes them).
  const std::vector<std::string>& faults_injected() const { return injected_; }

 private:
  KubeSchedulerModel(std::vector<scheduler::Node> nodes, std::vector<WorkloadJob> jobs,
                     KubeModelOptions options, std::unique_ptr<scheduler::GangScheduler> engine);

  enum class EventKind : std::uint8_t {
    kCreatePod,        // the operator creates a pod
    kCycle,            // kube-scheduler pops activeQ
    kBackoffDone,      // the backoffQ flush finds the pod's backoff over
    kFlush,            // the unschedulablePods flush finds the pod parked too long
    kBindCall,         // the binding cycle's bind request reaches the extender
    kBindTimeout,      // the bind extender's httpTimeout
    kBindingsDone,     // the API answered a batch of posted Bindings
    kWatchBound,       // the watch reports a pod bound
    kJobFinish,        // a job's pods finish and are deleted
    kTick,             // the engine's timer (NextDeadline)
    kEngineWatch,      // a delayed watch event reaches the engine (subject: a delivery)
    kEngineNodes,      // the engine's watch sees the node inventory change
    kFault,            // a fault of kind `subject` (its `gen`-th) fires
    kNodeBack,         // node `subject` registers again (gen 0) or is uncordoned (gen 1)
    kRecreatePod,      // the operator replaces deleted pod `subject`
    kGangschedUp,      // gangsched is back and lists the API
    kKubeSchedulerUp,  // kube-scheduler is back and lists the API
    kNotifierLook,     // gangsched's notifier looks at the waiting gangs
    kPermitTimeout,    // a pod waiting at Permit (gen: its bind generation) times out
    kEvicted,          // a preemption victim has terminated and is deleted
    kRoster,           // gangsched's watch sees job `subject`'s job object (its roster)
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
    kPermitWait,  // assumed; waits at a profile's Permit for its group
    kBinding,     // assumed; its binding cycle runs
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
    Millis queue_ts = 0;   // activeQ order: when it was created or last failed
    Millis active_ts = 0;  // the time its activeQ key was made with (its group's, by group)
    Millis backoff_until = 0;
    int attempts = 0;
    int cache_node = -1;        // node kube-scheduler's cache counts it on (assumed or bound)
    bool bind_pending = false;  // its bind request waits for the extender's answer
    std::vector<std::string> engine_nodes;  // the engine's last filter answer
    Millis bound_at = -1;
    std::string last_reason;
    scheduler::GangKey gang;     // IdentifyGang's key (for the engine's views)
    int bindings = 0;            // Bindings of this pod the API answered (fault ordinals)
    int engine_events = 0;       // watch events of this pod to the engine (fault ordinals)
    Millis engine_seen_at = -1;  // when its latest watch event reaches the engine
    int recreations = 0;         // replacements of this pod's name so far
    int nominated = -1;          // node kube-scheduler's nominator has it on
    bool terminating = false;    // a preemption victim that has not terminated yet
  };
  struct JobRecord {
    WorkloadJob spec;
    std::vector<int> pods;
    int created = 0;
    int bound = 0;
    Millis last_created = -1;
    Millis bound_at = -1;
    Millis finished = -1;
    Millis run_time = -1;
    bool finish_scheduled = false;  // running: its kJobFinish (gen finish_gen) is pending
    std::uint64_t finish_gen = 0;   // bumped when a running job stops (a pod of it deleted)
    Millis finish_at = -1;
    Millis remaining = -1;                  // run time left (set when first bound whole)
    int preempted = 0;                      // preemptions that evicted pods of it
    bool roster_seen = false;               // a Kubeflow job whose job object gangsched has seen
    std::vector<int> waiting;               // its pods waiting at Permit
    std::optional<Millis> group_failed_at;  // the group's last scheduling failure
  };
  struct Batch {
    std::vector<scheduler::BindOrder> orders;
    // When posted: the engine's last filter answer and kube-scheduler's assumed node, per order.
    std::vector<std::vector<std::string>> engine_nodes;
    std::vector<std::string> assumed;
    std::uint64_t engine_gen = 0;  // the gangsched process that posted them
  };
  enum class WatchOp : std::uint8_t { kCreated, kBound, kDeleted };
  struct Delivery {
    scheduler::Pod pod;  // the object as the event carries it
    WatchOp op = WatchOp::kCreated;
    std::uint64_t engine_gen = 0;
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
  // A parked pod leaves unschedulablePods: to backoffQ while its backoff lasts, else to activeQ
  // (a cluster event, a pod update, the flush).
  void Unpark(int pod);
  // A cluster event: every parked pod goes to activeQ, or to backoffQ while it backs off
  // (MoveAllToActiveOrBackoffQueue). Extender-rejected pods move on any event (§2.3, §6.2).
  void MoveAll(int except = -1);
  void WakeScheduler();
  Millis BackoffOf(int attempts) const;
  // ---- Scheduling and binding cycles ----
  void Cycle();
  // kube-scheduler's own Filter plugins for pod `id` over its cache, counting the nominated pods
  // that outrank it (§2.3); `only`: just that node (the nominated-node probe). `resolvable` gets
  // the nodes that failed only for resources, which preemption might help.
  std::vector<std::string> FeasibleNodes(int id, std::vector<int>* resolvable = nullptr,
                                         int only = -1);
  // kube-scheduler's nominated-node probe (evaluateNominatedNode): the extender's filter on the
  // pod's nominated node alone; true when the pod was assumed there.
  bool NominatedProbe(int id);
  // The extender's filter with the offered nodes, the hold checks around it and its trace.
  FilterOutcome AskExtender(int id, const std::vector<std::string>& offered);
  // Prioritize (when more than one node is left), assume and start the binding cycle.
  void AssumeNarrowed(int id, const std::vector<std::string>& narrowed);
  // The attempt found no node: PostFilter (DefaultPreemption with the extender, or the profile's)
  // over the `resolvable` nodes, then the pod is parked, or backs off on a preemption error.
  void Unschedulable(int id, std::string reason, std::vector<int> resolvable);
  void Assume(int pod, int node);
  void Forget(int pod);
  // cached_on_ and cached_priorities_ follow PodRecord::cache_node.
  void CacheOn(int pod, int node);
  void Uncache(int pod);
  void BindCall(int pod);
  void Apply(const scheduler::BarrierDecision& d, int requester);
  void AnswerBindError(int pod, const std::string& error);
  void BindingsDone(int batch);
  void WatchBound(int pod);
  void SeenBound(int pod);
  void CreatePod(int pod);
  void FinishJob(int job);
  // The roster a Kubeflow job's object declares (k8s/jobs.h reads the same from a TFJob).
  scheduler::GangSpec RosterOf(int job) const;
  // gangsched learns the job objects it can see: in API mode those its watch has seen, in
  // standalone mode every one (serve --jobs reads them at start-up).
  void RostersToEngine();
  // Pod `id` as gangsched's watch gives it to the engine: a PodGroup member with its group's size
  // once the group is seen.
  scheduler::Pod EngineView(int id) const;
  void ArmTick();
  void EngineTick();
  // Under a profile: the best-scored of `offered` for pod `id` (ties at random).
  std::string ProfileChoice(int id, const std::vector<std::string>& offered);
  // The default binder: posts the Binding of an assumed pod.
  void PostBinding(int id);
  // ---- Pod groups of a profile (kube_scheduler_groups.cc) ----
  bool Grouped(int pod) const;  // the profile has pod groups and the pod is of a gang
  GroupCounts GroupOf(int job) const;
  // The scheduling cycle assumed the pod: Permit, then the binding cycle.
  void Permit(int pod);
  void StartBinding(int pod);
  // The pod's scheduling cycle failed (PreFilter or Filter): the profile's PostFilter.
  void PostFilter(int pod);
  // Every pod of the job waiting at Permit is rejected and unreserved.
  void RejectWaiting(int job, const std::string& reason);
  // The group's parked and backing-off pods go to activeQ (coscheduling's ActivateSiblings).
  void ActivateGroup(int job);
  // A profile that places groups (KubeProfile::PlacesGroups): pod `pod` was popped; once every
  // pod of its job exists, the profile places all its pending pods at once on the cache, and
  // they are assumed and bound, or all parked.
  void GroupCycle(int pod);
  // ---- kube-scheduler's preemption (kube_scheduler_preemption.cc) ----
  enum class Preempted : std::uint8_t { kNone, kNominated, kError };
  // DefaultPreemption's PostFilter for pod `id`: dry runs on the `potential` nodes, the
  // extender's preempt verb, the choice of one candidate, its victims evicted and the pod
  // nominated there. `error` names what failed on kError.
  Preempted DefaultPreemption(int id, std::vector<int> potential, std::string& error);
  // SelectVictimsOnNode: the fewest lower-priority pods whose eviction lets pod `id` fit on `node`.
  std::optional<scheduler::PreemptCandidate> DryRun(int id, int node,
                                                    const std::vector<int>& on_node) const;
  // The requests of pods nominated on `node` that pod `id` must leave room for (priority at
  // least its own).
  scheduler::Resources NominatedOn(int node, int id) const;
  void Nominate(int id, int node);
  void Unnominate(int id, bool clear_status);
  void Evict(int victim);
  // ---- Nudges (kube_scheduler_nudges.cc) ----
  // Something the notifier reacts to changed: it looks within its period.
  void NotifierLookSoon(Millis at = -1);
  void NotifierLook();
  // ---- The engine's watch (kube_scheduler_faults.cc) ----
  // A watch event about `pod` for the engine: now, or late under a watch fault, never before an
  // earlier event about the same pod.
  void ToEngine(int pod, WatchOp op);
  void Deliver(const Delivery& d);
  void NodesToEngine();
  std::vector<scheduler::Node> PresentNodes() const;
  // ---- Faults (kube_scheduler_faults.cc) ----
  void ScheduleFault(FaultKind kind, std::uint64_t index);
  // Whether fault `id` is injected (not disabled); counts and traces it.
  bool Inject(FaultKind kind, const std::string& id);
  bool Draw(FaultKind kind, double p, const std::string& id);
  void Fault(FaultKind kind, std::uint64_t index);
  std::vector<int> PlannedNodes() const;  // nodes of the engine's held plans
  void NodeFault(FaultKind kind, const std::string& id);
  void NodeBack(int node, bool uncordon);
  void RecreatePod(const std::string& id);
  // The API deletes pod `pod` (a fault or an eviction) and its operator replaces it; its job, if
  // it was running, stops until every pod of it is bound again.
  void DeletePod(int pod);
  void ReplacePod(int old);
  void RestartGangsched();
  void GangschedUp();
  void RestartKubeScheduler();
  void KubeSchedulerUp();
  void Trace(const std::string& line) const {
    if (options_.trace) options_.trace(now_, line);
  }

  std::vector<scheduler::Node> nodes_;
  std::unordered_map<std::string, int> node_index_;
  NodeTopology topology_;  // for a profile that places groups
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
      requested_;                            // per node: kube-scheduler's cache (bound + assumed)
  std::vector<std::vector<int>> nominated_;  // per node: kube-scheduler's nominator
  // per node: the pods counted in requested_ (cache_node), sorted by id: DefaultPreemption's view
  // of the cache without a walk over every pod of the trace.
  std::vector<std::vector<int>> cached_on_;
  // How many pods of each priority the cache counts: with none below a pod's priority, no node has
  // a victim for it and DefaultPreemption has no candidate.
  std::map<std::int32_t, int> cached_priorities_;
  bool cycle_scheduled_ = false;
  Millis scheduler_free_at_ = 0;  // when the current cycle ends
  std::size_t next_start_node_ = 0;
  std::optional<Millis> tick_armed_;
  std::optional<Millis> last_tick_;
  ModelStats stats_;

  // Faults.
  std::vector<bool> node_deleted_;  // per node; a cordon is the API node's `unschedulable`
  std::vector<Delivery> deliveries_;
  std::uint64_t engine_gen_ = 1;  // bumped when gangsched restarts
  bool engine_down_ = false;
  bool scheduler_down_ = false;  // kube-scheduler restarting
  std::array<std::mt19937_64, kFaultKinds> fault_streams_;
  std::vector<std::string> injected_;
  int jobs_finished_ = 0;
  int jobs_running_ = 0;
  int pods_to_create_ = 0;
  Millis last_change_ = 0;  // the last Binding accepted, job finished or pod created

  // The notifier's memory (kube/notifier.cc).
  std::optional<Millis> look_at_;
  std::int64_t last_free_gpus_ = -1;
  std::set<std::string> seen_quorum_;
  std::unordered_map<std::string, Millis> last_nudge_;
};

}  // namespace gangsched::sim
