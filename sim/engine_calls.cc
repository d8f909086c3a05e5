#include "sim/engine_calls.h"

namespace gangsched::sim {

FilterOutcome CallFilter(scheduler::GangScheduler& engine, const scheduler::Pod& pod,
                         const std::vector<std::string>& offered, scheduler::Millis now) {
  scheduler::FilterAnswer answer = engine.Filter(pod, offered, now);
  FilterOutcome out;
  if (!answer.feasible.empty()) {
    out.kind = FilterOutcome::Kind::kNarrowed;
    out.nodes = std::move(answer.feasible);
    return out;
  }
  // FailedNodes are candidates for kube-scheduler's preemption; the engine lists a node there only
  // for its gang-wide victim plan (DESIGN.md §3.3). Absent nodes count as unresolvable (§2.3).
  if (!answer.failed.empty()) {
    out.kind = FilterOutcome::Kind::kPreemptOn;
    out.nodes.push_back(answer.failed.begin()->first);
    out.reason = answer.failed.begin()->second;
    return out;
  }
  out.kind = FilterOutcome::Kind::kRejected;
  if (!answer.unresolvable.empty()) out.reason = answer.unresolvable.begin()->second;
  return out;
}

}  // namespace gangsched::sim
