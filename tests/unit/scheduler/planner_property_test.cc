// Property tests over random clusters and gangs (seeded): a GPU is never over-committed, a gang is
// placed whole or not at all, held capacity is never given away, the same input gives the same
// plan.
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "scheduler/planner.h"
#include "tests/support/builders.h"

namespace gangsched::scheduler {
namespace {

using testing::MakeGang;
using testing::MakeNode;

std::vector<Node> RandomCluster(std::mt19937& rng) {
  std::uniform_int_distribution<int> blocks(1, 3), racks(1, 4), nodes(1, 6);
  std::uniform_int_distribution<int> gpu_pick(0, 3), cpu(2, 64);
  const int gpu_options[] = {2, 4, 8, 16};
  std::vector<Node> out;
  const int nb = blocks(rng);
  for (int b = 0; b < nb; ++b) {
    const int nr = racks(rng);
    for (int r = 0; r < nr; ++r) {
      const int nn = nodes(rng);
      for (int n = 0; n < nn; ++n) {
        const std::string rack = "b" + std::to_string(b) + "-r" + std::to_string(r);
        out.push_back(MakeNode(rack + "-n" + std::to_string(n))
                          .Gpus(gpu_options[gpu_pick(rng)])
                          .Cpu(cpu(rng) * 1000)
                          .Block("b" + std::to_string(b))
                          .Rack(rack));
      }
    }
  }
  return out;
}

GangSpec RandomGang(std::mt19937& rng, int id) {
  std::uniform_int_distribution<int> workers(1, 12), gpus_pick(0, 4), ps(0, 2);
  const int gpu_options[] = {1, 1, 2, 4, 8};
  auto gang = MakeGang("prop", "g" + std::to_string(id));
  const int n_ps = ps(rng);
  if (n_ps > 0) gang.Role("ps", n_ps, 0, 2000);
  gang.Role("worker", workers(rng), gpu_options[gpus_pick(rng)], 1000);
  return gang.Build();
}

// Checks every node's GPUs: ids held by holds are distinct, within range and within allocatable.
void CheckNoOvercommit(const ClusterState& state) {
  std::map<std::string, std::set<int>> ids;
  std::map<std::string, std::int64_t> cpu;
  for (const auto& [key, plan] : state.holds()) {
    for (const auto& p : plan.pods) {
      for (int g : p.gpu_ids) {
        INFO("gang " << key.ToString() << " node " << p.node << " gpu " << g);
        CHECK(ids[p.node].insert(g).second);
      }
      cpu[p.node] += p.requests.milli_cpu;
    }
  }
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    const Node& n = state.node(i);
    CHECK(static_cast<std::int64_t>(ids[n.name].size()) <= n.allocatable.gpus);
    for (int g : ids[n.name]) CHECK(g < n.allocatable.gpus);
    CHECK(cpu[n.name] <= n.allocatable.milli_cpu);
    CHECK(state.Free(i).gpus >= 0);
    CHECK(state.Free(i).milli_cpu >= 0);
  }
}

TEST_CASE("random clusters and gangs: invariants hold", "[planner][property]") {
  const auto seed = GENERATE(range(1, 41));
  std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
  auto created = ClusterState::Create(RandomCluster(rng));
  REQUIRE(created);
  ClusterState state = std::move(*created);
  Planner planner;
  int placed = 0;
  for (int id = 0; id < 25; ++id) {
    const GangSpec gang = RandomGang(rng, id);
    INFO("seed " << seed << " gang " << id);
    const PlanResult first = planner.PlanGang(state, gang);
    const PlanResult second = planner.PlanGang(state, gang);
    REQUIRE(first.index() == second.index());
    if (const auto* plan = std::get_if<Plan>(&first)) {
      const auto& again = std::get<Plan>(second);
      // Deterministic.
      REQUIRE(plan->pods.size() == again.pods.size());
      for (std::size_t i = 0; i < plan->pods.size(); ++i) {
        CHECK(plan->pods[i].node == again.pods[i].node);
        CHECK(plan->pods[i].gpu_ids == again.pods[i].gpu_ids);
      }
      // Whole: every quorum member, each GPU request met exactly.
      CHECK(static_cast<int>(plan->pods.size()) == gang.EffectiveQuorum());
      for (const auto& p : plan->pods) {
        CHECK(static_cast<std::int64_t>(p.gpu_ids.size()) == p.requests.gpus);
        CHECK_FALSE(p.node.empty());
      }
      // Never on held capacity: every chosen GPU is free before the hold.
      for (const auto& p : plan->pods) {
        const auto node = state.FindNode(p.node);
        REQUIRE(node);
        for (int g : p.gpu_ids) CHECK((state.FreeGpuMask(*node) >> g) & 1U);
      }
      state.Hold(*plan);
      ++placed;
    } else {
      // Not at all: nothing was held for it.
      CHECK(state.HoldOf(gang.key) == nullptr);
    }
    CheckNoOvercommit(state);
  }
  // Release everything: the cluster is whole again.
  std::vector<GangKey> keys;
  for (const auto& [key, plan] : state.holds()) keys.push_back(key);
  for (const auto& key : keys) state.Release(key);
  CHECK(state.FreeGpus() == state.TotalGpus());
  CHECK(placed > 0);
}

}  // namespace
}  // namespace gangsched::scheduler
