// The one place the kube-scheduler model (sim/kube_scheduler_model.h) reads the engine's filter
// answer: what kube-scheduler would make of it (reference/extender-protocol.md §2.3). The engine's
// Filter return type is changing from per-node maps to a decision value; only CallFilter follows
// it. Must not keep state.
#pragma once

#include <string>
#include <vector>

#include "scheduler/gang_scheduler.h"

namespace gangsched::sim {

struct FilterOutcome {
  enum class Kind {
    kNarrowed,   // `nodes` passed (the engine narrows a pod to its one planned node)
    kRejected,   // no node passed; `reason` is the gang-level reason
    kPreemptOn,  // the gang's victim plan needs `nodes.front()` (listed in FailedNodes, §3.9)
    kError,      // the reply's Error is set: the attempt is a scheduler error (§2.3)
  };
  Kind kind = Kind::kRejected;
  std::vector<std::string> nodes;
  std::string reason;
};

// The extender's filter for `pod` over the node names kube-scheduler's own filters kept.
FilterOutcome CallFilter(scheduler::GangScheduler& engine, const scheduler::Pod& pod,
                         const std::vector<std::string>& offered, scheduler::Millis now);

}  // namespace gangsched::sim
