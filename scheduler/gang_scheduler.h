// The extender's engine (DESIGN.md §3): the facade over cluster state, planner, holds and the bind
// barrier that answers kube-scheduler's verbs for one pod at a time. Pure and single-threaded: the
// caller (api/) serialises calls with a mutex, passes `now`, performs the Bindings the decisions
// ask for and reports their results. Owns the order of the steps and committing what they decide
// (holds, barrier, gang records); the deciding is done, without changing anything, by the units
// below it: gang_registry (records and shapes), plan_proposal (plans), repair (slot moves), drain,
// gang_preemption. Must not do I/O, logging, clocks or threads.
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
#include "scheduler/gang_registry.h"
#include "scheduler/holds.h"
#include "scheduler/plan_proposal.h"
#include "scheduler/planner.h"
#include "scheduler/verbs.h"

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
  // Standalone mode (DESIGN.md §3.7): the first member to reach bind after its gang was planned
  // has its bind failed once while members rejected before the plan are parked, so that
  // kube-scheduler requeues them (a failed binding cycle moves every parked pod). The API state
  // source nudges them with an annotation instead (kube/notifier.cc).
  bool requeue_by_bind_error = false;
  // A gang that has not fit for this long gets a drain reservation on its best domain (DESIGN.md
  // §3.9). 0: never.
  Millis drain_after = 300'000;
  // At most this many drains at once (0: no cap beyond one per domain); a stronger gang (higher
  // priority, then waiting longer) takes the weakest one's place.
  int max_drains = 1;
  // A gang whose best plan spans wider than the narrowest span the cluster could give it with
  // nothing running (one node, else one rack, ...) is held back up to this long, from the first
  // such plan, for that span; then it takes the best there is (DESIGN.md §6 "Span wait"). It holds
  // no capacity while it waits. 0: place as soon as anything fits.
  Millis span_wait = 1'800'000;
  // A gang none of whose pods has been seen for this long, that holds nothing, has nothing bound
  // and no pod listed by the API state source, is forgotten (issue 15: waiting gangs and gangs of
  // one whose holds expired were kept forever). 0: never.
  Millis forget_after = 0;
};

// What the engine did since it started, for the simulator's report and the metrics. Monotonic.
struct EngineCounters {
  std::int64_t plans = 0;    // plans committed (a hold started on them)
  std::int64_t replans = 0;  // of those, plans of a gang that had been planned before
  // Holds and barriers that expired before the gang bound (nothing of it bound, capacity released).
  std::int64_t hold_expiries = 0;
  std::int64_t victim_plans = 0;  // gang-wide victim plans reserved (DESIGN.md §3.9)
  std::int64_t drains = 0;        // drain reservations started (DESIGN.md §3.9)
};

// A gang's phase and member counts without the plan and arrivals GangOf copies (the metrics read
// it on the request path).
struct GangCounts {
  GangPhase phase = GangPhase::kWaiting;
  std::string kind;  // what declared the gang's size, as GangStatus::kind
  int quorum = 0;
  int members_seen = 0;
  int members_bound = 0;
  bool size_known = true;
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
  // Where the pod may go among the offered nodes: one node, none, or the node to preempt on
  // (verbs.h). `membership` is IdentifyGang(pod), when the caller has it already.
  FilterDecision Filter(const Pod& pod, const MembershipResult& membership, const Offer& offer,
                        Millis now);
  FilterDecision Filter(const Pod& pod, const Offer& offer, Millis now) {
    return Filter(pod, IdentifyGang(pod), offer, now);
  }
  FilterDecision Filter(const Pod& pod, const std::vector<std::string>& offered, Millis now) {
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
  std::vector<PreemptCandidate> Preempt(const Pod& pod, const MembershipResult& membership,
                                        std::vector<PreemptCandidate> candidates, Millis now);
  std::vector<PreemptCandidate> Preempt(const Pod& pod, std::vector<PreemptCandidate> candidates,
                                        Millis now) {
    return Preempt(pod, IdentifyGang(pod), std::move(candidates), now);
  }
  // A bind request arrived. kWait: hold the request until a later decision names this pod.
  // kBind: post the Bindings of all listed pods (then report each with BindResult).
  BarrierDecision Bind(const std::string& ns, const std::string& name, const std::string& uid,
                       const std::string& node, Millis now);
  // The outcome of one Binding. On success the pod's capacity moves from the hold to bound usage.
  void BindResult(const std::string& uid, bool ok, const std::string& error, Millis now);
  // Expires holds and barriers whose deadline passed. Returns the held binds to fail.
  std::vector<BarrierDecision> Tick(Millis now);
  // When Tick must run next (earliest deadline, or at once when answers to held binds are owed),
  // if ever.
  std::optional<Millis> NextDeadline() const;

  // ---- Views -----------------------------------------------------------------------------------
  std::vector<GangStatus> Gangs(Millis now) const;
  // At most `limit` gangs after `after` in key order (from the first when `after` is empty): a
  // view copies one page under its lock and serialises it outside (issue 15).
  std::vector<GangStatus> Gangs(Millis now, const GangKey& after, std::size_t limit) const;
  std::size_t gang_count() const { return gangs_.all().size(); }
  std::optional<GangStatus> GangOf(const GangKey& key, Millis now) const;
  std::optional<GangCounts> CountsOf(const GangKey& key) const;
  // The gang's shape as the planner places it: its roles and each pod's requests.
  std::optional<GangSpec> ShapeOf(const GangKey& key) const;
  const ClusterState& state() const { return state_; }
  const EngineCounters& counters() const { return counters_; }
  // The holds' timing (deadlines, starts, backoff), for checks that must not copy a gang's view.
  const HoldTable& holds() const { return holds_; }
  // GPU ids chosen for a pod in its gang's plan (for the gangsched.io/gpu-ids annotation).
  std::vector<int> PlannedGpuIds(const std::string& uid) const;
  // Placement summary of the pod's gang ("4 pods on 2 nodes in rack r3 (span: rack)").
  std::string PlacementSummary(const std::string& uid) const;

 private:
  FilterDecision FilterMember(const Pod& pod, const MembershipResult& membership,
                              const Offer& offer, Millis now);
  // ProposePlan on the live state, then CommitPlan; on failure the gang waits with the reason.
  // With `may_wait`, a plan wider than the gang's narrowest span is not committed while its span
  // wait lasts (the gang waits, nothing is held): *waits is set.
  bool PlanAndHold(GangRecord& g, const PlannerOptions& options, Millis now, bool* waits = nullptr);
  // Whether the gang waits for a narrower span than `plan`'s (EngineOptions::span_wait); starts
  // its wait on the first such plan and says so in its reason.
  bool WaitForSpan(GangRecord& g, const Plan& plan, Millis now);
  // Plans the gangs whose span wait ended at `now` with the best span there is (their members
  // are parked; a planned gang is nudged).
  void EndSpanWaits(Millis now);
  // Holds the proposal's plan, opens the barrier on it and starts the hold's deadline.
  void CommitPlan(GangRecord& g, PlanProposal proposal, Millis now);
  // Computes and reserves a victim plan for a gang that does not fit. False when none exists.
  bool PlanPreemption(GangRecord& g, Millis now);
  void DropPreemption(GangRecord& g);
  // Called when the gang did not fit: starts (or moves) its drain once it has waited long enough.
  void Starve(GangRecord& g, Millis now);
  // Holds the free GPUs of the gang's drain domain up to its need; updates its reason.
  void RefreshDrain(GangRecord& g);
  void RefreshDrains();
  void EndDrain(GangRecord& g);
  // The slot of a member in the held plan, assigning a free slot of its role when it has none.
  std::optional<int> SlotFor(GangRecord& g, const GangMember& m);
  // A member reached bind for `node`: the barrier takes it by its role and that node, not by its
  // slot, and a member narrowed before a kept re-plan has no slot in the new plan (or one on
  // another node). It takes a free slot of its role on `node` when there is one, so BindResult
  // and CompleteGang account the pod where it is bound.
  void TakeSlotOn(GangRecord& g, const GangMember& m, const std::string& node);
  void ReleaseGang(GangRecord& g, const std::string& reason);
  // Adds the gang's members with a slot in `plan` to the state as bound pods at their own
  // requests: every slot (the gang completed) or only the members bound so far (its hold goes).
  void AccountBound(const GangRecord& g, const Plan& plan, bool every_slot);
  GangStatus StatusOf(const GangRecord& g, Millis now) const;
  void CompleteGang(GangRecord& g);
  // Fills each order's pod namespace and name from the gang's members.
  void NameOrders(BarrierDecision& d) const;
  void Forget(const GangKey& key);
  // Why a pod must be refused because its UID is another pod's (a member of a gang, or a bound
  // pod, under another namespace/name): both pods named; "" when the UID is its own.
  std::string UidReused(const std::string& uid, const std::string& ns,
                        const std::string& name) const;
  // A verb (or the state source, `listed`) saw the gang's pod `uid` at `now`.
  void Seen(GangRecord& g, const std::string& uid, Millis now, bool listed);
  // Forgets the gangs idle for options_.forget_after (at most one sweep per interval).
  void ForgetIdle(Millis now);
  // Closes the gang's barrier; the binds it held are answered with `reason` at the next Tick.
  void CloseBarrier(const GangKey& key, const std::string& reason);
  // A pod of the same namespace and name as a member under another UID replaces it: the old one
  // is removed as if its deletion had been seen.
  void ForgetPredecessor(const Pod& pod, const GangMembership& m);
  // Plans the partly bound gangs with no hold around their bound members: at the Tick after room
  // may have freed (a pod removed, nodes replaced, a gang found partly bound), and before another
  // gang is planned.
  void ResumePartlyBound(Millis now);

  ClusterState state_;
  EngineOptions options_;
  HoldTable holds_;
  BindBarrier barrier_;
  GangRegistry gangs_;
  std::set<GangKey> draining_;      // gangs with a drain reservation
  std::set<GangKey> partly_bound_;  // partly bound gangs with no hold
  std::set<GangKey> span_waiting_;  // gangs waiting for a narrower span, not planned
  // AllocatableIndex(state_), built when a span wait first needs it and with each inventory.
  std::optional<topology::CapacityIndex> allocatable_;
  bool resume_due_ = false;  // room may have freed for them: the next Tick plans them
  std::uint64_t inventory_generation_ = 1;
  EngineCounters counters_;
  std::vector<BarrierDecision> orphaned_;  // answers to held binds owed, returned by the next Tick
  Millis last_now_ = 0;                    // the latest `now` a verb was called with
  Millis next_sweep_ = 0;                  // ForgetIdle's next look
};

}  // namespace gangsched::scheduler
