#include "scheduler/bind_barrier.h"

#include <algorithm>

namespace gangsched::scheduler {

void BindBarrier::Open(const Plan& plan, Millis deadline) {
  Gang fresh;
  fresh.deadline = deadline;
  for (const auto& p : plan.pods)
    fresh.slots.push_back(Slot{p.role_name, p.requests.gpus, p.node, SlotState::kEmpty, {}});
  auto it = gangs_.find(plan.gang);
  if (it != gangs_.end()) {
    // Carry over members that still match a slot of their role on their node.
    for (const Slot& old : it->second.slots) {
      if (old.state == SlotState::kEmpty) continue;
      for (Slot& s : fresh.slots) {
        if (s.state == SlotState::kEmpty && s.role == old.role && s.gpus == old.gpus &&
            s.node == old.node) {
          s.state = old.state;
          s.uid = old.uid;
          break;
        }
      }
    }
    fresh.phase = it->second.phase;
  }
  gangs_[plan.gang] = std::move(fresh);
}

BarrierDecision BindBarrier::Arrive(const GangKey& key, const std::string& uid,
                                    const std::string& role, const std::string& node, Millis now,
                                    std::int64_t gpus) {
  BarrierDecision d;
  d.gang = key;
  auto it = gangs_.find(key);
  if (it == gangs_.end()) {
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = "gang " + key.ToString() + " has no placement held; it will be planned again";
    return d;
  }
  Gang& gang = it->second;
  if (now >= gang.deadline && gang.phase == BarrierPhase::kCollecting) {
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = "gang " + key.ToString() + ": barrier deadline passed";
    return d;
  }
  // Same pod again (kube-scheduler retried): keep its slot.
  Slot* slot = nullptr;
  for (Slot& s : gang.slots) {
    if (s.uid == uid && s.state != SlotState::kEmpty) slot = &s;
  }
  if (slot && slot->node != node) {
    slot->state = SlotState::kEmpty;
    slot->uid.clear();
    slot = nullptr;
  }
  auto fits = [&](const Slot& s) { return s.role == role && (gpus < 0 || s.gpus == gpus); };
  if (!slot) {
    for (Slot& s : gang.slots) {
      if (s.state == SlotState::kEmpty && fits(s) && s.node == node) {
        slot = &s;
        break;
      }
    }
  }
  if (!slot) {
    std::string planned;
    for (const Slot& s : gang.slots) {
      if (fits(s) && s.state == SlotState::kEmpty) planned = s.node;
    }
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = "gang " + key.ToString() + ": no free " + role + " slot on node " + node +
               (planned.empty() ? std::string("; every slot of that role is taken")
                                : "; it is planned on node " + planned);
    return d;
  }
  if (slot->state == SlotState::kBound) {
    d.action = BarrierAction::kBind;  // already bound: answer success again
    d.pods = {{uid, node, {}, {}}};
    return d;
  }
  slot->uid = uid;
  if (gang.phase == BarrierPhase::kReleased) {
    // The gang is already binding: a retry or a replacement goes straight through.
    slot->state = SlotState::kBinding;
    d.action = BarrierAction::kBind;
    d.pods = {{uid, node, {}, {}}};
    return d;
  }
  slot->state = SlotState::kWaiting;
  const bool all = std::all_of(gang.slots.begin(), gang.slots.end(),
                               [](const Slot& s) { return s.state == SlotState::kWaiting; });
  if (!all) {
    d.action = BarrierAction::kWait;
    return d;
  }
  gang.phase = BarrierPhase::kReleased;
  d.action = BarrierAction::kBind;
  for (Slot& s : gang.slots) {
    s.state = SlotState::kBinding;
    d.pods.push_back({s.uid, s.node, {}, {}});
  }
  return d;
}

BarrierDecision BindBarrier::RejectWaiting(const GangKey& key, Gang& gang,
                                           const std::string& reason) {
  BarrierDecision d;
  d.gang = key;
  d.action = BarrierAction::kReject;
  d.reason = reason;
  for (Slot& s : gang.slots) {
    if (s.state == SlotState::kWaiting) {
      d.pods.push_back({s.uid, s.node, {}, {}});
      s.state = SlotState::kEmpty;
      s.uid.clear();
    }
  }
  return d;
}

std::vector<BarrierDecision> BindBarrier::Expire(Millis now) {
  std::vector<BarrierDecision> out;
  for (auto it = gangs_.begin(); it != gangs_.end();) {
    Gang& gang = it->second;
    if (gang.phase == BarrierPhase::kCollecting && gang.deadline <= now) {
      int arrived = 0;
      for (const Slot& s : gang.slots) arrived += s.state == SlotState::kWaiting ? 1 : 0;
      out.push_back(RejectWaiting(
          it->first, gang,
          "gang " + it->first.ToString() + ": only " + std::to_string(arrived) + " of " +
              std::to_string(gang.slots.size()) +
              " members reached bind before the deadline; nothing was bound, capacity released"));
      it = gangs_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void BindBarrier::Extend(const GangKey& key, Millis deadline) {
  auto it = gangs_.find(key);
  if (it != gangs_.end()) it->second.deadline = std::max(it->second.deadline, deadline);
}

void BindBarrier::BindResult(const GangKey& key, const std::string& uid, bool ok) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return;
  for (Slot& s : it->second.slots) {
    if (s.uid == uid && s.state == SlotState::kBinding) {
      if (ok) {
        s.state = SlotState::kBound;
      } else {
        s.state = SlotState::kEmpty;
        s.uid.clear();
      }
    }
  }
}

std::optional<BarrierDecision> BindBarrier::Withdraw(const GangKey& key, const std::string& uid) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  for (Slot& s : it->second.slots) {
    // A bound member that was deleted frees its slot too: its capacity is still in the gang's
    // hold, and a replacement of its role takes the slot over (DESIGN.md §3.6), so the gang is
    // completed with a pod in every slot, not declared complete with the replacement unbound.
    if (s.uid == uid) {
      const bool waited = s.state == SlotState::kWaiting;
      const std::string node = s.node;
      s.state = SlotState::kEmpty;
      s.uid.clear();
      if (waited) {
        BarrierDecision d;
        d.gang = key;
        d.action = BarrierAction::kReject;
        d.pods = {{uid, node, {}, {}}};
        d.reason = "pod was deleted while its gang waited";
        return d;
      }
    }
  }
  return std::nullopt;
}

std::optional<BarrierDecision> BindBarrier::Close(const GangKey& key, const std::string& reason) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  BarrierDecision d = RejectWaiting(key, it->second, reason);
  gangs_.erase(it);
  if (d.pods.empty()) return std::nullopt;
  return d;
}

std::optional<BarrierPhase> BindBarrier::Phase(const GangKey& key) const {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  return it->second.phase;
}

int BindBarrier::Arrived(const GangKey& key) const {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return 0;
  return static_cast<int>(
      std::count_if(it->second.slots.begin(), it->second.slots.end(),
                    [](const Slot& s) { return s.state != SlotState::kEmpty; }));
}

std::vector<std::string> BindBarrier::ArrivedUids(const GangKey& key) const {
  std::vector<std::string> out;
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return out;
  for (const Slot& s : it->second.slots) {
    if (s.state != SlotState::kEmpty) out.push_back(s.uid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int BindBarrier::Bound(const GangKey& key) const {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return 0;
  return static_cast<int>(
      std::count_if(it->second.slots.begin(), it->second.slots.end(),
                    [](const Slot& s) { return s.state == SlotState::kBound; }));
}

int BindBarrier::Slots(const GangKey& key) const {
  auto it = gangs_.find(key);
  return it == gangs_.end() ? 0 : static_cast<int>(it->second.slots.size());
}

bool BindBarrier::Complete(const GangKey& key) const {
  const int slots = Slots(key);
  return slots > 0 && Bound(key) == slots;
}

std::optional<Millis> BindBarrier::NextDeadline() const {
  std::optional<Millis> next;
  for (const auto& [key, gang] : gangs_) {
    if (gang.phase != BarrierPhase::kCollecting) continue;
    if (!next || gang.deadline < *next) next = gang.deadline;
  }
  return next;
}

std::string RecheckTargets(const ClusterState& state, const BarrierDecision& d,
                           const std::function<bool(const GangKey&)>& reservation) {
  std::vector<bool> checked(state.node_count(), false);
  for (const BindOrder& o : d.pods) {
    const auto n = state.FindNode(o.node);
    if (!n) return "node " + o.node + " left the cluster";
    if (checked[*n]) continue;
    checked[*n] = true;
    if (state.node(*n).unschedulable) return "node " + o.node + " was cordoned";
    auto over = [](const Resources& r) {
      return r.gpus < 0 || r.milli_cpu < 0 || r.memory_bytes < 0 || r.pods < 0;
    };
    Resources free = state.Free(*n);
    // Looked at only for a node that seems over-full (rare): the holds of reservations there.
    for (auto h = state.holds().begin(); over(free) && reservation && h != state.holds().end();
         ++h) {
      if (!reservation(h->first)) continue;
      for (const PodPlacement& p : h->second.pods) {
        if (p.node != o.node) continue;
        free.gpus += p.requests.gpus;
        free.milli_cpu += p.requests.milli_cpu;
        free.memory_bytes += p.requests.memory_bytes;
        free.pods += std::max<std::int64_t>(p.requests.pods, 1);
      }
    }
    if (over(free)) {
      return "node " + o.node + " no longer has room for its members (a pod gangsched did not " +
             "place took it)";
    }
  }
  return {};
}

}  // namespace gangsched::scheduler
