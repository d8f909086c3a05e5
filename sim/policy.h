// Placement policies the simulator compares (issue 5, DESIGN.md §6 "Judge it against"): gangsched
// itself (the real scheduler::Planner, the one the extender runs), kube-scheduler's default (per
// pod, least allocated, no gang), per-pod bin-packing (most allocated), and gang + bin-packing
// without topology (Volcano's gang + binpack). A policy only decides: it reads the cluster state
// and returns where pods go; the simulator commits the decision (holds, binds) on its own state.
#pragma once

#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"

namespace gangsched::sim {

// One pod of a gang put on a node: (role, replica index) as in GangSpec::QuorumMembers().
struct PodAssignment {
  int role = 0;
  int index = 0;
  std::size_t node = 0;
  std::vector<int> gpu_ids;
  scheduler::Resources requests;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view Name() const = 0;
  // True when the policy places a gang whole or not at all.
  virtual bool IsGang() const = 0;
  // Where the `pending` pods of `gang` go on `state` (pods already bound are in the state). A gang
  // policy returns every pending pod or none; a per-pod policy returns those that fit, one at a
  // time, each seeing the ones before it. Ties between equal nodes are broken with `rng`, as
  // kube-scheduler picks at random among the best-scored nodes.
  virtual std::vector<PodAssignment> Place(const scheduler::ClusterState& state,
                                           const scheduler::GangSpec& gang,
                                           const std::vector<std::pair<int, int>>& pending,
                                           std::mt19937& rng) const = 0;
};

// Policy names, in report order: gangsched, gang-binpack, binpack, default-scheduler.
std::vector<std::string> PolicyNames();
// nullptr for an unknown name.
std::unique_ptr<Policy> MakePolicy(std::string_view name);

}  // namespace gangsched::sim
