// The extender's engine (DESIGN.md §3): the facade over cluster state, planner, holds and the bind
// barrier that answers kube-scheduler's verbs for one pod at a time. Pure and single-threaded: the
// caller (api/) serialises calls with a mutex, passes `now`, performs the Bindings the decisions
// ask for and reports their results. Owns gang bookkeeping (members seen, rosters, slots, phases
// and the plain-words reason each gang waits); must not do I/O, logging, clocks or threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "scheduler/bind_barrier.h"
#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"
#include "scheduler/holds.h"
#include "scheduler/planner.h"
#include "scheduler/preemption.h"

namespace gangsched::scheduler {

struct EngineOptions {
  StateOptions state;  // label keys of the fabric levels, default GPU matrices
  HoldPolicy holds;
  PlannerOptions planner;
  // Plan a gang only once a quorum of its member pods is known (API-server state source, DESIGN.md
  // §3.2). Off in standalone mode, where pods are known only from requests.
  bool require_quorum_pods = false;
  // Largest number of binds one gang may hold at once (the bind listener's pool, DESIGN.md §3.6).
  int max_held_binds = 1024;
  // A gang that has not fit for this long gets a drain reservation on its best domain (DESIGN.md
  // §3.9). 0: never.
  Millis drain_after = 300'000;
};

enum class GangPhase : std::uint8_t {
  kWaiting,  // not planned: too few pods, does not fit, or backing off
  kPlanned,  // holds capacity; members are being filtered toward their nodes
  kBinding,  // released by the barrier; Bindings in flight (or being retried)
  kBound,    // every quorum member bound
};
const char* GangPhaseName(GangPhase phase);

// Filter answer for one pod (reference/extender-protocol.md §1.3, §2.3).
struct FilterAnswer {
  std::vector<std::string> feasible;                // NodeNames
  std::map<std::string, std::string> failed;        // FailedNodes (only a gang-wide victim plan)
  std::map<std::string, std::string> unresolvable;  // FailedAndUnresolvableNodes
};

struct HostScore {
  std::string host;
  std::int64_t score = 0;  // 0..10
};

// The nodes kube-scheduler offered for one pod (reference/extender-protocol.md §2.3), resolved
// against the engine's node inventory. A request names thousands of nodes and kube-scheduler sends
// the same offer pod after pod, so the caller may keep an Offer and pass it again while `inventory`
// is the engine's inventory_generation(); the engine resolves a stale one again.
struct Offer {
  std::vector<std::string> names;      // in request order
  std::vector<std::size_t> nodes;      // state indices of the names the inventory knows, in order
  std::vector<std::int32_t> position;  // by state index: first position in `names`, -1 if absent
  std::uint64_t inventory = 0;
};

// A non-zero score of one offered node; every offered node not listed scores 0.
struct OfferScore {
  std::size_t at = 0;  // position in Offer::names
  std::int64_t score = 0;
};

// One candidate of the preempt verb: node -> victim pod UIDs (MetaVictims).
struct PreemptCandidate {
  std::string node;
  std::vector<std::string> victim_uids;
  std::int64_t pdb_violations = 0;
};

struct GangStatus {
  GangKey key;
  std::string kind;  // what declared the gang's size
  GangPhase phase = GangPhase::kWaiting;
  std::string reason;  // why it waits, in plain words ("" once bound)
  int quorum = 0;
  int members_seen = 0;                   // pods known (filtered or from the API)
  int members_arrived = 0;                // waiting in the barrier or bound
  std::vector<std::string> arrived_uids;  // their UIDs, sorted (the rest may be parked)
  bool size_known = true;  // false: a PodGroup's member whose PodGroup (minMember) is not known yet
  int members_bound = 0;
  std::optional<Millis> hold_deadline;
  std::optional<Millis> backoff_until;
  std::optional<Plan> plan;
};

class GangScheduler {
 public:
  GangScheduler(ClusterState state, EngineOptions options = {});

  // ---- State sources ---------------------------------------------------------------------------
  // A new node inventory (e.g. the full `Nodes` of a request, or a relist). Bound pods and holds
  // are carried over; holds on nodes that vanished are dropped and their gangs re-planned.
  tl::expected<void, std::string> ReplaceNodes(std::vector<Node> nodes);
  // A job object (TFJob, PodGroup, ...) declares a gang's roster: roles, replicas, requests,
  // quorum.
  void UpsertRoster(const GangSpec& spec);
  void RemoveRoster(const GangKey& key);
  // A pod exists (pending or bound). Bound pods take capacity; a bound member of a planned gang
  // takes its slot.
  void UpsertPod(const Pod& pod);
  // A pod is gone. If it waited in the barrier, the returned rejection answers its held bind; its
  // slot is free for a replacement of the same role.
  std::optional<BarrierDecision> RemovePod(const std::string& uid);

  // ---- Extender verbs --------------------------------------------------------------------------
  // Resolves offered node names against the inventory (one hash lookup per name).
  Offer ResolveOffer(std::vector<std::string> names) const;
  // Changes whenever the node inventory is replaced (an Offer resolved before is stale).
  std::uint64_t inventory_generation() const { return inventory_generation_; }
  FilterAnswer Filter(const Pod& pod, const Offer& offer, Millis now);
  FilterAnswer Filter(const Pod& pod, const std::vector<std::string>& offered, Millis now) {
    return Filter(pod, ResolveOffer(offered), now);
  }
  // The offered nodes that score above 0, in offer order (the pod's planned node scores 10).
  std::vector<OfferScore> Prioritize(const Pod& pod, const Offer& offer, Millis now) const;
  // Every offered node with its score.
  std::vector<HostScore> Prioritize(const Pod& pod, const std::vector<std::string>& offered,
                                    Millis now) const;
  // The preempt verb (DESIGN.md §3.9). A member of a gang (quorum > 1) gets only its node of the
  // gang's victim plan, with exactly the plan's victims there (planned now if the gang has none),
  // or no candidate at all. Any other pod keeps kube-scheduler's candidates except those whose
  // victims would leave a running gang below its quorum.
  std::vector<PreemptCandidate> Preempt(const Pod& pod, std::vector<PreemptCandidate> candidates,
                                        Millis now);
  // A bind request arrived. kWait: hold the request until a later decision names this pod.
  // kBind: post the Bindings of all listed pods (then report each with BindResult).
  BarrierDecision Bind(const std::string& ns, const std::string& name, const std::string& uid,
                       const std::string& node, Millis now);
  // The outcome of one Binding. On success the pod's capacity moves from the hold to bound usage.
  void BindResult(const std::string& uid, bool ok, const std::string& error, Millis now);
  // Expires holds and barriers whose deadline passed. Returns the held binds to fail.
  std::vector<BarrierDecision> Tick(Millis now);
  // When Tick must run next (earliest deadline), if ever.
  std::optional<Millis> NextDeadline() const;

  // ---- Views -----------------------------------------------------------------------------------
  std::vector<GangStatus> Gangs(Millis now) const;
  std::optional<GangStatus> GangOf(const GangKey& key, Millis now) const;
  const ClusterState& state() const { return state_; }
  // GPU ids chosen for a pod in its gang's plan (for the gangsched.io/gpu-ids annotation).
  std::vector<int> PlannedGpuIds(const std::string& uid) const;
  // Placement summary of the pod's gang ("4 pods on 2 nodes in rack r3 (span: rack)").
  std::string PlacementSummary(const std::string& uid) const;

 private:
  struct Member {
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
  };
  struct GangRecord {
    GangKey key;
    std::string kind;
    std::optional<GangSpec> roster;         // declared by a job object
    std::optional<int> min_members;         // from the pods' annotations
    std::map<std::string, Member> members;  // by UID
    std::map<std::string, int> slot_of;     // UID -> index into the held plan's pods
    GangPhase phase = GangPhase::kWaiting;
    std::string reason;
    std::int32_t priority = 0;
    std::optional<Plan> placed;  // the plan the gang was bound with, once bound whole
    // A gang-wide victim plan (DESIGN.md §3.9): set while lower-priority pods are evicted for the
    // gang. Its plan is also the gang's hold in the state (a reservation: no barrier is open and
    // no member is narrowed), so the capacity the victims free goes to no one else.
    std::optional<VictimPlan> preemption;
    // Since when the gang has not fit (cleared when it is planned).
    std::optional<Millis> waiting_since;
    // A drain reservation (DESIGN.md §3.9): the topology domain whose freed GPUs are kept for the
    // gang, up to its need. Held in the state as the gang's hold, like a victim plan's.
    std::optional<int> drain;
    // SpecOf's answer, kept until a member's shape, the roster, min_members, kind or priority
    // changes (filter calls of a planned gang's members otherwise rebuild it from every member).
    mutable std::optional<GangSpec> spec;
  };

  GangRecord& Record(const Pod& pod, const GangMembership& m);
  // The gang's shape (from its roster, else from the members seen), cached on the record.
  const GangSpec& SpecOf(const GangRecord& g) const;
  // With the API state source (require_quorum_pods): false for a gang whose size lives in an
  // object not seen yet — a PodGroup (coscheduling, Volcano, native) or a Kubeflow job — so it is
  // not planned as a gang of the pods seen so far (pods are created right after their group/job).
  bool SizeKnown(const GangRecord& g) const;
  // A (re-)plan of a gang that nothing has taken yet: the plan, and the slots its members keep in
  // it. Committed whole or dropped; never undone by hand (DESIGN.md §1).
  struct PlanProposal {
    Plan plan;
    std::map<std::string, int> slot_of;
  };
  // Plans (or re-plans) the gang without changing anything; the reason when it does not fit.
  tl::expected<PlanProposal, std::string> ProposePlan(const GangRecord& g,
                                                      const PlannerOptions& options) const;
  // Holds the proposal's plan, opens the barrier on it and starts the hold's deadline.
  void CommitPlan(GangRecord& g, PlanProposal proposal, Millis now);
  // ProposePlan, then CommitPlan; on failure the gang waits with the planner's reason.
  bool PlanAndHold(GangRecord& g, const PlannerOptions& options, Millis now);
  // What PlanAndHold plans: the whole gang, or only the members not bound yet, next to the bound.
  PlanResult PlanRemaining(const GangRecord& g, const GangSpec& spec, const PlannerOptions& options,
                           const ClusterState& state) const;
  // ---- Preemption (DESIGN.md §3.9)
  // Bound pods below `priority` as victim units: lone pods, and whole gangs of lower priority.
  std::vector<VictimUnit> VictimUnits(std::int32_t priority, const GangKey& self) const;
  // Computes and reserves a victim plan for a gang that does not fit. False when none exists.
  bool PlanPreemption(GangRecord& g, Millis now);
  void DropPreemption(GangRecord& g);
  // The plan's victims on `node` that still hold capacity.
  std::vector<std::string> VictimsOn(const GangRecord& g, const std::string& node) const;
  int VictimsLeft(const GangRecord& g) const;
  // The filter answer of a member while its gang's victims are evicted.
  FilterAnswer PreemptionAnswer(GangRecord& g, const Member& m, const Offer& offer);
  // A victim plan or a drain: the gang's hold is a reservation, not a plan to narrow members to.
  static bool Reserving(const GangRecord& g) { return g.preemption || g.drain; }
  // ---- Drain reservations (DESIGN.md §3.9)
  // Called when the gang did not fit: starts (or moves) its drain once it has waited long enough.
  void Starve(GangRecord& g, Millis now);
  // The domain where the gang would fit soonest, or nothing (another drain outranks it on each).
  std::optional<int> DrainDomain(const GangRecord& g) const;
  // Holds the free GPUs of the gang's drain domain up to its need; updates its reason.
  void RefreshDrain(GangRecord& g);
  void RefreshDrains();
  void EndDrain(GangRecord& g);
  // Today's rule for pods outside gangs: drop candidates that would break a running gang.
  std::vector<PreemptCandidate> DropGangBreakers(std::vector<PreemptCandidate> candidates) const;
  // The slot of a member in the held plan, assigning a free slot of its role when it has none.
  std::optional<int> SlotFor(GangRecord& g, const Member& m);
  // The member's slot in `plan` given the slots taken (its own, else a free one of its role).
  static std::optional<int> FreeSlot(const Plan& plan, const std::map<std::string, int>& slot_of,
                                     const Member& m);
  // The planner's feasibility mask confining `role` to the offered nodes (other roles unmasked).
  std::vector<std::vector<bool>> RoleMask(const GangSpec& spec, const std::string& role,
                                          const Offer& offer) const;
  void ReleaseGang(GangRecord& g, const std::string& reason);
  // Why the Bindings of a released barrier must not be posted: a target node left, was cordoned
  // or was filled by pods gangsched did not place since the plan. "" when all is well.
  std::string RecheckTargets(const BarrierDecision& d) const;
  int BoundCount(const GangRecord& g) const;
  GangStatus StatusOf(const GangRecord& g, Millis now) const;
  // Moves one member of a held plan to another offered node (kube-scheduler's filters excluded the
  // planned one). Returns the new node, or nothing when no offered node fits.
  std::optional<std::string> MoveSlot(GangRecord& g, int slot, const Member& m,
                                      const std::vector<std::size_t>& offered);
  std::optional<std::size_t> ChooseNear(const Resources& req, const Member& m,
                                        const std::vector<std::size_t>& offered,
                                        const std::vector<int>& near) const;
  // Picks GPU ids for a placement on `node` from its free GPUs; false when they do not suffice.
  bool Assign(PodPlacement& p, std::size_t node) const;
  bool PlaceExtra(GangRecord& g, const Member& m, const std::vector<std::size_t>& offered,
                  Millis now);
  void CompleteGang(GangRecord& g);
  // Fills each order's pod namespace and name from the gang's members.
  void NameOrders(BarrierDecision& d) const;
  void Forget(const GangKey& key);

  ClusterState state_;
  EngineOptions options_;
  HoldTable holds_;
  BindBarrier barrier_;
  std::map<GangKey, GangRecord> gangs_;
  std::map<std::string, GangKey> gang_of_uid_;
  std::set<GangKey> draining_;  // gangs with a drain reservation
  std::uint64_t inventory_generation_ = 1;
};

}  // namespace gangsched::scheduler
