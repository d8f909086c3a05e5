// Holds with deadlines and per-gang backoff (DESIGN.md §3.4): which gangs hold capacity, until
// when, and which gangs must wait before they are planned again. Pure: time comes in as `now`
// (milliseconds on any monotonic clock the caller picks). The capacity itself is reserved in
// ClusterState; this table owns only the timing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "scheduler/gang.h"

namespace gangsched::scheduler {

using Millis = std::int64_t;

struct HoldPolicy {
  Millis ttl = 60'000;             // deadline counted from the gang's last progress
  Millis bind_timeout = 600'000;   // the bind extender's httpTimeout: deadlines stay below it
  Millis bind_margin = 5'000;      // how far below bind_timeout a deadline must stay
  Millis backoff_initial = 1'000;  // wait after the first expired hold
  Millis backoff_max = 300'000;    // doubling stops here
};

class HoldTable {
 public:
  explicit HoldTable(HoldPolicy policy = {}) : policy_(policy) {}

  // A plan became a hold at `now`. `ttl` overrides the policy's (PodGroup scheduleTimeoutSeconds).
  // Returns the deadline, clamped below the bind timeout.
  Millis Start(const GangKey& gang, Millis now, std::optional<Millis> ttl = std::nullopt);
  // The gang made progress (a member filtered or reached bind): its deadline moves.
  std::optional<Millis> Progress(const GangKey& gang, Millis now);
  // The gang got bound (or was deleted): forget the hold and reset its backoff.
  void Finish(const GangKey& gang);
  // Holds whose deadline passed; each is removed and its gang backs off (doubling each time).
  std::vector<GangKey> Expire(Millis now);
  bool Holding(const GangKey& gang) const { return holds_.count(gang) > 0; }
  std::optional<Millis> Deadline(const GangKey& gang) const;
  // When the current hold was started (a plan or victim plan committed); progress leaves it.
  std::optional<Millis> Started(const GangKey& gang) const;
  // Until when the gang must not be planned again (nullopt when it may be planned now).
  std::optional<Millis> BackoffUntil(const GangKey& gang, Millis now) const;
  // The earliest deadline, for the caller's timer.
  std::optional<Millis> NextDeadline() const;
  const HoldPolicy& policy() const { return policy_; }

 private:
  struct Entry {
    Millis ttl = 0;
    Millis deadline = 0;
    Millis started = 0;
  };
  struct Backoff {
    Millis delay = 0;
    Millis until = 0;
  };
  Millis Clamp(Millis now, Millis ttl) const;
  HoldPolicy policy_;
  std::map<GangKey, Entry> holds_;
  std::map<GangKey, Backoff> backoff_;
};

}  // namespace gangsched::scheduler
