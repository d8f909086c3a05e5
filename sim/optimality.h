// The optimal reference on small instances (issue 5, reference/placement-quality.md §4): the
// one-shot problem "place these gangs on this partly used cluster with least span", written as an
// ILP in CPLEX LP format for CBC, and the same instance planned by gangsched's real planner (gang
// after gang, each held before the next is planned). Span cost of a placement: nodes + 8 x racks +
// 32 x blocks touched, summed over gangs; admitted GPUs come first (the ILP maximises them before
// the span). Running `cbc` is the caller's business (the report tool); this unit only writes and
// reads text.
#pragma once

#include <cstdint>
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

// A random instance: a generated 8-GPU cluster of 1-2 blocks x 2 racks x 2-4 nodes, nodes partly
// used by random pods, and 2-5 gangs of 1-, 2- or 4-GPU pods whose total fits in 90% of the free
// GPUs.
GapInstance RandomGapInstance(std::mt19937& rng);

// gangsched's plans for the gangs, in order, each held before the next.
tl::expected<SpanCost, std::string> PlanWithGangsched(const GapInstance& instance);

// The ILP: integer x_j_n pods of gang j on node n; binaries y_j_n (node used), z_j_d (rack used),
// w_j_d (block used), a_j (admitted). Minimise span cost - kAdmitWeight x admitted GPUs.
tl::expected<std::string, std::string> WriteGapLp(const GapInstance& instance);

// Reads the solution file `cbc MODEL.lp solve solu FILE` writes. Fails unless CBC proved
// optimality.
tl::expected<SpanCost, std::string> ReadCbcSolution(const GapInstance& instance,
                                                    std::string_view text);

}  // namespace gangsched::sim
