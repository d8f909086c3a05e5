// The JSON and the YAML front end of each object decoder agree. Every object is written once as
// API JSON and turned into block YAML, as a file would hold it; both front ends decode it and the
// values are compared field by field. Malformed variants fail in both, naming the same field (the
// YAML error also at a line of the file).
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/jobs.h"
#include "k8s/objects_json.h"
#include "k8s/objects_yaml.h"
#include "k8s/pod_group.h"
#include "tests/unit/k8s/same_values.h"

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

// ---- Pod and Node -------------------------------------------------------------------------------

auto PodFromJson = [](const std::string& json) { return DecodePodJson(json, Strictness::kFile); };
auto PodFromYaml = [](const YAML::Node& node) { return DecodePod(node, "object.yaml"); };
auto NodeFromJson = [](const std::string& json) { return DecodeNodeJson(json, Strictness::kFile); };
auto NodeFromYaml = [](const YAML::Node& node) { return DecodeNode(node, "object.yaml"); };

// A gang member as the API server returns it: init container and sidecar, overhead, tolerations,
// selector, priority, native schedulingGroup, gangsched's GPU ids, PodScheduled=False.
const char* const kPod = R"({"apiVersion":"v1","kind":"Pod",
  "metadata":{"name":"bert-worker-1","namespace":"ml","uid":"5e0c-11",
    "labels":{"training.kubeflow.org/job-name":"bert","training.kubeflow.org/replica-type":"worker",
              "training.kubeflow.org/replica-index":"1"},
    "annotations":{"gangsched.io/gpu-ids":"3,1","scheduling.k8s.io/group-name":"bert"},
    "ownerReferences":[{"kind":"PyTorchJob","name":"bert","controller":true}]},
  "spec":{"schedulerName":"gang-scheduler","priority":1000,"priorityClassName":"high",
    "nodeName":"gpu-7","schedulingGroup":{"podGroupName":"bert"},
    "nodeSelector":{"gangsched.io/rack":"r1","nvidia.com/gpu.product":"H100"},
    "tolerations":[{"key":"gangsched.io/gpu","operator":"Exists","effect":"NoSchedule"},
                   {"key":"dedicated","operator":"Equal","value":"ml"},{"operator":"Exists"}],
    "overhead":{"cpu":"250m","memory":"64Mi"},
    "initContainers":[
      {"name":"fetch","image":"x","resources":{"requests":{"cpu":"6","memory":"1Gi"}}},
      {"name":"proxy","restartPolicy":"Always","resources":{"requests":{"cpu":"500m"},
                                                         "limits":{"memory":"256Mi"}}}],
    "containers":[
      {"name":"train","resources":{"requests":{"cpu":"2","memory":"30Gi"},
                                   "limits":{"cpu":"4","nvidia.com/gpu":"2","ephemeral-storage":"10Gi"}}},
      {"name":"log","resources":{"limits":{"cpu":"100m","memory":"128Mi"}}}]},
  "status":{"phase":"Running","nominatedNodeName":"gpu-7",
    "conditions":[{"type":"Ready","status":"True"},
                  {"type":"PodScheduled","status":"False","reason":"Unschedulable"}]}})";

// A GPU node as the kubelet reports it: taints, cordon, capacity beside allocatable, the GPU
// matrix annotation among others.
const char* const kNode = R"({"apiVersion":"v1","kind":"Node",
  "metadata":{"name":"gpu-7","uid":"n-7",
    "labels":{"gangsched.io/rack":"r1","topology.kubernetes.io/zone":"z1"},
    "annotations":{"node.alpha.kubernetes.io/ttl":"0",
      "gangsched.io/gpu-topology":"\tGPU0\tGPU1\nGPU0\t X \tNV4\nGPU1\tNV4\t X \n"}},
  "spec":{"unschedulable":true,"taints":[
    {"key":"gangsched.io/gpu","value":"true","effect":"NoSchedule"},
    {"key":"maintenance","effect":"NoExecute"},{"key":"soft","effect":"PreferNoSchedule"}]},
  "status":{"capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"2","pods":"110"},
    "allocatable":{"cpu":"63500m","memory":"500Gi","nvidia.com/gpu":2,"pods":"100"},
    "conditions":[{"type":"Ready","status":"True"}]}})";

TEST_CASE("A Pod decodes the same from JSON and YAML", "[parity][pod]") {
  auto j = PodFromJson(kPod);
  auto y = PodFromYaml(YamlObject(kPod));
  REQUIRE(j.has_value());
  if (!y) FAIL(y.error().ToString());
  CheckSame(*j, *y);
  // What the object says, once. containers: cpu 2 + 0.1 (a limit) + sidecar 0.5 = 2.6 against
  // the init peak 6 + 0 (the sidecar starts after it): 6, + 250m overhead.
  CHECK(j->requests ==
        scheduler::Resources{6250, (30LL << 30) + (384LL << 20) + (64LL << 20), 2, 1});
  CHECK(j->gpu_ids == std::vector<int>{1, 3});
  CHECK(j->phase == scheduler::PodPhase::kRunning);
  CHECK(j->marked_unschedulable);
  CHECK(j->scheduling_group == "bert");
  CHECK(j->priority == 1000);
  REQUIRE(j->tolerations.size() == 3);
  CHECK(j->tolerations[1].value == "ml");
  CHECK_FALSE(j->tolerations[1].effect.has_value());
  // Through the API the same object decodes the same.
  auto api = DecodePodJson(kPod);
  REQUIRE(api.has_value());
  CheckSame(*api, *j);
}

TEST_CASE("A Node decodes the same from JSON and YAML; allocatable wins over capacity",
          "[parity][node]") {
  auto j = NodeFromJson(kNode);
  auto y = NodeFromYaml(YamlObject(kNode));
  REQUIRE(j.has_value());
  if (!y) FAIL(y.error().ToString());
  CheckSame(*j, *y);
  CHECK(j->allocatable == scheduler::Resources{63500, 500LL << 30, 2, 100});
  CHECK(j->annotations.size() == 1);  // only gangsched.io/ ones
  CHECK(j->taints.size() == 3);
  CHECK(j->unschedulable);
  // Without allocatable, capacity counts; without "pods", the kubelet's default.
  const std::string capacity_only =
      R"({"metadata":{"name":"n"},"status":{"capacity":{"cpu":4,"nvidia.com/gpu":"8"}}})";
  auto jc = NodeFromJson(capacity_only);
  auto yc = NodeFromYaml(YamlObject(capacity_only));
  REQUIRE(jc.has_value());
  REQUIRE(yc.has_value());
  CheckSame(*jc, *yc);
  CHECK(jc->allocatable == scheduler::Resources{4000, 0, 8, 110});
}

TEST_CASE("Malformed Pods fail in both front ends, naming the field", "[parity][pod]") {
  struct Case {
    std::string json;
    const char* field;
  };
  const Case c = GENERATE(
      Case{
          R"({"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"cpu":"lots"}}}]}})",
          "Pod.spec.containers[0].resources.requests.cpu \"lots\" is not a quantity"},
      Case{R"({"metadata":{"name":"p"},"spec":{"initContainers":[{},{"restartPolicy":"Always",
               "resources":{"limits":{"nvidia.com/gpu":"0.5"}}}]}})",
           "Pod.spec.initContainers[1].resources.limits.nvidia.com/gpu \"0.5\" is not a whole"},
      Case{R"({"metadata":{"name":"p"},"spec":{"overhead":{"memory":{"value":1}}}})",
           "Pod.spec.overhead.memory must be a quantity string"},
      Case{R"({"metadata":{"name":"p"},"spec":{"containers":{"name":"c"}}})",
           "Pod.spec.containers must be a"},
      Case{R"({"metadata":{"name":"p"},"spec":{"tolerations":[{"operator":"Sometimes"}]}})",
           "Pod.spec.tolerations[0].operator \"Sometimes\" is unknown; use Exists or Equal"},
      Case{R"({"metadata":{"name":"p"},"spec":{"tolerations":[{"key":"k","effect":"Never"}]}})",
           "Pod.spec.tolerations[0].effect \"Never\" is unknown"},
      Case{R"({"metadata":{"name":"p"},"spec":{"priority":"high"}})",
           "Pod.spec.priority must be an integer"},
      Case{R"({"metadata":{"name":"p"},"spec":{"nodeSelector":{"rack":{"r":1}}}})",
           "Pod.spec.nodeSelector.rack must be a"},
      Case{R"({"metadata":{"name":"p"},"spec":{"schedulingGroup":{"podGroupName":["g"]}}})",
           "Pod.spec.schedulingGroup.podGroupName must be a"},
      Case{R"({"metadata":{"name":"p"},"status":{"phase":"Sleeping"}})",
           "Pod.status.phase \"Sleeping\" is unknown"},
      Case{R"({"metadata":{"name":"p"},"status":{"conditions":{"type":"PodScheduled"}}})",
           "Pod.status.conditions must be a"},
      Case{R"({"metadata":{"namespace":"ml"},"spec":{}})", "Pod.metadata.name is missing"},
      Case{R"({"metadata":{"name":"p","annotations":{"gangsched.io/gpu-ids":"0,x"}}})",
           "Pod.metadata.annotations.gangsched.io/gpu-ids \"0,x\" must list GPU indices"});
  BothFail(c.json, PodFromJson, PodFromYaml, c.field);
}

TEST_CASE("Malformed Nodes fail in both front ends, naming the field", "[parity][node]") {
  struct Case {
    std::string json;
    const char* field;
  };
  const Case c = GENERATE(
      Case{R"({"metadata":{"name":"n"},"status":{"allocatable":{"nvidia.com/gpu":"1.5"}}})",
           "Node.status.allocatable.nvidia.com/gpu \"1.5\" is not a whole number"},
      Case{R"({"metadata":{"name":"n"},"status":{"capacity":{"cpu":true}}})",
           "Node.status.capacity.cpu"},
      Case{R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"k","effect":"Sometimes"}]}})",
           "Node.spec.taints[0].effect \"Sometimes\" is unknown"},
      Case{R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"a","effect":"NoSchedule"},
               {"effect":"NoSchedule"}]}})",
           "Node.spec.taints[1] has no key"},
      Case{R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"k"}]}})",
           "Node.spec.taints[0] has no effect"},
      Case{R"({"metadata":{"name":"n"},"spec":{"unschedulable":"maybe"}})",
           "Node.spec.unschedulable must be true or false"},
      Case{R"({"metadata":{"name":"n","labels":["a"]}})", "Node.metadata.labels must be a"},
      Case{R"({"metadata":{"labels":{"a":"b"}}})", "Node.metadata.name is missing"});
  BothFail(c.json, NodeFromJson, NodeFromYaml, c.field);
}

TEST_CASE("Through the API, what only a file must get right does not drop the object",
          "[parity][pod][node]") {
  auto pod = DecodePodJson(
      R"({"metadata":{"name":"p","annotations":{"gangsched.io/gpu-ids":"0,x"}},
          "status":{"phase":"Sleeping"}})");
  REQUIRE(pod.has_value());
  CHECK(pod->gpu_ids.empty());
  CHECK(pod->phase == scheduler::PodPhase::kPending);
  auto node = DecodeNodeJson(R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"k"}]}})");
  REQUIRE(node.has_value());
  REQUIRE(node->taints.size() == 1);
  CHECK(node->taints[0].effect == scheduler::TaintEffect::kNoSchedule);
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

// ---- Kubeflow jobs ------------------------------------------------------------------------------

struct JobCase {
  const char* kind;
  const char* api_version;
  std::string json;
};

auto JobFromYaml(const char* kind, const char* api_version) {
  return [kind, api_version](const YAML::Node& node) -> Decoded<scheduler::GangSpec> {
    auto jobs = DecodeJobObjects({SourceObject{node, kind, api_version}}, "object.yaml");
    if (!jobs) return tl::unexpected(jobs.error());
    REQUIRE(jobs->size() == 1);
    return jobs->front().gang;
  };
}

// "name:replicas:min_members:milli_cpu:memory:gpus:pods:selector:tolerations" per role.
std::vector<std::string> Roles(const scheduler::GangSpec& gang) {
  std::vector<std::string> out;
  for (const auto& r : gang.roles) {
    std::string s = r.name + ":" + std::to_string(r.replicas) + ":" +
                    std::to_string(r.min_members) + ":" + std::to_string(r.per_pod.milli_cpu) +
                    ":" + std::to_string(r.per_pod.memory_bytes) + ":" +
                    std::to_string(r.per_pod.gpus) + ":" + std::to_string(r.per_pod.pods);
    for (const auto& [k, v] : r.node_selector) s += ":" + k + "=" + v;
    for (const auto& t : r.tolerations) s += ":" + t.key + (t.op_exists ? "?" : "=" + t.value);
    out.push_back(std::move(s));
  }
  return out;
}

TEST_CASE("TFJob, PyTorchJob and MPIJob decode the same from JSON and YAML", "[parity][jobs]") {
  const JobCase c = GENERATE(
      JobCase{"TFJob", "kubeflow.org/v1",
              R"({"apiVersion":"kubeflow.org/v1","kind":"TFJob",
                  "metadata":{"name":"resnet","namespace":"ml"},
                  "spec":{"runPolicy":{"cleanPodPolicy":"None"},"tfReplicaSpecs":{
                    "Chief":{"replicas":1,"template":{"spec":{"containers":[{"name":"tf",
                      "resources":{"limits":{"cpu":"2","memory":"8Gi","nvidia.com/gpu":1}}}]}}},
                    "PS":{"replicas":2,"template":{"spec":{"priority":5,"containers":[{"name":"tf",
                      "resources":{"requests":{"cpu":"4","memory":"16Gi"}}}]}}},
                    "Worker":{"replicas":4,"restartPolicy":"OnFailure","template":{"spec":{
                      "nodeSelector":{"gangsched.io/rack":"r1"},
                      "tolerations":[{"key":"gangsched.io/gpu","operator":"Exists",
                                      "effect":"NoSchedule"}],
                      "priority":100,
                      "containers":[{"name":"tf","resources":{
                        "requests":{"cpu":"8","memory":"32Gi"},
                        "limits":{"nvidia.com/gpu":"2"}}}]}}}}}})"},
      JobCase{"PyTorchJob", "kubeflow.org/v1",
              R"({"apiVersion":"kubeflow.org/v1","kind":"PyTorchJob","metadata":{"name":"bert"},
                  "spec":{"runPolicy":{"schedulingPolicy":{"minAvailable":3,"queue":"q"}},
                    "pytorchReplicaSpecs":{
                      "Master":{"replicas":1,"template":{"spec":{"containers":[{"name":"p",
                        "resources":{"limits":{"nvidia.com/gpu":"4"}}}]}}},
                      "Worker":{"replicas":"4","template":{"spec":{"containers":[{"name":"p",
                        "resources":{"limits":{"nvidia.com/gpu":"4"}}}]}}}}}})"},
      JobCase{"MPIJob", "kubeflow.org/v2beta1",
              R"({"apiVersion":"kubeflow.org/v2beta1","kind":"MPIJob",
                  "metadata":{"name":"horovod","namespace":"hpc"},
                  "spec":{"slotsPerWorker":8,"launcherCreationPolicy":"WaitForWorkersReady",
                    "mpiReplicaSpecs":{
                      "Launcher":{"replicas":1,"template":{"spec":{"containers":[{"name":"l"}]}}},
                      "Worker":{"replicas":2,"template":{"spec":{
                        "initContainers":[{"name":"sidecar","restartPolicy":"Always",
                          "resources":{"requests":{"cpu":"500m"}}}],
                        "containers":[{"name":"w","resources":{
                          "limits":{"cpu":"16","nvidia.com/gpu":"8"}}}]}}}}}})"},
      JobCase{"MPIJob", "kubeflow.org/v1",
              R"({"metadata":{"name":"mpi"},"spec":{"runPolicy":{"schedulingPolicy":{
                  "minAvailable":2}},"mpiReplicaSpecs":{"Launcher":{},"Worker":{"replicas":2}}}})"},
      JobCase{"TFJob", "kubeflow.org/v1alpha1",
              R"({"metadata":{"name":"example-job"},"spec":{"replicaSpecs":[
                  {"replicas":1,"tfReplicaType":"MASTER"},
                  {"replicas":2,"tfReplicaType":"PS","template":{"spec":{"containers":[
                    {"name":"tf","resources":{"requests":{"cpu":"1"}}}]}}},
                  {"tfReplicaType":"WORKER"}]}})"});
  INFO(c.json);
  auto j = DecodeKubeflowJobJson(c.json, c.kind, c.api_version);
  auto y = JobFromYaml(c.kind, c.api_version)(YamlObject(c.json));
  REQUIRE(j.has_value());
  if (!y) FAIL(y.error().ToString());
  CHECK(j->key == y->key);
  CHECK(j->kind == y->kind);
  CHECK(j->kind == std::string(c.kind) + " " + c.api_version);
  CHECK(Roles(*j) == Roles(*y));
  CHECK(j->quorum == y->quorum);
  CHECK(j->EffectiveQuorum() == y->EffectiveQuorum());
  CHECK(j->pattern == y->pattern);
  CHECK(j->priority == y->priority);
  // What each case is about, once.
  const std::string name = j->key.name;
  if (name == "resnet") {
    CHECK(Roles(*j) ==
          std::vector<std::string>{
              "chief:1:1:2000:8589934592:1:1", "ps:2:2:4000:17179869184:0:1",
              "worker:4:4:8000:34359738368:2:1:gangsched.io/rack=r1:gangsched.io/gpu?"});
    CHECK(j->priority == 100);
    CHECK(j->EffectiveQuorum() == 7);
  } else if (name == "bert") {
    CHECK(Roles(*j) == std::vector<std::string>{"master:1:1:0:0:4:1", "worker:4:1:0:0:4:1"});
    CHECK(j->quorum == 3);
  } else if (name == "horovod") {
    CHECK(Roles(*j) == std::vector<std::string>{"launcher:1:0:0:0:0:1", "worker:2:2:16500:0:8:1"});
    CHECK(j->EffectiveQuorum() == 2);
  } else if (name == "mpi") {
    CHECK(Roles(*j) == std::vector<std::string>{"launcher:1:1:0:0:0:1", "worker:2:1:0:0:0:1"});
    CHECK(j->quorum == 2);
  } else {
    CHECK(Roles(*j) == std::vector<std::string>{"master:1:1:0:0:0:1", "ps:2:2:1000:0:0:1",
                                                "worker:1:1:0:0:0:1"});
  }
}

TEST_CASE("Malformed Kubeflow jobs fail in both front ends, naming the field", "[parity][jobs]") {
  struct Case {
    const char* kind;
    const char* api_version;
    std::string json;
    const char* field;
  };
  const Case c = GENERATE(
      Case{"TFJob", "kubeflow.org/v1",
           R"({"metadata":{"name":"t","namespace":"ml"},
               "spec":{"tfReplicaSpecs":{"Worker":{"replicas":1.5}}}})",
           "TFJob ml/t: spec.tfReplicaSpecs.Worker.replicas must be a whole number of pods"},
      Case{"PyTorchJob", "kubeflow.org/v1",
           R"({"metadata":{"name":"p"},"spec":{"runPolicy":{"schedulingPolicy":{"minAvailable":0}},
               "pytorchReplicaSpecs":{"Worker":{}}}})",
           "spec.runPolicy.schedulingPolicy.minAvailable must be a positive whole number"},
      Case{"MPIJob", "kubeflow.org/v2beta1",
           R"({"metadata":{"name":"m"},"spec":{"launcherCreationPolicy":"Later",
               "mpiReplicaSpecs":{"Worker":{}}}})",
           "spec.launcherCreationPolicy \"Later\" is unknown"},
      Case{"PyTorchJob", "kubeflow.org/v1",
           R"({"metadata":{"name":"p"},"spec":{"pytorchReplicaSpecs":{"Worker":{"template":{
               "spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"0.5"}}}]}}}}}})",
           "spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].resources.limits."
           "nvidia.com/gpu \"0.5\" is not a whole number"},
      Case{"TFJob", "kubeflow.org/v1", R"({"metadata":{"name":"t"},"spec":{}})",
           "TFJob default/t: spec.tfReplicaSpecs must be a map of replica type to replica spec"},
      Case{"TFJob", "kubeflow.org/v1alpha1",
           R"({"metadata":{"name":"t"},"spec":{"replicaSpecs":[{"replicas":1}]}})",
           "spec.replicaSpecs[0] has no tfReplicaType"},
      Case{"TFJob", "kubeflow.org/v1",
           R"({"metadata":{"name":"t"},"spec":{"tfReplicaSpecs":{"Worker":{"replicas":0}}}})",
           "TFJob default/t declares no pods"},
      Case{"TFJob", "kubeflow.org/v1",
           R"({"metadata":{"name":"t"},"spec":{"tfReplicaSpecs":{"Worker":{},"worker":{}}}})",
           "declares replica type worker twice"},
      Case{"MPIJob", "kubeflow.org/v1", R"({"spec":{"mpiReplicaSpecs":{"Worker":{}}}})",
           "MPIJob has no metadata.name"});
  auto from_json = [&](const std::string& json) {
    return DecodeKubeflowJobJson(json, c.kind, c.api_version);
  };
  BothFail(c.json, from_json, JobFromYaml(c.kind, c.api_version), c.field);
}

}  // namespace
}  // namespace gangsched::k8s
