// kube-scheduler's scheduling cycle in the model (KubeSchedulerModel, issue 11 item 1): its own
// Filter plugins over its cache, the nominated-node probe, the extender's filter with the nodes
// that survived, prioritize when more than one is left, assume, and PostFilter when nothing fits
// (reference/extender-protocol.md §2.3-2.6). Queue moves and the binding cycle are elsewhere.
#include <algorithm>
#include <utility>

#include "scheduler/fit.h"
#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

namespace {

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

// ---- Scheduling cycle ---------------------------------------------------------------------------

std::vector<std::string> KubeSchedulerModel::FeasibleNodes(int id, std::vector<int>* resolvable,
                                                           int only) {
  // kube-scheduler's own Filter plugins over its cache (bound and assumed pods): NodeUnschedulable
  // (cordon), TaintToleration, NodeAffinity (nodeSelector), NodeResourcesFit, with the pods
  // nominated on a node that outrank this one counted there (addGEPriorityNominatedPods). It walks
  // the nodes from where the previous cycle stopped and stops once it has found enough (§2.3).
  // Only NodeResourcesFit's failure is Unschedulable rather than UnschedulableAndUnresolvable, so
  // only such nodes can be preemption candidates (§2.6).
  const scheduler::Pod& pod = pods_[id].pod;
  auto passes = [&](std::size_t n) {
    const scheduler::Node& node = nodes_[n];
    if (node_deleted_[n]) return false;
    if (!scheduler::Admits(node, pod.tolerations, pod.node_selector)) return false;
    if (!(node.allocatable - requested_[n] - NominatedOn(static_cast<int>(n), id))
             .Fits(pod.requests)) {
      if (resolvable) resolvable->push_back(static_cast<int>(n));
      return false;
    }
    return !options_.profile || options_.profile->Filter(pod, node);
  };
  if (only >= 0) {
    if (passes(static_cast<std::size_t>(only))) return {nodes_[only].name};
    return {};
  }
  const std::size_t all = nodes_.size();
  const std::size_t to_find = NodesToFind(all, options_.percentage_of_nodes_to_score);
  std::vector<std::string> out;
  std::size_t processed = 0;
  for (; processed < all && out.size() < to_find; ++processed) {
    const std::size_t n = (next_start_node_ + processed) % all;
    if (passes(n)) out.push_back(nodes_[n].name);
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
  if (options_.profile && options_.profile->PlacesGroups()) {
    GroupCycle(id);
    WakeScheduler();
    return;
  }
  if (Grouped(id)) {
    if (auto reason = options_.profile->PreFilter(GroupOf(p.job))) {
      Failed(id, true, *reason);
      PostFilter(id);
      WakeScheduler();
      return;
    }
  }
  if (NominatedProbe(id)) {
    WakeScheduler();
    return;
  }
  std::vector<int> resolvable;
  const std::vector<std::string> offered = FeasibleNodes(id, &resolvable);
  if (offered.empty()) {
    // No node passed kube-scheduler's own filters: the extender's filter is not asked (§2.3).
    ++stats_.no_fit;
    if (options_.trace) Trace("  no node passes kube-scheduler's own filters for " + p.pod.name);
    Unschedulable(
        id, "0/" + std::to_string(nodes_.size()) + " nodes are available: no node fits the pod",
        std::move(resolvable));
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
  FilterOutcome out = AskExtender(id, offered);
  switch (out.kind) {
    case FilterOutcome::Kind::kRejected:
      ++stats_.rejected;
      Unschedulable(id, out.reason, std::move(resolvable));
      break;
    case FilterOutcome::Kind::kError:
      // An error, not unschedulable: the pod backs off and is retried (§2.3).
      ++stats_.rejected;
      Failed(id, false, "filter: " + out.reason);
      break;
    case FilterOutcome::Kind::kPreemptOn:
      // The node of the gang's victim plan is in FailedNodes: a candidate of kube-scheduler's
      // preemption beside the nodes its own filters found too full (§2.3, §2.6).
      ++stats_.preempt_on;
      if (auto it = node_index_.find(out.nodes.front());
          it != node_index_.end() &&
          std::find(offered.begin(), offered.end(), out.nodes.front()) != offered.end()) {
        resolvable.push_back(it->second);
      }
      Unschedulable(id, out.reason, std::move(resolvable));
      break;
    case FilterOutcome::Kind::kNarrowed: {
      for (const std::string& n : out.nodes) {
        if (std::find(offered.begin(), offered.end(), n) == offered.end()) {
          // "claims a filtered node ... not found in the input node list": an error (§2.3).
          Failed(id, false, "extender claims node " + n + ", which was not offered");
          WakeScheduler();
          return;
        }
      }
      AssumeNarrowed(id, out.nodes);
      break;
    }
  }
  WakeScheduler();
}

bool KubeSchedulerModel::NominatedProbe(int id) {
  // evaluateNominatedNode: a pod nominated by an earlier preemption is first tried on that node
  // alone, the extender's filter included; when anything rejects it there, the cycle goes on
  // over every node (§2.3).
  PodRecord& p = pods_[id];
  if (!engine_ || engine_down_ || p.pod.nominated_node_name.empty()) return false;
  const auto it = node_index_.find(p.pod.nominated_node_name);
  if (it == node_index_.end()) return false;
  const std::vector<std::string> probe = FeasibleNodes(id, nullptr, it->second);
  if (probe.empty()) return false;
  ++stats_.filter_calls;
  const FilterOutcome out = AskExtender(id, probe);
  if (out.kind != FilterOutcome::Kind::kNarrowed || out.nodes != probe) return false;
  AssumeNarrowed(id, out.nodes);
  return true;
}

FilterOutcome KubeSchedulerModel::AskExtender(int id, const std::vector<std::string>& offered) {
  PodRecord& p = pods_[id];
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
  return out;
}

void KubeSchedulerModel::AssumeNarrowed(int id, const std::vector<std::string>& narrowed) {
  PodRecord& p = pods_[id];
  ++stats_.narrowed;
  NotifierLookSoon();
  p.engine_nodes = narrowed;
  std::string chosen = narrowed.front();
  if (narrowed.size() > 1) {
    // Prioritize runs only with more than one feasible node (§2.4); the highest score wins, ties
    // broken at random (selectHost), here from the seeded generator.
    ++stats_.prioritize_calls;
    const auto scores = engine_->Prioritize(p.pod, narrowed, now_);
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
}

void KubeSchedulerModel::Unschedulable(int id, std::string reason, std::vector<int> resolvable) {
  if (!engine_) {
    Failed(id, true, std::move(reason));
    PostFilter(id);
    return;
  }
  std::string error;
  if (DefaultPreemption(id, std::move(resolvable), error) == Preempted::kError) {
    // A failed PostFilter turns the attempt into an error: the pod backs off (§2.6).
    Failed(id, false, "preemption: " + error);
    return;
  }
  Failed(id, true, std::move(reason));
}

void KubeSchedulerModel::Assume(int id, int node) {
  PodRecord& p = pods_[id];
  // An assumed pod leaves the nominator (its resources now count in the cache itself).
  Unnominate(id, false);
  Uncache(id);
  requested_[node] += p.pod.requests;
  CacheOn(id, node);
}

void KubeSchedulerModel::Forget(int id) {
  PodRecord& p = pods_[id];
  if (p.cache_node < 0) return;
  requested_[p.cache_node] -= p.pod.requests;
  Uncache(id);
}

void KubeSchedulerModel::CacheOn(int id, int node) {
  PodRecord& p = pods_[id];
  p.cache_node = node;
  std::vector<int>& on = cached_on_[node];
  on.insert(std::lower_bound(on.begin(), on.end(), id), id);
  ++cached_priorities_[p.pod.priority];
}

void KubeSchedulerModel::Uncache(int id) {
  PodRecord& p = pods_[id];
  if (p.cache_node < 0) return;
  std::vector<int>& on = cached_on_[p.cache_node];
  on.erase(std::lower_bound(on.begin(), on.end(), id));
  if (auto it = cached_priorities_.find(p.pod.priority); --it->second == 0) {
    cached_priorities_.erase(it);
  }
  p.cache_node = -1;
}

}  // namespace gangsched::sim
