// Trace readers and cluster builders on the real shared data (shared/data/SOURCES.md) and on small
// malformed inputs: what a user bringing a trace would see.
#include "sim/trace.h"

#include <catch2/catch.hpp>
#include <cmath>
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

struct RackCount {
  std::int64_t gpus = 0;
  std::set<std::int64_t> shapes;
  std::set<std::string> blocks;
};

std::map<std::string, RackCount> Racks(const std::vector<scheduler::Node>& nodes) {
  std::map<std::string, RackCount> racks;
  for (const auto& n : nodes) {
    auto& rack = racks[n.labels.at(kRackLabel)];
    rack.gpus += n.allocatable.gpus;
    rack.shapes.insert(n.allocatable.gpus);
    rack.blocks.insert(n.labels.at(kBlockLabel));
  }
  return racks;
}

TEST_CASE("a mixed spec racks each node shape alone, with equal GPUs per rack", "[sim][cluster]") {
  const auto mixed = GeneratedClusterFromSpec("2x8x8x8+4");
  REQUIRE(mixed.has_value());
  CHECK(mixed->size() == 2 * (4 * 8 + 4 * 16));
  const auto racks = Racks(*mixed);
  CHECK(racks.size() == 16);
  std::map<std::int64_t, int> racks_of_shape;
  for (const auto& [name, rack] : racks) {
    CHECK(rack.gpus == 64);
    REQUIRE(rack.shapes.size() == 1);
    CHECK(rack.blocks.size() == 1);
    ++racks_of_shape[*rack.shapes.begin()];
  }
  CHECK(racks_of_shape == std::map<std::int64_t, int>{{4, 8}, {8, 8}});
  CHECK(racks.at("b0-r0").shapes == std::set<std::int64_t>{8});
  CHECK(racks.at("b0-r1").shapes == std::set<std::int64_t>{4});

  const auto three = GeneratedClusterFromSpec("1x3x2x8+4+2");
  REQUIRE(three.has_value());
  CHECK(three->size() == 2 + 4 + 8);
  for (const char* bad : {"2x2x4x8+3", "2x2x4x8+", "2x2x4x+8", "2x2x4x8+0", "2x2x4x8x8"}) {
    INFO(bad);
    CHECK_FALSE(GeneratedClusterFromSpec(bad).has_value());
  }
}

TEST_CASE("fat:GPUS gives the report's fat trees of 8- and 4-GPU racks", "[sim][cluster]") {
  const auto gpus = GENERATE(std::int64_t{1024}, std::int64_t{4096}, std::int64_t{8192});
  const auto spec = ClusterFromSpec("fat:" + std::to_string(gpus));
  REQUIRE(spec.has_value());
  REQUIRE(spec->has_value());
  const auto& nodes = **spec;
  std::int64_t total = 0, on_eight = 0;
  std::set<std::string> blocks;
  for (const auto& n : nodes) {
    total += n.allocatable.gpus;
    if (n.allocatable.gpus == 8) on_eight += 8;
    blocks.insert(n.labels.at(kBlockLabel));
  }
  CHECK(total == gpus);
  CHECK(on_eight * 2 == gpus);  // half the GPUs on each shape
  CHECK(static_cast<std::int64_t>(blocks.size()) == gpus / 512);
  CHECK(Racks(nodes).size() == static_cast<std::size_t>(gpus / 64));
}

TEST_CASE("cluster specs that are not one are named or left to the file readers",
          "[sim][cluster]") {
  CHECK_FALSE(ClusterFromSpec("nodes.yaml").has_value());
  for (const char* bad : {"fat:1000", "fat:0", "fat:", "fat:1024x"}) {
    INFO(bad);
    const auto spec = ClusterFromSpec(bad);
    REQUIRE(spec.has_value());
    REQUIRE_FALSE(spec->has_value());
    CHECK(spec->error().find("512") != std::string::npos);
  }
  const auto gen = ClusterFromSpec("gen:2x2x4x8");
  REQUIRE(gen.has_value());
  CHECK((*gen)->size() == 16);
}

TEST_CASE("the full Alibaba v2023 list is racked whole", "[sim][cluster]") {
  std::ifstream in(kData + "alibaba-v2023/openb_node_list_gpu_node.csv");
  const auto nodes = ReadAlibabaNodes(in, "openb", RackLayout{8, 4, 0});
  REQUIRE(nodes.has_value());
  const auto racks = Racks(*nodes);
  std::set<std::string> blocks;
  for (const auto& [name, rack] : racks) blocks.insert(*rack.blocks.begin());
  // 1,213 nodes of 12 (model, size) kinds, 8 to a rack, a rack per model: 157 racks.
  CHECK(nodes->size() == 1213);
  CHECK(racks.size() >= 1213 / 8);
  CHECK(racks.size() <= 1213 / 8 + 12);
  CHECK(blocks.size() == (racks.size() + 3) / 4);
}

std::vector<TraceRecord> Gavel(const std::string& trace) {
  std::ifstream in(kData + "gavel/msr_seed0/" + trace + ".trace");
  auto records = ReadGavelTrace(in, trace);
  REQUIRE(records.has_value());
  return *records;
}

DurationSampler Philly() {
  std::ifstream in(kData + "gavel/philly_job_distribution.csv");
  auto sampler = DurationSampler::FromCsv(in, "philly");
  REQUIRE(sampler.has_value());
  return *sampler;
}

TEST_CASE("offered load counts the work asked inside the arrival window", "[sim][load]") {
  std::vector<SimJob> jobs(3);
  jobs[0] = {"a", 100, 50, {}, 8};
  jobs[1] = {"b", 300, 500, {}, 4};  // runs past the last arrival: 200 s of it count
  jobs[2] = {"c", 500, 200, {}, 1};  // arrives last: none of it counts
  // (8 x 50 + 4 x 200 + 1 x 0) / (10 GPUs x 400 s)
  CHECK(OfferedLoad(jobs, 10, LoadBasis::kWindow) == Approx(0.3));
  // All the work: (8 x 50 + 4 x 500 + 1 x 200) / (10 x 400)
  CHECK(OfferedLoad(jobs, 10) == Approx(0.65));
  // Half the window: (8 x 50 + 4 x 100) / (10 x 200)
  const auto factor = ScaleToLoad(jobs, 10, 0.4, LoadBasis::kWindow);
  REQUIRE(factor.has_value());
  CHECK(*factor == Approx(0.5));
  CHECK(jobs[0].arrival == 100);
  CHECK(jobs[1].arrival == 200);
  CHECK(jobs[2].arrival == 300);
  CHECK(jobs[1].duration == 500);  // durations are not touched
  CHECK(OfferedLoad(jobs, 10, LoadBasis::kWindow) == Approx(0.4));
  CHECK(OfferedLoad(jobs, 10) == Approx(1.3));  // all the work, over half the window
  // Even arriving all at once: (8 x the window + 4 x half of it) / (10 x the window) = 1.
  CHECK_FALSE(ScaleToLoad(jobs, 10, 1.25, LoadBasis::kWindow).has_value());
  // kSpan: f = load / target, and any load can be reached.
  const auto span_factor = ScaleToLoad(jobs, 10, 2.6);
  REQUIRE(span_factor.has_value());
  CHECK(*span_factor == Approx(0.5).epsilon(1e-6));
  CHECK(OfferedLoad(jobs, 10) == Approx(2.6));
  std::vector<SimJob> one(1, jobs[0]);
  CHECK(OfferedLoad(one, 10) == 0);
  CHECK_FALSE(ScaleToLoad(one, 10, 0.5).has_value());
}

TEST_CASE("gavel traces scaled to a target load reach it within rounding", "[sim][load]") {
  const auto trace = GENERATE(std::string("11cb48"), std::string("6c71a0"), std::string("7f04ca"));
  const auto gpus = GENERATE(std::int64_t{1024}, std::int64_t{6212}, std::int64_t{8192});
  const double target = GENERATE(0.6, 0.75, 0.9);
  std::mt19937 rng(1);
  const auto count = static_cast<std::size_t>(2 * gpus);  // as the report: enough jobs
  auto jobs = JobsFromTrace(RepeatTrace(Gavel(trace), count), PodShape::kPacked, Philly(), rng);
  const std::vector<SimJob> before = jobs;
  const auto basis = GENERATE(LoadBasis::kSpan, LoadBasis::kWindow);
  const auto factor = ScaleToLoad(jobs, gpus, target, basis);
  INFO(trace << " on " << gpus << " GPUs at " << target << ", " << LoadBasisName(basis));
  REQUIRE(factor.has_value());
  // Arrivals are whole seconds; the window is hours long.
  CHECK(OfferedLoad(jobs, gpus, basis) == Approx(target).epsilon(1e-3));
  if (basis == LoadBasis::kWindow) {
    CHECK(OfferedLoad(jobs, gpus) > target);  // the long jobs' work after the window
  }
  for (std::size_t i = 1; i < jobs.size(); ++i) {
    CHECK(jobs[i].arrival >= jobs[i - 1].arrival);  // order kept
    CHECK(jobs[i].duration == before[i].duration);
  }
}

TEST_CASE("a repeated trace keeps its arrival pattern, copy after copy", "[sim][load]") {
  const auto records = Gavel("6c71a0");
  const auto repeated = RepeatTrace(records, 5000);
  REQUIRE(repeated.size() == 5000);
  std::set<std::string> ids;
  for (const auto& r : repeated) ids.insert(r.id);
  CHECK(ids.size() == 5000);
  const std::int64_t span = records.back().arrival - records.front().arrival;
  CHECK(repeated[1999].id == records.back().id);
  CHECK(repeated[2000].id == records.front().id + ".1");
  CHECK(repeated[2000].gpus == records.front().gpus);
  CHECK(repeated[2000].arrival > repeated[1999].arrival);
  CHECK(repeated[4000].arrival - repeated[2000].arrival == repeated[2000].arrival);
  CHECK(repeated[2000].arrival - records.front().arrival >= span);
  CHECK(RepeatTrace(records, 10).size() == 10);

  // Each copy draws its own durations.
  std::mt19937 rng(1);
  const auto jobs = JobsFromTrace(repeated, PodShape::kPacked, Philly(), rng);
  int same = 0;
  for (std::size_t i = 0; i < 2000; ++i) same += jobs[i].duration == jobs[i + 2000].duration;
  CHECK(same < 200);
}

}  // namespace
}  // namespace gangsched::sim
