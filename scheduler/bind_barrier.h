// The bind barrier as a pure state machine (DESIGN.md §3.6): events in (a member reached bind, a
// deadline passed, a bind succeeded or failed, a member went away), decisions out (wait, bind these
// pods now, answer these pods with an error). No member is bound before every quorum member has
// reached bind; once a gang is released, a failed member's slot stays reserved and is retried
// first. Owns slots and their members; the caller owns threads, HTTP requests and API calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/gang.h"
#include "scheduler/holds.h"
#include "scheduler/plan.h"

namespace gangsched::scheduler {

enum class BarrierAction : std::uint8_t {
  kWait,    // keep the request open
  kBind,    // post the Bindings of `pods` now (each to its slot's node) and answer them
  kReject,  // answer `pods` with `reason` as the bind error
};

struct BindOrder {
  std::string pod_uid;
  std::string node;
  std::string pod_namespace;  // filled by GangScheduler from the members it knows
  std::string pod_name;
};

struct BarrierDecision {
  BarrierAction action = BarrierAction::kWait;
  GangKey gang;
  std::vector<BindOrder> pods;
  std::string reason;
};

enum class BarrierPhase : std::uint8_t { kCollecting, kReleased };

class BindBarrier {
 public:
  // Opens (or re-opens after a re-plan) the barrier of a planned gang with a deadline. Members that
  // already arrived keep their slots when the plan still has a slot of their role and GPU count on
  // their node.
  void Open(const Plan& plan, Millis deadline);
  // A member reached bind for `node`. Its role and GPU count decide which slots it may take
  // (members of one role asking the same GPUs are interchangeable; a pod keeps its slot by UID).
  // `gpus` < 0: any GPU count of the role (for callers whose roles each have one).
  BarrierDecision Arrive(const GangKey& gang, const std::string& uid, const std::string& role,
                         const std::string& node, Millis now, std::int64_t gpus = -1);
  // Collecting barriers whose deadline passed: every waiting member is answered with an error and
  // the barrier is closed (nothing of the gang was bound). Released barriers never expire.
  std::vector<BarrierDecision> Expire(Millis now);
  // The gang made progress: its deadline moves (never backwards).
  void Extend(const GangKey& gang, Millis deadline);
  // A Binding was posted: success marks the slot bound; failure frees the slot for a retry or a
  // replacement pod of the same role, while the gang's capacity stays held.
  void BindResult(const GangKey& gang, const std::string& uid, bool ok);
  // A member was deleted: its slot is free again for a replacement of its role (also when it was
  // bound: the gang's hold keeps its capacity until the gang completes). Returns a rejection for
  // it if it waited.
  std::optional<BarrierDecision> Withdraw(const GangKey& gang, const std::string& uid);
  // Forget the gang (bound whole, deleted, or re-planned elsewhere). Waiting members are rejected.
  std::optional<BarrierDecision> Close(const GangKey& gang, const std::string& reason);

  bool IsOpen(const GangKey& gang) const { return gangs_.count(gang) > 0; }
  std::optional<BarrierPhase> Phase(const GangKey& gang) const;
  int Arrived(const GangKey& gang) const;  // members waiting or bound
  // UIDs of the members that reached bind (waiting, binding or bound), sorted.
  std::vector<std::string> ArrivedUids(const GangKey& gang) const;
  int Bound(const GangKey& gang) const;
  int Slots(const GangKey& gang) const;
  // True when every slot is bound (the caller then closes the gang and finishes its hold).
  bool Complete(const GangKey& gang) const;
  std::size_t open_gangs() const { return gangs_.size(); }
  std::optional<Millis> NextDeadline() const;

 private:
  enum class SlotState : std::uint8_t { kEmpty, kWaiting, kBinding, kBound };
  struct Slot {
    std::string role;
    std::int64_t gpus = 0;
    std::string node;
    SlotState state = SlotState::kEmpty;
    std::string uid;
  };
  struct Gang {
    std::vector<Slot> slots;
    Millis deadline = 0;
    BarrierPhase phase = BarrierPhase::kCollecting;
  };
  static BarrierDecision RejectWaiting(const GangKey& key, Gang& gang, const std::string& reason);
  std::map<GangKey, Gang> gangs_;
};

// The last look before a released barrier's Bindings are posted (DESIGN.md §3.6): why they must
// not be, because a target node left, was cordoned or was filled by pods gangsched did not place
// since the plan; "" when all is well. The holds of gangs `reservation` names (victim plans,
// which hold capacity their victims still use) do not count as taking room.
std::string RecheckTargets(const ClusterState& state, const BarrierDecision& d,
                           const std::function<bool(const GangKey&)>& reservation = {});

}  // namespace gangsched::scheduler
