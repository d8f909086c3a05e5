// Drain reservations (DESIGN.md §3.9): for a large gang that has waited too long, the topology
// domain where it would fit soonest, and the plan that keeps that domain's free GPUs for it up to
// its need. Pure functions over the cluster state and the gang records; which gang holds a drain,
// and committing its plan as the gang's hold, are the engine's.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "scheduler/cluster_state.h"
#include "scheduler/gang_registry.h"
#include "scheduler/plan.h"
#include "topology/cluster_topology.h"

namespace gangsched::scheduler {

// GPUs of the pods the planner places for a gang (its quorum).
std::int64_t NeedGpus(const GangSpec& spec);

// Whether two domains share nodes (one contains the other).
inline bool Overlap(const topology::Domain& a, const topology::Domain& b) {
  return a.first_node < b.end_node && b.first_node < a.end_node;
}

// Which of two gangs has the better claim to a drain: the smaller rank (higher priority, then
// waiting longer, then the key).
inline auto DrainRank(const GangRecord& g) {
  return std::make_tuple(-SpecOf(g).priority, g.waiting_since.value_or(0), g.key);
}

// The domain where gang `g` would fit soonest (free GPUs, its own reservation, and GPUs of pods of
// lower priority), at the narrowest level that can hold it; nothing when another drain in
// `draining` outranks it on each candidate (higher priority, then waiting longer).
std::optional<int> DrainDomain(const ClusterState& state, const GangRegistry& gangs,
                               const std::set<GangKey>& draining, const GangRecord& g);

// The reservation of `gang` in `domain`: the domain's free GPUs, counting the gang's own hold as
// free, fullest-free nodes first so it gathers into whole nodes, up to `need`.
Plan DrainPlan(const ClusterState& state, const GangKey& gang, int domain, std::int64_t need);

// "draining rack r1 for gang ml/bert: 8 of 16 GPUs free".
std::string DescribeDrain(const topology::ClusterTopology& topo, int domain, const GangKey& gang,
                          const Plan& plan, std::int64_t need);

}  // namespace gangsched::scheduler
