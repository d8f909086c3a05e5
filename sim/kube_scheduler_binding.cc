// The kube-scheduler model's binding cycle (sim/kube_scheduler_model.h): the bind request to the
// extender and the engine's barrier answer, the default binder of a profile without the extender,
// the API's answer to posted Bindings, and the watch that reports them bound.
#include <algorithm>

#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

void KubeSchedulerModel::BindCall(int id) {
  PodRecord& p = pods_[id];
  if (p.where != Where::kBinding || p.cache_node < 0) return;
  p.bind_pending = true;
  ++stats_.bind_calls;
  if (!engine_) {
    PostBinding(id);
    return;
  }
  if (engine_down_) {
    AnswerBindError(id, "bind extender unreachable (gangsched restarting)");
    return;
  }
  const scheduler::BarrierDecision d =
      engine_->Bind(p.pod.namespace_name, p.pod.name, p.pod.uid, nodes_[p.cache_node].name, now_);
  if (options_.trace) {
    static const char* kActions[] = {"wait", "bind", "reject"};
    Trace("  bind " + p.pod.name + " on " + nodes_[p.cache_node].name + ": " +
          kActions[static_cast<int>(d.action)] + " " + std::to_string(d.pods.size()) + " pods " +
          d.reason);
  }
  if (d.action == scheduler::BarrierAction::kWait) {
    ++stats_.binds_held;
    Push(now_ + options_.engine.holds.bind_timeout, EventKind::kBindTimeout, id, p.bind_gen);
  }
  Apply(d, id);
}

void KubeSchedulerModel::Apply(const scheduler::BarrierDecision& d, int requester) {
  switch (d.action) {
    case scheduler::BarrierAction::kWait:
      return;
    case scheduler::BarrierAction::kReject:
      for (const scheduler::BindOrder& o : d.pods) {
        if (auto it = uid_index_.find(o.pod_uid); it != uid_index_.end()) {
          AnswerBindError(it->second, d.reason);
        }
      }
      if (d.pods.empty() && requester >= 0) AnswerBindError(requester, d.reason);
      return;
    case scheduler::BarrierAction::kBind: {
      // The extender posts every Binding of the released gang at once (DESIGN.md §3.6).
      const int batch = static_cast<int>(batches_.size());
      Batch b;
      b.orders = d.pods;
      b.engine_gen = engine_gen_;
      for (const scheduler::BindOrder& o : d.pods) {
        const PodRecord& p = pods_[uid_index_.at(o.pod_uid)];
        b.engine_nodes.push_back(p.engine_nodes);
        b.assumed.push_back(p.bind_pending && p.cache_node >= 0 ? nodes_[p.cache_node].name : "");
      }
      batches_.push_back(std::move(b));
      Push(now_ + options_.binding_post, EventKind::kBindingsDone, batch);
      return;
    }
  }
}

void KubeSchedulerModel::AnswerBindError(int id, const std::string& error) {
  PodRecord& p = pods_[id];
  if (!p.bind_pending) return;
  p.bind_pending = false;
  ++p.bind_gen;
  ++stats_.bind_errors;
  if (p.where == Where::kDeleted || p.where == Where::kBound) {
    // A deleted pod is not requeued; nor is one the informer already shows bound, whose Binding
    // succeeded though the reply failed (§2.5, issue #96579).
    Forget(id);
    if (p.where == Where::kBound) Assume(id, node_index_.at(p.pod.node_name));
    return;
  }
  // A failed binding cycle forgets the assumed pod, requeues it with backoff and moves every other
  // parked pod, since the forgotten pod freed room (§2.5, handleBindingCycleError).
  Forget(id);
  Failed(id, false, "bind: " + error);
  MoveAll(id);
}

void KubeSchedulerModel::BindingsDone(int batch) {
  Batch b = std::move(batches_[batch]);
  batches_[batch] = {};
  // The engine that posted them hears the results; after a restart nobody does (the new process
  // learns from its list and watch), and kube-scheduler's held requests were answered already.
  const bool poster_alive = !engine_ || (b.engine_gen == engine_gen_ && !engine_down_);
  for (std::size_t k = 0; k < b.orders.size(); ++k) {
    const scheduler::BindOrder& o = b.orders[k];
    const int id = uid_index_.at(o.pod_uid);
    PodRecord& p = pods_[id];
    const int n = node_index_.at(o.node);
    std::string error;
    if (p.where == Where::kDeleted) {
      error = "pods \"" + p.pod.name + "\" not found (UID precondition)";
    } else if (!p.pod.node_name.empty()) {
      error = "pod " + p.pod.name + " is already assigned to node " + p.pod.node_name;  // 409
    } else if (node_deleted_[n]) {
      // A real API server accepts it and the pod garbage collector deletes the pod later; the
      // model refuses it at once.
      error = "node " + o.node + " not found";
    } else if (Draw(FaultKind::kBindingRejected, options_.faults.binding_rejected,
                    std::string(FaultName(FaultKind::kBindingRejected)) + " " + p.pod.name + " " +
                        p.pod.uid + " #" + std::to_string(p.bindings))) {
      error = "Binding rejected by the API server (injected fault)";
    }
    ++p.bindings;
    if (error.empty()) {
      ++stats_.bindings;
      last_change_ = now_;
      p.pod.node_name = o.node;
      p.pod.phase = scheduler::PodPhase::kRunning;
      checker_.BindingPosted(id, o.node, b.engine_nodes[k], b.assumed[k], now_);
      Push(now_ + options_.watch, EventKind::kWatchBound, id);
    } else {
      ++stats_.bindings_refused;
      Trace("  Binding of " + p.pod.name + " to " + o.node + " refused: " + error);
      if (p.where != Where::kDeleted) checker_.Disturbed(p.job, now_);
    }
    if (!poster_alive) continue;
    if (engine_) engine_->BindResult(o.pod_uid, error.empty(), error, now_);
    if (!error.empty()) {
      AnswerBindError(id, error);
    } else if (p.bind_pending) {
      // The held bind request is answered: the binding cycle succeeded.
      p.bind_pending = false;
      ++p.bind_gen;
    }
  }
}

void KubeSchedulerModel::WatchBound(int id) {
  PodRecord& p = pods_[id];
  if (p.where == Where::kDeleted) return;
  if (options_.source == StateSource::kApi) ToEngine(id, WatchOp::kBound);
  // kube-scheduler's informer: while it restarts, its list at start-up sees the pod bound.
  if (p.where != Where::kBound && !scheduler_down_) SeenBound(id);
}

void KubeSchedulerModel::SeenBound(int id) {
  PodRecord& p = pods_[id];
  // An assigned pod leaves the scheduling queue and is confirmed in the cache on its bound node.
  LeaveQueue(id);
  const int n = node_index_.at(p.pod.node_name);
  if (p.cache_node != n) {
    Forget(id);
    Assume(id, n);
  }
  p.where = Where::kBound;
  p.bound_at = now_;
  // The API clears a bound pod's nominatedNodeName (ClearingNominatedNodeNameAfterBinding).
  Unnominate(id, true);
  JobRecord& job = jobs_[p.job];
  if (++job.bound == static_cast<int>(job.pods.size()) && !job.finish_scheduled) {
    if (job.bound_at < 0) job.bound_at = now_;
    job.finish_scheduled = true;
    if (job.remaining < 0) {
      job.run_time = job.spec.duration;
      if (options_.run_time) {
        std::vector<std::size_t> nodes;
        for (int member : job.pods) {
          nodes.push_back(static_cast<std::size_t>(node_index_.at(pods_[member].pod.node_name)));
        }
        job.run_time = options_.run_time(p.job, nodes);
      }
      job.remaining = job.run_time;
    }
    // A job a deletion stopped runs for the time it had left (it resumes from a checkpoint).
    ++jobs_running_;
    job.finish_at = now_ + job.remaining;
    Push(job.finish_at, EventKind::kJobFinish, p.job, job.finish_gen);
  }
  MoveAll();  // AssignedPodAdd
}

void KubeSchedulerModel::PostBinding(int id) {
  // DefaultBinder: the binding cycle posts the pod's Binding to the node it was assumed on.
  PodRecord& p = pods_[id];
  const std::string& node = nodes_[p.cache_node].name;
  const int batch = static_cast<int>(batches_.size());
  Batch b;
  b.orders.push_back({p.pod.uid, node, p.pod.namespace_name, p.pod.name});
  b.engine_nodes.push_back(p.engine_nodes);
  b.assumed.push_back(node);
  b.engine_gen = engine_gen_;
  batches_.push_back(std::move(b));
  Push(now_ + options_.binding_post, EventKind::kBindingsDone, batch);
}

std::string KubeSchedulerModel::ProfileChoice(int id, const std::vector<std::string>& offered) {
  // The Score plugins over the feasible nodes; selectHost takes the highest score, ties broken
  // at random (here from the seeded generator).
  const scheduler::Pod& pod = pods_[id].pod;
  std::string chosen = offered.front();
  std::int64_t best = -1;
  int ties = 0;
  for (const std::string& name : offered) {
    const int n = node_index_.at(name);
    const std::int64_t score =
        options_.profile->Score(pod, nodes_[n], requested_[n] + pod.requests);
    if (score > best) {
      best = score;
      chosen = name;
      ties = 1;
    } else if (score == best && std::uniform_int_distribution<int>(0, ties++)(rng_) == 0) {
      chosen = name;
    }
  }
  return chosen;
}

}  // namespace gangsched::sim
