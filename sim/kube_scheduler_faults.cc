// The kube-scheduler model's faults (sim/faults.h) and the engine's watch they delay: the
// handlers of KubeSchedulerModel's fault events. Each follows what the real component does when
// the fault happens; the comments name the behaviour they copy.
#include <algorithm>
#include <random>

#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

// ---- The engine's watch -------------------------------------------------------------------------

void KubeSchedulerModel::ToEngine(int id, WatchOp op) {
  // No engine under a profile; while gangsched restarts, its list when it is up sees the pod.
  if (!engine_ || engine_down_) return;
  PodRecord& p = pods_[id];
  Millis at = now_;
  const std::string fault = std::string(FaultName(FaultKind::kWatchDelayed)) + " " + p.pod.name +
                            " " + p.pod.uid + " #" + std::to_string(p.engine_events++);
  if (Draw(FaultKind::kWatchDelayed, options_.faults.watch_delayed, fault)) {
    at += 1 + static_cast<Millis>(FaultPick(
                  options_.seed, fault + " delay",
                  static_cast<std::size_t>(std::max<Millis>(1, options_.faults.watch_delay_max))));
  }
  // One object's events keep their order (a watch is ordered per resource version).
  at = std::max(at, p.engine_seen_at);
  const bool overtaken = p.engine_seen_at >= now_;
  p.engine_seen_at = at;
  Delivery d{EngineView(id), op, engine_gen_};
  if (at == now_ && !overtaken) {
    Deliver(d);
    return;
  }
  deliveries_.push_back(std::move(d));
  Push(at, EventKind::kEngineWatch, static_cast<int>(deliveries_.size() - 1));
}

void KubeSchedulerModel::Deliver(const Delivery& d) {
  if (!engine_ || engine_down_ || d.engine_gen != engine_gen_) return;  // that process is gone
  if (d.op == WatchOp::kDeleted) {
    if (auto decision = engine_->RemovePod(d.pod.uid)) Apply(*decision, -1);
  } else {
    engine_->UpsertPod(d.pod);
  }
}

std::vector<scheduler::Node> KubeSchedulerModel::PresentNodes() const {
  std::vector<scheduler::Node> out;
  out.reserve(nodes_.size());
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    if (!node_deleted_[n]) out.push_back(nodes_[n]);
  }
  return out;
}

void KubeSchedulerModel::NodesToEngine() {
  // kube/state_source.cc replaces the engine's inventory on a node event; the watch may be late.
  Millis at = now_ + options_.watch;
  const std::string fault =
      std::string(FaultName(FaultKind::kWatchDelayed)) + " nodes #" +
      std::to_string(stats_.faults[static_cast<int>(FaultKind::kNodeDeleted)] +
                     stats_.faults[static_cast<int>(FaultKind::kNodeCordoned)]) +
      " at " + std::to_string(now_);
  if (Draw(FaultKind::kWatchDelayed, options_.faults.watch_delayed, fault)) {
    at += FaultPick(options_.seed, fault + " delay",
                    static_cast<std::size_t>(std::max<Millis>(1, options_.faults.watch_delay_max)));
  }
  Push(at, EventKind::kEngineNodes, -1, engine_gen_);
}

// ---- Fault timeline -----------------------------------------------------------------------------

bool KubeSchedulerModel::Inject(FaultKind kind, const std::string& id) {
  if (options_.faults.disabled.count(id)) return false;
  ++stats_.faults[static_cast<int>(kind)];
  injected_.push_back(id);
  Trace("  fault " + id);
  return true;
}

bool KubeSchedulerModel::Draw(FaultKind kind, double p, const std::string& id) {
  if (p <= 0 || FaultDraw(options_.seed, id) >= p) return false;
  return Inject(kind, id);
}

void KubeSchedulerModel::ScheduleFault(FaultKind kind, std::uint64_t index) {
  const FaultOptions& f = options_.faults;
  Millis every = 0;
  switch (kind) {
    case FaultKind::kNodeDeleted:
      every = f.node_deleted_every;
      break;
    case FaultKind::kNodeCordoned:
      every = f.node_cordoned_every;
      break;
    case FaultKind::kPodRecreated:
      every = f.pod_recreated_every;
      break;
    case FaultKind::kGangschedRestart:
      // Standalone serve has no API to rebuild from: a restart there forgets every bound pod.
      every = options_.source == StateSource::kApi ? f.gangsched_restart_every : 0;
      break;
    case FaultKind::kKubeSchedulerRestart:
      every = f.kube_scheduler_restart_every;
      break;
    case FaultKind::kBindingRejected:
    case FaultKind::kWatchDelayed:
      return;  // tied to opportunities, not to time
  }
  if (every <= 0) return;
  // Once every job has finished, no more faults: the run drains.
  if (!jobs_.empty() && jobs_finished_ == static_cast<int>(jobs_.size())) return;
  // Each kind draws its times from its own stream, so leaving a fault out moves no other.
  std::mt19937_64& stream = fault_streams_[static_cast<int>(kind)];
  const auto gap = static_cast<Millis>(
      std::exponential_distribution<double>(1.0 / static_cast<double>(every))(stream));
  Push(now_ + 1 + gap, EventKind::kFault, static_cast<int>(kind), index);
}

void KubeSchedulerModel::Fault(FaultKind kind, std::uint64_t index) {
  ScheduleFault(kind, index + 1);
  const std::string id = std::string(FaultName(kind)) + " #" + std::to_string(index);
  switch (kind) {
    case FaultKind::kNodeDeleted:
    case FaultKind::kNodeCordoned:
      NodeFault(kind, id);
      return;
    case FaultKind::kPodRecreated:
      RecreatePod(id);
      return;
    case FaultKind::kGangschedRestart:
      if (engine_down_ || !Inject(kind, id)) return;
      RestartGangsched();
      return;
    case FaultKind::kKubeSchedulerRestart:
      if (scheduler_down_ || !Inject(kind, id)) return;
      RestartKubeScheduler();
      return;
    case FaultKind::kBindingRejected:
    case FaultKind::kWatchDelayed:
      return;
  }
}

// ---- Nodes --------------------------------------------------------------------------------------

std::vector<int> KubeSchedulerModel::PlannedNodes() const {
  std::vector<int> out;
  if (!engine_ || engine_down_) return out;
  for (const scheduler::GangStatus& g : engine_->Gangs(now_)) {
    if (!g.plan ||
        (g.phase != scheduler::GangPhase::kPlanned && g.phase != scheduler::GangPhase::kBinding)) {
      continue;
    }
    for (const scheduler::PodPlacement& p : g.plan->pods) {
      if (auto it = node_index_.find(p.node); it != node_index_.end()) out.push_back(it->second);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void KubeSchedulerModel::NodeFault(FaultKind kind, const std::string& id) {
  const bool deleting = kind == FaultKind::kNodeDeleted;
  // A deleted node's pods would be deleted by the pod garbage collector and recreated by their
  // operators; the model deletes only nodes no pod is bound to (pod faults cover the rest).
  std::vector<bool> occupied(nodes_.size(), false);
  for (const PodRecord& p : pods_) {
    if (p.where != Where::kDeleted && !p.pod.node_name.empty()) {
      occupied[node_index_.at(p.pod.node_name)] = true;
    }
  }
  auto eligible = [&](int n) {
    if (node_deleted_[n]) return false;
    return deleting ? !occupied[n] : !nodes_[n].unschedulable;
  };
  // Mid-barrier first: a node some held plan uses.
  std::vector<int> candidates;
  for (int n : PlannedNodes()) {
    if (eligible(n)) candidates.push_back(n);
  }
  if (candidates.empty()) {
    for (int n = 0; n < static_cast<int>(nodes_.size()); ++n) {
      if (eligible(n)) candidates.push_back(n);
    }
  }
  if (candidates.empty() || !Inject(kind, id)) return;
  const int n = candidates[FaultPick(options_.seed, id, candidates.size())];
  Trace("  node " + nodes_[n].name + (deleting ? " deleted" : " cordoned"));
  if (deleting) {
    node_deleted_[n] = true;
  } else {
    nodes_[n].unschedulable = true;
  }
  checker_.NodeChanged(n, false, now_);
  checker_.Disturbed(-1, now_);
  NodesToEngine();
  MoveAll();  // a node event; extender-rejected pods move on any (§2.3)
  Push(now_ + options_.faults.node_down, EventKind::kNodeBack, n, deleting ? 0 : 1);
}

void KubeSchedulerModel::NodeBack(int n, bool uncordon) {
  if (uncordon) {
    nodes_[n].unschedulable = false;
  } else {
    node_deleted_[n] = false;
  }
  checker_.NodeChanged(n, !node_deleted_[n] && !nodes_[n].unschedulable, now_);
  // A gang whose held slot was on the node could not complete while it was away.
  checker_.Disturbed(-1, now_);
  NodesToEngine();
  MoveAll();  // NodeAdd / NodeUpdate
}

// ---- Pods ---------------------------------------------------------------------------------------

void KubeSchedulerModel::RecreatePod(const std::string& id) {
  std::vector<int> candidates;
  for (const JobRecord& job : jobs_) {
    if (!job.spec.gang || job.finished >= 0) continue;
    for (int pod : job.pods) {
      const Where w = pods_[pod].where;
      if (w != Where::kNotCreated && w != Where::kDeleted) candidates.push_back(pod);
    }
  }
  if (candidates.empty() || !Inject(FaultKind::kPodRecreated, id)) return;
  DeletePod(candidates[FaultPick(options_.seed, id, candidates.size())]);
}

void KubeSchedulerModel::DeletePod(int pod) {
  PodRecord& p = pods_[pod];
  JobRecord& job = jobs_[p.job];
  Trace("  pod " + p.pod.name + " deleted");
  const bool held_capacity = p.where == Where::kBound || p.cache_node >= 0;
  LeaveQueue(pod);
  Forget(pod);
  Unnominate(pod, true);
  if (p.where == Where::kBound) --job.bound;
  --job.created;
  p.where = Where::kDeleted;
  p.terminating = false;
  if (job.finish_scheduled) {
    // A training job does not run with a pod missing: it stops, and resumes once its pods are
    // bound again.
    job.finish_scheduled = false;
    ++job.finish_gen;
    job.remaining = std::max<Millis>(0, job.finish_at - now_);
    --jobs_running_;
  }
  checker_.PodDeleted(pod, now_);
  ToEngine(pod, WatchOp::kDeleted);
  if (held_capacity) MoveAll();  // AssignedPodDelete
  Push(now_ + options_.faults.recreate_delay, EventKind::kRecreatePod, pod);
}

void KubeSchedulerModel::ReplacePod(int old) {
  const int j = pods_[old].job;
  if (jobs_[j].finished >= 0) return;
  // The operator creates a pod of the same name and role; the API gives it a new UID.
  PodRecord p;
  p.job = j;
  p.role = pods_[old].role;
  p.gang = pods_[old].gang;
  p.recreations = pods_[old].recreations + 1;
  p.pod = pods_[old].pod;
  p.pod.uid = "uid-" + p.pod.name + "-r" + std::to_string(p.recreations);
  p.pod.node_name.clear();
  p.pod.phase = scheduler::PodPhase::kPending;
  const int id = static_cast<int>(pods_.size());
  uid_index_.emplace(p.pod.uid, id);
  pods_.push_back(std::move(p));
  std::vector<int>& members = jobs_[j].pods;
  *std::find(members.begin(), members.end(), old) = id;
  CreatePod(id);
}

// ---- Restarts -----------------------------------------------------------------------------------

void KubeSchedulerModel::RestartGangsched() {
  // The process dies: every bind request it held fails (the connection breaks), Bindings it
  // already posted still reach the API, and nothing it kept in memory survives.
  engine_down_ = true;
  ++engine_gen_;
  tick_armed_.reset();
  last_tick_.reset();
  for (int id = 0; id < static_cast<int>(pods_.size()); ++id) {
    if (pods_[id].bind_pending) AnswerBindError(id, "bind extender: connection reset");
  }
  checker_.Disturbed(-1, now_);
  Push(now_ + options_.faults.gangsched_down, EventKind::kGangschedUp);
}

void KubeSchedulerModel::GangschedUp() {
  // As API mode starts (kube/state_source.cc): the nodes, then every pod with its node, from a
  // fresh list; held plans are simply planned again (DESIGN.md §3.8).
  auto state = scheduler::ClusterState::Create(PresentNodes(), options_.engine.state);
  if (!state) {
    Trace("  gangsched cannot start: " + state.error());
    return;
  }
  engine_ = std::make_unique<scheduler::GangScheduler>(std::move(*state), options_.engine);
  engine_down_ = false;
  RostersToEngine();
  for (int id = 0; id < static_cast<int>(pods_.size()); ++id) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kNotCreated || p.where == Where::kDeleted) continue;
    engine_->UpsertPod(EngineView(id));
    p.engine_seen_at = -1;
  }
  checker_.Disturbed(-1, now_);
}

void KubeSchedulerModel::RestartKubeScheduler() {
  // Its queues, its cache (assumed pods included) and its binding cycles are gone. Bind requests
  // gangsched holds stay held until gangsched answers them; nobody listens any more.
  scheduler_down_ = true;
  active_.clear();
  unschedulable_.clear();
  cycle_scheduled_ = false;
  std::fill(requested_.begin(), requested_.end(), scheduler::Resources{});
  for (std::vector<int>& on : nominated_) on.clear();
  for (std::vector<int>& on : cached_on_) on.clear();
  cached_priorities_.clear();
  for (PodRecord& p : pods_) {
    p.nominated = -1;  // the nominator is rebuilt from the pods' status at start-up
    ++p.queue_gen;
    ++p.bind_gen;
    p.bind_pending = false;
    p.cache_node = -1;
  }
  checker_.Disturbed(-1, now_);
  Push(now_ + options_.faults.kube_scheduler_down, EventKind::kKubeSchedulerUp);
}

void KubeSchedulerModel::KubeSchedulerUp() {
  // A fresh list: bound pods fill the cache, every other pod is in activeQ in creation order
  // with no backoff.
  scheduler_down_ = false;
  for (int id = 0; id < static_cast<int>(pods_.size()); ++id) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kNotCreated || p.where == Where::kDeleted) continue;
    if (!p.pod.node_name.empty()) {
      if (p.where == Where::kBound) {
        Assume(id, node_index_.at(p.pod.node_name));
      } else {
        SeenBound(id);
      }
    }
  }
  for (int id = 0; id < static_cast<int>(pods_.size()); ++id) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kNotCreated || p.where == Where::kDeleted || p.where == Where::kBound) {
      continue;
    }
    p.queue_ts = p.created;
    p.backoff_until = 0;
    p.attempts = 0;
    if (auto it = node_index_.find(p.pod.nominated_node_name); it != node_index_.end()) {
      p.nominated = it->second;
      nominated_[it->second].push_back(id);
    }
    Activate(id);
  }
  checker_.Disturbed(-1, now_);
}

}  // namespace gangsched::sim
