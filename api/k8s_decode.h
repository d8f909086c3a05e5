// Decoding of Kubernetes objects (Nodes, Pods, their Lists, resource quantities) from YAML or JSON
// files into the core's plain values (scheduler/model.h). The only place that knows the Kubernetes
// object layout for files; yaml-cpp reads YAML and JSON alike (JSON is YAML), and its exceptions
// are caught here and turned into DecodeError values naming file:line:column. Must not plan or hold
// anything: it returns data and errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/model.h"

namespace gangsched::api {

// A 1-based position in a file; 0 when unknown.
struct Position {
  int line = 0;
  int column = 0;
};

// A user-facing decode error. line/column are 1-based; 0 when the error is not tied to a position
// (an unreadable file).
struct DecodeError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  // "FILE:LINE:COL: message" (or "FILE: message" without a position).
  std::string ToString() const;
};

template <typename T>
using Decoded = tl::expected<T, DecodeError>;

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

// A decoded object together with where it came from.
struct SourceObject {
  YAML::Node node;
  std::string kind;         // "" when the object has no kind (items of typed lists are defaulted)
  std::string api_version;  // "" when absent
};

// Splits a file's text into its objects: every document of a multi-document stream; the items of
// a `kind: List`, `NodeList` or `PodList` are flattened (items of typed lists default their kind).
// Empty documents are skipped. Syntax errors carry the position yaml-cpp reports.
Decoded<std::vector<SourceObject>> LoadObjects(std::string_view text, const std::string& file);
// Reads the file, then LoadObjects. A missing or unreadable file is an error naming it.
Decoded<std::vector<SourceObject>> LoadObjectsFromFile(const std::string& path);

// Per-pod requests and scheduling constraints of a pod spec (`spec` of a Pod or of a pod template).
struct PodSpecInfo {
  scheduler::Resources requests;  // effective requests, pods = 1
  std::string scheduler_name;     // "default-scheduler" when absent, as the API server defaults it
  std::string scheduling_group;   // spec.schedulingGroup.podGroupName (native PodGroup)
  std::vector<scheduler::Toleration> tolerations;
  scheduler::StringMap node_selector;
  std::int32_t priority = 0;
  std::string node_name;
};
// A pod's effective requests as kube-scheduler computes them (both the file decoder and the wire
// decoder feed it): per resource, the larger of the app containers plus the sidecars (restartable
// init containers) and the peak of the init sequence (each init container beside the sidecars
// started before it); then the pod overhead; pods = 1.
class PodRequests {
 public:
  void AddContainer(const scheduler::Resources& requests) { containers_ += requests; }
  // Init containers in their order.
  void AddInitContainer(const scheduler::Resources& requests, bool restartable);
  scheduler::Resources Total(const scheduler::Resources& overhead) const;

 private:
  scheduler::Resources containers_;
  scheduler::Resources sidecars_;
  scheduler::Resources init_peak_;
};

// Effective requests as kube-scheduler computes them: per resource, the larger of the sum over
// containers (plus restartable init containers, i.e. sidecars) and the largest init container (plus
// the sidecars started before it); then spec.overhead added. A resource with a limit but no request
// is requested at its limit, as the API server defaults it. `spec` may be null (no containers).
Decoded<PodSpecInfo> DecodePodSpec(const YAML::Node& spec, const std::string& file);

// labels/annotations maps: scalar values are taken as strings (`replica-index: 0` is "0").
Decoded<scheduler::StringMap> DecodeStringMap(const YAML::Node& map, const std::string& file,
                                              const char* what);

Decoded<scheduler::Node> DecodeNode(const YAML::Node& object, const std::string& file);
// The gangsched.io/gpu-ids annotation ("3, 1"): GPU indices 0-63 separated by commas, sorted;
// nothing when malformed. "" is no ids.
std::optional<std::vector<int>> ParseGpuIds(std::string_view text);
Decoded<scheduler::Pod> DecodePod(const YAML::Node& object, const std::string& file);

// A cluster inventory file (DESIGN.md §2 `--cluster`): Nodes and, optionally, Pods (running pods
// hold capacity). Accepts NodeList, PodList, `kind: List` mixing both, single objects, and several
// documents. Any other kind is an error naming its position and kind.
struct ClusterInput {
  std::vector<scheduler::Node> nodes;
  std::vector<scheduler::Pod> pods;
  // Position of each pod's object, parallel to `pods`, for later errors (a pod on an unknown node).
  std::vector<Position> pod_positions;
};
Decoded<ClusterInput> DecodeCluster(std::string_view text, const std::string& file);
// A cluster file's Nodes and Pods decoded, and its other objects (TFJobs, PodGroups: rosters) left
// for their decoders, in file order. A kubectl JSON dump is decoded with simdjson (api/wire.h
// DecodeClusterJson: ~100x faster than yaml-cpp, without its document tree); when that fails, and
// for YAML, the YAML decoders run and their errors name file:line:column.
struct ClusterObjects {
  ClusterInput cluster;
  std::vector<SourceObject> others;
};
Decoded<ClusterObjects> LoadClusterObjects(std::string_view text, const std::string& file);
Decoded<ClusterObjects> LoadClusterObjectsFromFile(const std::string& path);
Decoded<ClusterInput> DecodeClusterFile(const std::string& path);

// The 1-based position of a YAML node ({0, 0} for a missing or synthetic node).
Position PositionOf(const YAML::Node& node);
// An error at `node`'s position.
DecodeError ErrorAt(const YAML::Node& node, const std::string& file, std::string message);
// The child `key` of a map node; a null node when `map` is not a map, the key is absent, or its
// value is null (as the API server treats `key: null`).
YAML::Node Child(const YAML::Node& map, const char* key);
// The scalar text of a node, or an error naming `what` when it is a map or a sequence.
Decoded<std::string> ScalarText(const YAML::Node& node, const std::string& file, const char* what);

}  // namespace gangsched::api
