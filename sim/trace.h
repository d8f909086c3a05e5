// Trace readers of the placement simulator: the Philly-derived gavel `.trace` files (arrival time
// and gang size), the Philly duration distribution (`philly_job_distribution.csv`), and gangsched's
// own generic CSV (jobs with roles, replica counts, per-pod requests and durations). Owns turning a
// trace job of g GPUs into a gang (the pod-shape settings the report states) and the seeded
// duration sampling. File I/O is fine here (benchmarks/, outside the pure core); it must not place
// anything.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <random>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/gang.h"

namespace gangsched::sim {

// One job of a trace as the simulator replays it. Times are simulated seconds (plain integers).
struct SimJob {
  std::string id;
  std::int64_t arrival = 0;   // seconds from the start of the trace
  std::int64_t duration = 0;  // run time at the best span (one node), seconds, >= 1
  scheduler::GangSpec gang;   // quorum = every pod: trace jobs need all their pods to run
  std::int64_t gpus = 0;      // total GPUs of the gang
};

// A job of a gavel trace: only what the trace really gives.
struct TraceRecord {
  std::string id;  // "<trace name>-<line>"
  std::int64_t arrival = 0;
  int gpus = 0;
};

// How a trace job of g GPUs becomes pods (fixed before any run, stated in the report).
enum class PodShape : std::uint8_t {
  // g one-GPU workers plus ceil(g/4) CPU-only parameter servers (Philly-era TensorFlow, PS
  // pattern);
  // a one-GPU job is a single pod.
  kPsWorkers,
  // ceil(g/8) pods of up to 8 GPUs (all-reduce): g/pods GPUs each when that divides, else full
  // 8-GPU
  // pods and one smaller tail pod.
  kPacked,
};
const char* PodShapeName(PodShape shape);
tl::expected<PodShape, std::string> ParsePodShape(const std::string& name);

// Requests of the pods the shapes create (the trace gives none): a worker asks 4 CPUs and 16 GiB
// besides its GPUs, a parameter server 4 CPUs and 16 GiB.
inline constexpr std::int64_t kPodMilliCpu = 4000;
inline constexpr std::int64_t kPodMemoryBytes = 16LL << 30;

// Every simulated pod tolerates this taint, as gang pods do in the shipped manifests (DESIGN.md
// §3).
inline constexpr const char* kGpuTaintKey = "gangsched.io/gpu";

// The gang of a trace job of `gpus` GPUs in the given shape, in namespace "sim".
scheduler::GangSpec ShapeGang(const std::string& id, int gpus, PodShape shape);

// Reads a gavel trace: 7 tab-separated fields per line, arrival_time (seconds, may be fractional)
// in field 6 and scale_factor (GPUs) in field 7. Errors name `name:line`.
tl::expected<std::vector<TraceRecord>, std::string> ReadGavelTrace(std::istream& in,
                                                                   const std::string& name);

// Philly (duration, GPU count) pairs, sampled per GPU count with an injected generator.
class DurationSampler {
 public:
  // Reads `duration_s,num_gpus` lines after a header.
  static tl::expected<DurationSampler, std::string> FromCsv(std::istream& in,
                                                            const std::string& name);
  // A duration for a job of `gpus` GPUs: drawn from the jobs of the largest GPU count <= gpus that
  // the file has (so jobs above 8 GPUs draw from the 8-GPU jobs), else from the smallest count.
  std::int64_t Sample(int gpus, std::mt19937& rng) const;
  const std::map<int, std::vector<std::int64_t>>& by_gpus() const { return by_gpus_; }

 private:
  std::map<int, std::vector<std::int64_t>> by_gpus_;
};

// Trace records to jobs: gangs in `shape`, durations sampled in record order from `rng`.
std::vector<SimJob> JobsFromTrace(const std::vector<TraceRecord>& records, PodShape shape,
                                  const DurationSampler& durations, std::mt19937& rng);

// `count` jobs from `records` (in arrival order): the trace, then the trace again as often as
// needed, truncated to `count`. Copy k (k >= 1) arrives k x (arrival span + mean inter-arrival gap)
// later, so arrivals keep their pattern and never pile up at a seam; its ids get the suffix ".k".
// Copies are records: durations are sampled anew per copy (JobsFromTrace). With count <= the
// trace's size this keeps the first `count` records.
std::vector<TraceRecord> RepeatTrace(const std::vector<TraceRecord>& records, std::size_t count);

// What the offered load counts, over the arrival window [first arrival, last arrival]:
// kSpan: every job's whole work, sum(GPUs x duration) / (cluster GPUs x window);
// kWindow: only the work inside the window, GPUs x min(duration, last arrival - own arrival).
// Durations are at the best span (no communication factor). The two agree when the window is
// much longer than the durations. With Philly's heavy-tailed durations (up to ~1,500 h) kSpan
// counts work that runs long after the last arrival: 11cb48 scaled to 75% by kSpan kept 1,024
// GPUs 32% allocated during its arrivals; kWindow at 75% keeps them busy, and queues.
enum class LoadBasis : std::uint8_t { kSpan, kWindow };
const char* LoadBasisName(LoadBasis basis);
tl::expected<LoadBasis, std::string> ParseLoadBasis(const std::string& name);

// Offered load of `jobs` on a cluster of `cluster_gpus` GPUs; 0 when the window is empty.
double OfferedLoad(const std::vector<SimJob>& jobs, std::int64_t cluster_gpus,
                   LoadBasis basis = LoadBasis::kSpan);

// Compresses or stretches the arrival times about the first arrival, every arrival a becoming
// first + round((a - first) x f), with the one f that makes OfferedLoad equal `target` (found by
// bisection: the load falls as f grows; for kSpan f = load / target). Durations and gangs are
// untouched. Returns f; fails when the jobs arrive at one time only, or (kWindow) when even
// arrivals all at once cannot offer `target`: too few jobs for the cluster (RepeatTrace).
tl::expected<double, std::string> ScaleToLoad(std::vector<SimJob>& jobs, std::int64_t cluster_gpus,
                                              double target, LoadBasis basis = LoadBasis::kSpan);

// gangsched's generic trace CSV, one row per role, rows of one job together:
//   job,arrival_s,duration_s,pattern,role,replicas,gpus_per_pod,milli_cpu_per_pod,memory_mib_per_pod
// pattern is "ps" or "allreduce"; the header row is required. Errors name `name:line`.
tl::expected<std::vector<SimJob>, std::string> ReadGenericCsv(std::istream& in,
                                                              const std::string& name);

}  // namespace gangsched::sim
