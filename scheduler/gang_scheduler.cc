#include "scheduler/gang_scheduler.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace gangsched::scheduler {

namespace {

std::string Seconds(Millis ms) {
  const Millis tenths = (ms + 50) / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s";
}

std::string RoleOf(const GangMembership& m) { return m.role.empty() ? "member" : m.role; }

// GPUs of the pods the planner places for a gang (its quorum).
std::int64_t NeedGpus(const GangSpec& spec) {
  std::int64_t gpus = 0;
  for (const auto& [role, index] : spec.QuorumMembers()) gpus += spec.roles[role].per_pod.gpus;
  return gpus;
}

bool Overlap(const topology::Domain& a, const topology::Domain& b) {
  return a.first_node < b.end_node && b.first_node < a.end_node;
}

// The drain reservation of `gang` in `domain`: the domain's free GPUs, counting the gang's own hold
// as free, fullest-free nodes first so the reservation gathers into whole nodes, up to `need`; the
// rest stays free for other pods.
Plan DrainPlan(const ClusterState& state, const GangKey& gang, int domain, std::int64_t need) {
  const topology::ClusterTopology& topo = state.topology();
  const topology::Domain& d = topo.domain(domain);
  std::map<std::size_t, std::pair<std::int64_t, std::uint64_t>> own;  // node -> (GPUs, mask)
  if (const Plan* held = state.HoldOf(gang)) {
    for (const PodPlacement& p : held->pods) {
      const auto n = state.FindNode(p.node);
      if (!n) continue;
      own[*n].first += p.requests.gpus;
      for (int gpu : p.gpu_ids) own[*n].second |= std::uint64_t{1} << gpu;
    }
  }
  auto free_gpus = [&](std::size_t n) {
    const auto it = own.find(n);
    return state.Free(n).gpus + (it == own.end() ? 0 : it->second.first);
  };
  auto free_mask = [&](std::size_t n) {
    const auto it = own.find(n);
    return state.FreeGpuMask(n) | (it == own.end() ? 0 : it->second.second);
  };
  std::vector<std::pair<std::int64_t, int>> free;  // (-free GPUs, tree position)
  for (int p = d.first_node; p < d.end_node; ++p) {
    const auto n = static_cast<std::size_t>(topo.NodeAt(p));
    if (state.node(n).unschedulable) continue;
    if (const std::int64_t f = free_gpus(n); f > 0) free.emplace_back(-f, p);
  }
  std::sort(free.begin(), free.end());
  Plan plan;
  plan.gang = gang;
  plan.span_level = topo.level_count() - d.level;
  plan.span_domain = d.name;
  std::int64_t reserved = 0;
  for (const auto& [minus_free, p] : free) {
    if (reserved >= need) break;
    const auto n = static_cast<std::size_t>(topo.NodeAt(p));
    PodPlacement hold;
    hold.role_name = "drain";
    hold.node = state.node(n).name;
    hold.requests.gpus = std::min(-minus_free, need - reserved);
    const std::uint64_t mask = free_mask(n);
    for (int gpu = 0; gpu < 64 && std::ssize(hold.gpu_ids) < hold.requests.gpus; ++gpu) {
      if (mask & (std::uint64_t{1} << gpu)) hold.gpu_ids.push_back(gpu);
    }
    reserved += hold.requests.gpus;
    plan.pods.push_back(std::move(hold));
  }
  plan.nodes_used = static_cast<int>(plan.pods.size());
  return plan;
}

}  // namespace

const char* GangPhaseName(GangPhase phase) {
  switch (phase) {
    case GangPhase::kWaiting:
      return "Waiting";
    case GangPhase::kPlanned:
      return "Planned";
    case GangPhase::kBinding:
      return "Binding";
    case GangPhase::kBound:
      return "Bound";
  }
  return "Unknown";
}

GangScheduler::GangScheduler(ClusterState state, EngineOptions options)
    : state_(std::move(state)), options_(std::move(options)), holds_(options_.holds) {}

// ---- State sources
// -------------------------------------------------------------------------------

tl::expected<void, std::string> GangScheduler::ReplaceNodes(std::vector<Node> nodes) {
  StateOptions state_options;
  state_options = options_.state;
  auto next = ClusterState::Create(std::move(nodes), state_options);
  if (!next) return tl::unexpected(next.error());
  // Carry bound pods over; holds whose nodes all still exist are kept, the others re-planned later.
  for (const auto& [uid, bound] : state_.bound_pods()) {
    (void)bound;
    next->AddPod(*state_.PodOf(uid));
  }
  std::vector<GangKey> dropped;
  for (const auto& [key, plan] : state_.holds()) {
    const bool all_there = std::all_of(plan.pods.begin(), plan.pods.end(), [&](const auto& p) {
      return next->FindNode(p.node).has_value();
    });
    if (all_there) {
      next->Hold(plan);
    } else {
      dropped.push_back(key);
    }
  }
  state_ = std::move(*next);
  ++inventory_generation_;
  // Domains are numbered anew: drains end and start again on the gang's next filter call.
  for (const GangKey& key : std::set<GangKey>(draining_)) EndDrain(gangs_.at(key));
  for (const auto& key : dropped) {
    auto it = gangs_.find(key);
    if (it != gangs_.end()) ReleaseGang(it->second, "a planned node left the cluster; re-planning");
  }
  return {};
}

void GangScheduler::UpsertRoster(const GangSpec& spec) {
  GangRecord& g = gangs_[spec.key];
  g.key = spec.key;
  g.kind = spec.kind;
  g.roster = spec;
  g.priority = spec.priority;
  g.spec.reset();
}

void GangScheduler::RemoveRoster(const GangKey& key) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return;
  it->second.roster.reset();
  it->second.spec.reset();
  if (it->second.members.empty()) Forget(key);
}

GangScheduler::GangRecord& GangScheduler::Record(const Pod& pod, const GangMembership& m) {
  GangRecord& g = gangs_[m.key];
  g.key = m.key;
  // What SpecOf reads; its cache stays valid while none of it changes (the common case: the same
  // pending pod filtered again).
  if (g.kind.empty()) {
    g.kind = GangSourceName(m.source);
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
  Member& member = it->second;
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

void GangScheduler::UpsertPod(const Pod& pod) {
  const MembershipResult mr = IdentifyGang(pod);
  const bool single = mr.membership.source == GangSource::kSinglePod;
  if (pod.HoldsCapacity()) {
    auto known = gang_of_uid_.find(pod.uid);
    if (known != gang_of_uid_.end()) {
      auto g = gangs_.find(known->second);
      if (g != gangs_.end() && g->second.slot_of.count(pod.uid) && state_.HoldOf(g->first) &&
          !Reserving(g->second)) {
        // Its capacity is in the gang's hold until the gang is complete.
        g->second.members[pod.uid].bound = true;
        g->second.members[pod.uid].node = pod.node_name;
        return;
      }
    }
    state_.AddPod(pod);
    if (single) return;  // running non-gang pods need no record
    GangRecord& g = Record(pod, mr.membership);
    g.members[pod.uid].bound = true;
    g.members[pod.uid].node = pod.node_name;
    if (g.phase == GangPhase::kWaiting && BoundCount(g) >= SpecOf(g).EffectiveQuorum()) {
      g.phase = GangPhase::kBound;  // e.g. found running after a restart
      g.reason.clear();
    }
    return;
  }
  if (state_.RemovePod(pod.uid)) RefreshDrains();  // e.g. it finished
  if (pod.phase == PodPhase::kSucceeded || pod.phase == PodPhase::kFailed) {
    RemovePod(pod.uid);
    return;
  }
  if (!single) Record(pod, mr.membership);
}

std::optional<BarrierDecision> GangScheduler::RemovePod(const std::string& uid) {
  const bool freed = state_.RemovePod(uid);
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end()) {
    if (freed) RefreshDrains();
    return std::nullopt;
  }
  const GangKey key = known->second;
  gang_of_uid_.erase(known);
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  GangRecord& g = it->second;
  std::optional<BarrierDecision> decision = barrier_.Withdraw(key, uid);
  if (decision) NameOrders(*decision);
  g.members.erase(uid);
  g.slot_of.erase(uid);
  g.spec.reset();
  if (g.members.empty() && !g.roster) {
    if (state_.HoldOf(key)) ReleaseGang(g, "every member was deleted");
    Forget(key);
  }
  RefreshDrains();  // what the pod freed in a drained domain is kept there
  return decision;
}

void GangScheduler::Forget(const GangKey& key) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return;
  for (const auto& [uid, member] : it->second.members) gang_of_uid_.erase(uid);
  barrier_.Close(key, "gang forgotten");
  holds_.Finish(key);
  state_.Release(key);
  draining_.erase(key);
  gangs_.erase(it);
}

// ---- Gang shape
// ------------------------------------------------------------------------------------

const GangSpec& GangScheduler::SpecOf(const GangRecord& g) const {
  if (g.spec) return *g.spec;
  if (g.roster) {
    GangSpec spec = *g.roster;
    spec.priority = std::max(spec.priority, g.priority);
    return g.spec.emplace(std::move(spec));
  }
  // From the pods seen: one role per role name, in order of first appearance by name.
  GangSpec spec;
  spec.key = g.key;
  spec.kind = g.kind;
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

int GangScheduler::BoundCount(const GangRecord& g) const {
  return static_cast<int>(std::count_if(g.members.begin(), g.members.end(),
                                        [](const auto& kv) { return kv.second.bound; }));
}

// ---- Planning
// ----------------------------------------------------------------------------------------

bool GangScheduler::SizeKnown(const GangRecord& g) const {
  if (g.roster || g.min_members || !options_.require_quorum_pods) return true;
  for (GangSource s : {GangSource::kCoscheduling, GangSource::kVolcano, GangSource::kNative,
                       GangSource::kKubeflow, GangSource::kKubeflowLegacy}) {
    if (g.kind == GangSourceName(s)) return false;
  }
  return true;
}

PlanResult GangScheduler::PlanRemaining(const GangRecord& g, const GangSpec& spec,
                                        const PlannerOptions& options,
                                        const ClusterState& state) const {
  // A gang with bound members (found so after a restart, or left so by a failed Binding) plans
  // only its other members, in the narrowest domain around the bound ones that fits them
  // (DESIGN.md §3 "Recover"). A gang with nothing bound is planned whole.
  GangSpec rest = spec;
  std::vector<std::size_t> bound_nodes;
  int bound = 0;
  for (const auto& [uid, m] : g.members) {
    if (!m.bound) continue;
    ++bound;
    if (auto n = state.FindNode(m.node)) bound_nodes.push_back(*n);
    for (RoleSpec& r : rest.roles) {
      if (r.name != m.role || r.replicas <= 0) continue;
      --r.replicas;
      r.min_members = std::max(r.min_members - 1, 0);
      break;
    }
  }
  if (bound == 0) return Planner(options).PlanGang(state, spec);
  if (rest.TotalReplicas() == 0) {
    return Unplaceable{"every member of gang " + g.key.ToString() + " is bound", false};
  }
  rest.quorum = std::max(spec.EffectiveQuorum() - bound, 1);
  const topology::ClusterTopology& topo = state.topology();
  auto covers = [&](int domain) {
    const topology::Domain& d = topo.domain(domain);
    return std::all_of(bound_nodes.begin(), bound_nodes.end(), [&](std::size_t n) {
      const int p = topo.TreePosition(static_cast<int>(n));
      return p >= d.first_node && p < d.end_node;
    });
  };
  int domain = bound_nodes.empty() ? 0 : topo.LeafDomainOf(static_cast<int>(bound_nodes.front()));
  while (domain > 0 && !covers(domain)) domain = topo.domain(domain).parent;
  PlanResult result = Unplaceable{};
  for (; domain >= 0; domain = topo.domain(domain).parent) {
    PlannerOptions confined = options;
    if (domain > 0) {
      const topology::Domain& d = topo.domain(domain);
      std::vector<bool> inside(state.node_count(), false);
      for (int p = d.first_node; p < d.end_node; ++p) inside[topo.NodeAt(p)] = true;
      confined.role_node_mask.resize(rest.roles.size());
      for (std::vector<bool>& mask : confined.role_node_mask) {
        if (mask.empty()) {
          mask = inside;
        } else {
          for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = mask[i] && inside[i];
        }
      }
    }
    result = Planner(confined).PlanGang(state, rest);
    if (std::holds_alternative<Plan>(result)) return result;
  }
  return result;
}

tl::expected<GangScheduler::PlanProposal, std::string> GangScheduler::ProposePlan(
    const GangRecord& g, const PlannerOptions& options) const {
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() > options_.max_held_binds) {
    return tl::unexpected(
        "gang " + g.key.ToString() + " needs " + std::to_string(spec.EffectiveQuorum()) +
        " binds held at once; the bind pool allows " + std::to_string(options_.max_held_binds));
  }
  PlanResult result = PlanRemaining(g, spec, options, state_);
  if (auto* no = std::get_if<Unplaceable>(&result)) return tl::unexpected(std::move(no->reason));
  PlanProposal proposal;
  proposal.plan = std::move(std::get<Plan>(result));
  const Plan& plan = proposal.plan;
  // A gang whose victims left: its members keep the nodes the victim plan reserved for them
  // (kube-scheduler nominated them there) when the new plan has them.
  const Plan* reserved = g.preemption ? state_.HoldOf(g.key) : nullptr;
  // Keep each member's slot when the new plan still has its role on its node.
  std::vector<bool> taken(plan.pods.size(), false);
  for (const auto& [uid, slot] : g.slot_of) {
    const auto member = g.members.find(uid);
    if (member == g.members.end()) continue;
    const Member& m = member->second;
    std::string node = m.node;
    if (node.empty() && reserved && slot < static_cast<int>(reserved->pods.size())) {
      node = reserved->pods[slot].node;
    }
    for (std::size_t i = 0; i < plan.pods.size(); ++i) {
      if (!taken[i] && plan.pods[i].role_name == m.role && plan.pods[i].node == node) {
        taken[i] = true;
        proposal.slot_of[uid] = static_cast<int>(i);
        break;
      }
    }
  }
  return proposal;
}

void GangScheduler::CommitPlan(GangRecord& g, PlanProposal proposal, Millis now) {
  g.preemption.reset();
  g.drain.reset();  // the plan replaces the drain's hold
  draining_.erase(g.key);
  g.waiting_since.reset();
  state_.Hold(proposal.plan);
  const Millis deadline = holds_.Start(g.key, now);
  barrier_.Open(proposal.plan, deadline);
  g.phase = GangPhase::kPlanned;
  g.reason.clear();
  g.slot_of = std::move(proposal.slot_of);
}

bool GangScheduler::PlanAndHold(GangRecord& g, const PlannerOptions& options, Millis now) {
  auto proposal = ProposePlan(g, options);
  if (!proposal) {
    g.phase = GangPhase::kWaiting;
    g.reason = std::move(proposal.error());
    return false;
  }
  CommitPlan(g, std::move(*proposal), now);
  return true;
}

// ---- Preemption (DESIGN.md §3.9)
// ----------------------------------------------------------------

std::vector<VictimUnit> GangScheduler::VictimUnits(std::int32_t priority,
                                                   const GangKey& self) const {
  std::vector<VictimUnit> units;
  std::map<GangKey, std::size_t> unit_of_gang;
  for (const auto& [uid, bound] : state_.bound_pods()) {
    const GangRecord* gang = nullptr;
    if (auto known = gang_of_uid_.find(uid); known != gang_of_uid_.end()) {
      if (auto it = gangs_.find(known->second); it != gangs_.end()) gang = &it->second;
    }
    if (gang != nullptr && gang->kind != GangSourceName(GangSource::kSinglePod)) {
      // A gang goes whole or not at all, at the priority of its highest member.
      if (gang->key == self || SpecOf(*gang).priority >= priority) continue;
      auto [at, fresh] = unit_of_gang.try_emplace(gang->key, units.size());
      if (fresh)
        units.push_back({"gang " + gang->key.ToString(), {}, SpecOf(*gang).priority, true});
      units[at->second].uids.push_back(uid);
      continue;
    }
    if (bound.priority >= priority) continue;
    units.push_back(
        {"pod " + bound.namespace_name + "/" + bound.name, {uid}, bound.priority, false});
  }
  return units;
}

bool GangScheduler::PlanPreemption(GangRecord& g, Millis now) {
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() <= 1) return false;  // a lone pod: kube-scheduler's own preemption
  if (!state_.AnyPodBelow(spec.priority)) return false;
  std::vector<VictimUnit> units = VictimUnits(spec.priority, g.key);
  if (units.empty()) return false;
  auto plan_on = [&](const ClusterState& state) {
    return PlanRemaining(g, spec, options_.planner, state);
  };
  std::optional<VictimPlan> victims = ChooseVictims(state_, g.key, std::move(units), plan_on);
  if (!victims) return false;
  // The reservation: the plan held like a plan, on capacity the victims still use, so what they
  // free goes to this gang only; it expires and backs off like a hold.
  state_.Hold(victims->plan);  // replaces a drain's hold
  g.drain.reset();
  draining_.erase(g.key);
  holds_.Start(g.key, now);
  g.slot_of.clear();
  g.phase = GangPhase::kWaiting;
  std::vector<std::string> names;
  for (const VictimUnit& u : victims->units) names.push_back(u.name);
  std::string nodes;
  for (const auto& [node, uids] : victims->victims_by_node) {
    nodes += (nodes.empty() ? "" : ", ") + node;
  }
  g.reason = "gang " + g.key.ToString() + " preempts " + DescribeVictims(victims->pods, names) +
             " holding " + std::to_string(victims->gpus) + " GPUs on node" +
             (victims->victims_by_node.size() == 1 ? " " : "s ") + nodes + "; its placement (" +
             DescribePlan(victims->plan, state_.topology().level_names()) +
             ") is reserved until they leave";
  g.preemption = std::move(victims);
  return true;
}

void GangScheduler::DropPreemption(GangRecord& g) {
  if (!g.preemption) return;
  g.preemption.reset();
  state_.Release(g.key);
  holds_.Finish(g.key);
  g.slot_of.clear();
}

std::vector<std::string> GangScheduler::VictimsOn(const GangRecord& g,
                                                  const std::string& node) const {
  std::vector<std::string> left;
  if (!g.preemption) return left;
  auto it = g.preemption->victims_by_node.find(node);
  if (it == g.preemption->victims_by_node.end()) return left;
  for (const std::string& uid : it->second) {
    if (state_.bound_pods().count(uid)) left.push_back(uid);
  }
  return left;
}

int GangScheduler::VictimsLeft(const GangRecord& g) const {
  int left = 0;
  if (!g.preemption) return left;
  for (const auto& [node, uids] : g.preemption->victims_by_node) {
    left += static_cast<int>(VictimsOn(g, node).size());
  }
  return left;
}

FilterAnswer GangScheduler::PreemptionAnswer(GangRecord& g, const Member& m, const Offer& offer) {
  FilterAnswer answer;
  const std::string gang = "gang " + g.key.ToString();
  const std::optional<int> slot = SlotFor(g, m);
  if (!slot) {
    for (const auto& n : offer.names) {
      answer.unresolvable[n] =
          gang + ": every " + m.role + " slot of its preemption plan is taken by other pods";
    }
    return answer;
  }
  const std::string& node = g.preemption->plan.pods[*slot].node;
  const std::vector<std::string> here = VictimsOn(g, node);
  std::vector<std::string> names;
  for (const VictimUnit& u : g.preemption->units) {
    const bool on_node = std::any_of(u.uids.begin(), u.uids.end(), [&](const std::string& uid) {
      return std::find(here.begin(), here.end(), uid) != here.end();
    });
    if (on_node) names.push_back(u.name);
  }
  // Only the planned node is a preemption candidate (FailedNodes); every other offered node stays
  // unresolvable so kube-scheduler's per-pod preemption looks nowhere else (DESIGN.md §3.3). A
  // member whose node needs no eviction gets no candidate: its node is reserved while the other
  // members' victims leave.
  const std::string elsewhere =
      here.empty() ? gang + ": node " + node + " is reserved for this pod while " +
                         std::to_string(VictimsLeft(g)) +
                         " lower-priority pods preempted for the gang leave its other nodes"
                   : gang + " planned this pod on node " + node + " after preemption";
  for (const auto& n : offer.names) {
    if (n == node && !here.empty()) {
      answer.failed[n] = gang + " needs this node after preempting " +
                         DescribeVictims(static_cast<int>(here.size()), names);
    } else {
      answer.unresolvable[n] = elsewhere;
    }
  }
  return answer;
}

// ---- Drain reservations (DESIGN.md §3.9)
// ------------------------------------------------------

void GangScheduler::Starve(GangRecord& g, Millis now) {
  if (!g.waiting_since) g.waiting_since = now;
  if (options_.drain_after <= 0 || now - *g.waiting_since < options_.drain_after) return;
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() <= 1 || NeedGpus(spec) == 0) return;
  const std::optional<int> domain = DrainDomain(g);
  if (!domain) {
    EndDrain(g);
    return;
  }
  const topology::ClusterTopology& topo = state_.topology();
  // One drain per domain: weaker ones on it (or on a domain inside or around it) end.
  for (const GangKey& key : std::set<GangKey>(draining_)) {
    GangRecord& other = gangs_.at(key);
    if (&other == &g || !Overlap(topo.domain(*other.drain), topo.domain(*domain))) continue;
    EndDrain(other);
    other.reason = "gang " + key.ToString() + " waits: its drain reservation went to gang " +
                   g.key.ToString() + " (higher priority or waiting longer)";
  }
  g.drain = *domain;
  draining_.insert(g.key);
  RefreshDrain(g);
}

std::optional<int> GangScheduler::DrainDomain(const GangRecord& g) const {
  const topology::ClusterTopology& topo = state_.topology();
  const GangSpec& spec = SpecOf(g);
  const std::int64_t need = NeedGpus(spec);
  // Per node: the GPUs the gang may ever use there, and those free or freeable now (free, its own
  // reservation, and pods of lower priority).
  std::vector<std::int64_t> capacity(state_.node_count(), 0);
  std::vector<std::int64_t> soon(state_.node_count(), 0);
  for (std::size_t n = 0; n < state_.node_count(); ++n) {
    const Node& node = state_.node(n);
    const bool eligible =
        !node.unschedulable && std::any_of(spec.roles.begin(), spec.roles.end(), [&](auto& r) {
          return r.per_pod.gpus > 0 && ToleratesAll(node.taints, r.tolerations) &&
                 MatchesSelector(node.labels, r.node_selector);
        });
    if (!eligible) continue;
    capacity[n] = node.allocatable.gpus;
    soon[n] = std::max<std::int64_t>(0, state_.Free(n).gpus);
  }
  if (const Plan* own = g.drain ? state_.HoldOf(g.key) : nullptr) {
    for (const PodPlacement& p : own->pods) {
      if (auto n = state_.FindNode(p.node)) soon[*n] += p.requests.gpus;
    }
  }
  const bool freeable = state_.AnyPodBelow(spec.priority);
  for (const auto& [uid, bound] : state_.bound_pods()) {
    if (!freeable) break;
    if (bound.priority < spec.priority && capacity[bound.node] > 0) {
      soon[bound.node] += bound.requests.gpus;
    }
  }
  const auto outranked = [&](const topology::Domain& d) {
    return std::any_of(draining_.begin(), draining_.end(), [&](const GangKey& key) {
      const GangRecord& other = gangs_.at(key);
      if (&other == &g || !Overlap(topo.domain(*other.drain), d)) return false;
      const GangSpec& o = SpecOf(other);
      return std::make_tuple(-o.priority, other.waiting_since.value_or(0), other.key) <
             std::make_tuple(-spec.priority, g.waiting_since.value_or(0), g.key);
    });
  };
  // The planner's objective: the narrowest level whose domains can hold the gang at all; there the
  // domain where it would fit soonest, with the most GPUs free and freeable.
  for (int level = topo.level_count() - 1; level >= 0; --level) {
    std::optional<int> best;
    std::int64_t best_soon = -1;
    for (const topology::Domain& d : topo.domains()) {
      if (d.level != level) continue;
      std::int64_t cap = 0;
      std::int64_t free = 0;
      for (int p = d.first_node; p < d.end_node; ++p) {
        cap += capacity[topo.NodeAt(p)];
        free += soon[topo.NodeAt(p)];
      }
      if (cap < need || free <= best_soon || outranked(d)) continue;
      best = d.id;
      best_soon = free;
    }
    if (best) return best;
  }
  return std::nullopt;
}

void GangScheduler::RefreshDrain(GangRecord& g) {
  if (!g.drain) return;
  const topology::ClusterTopology& topo = state_.topology();
  const topology::Domain& d = topo.domain(*g.drain);
  const std::int64_t need = NeedGpus(SpecOf(g));
  const Plan plan = DrainPlan(state_, g.key, *g.drain, need);
  std::int64_t reserved = 0;
  for (const PodPlacement& p : plan.pods) reserved += p.requests.gpus;
  if (plan.pods.empty()) {
    state_.Release(g.key);
  } else {
    state_.Hold(plan);  // replaces the drain's previous hold
  }
  g.phase = GangPhase::kWaiting;
  g.reason = "draining " + topo.level_names()[d.level] + " " + d.name + " for gang " +
             g.key.ToString() + ": " + std::to_string(reserved) + " of " + std::to_string(need) +
             " GPUs free";
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

std::vector<std::vector<bool>> GangScheduler::RoleMask(const GangSpec& spec,
                                                       const std::string& role,
                                                       const Offer& offer) const {
  std::vector<std::vector<bool>> mask(spec.roles.size());
  for (std::size_t r = 0; r < spec.roles.size(); ++r) {
    if (spec.roles[r].name != role) continue;
    mask[r].assign(state_.node_count(), false);
    for (std::size_t n : offer.nodes) mask[r][n] = true;
  }
  return mask;
}

std::optional<int> GangScheduler::FreeSlot(const Plan& plan,
                                           const std::map<std::string, int>& slot_of,
                                           const Member& m) {
  if (auto it = slot_of.find(m.uid); it != slot_of.end()) return it->second;
  std::vector<bool> taken(plan.pods.size(), false);
  for (const auto& [uid, slot] : slot_of) taken[slot] = true;
  int pick = -1;
  for (std::size_t i = 0; i < plan.pods.size(); ++i) {
    if (taken[i] || plan.pods[i].role_name != m.role) continue;
    if (pick < 0) pick = static_cast<int>(i);
    if (m.index && plan.pods[i].index == *m.index) {  // its own replica index, when free
      pick = static_cast<int>(i);
      break;
    }
  }
  if (pick < 0) return std::nullopt;
  return pick;
}

std::optional<int> GangScheduler::SlotFor(GangRecord& g, const Member& m) {
  const Plan* plan = state_.HoldOf(g.key);
  if (!plan) return std::nullopt;
  const std::optional<int> slot = FreeSlot(*plan, g.slot_of, m);
  if (slot) g.slot_of[m.uid] = *slot;
  return slot;
}

std::optional<std::size_t> GangScheduler::ChooseNear(const Resources& req, const Member& m,
                                                     const std::vector<std::size_t>& offered,
                                                     const std::vector<int>& near) const {
  const auto& topo = state_.topology();
  std::optional<std::size_t> best;
  std::tuple<std::int64_t, std::int64_t> best_key{};
  for (std::size_t n : offered) {
    const Node& node = state_.node(n);
    if (node.unschedulable || !ToleratesAll(node.taints, m.tolerations) ||
        !MatchesSelector(node.labels, m.node_selector)) {
      continue;
    }
    const Resources free = state_.Free(n);
    if (!free.Fits(req)) continue;
    std::int64_t distance = 0;
    for (int other : near) distance += topo.Distance(static_cast<int>(n), other);
    const std::tuple<std::int64_t, std::int64_t> key{distance,
                                                     free.gpus};  // closest, then best fit
    if (!best || key < best_key) {
      best = n;
      best_key = key;
    }
  }
  return best;
}

bool GangScheduler::Assign(PodPlacement& p, std::size_t node) const {
  std::vector<int> ids;
  if (p.requests.gpus > 0) {
    ids = state_.gpu_topology(node).BestSet(state_.FreeGpuMask(node),
                                            static_cast<int>(p.requests.gpus));
    if (ids.empty()) return false;
  }
  p.node = state_.node(node).name;
  p.domains = state_.topology().PathNames(static_cast<int>(node));
  p.gpu_ids = std::move(ids);
  return true;
}

std::optional<std::string> GangScheduler::MoveSlot(GangRecord& g, int slot, const Member& m,
                                                   const std::vector<std::size_t>& offered) {
  const Plan* held = state_.HoldOf(g.key);
  if (!held) return std::nullopt;
  Plan plan = *held;
  std::vector<int> near;
  for (std::size_t i = 0; i < plan.pods.size(); ++i) {
    if (static_cast<int>(i) == slot) continue;
    if (auto n = state_.FindNode(plan.pods[i].node)) near.push_back(static_cast<int>(*n));
  }
  PodPlacement& p = plan.pods[slot];
  const auto node = ChooseNear(p.requests, m, offered, near);
  if (!node || !Assign(p, *node)) return std::nullopt;
  state_.Hold(plan);
  barrier_.Open(plan, holds_.Deadline(g.key).value_or(0));
  return p.node;
}

bool GangScheduler::PlaceExtra(GangRecord& g, const Member& m,
                               const std::vector<std::size_t>& offered, Millis now) {
  std::vector<int> near;
  for (const auto& [uid, other] : g.members) {
    if (!other.bound) continue;
    if (auto n = state_.FindNode(other.node)) near.push_back(static_cast<int>(*n));
  }
  Plan plan;
  plan.gang = g.key;
  PodPlacement p;
  p.role_name = m.role;
  p.index = m.index.value_or(0);
  p.requests = m.requests;
  const auto node = ChooseNear(p.requests, m, offered, near);
  if (!node || !Assign(p, *node)) return false;
  plan.pods.push_back(std::move(p));
  plan.nodes_used = 1;
  state_.Hold(plan);
  barrier_.Open(plan, holds_.Start(g.key, now));
  g.slot_of.clear();
  return true;
}

void GangScheduler::ReleaseGang(GangRecord& g, const std::string& reason) {
  state_.Release(g.key);
  g.preemption.reset();
  barrier_.Close(g.key, reason);
  g.slot_of.clear();
  g.phase = GangPhase::kWaiting;
  g.reason = reason;
}

// ---- Verbs
// -----------------------------------------------------------------------------------------

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

namespace {
// kube-scheduler first filters a pod with status.nominatedNodeName on that one node alone.
bool NominatedProbe(const Pod& pod, const std::vector<std::string>& offered) {
  return offered.size() == 1 && !pod.nominated_node_name.empty() &&
         offered.front() == pod.nominated_node_name;
}
}  // namespace

FilterAnswer GangScheduler::Filter(const Pod& pod, const Offer& offer, Millis now) {
  if (offer.inventory != inventory_generation_) return Filter(pod, ResolveOffer(offer.names), now);
  const std::vector<std::string>& offered = offer.names;
  // Whether a node (by name) is among the offered ones: the planned node is one name, resolved.
  auto is_offered = [&](const std::string& name) {
    const auto n = state_.FindNode(name);
    return n && offer.position[*n] >= 0;
  };
  FilterAnswer answer;
  auto reject_all = [&](const std::string& reason) {
    for (const auto& n : offered) answer.unresolvable[n] = reason;
    return answer;
  };
  const MembershipResult mr = IdentifyGang(pod);
  if (!mr.error.empty()) {
    return reject_all("pod " + pod.namespace_name + "/" + pod.name + ": " + mr.error);
  }
  GangRecord& g = Record(pod, mr.membership);
  const Member member = g.members[pod.uid];

  const std::vector<std::size_t>& offered_idx = offer.nodes;
  if (offered_idx.empty()) return reject_all("node not in gangsched's inventory");
  if (!SizeKnown(g)) {
    g.phase = GangPhase::kWaiting;
    const bool job = g.kind.rfind("kubeflow", 0) == 0;
    g.reason = "waiting for the " + std::string(job ? "Kubeflow job " : g.kind + " PodGroup ") +
               g.key.ToString() + " of pod " + pod.namespace_name + "/" + pod.name +
               ": the gang's size is not known yet";
    return reject_all(g.reason);
  }

  // A victim plan's reservation is no plan to narrow members to (DESIGN.md §3.9).
  const Plan* hold = Reserving(g) ? nullptr : state_.HoldOf(g.key);
  if (!hold && g.phase == GangPhase::kBound) {
    // An elastic extra (or a replacement) of a bound gang: one pod, next to the gang's nodes.
    if (!PlaceExtra(g, member, offered_idx, now)) {
      return reject_all("gang " + g.key.ToString() + " is bound; no offered node fits its extra " +
                        member.role + " pod");
    }
    hold = state_.HoldOf(g.key);
  }
  if (!hold) {
    if (auto until = holds_.BackoffUntil(g.key, now)) {
      return reject_all("gang " + g.key.ToString() + " backs off for " + Seconds(*until - now) +
                        " after its hold expired" + (g.reason.empty() ? "" : ": " + g.reason));
    }
    const GangSpec& spec = SpecOf(g);
    if (options_.require_quorum_pods &&
        static_cast<int>(g.members.size()) < spec.EffectiveQuorum()) {
      g.phase = GangPhase::kWaiting;
      g.reason = "waiting for " +
                 std::to_string(spec.EffectiveQuorum() - static_cast<int>(g.members.size())) +
                 " more pods of gang " + g.key.ToString();
      return reject_all(g.reason);
    }
    // kube-scheduler's own filters decided which nodes this pod may use: a mask for its role. Not
    // its nominated-node probe (one node: the one a preemption freed): planning a gang inside one
    // node would fail, drop its plan and search victims for a gang that fits (DESIGN.md §3.5).
    PlannerOptions po = options_.planner;
    if (offered_idx.size() < state_.node_count() && !NominatedProbe(pod, offered)) {
      po.role_node_mask = RoleMask(spec, member.role, offer);
    }
    // The reservation's deadline counts from the plan, not from members' filter calls: members
    // are requeued on every cluster event, and victims that never leave must not pin it.
    if (g.preemption && VictimsLeft(g) > 0) return PreemptionAnswer(g, member, offer);
    // Victims gone: the gang plans normally; its reservation counts as its own capacity.
    if (!PlanAndHold(g, po, now)) {
      DropPreemption(g);
      // Victims are planned on the whole inventory: the nodes they occupy are seldom offered
      // (kube-scheduler's own filters found them full).
      if (PlanPreemption(g, now)) return PreemptionAnswer(g, member, offer);
      Starve(g, now);
      return reject_all(g.reason);
    }
    hold = state_.HoldOf(g.key);
  }
  if (auto deadline = holds_.Progress(g.key, now)) barrier_.Extend(g.key, *deadline);

  const std::optional<int> slot = SlotFor(g, member);
  if (!slot) {
    return reject_all("gang " + g.key.ToString() + ": every " + member.role +
                      " slot of its placement is taken by other pods");
  }
  const std::string planned = hold->pods[*slot].node;
  // kube-scheduler's nominated-node probe: answer it, never re-plan on it (DESIGN.md §3.5).
  if (NominatedProbe(pod, offered)) {
    if (planned == offered.front()) {
      answer.feasible.push_back(planned);
    } else {
      answer.unresolvable[offered.front()] =
          "gang " + g.key.ToString() + " planned this pod on node " + planned;
    }
    return answer;
  }
  if (is_offered(planned)) {
    answer.feasible.push_back(planned);
    return answer;
  }
  // The planned node was excluded by kube-scheduler's filters: move this member within the offer.
  if (auto moved = MoveSlot(g, *slot, member, offered_idx)) {
    answer.feasible.push_back(*moved);
    return answer;
  }
  // Else re-plan the whole gang with this role confined to the offered nodes, as long as nothing
  // of it is bound yet (DESIGN.md §3.5).
  // The new plan is only a proposal: it is committed when it answers this member, else discarded
  // whole and the plan the other members were narrowed to stays as it is.
  if (g.phase == GangPhase::kPlanned && BoundCount(g) == 0) {
    PlannerOptions po = options_.planner;
    po.role_node_mask = RoleMask(SpecOf(g), member.role, offer);
    if (auto proposal = ProposePlan(g, po)) {
      const std::optional<int> again = FreeSlot(proposal->plan, proposal->slot_of, member);
      if (again && is_offered(proposal->plan.pods[*again].node)) {
        answer.feasible.push_back(proposal->plan.pods[*again].node);
        proposal->slot_of[member.uid] = *again;
        CommitPlan(g, std::move(*proposal), now);
        return answer;
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
  if (auto known = gang_of_uid_.find(pod.uid); known != gang_of_uid_.end()) {
    auto g = gangs_.find(known->second);
    const Plan* plan = state_.HoldOf(known->second);
    if (g != gangs_.end() && plan) {
      if (auto slot = g->second.slot_of.find(pod.uid); slot != g->second.slot_of.end()) {
        planned = &plan->pods[slot->second].node;
      }
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

std::vector<PreemptCandidate> GangScheduler::DropGangBreakers(
    std::vector<PreemptCandidate> candidates) const {
  std::vector<PreemptCandidate> kept;
  for (auto& c : candidates) {
    std::map<GangKey, int> victims_per_gang;
    for (const auto& uid : c.victim_uids) {
      if (auto known = gang_of_uid_.find(uid); known != gang_of_uid_.end()) {
        ++victims_per_gang[known->second];
      }
    }
    bool breaks_gang = false;
    for (const auto& [key, victims] : victims_per_gang) {
      auto it = gangs_.find(key);
      if (it == gangs_.end()) continue;
      const int bound = BoundCount(it->second);
      const int quorum = SpecOf(it->second).EffectiveQuorum();
      if (bound >= quorum && bound - victims < quorum && quorum > 1) breaks_gang = true;
    }
    if (!breaks_gang) kept.push_back(std::move(c));
  }
  return kept;
}

std::vector<PreemptCandidate> GangScheduler::Preempt(const Pod& pod,
                                                     std::vector<PreemptCandidate> candidates,
                                                     Millis now) {
  const MembershipResult mr = IdentifyGang(pod);
  if (!mr.error.empty() || mr.membership.source == GangSource::kSinglePod) {
    return DropGangBreakers(std::move(candidates));
  }
  GangRecord& g = Record(pod, mr.membership);
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() <= 1) return DropGangBreakers(std::move(candidates));
  // Per-pod preemption for one member of a gang frees room the gang as a whole may not get:
  // a member is offered only its node of the gang's victim plan (DESIGN.md §3.3, §3.9).
  if (!SizeKnown(g) || holds_.BackoffUntil(g.key, now)) return {};
  if (options_.require_quorum_pods && static_cast<int>(g.members.size()) < spec.EffectiveQuorum()) {
    return {};
  }
  if (!g.preemption) {
    if (state_.HoldOf(g.key) && !g.drain) return {};  // planned: fits without evicting anyone
    // kube-scheduler's own filters found no room, so the extender's filter was not asked
    // (reference/extender-protocol.md §2.3): plan here. A gang that fits needs no victims.
    if (PlanAndHold(g, options_.planner, now) || !PlanPreemption(g, now)) return {};
  }
  const Member& member = g.members[pod.uid];
  const std::optional<int> slot = SlotFor(g, member);
  if (!slot) return {};
  const std::string& node = g.preemption->plan.pods[*slot].node;
  PreemptCandidate answer{node, VictimsOn(g, node), 0};
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

BarrierDecision GangScheduler::Bind(const std::string& ns, const std::string& name,
                                    const std::string& uid, const std::string& node, Millis now) {
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end() || !gangs_.count(known->second)) {
    BarrierDecision d;
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = "pod " + ns + "/" + name + " (uid " + uid +
               ") was not filtered by gangsched; kube-scheduler will retry it";
    return d;
  }
  GangRecord& g = gangs_[known->second];
  const Member member = g.members[uid];
  SlotFor(g, member);
  if (auto deadline = holds_.Progress(g.key, now)) barrier_.Extend(g.key, *deadline);
  BarrierDecision d = barrier_.Arrive(g.key, uid, member.role, node, now);
  if (d.action == BarrierAction::kBind) {
    if (const std::string why = RecheckTargets(d); !why.empty()) {
      // The last look before any Binding is posted (DESIGN.md §3.6) found a target changed since
      // the plan: nothing of the gang is bound; every held bind is answered and it plans again.
      d.action = BarrierAction::kReject;
      d.reason = "gang " + g.key.ToString() + ": " + why + "; nothing was bound, re-planning";
      ReleaseGang(g, d.reason);
      holds_.Finish(g.key);
      NameOrders(d);
      return d;
    }
    g.phase = GangPhase::kBinding;
  }
  NameOrders(d);
  return d;
}

std::string GangScheduler::RecheckTargets(const BarrierDecision& d) const {
  std::vector<bool> checked(state_.node_count(), false);
  for (const BindOrder& o : d.pods) {
    const auto n = state_.FindNode(o.node);
    if (!n) return "node " + o.node + " left the cluster";
    if (checked[*n]) continue;
    checked[*n] = true;
    if (state_.node(*n).unschedulable) return "node " + o.node + " was cordoned";
    const Resources free = state_.Free(*n);
    if (free.gpus < 0 || free.milli_cpu < 0 || free.memory_bytes < 0 || free.pods < 0) {
      return "node " + o.node + " no longer has room for its members (a pod gangsched did not " +
             "place took it)";
    }
  }
  return {};
}

void GangScheduler::BindResult(const std::string& uid, bool ok, const std::string& error,
                               Millis now) {
  (void)now;
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end()) return;
  auto it = gangs_.find(known->second);
  if (it == gangs_.end()) return;
  GangRecord& g = it->second;
  barrier_.BindResult(g.key, uid, ok);
  auto member = g.members.find(uid);
  if (member == g.members.end()) return;
  if (!ok) {
    g.reason = "binding pod " + member->second.ns + "/" + member->second.name + " failed (" +
               error + "); its slot stays held and is retried first";
    return;
  }
  const Plan* plan = state_.HoldOf(g.key);
  if (plan) {
    if (auto slot = g.slot_of.find(uid); slot != g.slot_of.end()) {
      member->second.node = plan->pods[slot->second].node;
    }
  }
  member->second.bound = true;
  if (barrier_.Complete(g.key)) CompleteGang(g);
}

void GangScheduler::CompleteGang(GangRecord& g) {
  const Plan* held = state_.HoldOf(g.key);
  if (!held) return;
  const Plan plan = *held;
  state_.Release(g.key);
  for (const auto& [uid, slot] : g.slot_of) {
    const PodPlacement& p = plan.pods[slot];
    Pod pod;
    pod.uid = uid;
    pod.namespace_name = g.members[uid].ns;
    pod.name = g.members[uid].name;
    pod.priority = SpecOf(g).priority;
    pod.node_name = p.node;
    pod.phase = PodPhase::kRunning;
    pod.requests = p.requests;
    pod.gpu_ids = p.gpu_ids;
    state_.AddPod(pod);
  }
  holds_.Finish(g.key);
  barrier_.Close(g.key, "");
  if (g.placed && g.phase == GangPhase::kBound) {
    g.placed->pods.insert(g.placed->pods.end(), plan.pods.begin(), plan.pods.end());
  } else {
    g.placed = plan;
  }
  g.phase = GangPhase::kBound;
  g.reason.clear();
  g.slot_of.clear();
  if (g.kind == GangSourceName(GangSource::kSinglePod)) Forget(g.key);  // nothing left to track
}

std::vector<BarrierDecision> GangScheduler::Tick(Millis now) {
  std::vector<BarrierDecision> out;
  for (const GangKey& key : holds_.Expire(now)) {
    auto it = gangs_.find(key);
    if (it == gangs_.end()) {
      state_.Release(key);
      continue;
    }
    GangRecord& g = it->second;
    if (g.preemption) {
      const int left = VictimsLeft(g);
      g.preemption.reset();
      state_.Release(key);
      g.slot_of.clear();
      g.phase = GangPhase::kWaiting;
      g.reason = "gang " + key.ToString() + ": " + std::to_string(left) +
                 " lower-priority pods preempted for it had not left when its reservation " +
                 "expired; capacity released";
      continue;
    }
    if (barrier_.Phase(key) == BarrierPhase::kReleased) {
      // Partly bound: never give its capacity away; keep holding while the rest is retried.
      holds_.Start(key, now);
      continue;
    }
    const int arrived = barrier_.Arrived(key);
    const int slots = barrier_.Slots(key);
    const std::string reason =
        "gang " + key.ToString() + ": only " + std::to_string(arrived) + " of " +
        std::to_string(slots) +
        " members reached bind before the hold expired; nothing was bound, capacity released";
    state_.Release(key);
    if (auto d = barrier_.Close(key, reason)) out.push_back(std::move(*d));
    g.slot_of.clear();
    g.phase = GangPhase::kWaiting;
    g.reason = reason;
  }
  for (auto& d : barrier_.Expire(now)) out.push_back(std::move(d));
  for (auto& d : out) NameOrders(d);
  RefreshDrains();  // released capacity in a drained domain is kept there
  return out;
}

void GangScheduler::NameOrders(BarrierDecision& d) const {
  auto g = gangs_.find(d.gang);
  if (g == gangs_.end()) return;
  for (BindOrder& o : d.pods) {
    if (auto m = g->second.members.find(o.pod_uid); m != g->second.members.end()) {
      o.pod_namespace = m->second.ns;
      o.pod_name = m->second.name;
    }
  }
}

std::optional<Millis> GangScheduler::NextDeadline() const { return holds_.NextDeadline(); }

// ---- Views
// -------------------------------------------------------------------------------------------

GangStatus GangScheduler::StatusOf(const GangRecord& g, Millis now) const {
  GangStatus s;
  s.key = g.key;
  s.kind = g.kind;
  s.phase = g.phase;
  s.reason = g.reason;
  s.quorum = SpecOf(g).EffectiveQuorum();
  s.members_seen = static_cast<int>(g.members.size());
  s.members_bound = BoundCount(g);
  s.members_arrived = std::max(barrier_.Arrived(g.key), s.members_bound);
  s.arrived_uids = barrier_.ArrivedUids(g.key);
  s.size_known = SizeKnown(g);
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
  out.reserve(gangs_.size());
  for (const auto& [key, g] : gangs_) out.push_back(StatusOf(g, now));
  return out;
}

std::optional<GangStatus> GangScheduler::GangOf(const GangKey& key, Millis now) const {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  return StatusOf(it->second, now);
}

std::vector<int> GangScheduler::PlannedGpuIds(const std::string& uid) const {
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end()) return {};
  auto it = gangs_.find(known->second);
  if (it == gangs_.end()) return {};
  auto slot = it->second.slot_of.find(uid);
  const Plan* plan = state_.HoldOf(known->second);
  if (slot == it->second.slot_of.end() || !plan) return {};
  return plan->pods[slot->second].gpu_ids;
}

std::string GangScheduler::PlacementSummary(const std::string& uid) const {
  auto known = gang_of_uid_.find(uid);
  if (known == gang_of_uid_.end()) return {};
  const Plan* plan = state_.HoldOf(known->second);
  auto it = gangs_.find(known->second);
  if (!plan && it != gangs_.end() && it->second.placed) plan = &*it->second.placed;
  if (!plan) return {};
  return DescribePlan(*plan, state_.topology().level_names());
}

}  // namespace gangsched::scheduler
