#include "api/views.h"

#include <string>
#include <vector>

namespace gangsched::api {

using scheduler::Millis;

namespace {

std::vector<int> MaskIds(std::uint64_t mask) {
  std::vector<int> ids;
  for (int i = 0; i < 64; ++i) {
    if (mask & (std::uint64_t{1} << i)) ids.push_back(i);
  }
  return ids;
}

}  // namespace

std::string SpanName(const scheduler::Plan& plan, const topology::ClusterTopology& topo) {
  const int levels = topo.level_count();
  if (plan.span_level == 0) return "node";
  if (plan.span_level <= levels) {
    return topo.level_names()[static_cast<std::size_t>(levels - plan.span_level)];
  }
  return "cluster";
}

nlohmann::json PlanJson(const scheduler::Plan& plan, const topology::ClusterTopology& topo) {
  nlohmann::json pods = nlohmann::json::array();
  for (const scheduler::PodPlacement& p : plan.pods) {
    pods.push_back({{"role", p.role_name},
                    {"index", p.index},
                    {"node", p.node},
                    {"domains", p.domains},
                    {"gpu_ids", p.gpu_ids},
                    {"gpus", p.requests.gpus}});
  }
  return {{"span", SpanName(plan, topo)},
          {"span_domain", plan.span_domain},
          {"nodes_used", plan.nodes_used},
          {"domains_used", plan.domains_used},
          {"pods", std::move(pods)}};
}

nlohmann::json NeedJson(const scheduler::GangSpec& shape) {
  std::vector<int> pods(shape.roles.size(), 0);
  for (const auto& [role, replica] : shape.QuorumMembers()) ++pods[static_cast<std::size_t>(role)];
  nlohmann::json need = nlohmann::json::array();
  for (std::size_t r = 0; r < shape.roles.size(); ++r) {
    if (pods[r] == 0) continue;
    const scheduler::Resources& per_pod = shape.roles[r].per_pod;
    need.push_back({{"role", shape.roles[r].name},
                    {"pods", pods[r]},
                    {"gpus", per_pod.gpus},
                    {"milli_cpu", per_pod.milli_cpu},
                    {"memory_bytes", per_pod.memory_bytes}});
  }
  return need;
}

nlohmann::json GangJson(const scheduler::GangStatus& g, Millis now,
                        const topology::ClusterTopology& topo,
                        const std::optional<scheduler::GangSpec>& shape) {
  nlohmann::json j = {{"namespace", g.key.namespace_name},
                      {"name", g.key.name},
                      {"kind", g.kind},
                      {"phase", scheduler::GangPhaseName(g.phase)},
                      {"reason", g.reason},
                      {"quorum", g.quorum},
                      {"members_seen", g.members_seen},
                      {"members_arrived", g.members_arrived},
                      {"members_bound", g.members_bound}};
  j["hold_expires_in_ms"] =
      g.hold_deadline ? nlohmann::json(*g.hold_deadline - now) : nlohmann::json(nullptr);
  j["backoff_for_ms"] =
      g.backoff_until ? nlohmann::json(*g.backoff_until - now) : nlohmann::json(nullptr);
  j["plan"] = g.plan ? PlanJson(*g.plan, topo) : nlohmann::json(nullptr);
  if (shape) j["need"] = NeedJson(*shape);
  return j;
}

nlohmann::json StateJson(const scheduler::GangScheduler& engine, bool ready, std::size_t held_binds,
                         Millis now) {
  const scheduler::ClusterState& state = engine.state();
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    const scheduler::Node& n = state.node(i);
    const scheduler::NodeUsage& u = state.usage(i);
    const scheduler::Resources free = state.Free(i);
    nodes.push_back(
        {{"name", n.name},
         {"domains", state.topology().PathNames(static_cast<int>(i))},
         {"gpus",
          {{"allocatable", n.allocatable.gpus},
           {"used", u.used.gpus},
           {"held", u.held.gpus},
           {"free", free.gpus}}},
         {"free_gpu_ids", MaskIds(state.FreeGpuMask(i))},
         {"milli_cpu", {{"allocatable", n.allocatable.milli_cpu}, {"free", free.milli_cpu}}},
         {"memory_bytes",
          {{"allocatable", n.allocatable.memory_bytes}, {"free", free.memory_bytes}}},
         {"unschedulable", n.unschedulable}});
  }
  nlohmann::json holds = nlohmann::json::array();
  for (const auto& [key, plan] : state.holds()) {
    nlohmann::json h = PlanJson(plan, state.topology());
    h["gang"] = key.ToString();
    if (auto g = engine.GangOf(key, now); g && g->hold_deadline) {
      h["expires_in_ms"] = *g->hold_deadline - now;
    }
    holds.push_back(std::move(h));
  }
  nlohmann::json j = {{"ready", ready},
                      {"levels", state.topology().level_names()},
                      {"gpus", {{"total", state.TotalGpus()}, {"free", state.FreeGpus()}}},
                      {"nodes", std::move(nodes)},
                      {"holds", std::move(holds)},
                      {"held_binds", held_binds}};
  return j;
}

}  // namespace gangsched::api
