// `gangsched simulate` on the kube-scheduler model (issue 11 item 2): trace jobs (sim/trace.h)
// become pods that an operator creates role by role (sim/workload.h), the model
// (sim/kube_scheduler_model.h) schedules them with the real engine as its extender (policy
// gangsched) or with a profile of kube-scheduler's own plugins and no extender (the per-pod
// baselines and coscheduling, sim/kube_profile.h), a job runs for its trace duration times the
// communication factor of its span once its last pod is bound, and the outcome is read back into
// the report the planner-only simulator writes (sim/simulator.h), plus the model's own figures.
// Owns the conversion both ways; it must not place anything itself.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "sim/kube_scheduler_model.h"
#include "sim/simulator.h"
#include "sim/trace.h"
#include "sim/workload.h"

namespace gangsched::sim {

struct ModelSimOptions {
  CommModel comm;
  std::uint64_t seed = 1;  // the model's tie-breaks
  // The model's queue, cycle and latency settings; its profile, run_time and invariants are set
  // per policy.
  KubeModelOptions model;
  // The operator's pace: between two roles of a job, and between two pods of a role.
  Millis role_delay = 500;
  Millis pod_delay = 20;
};

// The policies the model runs: gangsched (the engine as extender), binpack and default-scheduler
// (kube-scheduler alone, per pod), coscheduling (kube-scheduler with coscheduling's pod groups
// and MostAllocated scoring: the gang baseline as kube-scheduler runs it), and the gang-aware,
// topology-aware peers that place a whole job in the model's group cycle (PeerPolicyNames(),
// sim/peer_policies.h), gang-binpack-model among them. The planner's gang-binpack (whole gangs
// tried in arrival order, no queue) stays planner-only.
// coscheduling is slow on a cluster with a long backlog: pods assumed at Permit and rejected
// again keep the scheduling cycle busy (about 500 cycles per virtual second on a 128-GPU
// cluster 1,600 jobs into a 2,000-job Philly trace).
std::vector<std::string> ModelPolicyNames();

// A trace job as the operator creates it: roles in the training-operator's order (parameter
// servers, then chief and master, then the rest), arrival and duration in milliseconds. Two
// roles of one name (the packed shape's 8-GPU workers and a smaller tail) keep distinct names,
// "worker" and "worker-2", since pods of one role are alike.
WorkloadJob ToWorkload(const SimJob& job, Millis role_delay, Millis pod_delay);

// Replays `jobs` on the model under `policy` (one of ModelPolicyNames()). Stops when every job
// finished or nothing can change any more (KubeSchedulerModel::Busy). Fails on a bad cluster, an
// unknown policy, or a broken safety invariant (a bug, named with its seed and event).
tl::expected<Report, std::string> SimulateOnModel(std::vector<scheduler::Node> nodes,
                                                  const std::vector<SimJob>& jobs,
                                                  std::string_view policy,
                                                  const ModelSimOptions& options = {});

}  // namespace gangsched::sim
