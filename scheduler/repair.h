// Slot repair: small moves of one member instead of a whole re-plan. A member whose planned node
// kube-scheduler's filters excluded moves to the offered node nearest its gang's other nodes; an
// extra (or replacement) pod of a bound gang goes next to the gang. Pure: each returns the plan to
// hold instead of the gang's current one, or nothing; the engine commits it.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang_registry.h"
#include "scheduler/plan.h"

namespace gangsched::scheduler {

// The offered node where `m` fits with `req` (free capacity, taints, selector), closest to the
// `near` nodes, then with the fewest free GPUs left (best fit).
std::optional<std::size_t> ChooseNear(const ClusterState& state, const Resources& req,
                                      const GangMember& m, const std::vector<std::size_t>& offered,
                                      const std::vector<int>& near);

// Puts the placement on `node` with GPU ids from its free GPUs; false when they do not suffice.
bool AssignNode(const ClusterState& state, PodPlacement& p, std::size_t node);

// `held` with its `slot` moved to an offered node near the plan's other nodes, or nothing when no
// offered node fits.
std::optional<Plan> MoveSlot(const ClusterState& state, const Plan& held, int slot,
                             const GangMember& m, const std::vector<std::size_t>& offered);

// A plan of one pod for `m`, an extra member of the bound gang `g`, on the offered node nearest its
// bound members; nothing when no offered node fits.
std::optional<Plan> PlaceExtra(const ClusterState& state, const GangRecord& g, const GangMember& m,
                               const std::vector<std::size_t>& offered);

}  // namespace gangsched::scheduler
