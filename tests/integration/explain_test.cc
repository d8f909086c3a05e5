// `gangsched explain` and `gangsched get gangs` against an in-process server's ops listener (port
// 0). On the two-rack fixture with NVLink matrices: ml/bert (4 x 4 GPUs) is bound in one rack,
// ml/gpt (2 x 4 GPUs) holds a node of the other rack, and ml/wide (2 x 8 GPUs) waits: it would fit
// that rack once gpt's hold ends.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/explain_command.h"
#include "tests/integration/ops_cluster.h"

namespace gangsched::api {
namespace {

using nlohmann::json;

struct Run {
  int code = 0;
  std::string out;
  std::string err;
};

Run Cli(int (*command)(const std::vector<std::string>&, std::ostream&, std::ostream&),
        std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  Run r;
  r.code = command(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// Hold deadlines move with the clock: the text says "expires in 59s" or "58s".
std::string WithoutClock(const std::string& text) {
  return std::regex_replace(text, std::regex("expires in [0-9.hms]+"), "expires in T");
}

// The planner's reason ml/wide waits, in the fixture's scenario.
const std::string kWideReason =
    "gang ml/wide: 2 member pods × 8 GPUs = 16 GPUs; largest block b1 has 8 free GPUs; cluster has "
    "8 free GPUs on 1 nodes (room for 1 pod of 8 GPUs); 8 GPUs are held for other gangs: ml/gpt "
    "(8)";

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_CASE("explain says per domain what is free, held and by whom, and what would fit",
          "[explain]") {
  OpsCluster cluster;
  const std::vector<std::string> bert = cluster.FilterGang("bert", 4, 4);
  cluster.BindGang("bert", bert);
  const std::vector<std::string> gpt = cluster.FilterGang("gpt", 2, 4);
  REQUIRE(gpt[0] == gpt[1]);  // both on one node: a hold of 8 GPUs
  const std::vector<std::string> wide = cluster.FilterGang("wide", 2, 8);
  REQUIRE(wide == std::vector<std::string>{"", ""});

  const Run text = Cli(cli::RunExplain, {"ml/wide", "--server", cluster.ops()});
  INFO(text.err);
  REQUIRE(text.code == cli::kExitOk);
  CHECK(text.err.empty());
  CHECK(WithoutClock(text.out) ==
        "gang ml/wide (gangsched): Waiting\n"
        "  pods:    2 seen, quorum 2, 0 at bind, 0 bound\n"
        "  needs:   2 member of 8 GPUs, 4 CPU, 32Gi = 16 GPUs\n"
        "  reason:  " +
            kWideReason +
            "\n"
            "\n"
            "DOMAIN    NODES   GPUS   USED   HELD   FREE  FIT NOW  FIT W/O HOLDS  HELD BY\n"
            "cluster       4     32     16      8      8      1/2            2/2  ml/gpt 8\n"
            "block b1      4     32     16      8      8      1/2            2/2  ml/gpt 8\n"
            "rack r2       2     16      0      8      8      1/2            2/2  ml/gpt 8\n"
            "rack r1       2     16     16      0      0      0/2            0/2\n"
            "\n"
            "what would make it fit:\n"
            "  cluster   fits once these holds end: ml/gpt (8 GPUs, expires in T)\n"
            "  block b1  fits once these holds end: ml/gpt (8 GPUs, expires in T)\n"
            "  rack r2   fits once these holds end: ml/gpt (8 GPUs, expires in T)\n"
            "  rack r1   2 of 2 pods do not fit even with every hold released: needs 16 more GPUs "
            "free on nodes with room for a whole pod (16 GPUs here are used by bound pods)\n");

  const Run as_json =
      Cli(cli::RunExplain, {"--output", "json", "ml/wide", "--server", cluster.ops()});
  REQUIRE(as_json.code == cli::kExitOk);
  const json e = json::parse(as_json.out);
  CHECK(e.at("phase") == "Waiting");
  REQUIRE(e.at("domains").size() == 4);
  CHECK(e["domains"][0].at("verdict") == "fits_without_holds");
  CHECK(e["domains"][0].at("held_by") ==
        json::parse(R"([{"gang":"ml/gpt","gpus":8,"expires_in_ms":)" +
                    e["domains"][0]["held_by"][0]["expires_in_ms"].dump() + "}]"));

  const Run gangs = Cli(cli::RunGet, {"gangs", "--server", cluster.ops()});
  REQUIRE(gangs.code == cli::kExitOk);
  CHECK(gangs.out ==
        "NAMESPACE  NAME  KIND       PHASE    PODS  BOUND  SPAN         REASON\n"
        "ml         bert  gangsched  Bound    4/4   4      rack r1      -\n"
        "ml         gpt   gangsched  Planned  2/2   0      node gpu-b1  -\n"
        "ml         wide  gangsched  Waiting  2/2   0      -            " +
            kWideReason + "\n");
  const Run other_namespace =
      Cli(cli::RunGet, {"gangs", "-n", "team-x", "--server", cluster.ops()});
  CHECK(other_namespace.code == cli::kExitOk);
  CHECK(other_namespace.out.empty());
  CHECK(other_namespace.err == "no gangs in namespace team-x\n");

  // A bound gang: where its pods went instead of what would make it fit.
  const Run placed = Cli(cli::RunExplain, {"ml/bert", "--server", cluster.ops()});
  REQUIRE(placed.code == cli::kExitOk);
  CHECK_THAT(placed.out, Catch::StartsWith("gang ml/bert (gangsched): Bound\n"));
  CHECK_THAT(placed.out, Catch::Contains("\nplaced:\n  member 0 -> gpu-a1, GPUs [0,1,2,3]\n"));
  CHECK(placed.out.find("what would make it fit") == std::string::npos);
}

TEST_CASE("explain names what went wrong: unknown gang, bad name, no server", "[explain]") {
  OpsCluster cluster;
  const Run unknown = Cli(cli::RunExplain, {"ml/nope", "--server", cluster.ops()});
  CHECK(unknown.code == cli::kExitNotFound);
  CHECK(unknown.out.empty());
  CHECK(unknown.err == "gangsched: gang ml/nope is not known to gangsched\n");

  const Run bad = Cli(cli::RunExplain, {"nope", "--server", cluster.ops()});
  CHECK(bad.code == cli::kExitBadInput);
  CHECK(bad.err ==
        "gangsched: \"nope\" is not NAMESPACE/NAME of a gang (e.g. ml/bert; gangsched get gangs "
        "lists them)\n");

  const std::string down = "http://127.0.0.1:" + std::to_string(ClosedPort());
  const Run refused = Cli(cli::RunExplain, {"ml/bert", "--server", down});
  CHECK(refused.code == cli::kExitUnreachable);
  CHECK(refused.out.empty());
  CHECK_THAT(refused.err, Catch::StartsWith("gangsched: cannot reach gangsched at " + down + " ("));
  CHECK_THAT(refused.err, Catch::EndsWith("is `gangsched serve` running there? Give its ops "
                                          "listener with --server URL\n"));
  const Run get_refused = Cli(cli::RunGet, {"gangs", "--server", down});
  CHECK(get_refused.code == cli::kExitUnreachable);

  // `get` lists gangs only.
  const Run not_ops = Cli(cli::RunGet, {"pods", "--server", cluster.ops()});
  CHECK(not_ops.code == cli::kExitBadInput);
}

}  // namespace
}  // namespace gangsched::api
