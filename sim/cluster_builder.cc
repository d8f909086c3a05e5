#include "sim/cluster_builder.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace gangsched::sim {
namespace {

scheduler::Node MakeSimNode(std::string name, std::int64_t milli_cpu, std::int64_t memory,
                            std::int64_t gpus) {
  scheduler::Node node;
  node.name = std::move(name);
  node.allocatable = {milli_cpu, memory, gpus, 110};
  return node;
}

bool ParseInt(const std::string& text, std::int64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

constexpr std::int64_t kFatTreeBlockGpus = 512;

struct RawNode {
  std::string name;
  std::string model;
  std::int64_t milli_cpu = 0;
  std::int64_t memory = 0;
  std::int64_t gpus = 0;
};

}  // namespace

std::vector<scheduler::Node> MixedCluster(int blocks, int racks_per_block, int nodes_per_rack,
                                          const std::vector<int>& gpus_per_node) {
  const int largest = *std::max_element(gpus_per_node.begin(), gpus_per_node.end());
  std::vector<scheduler::Node> nodes;
  for (int b = 0; b < blocks; ++b) {
    for (int r = 0; r < racks_per_block; ++r) {
      const std::string block = "b" + std::to_string(b);
      const std::string rack = block + "-r" + std::to_string(r);
      const int gpus = gpus_per_node[static_cast<std::size_t>(r) % gpus_per_node.size()];
      const int count = nodes_per_rack * (largest / gpus);
      for (int n = 0; n < count; ++n) {
        auto node = MakeSimNode(rack + "-n" + std::to_string(n), 64'000, 512LL << 30, gpus);
        node.labels[kBlockLabel] = block;
        node.labels[kRackLabel] = rack;
        nodes.push_back(std::move(node));
      }
    }
  }
  return nodes;
}

std::vector<scheduler::Node> GeneratedCluster(int blocks, int racks_per_block, int nodes_per_rack,
                                              int gpus_per_node) {
  return MixedCluster(blocks, racks_per_block, nodes_per_rack, {gpus_per_node});
}

tl::expected<std::vector<scheduler::Node>, std::string> GeneratedClusterFromSpec(
    const std::string& spec) {
  const auto fail = [&spec]() {
    return tl::unexpected("cluster spec \"" + spec +
                          "\" is not BLOCKSxRACKSxNODESxGPUS with positive numbers (GPUs <= 64), "
                          "e.g. 2x2x4x8, or with several node shapes that divide the largest, "
                          "rack by rack, e.g. 2x8x8x8+4");
  };
  std::int64_t v[3] = {0, 0, 0};
  std::vector<int> shapes;
  std::istringstream in(spec);
  std::string part;
  int i = 0;
  while (std::getline(in, part, 'x')) {
    if (i < 3) {
      if (!ParseInt(part, v[i]) || v[i] < 1 || v[i] > 10'000) return fail();
    } else if (i == 3) {
      std::istringstream shape_in(part);
      std::string shape;
      while (std::getline(shape_in, shape, '+')) {
        std::int64_t g = 0;
        if (!ParseInt(shape, g) || g < 1 || g > 64) return fail();
        shapes.push_back(static_cast<int>(g));
      }
    } else {
      return fail();
    }
    ++i;
  }
  if (i != 4 || shapes.empty() || spec.back() == '+') return fail();
  const int largest = *std::max_element(shapes.begin(), shapes.end());
  for (int g : shapes) {
    if (largest % g != 0) return fail();
  }
  if (v[0] * v[1] * v[2] * (largest / *std::min_element(shapes.begin(), shapes.end())) >
      1'000'000) {
    return tl::unexpected("cluster spec \"" + spec + "\" has more than 1,000,000 nodes");
  }
  return MixedCluster(static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]),
                      shapes);
}

tl::expected<std::vector<scheduler::Node>, std::string> FatTreeCluster(std::int64_t gpus) {
  if (gpus < kFatTreeBlockGpus || gpus % kFatTreeBlockGpus != 0 || gpus > 1'000'000) {
    return tl::unexpected("fat:" + std::to_string(gpus) +
                          ": the GPU count must be a positive multiple of 512 (one block of 8 "
                          "racks of 64 GPUs), e.g. fat:1024, fat:4096, fat:8192");
  }
  return MixedCluster(static_cast<int>(gpus / kFatTreeBlockGpus), 8, 8, {8, 4});
}

std::optional<tl::expected<std::vector<scheduler::Node>, std::string>> ClusterFromSpec(
    const std::string& cluster) {
  if (cluster.rfind("gen:", 0) == 0) return GeneratedClusterFromSpec(cluster.substr(4));
  if (cluster.rfind("fat:", 0) == 0) {
    std::int64_t gpus = 0;
    if (!ParseInt(cluster.substr(4), gpus)) {
      return tl::unexpected("cluster spec \"" + cluster +
                            "\" is not fat:GPUS with GPUS a multiple of 512, e.g. fat:1024");
    }
    return FatTreeCluster(gpus);
  }
  return std::nullopt;
}

tl::expected<std::vector<scheduler::Node>, std::string> ReadAlibabaNodes(std::istream& in,
                                                                         const std::string& name,
                                                                         const RackLayout& layout) {
  if (layout.nodes_per_rack < 1 || layout.racks_per_block < 1) {
    return tl::unexpected(std::string("nodes per rack and racks per block must be >= 1"));
  }
  std::vector<RawNode> raw;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("sn,", 0) == 0) continue;  // v2023 header
    std::vector<std::string> f;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) f.push_back(field);
    RawNode node;
    std::int64_t cpu = 0, memory = 0, gpus = 0;
    bool ok = f.size() == 5;
    if (ok &&
        ParseInt(f[4], gpus)) {  // v2020: machine,gpu_type,cap_cpu(cores),cap_mem(GiB),cap_gpu
      ok = ParseInt(f[2], cpu) && ParseInt(f[3], memory);
      node = {f[0], f[1], cpu * 1000, memory << 30, gpus};
    } else if (ok) {  // v2023: sn,cpu_milli,memory_mib,gpu,model
      ok = ParseInt(f[1], cpu) && ParseInt(f[2], memory) && ParseInt(f[3], gpus);
      node = {f[0], f[4], cpu, memory << 20, gpus};
    }
    if (!ok || gpus < 0 || gpus > 64) {
      return tl::unexpected(
          name + ":" + std::to_string(line_no) +
          ": expected an Alibaba node row (v2023 sn,cpu_milli,memory_mib,gpu,model "
          "or v2020 machine,gpu_type,cap_cpu,cap_mem,cap_gpu)");
    }
    if (node.gpus > 0) raw.push_back(std::move(node));
  }
  if (raw.empty()) return tl::unexpected(name + ": no GPU nodes");
  std::int64_t total = 0;
  for (const auto& n : raw) total += n.gpus;
  if (layout.max_gpus > 0 && layout.max_gpus < total) {
    // Walk the file and take a node whenever the sample is behind its share of the GPUs seen so
    // far: keeps the file's mix of shapes and ends within one node of the target.
    std::vector<RawNode> sample;
    std::int64_t taken = 0, seen = 0;
    for (const auto& n : raw) {
      seen += n.gpus;
      if (taken * total < seen * layout.max_gpus) {
        sample.push_back(n);
        taken += n.gpus;
      }
    }
    raw = std::move(sample);
  }
  std::stable_sort(raw.begin(), raw.end(),
                   [](const RawNode& a, const RawNode& b) { return a.model < b.model; });
  std::vector<scheduler::Node> nodes;
  std::string rack_model;
  int rack = -1, in_rack = layout.nodes_per_rack;
  for (const auto& r : raw) {
    if (in_rack == layout.nodes_per_rack || r.model != rack_model) {  // a rack holds one shape
      ++rack;
      in_rack = 0;
      rack_model = r.model;
    }
    ++in_rack;
    auto node = MakeSimNode(r.name, r.milli_cpu, r.memory, r.gpus);
    const std::string block = "b" + std::to_string(rack / layout.racks_per_block);
    node.labels[kBlockLabel] = block;
    node.labels[kRackLabel] = block + "-r" + std::to_string(rack % layout.racks_per_block);
    node.labels[kGpuProductLabel] = r.model;
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace gangsched::sim
