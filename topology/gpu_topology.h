// In-node GPU topology: the GPU-to-GPU link matrix of one node, as `nvidia-smi topo -m` prints it,
// and the choice of the best connected free GPU set for a request of k GPUs. Owns: parsing of the
// matrix text, pairwise link costs, GPU set selection. Pure: no I/O, no logging. It must not know
// about Kubernetes objects, nodes' names or the cluster graph.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace gangsched::topology {

// Link kinds of the `nvidia-smi topo -m` legend (reference/placement-quality.md §3a), best first.
enum class LinkKind : std::uint8_t { kSelf, kNvLink, kPix, kPxb, kPhb, kNode, kSys };

struct GpuLink {
  LinkKind kind = LinkKind::kSys;
  int nvlinks = 0;  // number of bonded NVLinks for kNvLink (the # of NV#), else 0
};

struct TopoParseError {
  int line = 0;    // 1-based line in the matrix text, 0 when not tied to a line
  int column = 0;  // 1-based column (character), 0 when not tied to a column
  std::string message;
};

// Immutable GPU graph of one node. GPUs are 0..gpu_count()-1 in matrix order.
class GpuTopology {
 public:
  GpuTopology() = default;
  // A node whose matrix is unknown: `count` GPUs, every pair kSys (nothing preferred).
  static GpuTopology Uniform(int count, GpuLink link = {});

  int gpu_count() const { return count_; }
  GpuLink Link(int a, int b) const;
  // PCIe locality of a pair, derived from the NIC columns and NUMA affinity even when the GPU-GPU
  // cell shows NV# (two GPUs PIX/PXB to the same NIC sit behind one PCIe switch): kPix/kPxb, kNode
  // or kSys.
  LinkKind PcieLink(int a, int b) const;
  // Cost of a pair, lower is better: NVLink (more links cheaper) < PIX < PXB < PHB < NODE < SYS;
  // ties among NVLink pairs are broken by PcieLink.
  std::int64_t PairCost(int a, int b) const;
  int NumaOf(int gpu) const;     // -1 when unknown
  std::string Describe() const;  // e.g. "8 GPUs, NV12 all pairs" — for plan output

  // Best connected set of k GPUs among those whose bit is set in `free_mask`: least sum of PairCost
  // over the set; ties broken by the lexicographically smallest ids. Empty when fewer than k are
  // free.
  std::vector<int> BestSet(std::uint64_t free_mask, int k) const;
  // Sum of PairCost over a set.
  std::int64_t SetCost(const std::vector<int>& gpus) const;

 private:
  friend tl::expected<GpuTopology, TopoParseError> ParseNvidiaSmiTopo(std::string_view text);
  int count_ = 0;
  std::vector<GpuLink> links_;  // count_ * count_
  std::vector<LinkKind> pcie_;  // count_ * count_
  std::vector<int> numa_;       // count_
};

// Parses a matrix as `nvidia-smi topo -m` prints it: tab- or space-aligned, optional NIC
// rows/columns, optional CPU/NUMA/GPU-NUMA affinity columns, optional legend below. Any GPU count
// up to 64.
tl::expected<GpuTopology, TopoParseError> ParseNvidiaSmiTopo(std::string_view text);

}  // namespace gangsched::topology
