#include "topology/gpu_topology.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace gangsched::topology {

// For CHECK(link == expected); found by argument-dependent lookup, so not in the unnamed namespace.
bool operator==(GpuLink a, GpuLink b) { return a.kind == b.kind && a.nvlinks == b.nvlinks; }

std::ostream& operator<<(std::ostream& out, LinkKind kind) {
  static constexpr const char* kNames[] = {"X", "NV", "PIX", "PXB", "PHB", "NODE", "SYS"};
  return out << kNames[static_cast<int>(kind)];
}

std::ostream& operator<<(std::ostream& out, GpuLink link) {
  out << link.kind;
  if (link.kind == LinkKind::kNvLink) out << link.nvlinks;
  return out;
}

namespace {

using Ids = std::vector<int>;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Fixture(const std::string& name) {
  return ReadText(std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/topology/" + name);
}

std::string Shared(const std::string& name) {
  return ReadText(std::string(GANGSCHED_SHARED_DIR) + "/data/topology/" + name);
}

// `name` is a file in tests/fixtures/topology, or "shared:<file>" for shared/data/topology.
std::string Matrix(const std::string& name) {
  const std::string prefix = "shared:";
  return name.rfind(prefix, 0) == 0 ? Shared(name.substr(prefix.size())) : Fixture(name);
}

GpuTopology Parse(const std::string& text) {
  const tl::expected<GpuTopology, TopoParseError> topo = ParseNvidiaSmiTopo(text);
  if (!topo) {
    FAIL("parse error at " << topo.error().line << ":" << topo.error().column << ": "
                           << topo.error().message);
  }
  return *topo;
}

// What a terminal shows: tabs expanded to the next multiple of 8 columns.
std::string ExpandTabs(const std::string& text) {
  std::string out;
  std::size_t column = 0;
  for (const char c : text) {
    if (c == '\t') {
      do {
        out += ' ';
        ++column;
      } while (column % 8 != 0);
    } else {
      out += c;
      column = c == '\n' ? 0 : column + 1;
    }
  }
  return out;
}

std::string ToCrlf(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::uint64_t AllFree(int count) { return count == 64 ? ~0ULL : (1ULL << count) - 1; }

std::uint64_t FreeExcept(int count, const Ids& taken) {
  std::uint64_t mask = AllFree(count);
  for (const int g : taken) mask &= ~(1ULL << g);
  return mask;
}

void RequireSameTopology(const GpuTopology& a, const GpuTopology& b) {
  REQUIRE(a.gpu_count() == b.gpu_count());
  for (int i = 0; i < a.gpu_count(); ++i) {
    CHECK(a.NumaOf(i) == b.NumaOf(i));
    for (int j = 0; j < a.gpu_count(); ++j) {
      INFO("pair " << i << "," << j);
      CHECK(a.Link(i, j) == b.Link(i, j));
      CHECK(a.PcieLink(i, j) == b.PcieLink(i, j));
    }
  }
}

// A 2-GPU matrix whose only pair is `cell`.
std::string TwoGpus(const std::string& cell) {
  return "\tGPU0\tGPU1\nGPU0\t X \t" + cell + "\nGPU1\t" + cell + "\t X \n";
}

// `islands` groups of `size` GPUs, NV`nv` inside a group, SYS between groups; no NIC, no NUMA.
std::string Islands(int islands, int size, int nv) {
  const int n = islands * size;
  std::string text;
  for (int c = 0; c < n; ++c) text += "\tGPU" + std::to_string(c);
  text += '\n';
  for (int r = 0; r < n; ++r) {
    text += "GPU" + std::to_string(r);
    for (int c = 0; c < n; ++c) {
      text += '\t';
      text += r == c ? " X " : r / size == c / size ? "NV" + std::to_string(nv) : "SYS";
    }
    text += '\n';
  }
  return text;
}

}  // namespace

TEST_CASE("DGX A100 capture parses: NV12 everywhere, GPU pairs behind PCIe switches, NUMA") {
  const GpuTopology topo = Parse(Shared("dgx_a100_topo_m.tsv"));
  REQUIRE(topo.gpu_count() == 8);
  for (int a = 0; a < 8; ++a) {
    CHECK(topo.Link(a, a).kind == LinkKind::kSelf);
    for (int b = 0; b < 8; ++b) {
      if (a != b) CHECK(topo.Link(a, b) == GpuLink{LinkKind::kNvLink, 12});
    }
  }
  CHECK(std::vector<int>{topo.NumaOf(0), topo.NumaOf(1), topo.NumaOf(2), topo.NumaOf(3),
                         topo.NumaOf(4), topo.NumaOf(5), topo.NumaOf(6),
                         topo.NumaOf(7)} == Ids{3, 3, 1, 1, 7, 7, 5, 5});
  // Only the NIC columns show that GPU0/1, 2/3, 4/5, 6/7 share a PCIe switch (PXB to mlx5_*).
  CHECK(topo.PcieLink(0, 1) == LinkKind::kPxb);
  CHECK(topo.PcieLink(6, 7) == LinkKind::kPxb);
  CHECK(topo.PcieLink(0, 2) == LinkKind::kSys);
  CHECK(topo.PcieLink(3, 4) == LinkKind::kSys);
  CHECK(topo.PairCost(0, 1) < topo.PairCost(0, 2));
  CHECK(topo.Describe() == "8 GPUs, NV12 all pairs");
}

TEST_CASE("DGX A100 with GPUs 1 and 2 taken: a 2-GPU request gets a pair behind one switch") {
  const GpuTopology topo = Parse(Shared("dgx_a100_topo_m.tsv"));
  const Ids best = topo.BestSet(FreeExcept(8, {1, 2}), 2);
  CHECK((best == Ids{4, 5} || best == Ids{6, 7}));
  CHECK(best == Ids{4, 5});  // deterministic: smallest ids among equals
  // Never the lowest-numbered free pair, which is on two sockets.
  CHECK(topo.SetCost({0, 3}) > topo.SetCost(best));
}

TEST_CASE("HGX H100 capture parses: NV18 everywhere, same NUMA means kNode") {
  const GpuTopology topo = Parse(Shared("hgx_h100_topo_m_gpu_rows.tsv"));
  REQUIRE(topo.gpu_count() == 8);
  for (int a = 0; a < 8; ++a) {
    CHECK(topo.NumaOf(a) == (a < 4 ? 0 : 1));
    for (int b = 0; b < 8; ++b) {
      if (a == b) continue;
      CHECK(topo.Link(a, b) == GpuLink{LinkKind::kNvLink, 18});
      // One NIC per GPU, so no two GPUs share a switch: NUMA decides.
      CHECK(topo.PcieLink(a, b) == (a / 4 == b / 4 ? LinkKind::kNode : LinkKind::kSys));
    }
  }
  CHECK(topo.Describe() == "8 GPUs, NV18 all pairs");
  CHECK(topo.BestSet(AllFree(8), 4) == Ids{0, 1, 2, 3});
  // With GPU0 taken, the other socket's four beat three on NUMA 0 plus one across.
  CHECK(topo.BestSet(FreeExcept(8, {0}), 4) == Ids{4, 5, 6, 7});
}

TEST_CASE(
    "every matrix parses the same when pasted space-aligned, with CRLF, blank lines, legend") {
  const std::string name = GENERATE(
      as<std::string>{}, "shared:dgx_a100_topo_m.tsv", "shared:hgx_h100_topo_m_gpu_rows.tsv",
      "pcie_2gpu_pix.tsv", "pcie_4gpu_pix_pairs.txt", "nv_partial_4gpu.tsv",
      "dgx1_v100_cube_mesh.tsv", "dgx2_16gpu_nv6.tsv", "pcie_8gpu_no_nvlink.tsv");
  INFO(name);
  const std::string text = Matrix(name);
  const GpuTopology original = Parse(text);
  SECTION("tabs expanded to spaces as a terminal shows them") {
    RequireSameTopology(Parse(ExpandTabs(text)), original);
  }
  SECTION("CRLF line endings, leading blank lines, trailing spaces, legend after the matrix") {
    std::string messy = "\n\n   \n";
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) messy += line + "   \n";
    messy += "\nLegend:\n\n" + Shared("legend.txt") + "\nNIC Legend:\n\n  NIC0: mlx5_0\n";
    RequireSameTopology(Parse(ToCrlf(messy)), original);
  }
}

TEST_CASE("NUMA affinity: read when the header has it, -1 when unknown") {
  const auto [text, numa0, numa1] = GENERATE(table<std::string, int, int>({
      {TwoGpus("PIX"), -1, -1},  // no affinity columns at all
      {"\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tSYS\t0-7\nGPU1\tSYS\t X \t8-15\n", -1, -1},
      {"\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n"
       "GPU0\t X \tSYS\t0-7\t0-1\nGPU1\tSYS\t X \t8-15\tN/A\n",
       0, -1},
      // nvidia-smi underlines the header with escape codes when it writes to a terminal.
      {"\t\x1b[4mGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\x1b[0m\n"
       "GPU0\t X \tSYS\t0-7\t2\nGPU1\tSYS\t X \t8-15\t3\n",
       2, 3},
  }));
  INFO(text);
  const GpuTopology topo = Parse(text);
  CHECK(topo.NumaOf(0) == numa0);
  CHECK(topo.NumaOf(1) == numa1);
  CHECK(topo.NumaOf(2) == -1);  // no such GPU
  // A PCIe cell is the pair's PCIe locality whatever the NUMA column says.
  CHECK(topo.PcieLink(0, 1) == topo.Link(0, 1).kind);
}

TEST_CASE("hand-written matrices: GPU count and description") {
  const auto [name, count, description] = GENERATE(table<std::string, int, std::string>({
      {"pcie_2gpu_pix.tsv", 2, "2 GPUs, PCIe only (PIX)"},
      {"pcie_4gpu_pix_pairs.txt", 4, "4 GPUs, PCIe only (PIX/PHB)"},
      {"nv_partial_4gpu.tsv", 4, "4 GPUs, NVLink NV4 partial, PCIe otherwise"},
      {"dgx1_v100_cube_mesh.tsv", 8, "8 GPUs, NVLink NV1\u2013NV2 partial, PCIe otherwise"},
      {"dgx2_16gpu_nv6.tsv", 16, "16 GPUs, NV6 all pairs"},
      {"pcie_8gpu_no_nvlink.tsv", 8, "8 GPUs, PCIe only (NODE/SYS)"},
  }));
  INFO(name);
  const GpuTopology topo = Parse(Fixture(name));
  CHECK(topo.gpu_count() == count);
  CHECK(topo.Describe() == description);
}

TEST_CASE("DGX-1 V100 hybrid cube-mesh: partial NVLink, PCIe pairs from the NIC columns") {
  const GpuTopology topo = Parse(Fixture("dgx1_v100_cube_mesh.tsv"));
  CHECK(topo.Link(0, 3) == GpuLink{LinkKind::kNvLink, 2});
  CHECK(topo.Link(0, 1) == GpuLink{LinkKind::kNvLink, 1});
  CHECK(topo.Link(0, 6) == GpuLink{LinkKind::kSys, 0});  // no NVLink between GPU0 and GPU6
  CHECK(topo.PcieLink(0, 1) == LinkKind::kPix);          // both PIX to mlx5_0
  CHECK(topo.PcieLink(0, 2) == LinkKind::kNode);         // same socket, different switch
  CHECK(topo.PcieLink(0, 6) == LinkKind::kSys);
  CHECK(topo.NumaOf(3) == 0);
  CHECK(topo.NumaOf(4) == 1);

  SECTION("a 4-GPU request gets a fully connected quad") {
    CHECK(topo.BestSet(AllFree(8), 4) == Ids{0, 1, 2, 3});
    CHECK(topo.BestSet(FreeExcept(8, {2}), 4) == Ids{4, 5, 6, 7});
  }
  SECTION("a 2-GPU request gets a double NVLink behind one switch") {
    CHECK(topo.BestSet(AllFree(8), 2) == Ids{2, 3});
    CHECK(topo.BestSet(FreeExcept(8, {2, 3}), 2) == Ids{6, 7});
  }
  SECTION("an 8-GPU request takes the whole box, 9 cannot fit") {
    CHECK(topo.BestSet(AllFree(8), 8) == Ids{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(topo.BestSet(AllFree(8), 9).empty());
  }
}

TEST_CASE("PCIe-only boxes: a 2-GPU request gets GPUs behind one switch") {
  const GpuTopology two = Parse(Fixture("pcie_2gpu_pix.tsv"));
  CHECK(two.Link(0, 1) == GpuLink{LinkKind::kPix, 0});
  CHECK(two.PcieLink(0, 1) == LinkKind::kPix);
  CHECK(two.BestSet(AllFree(2), 2) == Ids{0, 1});

  const GpuTopology four = Parse(Fixture("pcie_4gpu_pix_pairs.txt"));
  CHECK(four.BestSet(AllFree(4), 2) == Ids{0, 1});
  CHECK(four.BestSet(FreeExcept(4, {0}), 2) == Ids{2, 3});  // not the PHB pair {1, 2}
  CHECK(four.NumaOf(2) == 0);
}

TEST_CASE("8 GPUs without NVLink: requests stay within a socket") {
  const GpuTopology topo = Parse(Fixture("pcie_8gpu_no_nvlink.tsv"));
  CHECK(topo.Link(0, 3) == GpuLink{LinkKind::kNode, 0});
  CHECK(topo.Link(3, 4) == GpuLink{LinkKind::kSys, 0});
  CHECK(topo.NumaOf(5) == 1);  // read past the empty field and "GPU NUMA ID" column
  CHECK(topo.BestSet(AllFree(8), 4) == Ids{0, 1, 2, 3});
  CHECK(topo.BestSet(FreeExcept(8, {1}), 4) == Ids{4, 5, 6, 7});
  CHECK(topo.BestSet(FreeExcept(8, {0, 1, 2}), 2) == Ids{4, 5});
}

TEST_CASE("NV-partial workstation: NVLink-bridged pairs win") {
  const GpuTopology topo = Parse(Fixture("nv_partial_4gpu.tsv"));
  CHECK(topo.Link(2, 3) == GpuLink{LinkKind::kNvLink, 4});
  CHECK(topo.Link(1, 2) == GpuLink{LinkKind::kSys, 0});
  CHECK(topo.PcieLink(0, 1) == LinkKind::kNode);  // NV4 bridge, no NIC: NUMA 0 for both
  CHECK(topo.PcieLink(1, 2) == LinkKind::kSys);
  CHECK(topo.BestSet(FreeExcept(4, {0}), 2) == Ids{2, 3});
  CHECK(topo.BestSet(AllFree(4), 3) == Ids{0, 1, 2});
}

TEST_CASE("DGX-2: 16 GPUs on NVSwitch, sets follow the PCIe tree") {
  const GpuTopology topo = Parse(Fixture("dgx2_16gpu_nv6.tsv"));
  CHECK(topo.Link(0, 15) == GpuLink{LinkKind::kNvLink, 6});
  CHECK(topo.PcieLink(0, 1) == LinkKind::kPix);
  CHECK(topo.PcieLink(0, 2) == LinkKind::kPxb);
  CHECK(topo.PcieLink(0, 4) == LinkKind::kNode);
  CHECK(topo.PcieLink(0, 8) == LinkKind::kSys);
  CHECK(topo.BestSet(AllFree(16), 8) == Ids{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(topo.BestSet(FreeExcept(16, {0}), 4) == Ids{4, 5, 6, 7});
  CHECK(topo.BestSet(FreeExcept(16, {0, 9}), 8) == Ids{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("PairCost orders links NV18 < NV12 < NV2 < NV1 < PIX < PXB < PHB < NODE < SYS") {
  const std::vector<std::string> order = {"NV18", "NV12", "NV2",  "NV1", "PIX",
                                          "PXB",  "PHB",  "NODE", "SYS"};
  const std::size_t i = GENERATE(range<std::size_t>(0, 8));
  INFO(order[i] << " vs " << order[i + 1]);
  CHECK(Parse(TwoGpus(order[i])).PairCost(0, 1) < Parse(TwoGpus(order[i + 1])).PairCost(0, 1));
}

TEST_CASE("PairCost: the worst NVLink pair beats the best PCIe pair; PCIe breaks NVLink ties") {
  const GpuTopology a100 = Parse(Shared("dgx_a100_topo_m.tsv"));
  const GpuTopology pix = Parse(TwoGpus("PIX"));
  CHECK(Parse(TwoGpus("NV1")).PairCost(0, 1) < pix.PairCost(0, 1));
  CHECK(a100.PairCost(0, 1) == a100.PairCost(1, 0));
  CHECK(a100.PairCost(0, 1) < a100.PairCost(0, 2));  // NV12 + PXB < NV12 + SYS
  CHECK(a100.PairCost(3, 3) == 0);
  CHECK(a100.SetCost({0, 1, 2}) == a100.PairCost(0, 1) + a100.PairCost(0, 2) + a100.PairCost(1, 2));
}

TEST_CASE("a single GPU comes from where it breaks no well-connected pair") {
  // GPU0's switch partner GPU1 is taken: GPU0 is the isolated one, {4,5} and {6,7} stay intact.
  const GpuTopology a100 = Parse(Shared("dgx_a100_topo_m.tsv"));
  CHECK(a100.BestSet(FreeExcept(8, {1, 2}), 1) == Ids{0});
  CHECK(a100.BestSet(FreeExcept(8, {0, 1, 3}), 1) == Ids{2});
  CHECK(a100.BestSet(AllFree(8), 1) == Ids{0});

  const GpuTopology workstation = Parse(Fixture("nv_partial_4gpu.tsv"));
  CHECK(workstation.BestSet(FreeExcept(4, {0}), 1) == Ids{1});  // keeps the NV4 pair {2,3}
  CHECK(workstation.BestSet(FreeExcept(4, {2}), 1) == Ids{3});
}

TEST_CASE("BestSet edge cases: k <= 0, too few free, bits past the GPU count, sorted output") {
  const GpuTopology topo = Parse(Fixture("dgx1_v100_cube_mesh.tsv"));
  CHECK(topo.BestSet(AllFree(8), 0).empty());
  CHECK(topo.BestSet(AllFree(8), -1).empty());
  CHECK(topo.BestSet(FreeExcept(8, {0, 1, 2, 3, 4}), 4).empty());
  CHECK(topo.BestSet(0, 1).empty());
  CHECK(topo.BestSet(~0ULL, 4) == Ids{0, 1, 2, 3});  // bits 8..63 name no GPU
  CHECK(topo.BestSet(FreeExcept(8, {0, 1, 2, 3, 4}), 3) == Ids{5, 6, 7});
  CHECK(GpuTopology{}.BestSet(~0ULL, 1).empty());
}

TEST_CASE("BestSet is deterministic across calls and copies") {
  const std::string name = GENERATE(as<std::string>{}, "dgx1_v100_cube_mesh.tsv",
                                    "dgx2_16gpu_nv6.tsv", "pcie_8gpu_no_nvlink.tsv");
  const GpuTopology topo = Parse(Fixture(name));
  const GpuTopology copy = Parse(Fixture(name));
  const int n = topo.gpu_count();
  for (int k = 1; k <= n; ++k) {
    const std::uint64_t mask = FreeExcept(n, {1});
    const Ids first = topo.BestSet(mask, k);
    CHECK(first == topo.BestSet(mask, k));
    CHECK(first == copy.BestSet(mask, k));
    if (k < n) CHECK(static_cast<int>(first.size()) == k);
  }
}

TEST_CASE("large nodes fall back to a greedy search that still finds NVLink islands") {
  // 32 GPUs: C(32, 16) is far beyond the exact limit.
  const GpuTopology topo = Parse(Islands(4, 8, 4));
  REQUIRE(topo.gpu_count() == 32);
  CHECK(topo.Describe() == "32 GPUs, NVLink NV4 partial, PCIe otherwise");
  CHECK(topo.BestSet(FreeExcept(32, {0, 9}), 8) == Ids{16, 17, 18, 19, 20, 21, 22, 23});
  const Ids sixteen = topo.BestSet(FreeExcept(32, {3}), 16);
  CHECK(sixteen == Ids{8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});

  const GpuTopology sixty_four = Parse(Islands(8, 8, 12));
  REQUIRE(sixty_four.gpu_count() == 64);
  CHECK(sixty_four.BestSet(FreeExcept(64, {63}), 8) == Ids{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(sixty_four.BestSet(AllFree(64), 64).size() == 64);
}

TEST_CASE("Uniform: an unknown node treats every pair alike") {
  const GpuTopology topo = GpuTopology::Uniform(4);
  CHECK(topo.gpu_count() == 4);
  CHECK(topo.Link(0, 3).kind == LinkKind::kSys);
  CHECK(topo.Link(2, 2).kind == LinkKind::kSelf);
  CHECK(topo.PcieLink(1, 2) == LinkKind::kSys);
  CHECK(topo.NumaOf(0) == -1);
  CHECK(topo.Describe() == "4 GPUs, PCIe only (SYS)");
  CHECK(topo.BestSet(FreeExcept(4, {1}), 2) == Ids{0, 2});

  const GpuTopology nvswitch = GpuTopology::Uniform(8, {LinkKind::kNvLink, 12});
  CHECK(nvswitch.Link(1, 6) == GpuLink{LinkKind::kNvLink, 12});
  CHECK(nvswitch.Describe() == "8 GPUs, NV12 all pairs");
  CHECK(nvswitch.BestSet(AllFree(8), 3) == Ids{0, 1, 2});
  CHECK(GpuTopology::Uniform(0).Describe() == "no GPUs");
}

TEST_CASE("malformed matrices are rejected with the line, column and what was expected") {
  const std::string four_gpus =
      "GPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\tNUMA Affinity\n"
      "GPU0\t X \tNV2\tSYS\tSYS\t0-7\t0\n"
      "GPU1\tNV2\t X \tSYS\tSYS\t0-7\t0\n"
      "GPU2\tSYS\tSYS\t X \tNV2\t8-15\t1\n"
      "GPU3\tSYS\tSYS\tNV2\t X \t8-15\t1\n";
  REQUIRE(ParseNvidiaSmiTopo(four_gpus).has_value());
  std::string too_many_gpus;
  for (int g = 0; g < 65; ++g) too_many_gpus += "GPU" + std::to_string(g) + " ";

  const auto [text, line, column, expected] =
      GENERATE_COPY(table<std::string, int, int, std::string>({
          {"", 0, 0, "topology text is empty"},
          {"\n  \r\n\t\n", 0, 0, "topology text is empty"},
          {"NIC0\tNIC1\nNIC0\t X \tPIX\nNIC1\tPIX\t X \n", 1, 1, "no GPU columns"},
          {four_gpus.substr(0, four_gpus.rfind("GPU3\tSYS")), 1, 16,
           "matrix has column GPU3 but no row GPU3"},
          {"GPU0\tGPU1\nGPU0\t X \tNV2\nGPU1\tNVX\t X \n", 3, 6, "unknown link 'NVX'"},
          {"GPU0  GPU1\nGPU0   X   NV2\nGPU1  NV2   PIXX\n", 3, 13, "unknown link 'PIXX'"},
          {"GPU0\tGPU1\tGPU2\tCPU Affinity\n"
           "GPU0\t X \tNV2\tNV2\t0-7\n"
           "GPU1\tNV2\t X \t0-7\n"
           "GPU2\tNV2\tNV2\t X \t0-7\n",
           3, 14, "row GPU1 has 2 cells, expected 3"},
          {"GPU0\tGPU1\nGPU0\t X \tNV2\nGPU1\tNV2\t X \tSYS\n", 3, 14,
           "row GPU1 has more than 2 cells"},
          {"GPU0\tGPU1\nGPU0\t X \tNV2\nGPU1\tNV1\t X \n", 3, 6,
           "row GPU1 says NV1 to GPU0 but row GPU0 says NV2 to GPU1"},
          {"GPU0\tGPU1\nGPU0\tNV2\tNV2\nGPU1\tNV2\t X \n", 2, 6, "diagonal cell GPU0/GPU0"},
          {"GPU0\tGPU1\nGPU0\t X \t X \nGPU1\t X \t X \n", 2, 11, "X marks only the diagonal"},
          {"GPU0\tGPU2\nGPU0\t X \tSYS\nGPU2\tSYS\t X \n", 1, 6, "expected GPU1"},
          {"GPU1\tGPU2\nGPU1\t X \tSYS\nGPU2\tSYS\t X \n", 1, 1, "expected GPU0"},
          {too_many_gpus, 1, 375, "more than 64 GPU columns"},
          {"GPU0\tGPU1\nGPU0\t X \tSYS\nGPU0\t X \tSYS\nGPU1\tSYS\t X \n", 3, 1,
           "row GPU0 appears twice"},
          {"GPU0\tGPU1\nGPU0\t X \tSYS\nGPU7\tSYS\t X \n", 3, 1,
           "row 'GPU7' is not a column of the header"},
          {"GPU0\tGPU0\nGPU0\t X \t X \n", 1, 6, "header names device 'GPU0' twice"},
      }));
  INFO(text);
  const tl::expected<GpuTopology, TopoParseError> topo = ParseNvidiaSmiTopo(text);
  REQUIRE_FALSE(topo.has_value());
  INFO(topo.error().message);
  CHECK(topo.error().message.find(expected) != std::string::npos);
  CHECK(topo.error().line == line);
  CHECK(topo.error().column == column);
}

}  // namespace gangsched::topology
