// The CBC reference: the LP text cbc reads and the solution it writes, checked without running cbc
// (the report runs it); and gangsched's own span on a small instance with a known best answer.
#include "sim/optimality.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>

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

// The variables CBC reports for TwoGangs() with g0 on b0-r1 and g1 on b0-r0-n0 (its solution file
// after the status line).
std::string TwoGangsSolution() {
  return "      0 a_0                    1                  -16000\n"
         "      3 y_0_2                  1                       1\n"
         "      4 y_0_3                  1                       1\n"
         "      9 z_0_2                  1                       8\n"
         "     12 w_0_1                  1                      32\n"
         "     13 a_1                    1                   -2000\n"
         "     14 y_1_0                  1                       1\n"
         "     20 z_1_1                  1                       8\n"
         "     22 w_1_1                  1                      32\n";
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
  const auto cost =
      ReadCbcSolution(inst, "Optimal - objective value -17947.00000000\n" + TwoGangsSolution());
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

TEST_CASE("large gap instances reach 512 GPUs with gangs up to 64 GPUs", "[sim][optimality]") {
  std::mt19937 rng(3);
  std::set<std::int64_t> sizes;
  std::int64_t largest_gang = 0;
  for (int i = 0; i < 30; ++i) {
    const auto inst = RandomGapInstance(rng, kLargeGap);
    std::int64_t used = 0, demand = 0, total = 0;
    for (const auto& p : inst.running) used += p.requests.gpus;
    for (const auto& n : inst.nodes) total += n.allocatable.gpus;
    for (const auto& g : inst.gangs) {
      const std::int64_t gpus = g.roles[0].per_pod.gpus * g.roles[0].replicas;
      demand += gpus;
      largest_gang = std::max(largest_gang, gpus);
      CHECK(gpus <= 64);
    }
    sizes.insert(total);
    CHECK(total >= 128);
    CHECK(total <= 512);
    CHECK(demand <= (total - used) * 9 / 10);
  }
  CHECK(sizes.count(512) == 1);
  CHECK(largest_gang > 32);
}

TEST_CASE("the ILP can fix admission and bounds every gang's span from below",
          "[sim][optimality]") {
  const auto free_admission = WriteGapLp(TwoGangs());
  const auto admit_all = WriteGapLp(TwoGangs(), true);
  REQUIRE(free_admission.has_value());
  REQUIRE(admit_all.has_value());
  CHECK(free_admission->find(" a_0 = 1") == std::string::npos);
  CHECK(admit_all->find(" a_0 = 1\n") != std::string::npos);
  CHECK(admit_all->find(" a_1 = 1\n") != std::string::npos);
  // g0: 4 pods of 4 GPUs; n0 has 2 free, the others 8: at least 2 nodes, 1 rack (r1 holds 4 pods).
  CHECK(admit_all->find(" kn_0: + y_0_0 + y_0_1 + y_0_2 + y_0_3 - 2 a_0 >= 0") !=
        std::string::npos);
  CHECK(admit_all->find(" - 1 a_0 >= 0") != std::string::npos);
  CHECK(admit_all->find(" x_0_2 + x_0_3 - 4 z_0_") != std::string::npos);
}

TEST_CASE("a CBC stop on its time limit keeps its best solution and proved bound",
          "[sim][optimality]") {
  const auto inst = TwoGangs();
  const std::string solution =
      "Stopped on time - objective value -17900.00000000\n" + TwoGangsSolution();
  const std::string log =
      "Cbc0010I After 1000 nodes, 5 on tree, -17900 best solution, best possible -17950.2\n"
      "Cbc0005I Partial search - best objective -17900 (best possible -17940.5), took 99 "
      "iterations and 10 nodes (10.00 seconds)\n";
  const auto result = ReadCbcResult(inst, solution, log);
  REQUIRE(result.has_value());
  CHECK(result->has_solution);
  CHECK_FALSE(result->optimal);
  CHECK(result->best.Cost() == 83);
  REQUIRE(result->span_bound.has_value());
  CHECK(*result->span_bound == 60);  // ceil(-17940.5 + 18 x 1000)
  CHECK_FALSE(ReadCbcSolution(inst, solution).has_value());

  const auto none = ReadCbcResult(inst, "Stopped on time - no integer solution\n", "");
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_solution);
  const auto optimal = ReadCbcResult(
      inst, "Optimal - objective value -17917.00000000\n      0 a_0  1  -16000\n", "");
  REQUIRE(optimal.has_value());
  CHECK(optimal->optimal);
  CHECK(optimal->span_bound == optimal->best.Cost());
}

}  // namespace
}  // namespace gangsched::sim
