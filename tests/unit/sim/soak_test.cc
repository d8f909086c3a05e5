// The soak's short run (sim/soak.h) in `make test`, and the seeds of the safety failures the long
// soak (`make soak`) found, kept until their engine bugs are fixed.
#include "sim/soak.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>

namespace gangsched::sim {
namespace {

// At least 10^5 events with every fault on (a few seconds). Checked on every run: no over-commit,
// no gang partly bound past its window, no bind to a node the engine did not narrow the pod to, no
// hold past its deadline, no hold moved by a filter that rejected a member. Left out because of
// open engine bugs of issue 11 item 6: liveness on the odd seeds. Only the even seeds' gangs (one
// role, created at once, API mode) avoid the second and third points (members planned as copies of
// roles not seen yet; a member with no slot in the plan does not re-plan its gang), which show
// when roles are created one after the other or in standalone mode.
// `make soak` runs every shape with every invariant and prints what fails.
TEST_CASE("the soak's short run keeps every safety invariant with faults on", "[soak]") {
  SoakOptions options;
  options.events = 150'000;
  options.scope = SoakScope::kKnownBugsExcluded;
  options.minimize_budget = 20;  // only spent on a failure, to print its trace
  const auto start = std::chrono::steady_clock::now();
  const SoakReport report = RunSoak(options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "soak short run: " << report.events << " events, " << report.runs << " runs in "
            << seconds << " s\n";
  INFO(report.Summary());
  CHECK(report.events >= 100'000);
  CHECK(report.failures.empty());
}

// Found by `make soak`: a gang whose Binding failed for one member while another bound member was
// deleted and recreated is never completed. The engine's filter narrows the replacement to the
// deleted member's node (its slot map forgot the old UID), while the barrier keeps that slot as
// bound under the old UID and offers the replacement only the failed member's slot: every bind of
// the replacement is rejected ("no free worker slot on node ...; it is planned on node ..."), and
// once the failed member binds the engine calls the gang bound with one member unbound ("gang ...
// is bound; no offered node fits its extra worker pod"). Safety: a gang left partly bound. Engine
// bug, reported on issue 11; drop [!mayfail] once it is fixed.
TEST_CASE("soak seeds: a partly bound gang whose bound member is recreated completes",
          "[soak][!mayfail]") {
  const std::uint64_t seed = GENERATE(32, 112);
  const SoakRun run = SoakRunFor(seed, SoakScope::kKnownBugsExcluded, 1.0);
  const SoakOutcome out = RunOnce(run, SoakOptions{}.events_per_run);
  INFO(out.result.violation.value_or(""));
  CHECK_FALSE(out.result.invariant);
}

// Found by `make soak` (roles created in turn, API mode): a member is deleted while it waits in the
// barrier and the engine sees the deletion late; its replacement is rejected ("every worker slot of
// its placement is taken by other pods") because the old pod still holds the slot, then the
// barrier releases, the old pod's Binding is refused and the others bind. The replacement stays
// parked with no cluster event to bring it back, so the gang stays partly bound until the
// unschedulablePods flush. The engine's notifier (kube/notifier.cc) is not modelled yet; whether
// it nudges a parked member when a partly bound gang's slot frees decides whether this is an
// engine bug or a gap of the model. Drop [!mayfail] when one of them is fixed.
TEST_CASE("soak seeds: a replacement rejected while its predecessor's deletion is unseen binds",
          "[soak][!mayfail]") {
  const SoakRun run = SoakRunFor(115, SoakScope::kKnownBugsExcluded, 1.0);
  const SoakOutcome out = RunOnce(run, SoakOptions{}.events_per_run);
  INFO(out.result.violation.value_or(""));
  CHECK_FALSE(out.result.invariant);
}

}  // namespace
}  // namespace gangsched::sim
