// The engine's binding side (GangScheduler's Bind, BindResult and Tick): members reaching the bind
// barrier, the Bindings' outcomes, a gang completed (its hold becomes bound usage) and deadlines
// expiring. Split from gang_scheduler.cc by verb; the same class, the same rules (DESIGN.md §3.4,
// §3.6).
#include <algorithm>
#include <utility>

#include "scheduler/gang_preemption.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::scheduler {

BarrierDecision GangScheduler::Bind(const std::string& ns, const std::string& name,
                                    const std::string& uid, const std::string& node, Millis now) {
  GangRecord* gang = gangs_.OfPod(uid);
  if (gang == nullptr) {
    BarrierDecision d;
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = "pod " + ns + "/" + name + " (uid " + uid +
               ") was not filtered by gangsched; kube-scheduler will retry it";
    return d;
  }
  if (std::string why = UidReused(uid, ns, name); !why.empty()) {
    BarrierDecision d;
    d.action = BarrierAction::kReject;
    d.pods = {{uid, node, {}, {}}};
    d.reason = std::move(why);
    return d;
  }
  GangRecord& g = *gang;
  Seen(g, uid, now, /*listed=*/false);
  const GangMember member = g.members[uid];
  TakeSlotOn(g, member, node);
  SlotFor(g, member);
  if (auto deadline = holds_.Progress(g.key, now)) barrier_.Extend(g.key, *deadline);
  // A member of a gang already released (partly bound: a retry or a replacement) goes straight
  // through; what is bound of its gang stays bound whatever the last look would find.
  const bool released = barrier_.Phase(g.key) == BarrierPhase::kReleased;
  BarrierDecision d = barrier_.Arrive(g.key, uid, member.role, node, now, member.requests.gpus);
  if (d.action == BarrierAction::kWait && options_.requeue_by_bind_error && !g.requeued) {
    // Members rejected before the plan sit in kube-scheduler's unschedulable queue until a cluster
    // event, and standalone gangsched cannot nudge them (DESIGN.md §3.7). A failed bind is such an
    // event (kube-scheduler moves every parked pod when a binding cycle fails): this member's
    // bind fails once per plan, keeping its slot, and is retried with the others.
    const auto parked = std::count_if(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return !kv.second.bound && kv.second.rejected_at && *kv.second.rejected_at <= g.planned_at;
    });
    if (parked > 0) {
      g.requeued = true;
      if (std::optional<BarrierDecision> out = barrier_.Withdraw(g.key, uid)) {
        out->reason = "gang " + g.key.ToString() + ": " + std::to_string(parked) +
                      " members rejected before the gang was planned wait in kube-scheduler's "
                      "queue; this bind fails once so that kube-scheduler retries them with it";
        NameOrders(*out);
        return *out;
      }
    }
  }
  if (d.action == BarrierAction::kBind && !released) {
    // Victim plans hold capacity their victims still use (DESIGN.md §3.9): not a pod that took
    // room from this gang.
    auto victim_plan = [this](const GangKey& key) {
      const GangRecord* other = gangs_.Find(key);
      return other != nullptr && other->preemption.has_value();
    };
    if (const std::string why = RecheckTargets(state_, d, victim_plan); !why.empty()) {
      // The last look before any Binding is posted (DESIGN.md §3.6) found a target changed since
      // the plan: nothing of the gang is bound; every held bind is answered and it plans again.
      d.action = BarrierAction::kReject;
      d.reason = "gang " + g.key.ToString() + ": " + why + "; nothing was bound, re-planning";
      ReleaseGang(g, d.reason);
      holds_.Finish(g.key);
      NameOrders(d);
      return d;
    }
    g.phase = GangPhase::kBinding;
  }
  NameOrders(d);
  return d;
}

void GangScheduler::BindResult(const std::string& uid, bool ok, const std::string& error,
                               Millis now) {
  (void)now;
  GangRecord* gang = gangs_.OfPod(uid);
  if (gang == nullptr) return;
  GangRecord& g = *gang;
  barrier_.BindResult(g.key, uid, ok);
  auto member = g.members.find(uid);
  if (member == g.members.end()) return;
  if (!ok) {
    g.reason = "binding pod " + member->second.ns + "/" + member->second.name + " failed (" +
               error + "); its slot stays held and is retried first";
    return;
  }
  const Plan* plan = state_.HoldOf(g.key);
  if (plan) {
    if (auto slot = g.slot_of.find(uid); slot != g.slot_of.end()) {
      member->second.node = plan->pods[slot->second].node;
    }
  }
  member->second.bound = true;
  if (barrier_.Complete(g.key)) CompleteGang(g);
}

void GangScheduler::AccountBound(const GangRecord& g, const Plan& plan, bool every_slot) {
  for (const auto& [uid, slot] : g.slot_of) {
    const PodPlacement& p = plan.pods[slot];
    const auto m = g.members.find(uid);
    if (m == g.members.end() || (!every_slot && !m->second.bound)) continue;
    const GangMember& member = m->second;
    Pod pod;
    pod.uid = uid;
    pod.namespace_name = member.ns;
    pod.name = member.name;
    pod.priority = SpecOf(g).priority;
    pod.node_name = member.bound && !member.node.empty() ? member.node : p.node;
    pod.phase = PodPhase::kRunning;
    // Its own request, not its slot's: a role is planned at its largest member (issue 11).
    pod.requests = member.requests.pods > 0 ? member.requests : p.requests;
    const auto gpus = static_cast<std::size_t>(std::max<std::int64_t>(pod.requests.gpus, 0));
    // Fewer ids than GPUs (a larger request than planned): the state takes the lowest free ids.
    if (p.gpu_ids.size() >= gpus) pod.gpu_ids.assign(p.gpu_ids.begin(), p.gpu_ids.begin() + gpus);
    state_.AddPod(pod);
  }
}

void GangScheduler::CompleteGang(GangRecord& g) {
  const Plan* held = state_.HoldOf(g.key);
  if (!held) return;
  const Plan plan = *held;
  state_.Release(g.key);
  AccountBound(g, plan, true);
  holds_.Finish(g.key);
  barrier_.Close(g.key, "");
  if (g.placed && g.phase == GangPhase::kBound) {
    g.placed->pods.insert(g.placed->pods.end(), plan.pods.begin(), plan.pods.end());
  } else {
    g.placed = plan;
  }
  g.phase = GangPhase::kBound;
  g.reason.clear();
  g.slot_of.clear();
  if (g.PodSource() == GangSource::kSinglePod) Forget(g.key);  // nothing left to track
}

std::vector<BarrierDecision> GangScheduler::Tick(Millis now) {
  last_now_ = std::max(last_now_, now);
  std::vector<BarrierDecision> out = std::move(orphaned_);
  orphaned_.clear();
  for (const GangKey& key : holds_.Expire(now)) {
    GangRecord* gang = gangs_.Find(key);
    if (gang == nullptr) {
      state_.Release(key);
      continue;
    }
    GangRecord& g = *gang;
    if (g.preemption) {
      const int left = VictimsLeft(state_, *g.preemption);
      g.preemption.reset();
      state_.Release(key);
      g.slot_of.clear();
      g.phase = GangPhase::kWaiting;
      g.reason = "gang " + key.ToString() + ": " + std::to_string(left) +
                 " lower-priority pods preempted for it had not left when its reservation " +
                 "expired; capacity released";
      continue;
    }
    if (barrier_.Phase(key) == BarrierPhase::kReleased) {
      // Partly bound: never give its capacity away; keep holding while the rest is retried.
      holds_.Start(key, now);
      continue;
    }
    const int arrived = barrier_.Arrived(key);
    const int slots = barrier_.Slots(key);
    const std::string reason =
        "gang " + key.ToString() + ": only " + std::to_string(arrived) + " of " +
        std::to_string(slots) +
        " members reached bind before the hold expired; nothing was bound, capacity released";
    state_.Release(key);
    ++counters_.hold_expiries;
    if (auto d = barrier_.Close(key, reason)) out.push_back(std::move(*d));
    g.slot_of.clear();
    g.phase = GangPhase::kWaiting;
    g.reason = reason;
  }
  for (auto& d : barrier_.Expire(now)) {
    ++counters_.hold_expiries;
    out.push_back(std::move(d));
  }
  if (resume_due_) {
    resume_due_ = false;
    ResumePartlyBound(now);
  }
  EndSpanWaits(now);
  for (auto& d : out) NameOrders(d);
  RefreshDrains();  // released capacity in a drained domain is kept there
  ForgetIdle(now);
  return out;
}

void GangScheduler::NameOrders(BarrierDecision& d) const {
  const GangRecord* g = gangs_.Find(d.gang);
  if (g == nullptr) return;
  for (BindOrder& o : d.pods) {
    if (auto m = g->members.find(o.pod_uid); m != g->members.end()) {
      o.pod_namespace = m->second.ns;
      o.pod_name = m->second.name;
    }
  }
}

std::optional<Millis> GangScheduler::NextDeadline() const {
  std::optional<Millis> next = holds_.NextDeadline();
  // Answers owed to held binds are due at once: at the time of the call that made them.
  if (!orphaned_.empty() && (!next || last_now_ < *next)) next = last_now_;
  // So is planning a partly bound gang's missing members once room may have freed: the calls
  // that free it carry no time.
  if (resume_due_ && !partly_bound_.empty() && (!next || last_now_ < *next)) next = last_now_;
  // A span wait's end: the gang is planned then with the best span there is.
  for (const GangKey& key : span_waiting_) {
    const GangRecord* g = gangs_.Find(key);
    if (g != nullptr && g->span_wait_until && (!next || *g->span_wait_until < *next)) {
      next = *g->span_wait_until;
    }
  }
  // The next look for idle gangs to forget, while there are gangs.
  if (options_.forget_after > 0 && !gangs_.all().empty() && (!next || next_sweep_ < *next)) {
    next = next_sweep_;
  }
  return next;
}

void GangScheduler::EndSpanWaits(Millis now) {
  for (const GangKey& key : std::set<GangKey>(span_waiting_)) {
    GangRecord* g = gangs_.Find(key);
    if (g != nullptr && g->span_wait_until && now < *g->span_wait_until) continue;
    span_waiting_.erase(key);
    // Its members are parked: planning it now is what moves them (a planned gang is nudged).
    if (g == nullptr || state_.HoldOf(key) || g->phase != GangPhase::kWaiting ||
        PodsMissing(*g) > 0 || holds_.BackoffUntil(key, now)) {
      continue;
    }
    PlanAndHold(*g, options_.planner, now);  // nothing when nothing fits: it waits as before
  }
}

}  // namespace gangsched::scheduler
