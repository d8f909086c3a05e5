#include "scheduler/planner.h"

#include "scheduler/plan_context.h"

namespace gangsched::scheduler {
namespace planning {

using topology::CapacityIndex;
using topology::Domain;
using topology::LinkKind;

PlanContext::PlanContext(const ClusterState& state, const GangSpec& gang,
                         const PlannerOptions& options)
    : state_(state), gang_(gang), options_(options), topo_(state.topology()) {
  // The gang's own hold is ignored so a re-plan can reuse its capacity.
  if (const Plan* own = state.HoldOf(gang.key)) {
    own_index_ = state.capacity();
    for (const auto& p : own->pods) {
      if (auto node = state.FindNode(p.node)) {
        Resources req = p.requests;
        req.pods = std::max<std::int64_t>(req.pods, 1);
        own_free_[static_cast<int>(*node)] += req;
        for (int g : p.gpu_ids) own_mask_[static_cast<int>(*node)] |= Bit(g);
      }
    }
    for (const auto& [node, res] : own_free_) {
      own_index_->SetFree(topo_, node, own_index_->free_gpus(node) + static_cast<int>(res.gpus));
    }
  }
  eligible_.assign(gang.roles.size(), std::vector<std::int8_t>(state.node_count(), -1));
  for (const auto& [role, index] : gang.QuorumMembers()) {
    Member m{role, index, gang.roles[role].per_pod};
    m.req.pods = 1;
    members_.push_back(m);
  }
  // Largest pods first (GPUs, then CPU, then memory); stable so role/index order breaks ties.
  std::stable_sort(members_.begin(), members_.end(), [](const Member& a, const Member& b) {
    return std::tie(b.req.gpus, b.req.milli_cpu, b.req.memory_bytes) <
           std::tie(a.req.gpus, a.req.milli_cpu, a.req.memory_bytes);
  });
  for (const auto& m : members_) {
    total_ += m.req;
    if (m.req.gpus > 0) ++gpu_members_;
  }
}

PlanResult PlanContext::Run() {
  if (members_.empty()) {
    return Unplaceable{"gang " + gang_.key.ToString() + " declares no pods", true};
  }
  if (auto never = CheckNeverFits()) return Unplaceable{*never, true};

  // Level 0: the whole gang on one node.
  if (auto plan = PlaceOnOneNode()) return std::move(*plan);
  // Then one domain of each level, narrowest first, then the whole cluster.
  for (int level = topo_.level_count() - 1; level >= -1; --level) {
    if (auto plan = PlaceInLevel(level)) return std::move(*plan);
  }
  return Unplaceable{WhyNot(), false};
}

Resources PlanContext::BaseFree(int node) const {
  Resources free = state_.Free(static_cast<std::size_t>(node));
  if (auto it = own_free_.find(node); it != own_free_.end()) free += it->second;
  return free;
}

std::uint64_t PlanContext::BaseMask(int node) const {
  std::uint64_t mask = state_.FreeGpuMask(static_cast<std::size_t>(node));
  if (auto it = own_mask_.find(node); it != own_mask_.end()) mask |= it->second;
  return mask;
}

bool PlanContext::Eligible(int role, int node) {
  std::int8_t& cached = eligible_[role][node];
  if (cached < 0) {
    const Node& n = state_.node(static_cast<std::size_t>(node));
    const RoleSpec& r = gang_.roles[role];
    bool ok = Admits(n, r);
    if (ok && role < static_cast<int>(options_.role_node_mask.size()) &&
        !options_.role_node_mask[role].empty()) {
      ok = node < static_cast<int>(options_.role_node_mask[role].size()) &&
           options_.role_node_mask[role][node];
    }
    cached = ok ? 1 : 0;
  }
  return cached == 1;
}

PlanContext::Demand PlanContext::DemandOf(const std::vector<int>& members) const {
  Demand demand;
  for (int m : members) {  // members are sorted by GPUs descending
    const int g = static_cast<int>(members_[m].req.gpus);
    if (g <= 0) continue;
    if (demand.empty() || demand.back().first != g) demand.emplace_back(g, 0);
    ++demand.back().second;
  }
  return demand;
}

bool PlanContext::FitsHistogram(int domain, const Demand& demand) const {
  return index().FitsDemand(domain, demand);
}

Resources PlanContext::AttemptFree(const Attempt& a, int node) const {
  Resources free = BaseFree(node);
  if (auto it = a.taken.find(node); it != a.taken.end()) free -= it->second;
  return free;
}

const std::vector<int>& PlanContext::GpuSet(int node, std::uint64_t mask, int k) {
  const GpuTopology* topo = &state_.gpu_topology(static_cast<std::size_t>(node));
  auto key = std::make_tuple(topo, mask, k);
  auto it = gpu_sets_.find(key);
  if (it == gpu_sets_.end()) it = gpu_sets_.emplace(key, topo->BestSet(mask, k)).first;
  return it->second;
}

std::optional<Plan> PlanContext::PlaceOnOneNode() {
  const std::int64_t g_total = total_.gpus;
  const CapacityIndex& idx = index();
  if (g_total > idx.max_gpus()) return std::nullopt;
  struct Best {
    int coarse = std::numeric_limits<int>::max();
    int free = 0;
    std::int64_t fine = 0;
    int node = -1;
  } best;
  const int lo = static_cast<int>(g_total);
  for (int f = lo; f <= idx.max_gpus(); ++f) {
    if (idx.NodesWithFree(0, f) == 0) continue;
    if (best.node >= 0 && best.coarse == 0) break;  // nothing better coarse-wise; f only grows
    int evaluated = 0;
    VisitNodesWithFree(0, f, [&](int node) {
      if (!WholeGangFits(node)) return true;
      ++evaluated;
      int coarse = 0;
      std::int64_t fine = 0;
      if (g_total >= 2) {
        const auto& set = GpuSet(node, BaseMask(node), lo);
        if (set.empty()) return true;
        coarse = CoarseLinkClass(state_.gpu_topology(static_cast<std::size_t>(node)), set);
        fine = state_.gpu_topology(static_cast<std::size_t>(node)).SetCost(set);
      }
      if (std::tie(coarse, fine) < std::tie(best.coarse, best.fine)) {
        best = {coarse, f, fine, node};
      }
      // One fitting node settles a 1-GPU (or CPU-only) gang. For multi-GPU gangs a node whose set
      // is all NVLink settles it after a few comparisons of the finer PCIe cost; the search is
      // bounded either way.
      if (g_total < 2) return false;
      return !(best.coarse == 0 && evaluated >= 16) && evaluated < 256;
    });
  }
  if (best.node < 0) return std::nullopt;
  Attempt a;
  a.node_of.assign(members_.size(), best.node);
  a.nodes_in_order = {best.node};
  a.placed = static_cast<int>(members_.size());
  return Finalize(a, /*span_level=*/0, /*span_domain=*/-1);
}

bool PlanContext::WholeGangFits(int node) {
  if (!BaseFree(node).Fits(total_)) return false;
  for (const auto& m : members_) {
    if (!Eligible(m.role, node)) return false;
  }
  return true;
}

bool PlanContext::VisitNodesWithFree(int domain, int f,
                                     const std::function<bool(int)>& visit) const {
  const CapacityIndex& idx = index();
  const Domain& d = topo_.domain(domain);
  if (d.children.empty()) {
    for (int node : d.nodes) {
      if (idx.free_gpus(node) == f && !visit(node)) return false;
    }
    return true;
  }
  std::vector<int> kids;
  for (int c : d.children) {
    if (idx.NodesWithFree(c, f) > 0) kids.push_back(c);
  }
  std::sort(kids.begin(), kids.end(), [&](int a, int b) {
    return std::make_pair(idx.DomainFree(a), a) < std::make_pair(idx.DomainFree(b), b);
  });
  for (int c : kids) {
    if (!VisitNodesWithFree(c, f, visit)) return false;
  }
  return true;
}

std::optional<Plan> PlanContext::PlaceInLevel(int level) {
  std::vector<int> gpu_members;
  std::vector<int> cpu_members;
  for (int m = 0; m < static_cast<int>(members_.size()); ++m) {
    (members_[m].req.gpus > 0 ? gpu_members : cpu_members).push_back(m);
  }
  const Demand demand = DemandOf(gpu_members);
  const CapacityIndex& idx = index();
  std::vector<int> candidates;
  for (const Domain& d : topo_.domains()) {
    if (d.level != level) continue;
    if (idx.DomainFree(d.id) < total_.gpus) continue;
    if (!FitsHistogram(d.id, demand)) continue;
    candidates.push_back(d.id);
  }
  std::sort(candidates.begin(), candidates.end(), [&](int a, int b) {
    return std::make_pair(idx.DomainFree(a), a) < std::make_pair(idx.DomainFree(b), b);
  });
  std::optional<Plan> best;
  int successes = 0;
  const int span_level = topo_.level_count() - level;
  for (int d : candidates) {
    std::optional<Plan> plan = Attempted(d, /*flat=*/false, gpu_members, cpu_members, span_level);
    // Hierarchical best fit fills one subdomain before the next, which can cost nodes when the
    // gang must span subdomains anyway. When it uses more nodes than the domain's lower bound,
    // also try best fit over the domain's nodes directly and keep the better plan (fewest nodes
    // come first in the objective, DESIGN.md §6).
    if (!plan || plan->nodes_used > MinNodes(d)) {
      std::optional<Plan> flat = Attempted(d, /*flat=*/true, gpu_members, cpu_members, span_level);
      if (flat && (!plan || Better(*flat, *plan))) plan = std::move(flat);
    }
    if (!plan) continue;
    if (!best || Better(*plan, *best)) best = std::move(plan);
    if (++successes >= options_.candidates_per_level) break;
  }
  return best;
}

int PlanContext::MinNodes(int domain) const {
  if (gpu_members_ == 0) return 1;
  const CapacityIndex& idx = index();
  const int g = static_cast<int>(members_.front().req.gpus);  // the largest pod
  std::int64_t need = gpu_members_;
  int nodes = 0;
  for (int f = idx.max_gpus(); f >= g && need > 0; --f) {
    const std::int64_t per = f / g;
    const std::int64_t count = idx.NodesWithFree(domain, f);
    const std::int64_t use = std::min<std::int64_t>(count, (need + per - 1) / per);
    nodes += static_cast<int>(use);
    need -= use * per;
  }
  return std::max(nodes, 1);
}

bool PlanContext::Better(const Plan& a, const Plan& b) {
  return std::tie(a.nodes_used, a.domains_used, a.comm_cost, a.leftover_gpus, a.gpu_set_cost) <
         std::tie(b.nodes_used, b.domains_used, b.comm_cost, b.leftover_gpus, b.gpu_set_cost);
}

void PlanContext::PlaceInDomain(int domain, std::vector<int>& pending, Attempt& a) {
  const Domain& d = topo_.domain(domain);
  if (d.children.empty()) {
    PlaceOnNodes(d.nodes, pending, a);
    return;
  }
  const CapacityIndex& idx = index();
  std::vector<bool> visited(d.children.size(), false);
  while (!pending.empty()) {
    const Demand demand = DemandOf(pending);
    std::int64_t need = 0;
    for (const auto& [g, count] : demand) need += g * count;
    int pick = -1;
    std::int64_t pick_free = 0;
    bool pick_fits = false;
    for (std::size_t i = 0; i < d.children.size(); ++i) {
      if (visited[i]) continue;
      const int c = d.children[i];
      const std::int64_t free = idx.DomainFree(c);
      if (free <= 0 && need > 0) continue;
      if (!demand.empty() && idx.MaxNodeFree(c) < demand.back().first) continue;  // no pod fits
      const bool fits = free >= need && FitsHistogram(c, demand);
      if (fits) {
        if (!pick_fits || free < pick_free) {
          pick = static_cast<int>(i);
          pick_free = free;
          pick_fits = true;
        }
      } else if (!pick_fits && free > pick_free) {
        pick = static_cast<int>(i);
        pick_free = free;
      }
    }
    if (pick < 0) return;
    visited[pick] = true;
    PlaceInDomain(d.children[pick], pending, a);
  }
}

void PlanContext::PlaceOnNodes(const std::vector<int>& nodes, std::vector<int>& pending,
                               Attempt& a) {
  std::vector<bool> used(nodes.size(), false);
  while (!pending.empty()) {
    Resources need;
    // The smallest request still pending, per dimension: a node that cannot take it is useless.
    Resources smallest = members_[pending.front()].req;
    std::vector<int> roles;  // distinct roles still pending (a handful at most)
    for (int m : pending) {
      need += members_[m].req;
      const Resources& r = members_[m].req;
      smallest.gpus = std::min(smallest.gpus, r.gpus);
      smallest.milli_cpu = std::min(smallest.milli_cpu, r.milli_cpu);
      smallest.memory_bytes = std::min(smallest.memory_bytes, r.memory_bytes);
      if (std::find(roles.begin(), roles.end(), members_[m].role) == roles.end()) {
        roles.push_back(members_[m].role);
      }
    }
    int pick = -1;
    Resources pick_free;
    bool pick_fits = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (used[i]) continue;
      const int node = nodes[i];
      if (index().free_gpus(node) < smallest.gpus) continue;  // cheap test first
      const Resources free = AttemptFree(a, node);
      if (!free.Fits(smallest)) continue;
      bool eligible_any = false;
      bool eligible_all = true;
      for (int role : roles) {
        const bool e = Eligible(role, node);
        eligible_any = eligible_any || e;
        eligible_all = eligible_all && e;
      }
      if (!eligible_any) continue;
      const bool fits = eligible_all && free.Fits(need);
      auto key = std::make_tuple(free.gpus, free.milli_cpu, free.memory_bytes);
      auto pick_key = std::make_tuple(pick_free.gpus, pick_free.milli_cpu, pick_free.memory_bytes);
      if (fits) {
        if (!pick_fits || key < pick_key) {
          pick = static_cast<int>(i);
          pick_free = free;
          pick_fits = true;
        }
      } else if (!pick_fits && (pick < 0 || key > pick_key)) {
        pick = static_cast<int>(i);
        pick_free = free;
      }
    }
    if (pick < 0) return;
    used[pick] = true;
    const int node = nodes[pick];
    Resources free = AttemptFree(a, node);
    std::vector<int> rest;
    bool opened = false;
    for (int m : pending) {
      if (Eligible(members_[m].role, node) && free.Fits(members_[m].req)) {
        free -= members_[m].req;
        a.taken[node] += members_[m].req;
        a.node_of[m] = node;
        ++a.placed;
        opened = true;
      } else {
        rest.push_back(m);
      }
    }
    if (opened) a.nodes_in_order.push_back(node);
    pending = std::move(rest);
  }
}

void PlanContext::PlaceCpuMembers(int domain, const std::vector<int>& cpu_members, Attempt& a) {
  std::map<int, int> pods_on;
  for (std::size_t m = 0; m < members_.size(); ++m) {
    if (a.node_of[m] >= 0) ++pods_on[a.node_of[m]];
  }
  std::vector<int> order;
  std::vector<bool> seen_mark(static_cast<std::size_t>(topo_.node_count()), false);
  auto seen_insert = [&](int n) {
    if (seen_mark[n]) return false;
    seen_mark[n] = true;
    return true;
  };
  std::vector<int> used_nodes = a.nodes_in_order;
  std::stable_sort(used_nodes.begin(), used_nodes.end(),
                   [&](int x, int y) { return pods_on[x] > pods_on[y]; });
  for (int n : used_nodes) {
    if (seen_insert(n)) order.push_back(n);
  }
  for (int n : a.nodes_in_order) {
    for (int peer : topo_.domain(topo_.LeafDomainOf(n)).nodes) {
      if (seen_insert(peer)) order.push_back(peer);
    }
  }
  const Domain& d = topo_.domain(domain);
  for (int pos = d.first_node; pos < d.end_node; ++pos) {
    const int n = topo_.NodeAt(pos);
    if (seen_insert(n)) order.push_back(n);
  }
  for (int m : cpu_members) {
    for (int n : order) {
      if (Eligible(members_[m].role, n) && AttemptFree(a, n).Fits(members_[m].req)) {
        a.taken[n] += members_[m].req;
        a.node_of[m] = n;
        ++a.placed;
        if (!pods_on.count(n)) a.nodes_in_order.push_back(n);
        ++pods_on[n];
        break;
      }
    }
    if (a.node_of[m] < 0) return;
  }
}

Plan PlanContext::Finalize(const Attempt& a, int span_level, int span_domain) {
  Plan plan;
  plan.gang = gang_.key;
  plan.span_level = span_level;
  const int levels = topo_.level_count();
  // Nodes of the plan and their members, in tree order.
  std::map<int, std::vector<int>> by_node;  // tree position -> members
  for (std::size_t m = 0; m < members_.size(); ++m) {
    by_node[topo_.TreePosition(a.node_of[m])].push_back(static_cast<int>(m));
  }
  plan.nodes_used = static_cast<int>(by_node.size());
  std::vector<std::set<int>> domains(levels);
  std::vector<PodPlacement> placements(members_.size());
  for (const auto& [pos, ms] : by_node) {
    const int node = topo_.NodeAt(pos);
    for (int l = 0; l < levels; ++l) domains[l].insert(topo_.DomainAt(node, l));
    // GPU ids: the best connected set for all of the gang's GPUs on this node, then split per
    // pod.
    std::int64_t gpus = 0;
    for (int m : ms) gpus += members_[m].req.gpus;
    std::uint64_t mask = BaseMask(node);
    const auto& gpu_topo = state_.gpu_topology(static_cast<std::size_t>(node));
    if (gpus > 0) {
      std::uint64_t union_mask = 0;
      const auto& set = GpuSet(node, mask, static_cast<int>(gpus));
      for (int g : set) union_mask |= Bit(g);
      plan.gpu_set_cost += gpu_topo.SetCost(set);
      mask = union_mask;
    }
    for (int m : ms) {
      PodPlacement& p = placements[m];
      p.role = members_[m].role;
      p.role_name = gang_.roles[p.role].name;
      p.index = members_[m].index;
      p.node = state_.node(static_cast<std::size_t>(node)).name;
      p.domains = topo_.PathNames(node);
      p.requests = members_[m].req;
      if (members_[m].req.gpus > 0) {
        p.gpu_ids = gpu_topo.BestSet(mask, static_cast<int>(members_[m].req.gpus));
        for (int g : p.gpu_ids) mask &= ~Bit(g);
      }
    }
  }
  for (int l = 0; l < levels; ++l) plan.domains_used.push_back(static_cast<int>(domains[l].size()));
  plan.comm_cost = CommCost(a);
  const CapacityIndex& idx = index();
  if (span_domain >= 0) {
    plan.span_domain = span_domain == 0 ? "" : topo_.domain(span_domain).name;
    plan.leftover_gpus = idx.DomainFree(span_domain) - total_.gpus;
  } else {
    plan.span_domain = state_.node(static_cast<std::size_t>(a.nodes_in_order.front())).name;
    plan.leftover_gpus = idx.free_gpus(a.nodes_in_order.front()) - total_.gpus;
  }
  // Output in role order, then index.
  std::sort(placements.begin(), placements.end(), [](const PodPlacement& x, const PodPlacement& y) {
    return std::tie(x.role, x.index) < std::tie(y.role, y.index);
  });
  plan.pods = std::move(placements);
  return plan;
}

std::int64_t PlanContext::CommCost(const Attempt& a) const {
  std::int64_t cost = 0;
  const std::size_t n = members_.size();
  if (gang_.pattern == CommPattern::kParameterServer) {
    for (std::size_t i = 0; i < n; ++i) {
      if (gang_.roles[members_[i].role].name != "ps") continue;
      for (std::size_t j = 0; j < n; ++j) {
        if (gang_.roles[members_[j].role].name == "ps") continue;
        cost += DistanceWeight(topo_.Distance(a.node_of[i], a.node_of[j]));
      }
    }
  } else if (gang_.pattern == CommPattern::kAllReduce && n > 1) {
    std::vector<int> ring;
    for (std::size_t i = 0; i < n; ++i) ring.push_back(topo_.TreePosition(a.node_of[i]));
    std::sort(ring.begin(), ring.end());
    for (std::size_t i = 0; i < n; ++i) {
      cost +=
          DistanceWeight(topo_.Distance(topo_.NodeAt(ring[i]), topo_.NodeAt(ring[(i + 1) % n])));
    }
  }
  return cost;
}

}  // namespace planning

PlanResult Planner::PlanGang(const ClusterState& state, const GangSpec& gang) const {
  planning::PlanContext context(state, gang, options_);
  return context.Run();
}

}  // namespace gangsched::scheduler
