// Trace readers and cluster builders on the real shared data (shared/data/SOURCES.md) and on small
// malformed inputs: what a user bringing a trace would see.
#include "sim/trace.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "sim/cluster_builder.h"

namespace gangsched::sim {
namespace {

const std::string kData = std::string(GANGSCHED_SHARED_DIR) + "/data/";

TEST_CASE("a gavel trace gives arrivals and gang sizes", "[sim][trace]") {
  std::ifstream in(kData + "gavel/msr_seed0/11cb48.trace");
  REQUIRE(in);
  const auto records = ReadGavelTrace(in, "11cb48.trace");
  REQUIRE(records.has_value());
  CHECK(records->size() == 2000);
  std::set<int> sizes;
  for (const auto& r : *records) sizes.insert(r.gpus);
  CHECK(sizes.count(1) == 1);
  CHECK(*sizes.rbegin() >= 16);
  CHECK(records->front().id == "11cb48.trace-1");
}

TEST_CASE("a malformed trace line is named", "[sim][trace]") {
  std::istringstream in("a\tb\tc\td\t1\t0.0\t1\nbroken line\n");
  const auto records = ReadGavelTrace(in, "t.trace");
  REQUIRE_FALSE(records.has_value());
  CHECK(records.error().find("t.trace:2:") == 0);
}

TEST_CASE("durations above 8 GPUs come from the 8-GPU Philly jobs", "[sim][trace]") {
  std::istringstream in("duration_s,num_gpus\n100,1\n200,1\n8000,8\n9000,8\n500,4\n");
  const auto sampler = DurationSampler::FromCsv(in, "d.csv");
  REQUIRE(sampler.has_value());
  std::mt19937 rng(1);
  for (int i = 0; i < 20; ++i) {
    const auto d = sampler->Sample(32, rng);
    CHECK((d == 8000 || d == 9000));
    CHECK(sampler->Sample(2, rng) <= 200);  // no 2-GPU jobs: the 1-GPU pool
    CHECK(sampler->Sample(4, rng) == 500);
  }
}

TEST_CASE("trace jobs become pods in the two stated shapes", "[sim][trace]") {
  using scheduler::CommPattern;
  const auto ps = ShapeGang("j", 8, PodShape::kPsWorkers);
  REQUIRE(ps.roles.size() == 2);
  CHECK(ps.roles[0].replicas == 8);
  CHECK(ps.roles[0].per_pod.gpus == 1);
  CHECK(ps.roles[1].name == "ps");
  CHECK(ps.roles[1].replicas == 2);
  CHECK(ps.roles[1].per_pod.gpus == 0);
  CHECK(ps.pattern == CommPattern::kParameterServer);
  CHECK(ps.EffectiveQuorum() == 10);

  const auto packed12 = ShapeGang("j", 12, PodShape::kPacked);
  REQUIRE(packed12.roles.size() == 1);
  CHECK(packed12.roles[0].replicas == 2);
  CHECK(packed12.roles[0].per_pod.gpus == 6);
  const auto packed20 = ShapeGang("j", 20, PodShape::kPacked);
  REQUIRE(packed20.roles.size() == 2);
  CHECK(packed20.roles[0].replicas * packed20.roles[0].per_pod.gpus +
            packed20.roles[1].per_pod.gpus ==
        20);
  CHECK(ShapeGang("j", 1, PodShape::kPsWorkers).pattern == CommPattern::kNone);
}

TEST_CASE("the generic CSV trace reads roles and rejects what it cannot use", "[sim][trace]") {
  std::istringstream good(
      "job,arrival_s,duration_s,pattern,role,replicas,gpus_per_pod,milli_cpu_per_pod,"
      "memory_mib_per_pod\n"
      "b,50,600,allreduce,worker,2,8,8000,65536\n"
      "a,10,3600,ps,worker,4,1,4000,16384\n"
      "a,10,3600,ps,ps,1,0,2000,8192\n");
  const auto jobs = ReadGenericCsv(good, "g.csv");
  REQUIRE(jobs.has_value());
  REQUIRE(jobs->size() == 2);
  CHECK((*jobs)[0].id == "a");  // sorted by arrival
  CHECK((*jobs)[0].gpus == 4);
  CHECK((*jobs)[0].gang.roles.size() == 2);
  CHECK((*jobs)[0].gang.quorum == 5);
  CHECK((*jobs)[0].gang.roles[1].per_pod.memory_bytes == 8192LL << 20);
  CHECK((*jobs)[1].gpus == 16);

  std::istringstream bad_pattern(
      "job,arrival_s,duration_s,pattern,role,replicas,gpus_per_pod,milli_cpu_per_pod,"
      "memory_mib_per_pod\nx,0,10,ring,worker,1,1,1,1\n");
  const auto err = ReadGenericCsv(bad_pattern, "g.csv");
  REQUIRE_FALSE(err.has_value());
  CHECK(err.error().find("g.csv:2:") == 0);
  std::istringstream no_header("x,0,10,ps,worker,1,1,1,1\n");
  CHECK_FALSE(ReadGenericCsv(no_header, "g.csv").has_value());
}

TEST_CASE("Alibaba node lists become racks of one GPU model", "[sim][cluster]") {
  std::ifstream in(kData + "alibaba-v2023/openb_node_list_gpu_node.csv");
  REQUIRE(in);
  const auto nodes = ReadAlibabaNodes(in, "openb", RackLayout{8, 4, 0});
  REQUIRE(nodes.has_value());
  std::int64_t gpus = 0;
  std::map<std::string, std::set<std::string>> models_per_rack;
  std::map<std::string, int> nodes_per_rack;
  for (const auto& n : *nodes) {
    gpus += n.allocatable.gpus;
    const std::string rack = n.labels.at(kRackLabel);
    models_per_rack[rack].insert(n.labels.at(kGpuProductLabel));
    ++nodes_per_rack[rack];
  }
  CHECK(nodes->size() == 1213);
  CHECK(gpus == 6212);
  for (const auto& [rack, models] : models_per_rack) CHECK(models.size() == 1);
  for (const auto& [rack, count] : nodes_per_rack) CHECK(count <= 8);

  std::ifstream v2020(kData + "alibaba-v2020/pai_machine_spec.csv");
  const auto pai = ReadAlibabaNodes(v2020, "pai", RackLayout{8, 4, 0});
  REQUIRE(pai.has_value());
  std::int64_t pai_gpus = 0;
  for (const auto& n : *pai) pai_gpus += n.allocatable.gpus;
  CHECK(pai_gpus == 6742);
}

TEST_CASE("an Alibaba sample keeps close to the GPU target", "[sim][cluster]") {
  std::ifstream in(kData + "alibaba-v2023/openb_node_list_gpu_node.csv");
  const auto nodes = ReadAlibabaNodes(in, "openb", RackLayout{8, 4, 256});
  REQUIRE(nodes.has_value());
  std::int64_t gpus = 0;
  std::set<std::int64_t> shapes;
  for (const auto& n : *nodes) {
    gpus += n.allocatable.gpus;
    shapes.insert(n.allocatable.gpus);
  }
  CHECK(gpus >= 256 - 8);
  CHECK(gpus <= 256 + 8);
  CHECK(shapes.size() >= 2);  // the mix of shapes survives the sample
}

TEST_CASE("a generated cluster spec is checked", "[sim][cluster]") {
  const auto ok = GeneratedClusterFromSpec("2x2x4x8");
  REQUIRE(ok.has_value());
  CHECK(ok->size() == 16);
  CHECK(ok->front().labels.at(kBlockLabel) == "b0");
  CHECK_FALSE(GeneratedClusterFromSpec("2x2x4").has_value());
  CHECK_FALSE(GeneratedClusterFromSpec("2x2x0x8").has_value());
}

}  // namespace
}  // namespace gangsched::sim
