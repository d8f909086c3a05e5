#include "topology/gpu_topology.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <optional>
#include <utility>

namespace gangsched::topology {
namespace {

constexpr int kMaxGpus = 64;
// Sets of free GPUs are enumerated exactly while C(free, k) stays below this; beyond it BestSet is
// heuristic. C(16, 8) = 12870 keeps every single-node request on today's 16-GPU boxes exact.
constexpr std::uint64_t kExactCombinationLimit = 20000;

// PairCost weights (see PairCost for the formula).
constexpr std::int64_t kPrimaryWeight = 1'000'000;
constexpr std::int64_t kNvLinkWeight = 10'000;
constexpr std::int64_t kPcieWeight = 1'000;
// NV# above this counts as NV64, which keeps the NVLink term below kPrimaryWeight.
constexpr int kNvLinkCap = 64;

// ---- Text scanning ---------------------------------------------------------------------------

struct Token {
  std::string_view text;
  int column = 0;  // 1-based character column in the line
};

struct Line {
  std::string_view text;
  int number = 0;  // 1-based
};

// Index of cell (a, b) in a row-major n x n matrix.
std::size_t CellIndex(int a, int b, int n) {
  return (static_cast<std::size_t>(a) * static_cast<std::size_t>(n)) + static_cast<std::size_t>(b);
}

bool IsBlankChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Whitespace-separated tokens. ANSI escape sequences (nvidia-smi underlines the header when writing
// to a terminal, and `script`/tmux captures keep the codes) count as whitespace, so columns still
// point at the original characters.
std::vector<Token> Tokenize(std::string_view line) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  std::size_t start = std::string_view::npos;
  auto flush = [&](std::size_t end) {
    if (start != std::string_view::npos) {
      tokens.push_back({line.substr(start, end - start), static_cast<int>(start) + 1});
      start = std::string_view::npos;
    }
  };
  while (i < line.size()) {
    const char c = line[i];
    if (c == '\x1b') {
      flush(i);
      ++i;
      if (i < line.size() && line[i] == '[') {
        ++i;
        while (i < line.size() && !(line[i] >= '@' && line[i] <= '~')) ++i;
        if (i < line.size()) ++i;  // final byte
      }
      continue;
    }
    if (IsBlankChar(c)) {
      flush(i);
    } else if (start == std::string_view::npos) {
      start = i;
    }
    ++i;
  }
  flush(line.size());
  return tokens;
}

std::vector<Line> SplitLines(std::string_view text) {
  // A UTF-8 byte order mark (Windows editors) is not part of the matrix.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<Line> lines;
  int number = 1;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, number++});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Small non-negative integer from all-digit text; nullopt when longer than 6 digits.
std::optional<int> SmallInt(std::string_view digits) {
  if (!AllDigits(digits) || digits.size() > 6) return std::nullopt;
  int value = 0;
  for (const char c : digits) value = value * 10 + (c - '0');
  return value;
}

// A cell of the matrix (reference/placement-quality.md §3a legend). "SOC" is what drivers before
// the NODE/SYS split printed for the inter-socket path.
std::optional<GpuLink> ParseCell(std::string_view t) {
  if (t == "X") return GpuLink{LinkKind::kSelf, 0};
  if (t == "PIX") return GpuLink{LinkKind::kPix, 0};
  if (t == "PXB") return GpuLink{LinkKind::kPxb, 0};
  if (t == "PHB") return GpuLink{LinkKind::kPhb, 0};
  if (t == "NODE") return GpuLink{LinkKind::kNode, 0};
  if (t == "SYS" || t == "SOC") return GpuLink{LinkKind::kSys, 0};
  if (t.size() > 2 && t.substr(0, 2) == "NV") {
    const std::optional<int> n = SmallInt(t.substr(2));
    if (n && *n >= 1) return GpuLink{LinkKind::kNvLink, *n};
  }
  return std::nullopt;
}

// Text after the cells of a row: CPU affinity ("0-55,112-167"), NUMA id, "N/A".
bool LooksLikeAffinity(std::string_view t) {
  return t == "N/A" || (!t.empty() && t.front() >= '0' && t.front() <= '9');
}

// "3" -> 3, "0-1" -> 0, "0,2" -> 0, "N/A" -> -1.
int ParseNuma(std::string_view t) {
  std::size_t n = 0;
  while (n < t.size() && t[n] >= '0' && t[n] <= '9') ++n;
  const std::optional<int> value = SmallInt(t.substr(0, n));
  return value ? *value : -1;
}

// GPU index of a device name "GPU<n>", nullopt for other devices (NICs are named NIC0, mlx5_0,
// ...).
std::optional<int> GpuIndexOf(std::string_view name) {
  if (name.size() <= 3 || name.substr(0, 3) != "GPU") return std::nullopt;
  return SmallInt(name.substr(3));
}

bool IsPcieKind(LinkKind kind) {
  return kind == LinkKind::kPix || kind == LinkKind::kPxb || kind == LinkKind::kPhb ||
         kind == LinkKind::kNode || kind == LinkKind::kSys;
}

std::string_view KindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kSelf:
      return "X";
    case LinkKind::kNvLink:
      return "NV";
    case LinkKind::kPix:
      return "PIX";
    case LinkKind::kPxb:
      return "PXB";
    case LinkKind::kPhb:
      return "PHB";
    case LinkKind::kNode:
      return "NODE";
    case LinkKind::kSys:
      return "SYS";
  }
  return "?";
}

std::string CellText(GpuLink link) {
  std::string text(KindName(link.kind));
  if (link.kind == LinkKind::kNvLink) text += std::to_string(link.nvlinks);
  return text;
}

std::string Quoted(std::string_view s) {
  std::string out;  // built step by step: GCC 12 -O3 warns falsely (-Wrestrict) on "'" + s + "'"
  out.reserve(s.size() + 2);
  out += '\'';
  out += s;
  out += '\'';
  return out;
}

TopoParseError ErrorAt(int line, int column, std::string message) {
  return TopoParseError{line, column, std::move(message)};
}

// ---- Header ----------------------------------------------------------------------------------

struct Device {
  std::string_view name;
  int column = 0;  // column of the name in the header line
  int gpu = -1;    // GPU index, -1 for a NIC or other device
};

struct Header {
  int line = 0;
  std::vector<Device> devices;
  int gpu_count = 0;
  int numa_field = -1;  // index of "NUMA Affinity" among the fields after the cells, -1 if absent
};

// Words that start the affinity columns: "CPU Affinity", "NUMA Affinity", "GPU NUMA ID".
bool StartsAffinity(const std::vector<Token>& tokens, std::size_t i) {
  const std::string_view t = tokens[i].text;
  if (t == "CPU" || t == "NUMA" || t == "Affinity") return true;
  return t == "GPU" && i + 1 < tokens.size() && tokens[i + 1].text == "NUMA";
}

tl::expected<Header, TopoParseError> ParseHeader(const Line& line) {
  const std::vector<Token> tokens = Tokenize(line.text);
  Header header;
  header.line = line.number;
  std::size_t i = 0;
  for (; i < tokens.size() && !StartsAffinity(tokens, i); ++i) {
    Device device{tokens[i].text, tokens[i].column, -1};
    for (const Device& seen : header.devices) {
      if (seen.name == device.name) {
        return tl::unexpected(ErrorAt(line.number, device.column,
                                      "header names device " + Quoted(device.name) +
                                          " twice; every column of the matrix needs its own name"));
      }
    }
    if (const std::optional<int> gpu = GpuIndexOf(device.name)) {
      if (header.gpu_count == kMaxGpus) {
        return tl::unexpected(ErrorAt(line.number, device.column,
                                      "more than 64 GPU columns; a node may have at most 64 GPUs"));
      }
      if (*gpu != header.gpu_count) {
        return tl::unexpected(ErrorAt(
            line.number, device.column,
            "GPU column " + Quoted(device.name) + " is out of order: expected GPU" +
                std::to_string(header.gpu_count) + " (GPU ids must be GPU0..GPU<n-1> in order)"));
      }
      device.gpu = header.gpu_count++;
    }
    header.devices.push_back(device);
  }
  if (header.gpu_count == 0) {
    return tl::unexpected(ErrorAt(line.number, 1,
                                  "header line has no GPU columns; expected the first line of "
                                  "`nvidia-smi topo -m`, e.g. \"GPU0 GPU1 ... CPU Affinity\""));
  }
  // Group the remaining words into column names; a name ends with "Affinity" or "ID".
  std::string name;
  int field = 0;
  for (; i < tokens.size(); ++i) {
    if (!name.empty()) name += ' ';
    name += tokens[i].text;
    if (tokens[i].text == "Affinity" || tokens[i].text == "ID") {
      if (name == "NUMA Affinity") header.numa_field = field;
      ++field;
      name.clear();
    }
  }
  return header;
}

// ---- Rows ------------------------------------------------------------------------------------

struct CellPosition {
  int line = 0;
  int column = 0;
};

// Everything the parser learns before it builds the topology.
struct Matrix {
  int gpu_count = 0;
  std::vector<GpuLink> links;              // gpu_count^2
  std::vector<CellPosition> positions;     // gpu_count^2, where each GPU-GPU cell was read
  std::vector<std::vector<LinkKind>> nic;  // per GPU: its cell for each non-GPU column
  std::vector<int> numa;                   // per GPU
  std::vector<int> row_line;               // per device: line of its row, 0 when absent
};

int FindDevice(const Header& header, std::string_view name) {
  for (std::size_t d = 0; d < header.devices.size(); ++d) {
    if (header.devices[d].name == name) return static_cast<int>(d);
  }
  return -1;
}

std::string ColumnList(const Header& header) {
  std::string list;
  for (const Device& d : header.devices) {
    if (!list.empty()) list += ' ';
    list += d.name;
  }
  return list;
}

// Reads one row of a device of the header into `matrix`. `tokens[0]` is the row's name.
std::optional<TopoParseError> ReadRow(const Header& header, int device, const Line& line,
                                      const std::vector<Token>& tokens, Matrix& matrix) {
  const int columns = static_cast<int>(header.devices.size());
  const std::string_view row_name = tokens[0].text;
  const int row_gpu = header.devices[static_cast<std::size_t>(device)].gpu;
  int nic_index = 0;
  for (int c = 0; c < columns; ++c) {
    const std::size_t t = static_cast<std::size_t>(c) + 1;
    const Device& column = header.devices[static_cast<std::size_t>(c)];
    const bool missing = t >= tokens.size();
    const std::optional<GpuLink> cell = missing ? std::nullopt : ParseCell(tokens[t].text);
    if (!cell) {
      if (missing || LooksLikeAffinity(tokens[t].text)) {
        const int at = missing ? static_cast<int>(line.text.size()) + 1 : tokens[t].column;
        return ErrorAt(line.number, at,
                       "row " + std::string(row_name) + " has " + std::to_string(c) +
                           " cells, expected " + std::to_string(columns) +
                           " (one per header column: " + ColumnList(header) + ")");
      }
      return ErrorAt(line.number, tokens[t].column,
                     "unknown link " + Quoted(tokens[t].text) + " in row " + std::string(row_name) +
                         ", column " + std::string(column.name) +
                         "; expected one of X, NV<n>, PIX, PXB, PHB, NODE, SYS");
    }
    if (row_gpu < 0) continue;  // NIC rows are checked for shape only; GPU rows carry NIC cells
    if (column.gpu < 0) {
      matrix.nic[static_cast<std::size_t>(row_gpu)][static_cast<std::size_t>(nic_index++)] =
          cell->kind;
      continue;
    }
    const bool diagonal = column.gpu == row_gpu;
    if (diagonal != (cell->kind == LinkKind::kSelf)) {
      return ErrorAt(line.number, tokens[t].column,
                     diagonal ? "diagonal cell " + std::string(row_name) + "/" +
                                    std::string(column.name) + " is " + Quoted(tokens[t].text) +
                                    ", expected X (a GPU's link to itself)"
                              : "cell " + std::string(row_name) + "/" + std::string(column.name) +
                                    " is X, but X marks only the diagonal (a GPU's link to "
                                    "itself)");
    }
    const std::size_t at = CellIndex(row_gpu, column.gpu, matrix.gpu_count);
    matrix.links[at] = *cell;
    matrix.positions[at] = {line.number, tokens[t].column};
  }
  const std::size_t after = static_cast<std::size_t>(columns) + 1;
  if (after < tokens.size() && ParseCell(tokens[after].text)) {
    return ErrorAt(line.number, tokens[after].column,
                   "row " + std::string(row_name) + " has more than " + std::to_string(columns) +
                       " cells (one per header column: " + ColumnList(header) + ")");
  }
  if (row_gpu >= 0 && header.numa_field >= 0) {
    const std::size_t field = after + static_cast<std::size_t>(header.numa_field);
    if (field < tokens.size()) {
      matrix.numa[static_cast<std::size_t>(row_gpu)] = ParseNuma(tokens[field].text);
    }
  }
  return std::nullopt;
}

// Two GPUs PIX or PXB to the same NIC sit behind one PCIe switch, even when their own cell shows
// NV#: kPix when both are PIX, else kPxb. kSys when no NIC says so.
LinkKind SharedSwitch(const Matrix& m, int a, int b) {
  LinkKind best = LinkKind::kSys;
  const std::vector<LinkKind>& na = m.nic[static_cast<std::size_t>(a)];
  const std::vector<LinkKind>& nb = m.nic[static_cast<std::size_t>(b)];
  for (std::size_t j = 0; j < na.size(); ++j) {
    const bool a_near = na[j] == LinkKind::kPix || na[j] == LinkKind::kPxb;
    const bool b_near = nb[j] == LinkKind::kPix || nb[j] == LinkKind::kPxb;
    if (!a_near || !b_near) continue;
    const LinkKind kind =
        na[j] == LinkKind::kPix && nb[j] == LinkKind::kPix ? LinkKind::kPix : LinkKind::kPxb;
    best = std::min(best, kind);
  }
  return best;
}

// ---- Set search ------------------------------------------------------------------------------
// The searches work on positions 0..n-1 in the sorted list of free GPUs, so a lexicographically
// smaller position list is a lexicographically smaller id list.

struct CostTable {
  int n = 0;
  std::vector<std::int64_t> cost;  // n * n PairCost between free GPUs
  [[nodiscard]] std::size_t At(int i, int j) const { return CellIndex(i, j, n); }
  [[nodiscard]] std::int64_t Cost(int i, int j) const { return cost[At(i, j)]; }
  [[nodiscard]] std::int64_t SetCost(const std::vector<int>& set) const {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < set.size(); ++i) {
      for (std::size_t j = i + 1; j < set.size(); ++j) sum += Cost(set[i], set[j]);
    }
    return sum;
  }
};

// True when C(n, k) <= limit. Each step of the product is exact: C(n - r + i, i).
bool CombinationsAtMost(int n, int k, std::uint64_t limit) {
  const int r = std::min(k, n - k);
  std::uint64_t combinations = 1;
  for (int i = 1; i <= r; ++i) {
    combinations =
        combinations * static_cast<std::uint64_t>(n - r + i) / static_cast<std::uint64_t>(i);
    if (combinations > limit) return false;
  }
  return true;
}

// k == 1: the GPU whose cheapest link to another free GPU is the most expensive; ties -> first.
int MostIsolated(const CostTable& t) {
  int best = 0;
  std::int64_t best_isolation = -1;
  for (int i = 0; i < t.n; ++i) {
    std::int64_t isolation = std::numeric_limits<std::int64_t>::max();
    for (int j = 0; j < t.n; ++j) {
      if (j != i) isolation = std::min(isolation, t.Cost(i, j));
    }
    if (isolation > best_isolation) {
      best_isolation = isolation;
      best = i;
    }
  }
  return best;
}

// Every k-combination in lexicographic order, with branch and bound: costs are non-negative, so a
// partial set already at the best cost cannot win, and only a strictly cheaper set replaces the
// best one. Result: the least SetCost, ties -> smallest ids.
std::vector<int> ExactBest(const CostTable& t, int k) {
  std::vector<int> best;
  std::int64_t best_cost = std::numeric_limits<std::int64_t>::max();
  std::vector<int> chosen(static_cast<std::size_t>(k), -1);
  std::vector<std::int64_t> partial(static_cast<std::size_t>(k) + 1, 0);  // cost of chosen[0..d)
  int depth = 0;
  while (depth >= 0) {
    const auto d = static_cast<std::size_t>(depth);
    ++chosen[d];
    if (chosen[d] > t.n - (k - depth)) {  // no room left for the GPUs still to pick
      --depth;
      continue;
    }
    std::int64_t added = 0;
    for (std::size_t p = 0; p < d; ++p) added += t.Cost(chosen[p], chosen[d]);
    partial[d + 1] = partial[d] + added;
    if (partial[d + 1] >= best_cost) continue;
    if (depth + 1 == k) {
      best_cost = partial[d + 1];
      best = chosen;
      continue;
    }
    ++depth;
    chosen[static_cast<std::size_t>(depth)] = chosen[d];
  }
  return best;
}

// Greedy growth: from each free GPU as a seed, repeatedly add the GPU with the least added cost
// (ties -> lowest id); the cheapest result, ties -> smallest ids. O(n^2 * k). Finds tight groups
// around a seed, but once a group is full it follows the lowest ids into a broken group.
std::vector<int> GrowBest(const CostTable& t, int k) {
  std::vector<int> best;
  std::int64_t best_cost = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> added(static_cast<std::size_t>(t.n));
  std::vector<char> in_set(static_cast<std::size_t>(t.n));
  for (int seed = 0; seed < t.n; ++seed) {
    std::fill(in_set.begin(), in_set.end(), 0);
    std::vector<int> set = {seed};
    in_set[static_cast<std::size_t>(seed)] = 1;
    for (int j = 0; j < t.n; ++j) added[static_cast<std::size_t>(j)] = t.Cost(seed, j);
    std::int64_t set_cost = 0;
    while (static_cast<int>(set.size()) < k) {
      int pick = -1;
      for (int j = 0; j < t.n; ++j) {
        if (in_set[static_cast<std::size_t>(j)] != 0) continue;
        if (pick < 0 ||
            added[static_cast<std::size_t>(j)] < added[static_cast<std::size_t>(pick)]) {
          pick = j;
        }
      }
      set.push_back(pick);
      in_set[static_cast<std::size_t>(pick)] = 1;
      set_cost += added[static_cast<std::size_t>(pick)];
      for (int j = 0; j < t.n; ++j) added[static_cast<std::size_t>(j)] += t.Cost(pick, j);
    }
    std::sort(set.begin(), set.end());
    if (set_cost < best_cost || (set_cost == best_cost && set < best)) {
      best_cost = set_cost;
      best = std::move(set);
    }
  }
  return best;
}

// Peeling: start from all free GPUs and repeatedly drop the one with the highest cost to the rest
// (ties -> highest id), until k remain. O(n^2). Drops broken groups first, which growth cannot.
std::vector<int> PeelBest(const CostTable& t, int k) {
  std::vector<std::int64_t> to_rest(static_cast<std::size_t>(t.n), 0);
  std::vector<char> kept(static_cast<std::size_t>(t.n), 1);
  for (int i = 0; i < t.n; ++i) {
    for (int j = 0; j < t.n; ++j) to_rest[static_cast<std::size_t>(i)] += t.Cost(i, j);
  }
  for (int remaining = t.n; remaining > k; --remaining) {
    int drop = -1;
    for (int i = 0; i < t.n; ++i) {
      if (kept[static_cast<std::size_t>(i)] == 0) continue;
      if (drop < 0 ||
          to_rest[static_cast<std::size_t>(i)] >= to_rest[static_cast<std::size_t>(drop)]) {
        drop = i;
      }
    }
    if (drop < 0) break;
    kept[static_cast<std::size_t>(drop)] = 0;
    for (int i = 0; i < t.n; ++i) to_rest[static_cast<std::size_t>(i)] -= t.Cost(i, drop);
  }
  std::vector<int> set;
  for (int i = 0; i < t.n; ++i) {
    if (kept[static_cast<std::size_t>(i)] != 0) set.push_back(i);
  }
  return set;
}

}  // namespace

// ---- GpuTopology -----------------------------------------------------------------------------

GpuTopology GpuTopology::Uniform(int count, GpuLink link) {
  GpuTopology topo;
  topo.count_ = std::clamp(count, 0, kMaxGpus);
  if (link.kind == LinkKind::kSelf) link = GpuLink{};  // "self" is no link between two GPUs
  if (link.kind != LinkKind::kNvLink) link.nvlinks = 0;
  link.nvlinks = std::max(link.nvlinks, 0);
  const LinkKind pcie = IsPcieKind(link.kind) ? link.kind : LinkKind::kSys;
  const std::size_t cells = CellIndex(topo.count_, 0, topo.count_);
  topo.links_.assign(cells, link);
  topo.pcie_.assign(cells, pcie);
  for (int g = 0; g < topo.count_; ++g) {
    const std::size_t diagonal = CellIndex(g, g, topo.count_);
    topo.links_[diagonal] = GpuLink{LinkKind::kSelf, 0};
    topo.pcie_[diagonal] = LinkKind::kSelf;
  }
  topo.numa_.assign(static_cast<std::size_t>(topo.count_), -1);
  return topo;
}

GpuLink GpuTopology::Link(int a, int b) const {
  if (a < 0 || b < 0 || a >= count_ || b >= count_) return GpuLink{};
  return links_[CellIndex(a, b, count_)];
}

LinkKind GpuTopology::PcieLink(int a, int b) const {
  if (a < 0 || b < 0 || a >= count_ || b >= count_) return LinkKind::kSys;
  return pcie_[CellIndex(a, b, count_)];
}

int GpuTopology::NumaOf(int gpu) const {
  if (gpu < 0 || gpu >= count_) return -1;
  return numa_[static_cast<std::size_t>(gpu)];
}

// cost = 1'000'000 * primary + 10'000 * (64 - min(nvlinks, 64)) + 1'000 * pcie
//   primary: rank of the GPU-GPU cell, NV# 1, PIX 2, PXB 3, PHB 4, NODE 5, SYS 6;
//   the middle term is non-zero for NV# only: more bonded links are cheaper (NV18 < NV12 < NV2 <
//   NV1); pcie: rank of PcieLink, PIX 1, PXB 2, PHB 3, NODE 4, SYS 5 — breaks ties between pairs
//   with the same cell, e.g. two NV12 GPUs behind one PCIe switch beat two NV12 GPUs on different
//   sockets.
// Each term stays below the weight of the one before, so the order is lexicographic on
// (primary, nvlinks descending, pcie). Examples: NV12 + PXB = 1'522'000; SYS + SYS = 6'005'000.
// A GPU with itself costs 0; an id outside the node costs as much as SYS.
std::int64_t GpuTopology::PairCost(int a, int b) const {
  if (a == b && a >= 0 && a < count_) return 0;
  const GpuLink link = Link(a, b);
  const LinkKind pcie = PcieLink(a, b);
  const std::int64_t primary = static_cast<int>(link.kind);  // kNvLink 1 .. kSys 6
  const std::int64_t nvlink_term =
      link.kind == LinkKind::kNvLink ? kNvLinkCap - std::min(link.nvlinks, kNvLinkCap) : 0;
  const std::int64_t pcie_term = IsPcieKind(pcie) ? static_cast<int>(pcie) - 1 : 0;  // PIX 1..SYS 5
  return kPrimaryWeight * primary + kNvLinkWeight * nvlink_term + kPcieWeight * pcie_term;
}

std::int64_t GpuTopology::SetCost(const std::vector<int>& gpus) const {
  std::int64_t cost = 0;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    for (std::size_t j = i + 1; j < gpus.size(); ++j) cost += PairCost(gpus[i], gpus[j]);
  }
  return cost;
}

std::string GpuTopology::Describe() const {
  if (count_ == 0) return "no GPUs";
  std::string text = std::to_string(count_) + (count_ == 1 ? " GPU" : " GPUs");
  if (count_ == 1) return text;
  int pairs = 0;
  int nv_pairs = 0;
  int nv_min = std::numeric_limits<int>::max();
  int nv_max = 0;
  std::array<bool, 7> pcie_seen{};  // by LinkKind
  for (int a = 0; a < count_; ++a) {
    for (int b = a + 1; b < count_; ++b) {
      ++pairs;
      const GpuLink link = Link(a, b);
      if (link.kind == LinkKind::kNvLink) {
        ++nv_pairs;
        nv_min = std::min(nv_min, link.nvlinks);
        nv_max = std::max(nv_max, link.nvlinks);
      } else {
        pcie_seen[static_cast<std::size_t>(link.kind)] = true;
      }
    }
  }
  const std::string nv_range =
      nv_min == nv_max ? "NV" + std::to_string(nv_min)
                       : "NV" + std::to_string(nv_min) + "\u2013NV" + std::to_string(nv_max);
  if (nv_pairs == pairs) {
    return text + (nv_min == nv_max ? ", " + nv_range : ", NVLink " + nv_range) + " all pairs";
  }
  if (nv_pairs > 0) return text + ", NVLink " + nv_range + " partial, PCIe otherwise";
  std::string kinds;
  for (const LinkKind kind :
       {LinkKind::kPix, LinkKind::kPxb, LinkKind::kPhb, LinkKind::kNode, LinkKind::kSys}) {
    if (!pcie_seen[static_cast<std::size_t>(kind)]) continue;
    if (!kinds.empty()) kinds += '/';
    kinds += KindName(kind);
  }
  return text + ", PCIe only (" + kinds + ")";
}

// BestSet(free_mask, k):
//  - k <= 0, or fewer than k free GPUs: empty. Bits at or above gpu_count() are ignored.
//  - k == 1: every single GPU has SetCost 0, so the choice is about what stays free: take the most
//    isolated free GPU, the one whose cheapest PairCost to another free GPU is highest (its PCIe
//    switch or NVLink partner is already taken, or it never had one), so intact well-connected
//    pairs stay free for later requests; ties -> lowest id.
//  - C(free, k) <= 20000: exact (ExactBest).
//  - Otherwise heuristic (GrowBest, PeelBest), the cheaper of the two, ties -> smallest ids.
std::vector<int> GpuTopology::BestSet(std::uint64_t free_mask, int k) const {
  std::vector<int> free;
  for (int g = 0; g < count_ && g < 64; ++g) {
    if (((free_mask >> g) & 1U) != 0) free.push_back(g);
  }
  const int n = static_cast<int>(free.size());
  if (k <= 0 || n < k) return {};
  if (k == n) return free;

  CostTable table;
  table.n = n;
  table.cost.resize(CellIndex(n, 0, n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j)
      table.cost[table.At(i, j)] = i == j ? 0 : PairCost(free[i], free[j]);
  }

  std::vector<int> best;  // positions in `free`
  if (k == 1) {
    best = {MostIsolated(table)};
  } else if (CombinationsAtMost(n, k, kExactCombinationLimit)) {
    best = ExactBest(table, k);
  } else {
    best = GrowBest(table, k);
    std::vector<int> peeled = PeelBest(table, k);
    const std::int64_t grown_cost = table.SetCost(best);
    const std::int64_t peeled_cost = table.SetCost(peeled);
    if (peeled_cost < grown_cost || (peeled_cost == grown_cost && peeled < best)) {
      best = std::move(peeled);
    }
  }
  std::vector<int> ids;
  ids.reserve(best.size());
  for (const int p : best) ids.push_back(free[static_cast<std::size_t>(p)]);
  return ids;
}

// ---- Parsing ---------------------------------------------------------------------------------

tl::expected<GpuTopology, TopoParseError> ParseNvidiaSmiTopo(std::string_view text) {
  const std::vector<Line> lines = SplitLines(text);
  std::size_t next = 0;
  while (next < lines.size() && Tokenize(lines[next].text).empty()) ++next;
  if (next == lines.size()) {
    return tl::unexpected(
        ErrorAt(0, 0, "topology text is empty; expected the output of `nvidia-smi topo -m`"));
  }
  tl::expected<Header, TopoParseError> header = ParseHeader(lines[next++]);
  if (!header) return tl::unexpected(std::move(header.error()));

  Matrix m;
  m.gpu_count = header->gpu_count;
  const auto gpus = static_cast<std::size_t>(m.gpu_count);
  const std::size_t nics = header->devices.size() - gpus;
  m.links.assign(gpus * gpus, GpuLink{});
  m.positions.assign(gpus * gpus, CellPosition{});
  m.nic.assign(gpus, std::vector<LinkKind>(nics, LinkKind::kSys));
  m.numa.assign(gpus, -1);
  m.row_line.assign(header->devices.size(), 0);

  // Rows follow the header; blank lines are skipped. The matrix ends at the first line that is not
  // a row of a header device (the legend, "NIC Legend:", a shell prompt). A line that looks like a
  // row (its second word is a cell) but names no header device is an error, not the end.
  for (; next < lines.size(); ++next) {
    const Line& line = lines[next];
    const std::vector<Token> tokens = Tokenize(line.text);
    if (tokens.empty()) continue;
    const int device = FindDevice(*header, tokens[0].text);
    if (device < 0) {
      if (tokens.size() >= 2 && ParseCell(tokens[1].text)) {
        return tl::unexpected(
            ErrorAt(line.number, tokens[0].column,
                    "row " + Quoted(tokens[0].text) + " is not a column of the header (line " +
                        std::to_string(header->line) + ": " + ColumnList(*header) + ")"));
      }
      break;
    }
    int& seen = m.row_line[static_cast<std::size_t>(device)];
    if (seen != 0) {
      return tl::unexpected(ErrorAt(line.number, tokens[0].column,
                                    "row " + std::string(tokens[0].text) +
                                        " appears twice (first on line " + std::to_string(seen) +
                                        "); paste the matrix once"));
    }
    seen = line.number;
    if (std::optional<TopoParseError> error = ReadRow(*header, device, line, tokens, m)) {
      return tl::unexpected(std::move(*error));
    }
  }

  for (std::size_t d = 0; d < header->devices.size(); ++d) {
    const Device& device = header->devices[d];
    if (device.gpu >= 0 && m.row_line[d] == 0) {
      return tl::unexpected(ErrorAt(header->line, device.column,
                                    "matrix has column " + std::string(device.name) +
                                        " but no row " + std::string(device.name) +
                                        "; paste every GPU row of `nvidia-smi topo -m`"));
    }
  }
  const int n = m.gpu_count;
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      const GpuLink ab = m.links[CellIndex(a, b, n)];
      const GpuLink ba = m.links[CellIndex(b, a, n)];
      if (ab.kind == ba.kind && ab.nvlinks == ba.nvlinks) continue;
      const CellPosition where = m.positions[CellIndex(b, a, n)];
      return tl::unexpected(ErrorAt(
          where.line, where.column,
          "row GPU" + std::to_string(b) + " says " + CellText(ba) + " to GPU" + std::to_string(a) +
              " but row GPU" + std::to_string(a) + " says " + CellText(ab) + " to GPU" +
              std::to_string(b) + "; the GPU-GPU part of the matrix must be symmetric"));
    }
  }

  GpuTopology topo;
  topo.count_ = n;
  topo.links_ = std::move(m.links);
  topo.numa_ = m.numa;
  topo.pcie_.assign(gpus * gpus, LinkKind::kSys);
  // PCIe locality: the GPU-GPU cell when it is a PCIe kind (it is the measured path between the two
  // GPUs, so it wins over inference); else a PCIe switch shared with a NIC; else the same NUMA node
  // (kNode); else kSys.
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      const std::size_t at = CellIndex(a, b, n);
      const LinkKind cell = topo.links_[at].kind;
      LinkKind pcie = LinkKind::kSys;
      if (a == b) {
        pcie = LinkKind::kSelf;
      } else if (IsPcieKind(cell)) {
        pcie = cell;
      } else if (const LinkKind shared = SharedSwitch(m, a, b); shared != LinkKind::kSys) {
        pcie = shared;
      } else if (m.numa[static_cast<std::size_t>(a)] >= 0 &&
                 m.numa[static_cast<std::size_t>(a)] == m.numa[static_cast<std::size_t>(b)]) {
        pcie = LinkKind::kNode;
      }
      topo.pcie_[at] = pcie;
    }
  }
  return topo;
}

}  // namespace gangsched::topology
