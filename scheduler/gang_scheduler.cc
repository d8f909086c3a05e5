#include "scheduler/gang_scheduler.h"

#include <algorithm>
#include <utility>

#include "scheduler/drain.h"
#include "scheduler/gang_preemption.h"
#include "scheduler/repair.h"
#include "scheduler/span_wait.h"

namespace gangsched::scheduler {

namespace {

std::string Seconds(Millis ms) {
  const Millis tenths = (ms + 50) / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s";
}

// Why the gang's quorum cannot be planned because the sum of its pods' requests overflows (the
// planner, its reasons and drains add them up in int64): names the gang and the resource; "" when
// the sums fit. Each pod's own sum is checked when it is decoded (k8s/); a gang of several huge
// pods is checked here (issue 15).
std::string RequestsOverflow(const GangSpec& spec) {
  std::int64_t gpus = 0;
  std::int64_t milli_cpu = 0;
  std::int64_t memory = 0;
  for (const auto& [role, index] : spec.QuorumMembers()) {
    const Resources& r = spec.roles[static_cast<std::size_t>(role)].per_pod;
    const char* field = nullptr;
    if (__builtin_add_overflow(gpus, r.gpus, &gpus)) field = "nvidia.com/gpu";
    if (__builtin_add_overflow(milli_cpu, r.milli_cpu, &milli_cpu)) field = "cpu";
    if (__builtin_add_overflow(memory, r.memory_bytes, &memory)) field = "memory";
    if (field != nullptr) {
      return "gang " + spec.key.ToString() + ": the requests of " + field + " of its " +
             std::to_string(spec.EffectiveQuorum()) +
             " pods add up to more than 2^63-1 base units; it is never placed: request less";
    }
  }
  return {};
}

// kube-scheduler first filters a pod with status.nominatedNodeName on that one node alone.
bool NominatedProbe(const Pod& pod, const std::vector<std::string>& offered) {
  return offered.size() == 1 && !pod.nominated_node_name.empty() &&
         offered.front() == pod.nominated_node_name;
}

}  // namespace

GangScheduler::GangScheduler(ClusterState state, EngineOptions options)
    : state_(std::move(state)), options_(std::move(options)), holds_(options_.holds) {}

// ---- State sources ------------------------------------------------------------------------------

tl::expected<void, std::string> GangScheduler::ReplaceNodes(std::vector<Node> nodes) {
  auto next = ClusterState::Create(std::move(nodes), options_.state);
  if (!next) return tl::unexpected(next.error());
  // Holds on a node that left are released (their gangs re-planned later; bound members of a
  // partly bound gang keep their capacity as bound pods, ReleaseGang); bound pods and the other
  // holds are carried over.
  std::vector<GangKey> dropped;
  for (const auto& [key, plan] : state_.holds()) {
    const bool all_there = std::all_of(plan.pods.begin(), plan.pods.end(), [&](const auto& p) {
      return next->FindNode(p.node).has_value();
    });
    if (!all_there) dropped.push_back(key);
  }
  for (const GangKey& key : dropped) {
    if (GangRecord* g = gangs_.Find(key)) {
      ReleaseGang(*g, "a planned node left the cluster; re-planning");
    } else {
      state_.Release(key);
    }
  }
  for (const auto& [uid, bound] : state_.bound_pods()) {
    (void)bound;
    next->AddPod(*state_.PodOf(uid));
  }
  for (const auto& [key, plan] : state_.holds()) next->Hold(plan);
  state_ = std::move(*next);
  ++inventory_generation_;
  // Domains are numbered anew: drains end and start again on the gang's next filter call.
  for (const GangKey& key : std::set<GangKey>(draining_)) EndDrain(gangs_.at(key));
  resume_due_ = !partly_bound_.empty();
  allocatable_.reset();
  return {};
}

void GangScheduler::UpsertRoster(const GangSpec& spec) { gangs_.Declare(spec); }

void GangScheduler::RemoveRoster(const GangKey& key) {
  GangRecord* g = gangs_.Find(key);
  if (g == nullptr) return;
  g->roster.reset();
  g->spec.reset();
  if (g->members.empty()) Forget(key);
}

void GangScheduler::UpsertPod(const Pod& pod) {
  const MembershipResult mr = IdentifyGang(pod);
  const bool single = mr.membership.source == GangSource::kSinglePod;
  if (!single) ForgetPredecessor(pod, mr.membership);
  if (pod.HoldsCapacity()) {
    if (GangRecord* g = gangs_.OfPod(pod.uid);
        g != nullptr && g->slot_of.count(pod.uid) && state_.HoldOf(g->key) && !Reserving(*g)) {
      // Its capacity is in the gang's hold until the gang is complete.
      g->members[pod.uid].bound = true;
      g->members[pod.uid].node = pod.node_name;
      return;
    }
    state_.AddPod(pod);
    if (single) return;  // running non-gang pods need no record
    GangRecord& g = gangs_.Record(pod, mr.membership);
    Seen(g, pod.uid, last_now_, /*listed=*/true);
    g.members[pod.uid].bound = true;
    g.members[pod.uid].node = pod.node_name;
    if (g.phase == GangPhase::kWaiting && BoundCount(g) >= DeclaredQuorum(g)) {
      g.phase = GangPhase::kBound;  // e.g. found running after a restart
      g.reason.clear();
    } else if (g.phase != GangPhase::kBound && !state_.HoldOf(g.key)) {
      // Bound members of a gang with no hold: found partly bound (after a restart, say). Its
      // other members go first when room is planned (ResumePartlyBound).
      partly_bound_.insert(g.key);
      resume_due_ = true;
    }
    return;
  }
  if (state_.RemovePod(pod.uid)) RefreshDrains();  // e.g. it finished
  if (pod.phase == PodPhase::kSucceeded || pod.phase == PodPhase::kFailed) {
    RemovePod(pod.uid);
    return;
  }
  if (!single) Seen(gangs_.Record(pod, mr.membership), pod.uid, last_now_, /*listed=*/true);
}

std::optional<BarrierDecision> GangScheduler::RemovePod(const std::string& uid) {
  const bool freed = state_.RemovePod(uid);
  const std::optional<GangKey> key = gangs_.Unlink(uid);
  if (freed && !partly_bound_.empty()) resume_due_ = true;
  if (!key) {
    if (freed) RefreshDrains();
    return std::nullopt;
  }
  GangRecord* g = gangs_.Find(*key);
  if (g == nullptr) return std::nullopt;
  std::optional<BarrierDecision> decision = barrier_.Withdraw(*key, uid);
  if (decision) NameOrders(*decision);
  g->members.erase(uid);
  g->slot_of.erase(uid);
  g->spec.reset();
  if (g->members.empty() && !g->roster) {
    if (state_.HoldOf(*key)) ReleaseGang(*g, "every member was deleted");
    Forget(*key);
  }
  RefreshDrains();  // what the pod freed in a drained domain is kept there
  return decision;
}

void GangScheduler::ResumePartlyBound(Millis now) {
  // A partly bound gang that lost its hold (its planned node left) has its other members planned
  // around the bound ones as soon as there is room, before a drain or another gang takes it: its
  // bound members' GPUs are idle until it completes (DESIGN.md §3.6).
  for (auto it = partly_bound_.begin(); it != partly_bound_.end();) {
    GangRecord* g = gangs_.Find(*it);
    if (g == nullptr || g->phase == GangPhase::kBound || BoundCount(*g) == 0 ||
        state_.HoldOf(g->key) || PlanAndHold(*g, options_.planner, now)) {
      it = partly_bound_.erase(it);
    } else {
      ++it;
    }
  }
}

void GangScheduler::ForgetPredecessor(const Pod& pod, const GangMembership& m) {
  GangRecord* g = gangs_.Find(m.key);
  if (g == nullptr) return;
  std::string old;
  for (const auto& [uid, member] : g->members) {
    if (uid != pod.uid && member.ns == pod.namespace_name && member.name == pod.name) old = uid;
  }
  if (old.empty()) return;
  // Names are unique in a namespace: a pod of this name under another UID was deleted, and this is
  // its replacement, seen before the deletion was. Its slot goes to the replacement; a bind it
  // held is answered at the next Tick.
  if (std::optional<BarrierDecision> d = RemovePod(old)) orphaned_.push_back(std::move(*d));
}

void GangScheduler::CloseBarrier(const GangKey& key, const std::string& reason) {
  // Binds held in the barrier are answered (by the next Tick) so kube-scheduler forgets what it
  // assumed for them and retries; a bind left unanswered would pin its assumed capacity until the
  // bind extender's httpTimeout.
  if (std::optional<BarrierDecision> d = barrier_.Close(key, reason)) {
    NameOrders(*d);
    orphaned_.push_back(std::move(*d));
  }
}

void GangScheduler::Forget(const GangKey& key) {
  if (gangs_.Find(key) == nullptr) return;
  CloseBarrier(key, "gang forgotten");
  holds_.Finish(key);
  state_.Release(key);
  draining_.erase(key);
  span_waiting_.erase(key);
  gangs_.Erase(key);
}

std::string GangScheduler::UidReused(const std::string& uid, const std::string& ns,
                                     const std::string& name) const {
  // A pod's identity is its UID and its namespace/name together: a second pod under a UID the
  // engine knows would take the first one's slot and cross its barrier (issue 15).
  std::string other;
  if (const GangRecord* g = gangs_.OfPod(uid)) {
    if (auto m = g->members.find(uid); m != g->members.end()) {
      if (m->second.ns != ns || m->second.name != name) {
        other = m->second.ns + "/" + m->second.name + " (gang " + g->key.ToString() + ")";
      }
    }
  } else if (const std::optional<Pod> bound = state_.PodOf(uid)) {
    if (bound->namespace_name != ns || bound->name != name) {
      other = bound->namespace_name + "/" + bound->name + " (bound to " + bound->node_name + ")";
    }
  }
  if (other.empty()) return {};
  return "pod " + ns + "/" + name + " has UID " + uid + ", which is already pod " + other +
         "; a UID names one pod: refused until the other pod is gone (recreate this one to get a "
         "new UID)";
}

void GangScheduler::Seen(GangRecord& g, const std::string& uid, Millis now, bool listed) {
  g.last_seen = std::max(g.last_seen, now);
  if (!listed) return;
  if (auto m = g.members.find(uid); m != g.members.end()) m->second.listed = true;
}

void GangScheduler::ForgetIdle(Millis now) {
  if (options_.forget_after <= 0 || now < next_sweep_) return;
  // One look per eighth of forget_after: a gang is forgotten at most 12.5% late, and a sweep over
  // every record runs rarely.
  next_sweep_ = now + std::max<Millis>(1000, options_.forget_after / 8);
  std::vector<GangKey> idle;
  for (const auto& [key, g] : gangs_.all()) {
    if (now - g.last_seen < options_.forget_after) continue;
    // What the gang still holds or owes keeps it: capacity (a hold, a reservation, a drain, bound
    // members), a barrier, a backoff, or a job object or pod the API server still has.
    if (g.roster || state_.HoldOf(key) != nullptr || holds_.Holding(key) ||
        holds_.BackoffUntil(key, now) || barrier_.IsOpen(key) || draining_.count(key) > 0 ||
        partly_bound_.count(key) > 0 || BoundCount(g) > 0) {
      continue;
    }
    if (std::any_of(g.members.begin(), g.members.end(),
                    [](const auto& kv) { return kv.second.listed; })) {
      continue;
    }
    idle.push_back(key);
  }
  for (const GangKey& key : idle) Forget(key);
}

// ---- Committing plans ---------------------------------------------------------------------------

void GangScheduler::CommitPlan(GangRecord& g, PlanProposal proposal, Millis now) {
  g.preemption.reset();
  g.drain.reset();  // the plan replaces the drain's hold
  draining_.erase(g.key);
  span_waiting_.erase(g.key);
  g.waiting_since.reset();
  state_.Hold(proposal.plan);
  const Millis deadline = holds_.Start(g.key, now);
  barrier_.Open(proposal.plan, deadline);
  g.phase = GangPhase::kPlanned;
  g.reason.clear();
  g.slot_of = std::move(proposal.slot_of);
  g.planned_at = now;
  g.requeued = false;
  ++counters_.plans;
  if (g.plans++ > 0) ++counters_.replans;
}

bool GangScheduler::PlanAndHold(GangRecord& g, const PlannerOptions& options, Millis now,
                                bool* waits) {
  auto proposal = ProposePlan(state_, g, options, options_.max_held_binds);
  if (!proposal) {
    g.phase = GangPhase::kWaiting;
    g.reason = std::move(proposal.error());
    return false;
  }
  if (waits != nullptr && WaitForSpan(g, proposal->plan, now)) {
    *waits = true;
    return false;
  }
  CommitPlan(g, std::move(*proposal), now);
  return true;
}

bool GangScheduler::WaitForSpan(GangRecord& g, const Plan& plan, Millis now) {
  if (options_.span_wait <= 0 || (g.span_wait_until && now >= *g.span_wait_until) ||
      BoundCount(g) > 0) {
    return false;
  }
  if (!allocatable_) allocatable_ = AllocatableIndex(state_);
  const int narrowest = NarrowestSpan(state_, *allocatable_, SpecOf(g));
  if (plan.span_level <= narrowest) return false;
  if (!g.span_wait_until) g.span_wait_until = now + options_.span_wait;
  span_waiting_.insert(g.key);
  auto span_name = [&](int span) {
    const std::string name = SpanName(span, state_.topology().level_names());
    return span > state_.topology().level_count() ? "the whole " + name : "one " + name;
  };
  g.phase = GangPhase::kWaiting;
  g.reason = "gang " + g.key.ToString() + " waits up to " + Seconds(*g.span_wait_until - now) +
             " more for " + span_name(narrowest) + "; the best free now spans " +
             span_name(plan.span_level) + " (" + plan.span_domain + ")";
  return true;
}

bool GangScheduler::PlanPreemption(GangRecord& g, Millis now) {
  std::optional<VictimPlan> victims = ProposeVictims(state_, gangs_, g, options_.planner);
  if (!victims) return false;
  // The reservation: the plan held like a plan, on capacity the victims still use, so what they
  // free goes to this gang only; it expires and backs off like a hold.
  state_.Hold(victims->plan);  // replaces a drain's hold
  g.drain.reset();
  draining_.erase(g.key);
  holds_.Start(g.key, now);
  g.slot_of.clear();
  g.phase = GangPhase::kWaiting;
  g.reason = DescribePreemption(state_, g.key, *victims);
  g.preemption = std::move(victims);
  ++counters_.victim_plans;
  return true;
}

void GangScheduler::DropPreemption(GangRecord& g) {
  if (!g.preemption) return;
  g.preemption.reset();
  state_.Release(g.key);
  holds_.Finish(g.key);
  g.slot_of.clear();
}

void GangScheduler::Starve(GangRecord& g, Millis now) {
  if (!g.waiting_since) g.waiting_since = now;
  if (options_.drain_after <= 0 || now - *g.waiting_since < options_.drain_after) return;
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() <= 1 || NeedGpus(spec) == 0) return;
  const std::optional<int> domain = DrainDomain(state_, gangs_, draining_, g);
  if (!domain) {
    EndDrain(g);
    return;
  }
  const topology::ClusterTopology& topo = state_.topology();
  auto give_way = [&](GangRecord& other) {
    EndDrain(other);
    other.reason = "gang " + other.key.ToString() + " waits: its drain reservation went to gang " +
                   g.key.ToString() + " (higher priority or waiting longer)";
  };
  // One drain per domain: weaker ones on it (or on a domain inside or around it) end.
  for (const GangKey& key : std::set<GangKey>(draining_)) {
    GangRecord& other = gangs_.at(key);
    if (&other == &g || !Overlap(topo.domain(*other.drain), topo.domain(*domain))) continue;
    give_way(other);
  }
  if (!g.drain && options_.max_drains > 0 &&
      static_cast<int>(draining_.size()) >= options_.max_drains) {
    // At the cap: the weakest drain gives way to a stronger gang, or this gang waits undrained.
    GangRecord* weakest = nullptr;
    for (const GangKey& key : draining_) {
      GangRecord& other = gangs_.at(key);
      if (weakest == nullptr || DrainRank(*weakest) < DrainRank(other)) weakest = &other;
    }
    if (weakest == nullptr || DrainRank(*weakest) < DrainRank(g)) return;
    give_way(*weakest);
  }
  if (g.drain != domain) ++counters_.drains;
  g.drain = *domain;
  draining_.insert(g.key);
  RefreshDrain(g);
}

void GangScheduler::RefreshDrain(GangRecord& g) {
  if (!g.drain) return;
  const std::int64_t need = NeedGpus(SpecOf(g));
  const Plan plan = DrainPlan(state_, g.key, *g.drain, need);
  if (plan.pods.empty()) {
    state_.Release(g.key);
  } else {
    state_.Hold(plan);  // replaces the drain's previous hold
  }
  g.phase = GangPhase::kWaiting;
  g.reason = DescribeDrain(state_.topology(), *g.drain, g.key, plan, need);
}

void GangScheduler::RefreshDrains() {
  for (const GangKey& key : draining_) RefreshDrain(gangs_.at(key));
}

void GangScheduler::EndDrain(GangRecord& g) {
  if (!g.drain) return;
  g.drain.reset();
  draining_.erase(g.key);
  state_.Release(g.key);
}

std::optional<int> GangScheduler::SlotFor(GangRecord& g, const GangMember& m) {
  const Plan* plan = state_.HoldOf(g.key);
  if (!plan) return std::nullopt;
  const std::optional<int> slot = FreeSlot(*plan, g.slot_of, m);
  if (slot) g.slot_of[m.uid] = *slot;
  return slot;
}

void GangScheduler::TakeSlotOn(GangRecord& g, const GangMember& m, const std::string& node) {
  const Plan* plan = state_.HoldOf(g.key);
  if (!plan) return;
  const auto mine = g.slot_of.find(m.uid);
  if (mine != g.slot_of.end() && plan->pods[mine->second].node == node) return;
  std::vector<bool> taken(plan->pods.size(), false);
  for (const auto& [uid, slot] : g.slot_of) taken[slot] = true;
  for (std::size_t i = 0; i < plan->pods.size(); ++i) {
    if (!taken[i] && SlotFits(plan->pods[i], m) && plan->pods[i].node == node) {
      g.slot_of[m.uid] = static_cast<int>(i);
      return;
    }
  }
}

void GangScheduler::ReleaseGang(GangRecord& g, const std::string& reason) {
  // Members already bound keep using their capacity: it moves from the hold to bound usage, and
  // the gang's other members are planned next to them (PlanRemaining).
  const Plan* held = Reserving(g) ? nullptr : state_.HoldOf(g.key);
  const std::optional<Plan> plan = held ? std::optional<Plan>(*held) : std::nullopt;
  state_.Release(g.key);
  if (plan) AccountBound(g, *plan, false);
  if (BoundCount(g) > 0) partly_bound_.insert(g.key);
  g.preemption.reset();
  CloseBarrier(g.key, reason);
  g.slot_of.clear();
  g.phase = GangPhase::kWaiting;
  g.reason = reason;
}

// ---- Verbs --------------------------------------------------------------------------------------

Offer GangScheduler::ResolveOffer(std::vector<std::string> names) const {
  Offer offer;
  offer.names = std::move(names);
  offer.nodes.reserve(offer.names.size());
  offer.position.assign(state_.node_count(), -1);
  const std::vector<std::int64_t> found = state_.FindNodes(offer.names);
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (found[i] < 0) continue;
    const auto n = static_cast<std::size_t>(found[i]);
    offer.nodes.push_back(n);
    if (offer.position[n] < 0) offer.position[n] = static_cast<std::int32_t>(i);
  }
  offer.inventory = inventory_generation_;
  return offer;
}

FilterDecision GangScheduler::Filter(const Pod& pod, const MembershipResult& mr, const Offer& offer,
                                     Millis now) {
  if (offer.inventory != inventory_generation_) {
    return Filter(pod, mr, ResolveOffer(offer.names), now);
  }
  last_now_ = std::max(last_now_, now);
  if (std::string why = UidReused(pod.uid, pod.namespace_name, pod.name); !why.empty()) {
    return FilterDecision{RejectAll{std::move(why)}};
  }
  ForgetPredecessor(pod, mr.membership);
  FilterDecision decision = FilterMember(pod, mr, offer, now);
  // Which members kube-scheduler has parked since their gang's plan (Bind's requeue).
  if (GangRecord* g = gangs_.OfPod(pod.uid)) {
    if (auto m = g->members.find(pod.uid); m != g->members.end()) {
      m->second.rejected_at =
          std::holds_alternative<Narrow>(decision) ? std::nullopt : std::optional<Millis>(now);
    }
    Seen(*g, pod.uid, now, /*listed=*/false);
  }
  return decision;
}

FilterDecision GangScheduler::FilterMember(const Pod& pod, const MembershipResult& mr,
                                           const Offer& offer, Millis now) {
  const std::vector<std::string>& offered = offer.names;
  // Whether a node (by name) is among the offered ones: the planned node is one name, resolved.
  auto is_offered = [&](const std::string& name) {
    const auto n = state_.FindNode(name);
    return n && offer.position[*n] >= 0;
  };
  // One reason for every offered node: api/ writes it once per node, the engine keeps it once.
  auto reject_all = [](std::string reason) { return FilterDecision{RejectAll{std::move(reason)}}; };
  if (!mr.error.empty()) {
    return reject_all("pod " + pod.namespace_name + "/" + pod.name + ": " + mr.error);
  }
  GangRecord& g = gangs_.Record(pod, mr.membership);
  const GangMember member = g.members[pod.uid];

  const std::vector<std::size_t>& offered_idx = offer.nodes;
  if (offered_idx.empty()) {
    return FilterDecision{
        RejectAll{"no offered node is in gangsched's inventory yet (its watch lags); retry", true}};
  }
  if (!SizeKnown(g, options_.require_quorum_pods)) {
    g.phase = GangPhase::kWaiting;
    const GangSource source = *g.PodSource();  // a declared gang's size is known
    const bool job = source == GangSource::kKubeflow || source == GangSource::kKubeflowLegacy;
    g.reason =
        "waiting for the " +
        (job ? std::string("Kubeflow job ") : GangSourceName(source) + std::string(" PodGroup ")) +
        g.key.ToString() + " of pod " + pod.namespace_name + "/" + pod.name +
        ": the gang's size is not known yet";
    return reject_all(g.reason);
  }

  // A victim plan's reservation is no plan to narrow members to (DESIGN.md §3.9).
  const Plan* hold = Reserving(g) ? nullptr : state_.HoldOf(g.key);
  if (!hold && g.phase == GangPhase::kBound) {
    // An elastic extra (or a replacement) of a bound gang: one pod, next to the gang's nodes.
    const std::optional<Plan> extra = PlaceExtra(state_, g, member, offered_idx);
    if (!extra) {
      return reject_all("gang " + g.key.ToString() + " is bound; no offered node fits its extra " +
                        member.role + " pod");
    }
    state_.Hold(*extra);
    barrier_.Open(*extra, holds_.Start(g.key, now));
    g.slot_of.clear();
    hold = state_.HoldOf(g.key);
  }
  if (!hold) {
    if (auto until = holds_.BackoffUntil(g.key, now)) {
      return reject_all("gang " + g.key.ToString() + " backs off for " + Seconds(*until - now) +
                        " after its hold expired" + (g.reason.empty() ? "" : ": " + g.reason));
    }
    // Roles are never guessed: with either state source, a gang is planned only once its quorum
    // of pods is known (DESIGN.md §3.2), in standalone mode from their filter calls.
    if (const int missing = PodsMissing(g); missing > 0) {
      g.phase = GangPhase::kWaiting;
      g.reason = "waiting for " + std::to_string(missing) + " more pods of gang " +
                 g.key.ToString() + " (" + std::to_string(g.members.size()) + " of " +
                 std::to_string(DeclaredQuorum(g)) + " seen)";
      return reject_all(g.reason);
    }
    // A partly bound gang's missing members are planned before room goes to another gang.
    if (!partly_bound_.empty() && !partly_bound_.count(g.key)) ResumePartlyBound(now);
    const GangSpec& spec = SpecOf(g);
    if (std::string overflow = RequestsOverflow(spec); !overflow.empty()) {
      g.phase = GangPhase::kWaiting;
      g.reason = std::move(overflow);
      return reject_all(g.reason);
    }
    // kube-scheduler's own filters decided which nodes this pod may use: a mask for its role. Not
    // its nominated-node probe (one node: the one a preemption freed): planning a gang inside one
    // node would fail, drop its plan and search victims for a gang that fits (DESIGN.md §3.5).
    PlannerOptions po = options_.planner;
    if (offered_idx.size() < state_.node_count() && !NominatedProbe(pod, offered)) {
      po.role_node_mask = RoleMask(spec, member, offer, state_.node_count());
    }
    // The reservation's deadline counts from the plan, not from members' filter calls: members
    // are requeued on every cluster event, and victims that never leave must not pin it.
    if (g.preemption && VictimsLeft(state_, *g.preemption) > 0) {
      return PreemptionDecision(state_, g.key, *g.preemption, SlotFor(g, member), member.role);
    }
    // Victims gone: the gang plans normally; its reservation counts as its own capacity.
    bool waits = false;
    if (!PlanAndHold(g, po, now, g.preemption ? nullptr : &waits)) {
      if (waits) return reject_all(g.reason);
      DropPreemption(g);
      // Victims are planned on the whole inventory: the nodes they occupy are seldom offered
      // (kube-scheduler's own filters found them full).
      if (PlanPreemption(g, now)) {
        return PreemptionDecision(state_, g.key, *g.preemption, SlotFor(g, member), member.role);
      }
      Starve(g, now);
      return reject_all(g.reason);
    }
    hold = state_.HoldOf(g.key);
  }
  // Only a member narrowed to its node is progress (DESIGN.md §3.4): members are retried on every
  // cluster event, so a rejected member's filter extending the hold would pin the gang's capacity
  // for as long as its members keep being rejected (issue 11).
  auto narrow = [&](std::string node) -> FilterDecision {
    if (auto deadline = holds_.Progress(g.key, now)) barrier_.Extend(g.key, *deadline);
    return Narrow{std::move(node)};
  };

  std::optional<int> slot = SlotFor(g, member);
  if (!slot && g.phase == GangPhase::kPlanned && BoundCount(g) == 0 &&
      barrier_.Arrived(g.key) == 0 &&
      std::none_of(hold->pods.begin(), hold->pods.end(),
                   [&](const PodPlacement& p) { return SlotFits(p, member); })) {
    // The plan has no slot this member fits (it came, or changed, after the plan): the whole gang
    // is planned again with it while nothing of it is bound or waits at bind (DESIGN.md §3.2).
    // The new plan is committed only when it has a slot for this member.
    if (auto proposal = ProposePlan(state_, g, options_.planner, options_.max_held_binds)) {
      if (FreeSlot(proposal->plan, proposal->slot_of, member)) {
        CommitPlan(g, std::move(*proposal), now);
        hold = state_.HoldOf(g.key);
        slot = SlotFor(g, member);
      }
    }
  }
  if (!slot) {
    return reject_all("gang " + g.key.ToString() + ": every " + member.role +
                      " slot of its placement is taken by other pods");
  }
  const std::string planned = hold->pods[*slot].node;
  // kube-scheduler's nominated-node probe: answer it, never re-plan on it (DESIGN.md §3.5). The
  // offer is that one node, so rejecting every offered node rejects it alone.
  if (NominatedProbe(pod, offered)) {
    if (planned == offered.front()) return narrow(planned);
    return reject_all("gang " + g.key.ToString() + " planned this pod on node " + planned);
  }
  if (is_offered(planned)) return narrow(planned);
  // The planned node was excluded by kube-scheduler's filters: move this member within the offer.
  if (auto moved = MoveSlot(state_, *hold, *slot, member, offered_idx)) {
    std::string to = moved->pods[*slot].node;
    state_.Hold(*moved);
    barrier_.Open(*moved, holds_.Deadline(g.key).value_or(0));
    return narrow(std::move(to));
  }
  // Else re-plan the whole gang with this role confined to the offered nodes, as long as nothing
  // of it is bound yet (DESIGN.md §3.5).
  // The new plan is only a proposal: it is committed when it answers this member, else discarded
  // whole and the plan the other members were narrowed to stays as it is.
  if (g.phase == GangPhase::kPlanned && BoundCount(g) == 0) {
    PlannerOptions po = options_.planner;
    po.role_node_mask = RoleMask(SpecOf(g), member, offer, state_.node_count());
    if (auto proposal = ProposePlan(state_, g, po, options_.max_held_binds)) {
      const std::optional<int> again = FreeSlot(proposal->plan, proposal->slot_of, member);
      if (again && is_offered(proposal->plan.pods[*again].node)) {
        Narrow to{proposal->plan.pods[*again].node};
        proposal->slot_of[member.uid] = *again;
        CommitPlan(g, std::move(*proposal), now);
        return to;
      }
    }
  }
  return reject_all("gang " + g.key.ToString() + " planned this pod on node " + planned +
                    ", which kube-scheduler's filters excluded, and no offered node fits it");
}

std::vector<OfferScore> GangScheduler::Prioritize(const Pod& pod, const Offer& offer,
                                                  Millis now) const {
  (void)now;
  const std::string* planned = nullptr;
  if (const GangRecord* g = gangs_.OfPod(pod.uid)) {
    const Plan* plan = state_.HoldOf(g->key);
    if (auto slot = g->slot_of.find(pod.uid); plan && slot != g->slot_of.end()) {
      planned = &plan->pods[slot->second].node;
    }
  }
  std::vector<OfferScore> scores;
  if (planned == nullptr) return scores;
  if (offer.inventory == inventory_generation_) {
    if (const auto n = state_.FindNode(*planned); n && offer.position[*n] >= 0) {
      scores.push_back({static_cast<std::size_t>(offer.position[*n]), 10});
    }
    return scores;
  }
  for (std::size_t i = 0; i < offer.names.size(); ++i) {
    if (offer.names[i] == *planned) {
      scores.push_back({i, 10});
      break;  // a name offered twice is scored once, as a resolved offer does
    }
  }
  return scores;
}

std::vector<HostScore> GangScheduler::Prioritize(const Pod& pod,
                                                 const std::vector<std::string>& offered,
                                                 Millis now) const {
  Offer offer;
  offer.names = offered;
  offer.inventory = 0;  // not resolved: matched by name
  std::vector<HostScore> scores;
  scores.reserve(offered.size());
  for (const auto& n : offered) scores.push_back({n, 0});
  for (const OfferScore& s : Prioritize(pod, offer, now)) scores[s.at].score = s.score;
  return scores;
}

std::vector<PreemptCandidate> GangScheduler::Preempt(const Pod& pod, const MembershipResult& mr,
                                                     std::vector<PreemptCandidate> candidates,
                                                     Millis now) {
  if (!UidReused(pod.uid, pod.namespace_name, pod.name).empty()) return {};
  if (!mr.error.empty() || mr.membership.source == GangSource::kSinglePod) {
    return DropGangBreakers(gangs_, std::move(candidates));
  }
  GangRecord& g = gangs_.Record(pod, mr.membership);
  Seen(g, pod.uid, now, /*listed=*/false);
  if (DeclaredQuorum(g) <= 1) return DropGangBreakers(gangs_, std::move(candidates));
  // Per-pod preemption for one member of a gang frees room the gang as a whole may not get:
  // a member is offered only its node of the gang's victim plan (DESIGN.md §3.3, §3.9).
  if (!SizeKnown(g, options_.require_quorum_pods) || holds_.BackoffUntil(g.key, now)) return {};
  if (PodsMissing(g) > 0) return {};
  if (!g.preemption) {
    if (state_.HoldOf(g.key) && !g.drain) return {};  // planned: fits without evicting anyone
    // kube-scheduler's own filters found no room, so the extender's filter was not asked
    // (reference/extender-protocol.md §2.3): plan here. A gang that fits needs no victims.
    if (PlanAndHold(g, options_.planner, now) || !PlanPreemption(g, now)) return {};
  }
  const GangMember& member = g.members[pod.uid];
  const std::optional<int> slot = SlotFor(g, member);
  if (!slot) return {};
  const std::string& node = g.preemption->plan.pods[*slot].node;
  PreemptCandidate answer{node, VictimsOn(state_, *g.preemption, node), 0};
  // A node without victims is no candidate: kube-scheduler refuses a candidate with zero victims
  // (reference/extender-protocol.md §2.6); such a member waits for the others' victims instead.
  if (answer.victim_uids.empty()) return {};
  // The planned node is answered even when kube-scheduler's dry run did not list it (it samples
  // candidates, and its reprieve logic knows nothing of gangs): the reply may name any node of
  // its snapshot whose pods it lists (§2.6).
  for (const PreemptCandidate& c : candidates) {
    if (c.node == node) answer.pdb_violations = c.pdb_violations;
  }
  return {std::move(answer)};
}

}  // namespace gangsched::scheduler
