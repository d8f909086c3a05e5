// The JSON views of `serve` (DESIGN.md §2 /api/v1/state, /api/v1/gangs): nodes with free and held
// GPUs, holds, gangs with phase, plan and the plain-words reason each waits. Values in, JSON out;
// the caller holds the engine's lock.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

// The plan's span as the views name it: "node", a level name ("rack", "block") or "cluster".
std::string SpanName(const scheduler::Plan& plan, const topology::ClusterTopology& topo);
nlohmann::json PlanJson(const scheduler::Plan& plan, const topology::ClusterTopology& topo);
// The pods the planner places for the gang (its quorum), by role: `role`, `pods`, and one pod's
// `gpus`, `milli_cpu`, `memory_bytes`.
nlohmann::json NeedJson(const scheduler::GangSpec& shape);
// A gang's view; with its shape, `need` (NeedJson) too.
nlohmann::json GangJson(const scheduler::GangStatus& g, scheduler::Millis now,
                        const topology::ClusterTopology& topo,
                        const std::optional<scheduler::GangSpec>& shape = std::nullopt);
// /api/v1/state: `ready` (inventory loaded) and `held_binds` come from the service.
nlohmann::json StateJson(const scheduler::GangScheduler& engine, bool ready, std::size_t held_binds,
                         scheduler::Millis now);

}  // namespace gangsched::api
