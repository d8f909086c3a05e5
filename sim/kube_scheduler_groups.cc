// Pod groups in the kube-scheduler model (sim/kube_profile.h): the scheduler framework around a
// profile's PreFilter, Permit and PostFilter answers, as kube-scheduler runs it for coscheduling
// (kubernetes-sigs/scheduler-plugins pkg/coscheduling, cited in kube_profile.cc). A pod that must
// wait at Permit stays assumed on its node (its capacity counts in the cache) until its group is
// allowed (every waiting pod goes on to its binding cycle) or rejected (every waiting pod is
// forgotten and fails its binding cycle, which moves the parked pods as any failed binding cycle
// does, reference/extender-protocol.md §2.5).
//
// The group cycle of a profile that places groups (the topology-aware peers, sim/peer_policies.h):
// those peers decide a whole job at once (Kueue assigns the topology at admission, Volcano and
// KAI allocate a job per session, kube-scheduler 1.36 has a workload scheduling cycle). A popped
// pod whose job still misses pods is parked, as coscheduling's PreFilter rejects it. Once every
// pod exists, the profile places all the job's pending pods on the cache in one cycle; they leave
// the queue, are assumed and go through the default binder's binding cycle each. When it cannot,
// all of them are parked (Unschedulable) and come back on a cluster event, the flush or backoff,
// as any parked pod does; one cycle tries the whole group again.
#include <algorithm>
#include <vector>

#include "scheduler/fit.h"
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

void KubeSchedulerModel::GroupCycle(int id) {
  const int j = pods_[id].job;
  JobRecord& job = jobs_[j];
  std::vector<int> pending;
  int missing = 0;
  for (int m : job.pods) {
    const Where w = pods_[m].where;
    if (w == Where::kNotCreated || w == Where::kDeleted) {
      ++missing;
    } else if (w == Where::kActive || w == Where::kBackoff || w == Where::kUnschedulable) {
      pending.push_back(m);
    }
  }
  if (missing > 0) {
    Failed(id, true, "waiting for " + std::to_string(missing) + " more pods of " + job.spec.id);
    return;
  }
  const scheduler::Pod& first = pods_[id].pod;
  std::vector<bool> usable(nodes_.size());
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    usable[n] =
        !node_deleted_[n] && scheduler::Admits(nodes_[n], first.tolerations, first.node_selector);
  }
  std::vector<GroupPod> group;
  group.reserve(pending.size());
  int role = -1;
  std::string last_role;
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const PodRecord& p = pods_[pending[k]];
    if (k == 0 || p.role != last_role) ++role;
    last_role = p.role;
    group.push_back({p.pod.requests, role});
  }
  const GroupView view{nodes_, requested_, usable, topology_, rng_};
  const auto placed = options_.profile->PlaceGroup(view, group);
  if (!placed || placed->size() != pending.size()) {
    ++stats_.no_fit;
    const std::string reason = std::string(options_.profile->Name()) + ": no placement for the " +
                               std::to_string(pending.size()) + " pods of " + job.spec.id;
    Trace("  group cycle: " + reason);
    for (int m : pending) {
      if (m != id) {
        LeaveQueue(m);
        ++pods_[m].attempts;
      }
      Failed(m, true, reason);
    }
    return;
  }
  Trace("  group cycle: " + std::string(options_.profile->Name()) + " places the " +
        std::to_string(pending.size()) + " pods of " + job.spec.id);
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const int m = pending[k];
    PodRecord& p = pods_[m];
    if (m != id) {
      LeaveQueue(m);
      ++p.attempts;
    }
    const int node = static_cast<int>((*placed)[k]);
    p.engine_nodes = {nodes_[static_cast<std::size_t>(node)].name};
    Assume(m, node);
    StartBinding(m);
  }
}

}  // namespace gangsched::sim
