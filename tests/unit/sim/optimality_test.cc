// The CBC reference: the LP text cbc reads and the solution it writes, checked without running cbc
// (the report runs it); and gangsched's own span on a small instance with a known best answer.
#include "sim/optimality.h"

#include <catch2/catch.hpp>
#include <random>

#include "sim/cluster_builder.h"

namespace gangsched::sim {
namespace {

GapInstance TwoGangs() {
  GapInstance inst;
  inst.nodes = GeneratedCluster(1, 2, 2, 8);  // b0-r0-n0, b0-r0-n1, b0-r1-n0, b0-r1-n1
  scheduler::Pod busy;
  busy.uid = "busy";
  busy.node_name = "b0-r0-n0";
  busy.phase = scheduler::PodPhase::kRunning;
  busy.requests = {1000, 1LL << 30, 6, 1};
  inst.running.push_back(busy);
  for (int g = 0; g < 2; ++g) {
    scheduler::GangSpec gang;
    gang.key = {"gap", "g" + std::to_string(g)};
    scheduler::RoleSpec role;
    role.name = "worker";
    role.replicas = g == 0 ? 4 : 2;
    role.min_members = role.replicas;
    role.per_pod = {1000, 1LL << 30, g == 0 ? 4 : 1, 1};
    gang.roles.push_back(role);
    gang.quorum = role.replicas;
    inst.gangs.push_back(gang);
  }
  return inst;
}

TEST_CASE("the span ILP has a constraint per gang and node", "[sim][optimality]") {
  const auto lp = WriteGapLp(TwoGangs());
  REQUIRE(lp.has_value());
  CHECK(lp->find("Minimize") == 0);
  CHECK(lp->find(" gang_0: + x_0_0 + x_0_1 + x_0_2 + x_0_3 - 4 a_0 = 0") != std::string::npos);
  CHECK(lp->find(" cap_0: + 4 x_0_0 + 1 x_1_0 <= 2") != std::string::npos);
  CHECK(lp->find(" 0 <= x_0_0 <= 0") != std::string::npos);  // 2 free GPUs: no 4-GPU pod
  CHECK(lp->find("Binaries") != std::string::npos);
  CHECK(lp->substr(lp->size() - 4) == "End\n");
}

TEST_CASE("a CBC solution is read back as a span cost", "[sim][optimality]") {
  const auto inst = TwoGangs();
  const auto cost = ReadCbcSolution(inst,
                                    "Optimal - objective value -17947.00000000\n"
                                    "      0 a_0                    1                  -16000\n"
                                    "      3 y_0_2                  1                       1\n"
                                    "      4 y_0_3                  1                       1\n"
                                    "      9 z_0_2                  1                       8\n"
                                    "     12 w_0_1                  1                      32\n"
                                    "     13 a_1                    1                   -2000\n"
                                    "     14 y_1_0                  1                       1\n"
                                    "     20 z_1_1                  1                       8\n"
                                    "     22 w_1_1                  1                      32\n");
  REQUIRE(cost.has_value());
  CHECK(cost->admitted_gpus == 18);
  CHECK(cost->nodes == 3);
  CHECK(cost->racks == 2);
  CHECK(cost->blocks == 2);
  CHECK(cost->Cost() == 3 + 16 + 64);
  CHECK_FALSE(ReadCbcSolution(inst, "Infeasible - objective value 0\n").has_value());
}

TEST_CASE("gangsched reaches the best span on a small instance", "[sim][optimality]") {
  // g0 (16 GPUs) fits only in the empty rack r1; g1 (2 GPUs) on the node with 2 free in r0.
  const auto cost = PlanWithGangsched(TwoGangs());
  REQUIRE(cost.has_value());
  CHECK(cost->admitted_gpus == 18);
  CHECK(cost->nodes == 3);
  CHECK(cost->racks == 2);
  CHECK(cost->blocks == 2);
}

TEST_CASE("random gap instances leave room for their gangs", "[sim][optimality]") {
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {
    const auto inst = RandomGapInstance(rng);
    std::int64_t used = 0, demand = 0, total = 0;
    for (const auto& p : inst.running) used += p.requests.gpus;
    for (const auto& n : inst.nodes) total += n.allocatable.gpus;
    for (const auto& g : inst.gangs) demand += g.roles[0].per_pod.gpus * g.roles[0].replicas;
    CHECK(demand <= (total - used) * 9 / 10);
    CHECK(WriteGapLp(inst).has_value());
  }
}

}  // namespace
}  // namespace gangsched::sim
