#include "sim/invariants.h"

#include <algorithm>
#include <utility>

#include "scheduler/fit.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::sim {

namespace {

std::string Seconds(Millis ms) {
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + "s";
}

// To the millisecond, for deadlines.
std::string Exact(Millis ms) {
  std::string frac = std::to_string(ms % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(ms / 1000) + "." + frac + "s";
}

std::string PodName(const scheduler::Pod& pod) { return pod.namespace_name + "/" + pod.name; }

// The first resource in which `used` exceeds `limit`, or "".
std::string Exceeded(const scheduler::Resources& used, const scheduler::Resources& limit) {
  if (used.gpus > limit.gpus) {
    return std::to_string(used.gpus) + " GPUs requested, " + std::to_string(limit.gpus) +
           " allocatable";
  }
  if (used.milli_cpu > limit.milli_cpu) {
    return std::to_string(used.milli_cpu) + "m CPU requested, " + std::to_string(limit.milli_cpu) +
           "m allocatable";
  }
  if (used.memory_bytes > limit.memory_bytes) {
    return std::to_string(used.memory_bytes) + " bytes of memory requested, " +
           std::to_string(limit.memory_bytes) + " allocatable";
  }
  if (used.pods > limit.pods) {
    return std::to_string(used.pods) + " pods, " + std::to_string(limit.pods) + " allowed";
  }
  return "";
}

}  // namespace

const char* InvariantName(Invariant invariant) {
  switch (invariant) {
    case Invariant::kOverCommit:
      return "over-commit";
    case Invariant::kPartlyBound:
      return "partly bound";
    case Invariant::kUnplannedNode:
      return "bound to an unplanned node";
    case Invariant::kHoldPastDeadline:
      return "hold past its deadline";
    case Invariant::kHoldExtended:
      return "hold extended by a rejected member";
    case Invariant::kLiveness:
      return "liveness";
  }
  return "?";
}

bool IsSafety(Invariant invariant) { return invariant != Invariant::kLiveness; }

InvariantChecker::InvariantChecker(std::vector<scheduler::Node> nodes, InvariantOptions options)
    : nodes_(std::move(nodes)),
      options_(options),
      bound_(nodes_.size()),
      usable_(nodes_.size(), true) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    node_index_.emplace(nodes_[i].name, static_cast<int>(i));
  }
}

void InvariantChecker::AddJob(int job, std::string id, int pods) {
  JobInfo& j = jobs_[job];
  j.id = std::move(id);
  j.pods = pods;
}

void InvariantChecker::PodCreated(int pod, int job, const scheduler::Pod& spec, Millis now) {
  pods_[pod] = PodInfo{job, spec, -1};
  JobInfo& j = jobs_.at(job);
  j.members.push_back(pod);
  if (++j.created == j.pods && !j.complete) {
    j.all_created = now;
    waiting_.insert(job);
    if (options_.liveness) Refit(job, now);
  }
}

void InvariantChecker::BindingPosted(int pod, const std::string& node,
                                     const std::vector<std::string>& engine_nodes,
                                     const std::string& assumed, Millis now) {
  PodInfo& p = pods_.at(pod);
  const std::string name = PodName(p.spec);
  if (p.node >= 0) {
    Fail(Invariant::kUnplannedNode,
         "pod " + name + " is bound twice (to " + nodes_[p.node].name + ", then to " + node + ")");
    return;
  }
  if (std::find(engine_nodes.begin(), engine_nodes.end(), node) == engine_nodes.end()) {
    Fail(Invariant::kUnplannedNode,
         "pod " + name + " is bound to node " + node + ", but the engine's filter narrowed it to " +
             (engine_nodes.empty() ? std::string("no node") : engine_nodes.front()));
    return;
  }
  if (!assumed.empty() && assumed != node) {
    Fail(Invariant::kUnplannedNode, "pod " + name + " is bound to node " + node +
                                        ", but kube-scheduler assumed it on " + assumed +
                                        " and asked to bind it there");
    return;
  }
  const auto found = node_index_.find(node);
  if (found == node_index_.end()) {
    Fail(Invariant::kUnplannedNode,
         "pod " + name + " is bound to node " + node + ", which is not in the cluster");
    return;
  }
  const int n = found->second;
  p.node = n;
  bound_[n] += p.spec.requests;
  if (const std::string why = Exceeded(bound_[n], nodes_[n].allocatable); !why.empty()) {
    Fail(Invariant::kOverCommit,
         "node " + node + " is over-committed after binding pod " + name + ": " + why);
    return;
  }
  JobInfo& j = jobs_.at(p.job);
  ++j.bound;
  if (j.bound == j.pods) {
    j.complete = true;
    j.partly_bound_since.reset();
    partly_bound_.erase(p.job);
    j.fit_since.reset();
    waiting_.erase(p.job);
  } else if (!j.complete && !j.partly_bound_since) {
    j.partly_bound_since = now;
    partly_bound_.insert(p.job);
  }
  if (options_.liveness) CapacityTaken(n, now);
}

void InvariantChecker::PodDeleted(int pod, Millis now) {
  auto it = pods_.find(pod);
  if (it == pods_.end()) return;
  const PodInfo p = it->second;
  pods_.erase(it);
  JobInfo& j = jobs_.at(p.job);
  j.members.erase(std::find(j.members.begin(), j.members.end(), pod));
  --j.created;
  if (!j.complete) {
    // Not every pod exists any more: the job waits for the operator's replacement.
    waiting_.erase(p.job);
    j.all_created.reset();
    j.fit_since.reset();
  }
  if (p.node >= 0) {
    bound_[p.node] -= p.spec.requests;
    --j.bound;
    if (j.bound == 0) {
      j.partly_bound_since.reset();
      partly_bound_.erase(p.job);
    }
    if (options_.liveness) CapacityFreed(now);
  }
  if (!j.complete) Disturbed(p.job, now);
}

void InvariantChecker::NodeChanged(int node, bool usable, Millis now) {
  if (usable_[node] == usable) return;
  usable_[node] = usable;
  nodes_away_ += usable ? -1 : 1;
  if (!options_.liveness) return;
  if (usable) {
    CapacityFreed(now);
  } else {
    CapacityTaken(node, now);
  }
}

void InvariantChecker::Disturbed(int job, Millis now) {
  auto restart = [&](JobInfo& j) {
    if (j.complete) return;
    j.disturbed_at = now;
    if (j.fit_since) j.fit_since = now;
  };
  if (job >= 0) {
    restart(jobs_.at(job));
    return;
  }
  for (auto& [id, j] : jobs_) restart(j);
}

void InvariantChecker::CheckHolds(const scheduler::GangScheduler& engine, Millis now) {
  if (violation_) return;
  // The earliest deadline of any hold is the cheap test; the gang is named from the views.
  const std::optional<Millis> next = engine.holds().NextDeadline();  // holds only, not owed answers
  if (!next || *next + kHoldTick >= now) return;
  std::string gang = "(a gang the engine no longer lists)";
  for (const scheduler::GangStatus& g : engine.Gangs(now)) {
    if (g.hold_deadline && *g.hold_deadline == *next) gang = g.key.ToString();
  }
  Fail(Invariant::kHoldPastDeadline, "gang " + gang + " still holds capacity " +
                                         Exact(now - *next) + " after its hold's deadline (" +
                                         Exact(*next) + ")");
}

void InvariantChecker::HoldMoved(const std::string& gang, std::optional<Millis> before,
                                 std::optional<Millis> after, bool progress, Millis now) {
  if (!options_.hold_progress || progress || !before || !after || *after <= *before) return;
  Fail(Invariant::kHoldExtended,
       "gang " + gang + ": a filter call that rejected its member moved the hold's deadline from " +
           Exact(*before) + " to " + Exact(*after) + " at " + Exact(now) +
           " (a rejected member's filter is not progress, DESIGN.md §3.4)");
}

bool InvariantChecker::Fits(const JobInfo& job, std::vector<int>& witness) const {
  std::vector<const scheduler::Pod*> unbound;
  for (int id : job.members) {
    const PodInfo& p = pods_.at(id);
    if (p.node < 0) unbound.push_back(&p.spec);
  }
  std::sort(unbound.begin(), unbound.end(), [](const scheduler::Pod* a, const scheduler::Pod* b) {
    if (a->requests.gpus != b->requests.gpus) return a->requests.gpus > b->requests.gpus;
    return a->name < b->name;
  });
  witness.clear();
  std::map<int, scheduler::Resources> taken;  // by this packing, on top of bound pods
  for (const scheduler::Pod* pod : unbound) {
    int chosen = -1;
    for (std::size_t n = 0; n < nodes_.size() && chosen < 0; ++n) {
      if (!usable_[n]) continue;
      const scheduler::Node& node = nodes_[n];
      if (!scheduler::Admits(node, pod->tolerations, pod->node_selector)) continue;
      const scheduler::Resources free = node.allocatable - bound_[n] - taken[static_cast<int>(n)];
      if (free.Fits(pod->requests)) chosen = static_cast<int>(n);
    }
    if (chosen < 0) return false;
    taken[chosen] += pod->requests;
    witness.push_back(chosen);
  }
  return true;
}

void InvariantChecker::Refit(int job, Millis now) {
  JobInfo& j = jobs_.at(job);
  if (Fits(j, j.witness)) {
    if (!j.fit_since) j.fit_since = now;
  } else {
    j.fit_since.reset();
  }
}

void InvariantChecker::CapacityTaken(int node, Millis now) {
  for (int job : waiting_) {
    JobInfo& j = jobs_.at(job);
    // A packing that does not use the node still holds; only the others are looked at again.
    if (j.fit_since && std::find(j.witness.begin(), j.witness.end(), node) != j.witness.end()) {
      Refit(job, now);
    }
  }
}

void InvariantChecker::CapacityFreed(Millis now) {
  for (int job : waiting_) {
    if (!jobs_.at(job).fit_since) Refit(job, now);
  }
}

void InvariantChecker::Fail(Invariant invariant, std::string what) {
  if (violation_) return;
  violation_ = std::move(what);
  broken_ = invariant;
}

std::optional<std::string> InvariantChecker::Check(Millis now) {
  if (violation_) return violation_;
  if (!options_.whole_gangs && !options_.liveness) return std::nullopt;
  // Without liveness only partly bound jobs can break a property: look at those alone (a long
  // trace has many jobs waiting and few partly bound).
  const std::set<int>& candidates = options_.liveness ? waiting_ : partly_bound_;
  for (int job : candidates) {
    if (!options_.liveness && waiting_.count(job) == 0) continue;
    const JobInfo& j = jobs_.at(job);
    const std::string& gang = j.id;
    // Complete within the binding window of becoming partly bound, or within the retry window
    // of the last fault that touched the gang.
    const bool retrying = j.disturbed_at && *j.disturbed_at + options_.retry_window >
                                                (j.partly_bound_since ? *j.partly_bound_since : 0) +
                                                    options_.binding_window;
    const Millis limit =
        retrying ? *j.disturbed_at + options_.retry_window
                 : (j.partly_bound_since ? *j.partly_bound_since : 0) + options_.binding_window;
    if (options_.whole_gangs && j.partly_bound_since && nodes_away_ == 0 && now > limit) {
      Fail(Invariant::kPartlyBound,
           "gang " + gang + " has been partly bound (" + std::to_string(j.bound) + " of " +
               std::to_string(j.pods) + " pods) for " + Seconds(now - *j.partly_bound_since) +
               (retrying
                    ? ", and " + Seconds(now - *j.disturbed_at) +
                          " since the last fault that touched it (retry window " +
                          Seconds(options_.retry_window) + ")"
                    : ", longer than the binding window of " + Seconds(options_.binding_window)));
      break;
    }
    if (options_.liveness && j.fit_since && j.all_created) {
      const Millis since = std::max(*j.fit_since, *j.all_created);
      if (now - since > options_.liveness_bound) {
        Fail(Invariant::kLiveness,
             "job " + gang + " (" + std::to_string(j.pods) + " pods, " + std::to_string(j.bound) +
                 " bound) has fit the free capacity for " + Seconds(now - since) +
                 " with every pod created, and is still not bound (liveness " + "bound " +
                 Seconds(options_.liveness_bound) + ")");
        break;
      }
    }
  }
  return violation_;
}

}  // namespace gangsched::sim
