// Kubernetes Pods and Nodes in API JSON -> the core's values (scheduler/model.h), with simdjson:
// the objects a watch or list sends, the Pod and Nodes embedded in kube-scheduler's ExtenderArgs,
// and the items of a kubectl JSON dump. Reads only the fields the core needs; errors name the
// field path. The YAML front end (k8s/objects_yaml.h) decodes the same objects from files, with
// line:col; tests/unit/k8s keeps the two equal.
#pragma once

#include <string_view>

#include "k8s/json.h"
#include "scheduler/model.h"

namespace gangsched::k8s {

// One Pod or Node value of a larger document; the caller prefixes the errors with where it is.
JsonStatus ReadPod(od::value& v, scheduler::Pod& pod);
JsonStatus ReadPodObject(od::object& obj, scheduler::Pod& pod);
JsonStatus ReadNode(od::value& v, scheduler::Node& node);
JsonStatus ReadNodeObject(od::object& obj, scheduler::Node& node);

// A whole Pod or Node document ("Pod.spec...: ..." errors).
JsonResult<scheduler::Pod> DecodePodJson(std::string_view json);
JsonResult<scheduler::Node> DecodeNodeJson(std::string_view json);

}  // namespace gangsched::k8s
