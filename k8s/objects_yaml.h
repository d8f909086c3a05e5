// Kubernetes objects in files (YAML, or JSON read as YAML) -> the core's values, with yaml-cpp:
// documents and Lists split into objects, Nodes, Pods, pod specs and string maps, each error naming
// file:line:column. The JSON front end (k8s/objects_json.h) decodes the same objects from the API;
// tests/unit/k8s keeps the two equal. yaml-cpp's exceptions are caught here. Must not plan or hold
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

namespace gangsched::k8s {

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

// The whole text of a file, with room for simdjson's padding after it (k8s/json.h Body). A missing
// or unreadable file is an error naming it.
Decoded<std::string> ReadTextFile(const std::string& path);

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
// Effective requests as kube-scheduler computes them: per resource, the larger of the sum over
// containers (plus restartable init containers, i.e. sidecars) and the largest init container (plus
// the sidecars started before it); then spec.overhead added. A resource with a limit but no request
// is requested at its limit, as the API server defaults it. `spec` may be null (no containers).
Decoded<PodSpecInfo> DecodePodSpec(const YAML::Node& spec, const std::string& file);

// labels/annotations maps: scalar values are taken as strings (`replica-index: 0` is "0").
Decoded<scheduler::StringMap> DecodeStringMap(const YAML::Node& map, const std::string& file,
                                              const char* what);

Decoded<scheduler::Node> DecodeNode(const YAML::Node& object, const std::string& file);
Decoded<scheduler::Pod> DecodePod(const YAML::Node& object, const std::string& file);

// The 1-based position of a YAML node ({0, 0} for a missing or synthetic node).
Position PositionOf(const YAML::Node& node);
// An error at `node`'s position.
DecodeError ErrorAt(const YAML::Node& node, const std::string& file, std::string message);
// The first defined node among candidates, for error positions of missing fields.
const YAML::Node& PositionNode(const YAML::Node& preferred, const YAML::Node& fallback);
// The child `key` of a map node; a null node when `map` is not a map, the key is absent, or its
// value is null (as the API server treats `key: null`).
YAML::Node Child(const YAML::Node& map, const char* key);
// The scalar text of a node, or an error naming `what` when it is a map or a sequence.
Decoded<std::string> ScalarText(const YAML::Node& node, const std::string& file, const char* what);

}  // namespace gangsched::k8s
