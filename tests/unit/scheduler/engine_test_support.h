// The engine tests' shared set-up (tests/unit/scheduler/*_test.cc of the engine's units): an
// engine on a generated cluster, gang pods, and a filter decision spread over the offered nodes as
// kube-scheduler reads it.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "scheduler/gang_scheduler.h"
#include "tests/support/builders.h"

namespace gangsched::scheduler::engine_test {

inline GangScheduler MakeEngine(std::vector<Node> nodes, EngineOptions options = {}) {
  auto state = ClusterState::Create(std::move(nodes));
  REQUIRE(state);
  return GangScheduler(std::move(*state), std::move(options));
}

inline Pod GangPod(const std::string& gang, int min, const std::string& name, int gpus) {
  Pod p;
  p.uid = "uid-" + name;
  p.namespace_name = "ml";
  p.name = name;
  p.annotations["gangsched.io/gang"] = gang;
  p.annotations["gangsched.io/min-members"] = std::to_string(min);
  p.requests = {1000, 1LL << 30, gpus, 1};
  return p;
}

// The pods exist: as the watch shows them in API mode, or as their earlier filter calls did in
// standalone mode. A gang is planned only once its quorum of pods is known (DESIGN.md §3.2).
inline void Known(GangScheduler& engine, const std::vector<Pod>& pods) {
  for (const Pod& p : pods) engine.UpsertPod(p);
}

inline std::vector<std::string> AllNodes(const GangScheduler& engine) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < engine.state().node_count(); ++i) {
    names.push_back(engine.state().node(i).name);
  }
  return names;
}

// A filter decision as kube-scheduler reads it over the offered nodes (api/wire.cc writes these
// lists): the node narrowed to, and each other offered node with its reason.
struct FilterLists {
  std::vector<std::string> feasible;                // NodeNames
  std::map<std::string, std::string> failed;        // FailedNodes
  std::map<std::string, std::string> unresolvable;  // FailedAndUnresolvableNodes
};

inline FilterLists Spread(const FilterDecision& decision, const std::vector<std::string>& offered) {
  FilterLists lists;
  if (const auto* narrow = std::get_if<Narrow>(&decision)) {
    lists.feasible.push_back(narrow->node);
    return lists;
  }
  const auto* preempt = std::get_if<PreemptOn>(&decision);
  for (const std::string& node : offered) {
    if (preempt && node == preempt->node) {
      lists.failed[node] = preempt->reason;
    } else {
      lists.unresolvable[node] =
          preempt ? preempt->elsewhere : std::get<RejectAll>(decision).reason;
    }
  }
  return lists;
}

inline FilterLists Filter(GangScheduler& engine, const Pod& pod, const Offer& offer, Millis now) {
  return Spread(engine.Filter(pod, offer, now), offer.names);
}

inline FilterLists Filter(GangScheduler& engine, const Pod& pod,
                          const std::vector<std::string>& offered, Millis now) {
  return Spread(engine.Filter(pod, offered, now), offered);
}

inline std::string Narrowed(const FilterLists& a) {
  REQUIRE(a.feasible.size() == 1);
  CHECK(a.failed.empty());
  return a.feasible.front();
}

// A running pod of `gpus` GPUs on `node`; with `gang` set, a member of that gang of `size` pods.
inline Pod Running(const std::string& name, const std::string& node, int gpus,
                   std::int32_t priority, const std::string& gang = "", int size = 1) {
  Pod p = GangPod(gang, size, name, gpus);
  if (gang.empty()) p.annotations.clear();
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  p.priority = priority;
  return p;
}

}  // namespace gangsched::scheduler::engine_test
