// The engine's read-only views (GangScheduler's Views section): a gang's status for the API and the
// web page, the GPU ids planned for a pod and the placement summary of its gang. Nothing here
// changes the engine's state.
#include <algorithm>

#include "scheduler/gang_scheduler.h"

namespace gangsched::scheduler {

GangStatus GangScheduler::StatusOf(const GangRecord& g, Millis now) const {
  GangStatus s;
  s.key = g.key;
  s.kind = g.KindName();
  s.phase = g.phase;
  s.reason = g.reason;
  s.quorum = DeclaredQuorum(g);
  s.members_seen = static_cast<int>(g.members.size());
  s.members_bound = BoundCount(g);
  if (!g.size_conflict.empty()) {
    s.reason = s.reason.empty() ? g.size_conflict : s.reason + "; " + g.size_conflict;
  }
  s.members_arrived = std::max(barrier_.Arrived(g.key), s.members_bound);
  s.arrived_uids = barrier_.ArrivedUids(g.key);
  s.size_known = SizeKnown(g, options_.require_quorum_pods);
  s.hold_deadline = holds_.Deadline(g.key);
  s.backoff_until = holds_.BackoffUntil(g.key, now);
  if (const Plan* plan = state_.HoldOf(g.key); plan && !g.drain) {
    s.plan = *plan;
  } else if (g.placed) {
    s.plan = g.placed;
  }
  return s;
}

std::vector<GangStatus> GangScheduler::Gangs(Millis now) const {
  std::vector<GangStatus> out;
  out.reserve(gangs_.all().size());
  for (const auto& [key, g] : gangs_.all()) out.push_back(StatusOf(g, now));
  return out;
}

std::vector<GangStatus> GangScheduler::Gangs(Millis now, const GangKey& after,
                                             std::size_t limit) const {
  std::vector<GangStatus> out;
  const auto& all = gangs_.all();
  auto it = after == GangKey{} ? all.begin() : all.upper_bound(after);
  for (; it != all.end() && out.size() < limit; ++it) out.push_back(StatusOf(it->second, now));
  return out;
}

std::optional<GangStatus> GangScheduler::GangOf(const GangKey& key, Millis now) const {
  const GangRecord* g = gangs_.Find(key);
  if (g == nullptr) return std::nullopt;
  return StatusOf(*g, now);
}

std::optional<GangCounts> GangScheduler::CountsOf(const GangKey& key) const {
  const GangRecord* g = gangs_.Find(key);
  if (g == nullptr) return std::nullopt;
  GangCounts c;
  c.phase = g->phase;
  c.kind = g->KindName();
  c.quorum = DeclaredQuorum(*g);
  c.members_seen = static_cast<int>(g->members.size());
  c.members_bound = BoundCount(*g);
  c.size_known = SizeKnown(*g, options_.require_quorum_pods);
  return c;
}

std::optional<GangSpec> GangScheduler::ShapeOf(const GangKey& key) const {
  const GangRecord* g = gangs_.Find(key);
  if (g == nullptr) return std::nullopt;
  return SpecOf(*g);
}

std::vector<int> GangScheduler::PlannedGpuIds(const std::string& uid) const {
  const GangRecord* g = gangs_.OfPod(uid);
  if (g == nullptr) return {};
  auto slot = g->slot_of.find(uid);
  const Plan* plan = state_.HoldOf(g->key);
  if (slot == g->slot_of.end() || !plan) return {};
  return plan->pods[slot->second].gpu_ids;
}

std::string GangScheduler::PlacementSummary(const std::string& uid) const {
  const GangRecord* g = gangs_.OfPod(uid);
  if (g == nullptr) return {};
  const Plan* plan = state_.HoldOf(g->key);
  if (!plan && g->placed) plan = &*g->placed;
  if (!plan) return {};
  return DescribePlan(*plan, state_.topology().level_names());
}

}  // namespace gangsched::scheduler
