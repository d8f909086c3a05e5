// Planning a recorded gang into a proposal: the whole gang, or only the members not bound yet next
// to the bound ones, and the slots its members keep in the new plan. Pure: a proposal changes
// nothing until the engine commits it (holds its plan, opens the barrier), and a proposal that is
// not taken is simply dropped, never undone (DESIGN.md §1, STYLE.md "Shape").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang_registry.h"
#include "scheduler/planner.h"
#include "scheduler/verbs.h"

namespace gangsched::scheduler {

struct PlanProposal {
  Plan plan;
  std::map<std::string, int> slot_of;  // UID -> index into plan.pods, for the members that keep one
};

// What a (re-)plan of the gang places: the whole gang, or only the members not bound yet, in the
// narrowest domain around the bound ones that fits them (DESIGN.md §3 "Recover").
PlanResult PlanRemaining(const ClusterState& state, const GangRecord& g, const GangSpec& spec,
                         const PlannerOptions& options);

// A plan for the gang on `state` and the slots its members keep in it; the gang-level reason when
// it does not fit (or needs more binds held at once than `max_held_binds`).
tl::expected<PlanProposal, std::string> ProposePlan(const ClusterState& state, const GangRecord& g,
                                                    const PlannerOptions& options,
                                                    int max_held_binds);

// The member's slot in `plan` given the slots taken: its own, else a free one that fits it
// (SlotFits; its replica index when that is free).
std::optional<int> FreeSlot(const Plan& plan, const std::map<std::string, int>& slot_of,
                            const GangMember& m);

// The planner's feasibility mask confining the member's role (its name and GPU count) to the
// offered nodes, which kube-scheduler's filters found for that member; other roles are unmasked.
std::vector<std::vector<bool>> RoleMask(const GangSpec& spec, const GangMember& member,
                                        const Offer& offer, std::size_t node_count);

}  // namespace gangsched::scheduler
