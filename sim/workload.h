// What the kube-scheduler model (sim/kube_scheduler_model.h) is fed: jobs arriving at times whose
// pods an operator creates role by role, as the training-operator does (parameter servers and the
// master first, then the workers, each role a little after the previous one), and plain pods that
// belong to no gang. Owns the jobs' shape and a seeded generator of random workloads; it must not
// schedule anything. Times are virtual milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/holds.h"
#include "scheduler/model.h"

namespace gangsched::sim {

using scheduler::Millis;

// Pods of one role of a job: `replicas` pods asking `requests` each (pods = 1).
struct RoleTemplate {
  std::string name;  // "ps", "master", "worker", ...; "" for a plain pod (no role label)
  int replicas = 1;
  scheduler::Resources requests;
};

struct WorkloadJob {
  std::string id;  // the gang's name (gangsched.io/gang) and the pods' name prefix
  Millis arrival = 0;
  // Between the creation of one role's pods and the next role's (the operator's reconcile loop).
  Millis role_delay = 0;
  // Between two pods of one role (the operator creates them one API call after the other).
  Millis pod_delay = 0;
  // How long the job runs once every pod is bound; then its pods finish and are deleted.
  Millis duration = 0;
  std::int32_t priority = 0;
  // A gang (gangsched.io/gang and gangsched.io/min-members = every pod), or a single plain pod with
  // neither annotation nor role label.
  bool gang = true;
  std::vector<RoleTemplate> roles;  // in creation order
  // A Kubeflow job (a TFJob): its pods carry only the training-operator's labels (job name,
  // replica type and index), and the gang's size and roles come from the job object, which
  // gangsched's watch sees `roster_offset` after the job's arrival (before its first pod when
  // negative, after some of its pods when larger than the roles' creation delays).
  bool kubeflow = false;
  // A gang of coscheduling's PodGroup (scheduling.x-k8s.io, minMember = every pod): its pods carry
  // the pod-group label and role labels only, and gangsched learns the size from the PodGroup,
  // which its watch sees `roster_offset` after the job's arrival. API mode only.
  bool pod_group = false;
  Millis roster_offset = 0;
  std::vector<scheduler::Toleration> tolerations;
  scheduler::StringMap node_selector;

  int Pods() const;
};

// The requests of a simulated pod: `gpus` GPUs with 4 CPUs and 16 GiB (sim/trace.h's shapes).
scheduler::Resources PodRequests(std::int64_t gpus);

struct RandomWorkloadOptions {
  int jobs = 100;
  Millis mean_interarrival = 20'000;
  Millis mean_duration = 300'000;
  // Share of jobs that are plain one-pod jobs (no gang), in percent.
  int plain_percent = 20;
  // Share of gang jobs with a CPU-only parameter server created first (the others are all-reduce
  // workers, some with a master), in percent.
  int ps_percent = 40;
  // Share of jobs at priority 100 (the others at 0), in percent: those may preempt.
  int high_priority_percent = 10;
  // Share of gang jobs that are Kubeflow jobs (WorkloadJob::kubeflow), in percent, their job
  // objects seen from `roster_early` before to `roster_late` after their arrival.
  int kubeflow_percent = 0;
  int pod_group_percent = 0;  // the same for coscheduling PodGroups (WorkloadJob::pod_group)
  Millis roster_early = 2'000;
  Millis roster_late = 20'000;
  int max_workers = 6;
  int max_gpus_per_pod = 8;
  // Every gang has one role (its workers) and all its pods are created at once (the same jobs
  // otherwise): the shape that was free of issue 11 item 6's bugs before they were fixed
  // (sim/soak.h).
  bool one_role_at_once = false;
};

// A seeded random workload; the same seed gives the same jobs.
std::vector<WorkloadJob> RandomWorkload(std::uint64_t seed, const RandomWorkloadOptions& options);

}  // namespace gangsched::sim
