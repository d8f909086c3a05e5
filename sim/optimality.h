// The optimal reference on small instances (issue 5, reference/placement-quality.md §4): the
// one-shot problem "place these gangs on this partly used cluster with least span", written as an
// ILP in CPLEX LP format for CBC, and the same instance planned by gangsched's real planner (gang
// after gang, each held before the next is planned). Span cost of a placement: nodes + 8 x racks +
// 32 x blocks touched, summed over gangs; admitted GPUs come first (the ILP maximises them before
// the span). Running `cbc` is the caller's business (the report tool); this unit only writes and
// reads text.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/gang.h"
#include "scheduler/model.h"

namespace gangsched::sim {

inline constexpr std::int64_t kRackSpanWeight = 8;
inline constexpr std::int64_t kBlockSpanWeight = 32;
inline constexpr std::int64_t kAdmitWeight = 1000;  // per admitted GPU, above any span cost

struct GapInstance {
  std::vector<scheduler::Node> nodes;
  std::vector<scheduler::Pod> running;     // bound pods that leave the cluster partly used
  std::vector<scheduler::GangSpec> gangs;  // one role each: `replicas` pods of `gpus` GPUs
};

struct SpanCost {
  std::int64_t admitted_gpus = 0;
  std::int64_t nodes = 0;
  std::int64_t racks = 0;
  std::int64_t blocks = 0;
  std::int64_t Cost() const { return nodes + kRackSpanWeight * racks + kBlockSpanWeight * blocks; }
};

// What random instances look like: a generated 8-GPU cluster of blocks x racks x nodes, each
// node busy with a random 1-8 GPUs with probability 0.6, and gangs of one role whose pods ask
// 1, 2, 4 ... GPUs, as many as fit in 90% of the free GPUs.
struct GapShape {
  int min_blocks = 1, max_blocks = 2;
  int racks_per_block = 2;
  int node_step = 2, min_node_steps = 1, max_node_steps = 2;  // nodes per rack: step x [min, max]
  int min_gangs = 2, max_gangs = 5;
  int max_pod_gpus_log2 = 2;  // pods of 1 .. 2^k GPUs
  int max_gang_gpus = 16;
  // A gang beyond the 90% stops the instance (small) or is skipped for the next one (large).
  bool skip_oversized = false;
};
// 32 to 128 GPUs: 1-2 blocks x 2 racks x 2-4 nodes, 2-5 gangs of 1-, 2- or 4-GPU pods, up to 16
// GPUs each (the instances of the report until issue 12).
inline constexpr GapShape kSmallGap{};
// 128 to 512 GPUs: 1-2 blocks x 4 racks x 4 or 8 nodes, 3-8 gangs of 1- to 8-GPU pods, up to 64
// GPUs each (Philly's largest gang).
inline constexpr GapShape kLargeGap{1, 2, 4, 4, 1, 2, 3, 8, 3, 64, true};

GapInstance RandomGapInstance(std::mt19937& rng, const GapShape& shape = kSmallGap);

// gangsched's plans for the gangs, in order, each held before the next.
tl::expected<SpanCost, std::string> PlanWithGangsched(const GapInstance& instance);

// The ILP: integer x_j_n pods of gang j on node n; binaries y_j_n (node used), z_j_d (rack used),
// w_j_d (block used), a_j (admitted). Minimise span cost - kAdmitWeight x admitted GPUs. With
// `admit_all` every a_j is fixed to 1: exact when some plan admits every gang (gangsched's did),
// and it spares CBC the trade between admitting and span. Valid cuts tighten the relaxation: a
// gang uses at least the fewest nodes, racks and blocks that can hold its pods, and no more pods
// in a rack than the rack can hold while the rack is used.
tl::expected<std::string, std::string> WriteGapLp(const GapInstance& instance,
                                                  bool admit_all = false);

// What `cbc MODEL.lp ... solve solu FILE` found: its best solution as a span cost, whether it
// proved it optimal, and (when it stopped on its time limit) the lower bound it proved, from the
// "best possible" figure of its log, as a span cost (only when every gang is admitted: then the
// objective is span - kAdmitWeight x all GPUs).
struct CbcResult {
  bool has_solution = false;  // false: stopped on its time limit before any solution
  SpanCost best;
  bool optimal = false;
  std::optional<std::int64_t> span_bound;  // <= best.Cost(); equal when optimal
};

// Reads the solution file and CBC's log. Fails when CBC reported infeasibility or a status it
// does not explain (a bug of the instance or the LP).
tl::expected<CbcResult, std::string> ReadCbcResult(const GapInstance& instance,
                                                   std::string_view solution, std::string_view log);

// The solution file alone; fails unless CBC proved optimality.
tl::expected<SpanCost, std::string> ReadCbcSolution(const GapInstance& instance,
                                                    std::string_view text);

}  // namespace gangsched::sim
