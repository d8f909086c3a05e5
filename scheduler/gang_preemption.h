// Gang-aware preemption in the engine (DESIGN.md §3.9): which bound pods are victim units for a
// gang (lone pods, whole lower-priority gangs), the victim plan a waiting gang would reserve, the
// filter decision of its members while victims leave, and the rule that keeps kube-scheduler's own
// preemption from breaking a running gang. Pure: the engine holds the reservation and keeps the
// plan on the gang's record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang_registry.h"
#include "scheduler/planner.h"
#include "scheduler/preemption.h"
#include "scheduler/verbs.h"

namespace gangsched::scheduler {

// Bound pods below `priority` as victim units: lone pods, and whole gangs of lower priority.
std::vector<VictimUnit> VictimUnits(const ClusterState& state, const GangRegistry& gangs,
                                    std::int32_t priority, const GangKey& self);

// The victim plan for gang `g`, which does not fit: nothing for a gang of one (kube-scheduler's own
// preemption serves it) or when no set of lower-priority victims makes room.
std::optional<VictimPlan> ProposeVictims(const ClusterState& state, const GangRegistry& gangs,
                                         const GangRecord& g, const PlannerOptions& options);

// Why the gang waits while its victims leave, in plain words.
std::string DescribePreemption(const ClusterState& state, const GangKey& gang,
                               const VictimPlan& victims);

// The plan's victims on `node` that still hold capacity.
std::vector<std::string> VictimsOn(const ClusterState& state, const VictimPlan& victims,
                                   const std::string& node);
int VictimsLeft(const ClusterState& state, const VictimPlan& victims);

// The filter decision of a member (role `role`, slot `slot` of the victim plan, if it has one)
// while its gang's victims are evicted: only its planned node, when it needs an eviction, is a
// candidate (PreemptOn); else it is rejected everywhere.
FilterDecision PreemptionDecision(const ClusterState& state, const GangKey& gang,
                                  const VictimPlan& victims, std::optional<int> slot,
                                  const std::string& role);

// Today's rule for pods outside gangs: drop candidates that would break a running gang.
std::vector<PreemptCandidate> DropGangBreakers(const GangRegistry& gangs,
                                               std::vector<PreemptCandidate> candidates);

}  // namespace gangsched::scheduler
