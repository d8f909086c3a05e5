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

std::string SpanName(const scheduler::Plan& plan, const LevelNames& levels) {
  const auto count = static_cast<int>(levels.size());
  if (plan.span_level == 0) return "node";
  if (plan.span_level <= count) return levels[static_cast<std::size_t>(count - plan.span_level)];
  return "cluster";
}

nlohmann::json PlanJson(const scheduler::Plan& plan, const LevelNames& levels) {
  nlohmann::json pods = nlohmann::json::array();
  for (const scheduler::PodPlacement& p : plan.pods) {
    pods.push_back({{"role", p.role_name},
                    {"index", p.index},
                    {"node", p.node},
                    {"domains", p.domains},
                    {"gpu_ids", p.gpu_ids},
                    {"gpus", p.requests.gpus}});
  }
  return {{"span", SpanName(plan, levels)},
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

nlohmann::json GangJson(const scheduler::GangStatus& g, Millis now, const LevelNames& levels,
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
  j["plan"] = g.plan ? PlanJson(*g.plan, levels) : nlohmann::json(nullptr);
  if (shape) j["need"] = NeedJson(*shape);
  return j;
}

GangsPage CopyGangsPage(const scheduler::GangScheduler& engine, Millis now,
                        const std::string& after, std::size_t limit) {
  GangsPage page;
  page.now = now;
  page.levels = engine.state().topology().level_names();
  scheduler::GangKey from;
  if (const auto slash = after.find('/'); slash != std::string::npos) {
    from = {after.substr(0, slash), after.substr(slash + 1)};
  }
  // One more than asked: whether another page follows.
  page.gangs = engine.Gangs(now, from, limit + 1);
  page.more = page.gangs.size() > limit;
  if (page.more) page.gangs.pop_back();
  page.shapes.reserve(page.gangs.size());
  for (const scheduler::GangStatus& g : page.gangs) page.shapes.push_back(engine.ShapeOf(g.key));
  page.total = engine.gang_count();
  return page;
}

nlohmann::json GangsPageJson(const GangsPage& page) {
  nlohmann::json gangs = nlohmann::json::array();
  for (std::size_t i = 0; i < page.gangs.size(); ++i) {
    gangs.push_back(GangJson(page.gangs[i], page.now, page.levels, page.shapes[i]));
  }
  nlohmann::json j = {{"gangs", std::move(gangs)}, {"total", page.total}};
  if (page.more && !page.gangs.empty()) j["continue"] = page.gangs.back().key.ToString();
  return j;
}

StateSnapshot CopyState(const scheduler::GangScheduler& engine, bool ready, std::size_t held_binds,
                        Millis now) {
  const scheduler::ClusterState& state = engine.state();
  StateSnapshot snap;
  snap.ready = ready;
  snap.held_binds = held_binds;
  snap.levels = state.topology().level_names();
  snap.total_gpus = state.TotalGpus();
  snap.free_gpus = state.FreeGpus();
  snap.nodes.reserve(state.node_count());
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    const scheduler::Node& n = state.node(i);
    const scheduler::NodeUsage& u = state.usage(i);
    snap.nodes.push_back({n.name, state.topology().PathNames(static_cast<int>(i)), n.allocatable,
                          state.Free(i), u.used.gpus, u.held.gpus, state.FreeGpuMask(i),
                          n.unschedulable});
  }
  for (const auto& [key, plan] : state.holds()) {
    std::optional<Millis> expires;
    if (auto deadline = engine.holds().Deadline(key)) expires = *deadline - now;
    snap.holds.push_back({key, plan, expires});
  }
  return snap;
}

nlohmann::json StateJson(const StateSnapshot& state) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const StateSnapshot::NodeRow& n : state.nodes) {
    nodes.push_back(
        {{"name", n.name},
         {"domains", n.domains},
         {"gpus",
          {{"allocatable", n.allocatable.gpus},
           {"used", n.used_gpus},
           {"held", n.held_gpus},
           {"free", n.free.gpus}}},
         {"free_gpu_ids", MaskIds(n.free_gpu_mask)},
         {"milli_cpu", {{"allocatable", n.allocatable.milli_cpu}, {"free", n.free.milli_cpu}}},
         {"memory_bytes",
          {{"allocatable", n.allocatable.memory_bytes}, {"free", n.free.memory_bytes}}},
         {"unschedulable", n.unschedulable}});
  }
  nlohmann::json holds = nlohmann::json::array();
  for (const StateSnapshot::HoldRow& h : state.holds) {
    nlohmann::json j = PlanJson(h.plan, state.levels);
    j["gang"] = h.gang.ToString();
    if (h.expires_in_ms) j["expires_in_ms"] = *h.expires_in_ms;
    holds.push_back(std::move(j));
  }
  return {{"ready", state.ready},
          {"levels", state.levels},
          {"gpus", {{"total", state.total_gpus}, {"free", state.free_gpus}}},
          {"nodes", std::move(nodes)},
          {"holds", std::move(holds)},
          {"held_binds", state.held_binds}};
}

}  // namespace gangsched::api
