#include "scheduler/gang_registry.h"

#include <algorithm>
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
  if (m.min_members && g.min_members != m.min_members) {
    g.min_members = m.min_members;
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
  gang_of_uid_[pod.uid] = m.key;
  return g;
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

const GangSpec& SpecOf(const GangRecord& g) {
  if (g.spec) return *g.spec;
  if (g.roster) {
    GangSpec spec = *g.roster;
    spec.priority = std::max(spec.priority, g.priority);
    return g.spec.emplace(std::move(spec));
  }
  // From the pods seen: one role per role name, in order of first appearance by name.
  GangSpec spec;
  spec.key = g.key;
  spec.kind = g.KindName();
  spec.priority = g.priority;
  std::map<std::string, int> role_index;
  for (const auto& [uid, m] : g.members) {
    auto [it, fresh] = role_index.emplace(m.role, static_cast<int>(spec.roles.size()));
    if (fresh) {
      RoleSpec r;
      r.name = m.role;
      r.replicas = 0;
      r.min_members = 1;
      r.per_pod = m.requests;
      r.node_selector = m.node_selector;
      r.tolerations = m.tolerations;
      spec.roles.push_back(r);
    }
    RoleSpec& r = spec.roles[it->second];
    ++r.replicas;
    // Members of one role are interchangeable: plan each slot for the largest request seen.
    r.per_pod.milli_cpu = std::max(r.per_pod.milli_cpu, m.requests.milli_cpu);
    r.per_pod.memory_bytes = std::max(r.per_pod.memory_bytes, m.requests.memory_bytes);
    r.per_pod.gpus = std::max(r.per_pod.gpus, m.requests.gpus);
  }
  const int seen = static_cast<int>(g.members.size());
  const int quorum = g.min_members.value_or(seen);
  if (quorum > seen && !spec.roles.empty()) {
    // Members not created yet look like the ones seen (the largest role).
    auto largest = std::max_element(
        spec.roles.begin(), spec.roles.end(),
        [](const RoleSpec& a, const RoleSpec& b) { return a.replicas < b.replicas; });
    largest->replicas += quorum - seen;
  }
  spec.quorum = quorum;
  spec.pattern = InferPattern(spec.roles);
  return g.spec.emplace(std::move(spec));
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
