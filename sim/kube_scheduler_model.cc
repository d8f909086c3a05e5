#include "sim/kube_scheduler_model.h"

#include <algorithm>
#include <utility>

namespace gangsched::sim {

namespace {

constexpr const char* kNamespace = "ml";
constexpr const char* kSchedulerName = "gang-scheduler";
constexpr const char* kGangAnnotation = "gangsched.io/gang";
constexpr const char* kMinMembersAnnotation = "gangsched.io/min-members";
constexpr const char* kPodGroupLabel = "scheduling.x-k8s.io/pod-group";
constexpr const char* kKubeflowJobNameLabel = "training.kubeflow.org/job-name";
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
      nominated_(nodes_.size()),
      cached_on_(nodes_.size()),
      node_deleted_(nodes_.size(), false) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    node_index_.emplace(nodes_[i].name, static_cast<int>(i));
  }
  if (options_.profile && options_.profile->PlacesGroups()) topology_ = NodeTopology::Of(nodes_);
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
        if (w.pod_group) {
          // coscheduling's label and the operator's role labels: the size is the PodGroup's.
          pod.labels[kPodGroupLabel] = w.id;
          if (!role.name.empty()) {
            pod.labels[kReplicaTypeLabel] = role.name;
            pod.labels[kReplicaIndexLabel] = std::to_string(i);
          }
        } else if (w.kubeflow) {
          // The training-operator's labels only: the size is the job object's.
          pod.labels[kKubeflowJobNameLabel] = w.id;
          pod.labels[kReplicaTypeLabel] = role.name;
          pod.labels[kReplicaIndexLabel] = std::to_string(i);
        } else if (w.gang) {
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
    if (w.kubeflow || w.pod_group) Push(w.arrival + w.roster_offset, EventKind::kRoster, j);
    jobs_.push_back(std::move(job));
  }
  if (engine_ && options_.source == StateSource::kStandalone) RostersToEngine();
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
      return "pod " + pod() + " created (" +
             std::to_string(pods_.at(static_cast<std::size_t>(e.subject)).pod.requests.gpus) +
             " GPUs)";
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
    case EventKind::kEvicted:
      return "preemption victim " + pod() + " terminated";
    case EventKind::kRoster:
      return "watch: gangsched sees job " + jobs_.at(static_cast<std::size_t>(e.subject)).spec.id;
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
      ++stats_.flushed;
      Unpark(e.subject);
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
    case EventKind::kJobFinish: {
      const JobRecord& job = jobs_[e.subject];
      // A job that stopped (a pod of it deleted) finishes only on its later run's event.
      if (job.finish_scheduled && job.finish_gen == e.gen) FinishJob(e.subject);
      break;
    }
    case EventKind::kEvicted:
      if (pods_[e.subject].where != Where::kDeleted) DeletePod(e.subject);
      break;
    case EventKind::kRoster: {
      JobRecord& job = jobs_[e.subject];
      if (job.finished >= 0) break;
      job.roster_seen = true;
      if (engine_ && !engine_down_ && options_.source == StateSource::kApi) {
        if (job.spec.pod_group) {
          // kube/state_source.cc gives the engine the group's pods again, with its size.
          for (int id : job.pods) {
            const Where w = pods_[id].where;
            if (w != Where::kNotCreated && w != Where::kDeleted) ToEngine(id, WatchOp::kCreated);
          }
        } else {
          engine_->UpsertRoster(RosterOf(e.subject));
        }
        NotifierLookSoon();  // the gang may have its quorum now
      }
      break;
    }
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
  } else if (options_.profile && options_.profile->PlacesGroups()) {
    // The peers that place groups take jobs by priority, then creation (Kueue's BestEffortFIFO,
    // Volcano's and KAI's job order, the 1.36 workload queue).
    p.active_ts = jobs_[p.job].spec.arrival;
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

void KubeSchedulerModel::Unpark(int id) {
  unschedulable_.erase(id);
  if (now_ < pods_[id].backoff_until) {
    ToBackoff(id);
  } else {
    Activate(id);
  }
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
  for (int id : moving) Unpark(id);
}

void KubeSchedulerModel::WakeScheduler() {
  if (scheduler_down_ || cycle_scheduled_ || active_.empty()) return;
  cycle_scheduled_ = true;
  Push(std::max(now_, scheduler_free_at_), EventKind::kCycle);
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
  job.finish_scheduled = false;
  // The job object goes with its pods (ttlSecondsAfterFinished: 0).
  if (job.roster_seen && job.spec.kubeflow && engine_ && !engine_down_ &&
      options_.source == StateSource::kApi) {
    engine_->RemoveRoster(RosterOf(j).key);
  }
  ++jobs_finished_;
  --jobs_running_;
  last_change_ = now_;
  NotifierLookSoon();
  for (int id : job.pods) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kDeleted || p.where == Where::kNotCreated) continue;
    LeaveQueue(id);
    Forget(id);
    Unnominate(id, true);
    p.where = Where::kDeleted;
    checker_.PodDeleted(id, now_);
    ToEngine(id, WatchOp::kDeleted);
  }
  MoveAll();  // AssignedPodDelete
}

scheduler::GangSpec KubeSchedulerModel::RosterOf(int j) const {
  const WorkloadJob& w = jobs_[j].spec;
  scheduler::GangSpec spec;
  spec.key = {kNamespace, w.id};
  spec.kind = "TFJob kubeflow.org/v1";
  spec.priority = w.priority;
  for (const RoleTemplate& role : w.roles) {
    scheduler::RoleSpec r;
    r.name = role.name;
    r.replicas = role.replicas;
    r.min_members = role.replicas;
    r.per_pod = role.requests;
    r.per_pod.pods = 1;
    r.node_selector = w.node_selector;
    r.tolerations = w.tolerations;
    spec.roles.push_back(std::move(r));
  }
  spec.pattern = scheduler::InferPattern(spec.roles);
  return spec;
}

void KubeSchedulerModel::RostersToEngine() {
  for (int j = 0; j < static_cast<int>(jobs_.size()); ++j) {
    const JobRecord& job = jobs_[j];
    if (!job.spec.kubeflow || job.finished >= 0) continue;  // PodGroups: EngineView
    if (options_.source == StateSource::kApi && !job.roster_seen) continue;
    engine_->UpsertRoster(RosterOf(j));
  }
}

scheduler::Pod KubeSchedulerModel::EngineView(int id) const {
  const PodRecord& p = pods_[id];
  const JobRecord& job = jobs_[p.job];
  if (!job.spec.pod_group || !job.roster_seen) return p.pod;
  // A PodGroup member carries its group's size as gangsched's own keys (kube/state_source.cc).
  scheduler::Pod out = p.pod;
  out.annotations[kGangAnnotation] = job.spec.id;
  out.annotations[kMinMembersAnnotation] = std::to_string(job.spec.Pods());
  return out;
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
    o.preempted = job.preempted;
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
