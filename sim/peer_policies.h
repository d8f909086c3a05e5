// Gang-aware, topology-aware peers of gangsched as kube-scheduler model profiles (issue 12 item
// 1): each decides a whole job at once in the model's group cycle (KubeProfile::PlaceGroup,
// kube_scheduler_groups.cc), with the rule its own code or documentation states, cited in
// peer_policies.cc. The model owns the queue, the cache, binding and the cluster; a peer only
// chooses nodes for a group from the cache it is shown, and keeps no state.
//
// - "kueue-tas": Kueue Topology Aware Scheduling, BestFit, podset-required-topology at rack level
//   (a job waits while no rack fits it).
// - "kueue-tas-preferred": the same with podset-preferred-topology at rack level: the lowest
//   level that fits, falling back to a block and then to the whole cluster.
// - "volcano-hypernode": Volcano network-topology-aware scheduling in hard mode, tier 1 = rack,
//   tier 2 = block, highestTierAllowed 2, binpack inside.
// - "kai": KAI Scheduler topology, required block, preferred rack, binpack.
// - "native-tas": Kubernetes 1.36 topology-aware workload scheduling, a PodGroup with a rack
//   topology constraint: one placement per rack, scored by PlacementBinPacking.
// - "gang-binpack-model": gang whole-or-nothing, pods placed one after another on the most
//   allocated node (NodeResourcesFit MostAllocated), no topology.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/kube_profile.h"

namespace gangsched::sim {

// The peers' names, in report order.
std::vector<std::string> PeerPolicyNames();
// nullptr for any other name.
std::unique_ptr<KubeProfile> MakePeerProfile(std::string_view name);

}  // namespace gangsched::sim
