// The JSON front end of the Pod and Node decoders (k8s/object_fields.h over k8s/json_reader.h):
// the objects a watch or list sends, the Pod and Nodes embedded in kube-scheduler's ExtenderArgs,
// and the items of a kubectl JSON dump. Errors name the field path ("Pod.spec.containers[0]
// .resources.requests.cpu ..."). The YAML front end (k8s/objects_yaml.h) runs the same field logic
// over files; tests/unit/k8s/parity_test.cc keeps the two equal.
#pragma once

#include <string_view>

#include "k8s/json.h"
#include "k8s/reader.h"
#include "scheduler/model.h"

namespace gangsched::k8s {

// One Pod or Node value of a larger document; the caller prefixes the errors with where it is.
JsonStatus ReadPod(od::value& v, scheduler::Pod& pod,
                   Strictness strictness = Strictness::kApiServer);
JsonStatus ReadPodObject(od::object& obj, scheduler::Pod& pod,
                         Strictness strictness = Strictness::kApiServer);
JsonStatus ReadNode(od::value& v, scheduler::Node& node,
                    Strictness strictness = Strictness::kApiServer);
JsonStatus ReadNodeObject(od::object& obj, scheduler::Node& node,
                          Strictness strictness = Strictness::kApiServer);

// A whole Pod or Node document ("Pod.spec...: ..." errors).
JsonResult<scheduler::Pod> DecodePodJson(std::string_view json,
                                         Strictness strictness = Strictness::kApiServer);
JsonResult<scheduler::Node> DecodeNodeJson(std::string_view json,
                                           Strictness strictness = Strictness::kApiServer);

}  // namespace gangsched::k8s
