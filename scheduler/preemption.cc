#include "scheduler/preemption.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

namespace gangsched::scheduler {

namespace {

struct Candidate {
  VictimUnit unit;
  int pods = 0;
  std::int64_t gpus = 0;
};

}  // namespace

std::string DescribeVictims(int pods, const std::vector<std::string>& unit_names) {
  std::string out = std::to_string(pods) + " lower-priority pod" + (pods == 1 ? "" : "s");
  if (unit_names.empty()) return out;
  out += " (";
  for (std::size_t i = 0; i < unit_names.size(); ++i) {
    if (i == 3) {
      out += ", " + std::to_string(unit_names.size() - i) + " more";
      break;
    }
    out += (i == 0 ? "" : ", ") + unit_names[i];
  }
  return out + ")";
}

std::optional<VictimPlan> ChooseVictims(const ClusterState& state, const GangKey& preemptor,
                                        std::vector<VictimUnit> units, const PlanOn& plan_on) {
  const auto& bound = state.bound_pods();
  std::vector<Candidate> all;
  for (VictimUnit& u : units) {
    Candidate c;
    std::erase_if(u.uids, [&](const std::string& uid) { return bound.count(uid) == 0; });
    for (const std::string& uid : u.uids) {
      ++c.pods;
      c.gpus += bound.at(uid).requests.gpus;
    }
    if (c.pods == 0) continue;
    c.unit = std::move(u);
    all.push_back(std::move(c));
  }
  // Least disruption first: the fewest pods evicted, then the fewest GPUs, then the lowest
  // priority (name for a stable order). Victims are taken in this order until the gang fits and
  // given back in the reverse order while it still fits, so a plan prefers a lone pod over a
  // gang of several, a small gang over a large one, and never evicts what its placement does not
  // need. A single pod and a whole gang compete on the same terms: breaking a gang (evicting some
  // of its members) is never an option, since kube-scheduler's per-pod preemption would leave the
  // rest running below its quorum.
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.pods, a.gpus, a.unit.priority, a.unit.name) <
           std::tie(b.pods, b.gpus, b.unit.priority, b.unit.name);
  });
  ClusterState base = state;
  base.Release(preemptor);  // a reservation the gang holds already is its own capacity
  // A gang that fits without evicting anything needs no victim plan (its filter failed on the
  // nodes offered, e.g. kube-scheduler's one-node probe): evicting would only disrupt.
  if (std::holds_alternative<Plan>(plan_on(base))) return std::nullopt;

  auto remove = [&](ClusterState& s, const Candidate& c) {
    for (const std::string& uid : c.unit.uids) s.RemovePod(uid);
  };
  auto restore = [&](ClusterState& s, const Candidate& c) {
    for (const std::string& uid : c.unit.uids) {
      if (auto pod = state.PodOf(uid)) s.AddPod(*pod);
    }
  };
  std::vector<bool> excluded(all.size(), false);
  // Each round either returns or excludes one more gang, so this ends.
  for (std::size_t round = 0; round <= all.size(); ++round) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!excluded[i]) order.push_back(i);
    }
    auto first = [&](std::size_t k) {
      ClusterState s = base;
      for (std::size_t i = 0; i < k; ++i) remove(s, all[order[i]]);
      return s;
    };
    auto plan_with_first = [&](std::size_t k) -> std::optional<Plan> {
      PlanResult r = plan_on(first(k));
      if (auto* p = std::get_if<Plan>(&r)) return std::move(*p);
      return std::nullopt;
    };
    // The shortest prefix of the order that makes room (more victims never make less room).
    std::optional<Plan> plan = plan_with_first(order.size());
    if (!plan) return std::nullopt;
    std::size_t lo = 0;
    std::size_t hi = order.size();
    while (hi - lo > 1) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (auto p = plan_with_first(mid)) {
        hi = mid;
        plan = std::move(p);
      } else {
        lo = mid;
      }
    }
    // Give victims back, most disruptive first, while the plan still fits on its nodes.
    std::map<std::size_t, Resources> need;
    for (const PodPlacement& p : plan->pods) {
      if (auto n = state.FindNode(p.node)) {
        Resources r = p.requests;
        r.pods = std::max<std::int64_t>(r.pods, 1);
        need[*n] += r;
      }
    }
    auto fits = [&](const ClusterState& s) {
      return std::all_of(need.begin(), need.end(),
                         [&](const auto& kv) { return s.Free(kv.first).Fits(kv.second); });
    };
    ClusterState scratch = first(hi);
    std::vector<bool> evicted(hi, true);
    for (std::size_t i = hi; i-- > 0;) {
      restore(scratch, all[order[i]]);
      if (fits(scratch)) {
        evicted[i] = false;
      } else {
        remove(scratch, all[order[i]]);
      }
    }
    // Plan once more where exactly the kept victims are gone: GPU ids come from what they free.
    PlanResult again = plan_on(scratch);
    if (auto* p = std::get_if<Plan>(&again)) {
      plan = std::move(*p);
    } else {
      std::fill(evicted.begin(), evicted.end(), true);  // the unpruned prefix's plan stands
    }
    std::set<std::size_t> plan_nodes;
    for (const PodPlacement& p : plan->pods) {
      if (auto n = state.FindNode(p.node)) plan_nodes.insert(*n);
    }
    VictimPlan out;
    bool retry = false;
    for (std::size_t i = 0; i < hi; ++i) {
      if (!evicted[i]) continue;
      const Candidate& c = all[order[i]];
      const auto on_plan = [&](const std::string& uid) {
        return plan_nodes.count(bound.at(uid).node) > 0;
      };
      const bool touches = std::any_of(c.unit.uids.begin(), c.unit.uids.end(), on_plan);
      if (!touches) continue;  // frees nothing the plan uses
      if (!std::all_of(c.unit.uids.begin(), c.unit.uids.end(), on_plan)) {
        // A gang with members off the plan's nodes: kube-scheduler could evict only those on
        // them, leaving the rest running below quorum. Never a victim; plan again without it.
        excluded[order[i]] = true;
        retry = true;
        break;
      }
      for (const std::string& uid : c.unit.uids) {
        out.victims_by_node[state.node(bound.at(uid).node).name].push_back(uid);
      }
      out.pods += c.pods;
      out.gpus += c.gpus;
      out.units.push_back(c.unit);
    }
    if (retry) continue;
    if (out.units.empty()) return std::nullopt;  // fits without evicting: not a preemption
    out.plan = std::move(*plan);
    return out;
  }
  return std::nullopt;
}

}  // namespace gangsched::scheduler
