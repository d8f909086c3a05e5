// The planner's search for one gang (DESIGN.md §6), private to the planner: scheduler/planner.cc
// holds the search, scheduler/planner_reasons.cc says why a gang does not fit. Include it from
// nowhere else. Works on its own overlay of taken capacity, never on the shared state.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/fit.h"
#include "scheduler/gang.h"
#include "scheduler/planner.h"

namespace gangsched::scheduler::planning {

using topology::CapacityIndex;
using topology::ClusterTopology;
using topology::Domain;
using topology::GpuTopology;
using topology::LinkKind;

constexpr std::uint64_t Bit(int gpu) { return std::uint64_t{1} << gpu; }

// One quorum member to place.
struct Member {
  int role = 0;
  int index = 0;
  Resources req;
};

// Coarse link class of a GPU set: the worst GPU-GPU link kind inside it (0 = all NVLink). Compared
// before fragmentation, so an NVLink node beats a PCIe-only node for a multi-GPU pod (DESIGN.md
// §3).
inline int CoarseLinkClass(const GpuTopology& topo, const std::vector<int>& set) {
  int worst = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    for (std::size_t j = i + 1; j < set.size(); ++j) {
      const auto kind = topo.Link(set[i], set[j]).kind;
      const int rank = kind == LinkKind::kNvLink ? 0 : static_cast<int>(kind);
      worst = std::max(worst, rank);
    }
  }
  return worst;
}

// Communication weight of a node distance: same node 0, same rack 1, same block 4, further
// 16, 64...
inline std::int64_t DistanceWeight(int distance) {
  return distance == 0 ? 0 : std::int64_t{1} << (2 * std::min(distance - 1, 20));
}

// A tentative placement inside one candidate domain. Works on its own overlay of taken capacity;
// the shared state is never touched (STYLE.md "Shape").
struct Attempt {
  std::vector<int> node_of;  // per member, -1 while unplaced
  std::unordered_map<int, Resources> taken;
  std::vector<int> nodes_in_order;  // nodes opened, in order
  int placed = 0;
};

class PlanContext {
 public:
  PlanContext(const ClusterState& state, const GangSpec& gang, const PlannerOptions& options);

  PlanResult Run();

 private:
  const CapacityIndex& index() const { return own_index_ ? *own_index_ : state_.capacity(); }

  Resources BaseFree(int node) const;
  std::uint64_t BaseMask(int node) const;

  bool Eligible(int role, int node);

  // "Never" answers: a pod bigger than any node it may use.
  std::optional<std::string> CheckNeverFits();

  // Why no node is open to a role: the most common untolerated taint, selector or cordon.
  std::string WhyNoNodeIsEligible(int role) const;

  static std::string DescribeRequest(const Resources& r);

  // GPU pod sizes of some members, grouped: (GPUs per pod, count), largest first; CPU-only pods are
  // left out (the histogram says nothing about them).
  using Demand = std::vector<std::pair<int, std::int64_t>>;
  Demand DemandOf(const std::vector<int>& members) const;

  // Whether the demand fits a domain's free-GPU histogram: first fit over free counts ascending
  // (best fit), several pods per node. CPU and memory are checked when placing.
  bool FitsHistogram(int domain, const Demand& demand) const;

  Resources AttemptFree(const Attempt& a, int node) const;

  // Best GPU set of size k on a node with the given free mask; cached per call.
  const std::vector<int>& GpuSet(int node, std::uint64_t mask, int k);

  // ---- Level 0: one node ---------------------------------------------------------------------

  std::optional<Plan> PlaceOnOneNode();

  bool WholeGangFits(int node);

  // Visits nodes with exactly f free GPUs under `domain`, fullest subdomains first (best fit across
  // the fabric), nodes in tree order. The visitor returns false to stop.
  bool VisitNodesWithFree(int domain, int f, const std::function<bool(int)>& visit) const;

  // ---- Levels 1..: one domain -------------------------------------------------------------------

  std::optional<Plan> PlaceInLevel(int level);

  // One placement attempt inside domain `d`: hierarchical (domain by domain) or flat (best fit over
  // all its nodes in tree order). Nothing when the gang does not fit there.
  std::optional<Plan> Attempted(int d, bool flat, const std::vector<int>& gpu_members,
                                const std::vector<int>& cpu_members, int span_level) {
    Attempt a;
    a.node_of.assign(members_.size(), -1);
    std::vector<int> pending = gpu_members.empty() ? cpu_members : gpu_members;
    if (flat) {
      const Domain& domain = topo_.domain(d);
      std::vector<int> nodes;
      nodes.reserve(static_cast<std::size_t>(domain.end_node - domain.first_node));
      for (int pos = domain.first_node; pos < domain.end_node; ++pos)
        nodes.push_back(topo_.NodeAt(pos));
      PlaceOnNodes(nodes, pending, a);
    } else {
      PlaceInDomain(d, pending, a);
    }
    if (!pending.empty()) return std::nullopt;
    if (!gpu_members.empty() && !cpu_members.empty()) {
      PlaceCpuMembers(d, cpu_members, a);
      if (a.placed != static_cast<int>(members_.size())) return std::nullopt;
    }
    return Finalize(a, span_level, d);
  }

  // A lower bound on the nodes the gang's GPU pods need in a domain: its fullest-free nodes first,
  // each taking as many of the largest pods as fit (from the free-GPU histogram, no node visited).
  int MinNodes(int domain) const;

  static bool Better(const Plan& a, const Plan& b);

  // Recursive hierarchical best fit: inside a domain, pick the smallest child that can take all
  // remaining pods; when none can, the largest, and continue with the rest. Minimises the children
  // used at every level and fills partly used domains first.
  void PlaceInDomain(int domain, std::vector<int>& pending, Attempt& a);

  // Leaf domain: the same rule over nodes: the smallest node that takes every remaining pod, else
  // the node with the most free GPUs; each opened node gets as many pods as fit.
  void PlaceOnNodes(const std::vector<int>& nodes, std::vector<int>& pending, Attempt& a);

  // CPU-only members (parameter servers) go next to the gang's GPU pods: first on the nodes the
  // gang already uses (the most gang pods first), then in the same leaf domains, then anywhere in
  // `domain`.
  void PlaceCpuMembers(int domain, const std::vector<int>& cpu_members, Attempt& a);

  // ---- The plan --------------------------------------------------------------------------------

  Plan Finalize(const Attempt& a, int span_level, int span_domain);

  std::int64_t CommCost(const Attempt& a) const;

  // ---- Why a gang waits ------------------------------------------------------------------------

  std::string DescribeGang() const;

  std::string WhyNot();

  // "; 40 GPUs are held for other gangs: ml/a (32), ml/b (8)": capacity planned for gangs that are
  // binding (or whose victims are leaving) counts as taken, and a reader should see by whom.
  std::string HeldByOthers() const;

  const ClusterState& state_;
  const GangSpec& gang_;
  const PlannerOptions& options_;
  const ClusterTopology& topo_;
  std::optional<CapacityIndex> own_index_;
  std::map<int, Resources> own_free_;
  std::map<int, std::uint64_t> own_mask_;
  std::vector<std::vector<std::int8_t>> eligible_;
  std::vector<Member> members_;
  Resources total_;
  int gpu_members_ = 0;
  std::map<std::tuple<const GpuTopology*, std::uint64_t, int>, std::vector<int>> gpu_sets_;
};

}  // namespace gangsched::scheduler::planning
