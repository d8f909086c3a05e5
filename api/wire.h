// The extender wire format (reference/extender-protocol.md §1): decoders for the request bodies
// kube-scheduler sends (ExtenderArgs, ExtenderBindingArgs, ExtenderPreemptionArgs) and encoders for
// the replies. Decoding uses simdjson On-Demand and reads only the fields the core needs: extender
// keys in any case (§1.1, Go's decoder is case-insensitive), `null` for every optional field, the
// embedded Pod/Node objects in normal API JSON with quantities as strings. Replies use the
// capitalised Go field names. Owns the byte format only; never decides anything.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "k8s/json.h"
#include "scheduler/model.h"
#include "scheduler/verbs.h"

namespace gangsched::api {

// A malformed request: what is wrong and where ("Pod.spec.containers[0].resources.requests.cpu:
// ..."). The server answers it with 400.
template <typename T>
using WireResult = tl::expected<T, std::string>;

// ExtenderArgs (filter and prioritize).
struct ExtenderArgs {
  scheduler::Pod pod;
  // The offered nodes in request order, in both modes (from NodeNames, or from Nodes.items). In
  // NodeNames mode decoded with NodeNamesDecoding::kRawOnly, left empty: see node_names_json.
  std::vector<std::string> node_names;
  // NodeNames mode: the NodeNames array as the body has it (a view into the body; empty when
  // NodeNames is null or absent). kube-scheduler sends the same array pod after pod, so the server
  // keys its resolved offers by these bytes and decodes them (DecodeNodeNames) only when new.
  std::string_view node_names_json;
  // True when `Nodes` was a NodeList (nodeCacheCapable=false): the reply must then carry Nodes.
  bool full_nodes = false;
  // Full mode, parallel to node_names: each Node's JSON verbatim — a view into the decoded body,
  // valid while the body is — and its RawNodeHash.
  std::vector<std::string_view> raw_nodes;
  std::vector<std::uint64_t> raw_hashes;
  // Full mode: the decoded Node objects in request order — all of them, or only those the
  // KnownNode lookup did not name — and each one's index in node_names.
  std::vector<scheduler::Node> nodes;
  std::vector<std::size_t> node_at;
};

// A 64-bit hash of one Node's verbatim JSON (wyhash-style; not for untrusted-collision use).
std::uint64_t RawNodeHash(std::string_view raw);

// Full mode's short cut (DESIGN.md §7): kube-scheduler resends the same Node objects request after
// request. Given a Node's RawNodeHash, the lookup sets `name` and returns true when the caller
// already holds that exact Node; such a Node is neither decoded nor copied (only hashed), so a
// request whose Nodes are all known costs one pass over the items.
using KnownNode = std::function<bool(std::uint64_t raw_hash, std::string& name)>;
enum class NodeNamesDecoding : std::uint8_t {
  kDecode,   // fill node_names
  kRawOnly,  // only node_names_json: the array is skipped, not checked item by item
};
using k8s::Body;
WireResult<ExtenderArgs> DecodeExtenderArgs(Body body, const KnownNode& known = {},
                                            NodeNamesDecoding names = NodeNamesDecoding::kDecode);
// The node names of a NodeNames array (ExtenderArgs::node_names_json); empty or `null`: none.
// Errors name the item ("NodeNames[3] must be a string").
WireResult<std::vector<std::string>> DecodeNodeNames(std::string_view json);

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

// The offered nodes as the filter reply's node -> reason maps (FailedNodes,
// FailedAndUnresolvableNodes) list them: each distinct name once, in byte order (the order Go's
// encoding/json writes map keys in), each already a JSON string. A rejection lists every offered
// node, so the server builds this once per offer and keeps it with the offer.
struct OfferedKeys {
  std::string json;               // the quoted names back to back
  std::vector<std::size_t> ends;  // where each ends in `json`, in order
};
OfferedKeys EncodeOfferedKeys(const std::vector<std::string>& offered);

// ExtenderFilterResult: the engine's decision spread over the offered nodes (scheduler/verbs.h
// says how each decision reads). NodeNames mode: {"Nodes":null,"NodeNames":[...],...}; full mode
// (args carried Nodes): {"Nodes":{"metadata":{},"items":[<kept Node objects verbatim>]},
// "NodeNames":null,...}. `keys` is EncodeOfferedKeys of the offered names (the request's, in
// either mode). `error` is for internal faults only (DESIGN.md §3.3).
std::string EncodeFilterResult(const scheduler::FilterDecision& decision, const OfferedKeys& keys,
                               const ExtenderArgs& args, std::string_view error = {});
inline std::string EncodeFilterResult(const scheduler::FilterDecision& decision,
                                      const std::vector<std::string>& offered,
                                      const ExtenderArgs& args, std::string_view error = {}) {
  return EncodeFilterResult(decision, EncodeOfferedKeys(offered), args, error);
}
// HostPriorityList: a bare array [{"Host":..,"Score":..}].
std::string EncodeHostPriorityList(const std::vector<scheduler::HostScore>& scores);
// The HostPriorityList of one offer with every score 0, and where each host's "0" is: the server
// encodes it once per offer and splices in the few scores that are not 0.
struct ZeroPriorityList {
  std::string json;
  std::vector<std::size_t> digit_at;  // by position in the offer
};
ZeroPriorityList EncodeZeroPriorityList(const std::vector<std::string>& hosts);
// The same list with `scores` (positions into the hosts, each at most once) in place of their 0.
std::string EncodeHostPriorityList(const ZeroPriorityList& zero,
                                   std::vector<scheduler::OfferScore> scores);
// ExtenderBindingResult {"Error":"..."}; also the JSON body of every error reply.
std::string EncodeBindingResult(std::string_view error);
inline std::string EncodeError(std::string_view error) { return EncodeBindingResult(error); }
// ExtenderPreemptionResult: always NodeNameToMetaVictims (§1.3).
std::string EncodePreemptionResult(const std::vector<scheduler::PreemptCandidate>& kept);

using k8s::AppendJsonString;

}  // namespace gangsched::api
