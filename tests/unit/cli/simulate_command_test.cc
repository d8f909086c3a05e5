// `gangsched simulate` in-process: a NodeList inventory and a generic CSV trace through every
// policy, JSON and CSV output, and the errors a user sees for bad input.
#include "cli/simulate_command.h"

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "sim/peer_policies.h"

namespace gangsched::cli {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/" + name;
}

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

Outcome Simulate(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Outcome o;
  o.code = RunSimulate(args, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

TEST_CASE("simulate replays a generic trace on a NodeList under every policy", "[simulate]") {
  const auto o = Simulate({"--cluster", Fixture("clusters/two-racks.yaml"), "--trace",
                           Fixture("traces/generic-small.csv"), "--policy", "all"});
  REQUIRE(o.code == 0);
  CHECK(o.err.empty());
  const auto doc = nlohmann::json::parse(o.out);
  CHECK(doc["cluster"]["nodes"] == 4);
  CHECK(doc["cluster"]["gpus"] == 32);
  CHECK(doc["trace"]["jobs"] == 3);
  REQUIRE(doc["runs"].size() == 4 + sim::PeerPolicyNames().size());  // the peers too
  for (const auto& run : doc["runs"]) {
    CHECK(run["summary"]["finished"] == 3);
    CHECK(run["jobs"].size() == 3);
  }
  const auto& ours = doc["runs"][0];
  CHECK(ours["summary"]["policy"] == "gangsched");
  // The 16-GPU ring job fits one rack of two 8-GPU nodes: gangsched keeps it there.
  for (const auto& job : ours["jobs"]) {
    if (job["id"] == "ring-16") {
      CHECK(job["racks"] == 1);
      CHECK(job["min_span"] == true);
    }
  }
}

TEST_CASE("simulate runs the kube-scheduler model unless --engine planner", "[simulate]") {
  const std::vector<std::string> base = {"--cluster", Fixture("clusters/two-racks.yaml"),
                                         "--trace",   Fixture("traces/generic-small.csv"),
                                         "--policy",  "all"};
  const auto model = nlohmann::json::parse(Simulate(base).out);
  std::map<std::string, nlohmann::json> by_policy;
  for (const auto& run : model["runs"]) by_policy[run["summary"]["policy"]] = run["summary"];
  CHECK(by_policy["gangsched"]["engine"] == "kube-scheduler-model");
  CHECK(by_policy["binpack"]["engine"] == "kube-scheduler-model");
  CHECK(by_policy["default-scheduler"]["engine"] == "kube-scheduler-model");
  CHECK(by_policy["gang-binpack"]["engine"] == "planner");  // no kube-scheduler set-up
  CHECK(by_policy["gangsched"]["gangs_bound"] == 3);
  CHECK(by_policy["gangsched"]["counters"]["nudges"].is_number());
  CHECK(by_policy["gangsched"]["counters"]["preemptions"] == 0);  // victim plans: none here
  CHECK(by_policy["binpack"]["counters"]["hold_expiries"].is_null());

  auto planner_args = base;
  planner_args.insert(planner_args.end(), {"--engine", "planner"});
  const auto planner = nlohmann::json::parse(Simulate(planner_args).out);
  for (const auto& run : planner["runs"]) CHECK(run["summary"]["engine"] == "planner");

  auto bad = base;
  bad.insert(bad.end(), {"--engine", "kube"});
  CHECK(Simulate(bad).err.find("--engine must be model or planner") != std::string::npos);

  const auto cosched = Simulate({"--cluster", Fixture("clusters/two-racks.yaml"), "--trace",
                                 Fixture("traces/generic-small.csv"), "--policy", "coscheduling"});
  REQUIRE(cosched.code == 0);
  const auto run = nlohmann::json::parse(cosched.out)["runs"][0]["summary"];
  CHECK(run["engine"] == "kube-scheduler-model");
  CHECK(run["finished"] == 3);
  CHECK(Simulate({"--cluster", "gen:1x1x1x8", "--trace", Fixture("traces/generic-small.csv"),
                  "--policy", "coscheduling", "--engine", "planner"})
            .err.find("model only") != std::string::npos);
}

TEST_CASE("simulate runs each topology-aware peer by name, on the model only", "[simulate]") {
  for (const std::string& peer : sim::PeerPolicyNames()) {
    INFO(peer);
    const auto o = Simulate({"--cluster", Fixture("clusters/two-racks.yaml"), "--trace",
                             Fixture("traces/generic-small.csv"), "--policy", peer});
    REQUIRE(o.code == 0);
    const auto run = nlohmann::json::parse(o.out)["runs"][0]["summary"];
    CHECK(run["policy"] == peer);
    CHECK(run["engine"] == "kube-scheduler-model");
    CHECK(run["finished"] == 3);
    CHECK(run["max_idle_partial_gpus"] == 0);
    CHECK(Simulate({"--cluster", "gen:1x1x1x8", "--trace", Fixture("traces/generic-small.csv"),
                    "--policy", peer, "--engine", "planner"})
              .err.find("model only") != std::string::npos);
  }
  CHECK(Simulate({"--cluster", "gen:1x1x1x8", "--trace", Fixture("traces/generic-small.csv"),
                  "--policy", "kueue"})
            .err.find("kueue-tas-preferred") != std::string::npos);
}

TEST_CASE("simulate prints one CSV row per policy", "[simulate]") {
  const auto o =
      Simulate({"--cluster", "gen:1x2x2x8", "--trace", Fixture("traces/generic-small.csv"),
                "--policy", "binpack", "--output", "csv"});
  REQUIRE(o.code == 0);
  std::istringstream lines(o.out);
  std::string header, row, extra;
  std::getline(lines, header);
  std::getline(lines, row);
  CHECK(header.rfind("policy,jobs,finished", 0) == 0);
  CHECK(header.find(",p50_gang_bound_s,p99_gang_bound_s,hold_expiries,replans,nudges,") !=
        std::string::npos);
  CHECK(row.rfind("binpack,3,3,0,0,", 0) == 0);
  CHECK_FALSE(std::getline(lines, extra));
}

TEST_CASE("simulate names what is wrong with its input", "[simulate]") {
  auto missing = Simulate({"--cluster", "gen:1x1x1x8"});
  CHECK(missing.code == 2);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("--trace") != std::string::npos);

  auto policy = Simulate({"--cluster", "gen:1x1x1x8", "--trace",
                          Fixture("traces/generic-small.csv"), "--policy", "fifo"});
  CHECK(policy.code == 2);
  CHECK(policy.err.find("unknown policy \"fifo\"") != std::string::npos);

  auto no_durations =
      Simulate({"--cluster", "gen:1x1x1x8", "--trace",
                std::string(GANGSCHED_SHARED_DIR) + "/data/gavel/msr_seed0/795a4c.trace"});
  CHECK(no_durations.code == 2);
  CHECK(no_durations.err.find("--durations") != std::string::npos);

  auto bad_config =
      Simulate({"--cluster", "gen:1x1x1x8", "--trace", Fixture("traces/generic-small.csv"),
                "--config", "/nonexistent.yaml"});
  CHECK(bad_config.code == 2);
  CHECK(bad_config.err.find("/nonexistent.yaml") != std::string::npos);
  // The engine's settings come from gangsched's own config file, as for serve.
  auto config = Simulate(
      {"--cluster", "gen:1x2x2x8", "--trace", Fixture("traces/generic-small.csv"), "--config",
       std::string(GANGSCHED_SOURCE_DIR) + "/manifests/gangsched.yaml", "--output", "csv"});
  CHECK(config.code == 0);
  CHECK(config.out.find("\ngangsched,3,3,") != std::string::npos);

  auto bad_cluster = Simulate({"--cluster", Fixture("clusters/bad-syntax.json"), "--trace",
                               Fixture("traces/generic-small.csv")});
  CHECK(bad_cluster.code == 2);
  CHECK(bad_cluster.err.find("bad-syntax.json:") != std::string::npos);
  CHECK(bad_cluster.out.empty());
}

TEST_CASE("simulate replays a gavel trace with sampled durations, same seed same output",
          "[simulate]") {
  const std::string data = std::string(GANGSCHED_SHARED_DIR) + "/data/gavel/";
  const std::vector<std::string> args = {"--cluster",   "gen:1x2x4x8",
                                         "--trace",     data + "msr_seed0/51b7ef.trace",
                                         "--durations", data + "philly_job_distribution.csv",
                                         "--shape",     "ps-workers",
                                         "--output",    "csv",
                                         "--seed",      "7"};
  const auto a = Simulate(args);
  const auto b = Simulate(args);
  REQUIRE(a.code == 0);
  // Everything but the last column (decisions per second, wall clock) is the same.
  auto strip = [](const std::string& csv) {
    std::string out;
    std::istringstream lines(csv);
    for (std::string line; std::getline(lines, line);)
      out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  CHECK(strip(a.out) == strip(b.out));
  CHECK(a.out.find("gangsched,18,") != std::string::npos);
}

}  // namespace
}  // namespace gangsched::cli
