// The engine's gang bookkeeping: which gangs exist, the members seen of each (pods filtered or
// listed), their rosters (job objects), slots in the gang's held plan, phase and the plain-words
// reason each waits, and the gang's shape derived from all of it. Owns the records and the pod ->
// gang index; must not touch cluster state, holds or the barrier (the engine commits those).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/gang.h"
#include "scheduler/holds.h"
#include "scheduler/model.h"
#include "scheduler/plan.h"
#include "scheduler/preemption.h"
#include "scheduler/verbs.h"

namespace gangsched::scheduler {

// A member pod as the engine keeps it.
struct GangMember {
  std::string uid;
  std::string ns;
  std::string name;
  std::string role;
  std::optional<int> index;
  Resources requests;
  StringMap node_selector;
  std::vector<Toleration> tolerations;
  std::string node;  // bound node, "" while pending
  bool bound = false;
  std::optional<Millis> rejected_at;  // its last filter call rejected it then (not narrowed)
  std::optional<int> declared_size;   // its min-members annotation, when it carries one
  // Listed by the API state source (UpsertPod): the pod exists until its deletion is seen, so
  // its gang is never forgotten for not being seen (GangScheduler::ForgetIdle).
  bool listed = false;
};

struct GangRecord {
  GangKey key;
  // The identity key the first member seen carried (DESIGN.md §4); nothing before any pod is seen.
  std::optional<GangSource> source;
  // The kind of the job object that declared the gang, once a roster has ("TFJob kubeflow.org/v1").
  std::string roster_kind;
  std::optional<GangSpec> roster;  // declared by a job object
  // From the pods' annotations: the first size declared; it changes only when every member that
  // declares a size declares the new one (a PodGroup's minMember edited), so members declaring
  // different sizes cannot flip the quorum back and forth (issue 15).
  std::optional<int> min_members;
  std::string size_conflict;  // members declare different sizes: which, and the size kept
  std::map<std::string, GangMember> members;  // by UID
  std::map<std::string, int> slot_of;         // UID -> index into the held plan's pods
  GangPhase phase = GangPhase::kWaiting;
  std::string reason;
  std::int32_t priority = 0;
  std::optional<Plan> placed;  // the plan the gang was bound with, once bound whole
  int plans = 0;               // plans committed for it (EngineCounters::replans)
  Millis planned_at = 0;       // when its current plan was committed
  Millis last_seen = 0;        // the latest verb or state-source call about one of its pods
  bool requeued = false;       // a bind failed to requeue its parked members since that plan
  // A gang-wide victim plan (DESIGN.md §3.9): set while lower-priority pods are evicted for the
  // gang. Its plan is also the gang's hold in the state (a reservation: no barrier is open and
  // no member is narrowed), so the capacity the victims free goes to no one else.
  std::optional<VictimPlan> preemption;
  // Since when the gang has not fit (cleared when it is planned).
  std::optional<Millis> waiting_since;
  // A drain reservation (DESIGN.md §3.9): the topology domain whose freed GPUs are kept for the
  // gang, up to its need. Held in the state as the gang's hold, like a victim plan's.
  std::optional<int> drain;
  // When its wait for a narrower span ends (EngineOptions::span_wait); set on its first plan wider
  // than its narrowest span and kept, so a gang waits at most once.
  std::optional<Millis> span_wait_until;
  // SpecOf's answer, kept until a member's shape, the roster, min_members, source, roster or
  // priority changes (filter calls of a planned gang's members otherwise rebuild it from every
  // member).
  mutable std::optional<GangSpec> spec;

  // The identity key the pods carry while no job object has declared the gang (a declared gang is
  // known by its roster's kind instead).
  std::optional<GangSource> PodSource() const {
    return roster_kind.empty() ? source : std::nullopt;
  }
  // What declared the gang, for people: the roster's kind, else the pods' identity key.
  std::string KindName() const;
};

// The gang's shape, cached on the record: the roster's roles, and one role per role name and GPU
// count of the members seen that the roster does not declare. Never a role no pod or roster showed.
const GangSpec& SpecOf(const GangRecord& g);
// The quorum as declared (the roster's, the size annotation), else the members seen. It may exceed
// the members seen, whose roles alone SpecOf knows.
int DeclaredQuorum(const GangRecord& g);
// Members of the declared quorum not seen yet: until they are, the gang is not planned and its
// members wait "for N more pods" (DESIGN.md §3.2), with either state source.
int PodsMissing(const GangRecord& g);
// Whether a planned slot (or a role) can take member `m`: the same role name and GPU count, and
// for a slot at least the member's CPU and memory.
bool SlotFits(const PodPlacement& slot, const GangMember& m);
bool RoleFits(const RoleSpec& role, const GangMember& m);
// With the API state source (require_quorum_pods): false for a gang whose size lives in an
// object not seen yet — a PodGroup (coscheduling, Volcano, native) or a Kubeflow job — so it is
// not planned as a gang of the pods seen so far (pods are created right after their group/job).
bool SizeKnown(const GangRecord& g, bool require_quorum_pods);
int BoundCount(const GangRecord& g);
// Why the gang's size is disputed: a member declaring a size other than the one kept (names the
// pod, both sizes and what to do); "" when every member agrees.
std::string SizeConflict(const GangRecord& g);
// A victim plan or a drain: the gang's hold is a reservation, not a plan to narrow members to.
inline bool Reserving(const GangRecord& g) { return g.preemption || g.drain; }

class GangRegistry {
 public:
  // The record of the pod's gang, with the pod recorded as a member (created on first sight).
  GangRecord& Record(const Pod& pod, const GangMembership& m);
  // A job object declares the gang's roster.
  GangRecord& Declare(const GangSpec& roster);
  GangRecord* Find(const GangKey& key);
  const GangRecord* Find(const GangKey& key) const;
  GangRecord& at(const GangKey& key) { return gangs_.at(key); }
  const GangRecord& at(const GangKey& key) const { return gangs_.at(key); }
  // The gang a pod was recorded in, if it still exists.
  GangRecord* OfPod(const std::string& uid);
  const GangRecord* OfPod(const std::string& uid) const;
  // Forgets which gang the pod belongs to; returns that gang's key (its record keeps the member).
  std::optional<GangKey> Unlink(const std::string& uid);
  // Drops the gang's record and its members' index entries.
  void Erase(const GangKey& key);
  const std::map<GangKey, GangRecord>& all() const { return gangs_; }

 private:
  std::map<GangKey, GangRecord> gangs_;
  std::map<std::string, GangKey> gang_of_uid_;
};

}  // namespace gangsched::scheduler
