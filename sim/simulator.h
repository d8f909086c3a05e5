// The discrete-event placement simulator (issue 5): jobs arrive, wait, are placed (whole, or pod by
// pod under a per-pod policy), run for a time that depends on the span of their placement, and
// leave. It drives the real core: a scheduler::ClusterState is the only record of capacity, gang
// decisions are held (ClusterState::Hold) and then committed as bound pods, exactly as the
// extender's bind barrier does. Simulated time is a plain integer of seconds; no clock is read.
// Randomness comes from one seeded std::mt19937 that the caller passes in.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "sim/policy.h"
#include "sim/trace.h"

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

enum class JobPhase : std::uint8_t { kWaiting, kPartial, kRunning, kFinished, kRejected };
const char* JobPhaseName(JobPhase phase);

// What happened to one job.
struct JobRecord {
  std::string id;
  std::int64_t gpus = 0;
  int pods = 0;
  std::int64_t arrival = 0;
  std::int64_t start = -1;    // -1: never started
  std::int64_t finish = -1;   // -1: never finished
  std::int64_t run_time = 0;  // duration x communication factor, when started
  JobPhase phase = JobPhase::kWaiting;
  int placed_pods = 0;
  std::int64_t placed_gpus = 0;  // GPUs its bound pods hold (idle while the job is partial)
  int nodes_used = 0;
  int racks_used = 0;   // distinct domains of the narrowest level
  int blocks_used = 0;  // distinct domains of the level above it (1 when there is none)
  SpanClass span = SpanClass::kNode;
  bool min_nodes = false;  // on the fewest nodes any empty cluster could give it
  bool min_span = false;   // fewest nodes and fewest racks
};

// The cluster at one moment (after the events of that time and the scheduling pass).
struct Sample {
  std::int64_t time = 0;
  std::int64_t allocated_gpus = 0;     // held by bound pods (running or partial jobs)
  std::int64_t idle_partial_gpus = 0;  // of those, held by jobs that cannot run yet
  std::int64_t free_gpus = 0;
  std::int64_t fragmented_gpus = 0;  // free GPUs on nodes with fewer than 8 free
  int running = 0;
  int waiting = 0;  // waiting or partial
};

struct Summary {
  std::string policy;
  int jobs = 0;
  int finished = 0;
  int unfinished = 0;  // not finished when no event is left (deadlock or waiting forever)
  int rejected = 0;    // larger than the whole cluster
  std::int64_t end_time = 0;
  // Queueing delay (start - arrival) and JCT (finish - arrival), seconds; jobs that never started
  // or finished count with their time censored at end_time. Rejected jobs are left out.
  double mean_queue = 0, p99_queue = 0, mean_jct = 0, p99_jct = 0;
  // Time-weighted over [first arrival, end_time].
  double allocation_rate = 0;  // allocated GPUs / total GPUs
  double busy_rate = 0;        // GPUs of running jobs / total GPUs
  double mean_idle_partial_gpus = 0;
  std::int64_t max_idle_partial_gpus = 0;
  double mean_fragmented_gpus = 0;
  // Multi-GPU gangs that started.
  int multi_gpu_started = 0;
  double min_span_share = 0;   // fewest nodes and racks possible on an empty cluster
  double min_nodes_share = 0;  // fewest nodes
  double mean_nodes = 0, mean_racks = 0, mean_blocks = 0;
  std::array<int, kSpanClasses> span_histogram = {0, 0, 0, 0};
  std::int64_t decisions = 0;  // policy calls
};

struct Report {
  Summary summary;
  std::vector<JobRecord> jobs;
  std::vector<Sample> samples;
};

// Called after every simulated moment, for tests (conservation, whole gangs).
struct EventView {
  std::int64_t time;
  const scheduler::ClusterState& state;
  const std::vector<JobRecord>& jobs;
};

struct SimOptions {
  CommModel comm;
  std::function<void(const EventView&)> on_event;  // optional
};

// Replays `jobs` (any order; sorted by arrival, stable) on a cluster of `nodes` under `policy`.
// A job that cannot fit even the empty cluster is rejected at arrival. After every moment at which
// something arrived or finished: under a gang policy, waiting jobs are tried whole in arrival order
// (backfill: a job that does not fit does not block later ones); under a per-pod policy, one pod of
// each waiting job in turn, round after round (kube-scheduler's interleaved pod queue), and bound
// pods of a job that cannot start yet hold their GPUs idle. A job (or pod) that did not fit is
// tried again only after capacity was freed. Fails when the cluster cannot be built or a gang
// policy returns part of a gang.
tl::expected<Report, std::string> Simulate(std::vector<scheduler::Node> nodes,
                                           const std::vector<SimJob>& jobs, const Policy& policy,
                                           std::mt19937& rng, const SimOptions& options = {});

}  // namespace gangsched::sim
