// Why a gang does not fit, in plain words (DESIGN.md §3.3): the planner's "never" and "not now"
// reasons, and the one-line description of a plan.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "scheduler/plan_context.h"
#include "scheduler/planner.h"

namespace gangsched::scheduler {
namespace planning {

using topology::CapacityIndex;
using topology::Domain;

// "Never" answers: a pod bigger than any node it may use.
std::optional<std::string> PlanContext::CheckNeverFits() {
  for (std::size_t r = 0; r < gang_.roles.size(); ++r) {
    const auto& role = gang_.roles[r];
    bool any_used = std::any_of(members_.begin(), members_.end(),
                                [&](const Member& m) { return m.role == static_cast<int>(r); });
    if (!any_used) continue;
    Resources req = role.per_pod;
    req.pods = 1;
    bool any_node = false;
    int eligible = 0;
    std::int64_t largest_gpus = 0;
    for (std::size_t n = 0; n < state_.node_count() && !any_node; ++n) {
      if (!Eligible(static_cast<int>(r), static_cast<int>(n))) continue;
      ++eligible;
      largest_gpus = std::max(largest_gpus, state_.node(n).allocatable.gpus);
      any_node = state_.node(n).allocatable.Fits(req);
    }
    if (any_node) continue;
    std::string why = "gang " + gang_.key.ToString() + ": a pod of role " + role.name;
    if (eligible == 0) {
      return why + " may use none of the " + std::to_string(state_.node_count()) +
             " nodes: " + WhyNoNodeIsEligible(static_cast<int>(r));
    }
    why += " asks " + DescribeRequest(req);
    if (req.gpus > largest_gpus) {
      why += " but the largest node it may use has " + std::to_string(largest_gpus) + " GPUs";
    } else {
      why += " and none of the " + std::to_string(eligible) +
             " nodes it may use has that much CPU, memory or pod slots";
    }
    return why;
  }
  return std::nullopt;
}

// Why no node is open to a role: the most common untolerated taint, selector or cordon.
std::string PlanContext::WhyNoNodeIsEligible(int role) const {
  const RoleSpec& r = gang_.roles[role];
  std::map<std::string, int> causes;
  for (std::size_t n = 0; n < state_.node_count(); ++n) {
    const Node& node = state_.node(n);
    if (node.unschedulable) {
      ++causes["cordoned"];
      continue;
    }
    if (!MatchesSelector(node.labels, r.node_selector)) {
      ++causes["its node selector does not match"];
      continue;
    }
    for (const Taint& t : node.taints) {
      if (!ToleratesAll({t}, r.tolerations)) {
        ++causes["taint " + t.key + "=" + t.value +
                 (t.effect == TaintEffect::kNoExecute ? ":NoExecute" : ":NoSchedule") +
                 " not tolerated"];
        break;
      }
    }
  }
  if (causes.empty()) return "kube-scheduler's filters excluded them";
  std::string out;
  for (const auto& [cause, count] : causes) {
    if (!out.empty()) out += "; ";
    out += std::to_string(count) + " " + cause;
  }
  return out;
}

std::string PlanContext::DescribeRequest(const Resources& r) {
  std::string s = std::to_string(r.gpus) + " GPU" + (r.gpus == 1 ? "" : "s");
  s += ", " + std::to_string(r.milli_cpu) + "m CPU, " + std::to_string(r.memory_bytes >> 20) +
       " MiB memory";
  return s;
}

std::string PlanContext::DescribeGang() const {
  std::map<int, int> count_by_role;
  for (const auto& m : members_) ++count_by_role[m.role];
  std::string s;
  for (const auto& [role, count] : count_by_role) {
    if (!s.empty()) s += " + ";
    const auto& r = gang_.roles[role];
    s += std::to_string(count) + " " + r.name + (count == 1 ? " pod" : " pods");
    s += r.per_pod.gpus > 0
             ? " × " + std::to_string(r.per_pod.gpus) + " GPU" + (r.per_pod.gpus == 1 ? "" : "s")
             : " (CPU only)";
  }
  return s + " = " + std::to_string(total_.gpus) + " GPUs";
}

std::string PlanContext::WhyNot() {
  const CapacityIndex& idx = index();
  std::string why = "gang " + gang_.key.ToString() + ": " + DescribeGang() + "; ";
  // The biggest domain below the cluster level, with how many of the GPU pods it could take.
  int largest = -1;
  for (const Domain& d : topo_.domains()) {
    if (d.level != 0) continue;
    if (largest < 0 || idx.DomainFree(d.id) > idx.DomainFree(largest)) largest = d.id;
  }
  if (largest >= 0) {
    why += "largest " + topo_.level_names()[0] + " " + topo_.domain(largest).name + " has " +
           std::to_string(idx.DomainFree(largest)) + " free GPUs; ";
  }
  int nodes_with_free = 0;
  for (int n = 0; n < topo_.node_count(); ++n) nodes_with_free += idx.free_gpus(n) > 0 ? 1 : 0;
  why += "cluster has " + std::to_string(idx.DomainFree(0)) + " free GPUs on " +
         std::to_string(nodes_with_free) + " nodes";
  if (gpu_members_ > 0) {
    const int g = static_cast<int>(members_.front().req.gpus);
    const std::int64_t room = idx.PodsThatFit(0, g);
    why += " (room for " + std::to_string(room) + " pod" + (room == 1 ? "" : "s") + " of " +
           std::to_string(g) + " GPU" + (g == 1 ? "" : "s") + ")";
  }
  why += HeldByOthers();
  if (total_.gpus <= idx.DomainFree(0)) {
    why += "; GPUs are free but fragmented, or CPU, memory, taints or selectors rule nodes out";
  }
  return why;
}

// "; 40 GPUs are held for other gangs: ml/a (32), ml/b (8)": capacity planned for gangs that are
// binding (or whose victims are leaving) counts as taken, and a reader should see by whom.
std::string PlanContext::HeldByOthers() const {
  std::int64_t held = 0;
  for (std::size_t n = 0; n < state_.node_count(); ++n) held += state_.usage(n).held.gpus;
  std::vector<std::pair<std::int64_t, std::string>> holders;  // (-GPUs, gang)
  for (const auto& [key, plan] : state_.holds()) {
    if (key == gang_.key) continue;
    std::int64_t gpus = 0;
    for (const PodPlacement& p : plan.pods) gpus += p.requests.gpus;
    if (gpus > 0) holders.emplace_back(-gpus, key.ToString());
  }
  if (held <= 0 || holders.empty()) return "";
  std::sort(holders.begin(), holders.end());
  constexpr std::size_t kNamed = 3;
  std::string s = "; " + std::to_string(held) + " GPU" + (held == 1 ? " is" : "s are") +
                  " held for other gangs: ";
  for (std::size_t i = 0; i < holders.size() && i < kNamed; ++i) {
    if (i > 0) s += ", ";
    s += holders[i].second + " (" + std::to_string(-holders[i].first) + ")";
  }
  if (holders.size() > kNamed) s += " and " + std::to_string(holders.size() - kNamed) + " more";
  return s;
}

}  // namespace planning

std::string SpanName(int span_level, const std::vector<std::string>& level_names) {
  const int levels = static_cast<int>(level_names.size());
  if (span_level == 0) return "node";
  if (span_level <= levels) return level_names[levels - span_level];
  return "cluster";
}

std::string DescribePlan(const Plan& plan, const std::vector<std::string>& level_names) {
  const std::string span = SpanName(plan.span_level, level_names);
  const std::string where = plan.span_level > static_cast<int>(level_names.size())
                                ? "the cluster"
                                : span + " " + plan.span_domain;
  return std::to_string(plan.pods.size()) + " pod" + (plan.pods.size() == 1 ? "" : "s") + " on " +
         std::to_string(plan.nodes_used) + " node" + (plan.nodes_used == 1 ? "" : "s") + " in " +
         where + " (span: " + span + ")";
}

}  // namespace gangsched::scheduler
