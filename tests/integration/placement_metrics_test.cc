// The placement metrics a drive leaves in an in-process server's /metrics (docs/metrics.md): a
// bound gang's queueing delay by namespace and job kind, its span by level, the NVLink locality of
// its GPU sets, the engine's plans, partly bound gangs and the longest wait.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/ops_cluster.h"

namespace gangsched::api {
namespace {

TEST_CASE("a bound gang's wait, span and NVLink locality are in /metrics", "[metrics]") {
  OpsCluster cluster;
  const std::vector<std::string> bert = cluster.FilterGang("bert", 4, 4);
  std::string metrics = cluster.Metrics();
  CHECK(metrics.find("gangsched_gang_queueing_delay_seconds_count{") == std::string::npos);
  cluster.BindGang("bert", bert);
  cluster.FilterGang("wide", 2, 16);  // can never fit: waits
  metrics = cluster.Metrics();
  CHECK(metrics.find(
            "gangsched_gang_queueing_delay_seconds_count{kind=\"plain\",namespace=\"ml\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("gangsched_gang_span_total{level=\"rack\"} 1") != std::string::npos);
  CHECK(metrics.find("gangsched_gang_span_total{level=\"node\"} 0") != std::string::npos);
  // 4 pods x 4 GPUs on two nodes: an 8-GPU set on each, every pair NVLink-connected.
  CHECK(metrics.find("gangsched_gpu_set_nvlink_total{locality=\"all\"} 2") != std::string::npos);
  CHECK(metrics.find("gangsched_plans_total 1") != std::string::npos);
  CHECK(metrics.find("gangsched_partly_bound_gangs 0") != std::string::npos);
  CHECK(metrics.find("\ngangsched_gang_longest_wait_seconds ") != std::string::npos);
}

}  // namespace
}  // namespace gangsched::api
