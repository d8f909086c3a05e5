#include "k8s/objects_json.h"

#include "k8s/json_reader.h"
#include "k8s/object_fields.h"

namespace gangsched::k8s {

JsonStatus ReadPodObject(od::object& obj, scheduler::Pod& pod, Strictness strictness) {
  JsonObjectReader reader(obj);
  return fields::ReadPodObject(reader, pod, strictness);
}

JsonStatus ReadPod(od::value& v, scheduler::Pod& pod, Strictness strictness) {
  if (IsNull(v)) return tl::unexpected(std::string(" is null; the request must carry the pod"));
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return ReadPodObject(obj, pod, strictness);
}

JsonStatus ReadNodeObject(od::object& obj, scheduler::Node& node, Strictness strictness) {
  JsonObjectReader reader(obj);
  return fields::ReadNodeObject(reader, node, strictness);
}

JsonStatus ReadNode(od::value& v, scheduler::Node& node, Strictness strictness) {
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return ReadNodeObject(obj, node, strictness);
}

JsonResult<scheduler::Pod> DecodePodJson(std::string_view json, Strictness strictness) {
  scheduler::Pod pod;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadPod(root, pod, strictness); });
  if (!ok) return tl::unexpected(Prefix("Pod", ok.error()));
  return pod;
}

JsonResult<scheduler::Node> DecodeNodeJson(std::string_view json, Strictness strictness) {
  scheduler::Node node;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadNode(root, node, strictness); });
  if (!ok) return tl::unexpected(Prefix("Node", ok.error()));
  return node;
}

}  // namespace gangsched::k8s
