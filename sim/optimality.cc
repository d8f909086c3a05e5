#include "sim/optimality.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include "scheduler/cluster_state.h"
#include "scheduler/planner.h"
#include "sim/cluster_builder.h"

namespace gangsched::sim {
namespace {

using scheduler::ClusterState;

tl::expected<ClusterState, std::string> InstanceState(const GapInstance& instance) {
  auto state = ClusterState::Create(instance.nodes);
  if (!state) return tl::unexpected(state.error());
  for (const auto& pod : instance.running) {
    if (!state->AddPod(pod)) return tl::unexpected("pod " + pod.uid + " is on an unknown node");
  }
  return state;
}

// Fewest of `caps` (any order) whose sum reaches `need`, 0 when they cannot: a gang that is
// admitted uses at least this many nodes, racks or blocks.
std::int64_t FewestToCover(std::vector<std::int64_t> caps, std::int64_t need) {
  std::sort(caps.rbegin(), caps.rend());
  std::int64_t sum = 0, k = 0;
  for (std::int64_t c : caps) {
    if (sum >= need) break;
    sum += c;
    ++k;
  }
  return sum >= need ? k : 0;
}

std::vector<std::int64_t> Values(const std::map<int, std::int64_t>& m) {
  std::vector<std::int64_t> out;
  for (const auto& [key, value] : m) out.push_back(value);
  return out;
}

const scheduler::RoleSpec& OnlyRole(const scheduler::GangSpec& gang) { return gang.roles.front(); }

// Domain ids of the rack (narrowest level) and block (the level above) of a node.
std::pair<int, int> RackAndBlock(const topology::ClusterTopology& topo, int node) {
  const int levels = topo.level_count();
  const int rack = levels >= 1 ? topo.DomainAt(node, levels - 1) : 0;
  const int block = levels >= 2 ? topo.DomainAt(node, levels - 2) : 0;
  return {rack, block};
}

}  // namespace

GapInstance RandomGapInstance(std::mt19937& rng, const GapShape& shape) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  GapInstance inst;
  const int nodes_per_rack = pick(shape.min_node_steps, shape.max_node_steps) * shape.node_step;
  const int blocks = pick(shape.min_blocks, shape.max_blocks);
  inst.nodes = GeneratedCluster(blocks, shape.racks_per_block, nodes_per_rack, 8);
  std::int64_t free = 0;
  for (const auto& node : inst.nodes) {
    int used = pick(0, 9) < 6 ? pick(1, 8) : 0;
    if (used == 0) {
      free += 8;
      continue;
    }
    scheduler::Pod pod;
    pod.uid = "busy-" + node.name;
    pod.namespace_name = "busy";
    pod.name = pod.uid;
    pod.node_name = node.name;
    pod.phase = scheduler::PodPhase::kRunning;
    pod.requests = {1000, 1LL << 30, used, 1};
    inst.running.push_back(pod);
    free += 8 - used;
  }
  const int gangs = pick(shape.min_gangs, shape.max_gangs);
  std::int64_t demand = 0;
  for (int g = 0; g < gangs; ++g) {
    const int gpus_per_pod = 1 << pick(0, shape.max_pod_gpus_log2);
    const int pods = pick(1, shape.max_gang_gpus / gpus_per_pod);
    if (demand + gpus_per_pod * pods > free * 9 / 10) {
      if (shape.skip_oversized) continue;
      break;
    }
    demand += gpus_per_pod * pods;
    scheduler::GangSpec gang;
    gang.key = {"gap", "g" + std::to_string(g)};
    gang.kind = "gap instance";
    scheduler::RoleSpec role;
    role.name = "worker";
    role.replicas = pods;
    role.min_members = pods;
    role.per_pod = {1000, 1LL << 30, gpus_per_pod, 1};
    gang.roles.push_back(role);
    gang.quorum = pods;
    gang.pattern = pods > 1 ? scheduler::CommPattern::kAllReduce : scheduler::CommPattern::kNone;
    inst.gangs.push_back(gang);
  }
  return inst;
}

tl::expected<SpanCost, std::string> PlanWithGangsched(const GapInstance& instance) {
  auto state = InstanceState(instance);
  if (!state) return tl::unexpected(state.error());
  const scheduler::Planner planner;
  SpanCost cost;
  for (const auto& gang : instance.gangs) {
    const auto result = planner.PlanGang(*state, gang);
    const auto* plan = std::get_if<scheduler::Plan>(&result);
    if (plan == nullptr) continue;
    std::set<int> nodes, racks, blocks;
    for (const auto& p : plan->pods) {
      const int n = static_cast<int>(*state->FindNode(p.node));
      nodes.insert(n);
      const auto [rack, block] = RackAndBlock(state->topology(), n);
      racks.insert(rack);
      blocks.insert(block);
    }
    cost.admitted_gpus += OnlyRole(gang).per_pod.gpus * OnlyRole(gang).replicas;
    cost.nodes += static_cast<std::int64_t>(nodes.size());
    cost.racks += static_cast<std::int64_t>(racks.size());
    cost.blocks += static_cast<std::int64_t>(blocks.size());
    state->Hold(*plan);
  }
  return cost;
}

tl::expected<std::string, std::string> WriteGapLp(const GapInstance& instance, bool admit_all) {
  auto state = InstanceState(instance);
  if (!state) return tl::unexpected(state.error());
  const auto& topo = state->topology();
  const int node_count = static_cast<int>(state->node_count());
  std::set<int> rack_ids, block_ids;
  for (int n = 0; n < node_count; ++n) {
    const auto [rack, block] = RackAndBlock(topo, n);
    rack_ids.insert(rack);
    block_ids.insert(block);
  }
  std::ostringstream obj, cons, bounds, generals, binaries;
  obj << "Minimize\n obj:";
  cons << "Subject To\n";
  bounds << "Bounds\n";
  generals << "Generals\n";
  binaries << "Binaries\n";
  for (std::size_t j = 0; j < instance.gangs.size(); ++j) {
    const auto& role = OnlyRole(instance.gangs[j]);
    const std::int64_t g = role.per_pod.gpus;
    const std::string sj = std::to_string(j);
    obj << " - " << kAdmitWeight * g * role.replicas << " a_" << sj;
    binaries << " a_" << sj << "\n";
    if (admit_all) bounds << " a_" << sj << " = 1\n";
    // Pods of the gang each node, rack and block can hold (for the cuts).
    std::map<int, std::int64_t> rack_pods, block_pods;
    std::vector<std::int64_t> node_pods;
    for (int n = 0; n < node_count; ++n) {
      const std::int64_t p = std::min<std::int64_t>(state->Free(n).gpus / g, role.replicas);
      const auto [rack, block] = RackAndBlock(topo, n);
      node_pods.push_back(p);
      rack_pods[rack] += p;
      block_pods[block] += p;
    }
    const auto fewest = [&role](const std::vector<std::int64_t>& caps) {
      return FewestToCover(caps, role.replicas);
    };
    cons << " kn_" << sj << ":";
    for (int n = 0; n < node_count; ++n) cons << " + y_" << sj << "_" << n;
    cons << " - " << fewest(node_pods) << " a_" << sj << " >= 0\n";
    cons << " kr_" << sj << ":";
    for (const auto& [rack, pods] : rack_pods) cons << " + z_" << sj << "_" << rack;
    cons << " - " << fewest(Values(rack_pods)) << " a_" << sj << " >= 0\n";
    cons << " kb_" << sj << ":";
    for (const auto& [block, pods] : block_pods) cons << " + w_" << sj << "_" << block;
    cons << " - " << fewest(Values(block_pods)) << " a_" << sj << " >= 0\n";
    for (const auto& [rack, pods] : rack_pods) {
      cons << " rz_" << sj << "_" << rack << ":";
      for (int n = 0; n < node_count; ++n) {
        if (RackAndBlock(topo, n).first == rack) cons << " + x_" << sj << "_" << n;
      }
      cons << " - " << std::max<std::int64_t>(1, pods) << " z_" << sj << "_" << rack << " <= 0\n";
    }
    cons << " gang_" << sj << ":";
    for (int n = 0; n < node_count; ++n) cons << " + x_" << sj << "_" << n;
    cons << " - " << role.replicas << " a_" << sj << " = 0\n";
    for (int n = 0; n < node_count; ++n) {
      const std::string v = sj + "_" + std::to_string(n);
      const std::int64_t max_pods = std::min<std::int64_t>(state->Free(n).gpus / g, role.replicas);
      const auto [rack, block] = RackAndBlock(topo, n);
      obj << " + y_" << v;
      bounds << " 0 <= x_" << v << " <= " << max_pods << "\n";
      generals << " x_" << v << "\n";
      binaries << " y_" << v << "\n";
      cons << " ly_" << v << ": x_" << v << " - " << std::max<std::int64_t>(max_pods, 1) << " y_"
           << v << " <= 0\n";
      cons << " lz_" << v << ": y_" << v << " - z_" << sj << "_" << rack << " <= 0\n";
    }
    for (int rack : rack_ids) {
      obj << " + " << kRackSpanWeight << " z_" << sj << "_" << rack;
      binaries << " z_" << sj << "_" << rack << "\n";
      cons << " lw_" << sj << "_" << rack << ": z_" << sj << "_" << rack << " - w_" << sj << "_"
           << topo.domain(rack).parent << " <= 0\n";
    }
    for (int block : block_ids) {
      obj << " + " << kBlockSpanWeight << " w_" << sj << "_" << block;
      binaries << " w_" << sj << "_" << block << "\n";
    }
  }
  for (int n = 0; n < node_count; ++n) {
    cons << " cap_" << n << ":";
    for (std::size_t j = 0; j < instance.gangs.size(); ++j) {
      cons << " + " << OnlyRole(instance.gangs[j]).per_pod.gpus << " x_" << j << "_" << n;
    }
    cons << " <= " << state->Free(n).gpus << "\n";
  }
  return obj.str() + "\n" + cons.str() + bounds.str() + generals.str() + binaries.str() + "End\n";
}

tl::expected<CbcResult, std::string> ReadCbcResult(const GapInstance& instance,
                                                   std::string_view solution,
                                                   std::string_view log) {
  std::istringstream in{std::string(solution)};
  std::string status;
  std::getline(in, status);
  CbcResult result;
  result.optimal = status.rfind("Optimal", 0) == 0;
  const bool stopped = status.rfind("Stopped", 0) == 0;
  if (!result.optimal && !stopped) {
    return tl::unexpected("CBC did not solve the instance: \"" + status + "\"");
  }
  result.has_solution = status.find("objective value") != std::string::npos;
  if (!result.has_solution) {
    if (result.optimal) return tl::unexpected("CBC wrote no solution: \"" + status + "\"");
    return result;
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string index, name;
    double value = 0;
    if (!(fields >> index >> name >> value)) continue;
    if (value < 0.5) continue;
    const char kind = name.empty() ? '?' : name[0];
    if (kind == 'y') ++result.best.nodes;
    if (kind == 'z') ++result.best.racks;
    if (kind == 'w') ++result.best.blocks;
    if (kind == 'a') {
      const auto j = static_cast<std::size_t>(std::stoul(name.substr(2)));
      if (j >= instance.gangs.size()) return tl::unexpected("unknown variable " + name);
      const auto& role = OnlyRole(instance.gangs[j]);
      result.best.admitted_gpus += role.per_pod.gpus * role.replicas;
    }
  }
  std::int64_t all_gpus = 0;
  for (const auto& gang : instance.gangs) {
    all_gpus += OnlyRole(gang).per_pod.gpus * OnlyRole(gang).replicas;
  }
  if (result.optimal) {
    result.span_bound = result.best.Cost();
  } else if (result.best.admitted_gpus == all_gpus) {
    // "Partial search - best objective X (best possible B), ..." on a stop; the last one counts.
    const std::string text(log);
    const std::string key = "best possible ";
    const auto at = text.rfind(key);
    if (at != std::string::npos) {
      const double bound = std::strtod(text.c_str() + at + key.size(), nullptr);
      const auto span = static_cast<std::int64_t>(
          std::ceil(bound + static_cast<double>(kAdmitWeight * all_gpus) - 1e-6));
      result.span_bound = std::min(span, result.best.Cost());
    }
  }
  return result;
}

tl::expected<SpanCost, std::string> ReadCbcSolution(const GapInstance& instance,
                                                    std::string_view text) {
  auto result = ReadCbcResult(instance, text, "");
  if (!result) return tl::unexpected(result.error());
  if (!result->optimal) {
    std::string status(text.substr(0, text.find('\n')));
    return tl::unexpected("CBC did not prove optimality: \"" + status + "\"");
  }
  return result->best;
}

}  // namespace gangsched::sim
