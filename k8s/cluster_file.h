// Cluster inventory files (DESIGN.md §2 `--cluster`): Nodes and the running Pods beside them, as
// `kubectl get nodes,pods -o yaml|json` prints them, and the other objects of the file (TFJobs,
// PodGroups: rosters, k8s/jobs.h) left for their decoders. A kubectl JSON dump goes through
// simdjson; YAML, and any JSON the fast path cannot take, through yaml-cpp with file:line:col.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "k8s/json.h"
#include "k8s/objects_yaml.h"
#include "scheduler/model.h"

namespace gangsched::k8s {

// A kubectl JSON dump (`kubectl get nodes,pods -o json`: a List, NodeList or PodList), its Nodes
// and Pods decoded with simdjson (a cluster file of 10,000 Nodes and 100,000 Pods through yaml-cpp
// took 30-80 s and 4 GB at its peak). Objects of any other kind are left as their JSON text. The
// caller falls back to the YAML decoders on any error: they name file:line:column, these do not.
struct JsonObject {
  std::string kind;
  std::string api_version;
  std::string_view json;   // a view into the text
  std::size_t offset = 0;  // of the object's `{` in the text
};
struct JsonCluster {
  std::vector<scheduler::Node> nodes;
  std::vector<scheduler::Pod> pods;
  std::vector<std::size_t> pod_offsets;  // parallel to pods
  std::vector<JsonObject> others;
};
JsonResult<JsonCluster> DecodeClusterJson(Body text);

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
// for their decoders, in file order. A kubectl JSON dump is decoded with simdjson
// (DecodeClusterJson: ~100x faster than yaml-cpp, without its document tree); when that fails, and
// for YAML, the YAML decoders run and their errors name file:line:column.
struct ClusterObjects {
  ClusterInput cluster;
  std::vector<SourceObject> others;
};
Decoded<ClusterObjects> LoadClusterObjects(std::string_view text, const std::string& file);
Decoded<ClusterObjects> LoadClusterObjectsFromFile(const std::string& path);
Decoded<ClusterInput> DecodeClusterFile(const std::string& path);

}  // namespace gangsched::k8s
