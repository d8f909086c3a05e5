#include "sim/workload.h"

#include <algorithm>
#include <random>

#include "sim/trace.h"

namespace gangsched::sim {

int WorkloadJob::Pods() const {
  int total = 0;
  for (const RoleTemplate& r : roles) total += r.replicas;
  return total;
}

scheduler::Resources PodRequests(std::int64_t gpus) {
  return {kPodMilliCpu, kPodMemoryBytes, gpus, 1};
}

std::vector<WorkloadJob> RandomWorkload(std::uint64_t seed, const RandomWorkloadOptions& options) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  auto exponential = [&](Millis mean) {
    return static_cast<Millis>(std::exponential_distribution<double>(1.0 / mean)(rng));
  };
  const std::int64_t gpu_sizes[] = {1, 2, 4, 8};
  std::vector<std::int64_t> sizes;
  for (std::int64_t g : gpu_sizes) {
    if (g <= options.max_gpus_per_pod) sizes.push_back(g);
  }
  std::vector<WorkloadJob> jobs;
  Millis at = 0;
  for (int i = 0; i < options.jobs; ++i) {
    WorkloadJob job;
    job.id = "j" + std::to_string(i);
    at += exponential(options.mean_interarrival);
    job.arrival = at;
    job.duration = std::max<Millis>(1'000, exponential(options.mean_duration));
    job.role_delay = uniform(0, 2'000);
    job.pod_delay = uniform(0, 50);
    job.priority = uniform(0, 99) < options.high_priority_percent ? 100 : 0;
    job.tolerations.push_back({kGpuTaintKey, true, "", std::nullopt});
    const std::int64_t gpus = sizes[static_cast<std::size_t>(uniform(0, sizes.size() - 1))];
    if (uniform(0, 99) < options.plain_percent) {
      job.gang = false;
      job.roles.push_back({"", 1, PodRequests(gpus)});
    } else if (uniform(0, 99) < options.ps_percent) {
      job.roles.push_back({"ps", static_cast<int>(uniform(1, 2)), PodRequests(0)});
      job.roles.push_back(
          {"worker", static_cast<int>(uniform(1, options.max_workers)), PodRequests(gpus)});
    } else {
      if (uniform(0, 1) == 0) job.roles.push_back({"master", 1, PodRequests(gpus)});
      job.roles.push_back(
          {"worker", static_cast<int>(uniform(1, options.max_workers)), PodRequests(gpus)});
    }
    // Drawn only when asked for, so workloads without Kubeflow jobs stay what they were.
    if (options.kubeflow_percent + options.pod_group_percent > 0 && job.gang) {
      const std::int64_t draw = uniform(0, 99);
      job.kubeflow = draw < options.kubeflow_percent;
      job.pod_group = !job.kubeflow && draw < options.kubeflow_percent + options.pod_group_percent;
      if (job.kubeflow || job.pod_group) {
        job.roster_offset = uniform(-options.roster_early, options.roster_late);
      }
    }
    if (options.one_role_at_once && job.gang) {
      job.roles.erase(job.roles.begin(), job.roles.end() - 1);
      job.role_delay = 0;
      job.pod_delay = 0;
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace gangsched::sim
