#include "sim/placement_measure.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace gangsched::sim {
namespace {

// Smallest k such that the k largest values sum to at least `need` (values sorted descending).
int FewestToCover(const std::vector<std::int64_t>& sorted_desc, std::int64_t need) {
  std::int64_t sum = 0;
  int k = 0;
  for (std::int64_t v : sorted_desc) {
    if (sum >= need) break;
    sum += v;
    ++k;
  }
  return k;
}

}  // namespace

const char* SpanClassName(SpanClass span) {
  switch (span) {
    case SpanClass::kNode:
      return "node";
    case SpanClass::kRack:
      return "rack";
    case SpanClass::kBlock:
      return "block";
    case SpanClass::kBeyond:
      return "cross-block";
  }
  return "?";
}

double CommModel::Factor(scheduler::CommPattern pattern, SpanClass span) const {
  const auto i = static_cast<std::size_t>(span);
  switch (pattern) {
    case scheduler::CommPattern::kParameterServer:
      return parameter_server[i];
    case scheduler::CommPattern::kAllReduce:
      return all_reduce[i];
    case scheduler::CommPattern::kNone:
      return 1.0;
  }
  return 1.0;
}

SpanMeter::SpanMeter(scheduler::ClusterState empty) : empty_(std::move(empty)) {
  const auto& topo = empty_.topology();
  const int levels = topo.level_count();
  for (std::size_t n = 0; n < empty_.node_count(); ++n) {
    node_gpus_.push_back(empty_.node(n).allocatable.gpus);
  }
  for (const auto& d : topo.domains()) {
    if (levels >= 1 && d.level == levels - 1)
      rack_gpus_.push_back(empty_.capacity().DomainFree(d.id));
  }
  if (rack_gpus_.empty()) rack_gpus_.push_back(empty_.TotalGpus());
  std::sort(node_gpus_.rbegin(), node_gpus_.rend());
  std::sort(rack_gpus_.rbegin(), rack_gpus_.rend());
}

PlacementSpan SpanMeter::Measure(const std::vector<std::size_t>& used, std::int64_t gpus) const {
  const auto& topo = empty_.topology();
  const int levels = topo.level_count();
  const std::set<std::size_t> distinct(used.begin(), used.end());
  std::set<int> racks, blocks;
  int distance = 0;
  for (std::size_t a : distinct) {
    const int na = static_cast<int>(a);
    if (levels >= 1) racks.insert(topo.DomainAt(na, levels - 1));
    if (levels >= 2) blocks.insert(topo.DomainAt(na, levels - 2));
    distance = std::max(distance, topo.Distance(static_cast<int>(*distinct.begin()), na));
  }
  // Distance to the first node bounds the pairwise maximum in a tree from below; take the
  // pairwise maximum only when it can differ (nodes in more than one narrowest domain).
  if (racks.size() > 1) {
    for (std::size_t a : distinct) {
      for (std::size_t b : distinct) {
        distance = std::max(distance, topo.Distance(static_cast<int>(a), static_cast<int>(b)));
      }
    }
  }
  PlacementSpan out;
  out.nodes = static_cast<int>(distinct.size());
  out.racks = std::max<int>(1, static_cast<int>(racks.size()));
  out.blocks = std::max<int>(1, static_cast<int>(blocks.size()));
  out.span = static_cast<SpanClass>(std::min(distance, kSpanClasses - 1));
  out.min_nodes = out.nodes <= FewestToCover(node_gpus_, gpus);
  out.min_span = out.min_nodes && out.racks <= FewestToCover(rack_gpus_, gpus);
  return out;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

}  // namespace gangsched::sim
