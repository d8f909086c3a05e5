// gangsched's nudges in the kube-scheduler model (KubeModelOptions::nudges): when kube/notifier.cc
// would patch gangsched.io/nudge on a gang's parked members, the model moves those members out of
// unschedulablePods, as the pod update does in kube-scheduler (DESIGN.md §3.7). Events, the
// waiting grace and the restart rules of the notifier are not modelled: only when it nudges.
#include <map>
#include <vector>

#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

void KubeSchedulerModel::NotifierLookSoon(Millis at) {
  if (!options_.nudges || !engine_ || options_.source != StateSource::kApi) return;
  // The notifier's loop runs every period: the first look at or after the change.
  if (at < 0) at = (now_ / options_.notifier_period + 1) * options_.notifier_period;
  if (look_at_ && *look_at_ <= at) return;
  look_at_ = at;
  Push(at, EventKind::kNotifierLook);
}

void KubeSchedulerModel::NotifierLook() {
  if (!look_at_ || *look_at_ != now_) return;  // a later look replaced this one
  look_at_.reset();
  if (engine_down_) return;
  const std::int64_t free = engine_->state().FreeGpus();
  const bool freed = last_free_gpus_ >= 0 && free > last_free_gpus_;
  last_free_gpus_ = free;
  // Only pods kube-scheduler parked need the nudge; those in activeQ or backoffQ retry anyway.
  std::map<std::string, std::vector<int>> parked;
  for (int id : unschedulable_) parked[pods_[id].gang.ToString()].push_back(id);
  for (const auto& [gang, ids] : parked) {
    const auto g = engine_->GangOf(pods_[ids.front()].gang, now_);
    if (!g) continue;
    bool nudge = false;
    if (g->phase == scheduler::GangPhase::kPlanned) {
      // Members rejected before the gang was planned: the barrier fills now, not at the flush.
      nudge = true;
    } else if (g->phase == scheduler::GangPhase::kWaiting) {
      const bool has_quorum = g->size_known && g->members_seen >= g->quorum;
      // The notifier owes a nudge for a quorum reached until it reaches a parked member: the
      // first look that finds one parked since the quorum pays it.
      const bool reached = has_quorum && seen_quorum_.insert(gang).second;
      if (!has_quorum) seen_quorum_.erase(gang);
      nudge = has_quorum && (freed || reached);
    }
    if (!nudge) continue;
    if (auto last = last_nudge_.find(gang);
        last != last_nudge_.end() && now_ - last->second < options_.nudge_interval) {
      NotifierLookSoon(last->second + options_.nudge_interval);  // owed until it is due
      continue;
    }
    last_nudge_[gang] = now_;
    Trace("  nudge " + gang + ": " + std::to_string(ids.size()) + " parked pods");
    for (int id : ids) {
      ++stats_.nudges;
      Unpark(id);
    }
  }
}

}  // namespace gangsched::sim
