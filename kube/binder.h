// Posts Bindings through the API server (reference/extender-protocol.md §4.2) for the barrier's
// released gangs: the api::Binder of the API state source.
#pragma once

#include <string>
#include <vector>

#include "api/service_seam.h"
#include "kube/kube_client.h"

namespace gangsched::kube {

// Posts Bindings (reference/extender-protocol.md §4.2): all of a gang's in parallel, each with the
// pod's UID as precondition and gangsched's annotations; a 409 because the pod is already on that
// node counts as bound.
class ApiBinder final : public api::Binder {
 public:
  explicit ApiBinder(KubeClient& client) : client_(client) {}
  std::vector<std::string> BindAll(const std::vector<api::BindingRequest>& requests) override;

 private:
  std::string BindOne(const api::BindingRequest& request);
  KubeClient& client_;
};

// The Binding body for one request (the annotations gangsched.io/gpu-ids and
// gangsched.io/placement, metadata.uid as precondition).
std::string EncodeBinding(const api::BindingRequest& request);

}  // namespace gangsched::kube
