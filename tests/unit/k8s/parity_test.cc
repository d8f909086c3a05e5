// The JSON and the YAML front end of each object decoder agree. Every object is written once as
// API JSON and turned into block YAML, as a file would hold it; both front ends decode it and the
// values are compared field by field. Malformed variants fail in both, naming the same field (the
// YAML error also at a line of the file).
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/objects_yaml.h"
#include "k8s/pod_group.h"

namespace gangsched::k8s {
namespace {

void BlockStyle(YAML::Node node) {
  if (!node.IsMap() && !node.IsSequence()) return;
  node.SetStyle(YAML::EmitterStyle::Block);
  for (auto it = node.begin(); it != node.end(); ++it) BlockStyle(node.IsMap() ? it->second : *it);
}

// The same object as a YAML document in block style.
std::string AsYaml(std::string_view json) {
  YAML::Node node = YAML::Load(std::string(json));
  BlockStyle(node);
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

// The one object of a YAML text.
YAML::Node YamlObject(std::string_view json) {
  auto objects = LoadObjects(AsYaml(json), "object.yaml");
  REQUIRE(objects.has_value());
  REQUIRE(objects->size() == 1);
  return objects->front().node;
}

// A malformed variant: both front ends fail, each naming `field`.
template <typename Json, typename Yaml>
void BothFail(const std::string& json, const Json& from_json, const Yaml& from_yaml,
              const std::string& field) {
  INFO(json);
  auto j = from_json(json);
  REQUIRE_FALSE(j.has_value());
  CHECK_THAT(j.error(), Catch::Contains(field));
  INFO(AsYaml(json));
  auto y = from_yaml(YamlObject(json));
  REQUIRE_FALSE(y.has_value());
  CHECK(y.error().file == "object.yaml");
  CHECK(y.error().line > 0);
  CHECK_THAT(y.error().message, Catch::Contains(field));
}

// ---- PodGroup ----------------------------------------------------------------------------------

auto PodGroupFromJson = [](const std::string& json) { return DecodePodGroupJson(json); };
auto PodGroupFromYaml = [](const YAML::Node& node) { return DecodePodGroup(node, "object.yaml"); };

TEST_CASE("PodGroups of the three APIs decode the same from JSON and YAML", "[parity][podgroup]") {
  struct Case {
    const char* api;
    std::string json;
    int size;
  };
  const Case c = GENERATE(Case{"coscheduling",
                               R"({"apiVersion":"scheduling.x-k8s.io/v1alpha1","kind":"PodGroup",
               "metadata":{"name":"bert","namespace":"ml","uid":"g-1"},
               "spec":{"minMember":4,"scheduleTimeoutSeconds":60,
                       "minResources":{"nvidia.com/gpu":"32"}},
               "status":{"phase":"Pending"}})",
                               4},
                          Case{"volcano",
                               R"({"apiVersion":"scheduling.volcano.sh/v1beta1","kind":"PodGroup",
               "metadata":{"name":"bert","namespace":"ml"},
               "spec":{"minMember":3,"queue":"default","priorityClassName":"high",
                       "minTaskMember":{"worker":2,"ps":1}}})",
                               3},
                          Case{"native",
                               R"({"apiVersion":"scheduling.k8s.io/v1alpha2","kind":"PodGroup",
               "metadata":{"name":"bert","namespace":"ml"},
               "spec":{"podGroupTemplateRef":null,
                       "schedulingPolicy":{"gang":{"minCount":8}}}})",
                               8},
                          Case{"no size, no namespace",
                               R"({"apiVersion":"scheduling.x-k8s.io/v1alpha1","kind":"PodGroup",
               "metadata":{"name":"bert"},"spec":{}})",
                               0});
  INFO(c.api);
  auto j = DecodePodGroupJson(c.json);
  auto y = DecodePodGroup(YamlObject(c.json), "object.yaml");
  REQUIRE(j.has_value());
  if (!y) FAIL(y.error().ToString());
  CHECK(j->name == "bert");
  CHECK(j->namespace_name == (c.size == 0 ? "default" : "ml"));
  CHECK(j->min_member == c.size);
  CHECK(y->name == j->name);
  CHECK(y->namespace_name == j->namespace_name);
  CHECK(y->min_member == j->min_member);
}

TEST_CASE("Malformed PodGroups fail in both front ends, naming the field", "[parity][podgroup]") {
  struct Case {
    std::string json;
    const char* field;
  };
  const Case c = GENERATE(
      Case{R"({"metadata":{"name":"g","namespace":"ml"},"spec":{"minMember":"three"}})",
           "PodGroup ml/g: spec.minMember must be an integer"},
      Case{R"({"metadata":{"name":"g"},"spec":{"minMember":-2}})",
           "spec.minMember must be 0 or more"},
      Case{R"({"metadata":{"name":"g"},"spec":{"schedulingPolicy":{"gang":{"minCount":1.5}}}})",
           "spec.schedulingPolicy.gang.minCount must be an integer"},
      Case{R"({"metadata":{"name":"g"},"spec":{"schedulingPolicy":[1]}})",
           "spec.schedulingPolicy must be a"},
      Case{R"({"metadata":{"namespace":"ml"},"spec":{"minMember":2}})",
           "PodGroup.metadata.name is missing"},
      Case{R"({"metadata":{"name":["g"]},"spec":{}})", "PodGroup.metadata.name must be a"});
  BothFail(c.json, PodGroupFromJson, PodGroupFromYaml, c.field);
}

}  // namespace
}  // namespace gangsched::k8s
