#include "scheduler/planner.h"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "scheduler/fit.h"

namespace gangsched::scheduler {

namespace {

using topology::CapacityIndex;
using topology::ClusterTopology;
using topology::Domain;
using topology::GpuTopology;
using topology::LinkKind;

constexpr std::uint64_t Bit(int gpu) { return std::uint64_t{1} << gpu; }

// One quorum member to place.
struct Member {
  int role = 0;
  int index = 0;
  Resources req;
};

// Coarse link class of a GPU set: the worst GPU-GPU link kind inside it (0 = all NVLink). Compared
// before fragmentation, so an NVLink node beats a PCIe-only node for a multi-GPU pod (DESIGN.md
// §3).
int CoarseLinkClass(const GpuTopology& topo, const std::vector<int>& set) {
  int worst = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    for (std::size_t j = i + 1; j < set.size(); ++j) {
      const auto kind = topo.Link(set[i], set[j]).kind;
      const int rank = kind == LinkKind::kNvLink ? 0 : static_cast<int>(kind);
      worst = std::max(worst, rank);
    }
  }
  return worst;
}

// Communication weight of a node distance: same node 0, same rack 1, same block 4, further
// 16, 64...
std::int64_t DistanceWeight(int distance) {
  return distance == 0 ? 0 : std::int64_t{1} << (2 * std::min(distance - 1, 20));
}

// A tentative placement inside one candidate domain. Works on its own overlay of taken capacity;
// the shared state is never touched (STYLE.md "Shape").
struct Attempt {
  std::vector<int> node_of;  // per member, -1 while unplaced
  std::unordered_map<int, Resources> taken;
  std::vector<int> nodes_in_order;  // nodes opened, in order
  int placed = 0;
};

class PlanContext {
 public:
  PlanContext(const ClusterState& state, const GangSpec& gang, const PlannerOptions& options)
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

  PlanResult Run() {
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

 private:
  const CapacityIndex& index() const { return own_index_ ? *own_index_ : state_.capacity(); }

  Resources BaseFree(int node) const {
    Resources free = state_.Free(static_cast<std::size_t>(node));
    if (auto it = own_free_.find(node); it != own_free_.end()) free += it->second;
    return free;
  }
  std::uint64_t BaseMask(int node) const {
    std::uint64_t mask = state_.FreeGpuMask(static_cast<std::size_t>(node));
    if (auto it = own_mask_.find(node); it != own_mask_.end()) mask |= it->second;
    return mask;
  }

  bool Eligible(int role, int node) {
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

  // "Never" answers: a pod bigger than any node it may use.
  std::optional<std::string> CheckNeverFits() {
    for (std::size_t r = 0; r < gang_.roles.size(); ++r) {
      const auto& role = gang_.roles[r];
      bool any_used = std::any_of(members_.begin(), members_.end(),
                                  [&](const Member& m) { return m.role == static_cast<int>(r); });
      if (!any_used) continue;
      Resources req = role.per_pod;
      req.pods = 1;
      bool any_node = false;
      int eligible = 0;
      std::int64_t largest_gpus = 0;
      for (std::size_t n = 0; n < state_.node_count() && !any_node; ++n) {
        if (!Eligible(static_cast<int>(r), static_cast<int>(n))) continue;
        ++eligible;
        largest_gpus = std::max(largest_gpus, state_.node(n).allocatable.gpus);
        any_node = state_.node(n).allocatable.Fits(req);
      }
      if (any_node) continue;
      std::string why = "gang " + gang_.key.ToString() + ": a pod of role " + role.name;
      if (eligible == 0) {
        return why + " may use none of the " + std::to_string(state_.node_count()) +
               " nodes: " + WhyNoNodeIsEligible(static_cast<int>(r));
      }
      why += " asks " + DescribeRequest(req);
      if (req.gpus > largest_gpus) {
        why += " but the largest node it may use has " + std::to_string(largest_gpus) + " GPUs";
      } else {
        why += " and none of the " + std::to_string(eligible) +
               " nodes it may use has that much CPU, memory or pod slots";
      }
      return why;
    }
    return std::nullopt;
  }

  // Why no node is open to a role: the most common untolerated taint, selector or cordon.
  std::string WhyNoNodeIsEligible(int role) const {
    const RoleSpec& r = gang_.roles[role];
    std::map<std::string, int> causes;
    for (std::size_t n = 0; n < state_.node_count(); ++n) {
      const Node& node = state_.node(n);
      if (node.unschedulable) {
        ++causes["cordoned"];
        continue;
      }
      if (!MatchesSelector(node.labels, r.node_selector)) {
        ++causes["its node selector does not match"];
        continue;
      }
      for (const Taint& t : node.taints) {
        if (!ToleratesAll({t}, r.tolerations)) {
          ++causes["taint " + t.key + "=" + t.value +
                   (t.effect == TaintEffect::kNoExecute ? ":NoExecute" : ":NoSchedule") +
                   " not tolerated"];
          break;
        }
      }
    }
    if (causes.empty()) return "kube-scheduler's filters excluded them";
    std::string out;
    for (const auto& [cause, count] : causes) {
      if (!out.empty()) out += "; ";
      out += std::to_string(count) + " " + cause;
    }
    return out;
  }

  static std::string DescribeRequest(const Resources& r) {
    std::string s = std::to_string(r.gpus) + " GPU" + (r.gpus == 1 ? "" : "s");
    s += ", " + std::to_string(r.milli_cpu) + "m CPU, " + std::to_string(r.memory_bytes >> 20) +
         " MiB memory";
    return s;
  }

  // GPU pod sizes of some members, grouped: (GPUs per pod, count), largest first; CPU-only pods are
  // left out (the histogram says nothing about them).
  using Demand = std::vector<std::pair<int, std::int64_t>>;
  Demand DemandOf(const std::vector<int>& members) const {
    Demand demand;
    for (int m : members) {  // members are sorted by GPUs descending
      const int g = static_cast<int>(members_[m].req.gpus);
      if (g <= 0) continue;
      if (demand.empty() || demand.back().first != g) demand.emplace_back(g, 0);
      ++demand.back().second;
    }
    return demand;
  }

  // Whether the demand fits a domain's free-GPU histogram: first fit over free counts ascending
  // (best fit), several pods per node. CPU and memory are checked when placing.
  bool FitsHistogram(int domain, const Demand& demand) const {
    const CapacityIndex& idx = index();
    const int max = idx.max_gpus();
    std::array<std::int64_t, 65> hist{};
    for (int f = 1; f <= max; ++f) hist[f] = idx.NodesWithFree(domain, f);
    for (const auto& [g, count] : demand) {
      std::int64_t need = count;
      for (int f = g; f <= max && need > 0; ++f) {
        if (hist[f] == 0) continue;
        const int per = f / g;
        const std::int64_t full = std::min<std::int64_t>(hist[f], need / per);
        hist[f] -= full;
        hist[f - per * g] += full;
        need -= full * per;
        if (need > 0 && need < per && hist[f] > 0) {
          --hist[f];
          ++hist[f - static_cast<int>(need) * g];
          need = 0;
        }
      }
      if (need > 0) return false;
    }
    return true;
  }

  Resources AttemptFree(const Attempt& a, int node) const {
    Resources free = BaseFree(node);
    if (auto it = a.taken.find(node); it != a.taken.end()) free -= it->second;
    return free;
  }

  // Best GPU set of size k on a node with the given free mask; cached per call.
  const std::vector<int>& GpuSet(int node, std::uint64_t mask, int k) {
    const GpuTopology* topo = &state_.gpu_topology(static_cast<std::size_t>(node));
    auto key = std::make_tuple(topo, mask, k);
    auto it = gpu_sets_.find(key);
    if (it == gpu_sets_.end()) it = gpu_sets_.emplace(key, topo->BestSet(mask, k)).first;
    return it->second;
  }

  // ---- Level 0: one node ---------------------------------------------------------------------

  std::optional<Plan> PlaceOnOneNode() {
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

  bool WholeGangFits(int node) {
    if (!BaseFree(node).Fits(total_)) return false;
    for (const auto& m : members_) {
      if (!Eligible(m.role, node)) return false;
    }
    return true;
  }

  // Visits nodes with exactly f free GPUs under `domain`, fullest subdomains first (best fit across
  // the fabric), nodes in tree order. The visitor returns false to stop.
  bool VisitNodesWithFree(int domain, int f, const std::function<bool(int)>& visit) const {
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

  // ---- Levels 1..: one domain -------------------------------------------------------------------

  std::optional<Plan> PlaceInLevel(int level) {
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
        std::optional<Plan> flat =
            Attempted(d, /*flat=*/true, gpu_members, cpu_members, span_level);
        if (flat && (!plan || Better(*flat, *plan))) plan = std::move(flat);
      }
      if (!plan) continue;
      if (!best || Better(*plan, *best)) best = std::move(plan);
      if (++successes >= options_.candidates_per_level) break;
    }
    return best;
  }

  // One placement attempt inside domain `d`: hierarchical (domain by domain) or flat (best fit over
  // all its nodes in tree order). Nothing when the gang does not fit there.
  std::optional<Plan> Attempted(int d, bool flat, const std::vector<int>& gpu_members,
                                const std::vector<int>& cpu_members, int span_level) {
    Attempt a;
    a.node_of.assign(members_.size(), -1);
    std::vector<int> pending = gpu_members.empty() ? cpu_members : gpu_members;
    if (flat) {
      const Domain& domain = topo_.domain(d);
      std::vector<int> nodes;
      nodes.reserve(static_cast<std::size_t>(domain.end_node - domain.first_node));
      for (int pos = domain.first_node; pos < domain.end_node; ++pos)
        nodes.push_back(topo_.NodeAt(pos));
      PlaceOnNodes(nodes, pending, a);
    } else {
      PlaceInDomain(d, pending, a);
    }
    if (!pending.empty()) return std::nullopt;
    if (!gpu_members.empty() && !cpu_members.empty()) {
      PlaceCpuMembers(d, cpu_members, a);
      if (a.placed != static_cast<int>(members_.size())) return std::nullopt;
    }
    return Finalize(a, span_level, d);
  }

  // A lower bound on the nodes the gang's GPU pods need in a domain: its fullest-free nodes first,
  // each taking as many of the largest pods as fit (from the free-GPU histogram, no node visited).
  int MinNodes(int domain) const {
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

  static bool Better(const Plan& a, const Plan& b) {
    return std::tie(a.nodes_used, a.domains_used, a.comm_cost, a.leftover_gpus, a.gpu_set_cost) <
           std::tie(b.nodes_used, b.domains_used, b.comm_cost, b.leftover_gpus, b.gpu_set_cost);
  }

  // Recursive hierarchical best fit: inside a domain, pick the smallest child that can take all
  // remaining pods; when none can, the largest, and continue with the rest. Minimises the children
  // used at every level and fills partly used domains first.
  void PlaceInDomain(int domain, std::vector<int>& pending, Attempt& a) {
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

  // Leaf domain: the same rule over nodes: the smallest node that takes every remaining pod, else
  // the node with the most free GPUs; each opened node gets as many pods as fit.
  void PlaceOnNodes(const std::vector<int>& nodes, std::vector<int>& pending, Attempt& a) {
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
        auto pick_key =
            std::make_tuple(pick_free.gpus, pick_free.milli_cpu, pick_free.memory_bytes);
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

  // CPU-only members (parameter servers) go next to the gang's GPU pods: first on the nodes the
  // gang already uses (the most gang pods first), then in the same leaf domains, then anywhere in
  // `domain`.
  void PlaceCpuMembers(int domain, const std::vector<int>& cpu_members, Attempt& a) {
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

  // ---- The plan --------------------------------------------------------------------------------

  Plan Finalize(const Attempt& a, int span_level, int span_domain) {
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
    for (int l = 0; l < levels; ++l)
      plan.domains_used.push_back(static_cast<int>(domains[l].size()));
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
    std::sort(placements.begin(), placements.end(),
              [](const PodPlacement& x, const PodPlacement& y) {
                return std::tie(x.role, x.index) < std::tie(y.role, y.index);
              });
    plan.pods = std::move(placements);
    return plan;
  }

  std::int64_t CommCost(const Attempt& a) const {
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

  // ---- Why a gang waits ------------------------------------------------------------------------

  std::string DescribeGang() const {
    std::map<int, int> count_by_role;
    for (const auto& m : members_) ++count_by_role[m.role];
    std::string s;
    for (const auto& [role, count] : count_by_role) {
      if (!s.empty()) s += " + ";
      const auto& r = gang_.roles[role];
      s += std::to_string(count) + " " + r.name + (count == 1 ? " pod" : " pods");
      s += r.per_pod.gpus > 0
               ? " × " + std::to_string(r.per_pod.gpus) + " GPU" + (r.per_pod.gpus == 1 ? "" : "s")
               : " (CPU only)";
    }
    return s + " = " + std::to_string(total_.gpus) + " GPUs";
  }

  std::string WhyNot() {
    const CapacityIndex& idx = index();
    std::string why = "gang " + gang_.key.ToString() + ": " + DescribeGang() + "; ";
    // The biggest domain below the cluster level, with how many of the GPU pods it could take.
    int largest = -1;
    for (const Domain& d : topo_.domains()) {
      if (d.level != 0) continue;
      if (largest < 0 || idx.DomainFree(d.id) > idx.DomainFree(largest)) largest = d.id;
    }
    if (largest >= 0) {
      why += "largest " + topo_.level_names()[0] + " " + topo_.domain(largest).name + " has " +
             std::to_string(idx.DomainFree(largest)) + " free GPUs; ";
    }
    int nodes_with_free = 0;
    for (int n = 0; n < topo_.node_count(); ++n) nodes_with_free += idx.free_gpus(n) > 0 ? 1 : 0;
    why += "cluster has " + std::to_string(idx.DomainFree(0)) + " free GPUs on " +
           std::to_string(nodes_with_free) + " nodes";
    if (gpu_members_ > 0) {
      const int g = static_cast<int>(members_.front().req.gpus);
      const std::int64_t room = idx.PodsThatFit(0, g);
      why += " (room for " + std::to_string(room) + " pod" + (room == 1 ? "" : "s") + " of " +
             std::to_string(g) + " GPU" + (g == 1 ? "" : "s") + ")";
    }
    why += HeldByOthers();
    if (total_.gpus <= idx.DomainFree(0)) {
      why += "; GPUs are free but fragmented, or CPU, memory, taints or selectors rule nodes out";
    }
    return why;
  }

  // "; 40 GPUs are held for other gangs: ml/a (32), ml/b (8)": capacity planned for gangs that are
  // binding (or whose victims are leaving) counts as taken, and a reader should see by whom.
  std::string HeldByOthers() const {
    std::int64_t held = 0;
    for (std::size_t n = 0; n < state_.node_count(); ++n) held += state_.usage(n).held.gpus;
    std::vector<std::pair<std::int64_t, std::string>> holders;  // (-GPUs, gang)
    for (const auto& [key, plan] : state_.holds()) {
      if (key == gang_.key) continue;
      std::int64_t gpus = 0;
      for (const PodPlacement& p : plan.pods) gpus += p.requests.gpus;
      if (gpus > 0) holders.emplace_back(-gpus, key.ToString());
    }
    if (held <= 0 || holders.empty()) return "";
    std::sort(holders.begin(), holders.end());
    constexpr std::size_t kNamed = 3;
    std::string s = "; " + std::to_string(held) + " GPU" + (held == 1 ? " is" : "s are") +
                    " held for other gangs: ";
    for (std::size_t i = 0; i < holders.size() && i < kNamed; ++i) {
      if (i > 0) s += ", ";
      s += holders[i].second + " (" + std::to_string(-holders[i].first) + ")";
    }
    if (holders.size() > kNamed) s += " and " + std::to_string(holders.size() - kNamed) + " more";
    return s;
  }

  const ClusterState& state_;
  const GangSpec& gang_;
  const PlannerOptions& options_;
  const ClusterTopology& topo_;
  std::optional<CapacityIndex> own_index_;
  std::map<int, Resources> own_free_;
  std::map<int, std::uint64_t> own_mask_;
  std::vector<std::vector<std::int8_t>> eligible_;
  std::vector<Member> members_;
  Resources total_;
  int gpu_members_ = 0;
  std::map<std::tuple<const GpuTopology*, std::uint64_t, int>, std::vector<int>> gpu_sets_;
};

}  // namespace

std::string DescribePlan(const Plan& plan, const std::vector<std::string>& level_names) {
  const int levels = static_cast<int>(level_names.size());
  std::string span;
  std::string where;
  if (plan.span_level == 0) {
    span = "node";
    where = "node " + plan.span_domain;
  } else if (plan.span_level <= levels) {
    span = level_names[levels - plan.span_level];
    where = span + " " + plan.span_domain;
  } else {
    span = "cluster";
    where = "the cluster";
  }
  return std::to_string(plan.pods.size()) + " pod" + (plan.pods.size() == 1 ? "" : "s") + " on " +
         std::to_string(plan.nodes_used) + " node" + (plan.nodes_used == 1 ? "" : "s") + " in " +
         where + " (span: " + span + ")";
}

PlanResult Planner::PlanGang(const ClusterState& state, const GangSpec& gang) const {
  PlanContext context(state, gang, options_);
  return context.Run();
}

}  // namespace gangsched::scheduler
