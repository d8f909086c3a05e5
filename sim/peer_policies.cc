#include "sim/peer_policies.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace gangsched::sim {
namespace {

using scheduler::Resources;

constexpr std::int64_t kManyPods = std::int64_t{1} << 20;

// How many pods of `req` fit in `free` (resources.Requests.CountIn).
std::int64_t CountIn(const Resources& free, const Resources& req) {
  std::int64_t n = kManyPods;
  auto dim = [&](std::int64_t f, std::int64_t r) {
    if (r > 0) n = std::min(n, std::max<std::int64_t>(0, f) / r);
  };
  dim(free.milli_cpu, req.milli_cpu);
  dim(free.memory_bytes, req.memory_bytes);
  dim(free.gpus, req.gpus);
  dim(free.pods, req.pods);
  return n;
}

// The best-scored candidate; equal scores are broken uniformly at random, as kube-scheduler's
// selectHost and Volcano's SelectBestHyperNodeAndScore do.
struct Pick {
  std::optional<std::size_t> best;
  double score = 0;
  int ties = 0;
  void Offer(std::size_t candidate, double s, std::mt19937_64& rng) {
    if (!best || s > score) {
      best = candidate;
      score = s;
      ties = 1;
    } else if (s == score && std::uniform_int_distribution<int>(0, ties++)(rng) == 0) {
      best = candidate;
    }
  }
};

// What is free on every node while one group is placed, as a scratch copy: the view is never
// changed (STYLE.md "Shape"). A node the group's pods may not use has nothing free.
std::vector<Resources> FreeOf(const GroupView& view) {
  std::vector<Resources> free(view.nodes.size());
  for (std::size_t n = 0; n < free.size(); ++n) {
    if (view.usable[n]) free[n] = view.nodes[n].allocatable - view.requested[n];
  }
  return free;
}

// The nodes of block `b`, rack by rack.
std::vector<std::size_t> BlockNodes(const NodeTopology& topo, std::size_t b) {
  std::vector<std::size_t> nodes;
  for (const int r : topo.block_racks[b]) {
    const auto& in_rack = topo.rack_nodes[static_cast<std::size_t>(r)];
    nodes.insert(nodes.end(), in_rack.begin(), in_rack.end());
  }
  return nodes;
}

// A profile that places whole groups and has no per-pod Filter or Score of its own.
class GroupProfile : public KubeProfile {
 public:
  explicit GroupProfile(std::string_view name) : name_(name) {}
  std::string_view Name() const override { return name_; }
  bool Filter(const scheduler::Pod& /*pod*/, const scheduler::Node& /*node*/) const override {
    return true;
  }
  std::int64_t Score(const scheduler::Pod& /*pod*/, const scheduler::Node& /*node*/,
                     const Resources& /*requested*/) const override {
    return 0;
  }
  bool PlacesGroups() const override { return true; }

 private:
  std::string_view name_;
};

// Pods one after another over `nodes`, each on the best-scored node it fits (NodeResourcesFit
// MostAllocated), seeing the ones before it; all or none. `free` is updated.
std::optional<std::vector<std::size_t>> PackSequentially(const GroupView& view,
                                                         const std::vector<GroupPod>& pods,
                                                         const std::vector<std::size_t>& nodes,
                                                         std::vector<Resources>& free) {
  std::vector<std::size_t> out;
  out.reserve(pods.size());
  for (const GroupPod& pod : pods) {
    Pick pick;
    for (const std::size_t n : nodes) {
      if (!free[n].Fits(pod.requests)) continue;
      const Resources& alloc = view.nodes[n].allocatable;
      pick.Offer(n,
                 static_cast<double>(NodeResourcesFitScore(Scoring::kMostAllocated, alloc,
                                                           alloc - free[n] + pod.requests)),
                 view.rng);
    }
    if (!pick.best) return std::nullopt;
    free[*pick.best] -= pod.requests;
    out.push_back(*pick.best);
  }
  return out;
}

// ---- gang-binpack-model ------------------------------------------------------------------------

// Gang + binpack without topology (DESIGN.md §6 "gang-only without topology (Volcano gang +
// binpack)"), through the model: the whole gang at once, pod by pod on the most allocated node
// of the cluster, or nothing.
class GangBinpackProfile final : public GroupProfile {
 public:
  GangBinpackProfile() : GroupProfile("gang-binpack-model") {}
  std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& view, const std::vector<GroupPod>& pods) const override {
    std::vector<Resources> free = FreeOf(view);
    std::vector<std::size_t> all(view.nodes.size());
    for (std::size_t n = 0; n < all.size(); ++n) all[n] = n;
    return PackSequentially(view, pods, all, free);
  }
};

// ---- native-tas ---------------------------------------------------------------------------------

// Kubernetes 1.36 topology-aware workload scheduling, KEP-5732 (kubernetes/enhancements
// keps/sig-scheduling/5732-topology-aware-workload-scheduling/README.md, commit 004e4e84): a
// PodGroup with schedulingConstraints.topology level = the rack label. TopologyPlacementGenerator
// makes one Placement per distinct rack; in each, the pods run through the pod-by-pod algorithm
// one after another with only the placement's nodes (here NodeResourcesFit MostAllocated, the
// binpack profile); a placement is feasible when every pod fits. PlacementBinPacking
// (kubernetes/kubernetes pkg/scheduler/framework/plugins/noderesources/placement_bin_packing.go,
// commit 128a49b7) scores a feasible placement with the scoring strategy over the summed
// allocatable and requested of its nodes, the group's pods included; it is configured
// MostAllocated here (tightest fit). PodGroupPodsCount scores every feasible placement alike
// (every pod fits in each). The highest score wins, ties at random. No placement: the group
// waits (the constraint is required). PercentageOfPlacementsToScore is not modelled (100%).
class NativeTasProfile final : public GroupProfile {
 public:
  NativeTasProfile() : GroupProfile("native-tas") {}
  std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& view, const std::vector<GroupPod>& pods) const override {
    const std::vector<Resources> free = FreeOf(view);
    Pick pick;
    std::vector<std::vector<std::size_t>> found(view.topology.rack_nodes.size());
    for (std::size_t r = 0; r < view.topology.rack_nodes.size(); ++r) {
      const std::vector<std::size_t>& nodes = view.topology.rack_nodes[r];
      std::vector<Resources> scratch = free;
      auto placed = PackSequentially(view, pods, nodes, scratch);
      if (!placed) continue;
      Resources allocatable, requested;
      for (const std::size_t n : nodes) {
        if (!view.usable[n]) continue;
        allocatable += view.nodes[n].allocatable;
        requested += view.nodes[n].allocatable - scratch[n];
      }
      found[r] = std::move(*placed);
      pick.Offer(r,
                 static_cast<double>(
                     NodeResourcesFitScore(Scoring::kMostAllocated, allocatable, requested)),
                 view.rng);
    }
    if (!pick.best) return std::nullopt;
    return found[*pick.best];
  }
};

// ---- kueue-tas ----------------------------------------------------------------------------------

// Kueue Topology Aware Scheduling, BestFit (kubernetes-sigs/kueue
// pkg/cache/scheduler/tas_flavor_snapshot.go, commit 00c45514: findTopologyAssignment,
// findLevelWithFitDomains, updateCountsToMinimumGeneric, sortedDomains, findBestFitDomainBy; KEP
// keps/2724-topology-aware-scheduling). The Topology has levels block, rack, hostname. Each
// PodSet (one per role, here in the operator's role order) is assigned on its own, later ones
// seeing the earlier ones' usage (FindTopologyAssignmentsForFlavor's assumedUsage):
// 1. Every node's state is how many pods of the PodSet fit on it (CountIn), summed up the tree.
// 2. At the requested level (rack), domains are sorted by state descending (then domain order;
//    Kueue breaks ties by label values). If the first fits the whole PodSet, the tightest domain
//    that fits is taken (the first with the lowest state >= count). Else, podset-required-topology
//    fails (the workload waits); podset-preferred-topology goes one level up, and at the top level
//    takes domains greedily in that order, the last one again the tightest that fits.
// 3. Down to the nodes, level by level: all children of the chosen domains, sorted by state
//    descending, take pods greedily, the last one the tightest child that fits the rest.
// Kueue admits the workload with this assignment and its TopologyUngater makes the pods land on
// those nodes; here the model binds them there. Quotas, flavors, admission checks and
// BalancedPlacement (TASBalancedPlacement) are not modelled; a PodSet group (podset-group-name)
// takes one leader only, so a PS/worker job's roles are separate PodSets.
class KueueTasProfile final : public GroupProfile {
 public:
  KueueTasProfile(std::string_view name, bool required) : GroupProfile(name), required_(required) {}

  std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& view, const std::vector<GroupPod>& pods) const override {
    std::vector<Resources> free = FreeOf(view);
    std::vector<std::size_t> out(pods.size());
    for (std::size_t first = 0; first < pods.size();) {
      std::size_t end = first;
      while (end < pods.size() && pods[end].role == pods[first].role) ++end;
      const Resources& req = pods[first].requests;
      const auto counts =
          AssignPodSet(view.topology, free, req, static_cast<std::int64_t>(end - first));
      if (!counts) return std::nullopt;
      std::size_t next = first;
      for (const auto& [node, count] : *counts) {  // node order, as buildAssignment sorts
        for (std::int64_t k = 0; k < count; ++k) out[next++] = node;
        free[node] -= req * count;
      }
      first = end;
    }
    return out;
  }

 private:
  enum Level : int { kBlock = 0, kRack = 1, kNode = 2 };
  struct Domain {
    int level = kNode;
    std::size_t id = 0;
    std::int64_t state = 0;  // pods that fit; the pods given to it once chosen
  };

  // findBestFitDomainBy: the first domain with the lowest state that still holds `needed`;
  // the first domain when none does.
  static std::size_t BestFit(const std::vector<Domain>& domains, std::size_t from,
                             std::int64_t needed) {
    std::size_t best = from;
    for (std::size_t i = from; i < domains.size(); ++i) {
      if (domains[i].state >= needed && domains[i].state < domains[best].state) best = i;
    }
    return best;
  }

  static void SortDomains(std::vector<Domain>& domains) {
    std::stable_sort(domains.begin(), domains.end(), [](const Domain& a, const Domain& b) {
      if (a.state != b.state) return a.state > b.state;
      return a.id < b.id;
    });
  }

  // updateCountsToMinimumGeneric (one pod per slice, no leader).
  static std::vector<Domain> UpdateCountsToMinimum(std::vector<Domain> domains,
                                                   std::int64_t count) {
    std::vector<Domain> result;
    std::int64_t remaining = count;
    for (std::size_t i = 0; i < domains.size() && remaining > 0; ++i) {
      Domain d = domains[i];
      if (d.state >= remaining) {
        d = domains[BestFit(domains, i, remaining)];
        d.state = remaining;
        result.push_back(d);
        return result;
      }
      remaining -= d.state;
      result.push_back(d);
    }
    return result;
  }

  std::optional<std::vector<std::pair<std::size_t, std::int64_t>>> AssignPodSet(
      const NodeTopology& topo, const std::vector<Resources>& free, const Resources& req,
      std::int64_t count) const {
    // Phase 1: the counts per domain.
    std::vector<std::int64_t> node_state(free.size());
    std::vector<std::int64_t> rack_state(topo.rack_nodes.size(), 0);
    std::vector<std::int64_t> block_state(topo.block_racks.size(), 0);
    for (std::size_t n = 0; n < free.size(); ++n) {
      node_state[n] = CountIn(free[n], req);
      rack_state[static_cast<std::size_t>(topo.rack[n])] += node_state[n];
      block_state[static_cast<std::size_t>(topo.block[n])] += node_state[n];
    }
    auto at_level = [&](int level) {
      std::vector<Domain> out;
      const auto& states = level == kRack ? rack_state : block_state;
      for (std::size_t i = 0; i < states.size(); ++i) out.push_back({level, i, states[i]});
      SortDomains(out);
      return out;
    };
    // Phase 2a: the level and domains that fit, from the requested level (rack) up.
    std::vector<Domain> fit;
    for (int level = kRack; level >= kBlock && fit.empty(); --level) {
      std::vector<Domain> sorted = at_level(level);
      if (sorted.empty()) return std::nullopt;
      if (sorted.front().state >= count) {
        fit.push_back(sorted[BestFit(sorted, 0, count)]);
        break;
      }
      if (required_) return std::nullopt;
      if (level > kBlock) continue;
      std::int64_t remaining = count;
      for (std::size_t i = 0; i < sorted.size() && remaining > 0; ++i) {
        Domain d = sorted[i];
        if (d.state >= remaining) d = sorted[BestFit(sorted, i, remaining)];
        fit.push_back(d);
        remaining -= d.state;
      }
      if (remaining > 0) return std::nullopt;
    }
    // Phase 2b: down to the nodes, fewest domains at each level.
    fit = UpdateCountsToMinimum(fit, count);
    while (!fit.empty() && fit.front().level != kNode) {
      std::vector<Domain> children;
      for (const Domain& d : fit) {
        if (d.level == kBlock) {
          for (const int r : topo.block_racks[d.id]) {
            children.push_back(
                {kRack, static_cast<std::size_t>(r), rack_state[static_cast<std::size_t>(r)]});
          }
        } else {
          for (const std::size_t n : topo.rack_nodes[d.id])
            children.push_back({kNode, n, node_state[n]});
        }
      }
      SortDomains(children);
      fit = UpdateCountsToMinimum(children, count);
    }
    std::int64_t assigned = 0;
    std::map<std::size_t, std::int64_t> by_node;
    for (const Domain& d : fit) {
      by_node[d.id] += d.state;
      assigned += d.state;
    }
    if (assigned != count) return std::nullopt;  // cannot happen when the counts add up
    return std::vector<std::pair<std::size_t, std::int64_t>>(by_node.begin(), by_node.end());
  }

  bool required_;
};

// ---- volcano-hypernode --------------------------------------------------------------------------

// Volcano network-topology-aware scheduling, hard mode (volcano-sh/volcano v1.16.0-alpha.1-42,
// commit ed72c7c8: pkg/scheduler/actions/allocate/allocate.go allocateForJob,
// pkg/scheduler/plugins/network-topology-aware/network_topology_aware.go hyperNodeGradientFn,
// HyperNodeOrderFn, pkg/scheduler/plugins/binpack/binpack.go BinPackingScore; docs/design/Network
// Topology Aware Scheduling.md). HyperNodes: tier 1 = a rack, tier 2 = a block; the job's
// networkTopology is mode hard, highestTierAllowed 2 (the configuration chosen here):
// 1. Gradients: the HyperNodes of tier 1, then tier 2, whose idle resources hold the job's.
// 2. In each HyperNode of a tier, a dry run allocates every task (minAvailable = all pods), task
//    by task, on the node with the highest score: binpack (cpu, memory and nvidia.com/gpu, weight
//    1 each: (used + request) / allocatable over the resources the task requests, times 100)
//    plus network-topology-aware's task-count score (100 x the job's tasks already in the
//    node's tier-1 HyperNode / its tasks), ties at random.
// 3. Among the HyperNodes of the lowest tier where the whole job fits, the one with the highest
//    HyperNode binpacking score ((used + job request) / allocatable averaged over cpu, memory and
//    nvidia.com/gpu) wins, ties at random (SelectBestHyperNodeAndScore).
// No HyperNode of tier <= 2 fits: the job waits. Queues, DRF, preemption and soft mode are not
// modelled; nodeorder is not enabled (binpack only).
class VolcanoHyperNodeProfile final : public GroupProfile {
 public:
  VolcanoHyperNodeProfile() : GroupProfile("volcano-hypernode") {}

  std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& view, const std::vector<GroupPod>& pods) const override {
    const std::vector<Resources> free = FreeOf(view);
    Resources job;
    for (const GroupPod& p : pods) job += p.requests;
    const NodeTopology& topo = view.topology;
    for (int tier = 1; tier <= kHighestTierAllowed; ++tier) {
      // The tier's HyperNodes and their nodes.
      std::vector<std::vector<std::size_t>> hyper;
      if (tier == 1) {
        hyper = topo.rack_nodes;
      } else {
        for (std::size_t b = 0; b < topo.block_racks.size(); ++b) {
          hyper.push_back(BlockNodes(topo, b));
        }
      }
      Pick pick;
      std::vector<std::vector<std::size_t>> found(hyper.size());
      for (std::size_t h = 0; h < hyper.size(); ++h) {
        Resources idle, allocatable, used;
        for (const std::size_t n : hyper[h]) {
          idle += free[n];
          allocatable += view.nodes[n].allocatable;
          used += view.requested[n];
        }
        if (!Covers(idle, job)) continue;  // isEligibleHyperNode
        auto placed = DryRun(view, pods, hyper[h], free);
        if (!placed) continue;
        found[h] = std::move(*placed);
        pick.Offer(h, HyperNodeBinPackScore(allocatable, used, job), view.rng);
      }
      if (pick.best) return found[*pick.best];
    }
    return std::nullopt;
  }

 private:
  static constexpr int kHighestTierAllowed = 2;

  static bool Covers(const Resources& idle, const Resources& job) {
    return job.milli_cpu <= idle.milli_cpu && job.memory_bytes <= idle.memory_bytes &&
           job.gpus <= idle.gpus;
  }

  // The mean over the resources requested of (used + request) / allocatable; 0 when over.
  static double Ratio(const Resources& allocatable, const Resources& used, const Resources& req) {
    double sum = 0;
    int count = 0;
    bool over = false;
    auto add = [&](std::int64_t cap, std::int64_t u, std::int64_t r) {
      if (r <= 0 || cap <= 0) return;
      over = over || u + r > cap;
      sum += static_cast<double>(u + r) / static_cast<double>(cap);
      ++count;
    };
    add(allocatable.milli_cpu, used.milli_cpu, req.milli_cpu);
    add(allocatable.memory_bytes, used.memory_bytes, req.memory_bytes);
    add(allocatable.gpus, used.gpus, req.gpus);
    return over || count == 0 ? 0.0 : sum / count;
  }

  static double HyperNodeBinPackScore(const Resources& allocatable, const Resources& used,
                                      const Resources& job) {
    return Ratio(allocatable, used, job);
  }

  static std::optional<std::vector<std::size_t>> DryRun(const GroupView& view,
                                                        const std::vector<GroupPod>& pods,
                                                        const std::vector<std::size_t>& nodes,
                                                        const std::vector<Resources>& free) {
    std::map<std::size_t, Resources> taken;  // node -> this job's requests there
    std::map<int, int> in_rack;              // rack -> this job's tasks there
    std::vector<std::size_t> out;
    for (const GroupPod& pod : pods) {
      Pick pick;
      for (const std::size_t n : nodes) {
        Resources left = free[n];
        const auto t = taken.find(n);
        if (t != taken.end()) left -= t->second;
        if (!left.Fits(pod.requests)) continue;
        const Resources& alloc = view.nodes[n].allocatable;
        const double binpack = 100.0 * Ratio(alloc, alloc - left, pod.requests);
        const auto r = in_rack.find(view.topology.rack[n]);
        const double task_num =
            r == in_rack.end() ? 0.0 : 100.0 * r->second / static_cast<double>(pods.size());
        pick.Offer(n, binpack + task_num, view.rng);
      }
      if (!pick.best) return std::nullopt;
      taken[*pick.best] += pod.requests;
      ++in_rack[view.topology.rack[*pick.best]];
      out.push_back(*pick.best);
    }
    return out;
  }
};

// ---- kai ----------------------------------------------------------------------------------------

// KAI Scheduler topology-aware scheduling (NVIDIA/KAI-Scheduler v0.13.0-rc1-142, commit 72de64fc:
// docs/topology/README.md, pkg/scheduler/plugins/topology/job_filtering.go subSetNodesFn,
// getJobAllocatableDomains, sortTree, getJobRatioToFreeResources, node_scoring.go
// calculateNodeScores, pkg/scheduler/actions/common/allocate.go, plugins/nodeplacement/pack.go).
// The job (one PodGroup) has topology-required-placement = block and
// topology-preferred-placement = rack (the configuration chosen here):
// 1. Domains at the levels from the preferred up to the required one (racks, then blocks) that
//    fit the job: by pods (AllocatablePods, the number of the job's largest pod that fit, summed)
//    when every pod asks GPUs or none does, else by the job's total request against the domain's
//    idle resources.
// 2. They are tried in the order of the sorted tree, racks before blocks: each domain's children
//    sorted by the job's dominant-resource ratio to their free resources, highest (fullest)
//    first (bin-packing). The first domain where every task fits wins.
// 3. Inside it, task by task, the node with the highest score: the topology score of its rack
//    (racks in the sorted order get floor((i+1)/n*10), so the emptiest racks first, which keeps
//    the pods together) well above the binpack score (fewest free GPUs, or CPUs for a CPU-only
//    pod); ties at random.
// No domain fits: the job waits. Queues, fair share, reclaim and subgroups are not modelled.
class KaiProfile final : public GroupProfile {
 public:
  KaiProfile() : GroupProfile("kai") {}

  std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& view, const std::vector<GroupPod>& pods) const override {
    const NodeTopology& topo = view.topology;
    const std::vector<Resources> free = FreeOf(view);
    Resources job, largest;
    int with_gpus = 0;
    for (const GroupPod& p : pods) {
      job += p.requests;
      largest.milli_cpu = std::max(largest.milli_cpu, p.requests.milli_cpu);
      largest.memory_bytes = std::max(largest.memory_bytes, p.requests.memory_bytes);
      largest.gpus = std::max(largest.gpus, p.requests.gpus);
      largest.pods = std::max(largest.pods, p.requests.pods);
      if (p.requests.gpus > 0) ++with_gpus;
    }
    const bool by_pods = with_gpus == 0 || with_gpus == static_cast<int>(pods.size());
    // Free resources and allocatable pods per rack and block.
    std::vector<Resources> rack_free(topo.rack_nodes.size()), block_free(topo.block_racks.size());
    std::vector<std::int64_t> rack_pods(rack_free.size(), 0), block_pods(block_free.size(), 0);
    for (std::size_t n = 0; n < free.size(); ++n) {
      const auto r = static_cast<std::size_t>(topo.rack[n]);
      const auto b = static_cast<std::size_t>(topo.block[n]);
      rack_free[r] += free[n];
      block_free[b] += free[n];
      const std::int64_t fit = CountIn(free[n], largest);
      rack_pods[r] += fit;
      block_pods[b] += fit;
    }
    const auto count = static_cast<std::int64_t>(pods.size());
    auto fits = [&](const Resources& f, std::int64_t allocatable_pods) {
      return by_pods ? allocatable_pods >= count : RatioToFree(job, f) <= 1.0;
    };
    // The sorted tree: blocks, and the racks of each block, fullest for this job first.
    auto sorted = [&](std::vector<std::size_t> ids, const std::vector<Resources>& frees) {
      std::stable_sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
        const double ra = RatioToFree(job, frees[a]), rb = RatioToFree(job, frees[b]);
        if (ra != rb) return ra > rb;
        return a < b;
      });
      return ids;
    };
    std::vector<std::size_t> blocks(block_free.size());
    for (std::size_t b = 0; b < blocks.size(); ++b) blocks[b] = b;
    blocks = sorted(blocks, block_free);
    std::vector<std::size_t> racks;  // level order: the racks of each block, blocks in order
    for (const std::size_t b : blocks) {
      std::vector<std::size_t> rs;
      for (const int r : topo.block_racks[b]) rs.push_back(static_cast<std::size_t>(r));
      rs = sorted(rs, rack_free);
      racks.insert(racks.end(), rs.begin(), rs.end());
    }
    // calculateNodeScores at the preferred level (rack).
    std::vector<double> rack_score(rack_free.size(), 0);
    for (std::size_t i = 0; i < racks.size(); ++i) {
      rack_score[racks[i]] = std::floor(static_cast<double>(i + 1) / racks.size() * 10);
    }
    // Candidate domains: racks before blocks, each level in the sorted tree's order.
    std::vector<std::vector<std::size_t>> candidates;
    for (const std::size_t r : racks) {
      if (fits(rack_free[r], rack_pods[r])) candidates.push_back(topo.rack_nodes[r]);
    }
    for (const std::size_t b : blocks) {
      if (fits(block_free[b], block_pods[b])) candidates.push_back(BlockNodes(topo, b));
    }
    for (const auto& nodes : candidates) {
      std::vector<Resources> scratch = free;
      std::vector<std::size_t> out;
      for (const GroupPod& pod : pods) {
        Pick pick;
        for (const std::size_t n : nodes) {
          if (!scratch[n].Fits(pod.requests)) continue;
          // pack.go: fewer non-allocated units of the job's resource type score higher.
          const double left = pod.requests.gpus > 0 ? static_cast<double>(scratch[n].gpus)
                                                    : static_cast<double>(scratch[n].milli_cpu);
          pick.Offer(n, rack_score[static_cast<std::size_t>(topo.rack[n])] * 1e9 - left, view.rng);
        }
        if (!pick.best) break;
        scratch[*pick.best] -= pod.requests;
        out.push_back(*pick.best);
      }
      if (out.size() == pods.size()) return out;
    }
    return std::nullopt;
  }

 private:
  // getJobRatioToFreeResources: the job's dominant share of the domain's free resources (1000 for
  // a resource the domain has none of); above 1 it cannot fit.
  static double RatioToFree(const Resources& job, const Resources& free) {
    double ratio = 0;
    auto dim = [&](std::int64_t want, std::int64_t have) {
      if (want <= 0) return;
      ratio = std::max(ratio,
                       have <= 0 ? 1000.0 : static_cast<double>(want) / static_cast<double>(have));
    };
    dim(job.gpus, free.gpus);
    dim(job.milli_cpu, free.milli_cpu);
    dim(job.memory_bytes, free.memory_bytes);
    return ratio;
  }
};

}  // namespace

std::vector<std::string> PeerPolicyNames() {
  return {"kueue-tas", "kueue-tas-preferred", "volcano-hypernode",
          "kai",       "native-tas",          "gang-binpack-model"};
}

std::unique_ptr<KubeProfile> MakePeerProfile(std::string_view name) {
  if (name == "kueue-tas") return std::make_unique<KueueTasProfile>("kueue-tas", true);
  if (name == "kueue-tas-preferred") {
    return std::make_unique<KueueTasProfile>("kueue-tas-preferred", false);
  }
  if (name == "volcano-hypernode") return std::make_unique<VolcanoHyperNodeProfile>();
  if (name == "kai") return std::make_unique<KaiProfile>();
  if (name == "native-tas") return std::make_unique<NativeTasProfile>();
  if (name == "gang-binpack-model") return std::make_unique<GangBinpackProfile>();
  return nullptr;
}

}  // namespace gangsched::sim
