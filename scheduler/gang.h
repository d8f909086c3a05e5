// The gang model: which gang a pod belongs to, its quorum and per-role minimums (DESIGN.md §3.1,
// §4). Owns reading the gang identity keys of DESIGN.md §4 from a pod's labels/annotations, and the
// shape of a gang (roles with replica counts and per-pod requests). Object lookups (PodGroup,
// TFJob) happen in k8s/ and kube/; the core takes the size/roster they give.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/model.h"

namespace gangsched::scheduler {

struct GangKey {
  std::string namespace_name;
  std::string name;
  std::string ToString() const { return namespace_name + "/" + name; }
  friend auto operator<=>(const GangKey&, const GangKey&) = default;
};

// How the members talk: decides the communication cost the planner minimises (DESIGN.md §4
// "Roles").
enum class CommPattern : std::uint8_t {
  kParameterServer,  // PS <-> workers all-to-all between the two roles
  kAllReduce,        // workers in a ring
  kNone,             // a single pod
};

// Which identity key found the gang (DESIGN.md §4 table, in reading order).
enum class GangSource : std::uint8_t {
  kGangsched,
  kCoscheduling,
  kVolcano,
  kKueue,
  kYunikorn,
  kKoordinator,
  kNative,
  kKubeflow,
  kKubeflowLegacy,
  kSinglePod,
};
const char* GangSourceName(GangSource source);

// What one pod says about its gang.
struct GangMembership {
  GangKey key;
  GangSource source = GangSource::kSinglePod;
  std::optional<int> min_members;  // when the pod itself carries the size (annotation keys)
  std::string role;          // normalised lower case ("ps", "worker", "master", ...); may be empty
  std::optional<int> index;  // replica index when known
};

// Reads the identity keys of DESIGN.md §4 in order; a pod with none is a gang of one (kSinglePod).
// A size annotation that is not a positive integer is reported in `error` (the pod still gets a
// key).
struct MembershipResult {
  GangMembership membership;
  std::string error;
};
MembershipResult IdentifyGang(const Pod& pod);

struct RoleSpec {
  std::string name;     // "ps", "worker", "master", "chief", "launcher", ...
  int replicas = 1;     // pods of this role the job declares
  int min_members = 1;  // at least this many must be placed for the gang to run
  Resources per_pod;    // requests of one pod of this role (pods = 1)
  StringMap node_selector;
  std::vector<Toleration> tolerations;
};

struct GangSpec {
  GangKey key;
  std::string kind;  // what declared it, e.g. "TFJob kubeflow.org/v1", "Pod"
  std::vector<RoleSpec> roles;
  int quorum = 0;  // min members of the whole gang; 0 = sum of replicas
  CommPattern pattern = CommPattern::kAllReduce;
  std::int32_t priority = 0;

  int TotalReplicas() const;
  int EffectiveQuorum() const;  // quorum clamped to [sum of role minimums, total replicas]
  // The pods the planner places: the quorum, taking each role's minimum first, then filling up to
  // the quorum in role order. Returns (role index, replica index) pairs.
  std::vector<std::pair<int, int>> QuorumMembers() const;
};

// Picks the pattern from the role names: a "ps" role means kParameterServer, else kAllReduce; one
// pod in total means kNone.
CommPattern InferPattern(const std::vector<RoleSpec>& roles);

}  // namespace gangsched::scheduler
