// Trace jobs for the simulator tests (simulator_test.cc, model_simulation_test.cc), one line each.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace gangsched::sim
