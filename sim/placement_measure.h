// How a placement is judged, shared by both simulators (sim/simulator.h, the planner-only replay,
// and sim/model_simulation.h, the kube-scheduler model): a job's span class and the run-time
// factor of that span (CommModel), how many nodes, racks and blocks it uses against the fewest an
// empty cluster could give it (SpanMeter), and the statistics the reports print. Reads the
// cluster's topology only; it must not place anything.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"

namespace gangsched::sim {

// Span classes of a running job, by the largest tree distance between two of its nodes.
enum class SpanClass : std::uint8_t { kNode = 0, kRack = 1, kBlock = 2, kBeyond = 3 };
inline constexpr int kSpanClasses = 4;
const char* SpanClassName(SpanClass span);

// Run-time multipliers by span class (one node = 1). Defaults and their sources: docs/placement.md
// "Communication model".
struct CommModel {
  std::array<double, kSpanClasses> all_reduce = {1.0, 1.10, 1.25, 1.50};
  std::array<double, kSpanClasses> parameter_server = {1.0, 1.20, 1.50, 2.00};
  double Factor(scheduler::CommPattern pattern, SpanClass span) const;
};

// Where one job's pods ended up.
struct PlacementSpan {
  int nodes = 0;
  int racks = 1;   // distinct domains of the narrowest level
  int blocks = 1;  // distinct domains of the level above it (1 when there is none)
  SpanClass span = SpanClass::kNode;
  bool min_nodes = false;  // on the fewest nodes any empty cluster could give it
  bool min_span = false;   // fewest nodes and fewest racks
};

class SpanMeter {
 public:
  // `empty` is the cluster with nothing on it.
  explicit SpanMeter(scheduler::ClusterState empty);
  // The span of a job of `gpus` GPUs whose pods are on `nodes` (node indices, repeats allowed).
  PlacementSpan Measure(const std::vector<std::size_t>& nodes, std::int64_t gpus) const;
  const scheduler::ClusterState& empty() const { return empty_; }

 private:
  scheduler::ClusterState empty_;
  std::vector<std::int64_t> node_gpus_;  // per node, largest first
  std::vector<std::int64_t> rack_gpus_;  // per narrowest domain, largest first
};

// The q-quantile (nearest rank) and the mean; 0 for no values.
double Percentile(std::vector<double> values, double q);
double Mean(const std::vector<double>& values);

}  // namespace gangsched::sim
