#include "api/explain.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

namespace gangsched::api {

using nlohmann::json;

namespace {

struct PodNeed {
  std::string role;
  std::int64_t gpus = 0;
  std::int64_t milli_cpu = 0;
  std::int64_t memory = 0;
};

struct Room {
  std::int64_t gpus = 0;
  std::int64_t milli_cpu = 0;
  std::int64_t memory = 0;
};

std::int64_t Int(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string Str(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The quorum's pods, largest first (GPUs, then CPU, then memory).
std::vector<PodNeed> NeededPods(const json& gang) {
  std::vector<PodNeed> pods;
  for (const json& role : gang.value("need", json::array())) {
    const PodNeed pod{Str(role, "role"), Int(role, "gpus"), Int(role, "milli_cpu"),
                      Int(role, "memory_bytes")};
    for (std::int64_t i = 0; i < Int(role, "pods"); ++i) pods.push_back(pod);
  }
  std::stable_sort(pods.begin(), pods.end(), [](const PodNeed& a, const PodNeed& b) {
    if (a.gpus != b.gpus) return a.gpus > b.gpus;
    if (a.milli_cpu != b.milli_cpu) return a.milli_cpu > b.milli_cpu;
    return a.memory > b.memory;
  });
  return pods;
}

// Packs the pods (largest first) each onto the node it leaves the fewest GPUs free on; returns
// the GPUs of the pods that found no node.
int Pack(const std::vector<PodNeed>& pods, std::vector<Room> rooms, std::int64_t& short_gpus) {
  int placed = 0;
  short_gpus = 0;
  for (const PodNeed& p : pods) {
    Room* best = nullptr;
    for (Room& r : rooms) {
      if (r.gpus < p.gpus || r.milli_cpu < p.milli_cpu || r.memory < p.memory) continue;
      if (best == nullptr || r.gpus < best->gpus) best = &r;
    }
    if (best == nullptr) {
      short_gpus += p.gpus;
      continue;
    }
    best->gpus -= p.gpus;
    best->milli_cpu -= p.milli_cpu;
    best->memory -= p.memory;
    ++placed;
  }
  return placed;
}

std::string Duration(std::int64_t ms) {
  if (ms <= 0) return "now";
  std::ostringstream out;
  if (ms < 10'000) {
    out << ms / 1000 << "." << (ms % 1000) / 100 << "s";
  } else if (ms < 3'600'000) {
    const std::int64_t s = ms / 1000;
    if (s >= 60) out << s / 60 << "m";
    if (s % 60 != 0 || s < 60) out << s % 60 << "s";
  } else {
    out << ms / 3'600'000 << "h" << (ms % 3'600'000) / 60'000 << "m";
  }
  return out.str();
}

// "1 node", "2 nodes".
std::string Count(std::int64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string Cpu(std::int64_t milli) {
  return milli % 1000 == 0 ? std::to_string(milli / 1000) : std::to_string(milli) + "m";
}

std::string Memory(std::int64_t bytes) {
  static constexpr std::pair<std::int64_t, const char*> kUnits[] = {{std::int64_t{1} << 40, "Ti"},
                                                                    {std::int64_t{1} << 30, "Gi"},
                                                                    {1 << 20, "Mi"},
                                                                    {1 << 10, "Ki"}};
  for (const auto& [size, unit] : kUnits) {
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + unit;
  }
  return std::to_string(bytes);
}

struct Domain {
  std::string level;  // "cluster" or a level name
  std::string name;
  std::vector<const json*> nodes;
};

std::string DomainName(const json& d) {
  return d["level"] == "cluster" ? std::string("cluster") : Str(d, "level") + " " + Str(d, "name");
}

}  // namespace

json Explain(const json& gang, const json& state) {
  const std::string self = Str(gang, "namespace") + "/" + Str(gang, "name");
  const std::vector<PodNeed> pods = NeededPods(gang);
  const bool bound = Str(gang, "phase") == "Bound";
  // Who holds what on each node, and when each hold expires.
  std::map<std::string, std::map<std::string, std::int64_t>> held_on;  // node -> gang -> GPUs
  std::map<std::string, json> expires;
  for (const json& h : state.value("holds", json::array())) {
    const std::string holder = Str(h, "gang");
    expires[holder] = h.value("expires_in_ms", json(nullptr));
    for (const json& p : h.value("pods", json::array())) {
      held_on[Str(p, "node")][holder] += Int(p, "gpus");
    }
  }
  // The cluster, then every domain of each level, broad to narrow (keyed by its path).
  const json levels = state.value("levels", json::array());
  std::vector<Domain> domains(1, Domain{"cluster", "", {}});
  std::vector<std::map<std::string, std::size_t>> by_path(levels.size());
  const json nodes = state.value("nodes", json::array());  // the domains point into it
  for (const json& n : nodes) {
    domains[0].nodes.push_back(&n);
    const json path = n.value("domains", json::array());
    std::string key;
    for (std::size_t i = 0; i < levels.size() && i < path.size(); ++i) {
      key += "/" + path[i].get<std::string>();
      auto [it, added] = by_path[i].emplace(key, domains.size());
      if (added) domains.push_back(Domain{levels[i].get<std::string>(), path[i], {}});
      domains[it->second].nodes.push_back(&n);
    }
  }
  json out_domains = json::array();
  for (const Domain& d : domains) {
    std::int64_t total = 0, used = 0, held = 0, free = 0;
    std::map<std::string, std::int64_t> holders;
    std::vector<Room> now;
    std::vector<Room> without_holds;
    for (const json* n : d.nodes) {
      const json gpus = n->value("gpus", json::object());
      total += Int(gpus, "allocatable");
      used += Int(gpus, "used");
      held += Int(gpus, "held");
      free += Int(gpus, "free");
      std::int64_t own = 0;
      if (auto it = held_on.find(Str(*n, "name")); it != held_on.end()) {
        for (const auto& [holder, g] : it->second) {
          holders[holder] += g;
          if (holder == self) own += g;
        }
      }
      if (n->value("unschedulable", false)) continue;
      const Room room{Int(gpus, "free"), Int(n->value("milli_cpu", json::object()), "free"),
                      Int(n->value("memory_bytes", json::object()), "free")};
      // The gang's own hold is room for it: it is where its plan puts it.
      now.push_back(Room{room.gpus + own, room.milli_cpu, room.memory});
      without_holds.push_back(Room{room.gpus + Int(gpus, "held"), room.milli_cpu, room.memory});
    }
    std::int64_t short_now = 0;
    std::int64_t short_gpus = 0;
    const int fit_now = Pack(pods, now, short_now);
    const int fit_without = Pack(pods, without_holds, short_gpus);
    const int needed = static_cast<int>(pods.size());
    json held_by = json::array();
    std::vector<std::string> others;
    for (const auto& [holder, g] : holders) {
      held_by.push_back({{"gang", holder}, {"gpus", g}, {"expires_in_ms", expires[holder]}});
      if (holder == self) continue;
      std::string who = holder + " (" + Count(g, "GPU");
      if (expires[holder].is_number()) {
        who += ", expires in " + Duration(expires[holder].get<std::int64_t>());
      }
      others.push_back(who + ")");
    }
    std::string verdict;
    std::string to_fit;
    if (bound) {
      verdict = "bound";
      to_fit = "bound whole: nothing to fit";
    } else if (needed == 0) {
      verdict = "short";
      to_fit = "unknown: gangsched does not know the gang's pods yet";
    } else if (fit_now == needed) {
      verdict = "fits";
      // The reason is the planner's at the gang's last filter call; capacity may have freed since.
      to_fit = Str(gang, "phase") == "Waiting"
                   ? "fits now by capacity: its members' next filter call can plan it"
                   : "fits now";
    } else if (fit_without == needed) {
      verdict = "fits_without_holds";
      to_fit = "fits once these holds end: ";
      for (std::size_t i = 0; i < others.size(); ++i) to_fit += (i ? ", " : "") + others[i];
    } else {
      verdict = "short";
      to_fit = std::to_string(needed - fit_without) + " of " + Count(needed, "pod") +
               " do not fit even with every hold released: needs " + Count(short_gpus, "more GPU") +
               " free on nodes with room for a whole pod";
      if (used > 0) {
        to_fit += " (" + Count(used, "GPU") + (used == 1 ? " here is" : " here are") +
                  " used by bound pods)";
      }
    }
    out_domains.push_back(
        {{"level", d.level},
         {"name", d.name},
         {"nodes", d.nodes.size()},
         {"gpus", {{"total", total}, {"used", used}, {"held", held}, {"free", free}}},
         {"held_by", std::move(held_by)},
         {"pods_needed", needed},
         {"pods_fit_now", fit_now},
         {"pods_fit_without_holds", fit_without},
         {"verdict", verdict},
         {"to_fit", to_fit}});
  }
  json out = gang;
  out["levels"] = levels;
  out["domains"] = std::move(out_domains);
  return out;
}

std::string ExplainText(const json& e, int per_level) {
  std::ostringstream out;
  const std::string self = Str(e, "namespace") + "/" + Str(e, "name");
  out << "gang " << self << " (" << Str(e, "kind") << "): " << Str(e, "phase") << "\n";
  out << "  pods:    " << Int(e, "members_seen") << " seen, quorum " << Int(e, "quorum") << ", "
      << Int(e, "members_arrived") << " at bind, " << Int(e, "members_bound") << " bound\n";
  std::int64_t need_gpus = 0;
  std::string need;
  for (const json& r : e.value("need", json::array())) {
    need += std::string(need.empty() ? "" : " + ") + std::to_string(Int(r, "pods")) + " " +
            Str(r, "role") + " of " + Count(Int(r, "gpus"), "GPU") + ", " +
            Cpu(Int(r, "milli_cpu")) + " CPU, " + Memory(Int(r, "memory_bytes"));
    need_gpus += Int(r, "pods") * Int(r, "gpus");
  }
  if (!need.empty()) out << "  needs:   " << need << " = " << need_gpus << " GPUs\n";
  if (!Str(e, "reason").empty()) out << "  reason:  " << Str(e, "reason") << "\n";
  if (const json& plan = e.value("plan", json(nullptr)); plan.is_object()) {
    out << "  plan:    "
        << Count(static_cast<std::int64_t>(plan.value("pods", json::array()).size()), "pod")
        << " on " << Count(Int(plan, "nodes_used"), "node") << ", span " << Str(plan, "span")
        << (Str(plan, "span_domain").empty() ? "" : " " + Str(plan, "span_domain"));
    if (e.value("hold_expires_in_ms", json(nullptr)).is_number()) {
      out << ", hold expires in " << Duration(Int(e, "hold_expires_in_ms"));
    }
    out << "\n";
  }
  if (e.value("backoff_for_ms", json(nullptr)).is_number()) {
    out << "  backoff: not planned again for " << Duration(Int(e, "backoff_for_ms")) << "\n";
  }
  // The cluster, then at most `per_level` domains of each level, the closest to fitting first.
  std::vector<json> shown;
  std::vector<std::string> hidden;
  std::map<std::string, std::vector<json>> by_level;
  std::vector<std::string> order;
  for (const json& d : e.value("domains", json::array())) {
    const std::string level = Str(d, "level");
    if (by_level.find(level) == by_level.end()) order.push_back(level);
    by_level[level].push_back(d);
  }
  for (const std::string& level : order) {
    std::vector<json>& ds = by_level[level];
    std::stable_sort(ds.begin(), ds.end(), [](const json& a, const json& b) {
      if (Int(a, "pods_fit_without_holds") != Int(b, "pods_fit_without_holds")) {
        return Int(a, "pods_fit_without_holds") > Int(b, "pods_fit_without_holds");
      }
      if (Int(a, "pods_fit_now") != Int(b, "pods_fit_now")) {
        return Int(a, "pods_fit_now") > Int(b, "pods_fit_now");
      }
      return Int(a["gpus"], "free") > Int(b["gpus"], "free");
    });
    const std::size_t n = std::min(ds.size(), static_cast<std::size_t>(std::max(per_level, 1)));
    shown.insert(shown.end(), ds.begin(), ds.begin() + static_cast<std::ptrdiff_t>(n));
    if (ds.size() > n) {
      hidden.push_back(std::to_string(ds.size() - n) + " more " + level +
                       (ds.size() - n == 1 ? "" : "s"));
    }
  }
  std::size_t width = 6;
  for (const json& d : shown) width = std::max(width, DomainName(d).size());
  auto pad = [](std::string s, std::size_t w, bool right) {
    if (s.size() >= w) return s;
    return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
  };
  out << "\n"
      << pad("DOMAIN", width, false)
      << "  NODES   GPUS   USED   HELD   FREE  FIT NOW  FIT W/O HOLDS"
      << "  HELD BY\n";
  for (const json& d : shown) {
    const json& g = d["gpus"];
    std::string held_by;
    for (const json& h : d["held_by"]) {
      held_by += (held_by.empty() ? "" : ", ") + Str(h, "gang") + " " +
                 std::to_string(Int(h, "gpus")) + (Str(h, "gang") == self ? " (this gang)" : "");
    }
    const std::string needed = "/" + std::to_string(Int(d, "pods_needed"));
    out << pad(DomainName(d), width, false) << pad(std::to_string(d["nodes"].get<int>()), 7, true)
        << pad(std::to_string(Int(g, "total")), 7, true)
        << pad(std::to_string(Int(g, "used")), 7, true)
        << pad(std::to_string(Int(g, "held")), 7, true)
        << pad(std::to_string(Int(g, "free")), 7, true)
        << pad(std::to_string(Int(d, "pods_fit_now")) + needed, 9, true)
        << pad(std::to_string(Int(d, "pods_fit_without_holds")) + needed, 15, true)
        << (held_by.empty() ? "" : "  " + held_by) << "\n";
  }
  for (const std::string& h : hidden) out << "(" << h << " not shown; --output json lists all)\n";
  if (Str(e, "phase") == "Bound") {
    out << "\nplaced:\n";
    const json plan = e.value("plan", json(nullptr));
    for (const json& p : plan.is_object() ? plan.value("pods", json::array()) : json::array()) {
      out << "  " << Str(p, "role") << " " << Int(p, "index") << " -> " << Str(p, "node")
          << ", GPUs " << p.value("gpu_ids", json::array()).dump() << "\n";
    }
    return out.str();
  }
  out << "\nwhat would make it fit:\n";
  for (const json& d : shown) {
    out << "  " << pad(DomainName(d), width, false) << "  " << Str(d, "to_fit") << "\n";
  }
  return out.str();
}

std::string GangsText(const json& gangs) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAMESPACE", "NAME", "KIND", "PHASE", "PODS", "BOUND", "SPAN", "REASON"});
  for (const json& g : gangs) {
    const std::string kind = Str(g, "kind");
    const json& plan = g.value("plan", json(nullptr));
    std::string span = "-";
    if (plan.is_object()) {
      span = Str(plan, "span") +
             (Str(plan, "span_domain").empty() ? "" : " " + Str(plan, "span_domain"));
    }
    rows.push_back({Str(g, "namespace"), Str(g, "name"), kind.substr(0, kind.find(' ')),
                    Str(g, "phase"),
                    std::to_string(Int(g, "members_seen")) + "/" + std::to_string(Int(g, "quorum")),
                    std::to_string(Int(g, "members_bound")), span,
                    Str(g, "reason").empty() ? "-" : Str(g, "reason")});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out << row[c];
      if (c + 1 < row.size()) out << std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace gangsched::api
