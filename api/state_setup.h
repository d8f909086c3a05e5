// The engine each state source starts from (DESIGN.md §2 `serve`): standalone, the inventory of
// `--cluster FILE` (Nodes, Pods, job manifests whose rosters become gangs) or an empty one filled
// by the first full-`Nodes` request, with Bindings only recorded; with the API server, an empty
// engine that plans a gang only once a quorum of its pods exists.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "api/service_seam.h"
#include "config/config.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

// Standalone mode: there is no API server; a Binding succeeds by being recorded in the engine.
class StandaloneBinder final : public Binder {
 public:
  std::vector<std::string> BindAll(const std::vector<BindingRequest>& requests) override {
    return std::vector<std::string>(requests.size());
  }
};

struct InitialState {
  std::unique_ptr<scheduler::GangScheduler> engine;
  bool inventory_loaded = false;
  std::size_t nodes = 0;
  std::size_t pods = 0;
  std::size_t jobs = 0;
};
// Standalone: the inventory of `config.cluster_file`, or an empty one.
tl::expected<InitialState, std::string> LoadStandaloneState(const config::Config& config);
// The API state source: no nodes yet (the first list fills them), and a gang is planned only once
// a quorum of its pods exists (EngineOptions.require_quorum_pods, DESIGN.md §3.2).
tl::expected<InitialState, std::string> LoadApiState(const config::Config& config);

}  // namespace gangsched::api
