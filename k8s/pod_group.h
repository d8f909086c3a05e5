// PodGroup objects -> the size of their gang (DESIGN.md §4): coscheduling's
// scheduling.x-k8s.io/v1alpha1 and Volcano's scheduling.volcano.sh/v1beta1 give spec.minMember,
// the native scheduling.k8s.io/v1alpha2 gives spec.schedulingPolicy.gang.minCount. One decoder for
// all three (either field is read whatever the API), with a JSON front end (watched objects) and
// a YAML front end (files, with line:col). Owns the reading only: pods name their group and
// kube/state_source.cc joins the two.
#pragma once

#include <string>
#include <string_view>

#include "k8s/json.h"
#include "k8s/objects_yaml.h"

namespace gangsched::k8s {

struct PodGroup {
  std::string namespace_name;  // "default" when absent
  std::string name;
  int min_member = 0;  // 0 when the object gives no size
};

// Errors name the group once its name is read ("PodGroup ml/bert: spec.minMember must be an
// integer").
JsonResult<PodGroup> DecodePodGroupJson(std::string_view json);
Decoded<PodGroup> DecodePodGroup(const YAML::Node& object, const std::string& file);

}  // namespace gangsched::k8s
