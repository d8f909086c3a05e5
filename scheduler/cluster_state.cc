#include "scheduler/cluster_state.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace gangsched::scheduler {

namespace {

std::uint64_t Bit(int gpu) { return gpu >= 0 && gpu < 64 ? (std::uint64_t{1} << gpu) : 0; }

std::uint64_t AllGpus(std::int64_t count) {
  if (count >= 64) return ~std::uint64_t{0};
  return count <= 0 ? 0 : (std::uint64_t{1} << count) - 1;
}

}  // namespace

// A node name's hash: 8 bytes at a time, a multiply and shift each (splitmix64's finaliser).
std::uint64_t ClusterState::NameIndex::Hash(std::string_view s) {
  auto mix = [](std::uint64_t h) {
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
  };
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ s.size();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    h = mix(h ^ v);
  }
  if (i < s.size()) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + i, s.size() - i);
    h = mix(h ^ v);
  }
  return h;
}

namespace {}  // namespace

tl::expected<ClusterState, std::string> ClusterState::Create(std::vector<Node> nodes,
                                                             const StateOptions& options) {
  ClusterState state;
  auto by_name = std::make_shared<NameIndex>();
  by_name->slots.assign(std::bit_ceil(std::max<std::size_t>(16, 2 * nodes.size())), 0);
  by_name->starts.reserve(nodes.size() + 1);
  by_name->starts.push_back(0);
  std::vector<topology::NodeInput> inputs;
  inputs.reserve(nodes.size());
  auto gpu_topologies = std::make_shared<std::vector<topology::GpuTopology>>();
  gpu_topologies->reserve(nodes.size());
  // Identical matrices (the common case: one per GPU model) are parsed once.
  std::map<std::string, topology::GpuTopology> parsed;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    if (node.name.empty()) return tl::unexpected("node #" + std::to_string(i) + " has no name");
    if (by_name->Find(node.name)) {
      return tl::unexpected("node " + node.name + " appears twice in the inventory");
    }
    const std::uint64_t hash = NameIndex::Hash(node.name);
    const std::size_t mask = by_name->slots.size() - 1;
    std::size_t slot = hash & mask;
    while (by_name->slots[slot] != 0) slot = (slot + 1) & mask;
    by_name->slots[slot] = (hash >> 32 << 32) | (i + 1);
    by_name->names += node.name;
    by_name->starts.push_back(static_cast<std::uint32_t>(by_name->names.size()));
    if (node.allocatable.gpus > 64) {
      return tl::unexpected("node " + node.name + " has " + std::to_string(node.allocatable.gpus) +
                            " GPUs; gangsched supports at most 64 per node");
    }
    const int gpus = static_cast<int>(node.allocatable.gpus);
    topology::GpuTopology gpu_topology = topology::GpuTopology::Uniform(gpus);
    if (auto it = node.annotations.find(kGpuTopologyAnnotation); it != node.annotations.end()) {
      auto cached = parsed.find(it->second);
      if (cached == parsed.end()) {
        auto result = topology::ParseNvidiaSmiTopo(it->second);
        if (!result) {
          return tl::unexpected("node " + node.name + ": annotation " + kGpuTopologyAnnotation +
                                " line " + std::to_string(result.error().line) + ": " +
                                result.error().message);
        }
        cached = parsed.emplace(it->second, std::move(*result)).first;
      }
      gpu_topology = cached->second;
    } else if (auto product = node.labels.find("nvidia.com/gpu.product");
               product != node.labels.end()) {
      if (auto def = options.default_gpu_topology.find(product->second);
          def != options.default_gpu_topology.end()) {
        gpu_topology = def->second;
      }
    }
    if (gpu_topology.gpu_count() != gpus) {
      // The matrix describes a different GPU count than the node advertises: trust the count.
      if (gpus > 0 && gpu_topology.gpu_count() != 0) {
        return tl::unexpected("node " + node.name + " advertises " + std::to_string(gpus) +
                              " GPUs but its GPU topology matrix has " +
                              std::to_string(gpu_topology.gpu_count()));
      }
      gpu_topology = topology::GpuTopology::Uniform(gpus);
    }
    gpu_topologies->push_back(std::move(gpu_topology));
    inputs.push_back({node.name, node.labels, gpus});
  }
  auto topo = std::make_shared<topology::ClusterTopology>(
      topology::ClusterTopology::Build(inputs, options.levels));
  std::vector<int> free(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    free[i] = static_cast<int>(std::max<std::int64_t>(0, nodes[i].allocatable.gpus));
  }
  state.capacity_ = topology::CapacityIndex(*topo, free);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].unschedulable) state.capacity_.SetFree(*topo, static_cast<int>(i), 0);
  }
  state.usage_.assign(nodes.size(), NodeUsage{});
  state.nodes_ = std::make_shared<const std::vector<Node>>(std::move(nodes));
  state.by_name_ = std::move(by_name);
  state.topology_ = std::move(topo);
  state.gpu_topologies_ = std::move(gpu_topologies);
  return state;
}

std::optional<std::size_t> ClusterState::NameIndex::Find(std::string_view name,
                                                         std::uint64_t hash) const {
  const std::uint64_t tag = hash >> 32 << 32;
  const std::size_t mask = slots.size() - 1;
  for (std::size_t slot = hash & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
    if ((slots[slot] & ~std::uint64_t{0xffffffff}) != tag) continue;
    const std::size_t i = (slots[slot] & 0xffffffff) - 1;
    if (std::string_view(names).substr(starts[i], starts[i + 1] - starts[i]) == name) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> ClusterState::FindNode(std::string_view name) const {
  return by_name_->Find(name);
}

std::vector<std::int64_t> ClusterState::FindNodes(const std::vector<std::string>& names) const {
  constexpr std::size_t kAhead = 8;  // lookups in flight
  const NameIndex& index = *by_name_;
  const std::size_t mask = index.slots.size() - 1;
  std::uint64_t hashes[kAhead];
  std::vector<std::int64_t> out(names.size(), -1);
  for (std::size_t i = 0; i < names.size() + kAhead; ++i) {
    if (i >= kAhead) {
      const std::size_t at = i - kAhead;
      if (auto n = index.Find(names[at], hashes[at % kAhead])) {
        out[at] = static_cast<std::int64_t>(*n);
      }
    }
    if (i < names.size()) {
      hashes[i % kAhead] = NameIndex::Hash(names[i]);
      __builtin_prefetch(&index.slots[hashes[i % kAhead] & mask]);
    }
  }
  return out;
}

Resources ClusterState::Free(std::size_t i) const {
  return (*nodes_)[i].allocatable - usage_[i].used - usage_[i].held;
}

std::uint64_t ClusterState::FreeGpuMask(std::size_t i) const {
  return AllGpus((*nodes_)[i].allocatable.gpus) & ~usage_[i].gpus_taken;
}

void ClusterState::Apply(std::size_t node, const Resources& req, const std::vector<int>& gpu_ids,
                         int sign, bool held) {
  NodeUsage& u = usage_[node];
  Resources& bucket = held ? u.held : u.used;
  if (sign > 0) {
    bucket += req;
    for (int g : gpu_ids) u.gpus_taken |= Bit(g);
  } else {
    bucket -= req;
    for (int g : gpu_ids) u.gpus_taken &= ~Bit(g);
  }
  const Node& n = (*nodes_)[node];
  const std::int64_t free_gpus =
      n.unschedulable ? 0 : n.allocatable.gpus - u.used.gpus - u.held.gpus;
  capacity_.SetFree(*topology_, static_cast<int>(node),
                    static_cast<int>(std::max<std::int64_t>(0, free_gpus)));
}

bool ClusterState::AddPod(const Pod& pod) {
  if (!pod.HoldsCapacity()) return false;
  auto node = FindNode(pod.node_name);
  if (!node) return false;
  RemovePod(pod.uid);
  Resources req = pod.requests;
  req.pods = std::max<std::int64_t>(req.pods, 1);
  // GPU ids: the annotated ones when they are free and match the count; otherwise the lowest free
  // ones stand in (the device plugin chose; only the count is truth, DESIGN.md "GPU ids").
  std::vector<int> ids;
  const std::uint64_t free_mask = FreeGpuMask(*node);
  bool annotated_ok = static_cast<std::int64_t>(pod.gpu_ids.size()) == req.gpus;
  for (int g : pod.gpu_ids) annotated_ok = annotated_ok && (free_mask & Bit(g)) != 0;
  if (annotated_ok) {
    ids = pod.gpu_ids;
  } else {
    for (int g = 0; g < 64 && static_cast<std::int64_t>(ids.size()) < req.gpus; ++g) {
      if (free_mask & Bit(g)) ids.push_back(g);
    }
  }
  Apply(*node, req, ids, +1, false);
  pods_[pod.uid] = BoundPod{*node, req, std::move(ids), pod.priority, pod.namespace_name, pod.name};
  ++priorities_[pod.priority];
  return true;
}

bool ClusterState::RemovePod(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return false;
  Apply(it->second.node, it->second.requests, it->second.gpu_ids, -1, false);
  if (auto p = priorities_.find(it->second.priority); p != priorities_.end() && --p->second == 0) {
    priorities_.erase(p);
  }
  pods_.erase(it);
  return true;
}

std::optional<Pod> ClusterState::PodOf(const std::string& uid) const {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return std::nullopt;
  const BoundPod& bound = it->second;
  Pod pod;
  pod.uid = uid;
  pod.namespace_name = bound.namespace_name;
  pod.name = bound.name;
  pod.node_name = node(bound.node).name;
  pod.phase = PodPhase::kRunning;
  pod.requests = bound.requests;
  pod.gpu_ids = bound.gpu_ids;
  pod.priority = bound.priority;
  return pod;
}

void ClusterState::Hold(const Plan& plan) {
  Release(plan.gang);
  for (const auto& p : plan.pods) {
    if (auto node = FindNode(p.node)) {
      Resources req = p.requests;
      req.pods = std::max<std::int64_t>(req.pods, 1);
      Apply(*node, req, p.gpu_ids, +1, true);
    }
  }
  holds_[plan.gang] = plan;
}

void ClusterState::Release(const GangKey& gang) {
  auto it = holds_.find(gang);
  if (it == holds_.end()) return;
  for (const auto& p : it->second.pods) {
    if (auto node = FindNode(p.node)) {
      Resources req = p.requests;
      req.pods = std::max<std::int64_t>(req.pods, 1);
      Apply(*node, req, p.gpu_ids, -1, true);
    }
  }
  holds_.erase(it);
}

const Plan* ClusterState::HoldOf(const GangKey& gang) const {
  auto it = holds_.find(gang);
  return it == holds_.end() ? nullptr : &it->second;
}

std::int64_t ClusterState::TotalGpus() const {
  std::int64_t total = 0;
  for (const auto& n : *nodes_) total += n.allocatable.gpus;
  return total;
}

std::int64_t ClusterState::FreeGpus() const { return capacity_.DomainFree(0); }

}  // namespace gangsched::scheduler
