// kube-scheduler's DefaultPreemption in the model (issue 11 item 1): the PostFilter that runs when
// a scheduling attempt finds no node, as pkg/scheduler/framework/preemption/preemption.go
// (Evaluator.Preempt) and plugins/defaultpreemption do it, with the extender's preempt verb
// between the dry run and the choice (reference/extender-protocol.md §2.6):
//  1. PodEligibleToPreemptOthers: a pod whose nominated node still has a lower-priority victim
//     terminating waits for it instead of preempting again;
//  2. the candidates: nodes whose failure was Unschedulable (NodeResourcesFit, or the extender's
//     FailedNodes), each with the fewest lower-priority pods whose removal lets the pod fit
//     (SelectVictimsOnNode: remove every lower-priority pod, then reprieve the most important
//     first while the pod still fits); a node that needs no victim is no candidate. Every
//     potential node is tried (kube-scheduler samples at least max(10%, 100) of them, which on
//     the model's clusters is all);
//  3. the extender's preempt verb with the candidates (NodeNameToMetaVictims); its answer must
//     name nodes of the snapshot and pods kube-scheduler's cache has on them, each node with a
//     victim, or preemption fails with an error;
//  4. the candidate chosen (pickOneNodeForPreemption): fewest PDB violations, then the lowest
//     highest victim priority, the lowest sum of priorities, the fewest victims, the latest start
//     of the most important victims, and the first;
//  5. its victims deleted (they terminate after the grace period), lower-priority pods nominated
//     there lose their nomination, and the pod is nominated there (status.nominatedNodeName).
// The pod is then parked like any unschedulable pod; the victims' deletion moves it back, and its
// next cycle probes the nominated node first (KubeSchedulerModel::NominatedProbe).
#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "scheduler/fit.h"
#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

namespace {

// MoreImportantPod: higher priority, then the earlier start.
bool MoreImportant(const scheduler::Pod& a, Millis a_start, const scheduler::Pod& b,
                   Millis b_start) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a_start < b_start;
}

}  // namespace

scheduler::Resources KubeSchedulerModel::NominatedOn(int node, int id) const {
  scheduler::Resources out;
  const std::int32_t priority = pods_[id].pod.priority;
  for (int other : nominated_[node]) {
    if (other != id && pods_[other].pod.priority >= priority) out += pods_[other].pod.requests;
  }
  return out;
}

void KubeSchedulerModel::Nominate(int id, int node) {
  Unnominate(id, true);
  PodRecord& p = pods_[id];
  p.nominated = node;
  nominated_[node].push_back(id);
  p.pod.nominated_node_name = nodes_[node].name;
}

void KubeSchedulerModel::Unnominate(int id, bool clear_status) {
  PodRecord& p = pods_[id];
  if (p.nominated >= 0) {
    std::vector<int>& on = nominated_[p.nominated];
    on.erase(std::remove(on.begin(), on.end(), id), on.end());
    p.nominated = -1;
  }
  if (clear_status) p.pod.nominated_node_name.clear();
}

std::optional<scheduler::PreemptCandidate> KubeSchedulerModel::DryRun(
    int id, int node, const std::vector<int>& on_node) const {
  const scheduler::Pod& pod = pods_[id].pod;
  const scheduler::Node& n = nodes_[node];
  if (node_deleted_[node] || !scheduler::Admits(n, pod.tolerations, pod.node_selector)) return {};
  scheduler::Resources free = n.allocatable - requested_[node] - NominatedOn(node, id);
  std::vector<int> victims;
  for (int other : on_node) {
    const PodRecord& o = pods_[other];
    if (o.terminating || o.pod.priority >= pod.priority) continue;
    victims.push_back(other);
    free += o.pod.requests;
  }
  if (!free.Fits(pod.requests)) return {};
  std::sort(victims.begin(), victims.end(), [&](int a, int b) {
    return MoreImportant(pods_[a].pod, pods_[a].bound_at, pods_[b].pod, pods_[b].bound_at);
  });
  scheduler::PreemptCandidate candidate{n.name, {}, 0};
  for (int v : victims) {
    const scheduler::Resources without = free - pods_[v].pod.requests;
    if (without.Fits(pod.requests)) {
      free = without;  // reprieved: the pod fits with this one staying
    } else {
      candidate.victim_uids.push_back(pods_[v].pod.uid);
    }
  }
  if (candidate.victim_uids.empty()) return {};  // fits without evicting: no candidate
  return candidate;
}

KubeSchedulerModel::Preempted KubeSchedulerModel::DefaultPreemption(int id,
                                                                    std::vector<int> potential,
                                                                    std::string& error) {
  PodRecord& p = pods_[id];
  if (!options_.preemption) return Preempted::kNone;
  std::sort(potential.begin(), potential.end());
  potential.erase(std::unique(potential.begin(), potential.end()), potential.end());
  // Every victim (steps 1 and 2) has a lower priority than the pod: with no such pod in the cache
  // there is no candidate, and the answer is the one the steps below would give.
  if (cached_priorities_.empty() || cached_priorities_.begin()->first >= p.pod.priority) {
    return Preempted::kNone;
  }
  // 1. Not eligible while a lower-priority victim still terminates on its nominated node.
  if (p.nominated >= 0) {
    for (int other : cached_on_[p.nominated]) {
      if (pods_[other].terminating && pods_[other].pod.priority < p.pod.priority) {
        Trace("  preemption: " + p.pod.name + " waits for its victims on " +
              nodes_[p.nominated].name + " to terminate");
        return Preempted::kNone;
      }
    }
  }
  // 2. Candidates.
  std::vector<scheduler::PreemptCandidate> candidates;
  for (int n : potential) {
    if (auto c = DryRun(id, n, cached_on_[n])) candidates.push_back(std::move(*c));
  }
  if (candidates.empty()) return Preempted::kNone;
  // 3. The extender's preempt verb.
  if (engine_down_) {
    error = "preempt: extender unreachable (gangsched restarting)";
    ++stats_.preempt_errors;
    return Preempted::kError;
  }
  ++stats_.preempt_calls;
  std::vector<scheduler::PreemptCandidate> kept = engine_->Preempt(p.pod, candidates, now_);
  struct Choice {
    int node = -1;
    std::vector<int> victims;
  };
  std::vector<Choice> choices;
  for (const scheduler::PreemptCandidate& c : kept) {
    const auto it = node_index_.find(c.node);
    if (it == node_index_.end() || node_deleted_[it->second]) {
      error = "extender claims node " + c.node + ", which is not in the snapshot";
    } else if (c.victim_uids.empty()) {
      error = "expected at least one victim pod on node " + c.node;
    }
    Choice choice{it == node_index_.end() ? -1 : it->second, {}};
    for (const std::string& uid : c.victim_uids) {
      const auto v = uid_index_.find(uid);
      if (error.empty() && (v == uid_index_.end() || pods_[v->second].cache_node != choice.node)) {
        error =
            "extender claims to preempt pod " + uid + " but the pod is not found on node " + c.node;
      }
      if (v != uid_index_.end()) choice.victims.push_back(v->second);
    }
    if (!error.empty()) {
      ++stats_.preempt_errors;
      Trace("  preemption for " + p.pod.name + " failed: " + error);
      return Preempted::kError;
    }
    choices.push_back(std::move(choice));
  }
  if (choices.empty()) {
    if (options_.trace) {
      const auto g = engine_->GangOf(p.gang, now_);
      Trace("  preemption for " + p.pod.name + ": the extender kept none of " +
            std::to_string(candidates.size()) + " candidates" +
            (g ? " (gang " + p.gang.ToString() + ": " + g->reason + ")" : std::string()));
    }
    return Preempted::kNone;
  }
  // 4. pickOneNodeForPreemption (no PodDisruptionBudgets in the model).
  auto key = [&](const Choice& c) {
    std::int64_t highest = std::numeric_limits<std::int32_t>::min();
    std::int64_t sum = 0;
    Millis start = std::numeric_limits<Millis>::max();
    for (int v : c.victims) {
      const std::int64_t prio = pods_[v].pod.priority;
      sum += prio + std::int64_t{1} + std::numeric_limits<std::int32_t>::max();
      if (prio > highest) {
        highest = prio;
        start = pods_[v].bound_at;
      } else if (prio == highest) {
        start = std::min(start, pods_[v].bound_at);
      }
    }
    // The latest start of the highest-priority victims wins: negate it to sort ascending.
    return std::make_tuple(highest, sum, c.victims.size(), -start);
  };
  const Choice* best = &choices.front();
  for (const Choice& c : choices) {
    if (key(c) < key(*best)) best = &c;
  }
  // 5. Evict, clear lower-priority nominations there, nominate.
  Trace("  preemption for " + p.pod.name + ": " + std::to_string(best->victims.size()) +
        " victim(s) on " + nodes_[best->node].name);
  ++stats_.preemptions;
  std::set<int> victim_jobs;
  for (int v : best->victims) {
    if (!pods_[v].terminating && pods_[v].where != Where::kDeleted)
      victim_jobs.insert(pods_[v].job);
    Evict(v);
  }
  for (int j : victim_jobs) ++jobs_[j].preempted;
  for (int other : std::vector<int>(nominated_[best->node])) {
    if (pods_[other].pod.priority < p.pod.priority) {
      Unnominate(other, true);
      // The status update is a pod update: a parked pod is retried.
      if (pods_[other].where == Where::kUnschedulable) Unpark(other);
    }
  }
  Nominate(id, best->node);
  return Preempted::kNominated;
}

void KubeSchedulerModel::Evict(int victim) {
  PodRecord& v = pods_[victim];
  if (v.terminating || v.where == Where::kDeleted) return;
  ++stats_.victims;
  v.terminating = true;
  // The victim's gang may be evicted node by node: its partial binding and liveness clocks start
  // again from here.
  checker_.Disturbed(v.job, now_);
  Trace("  evict " + v.pod.name + " from " +
        (v.cache_node >= 0 ? nodes_[v.cache_node].name : std::string("?")));
  Push(now_ + options_.victim_termination, EventKind::kEvicted, victim);
}

}  // namespace gangsched::sim
