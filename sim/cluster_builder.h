// Cluster inventories for the simulator: a generated tree (blocks x racks x nodes x GPUs, racks of
// one node shape, optionally several shapes rack by rack) and the Alibaba GPU node lists
// (cluster-trace-gpu-v2023 `openb_node_list_*.csv`, v2020 `pai_machine_spec.csv`) with a stated
// rack/block layout, since no public trace records racks (shared/data/SOURCES.md). Kubernetes
// NodeList files are decoded by k8s/ (cluster_file.h), not here.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/model.h"

namespace gangsched::sim {

inline constexpr const char* kRackLabel = "gangsched.io/rack";
inline constexpr const char* kBlockLabel = "gangsched.io/block";
inline constexpr const char* kGpuProductLabel = "nvidia.com/gpu.product";

// blocks x racks x nodes x gpus, named b<i>-r<j>-n<k>, labelled with gangsched.io/block and /rack;
// every node has 64 CPUs and 512 GiB.
std::vector<scheduler::Node> GeneratedCluster(int blocks, int racks_per_block, int nodes_per_rack,
                                              int gpus_per_node);

// blocks x racks_per_block racks, rack r of a block holding nodes of `gpus_per_node[r % k]` GPUs.
// Every rack holds the same GPUs, nodes_per_rack x the largest shape: a rack of smaller nodes has
// proportionally more of them (a leaf switch serves a fixed number of GPU NICs in a rail-optimised
// fabric). Each shape must divide the largest. A rack holds one shape, as servers are bought and
// racked by model (and as ReadAlibabaNodes racks the Alibaba list); every block mixes the shapes.
std::vector<scheduler::Node> MixedCluster(int blocks, int racks_per_block, int nodes_per_rack,
                                          const std::vector<int>& gpus_per_node);

// Parses "BxRxNxG" (e.g. "2x2x4x8") into a generated cluster, or "BxRxNxG1+G2+..." (e.g.
// "2x8x8x8+4") into a MixedCluster.
tl::expected<std::vector<scheduler::Node>, std::string> GeneratedClusterFromSpec(
    const std::string& spec);

// The fat tree of `gpus` GPUs the placement report uses ("fat:GPUS"): gpus / 512 blocks of 8
// racks of 64 GPUs, the racks alternating 8 nodes x 8 GPUs and 16 nodes x 4 GPUs (half the GPUs
// on each shape), i.e. "Bx8x8x8+4". `gpus` must be a positive multiple of 512.
tl::expected<std::vector<scheduler::Node>, std::string> FatTreeCluster(std::int64_t gpus);

// A cluster spec of the simulator's `--cluster`: "gen:SPEC" (GeneratedClusterFromSpec) or
// "fat:GPUS" (FatTreeCluster). Anything else is no spec (nullopt: a file name).
std::optional<tl::expected<std::vector<scheduler::Node>, std::string>> ClusterFromSpec(
    const std::string& cluster);

struct RackLayout {
  int nodes_per_rack = 8;
  int racks_per_block = 4;
  // Keep GPU nodes until this many GPUs are taken (0: all). The sample is every k-th GPU node of
  // the file in file order, k chosen so the sample reaches the target: it keeps the file's shape
  // mix.
  std::int64_t max_gpus = 0;
};

// Reads an Alibaba node list: v2023 `sn,cpu_milli,memory_mib,gpu,model` (with header) or v2020
// `machine,gpu_type,cap_cpu,cap_mem,cap_gpu` (no header; cap_cpu in cores, cap_mem in GiB).
// CPU-only nodes are dropped. Nodes are racked in order of (GPU model, file order), so a rack holds
// one shape, `nodes_per_rack` per rack and `racks_per_block` racks per block.
tl::expected<std::vector<scheduler::Node>, std::string> ReadAlibabaNodes(std::istream& in,
                                                                         const std::string& name,
                                                                         const RackLayout& layout);

}  // namespace gangsched::sim
