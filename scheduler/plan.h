// The result of planning one gang: where every quorum member goes, or the gang-level reason it
// cannot be placed. Plain values, shared by the planner, the holds, the CLI and the extender.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "scheduler/gang.h"

namespace gangsched::scheduler {

struct PodPlacement {
  int role = 0;                      // index into GangSpec::roles
  std::string role_name;             // copy of the role's name
  int index = 0;                     // replica index within the role
  std::string node;                  // node name
  std::vector<std::string> domains;  // the node's fabric domains, broad to narrow, one per level
  std::vector<int> gpu_ids;  // chosen GPU indices on the node (sorted), empty for CPU-only pods
  Resources requests;
};

// How far a placement spreads: the narrowest level that contains all its pods.
enum class SpanLevel : std::uint8_t {
  kNode,
  kLevel
};  // kLevel + level index (see Plan::span_level)

struct Plan {
  GangKey gang;
  std::vector<PodPlacement> pods;
  // Span: 0 = one node; 1..L = one domain of the level counted from the narrowest (1 = rack when
  // the levels are zone/block/rack); L+1 = the whole cluster.
  int span_level = 0;
  std::string span_domain;  // name of the narrowest common domain ("" for the cluster)
  int nodes_used = 0;
  std::vector<int>
      domains_used;  // per level, broad to narrow: how many distinct domains the pods touch
  std::int64_t comm_cost = 0;      // communication cost of the pattern over node distances
  std::int64_t gpu_set_cost = 0;   // sum over nodes of the in-node GPU set cost
  std::int64_t leftover_gpus = 0;  // free GPUs left in the span domain after placement (best fit)
};

struct Unplaceable {
  std::string reason;  // gang-level, plain words: what was asked, the best there is, what blocks it
  bool never =
      false;  // true when no amount of waiting helps (bigger than the whole cluster, bad spec)
};

using PlanResult = std::variant<Plan, Unplaceable>;

}  // namespace gangsched::scheduler
