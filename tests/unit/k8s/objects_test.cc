#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/cluster_file.h"
#include "k8s/objects_json.h"
#include "k8s/objects_yaml.h"
#include "k8s/quantity.h"
#include "tests/unit/k8s/same_values.h"

namespace gangsched::k8s {
namespace {

using scheduler::TaintEffect;

std::string Fixture(const std::string& name) {
  return std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/" + name;
}

constexpr std::int64_t kKi = 1024;
constexpr std::int64_t kGi = kKi * kKi * kKi;

TEST_CASE("ParseQuantity follows the Kubernetes quantity grammar", "[decode][quantity]") {
  struct Case {
    const char* text;
    QuantityScale scale;
    std::int64_t want;
  };
  const Case c = GENERATE(
      Case{"16", QuantityScale::kMilli, 16000}, Case{"500m", QuantityScale::kMilli, 500},
      Case{"0.5", QuantityScale::kMilli, 500}, Case{".25", QuantityScale::kMilli, 250},
      Case{"1.", QuantityScale::kMilli, 1000}, Case{"+2", QuantityScale::kMilli, 2000},
      Case{"100u", QuantityScale::kMilli, 1},  // rounds up, as MilliValue() does
      Case{"1n", QuantityScale::kMilli, 1}, Case{"0", QuantityScale::kMilli, 0},
      Case{"0.000", QuantityScale::kUnits, 0}, Case{"64Gi", QuantityScale::kUnits, 64 * kGi},
      Case{"1000Mi", QuantityScale::kUnits, 1000 * kKi * kKi},
      Case{"1056947332Ki", QuantityScale::kUnits, 1056947332 * kKi},
      Case{"128974848", QuantityScale::kUnits, 128974848},
      Case{"129e6", QuantityScale::kUnits, 129000000},
      Case{"1e9", QuantityScale::kUnits, 1000000000},
      Case{"12E-1", QuantityScale::kUnits, 2},  // 1.2 rounds up
      Case{"1E3", QuantityScale::kUnits, 1000},
      Case{"1E", QuantityScale::kUnits, 1000000000000000000},
      Case{"1.5Gi", QuantityScale::kUnits, 3 * kGi / 2}, Case{"1k", QuantityScale::kUnits, 1000},
      Case{"2M", QuantityScale::kUnits, 2000000}, Case{"1T", QuantityScale::kUnits, 1000000000000},
      Case{"1P", QuantityScale::kUnits, 1000000000000000},
      Case{"7Ei", QuantityScale::kUnits, 7 * (std::int64_t{1} << 60)},
      Case{"1Ti", QuantityScale::kUnits, kGi * kKi},
      Case{"1Pi", QuantityScale::kUnits, kGi * kKi * kKi}, Case{"8", QuantityScale::kWhole, 8},
      Case{"2.0", QuantityScale::kWhole, 2}, Case{"1e1", QuantityScale::kWhole, 10},
      Case{"1000m", QuantityScale::kWhole, 1},
      Case{"9223372036854775807", QuantityScale::kUnits, INT64_MAX},
      Case{"0.0000000000000000000000000000000000000000001", QuantityScale::kUnits, 1});
  INFO(c.text);
  auto got = ParseQuantity(c.text, c.scale);
  REQUIRE(got.has_value());
  CHECK(*got == c.want);
}

TEST_CASE("ParseQuantity rejects what Kubernetes rejects, saying why", "[decode][quantity]") {
  struct Case {
    const char* text;
    QuantityScale scale;
    const char* says;
  };
  const Case c = GENERATE(Case{"", QuantityScale::kUnits, "empty"},
                          Case{"abc", QuantityScale::kUnits, "must start with a number"},
                          Case{".", QuantityScale::kUnits, "must start with a number"},
                          Case{"1.2.3", QuantityScale::kUnits, "unknown suffix"},
                          Case{"5K", QuantityScale::kUnits, "unknown suffix"},
                          Case{"5Kb", QuantityScale::kUnits, "unknown suffix"},
                          Case{"1e", QuantityScale::kUnits, "unknown suffix"},
                          Case{"1ex", QuantityScale::kUnits, "unknown suffix"},
                          Case{" 1", QuantityScale::kUnits, "must start with a number"},
                          Case{"1 ", QuantityScale::kUnits, "unknown suffix"},
                          Case{"-1", QuantityScale::kUnits, "negative"},
                          Case{"16Ei", QuantityScale::kUnits, "too large"},
                          Case{"9223372036854775808", QuantityScale::kUnits, "too large"},
                          Case{"1e400", QuantityScale::kUnits, "too large"},
                          Case{"10E", QuantityScale::kMilli, "too large"},
                          Case{"1.5", QuantityScale::kWhole, "not a whole number"},
                          Case{"500m", QuantityScale::kWhole, "not a whole number"},
                          Case{"1e-1", QuantityScale::kWhole, "not a whole number"});
  INFO(c.text);
  auto got = ParseQuantity(c.text, c.scale);
  REQUIRE_FALSE(got.has_value());
  CHECK_THAT(got.error(), Catch::Contains(c.says));
}

TEST_CASE("A NodeList decodes the same from kubectl's JSON and YAML", "[decode][node]") {
  auto json = DecodeClusterFile(Fixture("clusters/two-racks.json"));
  auto yaml = DecodeClusterFile(Fixture("clusters/two-racks.yaml"));
  REQUIRE(json.has_value());
  REQUIRE(yaml.has_value());
  REQUIRE(json->nodes.size() == 4);
  REQUIRE(yaml->nodes.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CheckSame(json->nodes[i], yaml->nodes[i]);
  const scheduler::Node& n = json->nodes[0];
  CHECK(n.name == "gpu-r1-a");
  CHECK(n.labels.at("gangsched.io/rack") == "r1");
  CHECK(n.allocatable.milli_cpu == 96000);
  CHECK(n.allocatable.memory_bytes == 1056947332 * kKi);
  CHECK(n.allocatable.gpus == 8);
  CHECK(n.allocatable.pods == 110);
  CHECK(n.annotations.empty());  // the kubelet's annotations are dropped (model.h)
  CHECK(json->pods.empty());
}

TEST_CASE("Node taints, unschedulable, and capacity when allocatable is absent", "[decode][node]") {
  auto cluster = DecodeCluster(R"(apiVersion: v1
kind: Node
metadata:
  name: n1
spec:
  unschedulable: true
  taints:
    - key: gangsched.io/gpu
      value: "true"
      effect: NoSchedule
    - key: maintenance
      effect: NoExecute
    - key: soft
      effect: PreferNoSchedule
status:
  capacity:
    cpu: 4
    nvidia.com/gpu: 2
)",
                               "node.yaml");
  REQUIRE(cluster.has_value());
  const scheduler::Node& n = cluster->nodes.at(0);
  CHECK(n.unschedulable);
  REQUIRE(n.taints.size() == 3);
  CHECK(n.taints[0].key == "gangsched.io/gpu");
  CHECK(n.taints[0].value == "true");
  CHECK(n.taints[0].effect == TaintEffect::kNoSchedule);
  CHECK(n.taints[1].effect == TaintEffect::kNoExecute);
  CHECK(n.taints[2].effect == TaintEffect::kPreferNoSchedule);
  CHECK(n.allocatable.milli_cpu == 4000);
  CHECK(n.allocatable.gpus == 2);
  CHECK(n.allocatable.pods == 110);  // kubelet's default --max-pods
}

TEST_CASE("Pod requests: containers summed, init containers maxed, limits as requests",
          "[decode][pod]") {
  auto cluster = DecodeCluster(R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata: {name: n1}
  - apiVersion: v1
    kind: Pod
    metadata:
      name: p
      namespace: ml
      uid: 1234
      annotations:
        gangsched.io/gpu-ids: "3, 1"
    spec:
      nodeName: n1
      schedulerName: gang-scheduler
      priority: 1000
      nodeSelector: {gangsched.io/rack: r1}
      tolerations:
        - key: gangsched.io/gpu
          operator: Exists
        - operator: Exists
      overhead:
        cpu: 100m
      initContainers:
        - name: download
          resources:
            requests: {cpu: "6", memory: 1Gi}
        - name: proxy
          restartPolicy: Always
          resources:
            requests: {cpu: 500m}
      containers:
        - name: a
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {cpu: "2", memory: 4Gi, nvidia.com/gpu: "2"}
        - name: b
          resources:
            limits: {cpu: 1500m, memory: 1Gi}
    status:
      phase: Running
)",
                               "pods.yaml");
  REQUIRE(cluster.has_value());
  REQUIRE(cluster->pods.size() == 1);
  const scheduler::Pod& p = cluster->pods[0];
  CHECK(p.uid == "1234");
  CHECK(p.namespace_name == "ml");
  CHECK(p.node_name == "n1");
  CHECK(p.phase == scheduler::PodPhase::kRunning);
  CHECK(p.HoldsCapacity());
  CHECK(p.scheduler_name == "gang-scheduler");
  CHECK(p.priority == 1000);
  CHECK(p.node_selector.at("gangsched.io/rack") == "r1");
  REQUIRE(p.tolerations.size() == 2);
  CHECK(p.tolerations[0].op_exists);
  CHECK(p.tolerations[1].key.empty());
  CHECK(p.gpu_ids == std::vector<int>{1, 3});
  // containers: cpu 1 + 1.5 (limit) = 2.5, + sidecar 0.5 = 3; init peak: 6 + 0 (sidecar starts
  // after it) = 6 -> 6 CPUs, + 100m overhead.
  CHECK(p.requests.milli_cpu == 6100);
  CHECK(p.requests.memory_bytes == 3 * kGi);  // 2Gi + 1Gi (limit) beats the init container's 1Gi
  CHECK(p.requests.gpus == 2);                // limit only: requested at the limit
  CHECK(p.requests.pods == 1);
}

// Two containers of 2^62 GPUs summed unchecked to 0 (issue 15): the pod was placed and bound on a
// node with no free GPU. Every sum of requests is checked, and the error names the field.
struct OverflowCase {
  const char* what;
  const char* spec;  // the JSON of a Pod's spec
  const char* field;
  const char* resource;
};

TEST_CASE("A sum of requests that overflows is an error naming the field and the resource",
          "[decode][pod][quantity]") {
  constexpr const char* kHalf = R"("4611686018427387904")";  // 2^62
  const std::string half = kHalf;
  const OverflowCase c = GENERATE_COPY(
      OverflowCase{"two containers of 2^62 GPUs", "", "Pod.spec.containers[1]", "nvidia.com/gpu"},
      OverflowCase{"GPU limits standing in for requests", "limits", "Pod.spec.containers[1]",
                   "nvidia.com/gpu"},
      OverflowCase{"CPU", "cpu", "Pod.spec.containers[1]", "cpu"},
      OverflowCase{"memory", "memory", "Pod.spec.containers[1]", "memory"},
      OverflowCase{"two sidecars", "sidecars", "Pod.spec.initContainers[1]", "nvidia.com/gpu"},
      OverflowCase{"an init container beside a sidecar", "init", "Pod.spec.initContainers[1]",
                   "nvidia.com/gpu"},
      OverflowCase{"containers plus sidecars", "running", "Pod.spec.initContainers",
                   "nvidia.com/gpu"},
      OverflowCase{"the pod overhead", "overhead", "Pod.spec.overhead", "memory"});
  INFO(c.what);
  const std::string what = c.spec;
  auto container = [&](const std::string& resources, const std::string& extra = "") {
    return R"({"name":"c",)" + extra + R"("resources":)" + resources + "}";
  };
  const std::string gpus = R"({"requests":{"nvidia.com/gpu":)" + half + "}}";
  std::string spec;
  if (what.empty()) {
    spec = R"("containers":[)" + container(gpus) + "," + container(gpus) + "]";
  } else if (what == "limits") {
    const std::string limit = R"({"limits":{"nvidia.com/gpu":)" + half + "}}";
    spec = R"("containers":[)" + container(limit) + "," + container(limit) + "]";
  } else if (what == "cpu") {  // 2^62 milli-cores each, written in cores
    const std::string cpu = R"({"requests":{"cpu":"4611686018427387904m"}})";
    spec = R"("containers":[)" + container(cpu) + "," + container(cpu) + "]";
  } else if (what == "memory") {
    const std::string mem = R"({"requests":{"memory":"4Ei"}})";  // 2^62 bytes
    spec = R"("containers":[)" + container(mem) + "," + container(mem) + "]";
  } else if (what == "sidecars") {
    const std::string sidecar = container(gpus, R"("restartPolicy":"Always",)");
    spec = R"("initContainers":[)" + sidecar + "," + sidecar + "]";
  } else if (what == "init") {
    spec = R"("initContainers":[)" + container(gpus, R"("restartPolicy":"Always",)") + "," +
           container(gpus) + "]";
  } else if (what == "running") {
    spec = R"("containers":[)" + container(gpus) + R"(],"initContainers":[)" +
           container(gpus, R"("restartPolicy":"Always",)") + "]";
  } else {  // overhead
    spec = R"("overhead":{"memory":"4Ei"},"containers":[)" +
           container(R"({"requests":{"memory":"4Ei"}})") + "]";
  }
  const std::string pod =
      R"({"metadata":{"name":"p","namespace":"ml","uid":"u1"},"spec":{)" + spec + "}}";
  auto got = DecodePodJson(pod);
  REQUIRE_FALSE(got.has_value());
  CHECK_THAT(got.error(), Catch::StartsWith(c.field));
  CHECK_THAT(got.error(), Catch::Contains(std::string(" of ") + c.resource + " over the limit"));
}

TEST_CASE("Requests that sum to just below the limit still decode", "[decode][pod][quantity]") {
  // 2^62 + (2^62 - 1) = 2^63 - 1 GPUs: the largest sum there is, not an overflow.
  auto got =
      DecodePodJson(R"({"metadata":{"name":"p"},"spec":{"containers":[)"
                    R"({"resources":{"requests":{"nvidia.com/gpu":"4611686018427387904"}}},)"
                    R"({"resources":{"requests":{"nvidia.com/gpu":"4611686018427387903"}}}]}})");
  REQUIRE(got.has_value());
  CHECK(got->requests.gpus == INT64_MAX);
}

TEST_CASE("A pending pod holds nothing; a finished one neither", "[decode][pod]") {
  auto cluster = DecodeClusterFile(Fixture("clusters/small-with-pods.yaml"));
  REQUIRE(cluster.has_value());
  REQUIRE(cluster->nodes.size() == 2);
  CHECK(cluster->nodes[1].allocatable.milli_cpu == 32000);
  CHECK(cluster->nodes[1].allocatable.memory_bytes == 256 * kGi);
  REQUIRE(cluster->pods.size() == 2);
  CHECK(cluster->pods[0].HoldsCapacity());
  CHECK(cluster->pods[0].requests.gpus == 6);
  CHECK(cluster->pods[0].uid == "other/busy");  // no uid in the file: namespace/name
  CHECK_FALSE(cluster->pods[1].HoldsCapacity());
  REQUIRE(cluster->pod_positions.size() == 2);
  CHECK(cluster->pod_positions[0].line == 29);  // the first item of the PodList
}

// A kubectl JSON dump (`kubectl get nodes,pods,tfjobs -o json`: kind after items, as kubectl
// writes it): decoded by simdjson, with the same values as the YAML decoders give.
const char* const kJsonDump = R"({
  "apiVersion": "v1",
  "items": [
    {"apiVersion": "v1", "kind": "Node",
     "metadata": {"name": "gpu-a", "labels": {"gangsched.io/rack": "r1", "zone": "z"},
                  "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
     "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]},
     "status": {"capacity": {"cpu": "64", "nvidia.com/gpu": "8"},
                "allocatable": {"cpu": "63500m", "memory": "512Gi", "nvidia.com/gpu": "8"}}},
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "busy", "namespace": "ml", "uid": "u-1",
                  "annotations": {"gangsched.io/gpu-ids": "3, 1"}},
     "spec": {"nodeName": "gpu-a", "priority": 7, "nodeSelector": {"zone": "z"},
              "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
     "status": {"phase": "Running"}},
    {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
     "metadata": {"name": "mnist", "namespace": "ml"}, "spec": {}}
  ],
  "kind": "List",
  "metadata": {"resourceVersion": ""}
})";

TEST_CASE("A kubectl JSON dump decodes through simdjson as the YAML decoders decode it",
          "[decode][json]") {
  REQUIRE(DecodeClusterJson(std::string_view(kJsonDump)).has_value());  // the fast path is taken
  auto fast = LoadClusterObjects(kJsonDump, "dump.json");
  // The same text through yaml-cpp: a comment first keeps it off the JSON path (one line lower).
  auto slow = LoadClusterObjects(std::string("# yaml\n") + kJsonDump, "dump.json");
  REQUIRE(fast.has_value());
  REQUIRE(slow.has_value());
  REQUIRE(fast->cluster.nodes.size() == 1);
  REQUIRE(slow->cluster.nodes.size() == 1);
  const scheduler::Node& a = fast->cluster.nodes[0];
  CheckSame(a, slow->cluster.nodes[0]);
  CHECK(a.annotations.empty());  // only gangsched.io/ annotations are kept, on both paths
  CHECK(a.allocatable.milli_cpu == 63500);
  CHECK(a.taints.size() == 1);
  REQUIRE(fast->cluster.pods.size() == 1);
  REQUIRE(slow->cluster.pods.size() == 1);
  const scheduler::Pod& p = fast->cluster.pods[0];
  CheckSame(p, slow->cluster.pods[0]);
  CHECK(p.gpu_ids == std::vector<int>{1, 3});
  REQUIRE(fast->cluster.pod_positions.size() == 1);
  CHECK(fast->cluster.pod_positions[0].line == 10);
  CHECK(fast->cluster.pod_positions[0].column == 5);
  CHECK(slow->cluster.pod_positions[0].line == 11);
  // The TFJob is left for the job decoders, its YAML node placed at its line in the file.
  REQUIRE(fast->others.size() == 1);
  CHECK(fast->others[0].kind == "TFJob");
  CHECK(fast->others[0].api_version == "kubeflow.org/v1");
  CHECK(PositionOf(fast->others[0].node).line == 16);
  CHECK(fast->others[0].node["metadata"]["name"].as<std::string>() == "mnist");
  CHECK(PositionOf(slow->others[0].node).line == 17);
}

TEST_CASE("API-server NodeList and PodList JSON (items without kind) take the fast path",
          "[decode][json]") {
  auto nodes = DecodeClusterJson(std::string_view(
      R"({"items":[{"metadata":{"name":"n1"},"status":{"allocatable":{"nvidia.com/gpu":"4"}}}],
          "kind":"NodeList","apiVersion":"v1"})"));
  REQUIRE(nodes.has_value());
  REQUIRE(nodes->nodes.size() == 1);
  CHECK(nodes->nodes[0].allocatable.gpus == 4);
  CHECK(nodes->nodes[0].allocatable.pods == 110);  // the kubelet's default
  auto pods = DecodeClusterJson(std::string_view(
      R"({"kind":"PodList","items":[{"metadata":{"name":"p","namespace":"ml"},"spec":{}}]})"));
  REQUIRE(pods.has_value());
  REQUIRE(pods->pods.size() == 1);
  CHECK(pods->pods[0].uid == "ml/p");
  // A List item with no kind is not guessed: the YAML path reports it with its position.
  auto list =
      LoadClusterObjects(R"({"kind":"List","items":[{"metadata":{"name":"x"}}]})", "f.json");
  REQUIRE_FALSE(list.has_value());
  CHECK_THAT(list.error().message, Catch::Contains("has no kind"));
  // The kubectl fixture decodes on the fast path too.
  auto two_racks = LoadClusterObjectsFromFile(Fixture("clusters/two-racks.json"));
  REQUIRE(two_racks.has_value());
  CHECK(two_racks->cluster.nodes.size() == 4);
}

struct ErrorCase {
  const char* what;
  std::string text;
  int line;
  int column;
  const char* says;
};

TEST_CASE("Decode errors name file, line and column", "[decode][errors]") {
  const ErrorCase c = GENERATE(
      ErrorCase{"malformed YAML", "kind: Node\nmetadata:\n  name: [n1\n", 4, 1, "not valid YAML"},
      ErrorCase{"malformed JSON: trailing comma",
                "{\n  \"kind\": \"Node\",\n  \"metadata\": {\"name\": \"n1\"}\n  ,\n}\n", 5, 1,
                "not valid JSON"},
      ErrorCase{"malformed JSON: missing comma",
                "{\n  \"kind\": \"Node\"\n  \"metadata\": {\"name\": \"n1\"}\n}\n", 3, 3,
                "not valid JSON"},
      ErrorCase{"unknown kind", "kind: Node\nmetadata: {name: a}\n---\nkind: Deployment\n", 4, 7,
                "unknown kind \"Deployment\""},
      ErrorCase{"fractional GPUs",
                "kind: Node\nmetadata: {name: a}\nstatus:\n  allocatable:\n    nvidia.com/gpu: "
                "\"1.5\"\n",
                5, 21, "not a whole number"},
      ErrorCase{"bad cpu in a pod",
                "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - "
                "name: c\n    resources:\n      requests:\n        cpu: lots\n",
                8, 14, "containers[0].resources.requests.cpu"},
      ErrorCase{"node without a name", "kind: Node\nmetadata:\n  labels: {a: b}\n", 3, 3,
                "metadata.name is missing"},
      ErrorCase{"bad taint effect",
                "kind: Node\nmetadata: {name: a}\nspec:\n  taints:\n  - key: k\n    effect: "
                "Sometimes\n",
                6, 13, "NoSchedule"},
      ErrorCase{"bad gpu-ids",
                "kind: Pod\nmetadata:\n  name: p\n  annotations:\n    "
                "gangsched.io/gpu-ids: \"0,x\"\n",
                5, 27, "GPU indices"},
      ErrorCase{"a plain list document", "- a\n- b\n", 1, 1, "expected a Kubernetes object"},
      ErrorCase{"List item without kind", "kind: List\nitems:\n  - metadata: {name: a}\n", 3, 5,
                "has no kind"});
  INFO(c.what);
  auto got = DecodeCluster(c.text, "cluster.yaml");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().file == "cluster.yaml");
  CHECK(got.error().line == c.line);
  CHECK(got.error().column == c.column);
  CHECK_THAT(got.error().message, Catch::Contains(c.says));
  CHECK_THAT(got.error().ToString(), Catch::StartsWith("cluster.yaml:" + std::to_string(c.line) +
                                                       ":" + std::to_string(c.column) + ": "));
}

TEST_CASE("Fixture files with errors report their own positions", "[decode][errors]") {
  struct Case {
    const char* file;
    int line;
    int column;
    const char* says;
  };
  const Case c = GENERATE(Case{"clusters/bad-gpu-fraction.yaml", 11, 25, "\"1.5\" is not a whole"},
                          Case{"clusters/bad-kind.yaml", 10, 7, "Deployment"},
                          Case{"clusters/bad-syntax.json", 9, 5, "not valid JSON"});
  auto got = DecodeClusterFile(Fixture(c.file));
  REQUIRE_FALSE(got.has_value());
  INFO(got.error().ToString());
  CHECK(got.error().file == Fixture(c.file));
  CHECK(got.error().line == c.line);
  CHECK(got.error().column == c.column);
  CHECK_THAT(got.error().message, Catch::Contains(c.says));
}

TEST_CASE("A missing file is an error naming it", "[decode][errors]") {
  auto got = DecodeClusterFile("/nonexistent/cluster.yaml");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().file == "/nonexistent/cluster.yaml");
  CHECK(got.error().line == 0);
  CHECK_THAT(got.error().ToString(), Catch::StartsWith("/nonexistent/cluster.yaml: cannot read"));
}

TEST_CASE("A cluster file without nodes is an error", "[decode][errors]") {
  auto got = DecodeCluster("kind: PodList\nitems: []\n", "c.yaml");
  REQUIRE_FALSE(got.has_value());
  CHECK_THAT(got.error().message, Catch::Contains("no Node"));
}

}  // namespace
}  // namespace gangsched::k8s
