// explain's per-domain verdicts on hand-written views (api/explain.h): the quorum's pods packed
// onto each domain's nodes now and with every hold released, and what that says in words.
#include "api/explain.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace gangsched::api {
namespace {

using nlohmann::json;

json Node(const std::string& name, const std::string& rack, int free, int held, int used) {
  return {{"name", name},
          {"domains", json::array({rack})},
          {"gpus", {{"allocatable", 8}, {"used", used}, {"held", held}, {"free", free}}},
          {"milli_cpu", {{"allocatable", 64000}, {"free", 64000}}},
          {"memory_bytes", {{"allocatable", 1LL << 40}, {"free", 1LL << 40}}},
          {"unschedulable", false}};
}

TEST_CASE("explain packs the quorum's pods per domain, with and without the holds", "[explain]") {
  const json state = {
      {"levels", json::array({"rack"})},
      {"nodes", {Node("a1", "r1", 8, 0, 0), Node("a2", "r1", 4, 4, 0), Node("b1", "r2", 2, 0, 6)}},
      {"holds",
       {{{"gang", "ml/other"},
         {"expires_in_ms", 12'000},
         {"pods", {{{"node", "a2"}, {"gpus", 4}}}}}}}};
  const json gang = {{"namespace", "ml"},
                     {"name", "bert"},
                     {"phase", "Waiting"},
                     {"need",
                      {{{"role", "worker"},
                        {"pods", 2},
                        {"gpus", 8},
                        {"milli_cpu", 1000},
                        {"memory_bytes", 1 << 30}}}}};
  const json e = Explain(gang, state);
  REQUIRE(e.at("domains").size() == 3);
  const json& cluster = e["domains"][0];
  CHECK(cluster.at("pods_fit_now") == 1);
  CHECK(cluster.at("pods_fit_without_holds") == 2);
  CHECK(cluster.at("verdict") == "fits_without_holds");
  CHECK(cluster.at("to_fit") == "fits once these holds end: ml/other (4 GPUs, expires in 12s)");
  const json& r2 = e["domains"][2];
  CHECK(r2.at("name") == "r2");
  CHECK(r2.at("verdict") == "short");
  CHECK(r2.at("to_fit") ==
        "2 of 2 pods do not fit even with every hold released: needs 16 more GPUs free on nodes "
        "with room for a whole pod (6 GPUs here are used by bound pods)");

  json freed = state;  // ml/other's hold ended
  freed["holds"] = json::array();
  freed["nodes"][1]["gpus"] = {{"allocatable", 8}, {"used", 0}, {"held", 0}, {"free", 8}};
  CHECK(Explain(gang, freed)["domains"][0].at("to_fit") ==
        "fits now by capacity: its members' next filter call can plan it");

  json unknown = gang;
  unknown.erase("need");
  CHECK(Explain(unknown, state)["domains"][0].at("to_fit") ==
        "unknown: gangsched does not know the gang's pods yet");
}

}  // namespace
}  // namespace gangsched::api
