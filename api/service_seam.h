// The seam between the extender service and its state sources (DESIGN.md §1: kube -> this header,
// not the whole service): who performs Bindings, and how a state source updates the engine under
// the service's lock. Values and interfaces only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "scheduler/bind_barrier.h"
#include "scheduler/model.h"

namespace gangsched::scheduler {
class GangScheduler;
}

namespace gangsched::api {

// One Binding the barrier asks for.
struct BindingRequest {
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::string node;
  std::vector<int> gpu_ids;       // gangsched.io/gpu-ids (advisory, DESIGN.md §3 "GPU ids")
  std::string placement_summary;  // the gang's placement summary annotation
};

// Performs Bindings (the seam between state sources, issue 3 / issue 4). Called without the
// engine's lock; may block on API calls.
class Binder {
 public:
  virtual ~Binder() = default;
  // One result per request, in order: "" when bound, else the error.
  virtual std::vector<std::string> BindAll(const std::vector<BindingRequest>& requests) = 0;
};

// What a state source may do to the engine: run an update under the service's lock, and say when
// its first full sync is done.
class EngineHost {
 public:
  virtual ~EngineHost() = default;
  // Runs `update` on the engine under the service's lock. Barrier decisions it returns (a pod
  // deleted while its bind was held) are carried out as the timer's are; the timer is re-armed.
  using EngineUpdate = std::function<std::vector<scheduler::BarrierDecision>(
      scheduler::GangScheduler& engine, scheduler::Millis now)>;
  virtual void UpdateEngine(const EngineUpdate& update) = 0;
  // The state source finished its first full sync: /readyz answers ready from now on.
  virtual void MarkSynced() = 0;
};

}  // namespace gangsched::api
