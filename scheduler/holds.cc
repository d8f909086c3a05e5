#include "scheduler/holds.h"

#include <algorithm>

namespace gangsched::scheduler {

Millis HoldTable::Clamp(Millis now, Millis ttl) const {
  const Millis limit = std::max<Millis>(1, policy_.bind_timeout - policy_.bind_margin);
  return now + std::clamp<Millis>(ttl, 1, limit);
}

Millis HoldTable::Start(const GangKey& gang, Millis now, std::optional<Millis> ttl) {
  Entry e;
  e.ttl = ttl.value_or(policy_.ttl);
  e.deadline = Clamp(now, e.ttl);
  e.started = now;
  holds_[gang] = e;
  return e.deadline;
}

std::optional<Millis> HoldTable::Progress(const GangKey& gang, Millis now) {
  auto it = holds_.find(gang);
  if (it == holds_.end()) return std::nullopt;
  it->second.deadline = std::max(it->second.deadline, Clamp(now, it->second.ttl));
  return it->second.deadline;
}

void HoldTable::Finish(const GangKey& gang) {
  holds_.erase(gang);
  backoff_.erase(gang);
}

std::vector<GangKey> HoldTable::Expire(Millis now) {
  std::vector<GangKey> expired;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->second.deadline <= now) {
      expired.push_back(it->first);
      Backoff& b = backoff_[it->first];
      b.delay = b.delay == 0 ? policy_.backoff_initial : std::min(policy_.backoff_max, b.delay * 2);
      b.until = now + b.delay;
      it = holds_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

std::optional<Millis> HoldTable::Deadline(const GangKey& gang) const {
  auto it = holds_.find(gang);
  if (it == holds_.end()) return std::nullopt;
  return it->second.deadline;
}

std::optional<Millis> HoldTable::Started(const GangKey& gang) const {
  auto it = holds_.find(gang);
  if (it == holds_.end()) return std::nullopt;
  return it->second.started;
}

std::optional<Millis> HoldTable::BackoffUntil(const GangKey& gang, Millis now) const {
  auto it = backoff_.find(gang);
  if (it == backoff_.end() || it->second.until <= now) return std::nullopt;
  return it->second.until;
}

std::optional<Millis> HoldTable::NextDeadline() const {
  std::optional<Millis> next;
  for (const auto& [gang, e] : holds_) {
    if (!next || e.deadline < *next) next = e.deadline;
  }
  return next;
}

}  // namespace gangsched::scheduler
