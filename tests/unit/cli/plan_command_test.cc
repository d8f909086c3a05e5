#include "cli/plan_command.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/exit_codes.h"

namespace gangsched::cli {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/" + name;
}

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run Plan(std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  Run run;
  run.code = RunPlan(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

const std::set<std::string> kTwoRackNodes = {"gpu-r1-a", "gpu-r1-b", "gpu-r2-a", "gpu-r2-b"};

// Placement properties the planner guarantees: the whole quorum placed, each pod on a known node,
// as many GPU ids as the role requests, no GPU given twice on a node.
void CheckPlacedJob(const nlohmann::json& job, std::size_t quorum,
                    const std::map<std::string, int>& gpus_per_role,
                    const std::set<std::string>& nodes) {
  INFO(job.dump());
  CHECK(job["placed"] == true);
  CHECK(job["reason"] == "");
  REQUIRE(job["pods"].size() == quorum);
  CHECK(job["span"]["nodes"].get<int>() >= 1);
  std::set<std::pair<std::string, int>> gpus_used;
  for (const auto& pod : job["pods"]) {
    CHECK(nodes.count(pod["node"].get<std::string>()) == 1);
    const auto role = pod["role"].get<std::string>();
    REQUIRE(gpus_per_role.count(role) == 1);
    CHECK(pod["gpuIds"].size() == static_cast<std::size_t>(gpus_per_role.at(role)));
    for (const auto& id : pod["gpuIds"]) {
      CHECK(gpus_used.emplace(pod["node"].get<std::string>(), id.get<int>()).second);
    }
  }
}

TEST_CASE("plan places the seed TFJob examples and a v1 TFJob (exit 0)", "[plan]") {
  const std::string format = GENERATE("table", "json");
  const Run run =
      Plan({"--cluster", Fixture("clusters/two-racks.json"), "--output", format,
            Fixture("jobs/tfjob-v1alpha1-example-job.yaml"),
            Fixture("jobs/tfjob-v1alpha2-mycnnjob.yaml"), Fixture("jobs/tfjob-v1-gpu.yaml")});
  INFO(run.err);
  REQUIRE(run.code == kExitOk);
  CHECK(run.err.empty());
  if (format == "table") {
    CHECK_THAT(run.out, Catch::StartsWith("JOB default/example-job (TFJob kubeflow.org/v1alpha1): "
                                          "placed on "));
    CHECK_THAT(run.out, Catch::Contains("JOB kubeflow/mycnnjob (TFJob kubeflow.org/v1alpha2): "
                                        "placed on "));
    CHECK_THAT(run.out, Catch::Contains("JOB ml/resnet (TFJob kubeflow.org/v1): placed on "));
    CHECK_THAT(run.out, Catch::Contains("ROLE"));
    CHECK_THAT(run.out, Catch::Contains("BLOCK"));
    CHECK_THAT(run.out, Catch::Contains("RACK"));
    CHECK_THAT(run.out, Catch::Contains("GPUS"));
    return;
  }
  const auto doc = nlohmann::json::parse(run.out);
  REQUIRE(doc["jobs"].size() == 3);
  CHECK(doc["jobs"][0]["name"] == "example-job");
  CHECK(doc["jobs"][0]["namespace"] == "default");
  CHECK(doc["jobs"][0]["kind"] == "TFJob kubeflow.org/v1alpha1");
  CheckPlacedJob(doc["jobs"][0], 4, {{"master", 0}, {"worker", 0}, {"ps", 0}}, kTwoRackNodes);
  CheckPlacedJob(doc["jobs"][1], 2, {{"ps", 0}, {"worker", 0}}, kTwoRackNodes);
  CheckPlacedJob(doc["jobs"][2], 7, {{"chief", 1}, {"ps", 0}, {"worker", 2}}, kTwoRackNodes);
  for (const auto& pod : doc["jobs"][2]["pods"]) {
    CHECK(pod["domains"].contains("block"));
    CHECK(pod["domains"].contains("rack"));
    CHECK(pod["node"] != "gpu-r2-b");  // tainted, and the job does not tolerate it
  }
}

TEST_CASE("plan reads the cluster as YAML too, with running pods taking capacity", "[plan]") {
  const Run run = Plan({"--cluster", Fixture("clusters/small-with-pods.yaml"), "--output=json",
                        Fixture("jobs/mpijob-v1.yaml")});
  INFO(run.err);
  REQUIRE(run.code == kExitOk);
  const auto doc = nlohmann::json::parse(run.out);
  CheckPlacedJob(doc["jobs"][0], 3, {{"launcher", 0}, {"worker", 1}}, {"node-a", "node-b"});
  for (const auto& pod : doc["jobs"][0]["pods"]) {
    if (pod["node"] != "node-a") continue;
    for (const auto& id : pod["gpuIds"]) CHECK(id.get<int>() >= 6);  // 0-5 run the busy pod
  }
}

TEST_CASE("plan exits 1 with the reason when a job cannot be placed", "[plan]") {
  const std::string format = GENERATE("table", "json");
  // 2 workers x 8 GPUs; node-a has 2 free, node-b 8.
  const Run run = Plan({"--cluster", Fixture("clusters/small-with-pods.yaml"), "--output", format,
                        Fixture("jobs/mpijob-v2beta1-wait.yaml")});
  INFO(run.err);
  CHECK(run.code == kExitSomeUnplaceable);
  CHECK(run.err.empty());
  if (format == "table") {
    CHECK_THAT(run.out, Catch::StartsWith("JOB hpc/horovod (MPIJob kubeflow.org/v2beta1): cannot "
                                          "be placed: "));
    return;
  }
  const auto doc = nlohmann::json::parse(run.out);
  const auto& job = doc["jobs"][0];
  CHECK(job["placed"] == false);
  CHECK_FALSE(job["reason"].get<std::string>().empty());
  CHECK(job["pods"].empty());
}

TEST_CASE("plan: a placed job holds its capacity for the jobs after it", "[plan]") {
  const std::string cluster = Fixture("clusters/small-with-pods.yaml");
  // Alone, the v1 TFJob (9 GPUs) fits the 10 free GPUs.
  const Run alone = Plan({"--cluster", cluster, Fixture("jobs/tfjob-v1-gpu.yaml")});
  INFO(alone.out);
  CHECK(alone.code == kExitOk);
  // After the pod gang took 4 of them, it no longer does.
  const Run after = Plan({"--cluster", cluster, "-o", "json", Fixture("jobs/gang-pods.yaml"),
                          Fixture("jobs/tfjob-v1-gpu.yaml")});
  INFO(after.out);
  CHECK(after.code == kExitSomeUnplaceable);
  const auto doc = nlohmann::json::parse(after.out);
  REQUIRE(doc["jobs"].size() == 3);
  CheckPlacedJob(doc["jobs"][0], 2, {{"member", 2}}, {"node-a", "node-b"});
  CHECK(doc["jobs"][1]["name"] == "solo");
  CHECK(doc["jobs"][1]["placed"] == true);
  CHECK(doc["jobs"][2]["name"] == "resnet");
  CHECK(doc["jobs"][2]["placed"] == false);
}

struct BadInputCase {
  const char* what;
  std::vector<std::string> args;
  std::string err_starts;
};

TEST_CASE("plan: bad input exits 2 with one error on stderr and nothing on stdout", "[plan]") {
  const std::string good_cluster = Fixture("clusters/two-racks.yaml");
  const std::string good_job = Fixture("jobs/tfjob-v1-gpu.yaml");
  const BadInputCase c = GENERATE_COPY(
      BadInputCase{"no arguments", {}, "gangsched: plan needs --cluster FILE"},
      BadInputCase{"no job", {"--cluster", good_cluster}, "gangsched: plan needs at least one"},
      BadInputCase{"--cluster without a value", {"--cluster"}, "gangsched: --cluster needs a FILE"},
      BadInputCase{"bad --output",
                   {"--cluster", good_cluster, "--output", "xml", good_job},
                   "gangsched: --output must be table or json"},
      BadInputCase{"unknown option",
                   {"--cluster", good_cluster, "--fast", good_job},
                   "gangsched: unknown option --fast"},
      BadInputCase{"missing cluster file",
                   {"--cluster", "/nonexistent/cluster.yaml", good_job},
                   "gangsched: /nonexistent/cluster.yaml: cannot read the file"},
      BadInputCase{"missing job file",
                   {"--cluster", good_cluster, good_job, "/nonexistent/job.yaml"},
                   "gangsched: /nonexistent/job.yaml: cannot read the file"},
      BadInputCase{"malformed JSON cluster",
                   {"--cluster", Fixture("clusters/bad-syntax.json"), good_job},
                   "gangsched: " + Fixture("clusters/bad-syntax.json") + ":9:5: not valid JSON"},
      BadInputCase{"fractional GPUs",
                   {"--cluster", Fixture("clusters/bad-gpu-fraction.yaml"), good_job},
                   "gangsched: " + Fixture("clusters/bad-gpu-fraction.yaml") + ":11:25: "},
      BadInputCase{"a GPU matrix with a missing row",
                   {"--cluster", Fixture("clusters/bad-matrix-missing-row.yaml"), good_job},
                   "gangsched: " + Fixture("clusters/bad-matrix-missing-row.yaml") +
                       ":11: node n1: annotation gangsched.io/gpu-topology, matrix line 1: matrix "
                       "has column GPU1 but no row GPU1"},
      BadInputCase{"unknown kind in the cluster",
                   {"--cluster", Fixture("clusters/bad-kind.yaml"), good_job},
                   "gangsched: " + Fixture("clusters/bad-kind.yaml") + ":10:7: unknown kind"},
      BadInputCase{"a cluster file given as a job",
                   {"--cluster", good_cluster, good_cluster},
                   "gangsched: " + good_cluster + ":"},
      BadInputCase{"the same job twice",
                   {"--cluster", good_cluster, good_job, good_job},
                   "gangsched: " + good_job + ":2:1: job ml/resnet is declared twice"},
      BadInputCase{"a running pod on a node the file does not list",
                   {"--cluster", Fixture("clusters/pod-on-unknown-node.yaml"), good_job},
                   "gangsched: " + Fixture("clusters/pod-on-unknown-node.yaml") +
                       ":11:5: pod "
                       "default/stray runs on node node-z"});
  INFO(c.what);
  const Run run = Plan(c.args);
  CHECK(run.code == kExitBadInput);
  CHECK(run.out.empty());
  CHECK_THAT(run.err, Catch::StartsWith(c.err_starts));
}

TEST_CASE("plan --help prints the usage and exits 0", "[plan]") {
  const Run run = Plan({"--help"});
  CHECK(run.code == kExitOk);
  CHECK_THAT(run.out, Catch::StartsWith("usage: gangsched plan"));
}

}  // namespace
}  // namespace gangsched::cli

namespace gangsched::cli {
namespace {

// The bundled examples, exactly as `make run` plans them.
TEST_CASE("the bundled Kubeflow TFJob examples are placed as a user expects", "[plan][examples]") {
  const std::string dir = std::string(GANGSCHED_SOURCE_DIR) + "/manifests/examples/";
  const Run run =
      Plan({"--output", "json", "--cluster", dir + "cluster.yaml",
            dir + "tfjob-v1alpha1-example-job.yaml", dir + "tfjob-v1alpha2-mycnnjob.yaml",
            dir + "tfjob-v1-example-job.yaml", dir + "tfjob-v1-mycnnjob.yaml"});
  INFO(run.err);
  REQUIRE(run.code == 0);
  const auto doc = nlohmann::json::parse(run.out);
  REQUIRE(doc["jobs"].size() == 4);
  std::map<std::string, nlohmann::json> jobs;
  for (const auto& job : doc["jobs"]) {
    jobs[job["namespace"].get<std::string>() + "/" + job["name"].get<std::string>()] = job;
  }
  // The seed examples ask for no GPUs: they go whole onto one untainted CPU node.
  for (const auto* name : {"default/example-job", "kubeflow/mycnnjob"}) {
    const auto& job = jobs.at(name);
    CHECK(job["placed"] == true);
    CHECK(job["span"]["nodes"] == 1);
    CHECK(job["pods"][0]["node"].get<std::string>().rfind("cpu-", 0) == 0);
  }
  // v1 example-job: 2 GPUs + 2 PS fit on one node: best fit takes the half-busy H100 node with
  // exactly 2 free GPUs instead of opening a whole node.
  const auto& small = jobs.at("ml/example-job");
  CHECK(small["span"]["nodes"] == 1);
  CHECK(small["pods"][0]["node"] == "h100-b1-r1-n3");
  // v1 mycnnjob: 4 workers x 8 GPUs in one rack on 4 whole nodes, PS beside the workers.
  const auto& cnn = jobs.at("ml/mycnnjob");
  CHECK(cnn["span"]["nodes"] == 4);
  std::set<std::string> racks;
  std::set<std::string> worker_nodes;
  for (const auto& pod : cnn["pods"]) {
    racks.insert(pod["domains"]["rack"].get<std::string>());
    if (pod["role"] == "worker") {
      worker_nodes.insert(pod["node"].get<std::string>());
      CHECK(pod["gpuIds"].size() == 8);
    }
  }
  CHECK(racks.size() == 1);
  CHECK(worker_nodes.size() == 4);
  for (const auto& pod : cnn["pods"]) {
    if (pod["role"] == "ps") CHECK(worker_nodes.count(pod["node"].get<std::string>()) == 1);
  }
}

}  // namespace
}  // namespace gangsched::cli
