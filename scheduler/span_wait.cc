#include "scheduler/span_wait.h"

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "scheduler/fit.h"

namespace gangsched::scheduler {

topology::CapacityIndex AllocatableIndex(const ClusterState& state) {
  std::vector<int> gpus(state.node_count());
  for (std::size_t n = 0; n < state.node_count(); ++n) {
    gpus[n] = static_cast<int>(state.node(n).allocatable.gpus);
  }
  return topology::CapacityIndex(state.topology(), gpus);
}

int NarrowestSpan(const ClusterState& state, const topology::CapacityIndex& allocatable,
                  const GangSpec& spec) {
  Resources total;
  std::map<int, std::int64_t, std::greater<>> pods_of_size;  // GPUs per pod -> pods, descending
  for (const auto& [role, index] : spec.QuorumMembers()) {
    const Resources& r = spec.roles[role].per_pod;
    total += r;
    if (r.gpus > 0) ++pods_of_size[static_cast<int>(r.gpus)];
  }
  total.pods = 0;  // pod slots are not what limits a span
  if (total.gpus <= allocatable.MaxNodeFree(0)) {
    for (std::size_t n = 0; n < state.node_count(); ++n) {
      const Node& node = state.node(n);
      Resources cap = node.allocatable;
      cap.pods = 0;
      if (!cap.Fits(total)) continue;
      bool admits = true;
      for (const RoleSpec& role : spec.roles) admits = admits && Admits(node, role);
      if (admits) return 0;
    }
  }
  const topology::ClusterTopology& topo = state.topology();
  const std::vector<std::pair<int, std::int64_t>> demand(pods_of_size.begin(), pods_of_size.end());
  for (int level = topo.level_count() - 1; level >= 0; --level) {
    for (const topology::Domain& d : topo.domains()) {
      if (d.level == level && allocatable.DomainFree(d.id) >= total.gpus &&
          allocatable.FitsDemand(d.id, demand)) {
        return topo.level_count() - level;
      }
    }
  }
  return topo.level_count() + 1;
}

}  // namespace gangsched::scheduler
