// The values the engine's verbs and views return (reference/extender-protocol.md §1-2 for the
// verbs): plain data, no behaviour. Owns their shape only; how they are put on the wire is api/'s.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "scheduler/gang.h"
#include "scheduler/holds.h"
#include "scheduler/plan.h"

namespace gangsched::scheduler {

enum class GangPhase : std::uint8_t {
  kWaiting,  // not planned: too few pods, does not fit, or backing off
  kPlanned,  // holds capacity; members are being filtered toward their nodes
  kBinding,  // released by the barrier; Bindings in flight (or being retried)
  kBound,    // every quorum member bound
};
inline const char* GangPhaseName(GangPhase phase) {
  switch (phase) {
    case GangPhase::kWaiting:
      return "Waiting";
    case GangPhase::kPlanned:
      return "Planned";
    case GangPhase::kBinding:
      return "Binding";
    case GangPhase::kBound:
      return "Bound";
  }
  return "Unknown";
}

// Filter's decision for one pod, over the nodes kube-scheduler offered for it. A decision names at
// most one node; api/ spreads it over every offered node into kube-scheduler's
// ExtenderFilterResult (reference/extender-protocol.md §1.3, §2.3), so a gang-level reason is
// carried once, not once per offered node.
//
// The pod goes to `node`, an offered one (DESIGN.md §3.5): NodeNames [node]; the other offered
// nodes are left out of the reply, which kube-scheduler reads as unresolvable.
struct Narrow {
  std::string node;
};
// No offered node is for this pod (DESIGN.md §3.3): every offered node FailedAndUnresolvable with
// one reason, so kube-scheduler's per-pod preemption looks nowhere. Also the answer to an offer of
// nodes the inventory does not know, and to a nominated-node probe on a node the pod is not
// planned on (the offer is that one node).
struct RejectAll {
  std::string reason;
  // gangsched's view lags kube-scheduler's (it offered only nodes the inventory does not know
  // yet): answered as the reply's Error as well, so kube-scheduler backs the pod off and retries
  // it rather than parking it until a cluster event that may have come already (issue 11).
  bool retry = false;
};
// The gang's victim plan needs evictions on `node` for this pod (DESIGN.md §3.9): that node in
// FailedNodes with `reason`, the only candidate of kube-scheduler's preemption; every other
// offered node FailedAndUnresolvable with `elsewhere`. When `node` is not offered, every offered
// node is unresolvable with `elsewhere`.
struct PreemptOn {
  std::string node;
  std::string reason;
  std::string elsewhere;
};
using FilterDecision = std::variant<Narrow, RejectAll, PreemptOn>;

struct HostScore {
  std::string host;
  std::int64_t score = 0;  // 0..10
};

// The nodes kube-scheduler offered for one pod (reference/extender-protocol.md §2.3), resolved
// against the engine's node inventory. A request names thousands of nodes and kube-scheduler sends
// the same offer pod after pod, so the caller may keep an Offer and pass it again while `inventory`
// is the engine's inventory_generation(); the engine resolves a stale one again.
struct Offer {
  std::vector<std::string> names;      // in request order
  std::vector<std::size_t> nodes;      // state indices of the names the inventory knows, in order
  std::vector<std::int32_t> position;  // by state index: first position in `names`, -1 if absent
  std::uint64_t inventory = 0;
};

// A non-zero score of one offered node; every offered node not listed scores 0.
struct OfferScore {
  std::size_t at = 0;  // position in Offer::names
  std::int64_t score = 0;
};

// One candidate of the preempt verb: node -> victim pod UIDs (MetaVictims).
struct PreemptCandidate {
  std::string node;
  std::vector<std::string> victim_uids;
  std::int64_t pdb_violations = 0;
};

struct GangStatus {
  GangKey key;
  std::string kind;  // what declared the gang's size
  GangPhase phase = GangPhase::kWaiting;
  std::string reason;  // why it waits, in plain words ("" once bound)
  int quorum = 0;
  int members_seen = 0;                   // pods known (filtered or from the API)
  int members_arrived = 0;                // waiting in the barrier or bound
  std::vector<std::string> arrived_uids;  // their UIDs, sorted (the rest may be parked)
  bool size_known = true;  // false: a PodGroup's member whose PodGroup (minMember) is not known yet
  int members_bound = 0;
  std::optional<Millis> hold_deadline;
  std::optional<Millis> backoff_until;
  std::optional<Plan> plan;
};

}  // namespace gangsched::scheduler
