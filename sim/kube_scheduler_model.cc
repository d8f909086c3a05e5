#include "sim/kube_scheduler_model.h"

#include <algorithm>
#include <utility>

#include "scheduler/fit.h"
#include "sim/engine_calls.h"

namespace gangsched::sim {

namespace {

constexpr const char* kNamespace = "ml";
constexpr const char* kSchedulerName = "gang-scheduler";
constexpr const char* kGangAnnotation = "gangsched.io/gang";
constexpr const char* kMinMembersAnnotation = "gangsched.io/min-members";
constexpr const char* kReplicaTypeLabel = "training.kubeflow.org/replica-type";
constexpr const char* kReplicaIndexLabel = "training.kubeflow.org/replica-index";

std::string Seconds(Millis ms) {
  std::string frac = std::to_string(ms % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(ms / 1000) + "." + frac + "s";
}

// The first multiple of `period` at or after `t` (a loop that runs every `period` from time 0).
Millis AtOrAfter(Millis t, Millis period) {
  if (period <= 0) return t;
  return (t + period - 1) / period * period;
}

// How many feasible nodes kube-scheduler looks for before it stops filtering
// (numFeasibleNodesToFind, reference/extender-protocol.md §2.3): all of a cluster under 100
// nodes; else the percentage (adaptive by default: 50% minus nodes/125, at least 5%), at least 100.
std::size_t NodesToFind(std::size_t all, int percentage) {
  constexpr std::size_t kMinFeasibleNodes = 100;
  if (all < kMinFeasibleNodes || percentage >= 100) return all;
  std::int64_t adaptive = percentage;
  if (adaptive <= 0)
    adaptive = std::max<std::int64_t>(5, 50 - static_cast<std::int64_t>(all) / 125);
  const auto n = static_cast<std::size_t>(static_cast<std::int64_t>(all) * adaptive / 100);
  return std::max(n, kMinFeasibleNodes);
}

}  // namespace

tl::expected<std::unique_ptr<KubeSchedulerModel>, std::string> KubeSchedulerModel::Create(
    std::vector<scheduler::Node> nodes, std::vector<WorkloadJob> jobs, KubeModelOptions options) {
  options.engine.require_quorum_pods = options.source == StateSource::kApi;
  options.engine.requeue_by_bind_error = options.source == StateSource::kStandalone;
  auto state = scheduler::ClusterState::Create(nodes, options.engine.state);
  if (!state) return tl::unexpected(state.error());
  std::unique_ptr<scheduler::GangScheduler> engine;
  if (!options.profile) {
    engine = std::make_unique<scheduler::GangScheduler>(std::move(*state), options.engine);
  }
  return std::unique_ptr<KubeSchedulerModel>(new KubeSchedulerModel(
      std::move(nodes), std::move(jobs), std::move(options), std::move(engine)));
}

KubeSchedulerModel::KubeSchedulerModel(std::vector<scheduler::Node> nodes,
                                       std::vector<WorkloadJob> jobs, KubeModelOptions options,
                                       std::unique_ptr<scheduler::GangScheduler> engine)
    : nodes_(std::move(nodes)),
      options_(std::move(options)),
      engine_(std::move(engine)),
      checker_(nodes_, options_.invariants),
      rng_(options_.seed),
      requested_(nodes_.size()),
      node_deleted_(nodes_.size(), false) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    node_index_.emplace(nodes_[i].name, static_cast<int>(i));
  }
  // Without an engine, gangsched is not there to restart.
  if (!engine_) options_.faults.gangsched_restart_every = 0;
  for (int k = 0; k < kFaultKinds; ++k) {
    fault_streams_[k].seed(options_.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(k));
    ScheduleFault(static_cast<FaultKind>(k), 0);
  }
  for (WorkloadJob& spec : jobs) {
    const int j = static_cast<int>(jobs_.size());
    JobRecord job;
    job.spec = std::move(spec);
    const WorkloadJob& w = job.spec;
    checker_.AddJob(j, w.id, w.Pods());
    for (std::size_t r = 0; r < w.roles.size(); ++r) {
      const RoleTemplate& role = w.roles[r];
      for (int i = 0; i < role.replicas; ++i) {
        PodRecord p;
        p.job = j;
        p.role = role.name;
        scheduler::Pod& pod = p.pod;
        pod.namespace_name = kNamespace;
        pod.name = w.gang ? w.id + "-" + (role.name.empty() ? "member" : role.name) + "-" +
                                std::to_string(i)
                          : w.id;
        pod.uid = "uid-" + pod.name;
        pod.scheduler_name = kSchedulerName;
        pod.requests = role.requests;
        pod.requests.pods = 1;
        pod.priority = w.priority;
        pod.tolerations = w.tolerations;
        pod.node_selector = w.node_selector;
        if (w.gang) {
          pod.annotations[kGangAnnotation] = w.id;
          pod.annotations[kMinMembersAnnotation] = std::to_string(w.Pods());
          if (!role.name.empty()) {
            pod.labels[kReplicaTypeLabel] = role.name;
            pod.labels[kReplicaIndexLabel] = std::to_string(i);
          }
        }
        p.gang = scheduler::IdentifyGang(pod).membership.key;
        const int id = static_cast<int>(pods_.size());
        uid_index_.emplace(pod.uid, id);
        job.pods.push_back(id);
        pods_.push_back(std::move(p));
        Push(w.arrival + static_cast<Millis>(r) * w.role_delay + i * w.pod_delay,
             EventKind::kCreatePod, id);
        ++pods_to_create_;
      }
    }
    jobs_.push_back(std::move(job));
  }
}

// ---- Timeline -----------------------------------------------------------------------------------

void KubeSchedulerModel::Push(Millis time, EventKind kind, int subject, std::uint64_t gen) {
  events_.push(Event{std::max(time, now_), seq_++, kind, subject, gen});
}

RunResult KubeSchedulerModel::Run(Millis until, std::int64_t max_events) {
  return RunUntil({}, until, max_events);
}

RunResult KubeSchedulerModel::RunUntil(const std::function<bool()>& done, Millis until,
                                       std::int64_t max_events) {
  RunResult result;
  for (std::int64_t n = 0; n < max_events && !events_.empty(); ++n) {
    if (events_.top().time > until) {
      now_ = std::max(now_, until);
      break;
    }
    const Event e = events_.top();
    events_.pop();
    now_ = e.time;
    ++event_index_;
    ++stats_.events;
    if (options_.trace) Trace(Describe(e));
    Handle(e);
    ArmTick();
    if (engine_ && !engine_down_) checker_.CheckHolds(*engine_, now_);
    if (auto v = checker_.Check(now_)) {
      result.violation = "seed " + std::to_string(options_.seed) + ", event #" +
                         std::to_string(event_index_) + " at t=" + Seconds(now_) + " (" +
                         Describe(e) + "): " + *v;
      break;
    }
    if (done && done()) break;
  }
  if (!result.violation) {
    if (auto v = checker_.Check(now_)) {
      result.violation = "seed " + std::to_string(options_.seed) + ", after event #" +
                         std::to_string(event_index_) + " at t=" + Seconds(now_) + ": " + *v;
    }
  }
  result.invariant = checker_.broken();
  result.end_time = now_;
  result.drained = events_.empty();
  return result;
}

std::string KubeSchedulerModel::Describe(const Event& e) const {
  auto pod = [&] {
    const scheduler::Pod& p = pods_.at(static_cast<std::size_t>(e.subject)).pod;
    return p.namespace_name + "/" + p.name;
  };
  switch (e.kind) {
    case EventKind::kCreatePod:
      return "pod " + pod() + " created";
    case EventKind::kCycle:
      return "scheduling cycle";
    case EventKind::kBackoffDone:
      return "backoff of " + pod() + " over";
    case EventKind::kFlush:
      return pod() + " flushed from unschedulablePods";
    case EventKind::kBindCall:
      return "bind request of " + pod();
    case EventKind::kBindTimeout:
      return "bind request of " + pod() + " timed out";
    case EventKind::kBindingsDone:
      return "Bindings of a released gang answered";
    case EventKind::kWatchBound:
      return "watch: " + pod() + " bound";
    case EventKind::kJobFinish:
      return "job " + jobs_.at(static_cast<std::size_t>(e.subject)).spec.id + " finished";
    case EventKind::kTick:
      return "engine tick";
    case EventKind::kEngineWatch: {
      const Delivery& d = deliveries_.at(static_cast<std::size_t>(e.subject));
      static const char* kOps[] = {"created", "bound", "deleted"};
      return "late watch: engine sees " + d.pod.namespace_name + "/" + d.pod.name + " " +
             kOps[static_cast<int>(d.op)];
    }
    case EventKind::kEngineNodes:
      return "watch: engine sees the nodes change";
    case EventKind::kFault:
      return std::string("fault: ") + FaultName(static_cast<FaultKind>(e.subject)) + " #" +
             std::to_string(e.gen);
    case EventKind::kNodeBack:
      return "node " + nodes_.at(static_cast<std::size_t>(e.subject)).name +
             (e.gen == 1 ? " uncordoned" : " registers again");
    case EventKind::kRecreatePod:
      return "operator replaces " + pod();
    case EventKind::kGangschedUp:
      return "gangsched is up again";
    case EventKind::kKubeSchedulerUp:
      return "kube-scheduler is up again";
    case EventKind::kNotifierLook:
      return "gangsched's notifier looks at the waiting gangs";
    case EventKind::kPermitTimeout:
      return pod() + " times out waiting at Permit";
  }
  return "?";
}

void KubeSchedulerModel::Handle(const Event& e) {
  switch (e.kind) {
    case EventKind::kCreatePod:
      CreatePod(e.subject);
      break;
    case EventKind::kCycle:
      Cycle();
      break;
    case EventKind::kBackoffDone: {
      PodRecord& p = pods_[e.subject];
      if (p.where == Where::kBackoff && p.queue_gen == e.gen) Activate(e.subject);
      break;
    }
    case EventKind::kFlush: {
      PodRecord& p = pods_[e.subject];
      if (p.where != Where::kUnschedulable || p.queue_gen != e.gen) break;
      unschedulable_.erase(e.subject);
      ++stats_.flushed;
      if (now_ < p.backoff_until) {
        ToBackoff(e.subject);
      } else {
        Activate(e.subject);
      }
      break;
    }
    case EventKind::kBindCall:
      if (pods_[e.subject].bind_gen == e.gen) BindCall(e.subject);
      break;
    case EventKind::kBindTimeout: {
      const PodRecord& p = pods_[e.subject];
      if (p.bind_gen != e.gen || !p.bind_pending) break;
      ++stats_.bind_timeouts;
      // The bind extender's httpTimeout (DESIGN.md §3.6): kube-scheduler fails the binding cycle.
      AnswerBindError(e.subject, "bind extender timed out");
      break;
    }
    case EventKind::kBindingsDone:
      BindingsDone(e.subject);
      break;
    case EventKind::kWatchBound:
      WatchBound(e.subject);
      break;
    case EventKind::kJobFinish:
      FinishJob(e.subject);
      break;
    case EventKind::kEngineWatch:
      Deliver(deliveries_[e.subject]);
      break;
    case EventKind::kEngineNodes:
      if (engine_ && e.gen == engine_gen_ && !engine_down_) {
        if (auto ok = engine_->ReplaceNodes(PresentNodes()); !ok) Trace("  nodes: " + ok.error());
      }
      break;
    case EventKind::kFault:
      Fault(static_cast<FaultKind>(e.subject), e.gen);
      break;
    case EventKind::kNodeBack:
      NodeBack(e.subject, e.gen == 1);
      break;
    case EventKind::kRecreatePod:
      ReplacePod(e.subject);
      break;
    case EventKind::kGangschedUp:
      GangschedUp();
      break;
    case EventKind::kKubeSchedulerUp:
      KubeSchedulerUp();
      break;
    case EventKind::kNotifierLook:
      NotifierLook();
      break;
    case EventKind::kPermitTimeout: {
      const PodRecord& p = pods_[e.subject];
      // Unreserve of the timed-out pod rejects every waiting pod of its group.
      if (p.where == Where::kPermitWait && p.bind_gen == e.gen) {
        RejectWaiting(p.job, "rejected due to timeout after waiting at Permit");
      }
      break;
    }
    case EventKind::kTick:
      if (!engine_ || engine_down_ || e.gen != engine_gen_) break;
      if (!tick_armed_ || *tick_armed_ != e.time) break;  // re-armed earlier since
      tick_armed_.reset();
      EngineTick();
      break;
  }
}

void KubeSchedulerModel::EngineTick() {
  const std::optional<Millis> next = engine_->NextDeadline();
  if (!next || *next > now_) return;
  ++stats_.ticks;
  last_tick_ = now_;
  const std::int64_t expired = engine_->counters().hold_expiries;
  for (const scheduler::BarrierDecision& d : engine_->Tick(now_)) {
    Trace("  tick: reject " + std::to_string(d.pods.size()) + " held binds: " + d.reason);
    Apply(d, -1);
  }
  // A hold released capacity: the notifier may nudge a gang that fits now.
  if (engine_->counters().hold_expiries != expired) NotifierLookSoon();
}

void KubeSchedulerModel::ArmTick() {
  if (!engine_ || engine_down_) return;
  const std::optional<Millis> next = engine_->NextDeadline();
  if (!next) return;
  // A deadline the last tick at this very time left behind waits a millisecond, so a deadline
  // that Tick does not clear cannot spin the clock in place.
  Millis at = std::max(*next, now_);
  if (last_tick_ && *last_tick_ == now_ && at == now_) at = now_ + 1;
  if (tick_armed_ && *tick_armed_ <= at) return;
  tick_armed_ = at;
  Push(at, EventKind::kTick, -1, engine_gen_);
}

// ---- Queue (kube-scheduler's scheduling_queue: activeQ, backoffQ, unschedulablePods) ------------

Millis KubeSchedulerModel::BackoffOf(int attempts) const {
  // podInitialBackoffSeconds doubled per attempt after the first, capped at podMaxBackoffSeconds
  // (reference/extender-protocol.md §3.2).
  Millis d = options_.initial_backoff;
  for (int i = 1; i < attempts; ++i) {
    d *= 2;
    if (d > options_.max_backoff) return options_.max_backoff;
  }
  return d;
}

void KubeSchedulerModel::Activate(int id) {
  PodRecord& p = pods_[id];
  p.where = Where::kActive;
  ++p.queue_gen;
  // activeQ order (the PrioritySort plugin): higher priority first, then the pod's queue
  // timestamp, which is its creation for a new pod and its last failure for a retried one. A
  // profile with pod groups sorts by the group's time instead (coscheduling's Less), so the pods
  // of a group are scheduled one after the other.
  p.active_ts = p.queue_ts;
  if (Grouped(id)) {
    const JobRecord& job = jobs_[p.job];
    p.active_ts = job.group_failed_at.value_or(job.spec.arrival);
  }
  active_.insert({-static_cast<std::int64_t>(p.pod.priority), p.active_ts, id});
  WakeScheduler();
}

void KubeSchedulerModel::ToBackoff(int id) {
  PodRecord& p = pods_[id];
  p.where = Where::kBackoff;
  ++p.queue_gen;
  // The backoffQ is emptied by a loop every second.
  Push(AtOrAfter(p.backoff_until, options_.backoff_flush_period), EventKind::kBackoffDone, id,
       p.queue_gen);
}

void KubeSchedulerModel::ToUnschedulable(int id) {
  PodRecord& p = pods_[id];
  p.where = Where::kUnschedulable;
  ++p.queue_gen;
  unschedulable_.insert(id);
  // Flushed by the loop that runs every 30 s once it has been parked longer than 5 minutes
  // (reference/extender-protocol.md §6.2).
  const Millis due = p.queue_ts + options_.max_in_unschedulable + 1;
  Push(AtOrAfter(due, options_.unschedulable_flush_period), EventKind::kFlush, id, p.queue_gen);
}

void KubeSchedulerModel::Failed(int id, bool unschedulable, std::string reason) {
  PodRecord& p = pods_[id];
  p.queue_ts = now_;
  p.backoff_until = now_ + BackoffOf(p.attempts);
  p.last_reason = std::move(reason);
  // An Unschedulable status parks the pod; an error (a failed filter call or binding cycle) backs
  // it off (reference/extender-protocol.md §2.3, §2.5).
  if (unschedulable) {
    ToUnschedulable(id);
  } else {
    ToBackoff(id);
  }
}

void KubeSchedulerModel::LeaveQueue(int id) {
  PodRecord& p = pods_[id];
  if (p.where == Where::kActive)
    active_.erase({-static_cast<std::int64_t>(p.pod.priority), p.active_ts, id});
  if (p.where == Where::kUnschedulable) unschedulable_.erase(id);
  ++p.queue_gen;
}

void KubeSchedulerModel::MoveAll(int except) {
  // A pod rejected by an extender has the extender among its unschedulable plugins and is moved
  // on any cluster event (reference/extender-protocol.md §2.3, §6.2, issue #122019); pods
  // rejected by kube-scheduler's own filters are moved on the same events here (node added or
  // changed, pod bound or deleted), which are the events those filters register for.
  if (unschedulable_.empty()) return;
  ++stats_.queue_moves;
  std::vector<int> moving;
  moving.reserve(unschedulable_.size());
  for (int id : unschedulable_) {
    if (id != except) moving.push_back(id);
  }
  for (int id : moving) {
    unschedulable_.erase(id);
    if (now_ < pods_[id].backoff_until) {
      ToBackoff(id);
    } else {
      Activate(id);
    }
  }
}

void KubeSchedulerModel::WakeScheduler() {
  if (scheduler_down_ || cycle_scheduled_ || active_.empty()) return;
  cycle_scheduled_ = true;
  Push(std::max(now_, scheduler_free_at_), EventKind::kCycle);
}

// ---- Scheduling cycle ---------------------------------------------------------------------------

std::vector<std::string> KubeSchedulerModel::FeasibleNodes(const scheduler::Pod& pod) {
  // kube-scheduler's own Filter plugins over its cache (bound and assumed pods): NodeUnschedulable
  // (cordon), TaintToleration, NodeAffinity (nodeSelector), NodeResourcesFit. It walks the nodes
  // from where the previous cycle stopped and stops once it has found enough (§2.3).
  const std::size_t all = nodes_.size();
  const std::size_t to_find = NodesToFind(all, options_.percentage_of_nodes_to_score);
  std::vector<std::string> out;
  std::size_t processed = 0;
  for (; processed < all && out.size() < to_find; ++processed) {
    const std::size_t n = (next_start_node_ + processed) % all;
    const scheduler::Node& node = nodes_[n];
    if (node_deleted_[n]) continue;
    if (!scheduler::Admits(node, pod.tolerations, pod.node_selector)) continue;
    if (!(node.allocatable - requested_[n]).Fits(pod.requests)) continue;
    if (options_.profile && !options_.profile->Filter(pod, node)) continue;
    out.push_back(node.name);
  }
  if (all > 0) next_start_node_ = (next_start_node_ + processed) % all;
  return out;
}

void KubeSchedulerModel::Cycle() {
  cycle_scheduled_ = false;
  if (scheduler_down_ || active_.empty()) return;
  const int id = std::get<2>(*active_.begin());
  active_.erase(active_.begin());
  PodRecord& p = pods_[id];
  ++p.queue_gen;
  ++p.attempts;
  ++stats_.cycles;
  scheduler_free_at_ = now_ + options_.cycle;
  if (Grouped(id)) {
    if (auto reason = options_.profile->PreFilter(GroupOf(p.job))) {
      Failed(id, true, *reason);
      PostFilter(id);
      WakeScheduler();
      return;
    }
  }
  const std::vector<std::string> offered = FeasibleNodes(p.pod);
  if (offered.empty()) {
    // No node passed kube-scheduler's own filters: the extender is not asked (§2.3).
    ++stats_.no_fit;
    Trace("  no node passes kube-scheduler's own filters for " + p.pod.name);
    Failed(id, true,
           "0/" + std::to_string(nodes_.size()) + " nodes are available: no node fits the pod");
    if (!engine_) PostFilter(id);
    WakeScheduler();
    return;
  }
  if (!engine_) {
    // No extender: the profile scores the feasible nodes, the pod is assumed on the best one and
    // its binding cycle posts the Binding (DefaultBinder).
    const std::string chosen = ProfileChoice(id, offered);
    p.engine_nodes = {chosen};
    Assume(id, node_index_.at(chosen));
    Permit(id);
    WakeScheduler();
    return;
  }
  ++stats_.filter_calls;
  if (engine_down_) {
    // The extender is not ignorable: a failed call is an error, and the pod backs off (§2.3).
    Failed(id, false, "filter: extender unreachable (gangsched restarting)");
    WakeScheduler();
    return;
  }
  auto hold = [&]() -> std::pair<std::optional<Millis>, std::optional<Millis>> {
    return {engine_->holds().Started(p.gang), engine_->holds().Deadline(p.gang)};
  };
  const auto before = hold();
  FilterOutcome out = CallFilter(*engine_, p.pod, offered, now_);
  const auto after = hold();
  // A hold started in this call (a plan or a victim plan committed) is a new hold, not the old
  // one extended: only an extension by a rejected member breaks DESIGN.md §3.4.
  const bool restarted = before.first != after.first;
  checker_.HoldMoved(p.gang.ToString(), restarted ? std::nullopt : before.second, after.second,
                     out.kind == FilterOutcome::Kind::kNarrowed, now_);
  if (options_.trace) {
    Trace("  filter " + p.pod.name + " over " + std::to_string(offered.size()) + " nodes: " +
          (out.kind == FilterOutcome::Kind::kNarrowed ? "narrowed to " + out.nodes.front()
                                                      : "rejected: " + out.reason));
  }
  switch (out.kind) {
    case FilterOutcome::Kind::kRejected:
      ++stats_.rejected;
      Failed(id, true, out.reason);
      break;
    case FilterOutcome::Kind::kError:
      // An error, not unschedulable: the pod backs off and is retried (§2.3).
      ++stats_.rejected;
      Failed(id, false, "filter: " + out.reason);
      WakeScheduler();
      break;
    case FilterOutcome::Kind::kPreemptOn:
      // kube-scheduler would run its preemption (PostFilter) with the extender's preempt verb;
      // not modelled yet: the pod is parked as unschedulable.
      ++stats_.preempt_on;
      Failed(id, true, out.reason);
      break;
    case FilterOutcome::Kind::kNarrowed: {
      ++stats_.narrowed;
      NotifierLookSoon();
      p.engine_nodes = out.nodes;
      for (const std::string& n : out.nodes) {
        if (std::find(offered.begin(), offered.end(), n) == offered.end()) {
          // "claims a filtered node ... not found in the input node list": an error (§2.3).
          Failed(id, false, "extender claims node " + n + ", which was not offered");
          WakeScheduler();
          return;
        }
      }
      std::string chosen = out.nodes.front();
      if (out.nodes.size() > 1) {
        // Prioritize runs only with more than one feasible node (§2.4); the highest score wins,
        // ties broken at random (selectHost), here from the seeded generator.
        ++stats_.prioritize_calls;
        const auto scores = engine_->Prioritize(p.pod, out.nodes, now_);
        std::int64_t best = -1;
        int ties = 0;
        for (const scheduler::HostScore& s : scores) {
          if (s.score > best) {
            best = s.score;
            chosen = s.host;
            ties = 1;
          } else if (s.score == best && std::uniform_int_distribution<int>(0, ties++)(rng_) == 0) {
            chosen = s.host;
          }
        }
      }
      // Assume: kube-scheduler's cache counts the pod on the node before it is bound, then the
      // binding cycle runs asynchronously (§2.5).
      Assume(id, node_index_.at(chosen));
      p.where = Where::kBinding;
      Push(now_ + options_.bind_call, EventKind::kBindCall, id, p.bind_gen);
      break;
    }
  }
  WakeScheduler();
}

void KubeSchedulerModel::Assume(int id, int node) {
  PodRecord& p = pods_[id];
  requested_[node] += p.pod.requests;
  p.cache_node = node;
}

void KubeSchedulerModel::Forget(int id) {
  PodRecord& p = pods_[id];
  if (p.cache_node < 0) return;
  requested_[p.cache_node] -= p.pod.requests;
  p.cache_node = -1;
}

void KubeSchedulerModel::CreatePod(int id) {
  PodRecord& p = pods_[id];
  JobRecord& job = jobs_[p.job];
  p.created = now_;
  p.queue_ts = now_;
  if (p.recreations == 0) --pods_to_create_;
  last_change_ = now_;
  NotifierLookSoon();
  const bool last = ++job.created == static_cast<int>(job.pods.size());
  if (last) job.last_created = now_;
  checker_.PodCreated(id, p.job, p.pod, now_);
  // Both informers see the new pod; the engine records it as a member (kube/state_source.cc).
  if (options_.source == StateSource::kApi) ToEngine(id, WatchOp::kCreated);
  if (scheduler_down_) {
    p.where = Where::kActive;  // kube-scheduler's list at start-up queues it
    return;
  }
  Activate(id);
}

void KubeSchedulerModel::FinishJob(int j) {
  JobRecord& job = jobs_[j];
  job.finished = now_;
  ++jobs_finished_;
  --jobs_running_;
  last_change_ = now_;
  NotifierLookSoon();
  for (int id : job.pods) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kDeleted || p.where == Where::kNotCreated) continue;
    LeaveQueue(id);
    Forget(id);
    p.where = Where::kDeleted;
    checker_.PodDeleted(id, now_);
    ToEngine(id, WatchOp::kDeleted);
  }
  MoveAll();  // AssignedPodDelete
}

bool KubeSchedulerModel::Busy(Millis quiet) const {
  return pods_to_create_ > 0 || jobs_running_ > 0 || now_ - last_change_ <= quiet;
}

// ---- Views --------------------------------------------------------------------------------------

std::vector<JobOutcome> KubeSchedulerModel::Jobs() const {
  std::vector<JobOutcome> out;
  out.reserve(jobs_.size());
  for (const JobRecord& job : jobs_) {
    JobOutcome o;
    o.id = job.spec.id;
    o.last_created = job.last_created;
    o.bound = job.bound_at;
    o.finished = job.finished;
    o.run_time = job.run_time;
    for (int id : job.pods) {
      const PodRecord& p = pods_[id];
      o.pods.push_back(
          {p.pod.name, p.role, p.pod.node_name, p.created, p.bound_at, p.attempts, p.last_reason});
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace gangsched::sim
