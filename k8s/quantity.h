// Kubernetes values inside objects -> integers in base units (STYLE.md: never double for capacity):
// resource quantities, taint effects, a pod's effective requests as kube-scheduler computes them,
// and gangsched's own GPU-id annotation. Shared by the JSON and YAML object decoders and job
// manifests; no object layout here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/model.h"

namespace gangsched::k8s {

// The kubelet's default max pods, used when a Node's allocatable has no "pods".
inline constexpr std::int64_t kDefaultMaxPods = 110;

// How a quantity becomes an integer in base units (STYLE.md: never double for capacity).
enum class QuantityScale : std::uint8_t {
  kUnits,  // the value, rounded up (bytes, pod slots), as resource.Quantity.Value() does
  kMilli,  // the value x 1000, rounded up (CPU in milli-cores), as Quantity.MilliValue() does
  kWhole,  // the value, which must be a whole number (GPUs and other extended resources)
};

// Parses a Kubernetes resource quantity (k8s.io/apimachinery/pkg/api/resource): a signed decimal
// number with a suffix: binary Ki Mi Gi Ti Pi Ei, decimal n u m "" k M G T P E, or a decimal
// exponent e<n>/E<n> ("1e9", "12E-3"). Negative values are rejected: capacities and requests are >=
// 0. The error says what is wrong with the text, without a position.
tl::expected<std::int64_t, std::string> ParseQuantity(std::string_view text, QuantityScale scale);

// A taint effect by its API name (NoSchedule, PreferNoSchedule, NoExecute); nothing for any other
// text. Shared by the YAML decoder and the extender's wire decoder.
std::optional<scheduler::TaintEffect> ParseTaintEffect(std::string_view name);

// Adds `add` to `sum` resource by resource. When a sum would overflow int64 (two containers of
// 2^62 GPUs summed unchecked to 0, and the pod was placed on a node with no free GPU), `sum` is
// left unchanged and the API name of that resource ("nvidia.com/gpu", "cpu", "memory", "pods")
// is returned.
std::optional<std::string_view> AddResources(scheduler::Resources& sum,
                                             const scheduler::Resources& add);

// A pod's effective requests as kube-scheduler computes them (both the file decoder and the wire
// decoder feed it): per resource, the larger of the app containers plus the sidecars (restartable
// init containers) and the peak of the init sequence (each init container beside the sidecars
// started before it); then the pod overhead; pods = 1. Every sum is checked: on overflow the
// step fails with a message naming the resource ("brings the sum ... of cpu over ..."); the
// decoder puts the field it stands at before it (Total's message starts with the field below the
// pod spec: "overhead brings ...").
class PodRequests {
 public:
  tl::expected<void, std::string> AddContainer(const scheduler::Resources& requests);
  // Init containers in their order.
  tl::expected<void, std::string> AddInitContainer(const scheduler::Resources& requests,
                                                   bool restartable);
  tl::expected<scheduler::Resources, std::string> Total(const scheduler::Resources& overhead) const;

 private:
  scheduler::Resources containers_;
  scheduler::Resources sidecars_;
  scheduler::Resources init_peak_;
};

// The gangsched.io/gpu-ids annotation ("3, 1"): GPU indices 0-63 separated by commas, sorted;
// nothing when malformed. "" is no ids.
std::optional<std::vector<int>> ParseGpuIds(std::string_view text);

}  // namespace gangsched::k8s
