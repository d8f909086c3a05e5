// Trace jobs for the simulator tests (simulator_test.cc, model_simulation_test.cc,
// peer_policies_test.cc), one line each.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/trace.h"

namespace gangsched::sim {

// A job of `pods` pods of `gpus_per_pod` GPUs (all-reduce), arriving at `arrival` s.
inline SimJob Job(const std::string& id, std::int64_t arrival, std::int64_t duration, int pods,
                  int gpus_per_pod) {
  SimJob job;
  job.id = id;
  job.arrival = arrival;
  job.duration = duration;
  job.gang.key = {"sim", id};
  scheduler::RoleSpec role;
  role.name = "worker";
  role.replicas = pods;
  role.min_members = pods;
  role.per_pod = {kPodMilliCpu, kPodMemoryBytes, gpus_per_pod, 1};
  job.gang.roles.push_back(role);
  job.gang.quorum = pods;
  job.gang.pattern = pods > 1 ? scheduler::CommPattern::kAllReduce : scheduler::CommPattern::kNone;
  job.gpus = static_cast<std::int64_t>(pods) * gpus_per_pod;
  return job;
}

// `count` jobs of 1 to 24 GPUs arriving in the first 20,000 s, packed and ps-workers shapes in
// turn, drawn from `seed`.
inline std::vector<SimJob> RandomJobs(unsigned seed, int count) {
  std::mt19937 rng(seed);
  const int sizes[] = {1, 2, 4, 8, 8, 12, 16, 24};
  std::vector<SimJob> jobs;
  for (int i = 0; i < count; ++i) {
    const int gpus = sizes[std::uniform_int_distribution<int>(0, 7)(rng)];
    SimJob job;
    job.id = "j" + std::to_string(i);
    job.arrival = std::uniform_int_distribution<std::int64_t>(0, 20'000)(rng);
    job.duration = std::uniform_int_distribution<std::int64_t>(600, 20'000)(rng);
    job.gang = ShapeGang(job.id, gpus, i % 2 == 0 ? PodShape::kPacked : PodShape::kPsWorkers);
    job.gpus = gpus;
    jobs.push_back(job);
  }
  return jobs;
}

}  // namespace gangsched::sim
