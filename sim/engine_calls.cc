#include "sim/engine_calls.h"

#include <variant>

namespace gangsched::sim {

FilterOutcome CallFilter(scheduler::GangScheduler& engine, const scheduler::Pod& pod,
                         const std::vector<std::string>& offered, scheduler::Millis now) {
  const scheduler::FilterDecision decision = engine.Filter(pod, offered, now);
  FilterOutcome out;
  if (const auto* narrow = std::get_if<scheduler::Narrow>(&decision)) {
    out.kind = FilterOutcome::Kind::kNarrowed;
    out.nodes.push_back(narrow->node);
    return out;
  }
  // The one node of the gang-wide victim plan goes in FailedNodes, the only candidate of
  // kube-scheduler's preemption (DESIGN.md §3.3); every other offered node is unresolvable.
  if (const auto* preempt = std::get_if<scheduler::PreemptOn>(&decision)) {
    out.kind = FilterOutcome::Kind::kPreemptOn;
    out.nodes.push_back(preempt->node);
    out.reason = preempt->reason;
    return out;
  }
  const auto& reject = std::get<scheduler::RejectAll>(decision);
  out.kind = reject.retry ? FilterOutcome::Kind::kError : FilterOutcome::Kind::kRejected;
  out.reason = reject.reason;
  return out;
}

}  // namespace gangsched::sim
