// The extender wire format (reference/extender-protocol.md §1): decoders for the request bodies
// kube-scheduler sends (ExtenderArgs, ExtenderBindingArgs, ExtenderPreemptionArgs) and encoders for
// the replies. Decoding uses simdjson On-Demand and reads only the fields the core needs: extender
// keys in any case (§1.1, Go's decoder is case-insensitive), `null` for every optional field, the
// embedded Pod/Node objects in normal API JSON with quantities as strings. Replies use the
// capitalised Go field names. Owns the byte format only; never decides anything.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/gang_scheduler.h"
#include "scheduler/model.h"

namespace gangsched::api {

// A malformed request: what is wrong and where ("Pod.spec.containers[0].resources.requests.cpu:
// ..."). The server answers it with 400.
template <typename T>
using WireResult = tl::expected<T, std::string>;

// ExtenderArgs (filter and prioritize).
struct ExtenderArgs {
  scheduler::Pod pod;
  // The offered nodes in request order, in both modes (from NodeNames, or from Nodes.items).
  std::vector<std::string> node_names;
  // True when `Nodes` was a NodeList (nodeCacheCapable=false): the reply must then carry Nodes.
  bool full_nodes = false;
  std::vector<scheduler::Node> nodes;  // full mode: the decoded Node objects
  std::vector<std::string> raw_nodes;  // full mode: each Node's JSON verbatim, parallel to nodes
};
WireResult<ExtenderArgs> DecodeExtenderArgs(std::string_view body);

// ExtenderBindingArgs.
struct BindingArgs {
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string node;
};
WireResult<BindingArgs> DecodeBindingArgs(std::string_view body);

// ExtenderPreemptionArgs: NodeNameToMetaVictims (UIDs) or NodeNameToVictims (full pods, whose
// metadata.uid is read); both become candidates.
struct PreemptionArgs {
  scheduler::Pod pod;
  std::vector<scheduler::PreemptCandidate> candidates;
};
WireResult<PreemptionArgs> DecodePreemptionArgs(std::string_view body);

// A Pod object in API JSON (also used for files' JSON fast path and tests).
WireResult<scheduler::Pod> DecodePodJson(std::string_view json);
WireResult<scheduler::Node> DecodeNodeJson(std::string_view json);

// ExtenderFilterResult. NodeNames mode: {"Nodes":null,"NodeNames":[...],...}; full mode (args
// carried Nodes): {"Nodes":{"metadata":{},"items":[<kept Node objects verbatim>]},"NodeNames":null,
// ...}. `error` is for internal faults only (DESIGN.md §3.3).
std::string EncodeFilterResult(const scheduler::FilterAnswer& answer, const ExtenderArgs& args,
                               std::string_view error = {});
// HostPriorityList: a bare array [{"Host":..,"Score":..}].
std::string EncodeHostPriorityList(const std::vector<scheduler::HostScore>& scores);
// ExtenderBindingResult {"Error":"..."}; also the JSON body of every error reply.
std::string EncodeBindingResult(std::string_view error);
inline std::string EncodeError(std::string_view error) { return EncodeBindingResult(error); }
// ExtenderPreemptionResult: always NodeNameToMetaVictims (§1.3).
std::string EncodePreemptionResult(const std::vector<scheduler::PreemptCandidate>& kept);

// Appends `s` as a JSON string literal (quotes, escapes; invalid UTF-8 bytes become U+FFFD).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace gangsched::api
