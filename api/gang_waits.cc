#include "api/gang_waits.h"

#include <algorithm>
#include <array>

namespace gangsched::api {

using scheduler::GangCounts;
using scheduler::GangPhase;
using scheduler::Millis;

std::string KindLabel(std::string_view kind) {
  const std::string_view first = kind.substr(0, kind.find(' '));
  static constexpr std::array<std::string_view, 4> kJobKinds = {"TFJob", "PyTorchJob", "MPIJob",
                                                                "PodGroup"};
  if (std::find(kJobKinds.begin(), kJobKinds.end(), first) != kJobKinds.end()) {
    return std::string(first);
  }
  // No job object seen: the pods name a PodGroup (scheduler-plugins coscheduling, Volcano, the
  // native Workload API) or carry gangsched's own annotations, or are alone.
  if (first == "coscheduling" || first == "volcano" || first == "native") return "PodGroup";
  if (first == "gangsched" || first == "single-pod") return "plain";
  return "other";
}

std::string GangWaits::NamespaceLabel(const std::string& ns) {
  if (namespaces_.count(ns) > 0) return ns;
  if (namespaces_.size() >= max_namespaces_) return kOtherNamespace;
  namespaces_.insert(ns);
  return ns;
}

namespace {
bool Waiting(const GangCounts& c) {
  return c.size_known && c.members_seen >= c.quorum && c.phase != GangPhase::kBound &&
         c.members_bound < c.quorum;
}
}  // namespace

void GangWaits::Seen(const scheduler::GangScheduler& engine, const scheduler::GangKey& key,
                     Millis now) {
  const std::optional<GangCounts> c = engine.CountsOf(key);
  auto it = started_.find(key);
  if (!c || !Waiting(*c)) {
    // Fewer than its quorum of pods known again (members deleted, or the gang deleted and created
    // anew under its name): its clock starts over once the quorum is back.
    if (it != started_.end()) started_.erase(it);
    return;
  }
  if (it != started_.end()) return;
  started_.emplace(key, Started{now, NamespaceLabel(key.namespace_name), KindLabel(c->kind)});
  if (started_.size() > sweep_above_) {
    Sweep(engine, now);
    sweep_above_ = std::max<std::size_t>(1024, 2 * started_.size());
  }
}

std::optional<GangWaits::Wait> GangWaits::Bound(const scheduler::GangScheduler& engine,
                                                const scheduler::GangKey& key, Millis now) {
  auto it = started_.find(key);
  if (it == started_.end()) return std::nullopt;
  const std::optional<GangCounts> c = engine.CountsOf(key);
  if (c && c->phase != GangPhase::kBound) return std::nullopt;
  Wait w{it->second.namespace_label, it->second.kind_label, now - it->second.at};
  started_.erase(it);
  if (!c) return std::nullopt;  // forgotten meanwhile: not a wait that ended in a placement
  return w;
}

Millis GangWaits::Sweep(const scheduler::GangScheduler& engine, Millis now) {
  Millis longest = 0;
  for (auto it = started_.begin(); it != started_.end();) {
    const std::optional<GangCounts> c = engine.CountsOf(it->first);
    if (!c || c->phase == GangPhase::kBound) {
      it = started_.erase(it);
      continue;
    }
    longest = std::max(longest, now - it->second.at);
    ++it;
  }
  return longest;
}

}  // namespace gangsched::api
