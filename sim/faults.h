// The faults the kube-scheduler model (sim/kube_scheduler_model.h) can inject (issue 11 item 3,
// DESIGN.md §8), each a probability or a rate, all off by default. Faults are seeded and
// deterministic, and each has an id ("binding-rejected ml/j3-worker-1 #2", "gangsched-restart
// #4") so that a failing run can be replayed with some of them left out (sim/soak.h):
//  - a fault tied to an opportunity (a Binding posted, a watch event) is decided by a hash of the
//    seed, its kind, the pod's UID and how many such opportunities the pod had, so leaving one
//    out does not change the others;
//  - a fault tied to time comes from its kind's own Poisson stream, and picks its target (a node,
//    a pod) among those present when it fires.
// Owns the options and the decisions only; the model applies them.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "scheduler/holds.h"

namespace gangsched::sim {

using scheduler::Millis;

enum class FaultKind : std::uint8_t {
  kBindingRejected,       // the API rejects a posted Binding (409, a webhook, a 5xx)
  kWatchDelayed,          // a watch event reaches the engine late (others overtake it)
  kNodeDeleted,           // a node leaves the cluster, preferably one a held plan uses
  kNodeCordoned,          // a node is cordoned, preferably one a held plan uses
  kPodRecreated,          // a member pod is deleted; the operator recreates it with a new UID
  kGangschedRestart,      // gangsched restarts: state rebuilt from list, held binds fail
  kKubeSchedulerRestart,  // kube-scheduler restarts: queues and assumed pods lost
};
inline constexpr int kFaultKinds = 7;
const char* FaultName(FaultKind kind);

struct FaultOptions {
  // Per Binding posted: the API rejects it.
  double binding_rejected = 0;
  // Per watch event to the engine (a pod created, bound or deleted; a node changed): it arrives
  // up to `watch_delay_max` late. Events about one object keep their order, as a watch does.
  double watch_delayed = 0;
  Millis watch_delay_max = 5'000;
  // Mean virtual time between two faults of a kind (0: never).
  Millis node_deleted_every = 0;
  Millis node_cordoned_every = 0;
  Millis pod_recreated_every = 0;
  Millis gangsched_restart_every = 0;
  Millis kube_scheduler_restart_every = 0;
  // How long a deleted node stays away (then it registers again) or a cordon lasts.
  Millis node_down = 20'000;
  // From a pod's deletion to the operator's replacement.
  Millis recreate_delay = 1'000;
  // How long each process is down when it restarts: calls to it fail meanwhile.
  Millis gangsched_down = 3'000;
  Millis kube_scheduler_down = 2'000;
  // Ids of faults not to inject (to replay a failure with fewer faults).
  std::set<std::string> disabled;

  bool Any() const;
  // The same faults at `scale` times the probabilities and rates.
  static FaultOptions All(double scale = 1.0);
};

// A deterministic draw in [0, 1) from a seed and a string (FNV-1a, then splitmix64).
double FaultDraw(std::uint64_t seed, const std::string& what);
// A deterministic index in [0, n) from a seed and a string; n > 0.
std::size_t FaultPick(std::uint64_t seed, const std::string& what, std::size_t n);

}  // namespace gangsched::sim
