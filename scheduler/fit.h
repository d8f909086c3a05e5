// Node eligibility: whether a pod may go on a node at all, before any capacity is counted (not
// cordoned, its taints tolerated, the pod's node selector matched). The one check the planner,
// slot repair and drain reservations share; capacity and GPU sets are theirs.
#pragma once

#include <vector>

#include "scheduler/gang.h"
#include "scheduler/model.h"

namespace gangsched::scheduler {

inline bool Admits(const Node& node, const std::vector<Toleration>& tolerations,
                   const StringMap& node_selector) {
  return !node.unschedulable && ToleratesAll(node.taints, tolerations) &&
         MatchesSelector(node.labels, node_selector);
}

inline bool Admits(const Node& node, const RoleSpec& role) {
  return Admits(node, role.tolerations, role.node_selector);
}

}  // namespace gangsched::scheduler
