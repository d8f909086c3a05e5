#include "scheduler/gang_registry.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace gangsched::scheduler {

namespace {
std::string RoleOf(const GangMembership& m) { return m.role.empty() ? "member" : m.role; }
}  // namespace

GangRecord& GangRegistry::Declare(const GangSpec& roster) {
  GangRecord& g = gangs_[roster.key];
  g.key = roster.key;
  g.roster_kind = roster.kind;
  g.roster = roster;
  g.priority = roster.priority;
  g.spec.reset();
  return g;
}

GangRecord& GangRegistry::Record(const Pod& pod, const GangMembership& m) {
  GangRecord& g = gangs_[m.key];
  g.key = m.key;
  // What SpecOf reads; its cache stays valid while none of it changes (the common case: the same
  // pending pod filtered again).
  if (!g.source) {
    g.source = m.source;
    g.spec.reset();
  }
  if (pod.priority > g.priority) {
    g.priority = pod.priority;
    g.spec.reset();
  }
  auto [it, fresh] = g.members.try_emplace(pod.uid);
  GangMember& member = it->second;
  Resources requests = pod.requests;
  requests.pods = 1;
  std::string role = RoleOf(m);
  if (fresh || member.role != role || member.requests != requests ||
      member.node_selector != pod.node_selector || member.tolerations != pod.tolerations) {
    member.role = std::move(role);
    member.requests = requests;
    member.node_selector = pod.node_selector;
    member.tolerations = pod.tolerations;
    g.spec.reset();
  }
  member.uid = pod.uid;
  member.ns = pod.namespace_name;
  member.name = pod.name;
  member.index = m.index;
  const bool declared_changed = member.declared_size != m.min_members;
  member.declared_size = m.min_members;
  if (m.min_members && g.min_members != m.min_members) {
    // The first size declared stays while any member declares another: members that disagree
    // must not flip the quorum with every filter call (issue 15). A new size that every member
    // declaring one now declares is a change (a PodGroup's minMember edited); it is taken while
    // the gang waits, or when it shrinks, so a gang planned or bound at one size never counts as
    // complete below a larger one.
    const bool all_agree = std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return !kv.second.declared_size || kv.second.declared_size == m.min_members;
    });
    const bool may_change =
        g.phase == GangPhase::kWaiting || (g.min_members && *m.min_members < *g.min_members);
    if (!g.min_members || (all_agree && may_change)) {
      g.min_members = m.min_members;
      g.spec.reset();
    }
  }
  if (declared_changed || !g.size_conflict.empty()) g.size_conflict = SizeConflict(g);
  gang_of_uid_[pod.uid] = m.key;
  return g;
}

std::string SizeConflict(const GangRecord& g) {
  if (!g.min_members) return {};
  for (const auto& [uid, m] : g.members) {
    if (!m.declared_size || *m.declared_size == *g.min_members) continue;
    return "pod " + m.ns + "/" + m.name + " declares min-members " +
           std::to_string(*m.declared_size) + " but gang " + g.key.ToString() + " keeps size " +
           std::to_string(*g.min_members) +
           ", the first declared; give every member the same gangsched.io/min-members";
  }
  return {};
}

GangRecord* GangRegistry::Find(const GangKey& key) {
  auto it = gangs_.find(key);
  return it == gangs_.end() ? nullptr : &it->second;
}

const GangRecord* GangRegistry::Find(const GangKey& key) const {
  auto it = gangs_.find(key);
  return it == gangs_.end() ? nullptr : &it->second;
}

GangRecord* GangRegistry::OfPod(const std::string& uid) {
  auto known = gang_of_uid_.find(uid);
  return known == gang_of_uid_.end() ? nullptr : Find(known->second);
}

const GangRecord* GangRegistry::OfPod(const std::string& uid) const {
  auto known = gang_of_uid_.find(uid);
  return known == gang_of_uid_.end() ? nullptr : Find(known->second);
}

std::optional<GangKey> GangRegistry::Unlink(const std::string& uid) {
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end()) return std::nullopt;
  GangKey key = std::move(known->second);
  gang_of_uid_.erase(known);
  return key;
}

void GangRegistry::Erase(const GangKey& key) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return;
  for (const auto& [uid, member] : it->second.members) gang_of_uid_.erase(uid);
  gangs_.erase(it);
}

std::string GangRecord::KindName() const {
  if (!roster_kind.empty() || !source) return roster_kind;
  return GangSourceName(*source);
}

namespace {
// A member fits a role (or a slot) of its own role name and GPU count: members of one role asking
// different GPU counts are not interchangeable (issue 11).
bool SameShape(const std::string& role, std::int64_t gpus, const GangMember& m) {
  return role == m.role && gpus == m.requests.gpus;
}
}  // namespace

bool SlotFits(const PodPlacement& slot, const GangMember& m) {
  return SameShape(slot.role_name, slot.requests.gpus, m) &&
         slot.requests.milli_cpu >= m.requests.milli_cpu &&
         slot.requests.memory_bytes >= m.requests.memory_bytes;
}

bool RoleFits(const RoleSpec& role, const GangMember& m) {
  return SameShape(role.name, role.per_pod.gpus, m);
}

const GangSpec& SpecOf(const GangRecord& g) {
  if (g.spec) return *g.spec;
  // Roles come from the roster (a job object) and from the members seen, never guessed: members
  // not seen are not planned as copies of the ones seen (DESIGN.md §3.2). One role per role name
  // and GPU count, in order of first appearance.
  GangSpec spec;
  if (g.roster) {
    spec = *g.roster;
    spec.priority = std::max(spec.priority, g.priority);
  } else {
    spec.key = g.key;
    spec.kind = g.KindName();
    spec.priority = g.priority;
  }
  const std::size_t declared = spec.roles.size();
  for (const auto& [uid, m] : g.members) {
    auto fits = [&](const RoleSpec& r) { return RoleFits(r, m); };
    auto it = std::find_if(spec.roles.begin(), spec.roles.end(), fits);
    if (it == spec.roles.end()) {
      RoleSpec r;
      r.name = m.role;
      r.replicas = 0;
      r.min_members = g.roster ? 0 : 1;  // a role the roster does not declare is an extra
      r.per_pod = m.requests;
      r.node_selector = m.node_selector;
      r.tolerations = m.tolerations;
      spec.roles.push_back(std::move(r));
      it = std::prev(spec.roles.end());
    }
    RoleSpec& r = *it;
    const auto at = static_cast<std::size_t>(it - spec.roles.begin());
    if (at >= declared) {
      ++r.replicas;
      // A pod of a declared role asking another GPU count takes one of that role's replicas
      // (and its minimum): the job declared the pod, the pod says what it asks.
      for (std::size_t d = 0; d < declared && g.roster; ++d) {
        RoleSpec& role = spec.roles[d];
        if (role.name != m.role || role.replicas <= 0) continue;
        --role.replicas;
        if (role.min_members > role.replicas) {
          --role.min_members;
          ++r.min_members;
        }
        break;
      }
    }
    // Planned at the largest CPU and memory of its members: any of them fits any of its slots.
    r.per_pod.milli_cpu = std::max(r.per_pod.milli_cpu, m.requests.milli_cpu);
    r.per_pod.memory_bytes = std::max(r.per_pod.memory_bytes, m.requests.memory_bytes);
  }
  if (!g.roster) spec.quorum = DeclaredQuorum(g);
  spec.pattern = InferPattern(spec.roles);
  return g.spec.emplace(std::move(spec));
}

int DeclaredQuorum(const GangRecord& g) {
  if (g.roster) return g.roster->EffectiveQuorum();
  return g.min_members.value_or(static_cast<int>(g.members.size()));
}

int PodsMissing(const GangRecord& g) {
  return std::max(DeclaredQuorum(g) - static_cast<int>(g.members.size()), 0);
}

bool SizeKnown(const GangRecord& g, bool require_quorum_pods) {
  if (g.roster || g.min_members || !require_quorum_pods) return true;
  const std::optional<GangSource> source = g.PodSource();
  if (!source) return true;
  switch (*source) {
    case GangSource::kCoscheduling:
    case GangSource::kVolcano:
    case GangSource::kNative:
    case GangSource::kKubeflow:
    case GangSource::kKubeflowLegacy:
      return false;
    default:
      return true;
  }
}

int BoundCount(const GangRecord& g) {
  return static_cast<int>(std::count_if(g.members.begin(), g.members.end(),
                                        [](const auto& kv) { return kv.second.bound; }));
}

}  // namespace gangsched::scheduler
