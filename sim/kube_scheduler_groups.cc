// Pod groups in the kube-scheduler model (sim/kube_profile.h): the scheduler framework around a
// profile's PreFilter, Permit and PostFilter answers, as kube-scheduler runs it for coscheduling
// (kubernetes-sigs/scheduler-plugins pkg/coscheduling, cited in kube_profile.cc). A pod that must
// wait at Permit stays assumed on its node (its capacity counts in the cache) until its group is
// allowed (every waiting pod goes on to its binding cycle) or rejected (every waiting pod is
// forgotten and fails its binding cycle, which moves the parked pods as any failed binding cycle
// does, reference/extender-protocol.md §2.5).
#include "sim/kube_scheduler_model.h"

namespace gangsched::sim {

bool KubeSchedulerModel::Grouped(int id) const {
  return options_.profile && options_.profile->Groups() && jobs_[pods_[id].job].spec.gang;
}

GroupCounts KubeSchedulerModel::GroupOf(int j) const {
  const JobRecord& job = jobs_[j];
  GroupCounts out;
  out.min_member = static_cast<int>(job.pods.size());
  for (int id : job.pods) {
    const Where where = pods_[id].where;
    if (where != Where::kNotCreated && where != Where::kDeleted) ++out.pods;
    if (where == Where::kPermitWait || where == Where::kBinding || where == Where::kBound) {
      ++out.assigned;
    }
  }
  return out;
}

void KubeSchedulerModel::StartBinding(int id) {
  PodRecord& p = pods_[id];
  p.where = Where::kBinding;
  Push(now_ + options_.bind_call, EventKind::kBindCall, id, p.bind_gen);
}

void KubeSchedulerModel::Permit(int id) {
  if (!Grouped(id)) {
    StartBinding(id);
    return;
  }
  PodRecord& p = pods_[id];
  JobRecord& job = jobs_[p.job];
  p.where = Where::kPermitWait;  // assigned from here on
  const GroupCounts group = GroupOf(p.job);
  const PermitAnswer answer = options_.profile->Permit(group);
  if (answer.wait) {
    job.waiting.push_back(id);
    Push(now_ + answer.timeout, EventKind::kPermitTimeout, id, p.bind_gen);
    Trace("  " + p.pod.name + " waits at Permit: " + std::to_string(group.assigned) + " of " +
          std::to_string(group.min_member) + " assigned");
    // The group's first assigned pod brings its siblings back to activeQ.
    if (group.assigned == 1) ActivateGroup(p.job);
    return;
  }
  job.group_failed_at.reset();
  std::vector<int> allowed = std::move(job.waiting);
  job.waiting.clear();
  allowed.push_back(id);
  Trace("  Permit allows " + std::to_string(allowed.size()) + " pods of " + job.spec.id);
  for (int member : allowed) StartBinding(member);
}

void KubeSchedulerModel::PostFilter(int id) {
  if (!Grouped(id)) return;
  const int j = pods_[id].job;
  if (!options_.profile->RejectWaitingOnFailure(GroupOf(j))) return;
  jobs_[j].group_failed_at = now_;
  RejectWaiting(j, "optimistic rejection in PostFilter");
}

void KubeSchedulerModel::RejectWaiting(int j, const std::string& reason) {
  JobRecord& job = jobs_[j];
  if (job.waiting.empty()) return;
  job.group_failed_at = now_;
  std::vector<int> rejected = std::move(job.waiting);
  job.waiting.clear();
  Trace("  reject " + std::to_string(rejected.size()) + " pods of " + job.spec.id +
        " waiting at Permit: " + reason);
  for (int id : rejected) {
    PodRecord& p = pods_[id];
    ++p.bind_gen;
    Forget(id);
    Failed(id, true, reason);
  }
  MoveAll();
}

void KubeSchedulerModel::ActivateGroup(int j) {
  for (int id : jobs_[j].pods) {
    PodRecord& p = pods_[id];
    if (p.where == Where::kUnschedulable) {
      unschedulable_.erase(id);
      Activate(id);
    } else if (p.where == Where::kBackoff) {
      Activate(id);
    }
  }
}

}  // namespace gangsched::sim
