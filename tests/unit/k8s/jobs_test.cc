#include "k8s/jobs.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace gangsched::k8s {
namespace {

using scheduler::CommPattern;

std::string Fixture(const std::string& name) {
  return std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/jobs/" + name;
}

JobSpec OnlyJob(const std::string& file) {
  auto jobs = DecodeJobsFile(Fixture(file));
  if (!jobs) FAIL(jobs.error().ToString());
  REQUIRE(jobs->size() == 1);
  return jobs->front();
}

// "name:replicas:min_members:gpus" per role, in gang order.
std::vector<std::string> Roles(const scheduler::GangSpec& gang) {
  std::vector<std::string> out;
  for (const auto& r : gang.roles) {
    out.push_back(r.name + ":" + std::to_string(r.replicas) + ":" + std::to_string(r.min_members) +
                  ":" + std::to_string(r.per_pod.gpus));
  }
  return out;
}

TEST_CASE("The seed v1alpha1 TFJob example-job: 1 master, 1 worker, 2 PS", "[jobs][seed]") {
  const JobSpec job = OnlyJob("tfjob-v1alpha1-example-job.yaml");
  CHECK(job.gang.key.namespace_name == "default");
  CHECK(job.gang.key.name == "example-job");
  CHECK(job.gang.kind == "TFJob kubeflow.org/v1alpha1");
  CHECK(Roles(job.gang) == std::vector<std::string>{"master:1:1:0", "ps:2:2:0", "worker:1:1:0"});
  CHECK(job.gang.TotalReplicas() == 4);
  CHECK(job.gang.EffectiveQuorum() == 4);
  CHECK(job.gang.pattern == CommPattern::kParameterServer);
  for (const auto& role : job.gang.roles) {
    // The example declares no resources: nothing is invented, one pod slot each.
    CHECK(role.per_pod == scheduler::Resources{0, 0, 0, 1});
  }
  CHECK(job.position.line == 3);
}

TEST_CASE("The seed v1alpha2 TFJob mycnnjob: Ps without replicas is 1", "[jobs][seed]") {
  const JobSpec job = OnlyJob("tfjob-v1alpha2-mycnnjob.yaml");
  CHECK(job.gang.key.ToString() == "kubeflow/mycnnjob");
  CHECK(job.gang.kind == "TFJob kubeflow.org/v1alpha2");
  CHECK(Roles(job.gang) == std::vector<std::string>{"ps:1:1:0", "worker:1:1:0"});
  CHECK(job.gang.EffectiveQuorum() == 2);
  CHECK(job.gang.pattern == CommPattern::kParameterServer);
}

TEST_CASE("A v1 TFJob with GPU limits", "[jobs]") {
  const JobSpec job = OnlyJob("tfjob-v1-gpu.yaml");
  CHECK(job.gang.key.ToString() == "ml/resnet");
  CHECK(job.gang.kind == "TFJob kubeflow.org/v1");
  CHECK(Roles(job.gang) == std::vector<std::string>{"chief:1:1:1", "ps:2:2:0", "worker:4:4:2"});
  const auto& worker = job.gang.roles[2];
  CHECK(worker.per_pod.milli_cpu == 8000);
  CHECK(worker.per_pod.memory_bytes == std::int64_t{32} << 30);
  const auto& chief = job.gang.roles[0];
  CHECK(chief.per_pod.milli_cpu == 2000);  // limits stand in for missing requests
  CHECK(job.gang.EffectiveQuorum() == 7);
  CHECK(job.gang.QuorumMembers().size() == 7);
  CHECK(job.gang.pattern == CommPattern::kParameterServer);
}

TEST_CASE("A PyTorchJob with minAvailable keeps one of each role in the quorum", "[jobs]") {
  const JobSpec job = OnlyJob("pytorchjob.yaml");
  CHECK(job.gang.key.ToString() == "default/bert");
  CHECK(Roles(job.gang) == std::vector<std::string>{"master:1:1:4", "worker:4:1:4"});
  CHECK(job.gang.quorum == 3);
  CHECK(job.gang.EffectiveQuorum() == 3);
  CHECK(job.gang.QuorumMembers() == std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {1, 1}});
  CHECK(job.gang.pattern == CommPattern::kAllReduce);
}

TEST_CASE("MPIJob WaitForWorkersReady: the launcher is outside the quorum", "[jobs]") {
  const JobSpec job = OnlyJob("mpijob-v2beta1-wait.yaml");
  CHECK(job.gang.kind == "MPIJob kubeflow.org/v2beta1");
  CHECK(job.gang.key.ToString() == "hpc/horovod");
  CHECK(Roles(job.gang) == std::vector<std::string>{"launcher:1:0:0", "worker:2:2:8"});
  CHECK(job.gang.EffectiveQuorum() == 2);
  CHECK(job.gang.QuorumMembers() == std::vector<std::pair<int, int>>{{1, 0}, {1, 1}});
}

TEST_CASE("MPIJob v1: launcher and workers together", "[jobs]") {
  const JobSpec job = OnlyJob("mpijob-v1.yaml");
  CHECK(Roles(job.gang) == std::vector<std::string>{"launcher:1:1:0", "worker:2:2:1"});
  CHECK(job.gang.EffectiveQuorum() == 3);
  CHECK(job.gang.pattern == CommPattern::kAllReduce);
}

TEST_CASE("Plain pods with gangsched.io/gang form one gang; others are gangs of one", "[jobs]") {
  auto jobs = DecodeJobsFile(Fixture("gang-pods.yaml"));
  REQUIRE(jobs.has_value());
  REQUIRE(jobs->size() == 2);
  const auto& gang = (*jobs)[0].gang;
  CHECK(gang.key.ToString() == "ml/trainer");
  CHECK(gang.kind == "Pod (gangsched)");
  CHECK(Roles(gang) == std::vector<std::string>{"member:3:1:2"});
  CHECK(gang.EffectiveQuorum() == 2);
  CHECK((*jobs)[0].position.line == 2);
  const auto& solo = (*jobs)[1].gang;
  CHECK(solo.key.ToString() == "ml/solo");
  CHECK(solo.TotalReplicas() == 1);
  CHECK(solo.pattern == CommPattern::kNone);
  CHECK(solo.roles[0].per_pod.milli_cpu == 250);
}

TEST_CASE("Kubeflow-labelled pods take role and size from their labels", "[jobs]") {
  auto jobs = DecodeJobs(R"(kind: Pod
metadata:
  name: j-ps-0
  labels: {training.kubeflow.org/job-name: j, training.kubeflow.org/replica-type: ps}
---
kind: Pod
metadata:
  name: j-worker-0
  labels: {training.kubeflow.org/job-name: j, training.kubeflow.org/replica-type: worker}
spec:
  containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
---
kind: Pod
metadata:
  name: j-worker-1
  labels: {training.kubeflow.org/job-name: j, training.kubeflow.org/replica-type: worker}
spec:
  containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
)",
                         "pods.yaml");
  REQUIRE(jobs.has_value());
  REQUIRE(jobs->size() == 1);
  CHECK(Roles((*jobs)[0].gang) == std::vector<std::string>{"ps:1:1:0", "worker:2:2:1"});
  CHECK((*jobs)[0].gang.pattern == CommPattern::kParameterServer);
  CHECK((*jobs)[0].gang.kind == "Pod (kubeflow)");
}

TEST_CASE("Several jobs in one file keep file order", "[jobs]") {
  auto jobs = DecodeJobs(R"(apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: b}
spec:
  pytorchReplicaSpecs:
    Worker: {replicas: 2}
---
apiVersion: kubeflow.org/v1
kind: TFJob
metadata: {name: a}
spec:
  tfReplicaSpecs:
    Worker: {}
)",
                         "two.yaml");
  REQUIRE(jobs.has_value());
  REQUIRE(jobs->size() == 2);
  CHECK((*jobs)[0].gang.key.name == "b");
  CHECK((*jobs)[1].gang.key.name == "a");
  CHECK((*jobs)[1].gang.TotalReplicas() == 1);
  CHECK((*jobs)[1].gang.pattern == CommPattern::kNone);
  CHECK((*jobs)[1].position.line == 8);
}

struct JobErrorCase {
  const char* what;
  std::string text;
  int line;
  const char* says;
};

TEST_CASE("A job whose replicas sum past 2^31-1 pods is an error, not a wrapped quorum",
          "[jobs][errors][quantity]") {
  // 21,475 replica types of 100,000 pods each (the most one may declare): 2,147,500,000 pods.
  std::string text =
      "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p}\nspec:\n  "
      "pytorchReplicaSpecs:\n";
  for (int i = 0; i < 21'475; ++i) text += "    W" + std::to_string(i) + ": {replicas: 100000}\n";
  auto got = DecodeJobs(text, "job.yaml");
  REQUIRE_FALSE(got.has_value());
  CHECK_THAT(got.error().message, Catch::Contains("more than 2^31-1 pods"));
}

TEST_CASE("Job decode errors name the position and what to do", "[jobs][errors]") {
  const JobErrorCase c = GENERATE(
      JobErrorCase{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
                   2, "unknown kind \"Deployment\""},
      JobErrorCase{"fractional replicas",
                   "apiVersion: kubeflow.org/v1\nkind: TFJob\nmetadata: {name: t}\nspec:\n  "
                   "tfReplicaSpecs:\n    Worker:\n      replicas: 1.5\n",
                   7, "replicas must be a whole number"},
      JobErrorCase{"no replica specs",
                   "apiVersion: kubeflow.org/v1\nkind: TFJob\nmetadata: {name: t}\nspec: {}\n", 4,
                   "tfReplicaSpecs"},
      JobErrorCase{"v1alpha1 without tfReplicaType",
                   "apiVersion: kubeflow.org/v1alpha1\nkind: TFJob\nmetadata: {name: t}\nspec:\n  "
                   "replicaSpecs:\n    - replicas: 1\n",
                   6, "tfReplicaType"},
      JobErrorCase{"fractional GPUs in a template",
                   "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p}\nspec:\n  "
                   "pytorchReplicaSpecs:\n    Worker:\n      template:\n        spec:\n          "
                   "containers:\n          - name: c\n            resources:\n              "
                   "limits:\n                nvidia.com/gpu: 0.5\n",
                   13, "whole number"},
      JobErrorCase{"zero minAvailable",
                   "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p}\nspec:\n  "
                   "runPolicy:\n    schedulingPolicy:\n      minAvailable: 0\n  "
                   "pytorchReplicaSpecs:\n    Worker: {}\n",
                   7, "minAvailable"},
      JobErrorCase{"bad gang size on a pod",
                   "kind: Pod\nmetadata:\n  name: p\n  annotations:\n    gangsched.io/gang: g\n    "
                   "gangsched.io/min-members: \"-1\"\n",
                   1, "gangsched.io/min-members"},
      JobErrorCase{"every replicas 0",
                   "apiVersion: kubeflow.org/v1\nkind: TFJob\nmetadata: {name: t}\nspec:\n  "
                   "tfReplicaSpecs:\n    Worker: {replicas: 0}\n",
                   1, "declares no pods"},
      JobErrorCase{"job without a name", "apiVersion: kubeflow.org/v1\nkind: TFJob\nspec: {}\n", 1,
                   "no metadata.name"});
  INFO(c.what);
  auto got = DecodeJobs(c.text, "job.yaml");
  REQUIRE_FALSE(got.has_value());
  INFO(got.error().ToString());
  CHECK(got.error().file == "job.yaml");
  CHECK(got.error().line == c.line);
  CHECK(got.error().column > 0);
  CHECK_THAT(got.error().message, Catch::Contains(c.says));
}

}  // namespace
}  // namespace gangsched::k8s
