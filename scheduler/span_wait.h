// Waiting for a narrower span (DESIGN.md §6 "Span wait", issue 12): the narrowest span a gang
// could have with nothing running, so the engine can hold a gang back for a bounded time rather
// than place it wider than that as soon as anything fits (delay scheduling with a deadline, as
// Tiresias and HiveD do). Pure functions over the inventory; when a gang waits and for how long is
// the engine's.
#pragma once

#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"
#include "topology/cluster_topology.h"

namespace gangsched::scheduler {

// Every node's allocatable GPUs as free: the capacity index of the cluster with nothing running.
topology::CapacityIndex AllocatableIndex(const ClusterState& state);

// The narrowest span (Plan::span_level: 0 one node, 1..L one domain counted from the narrowest
// level, L+1 the cluster) the gang's quorum could have with nothing running: one node whose
// allocatable holds all of it and admits every role, else the narrowest level with a domain whose
// nodes' allocatable GPUs hold its GPU pods. `allocatable` is AllocatableIndex(state).
int NarrowestSpan(const ClusterState& state, const topology::CapacityIndex& allocatable,
                  const GangSpec& spec);

}  // namespace gangsched::scheduler
