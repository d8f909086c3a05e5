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
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "sim/placement_measure.h"
#include "sim/policy.h"
#include "sim/trace.h"

namespace gangsched::sim {

enum class JobPhase : std::uint8_t { kWaiting, kPartial, kRunning, kFinished, kRejected };
const char* JobPhaseName(JobPhase phase);

// What the engine did during a model run (issue 11 item 2): its own counters
// (scheduler::EngineCounters) and the nudges the model's notifier made. A count the run cannot
// observe is absent (nullopt) and `notes` says why: never a made-up 0.
struct RunCounters {
  std::optional<std::int64_t> hold_expiries;
  std::optional<std::int64_t> replans;
  std::optional<std::int64_t> nudges;
  std::optional<std::int64_t> preemptions;
  std::optional<std::int64_t> drains;
  std::vector<std::string> notes;
};

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
  PlacementSpan placement;       // once started
  // The kube-scheduler model only (-1 otherwise): its last pod created, and its whole gang bound,
  // in virtual milliseconds.
  std::int64_t last_created_ms = -1;
  std::int64_t bound_ms = -1;
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
  std::int64_t decisions = 0;  // policy calls (planner path) or scheduling cycles (model)
  // What ran the policy: "planner" (this file) or "kube-scheduler-model"
  // (sim/model_simulation.h). The fields below are filled by the model only.
  std::string engine = "planner";
  // From the creation of a job's last pod to its whole gang bound, seconds, over the jobs bound.
  int gangs_bound = 0;
  double p50_gang_bound = 0, p99_gang_bound = 0;
  RunCounters counters;
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

// A job larger than the empty cluster (by GPUs, or by node slots for its pod sizes): rejected at
// arrival by both simulators rather than left waiting forever.
bool NeverFits(const scheduler::ClusterState& empty, const SimJob& job);

// Fills `report.summary` (all but policy, decisions and the model's fields) from its jobs and
// samples; `now` is the end of the run (jobs not started or finished are censored there).
void Summarize(Report& report, std::int64_t now, std::int64_t total_gpus);

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
