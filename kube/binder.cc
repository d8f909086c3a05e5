#include "kube/binder.h"

#include <thread>
#include <utility>

#include "k8s/json.h"
#include "k8s/objects_json.h"

namespace gangsched::kube {

using api::BindingRequest;
using k8s::AppendJsonString;
using k8s::DecodePodJson;

namespace {

constexpr const char* kGpuIdsAnnotation = "gangsched.io/gpu-ids";
constexpr const char* kPlacementAnnotation = "gangsched.io/placement";

}  // namespace

// ---- ApiBinder ----------------------------------------------------------------------------------

std::string EncodeBinding(const api::BindingRequest& request) {
  std::string out = R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":)";
  AppendJsonString(out, request.pod_name);
  out += R"(,"namespace":)";
  AppendJsonString(out, request.pod_namespace);
  out += R"(,"uid":)";
  AppendJsonString(out, request.pod_uid);
  std::string ids;
  for (int id : request.gpu_ids) {
    if (!ids.empty()) ids += ",";
    ids += std::to_string(id);
  }
  out += R"(,"annotations":{)";
  bool first = true;
  if (!ids.empty()) {
    AppendJsonString(out, kGpuIdsAnnotation);
    out += ":";
    AppendJsonString(out, ids);
    first = false;
  }
  if (!request.placement_summary.empty()) {
    if (!first) out += ",";
    AppendJsonString(out, kPlacementAnnotation);
    out += ":";
    AppendJsonString(out, request.placement_summary);
  }
  out += R"(}},"target":{"apiVersion":"v1","kind":"Node","name":)";
  AppendJsonString(out, request.node);
  out += "}}";
  return out;
}

std::string ApiBinder::BindOne(const api::BindingRequest& r) {
  const std::string pod_path = "/api/v1/namespaces/" + r.pod_namespace + "/pods/" + r.pod_name;
  const KubeResponse response = client_.Post(pod_path + "/binding", EncodeBinding(r));
  if (response.Ok()) return {};
  if (response.status == 409) {
    // Already bound (a retried bind, or a Binding that succeeded before a lost reply): success
    // when the pod with this UID is on this node (reference/extender-protocol.md §4.2).
    const KubeResponse pod = client_.Get(pod_path, 30);
    if (pod.Ok()) {
      if (auto p = DecodePodJson(pod.body); p && p->uid == r.pod_uid && p->node_name == r.node) {
        return {};
      }
    }
  }
  return "binding pod " + r.pod_namespace + "/" + r.pod_name + " to node " + r.node + ": " +
         response.Describe();
}

std::vector<std::string> ApiBinder::BindAll(const std::vector<api::BindingRequest>& requests) {
  std::vector<std::string> errors(requests.size());
  if (requests.empty()) return errors;
  // In parallel, bounded: a 1,000-pod gang does not open 1,000 connections at once.
  const std::size_t workers = std::min<std::size_t>(requests.size(), 64);
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < requests.size(); i = next++) {
        try {
          errors[i] = BindOne(requests[i]);
        } catch (const std::exception& e) {
          errors[i] = "binding pod " + requests[i].pod_namespace + "/" + requests[i].pod_name +
                      ": " + e.what();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return errors;
}

}  // namespace gangsched::kube
