// The whole-gang planner (DESIGN.md §6): places every quorum member of a gang at once, or says in
// plain words why it cannot. Objective, in order: the whole gang fits; smallest topology span (one
// node, one rack, one block, ...), then fewest nodes and least communication cost for the gang's
// pattern; least fragmentation (best fit); inside a node the best connected GPU set. Pure and
// deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"
#include "scheduler/plan.h"

namespace gangsched::scheduler {

struct PlannerOptions {
  // How many candidate domains per level are planned in full and compared (best fit first).
  int candidates_per_level = 16;
  // Optional feasibility mask per role: when set, a pod of role r may only go on nodes whose index
  // is in masks[r] (kube-scheduler's own filters, DESIGN.md §3.5). Empty: all nodes.
  std::vector<std::vector<bool>> role_node_mask;
};

// The name of a span (Plan::span_level): "node", a level's name ("rack"), or "cluster".
std::string SpanName(int span_level, const std::vector<std::string>& level_names);

// One line for people: "4 pods on 2 nodes in rack r3 (span: rack)".
std::string DescribePlan(const Plan& plan, const std::vector<std::string>& level_names);

class Planner {
 public:
  explicit Planner(PlannerOptions options = {}) : options_(std::move(options)) {}
  // Plans the gang's quorum members against the state's free capacity (bound pods and every hold
  // subtracted, except the gang's own hold, which is ignored so a re-plan can reuse it).
  PlanResult PlanGang(const ClusterState& state, const GangSpec& gang) const;

 private:
  PlannerOptions options_;
};

}  // namespace gangsched::scheduler
