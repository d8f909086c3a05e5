#include "kube/notifier.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <utility>

#include "k8s/json.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::kube {

using k8s::AppendJsonString;
using scheduler::BarrierDecision;
using scheduler::GangScheduler;
using scheduler::Millis;

namespace {

constexpr const char* kNudgeAnnotation = "gangsched.io/nudge";
constexpr const char* kReportingController = "gangsched.io/gangsched";

}  // namespace

// ---- GangNotifier -------------------------------------------------------------------------------

std::string MicroTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros % 1'000'000));
  return out;
}

struct GangNotifier::GangView {
  scheduler::GangKey key;
  scheduler::GangPhase phase = scheduler::GangPhase::kWaiting;
  std::string reason;
  int quorum = 0;
  int members_seen = 0;
  std::vector<std::string> arrived_uids;  // members in the barrier (or bound)
  bool size_known = true;
  std::string summary;
};

GangNotifier::GangNotifier(KubeClient& client, api::EngineHost& service, MembersFn members,
                           Options options)
    : client_(client),
      service_(service),
      members_(std::move(members)),
      options_(std::move(options)) {
  if (options_.instance.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    options_.instance = host[0] != '\0' ? host : "gangsched";
  }
}

GangNotifier::~GangNotifier() { Stop(); }

void GangNotifier::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void GangNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GangNotifier::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.period, [this] { return stop_; })) {
    lock.unlock();
    try {
      RunOnce(std::chrono::system_clock::now());
    } catch (const std::exception& e) {
      spdlog::error("verb=notify decision=failed error=\"{}\"", e.what());
    }
    lock.lock();
  }
}

void GangNotifier::RunOnce(std::chrono::system_clock::time_point now) {
  std::vector<GangView> gangs;
  std::int64_t free_gpus = 0;
  service_.UpdateEngine([&](GangScheduler& engine, Millis t) {
    for (const scheduler::GangStatus& g : engine.Gangs(t)) {
      GangView v;
      v.key = g.key;
      v.phase = g.phase;
      v.reason = g.reason;
      v.quorum = g.quorum;
      v.members_seen = g.members_seen;
      v.arrived_uids = g.arrived_uids;
      v.size_known = g.size_known;
      if (g.plan) {
        v.summary = scheduler::DescribePlan(*g.plan, engine.state().topology().level_names());
      }
      gangs.push_back(std::move(v));
    }
    free_gpus = engine.state().FreeGpus();
    return std::vector<BarrierDecision>{};
  });
  const bool first = last_free_gpus_ < 0;
  // Capacity was freed since the last look: a waiting gang may now fit (DESIGN.md §3.7). The
  // engine decides when kube-scheduler retries; the nudge only requeues the parked members.
  const bool freed = !first && free_gpus > last_free_gpus_;
  last_free_gpus_ = free_gpus;
  auto due = [now](std::map<std::string, std::chrono::system_clock::time_point>& last,
                   const std::string& key, std::chrono::milliseconds interval) {
    auto it = last.find(key);
    if (it != last.end() && now - it->second < interval) return false;
    last[key] = now;
    return true;
  };
  for (const GangView& g : gangs) {
    const std::string gang = g.key.ToString();
    if (g.phase != scheduler::GangPhase::kWaiting) owed_nudge_.erase(gang);  // it was planned
    if (g.phase == scheduler::GangPhase::kBound) {
      // Gangs found bound at start-up were placed before this process: no Event for them (the
      // engine has no plan of theirs); nor for gangs of one pod (kube-scheduler's own Scheduled
      // event says it all). A gang this process placed has its plan, even when it was bound
      // before the notifier's first look (a job created right after start-up).
      if (placed_.insert(gang).second && !g.summary.empty() && g.quorum > 1) {
        const std::vector<MemberRef> members = members_(g.key);
        if (!members.empty()) {
          const std::string note =
              "gang " + gang + " placed whole: " + (g.summary.empty() ? "bound" : g.summary);
          PostEvent(members.front().ns, members.front().name, members.front().uid, "GangPlaced",
                    false, note, now);
        }
      }
      continue;
    }
    placed_.erase(gang);  // waits again (a member was replaced): placed again later
    const bool had_quorum = seen_quorum_.count(gang) > 0;
    const bool has_quorum = g.size_known && g.members_seen >= g.quorum;
    if (has_quorum) {
      seen_quorum_.insert(gang);
    } else {
      seen_quorum_.erase(gang);
      owed_nudge_.erase(gang);
    }
    std::vector<MemberRef> pending = members_(g.key);
    pending.erase(
        std::remove_if(pending.begin(), pending.end(), [](const MemberRef& m) { return m.bound; }),
        pending.end());
    if (pending.empty()) continue;
    if (g.phase == scheduler::GangPhase::kPlanned) {
      // The gang holds its capacity; members that were rejected before it was planned (too few
      // pods, no room) sit in kube-scheduler's unschedulable queue. Requeue those that have not
      // reached bind so the barrier fills now rather than at the 5-minute flush.
      pending.erase(std::remove_if(pending.begin(), pending.end(),
                                   [&g](const MemberRef& m) {
                                     return !m.parked ||
                                            std::binary_search(g.arrived_uids.begin(),
                                                               g.arrived_uids.end(), m.uid);
                                   }),
                    pending.end());
      if (!pending.empty() && due(last_nudge_, gang, options_.nudge_interval)) {
        Nudge(gang, pending, "gang planned", now);
      }
      continue;
    }
    if (g.phase != scheduler::GangPhase::kWaiting || g.reason.empty()) {
      waiting_since_.erase(gang);
      continue;
    }
    const auto since = waiting_since_.try_emplace(gang, now).first->second;
    if (now - since >= options_.waiting_grace &&
        due(last_event_, gang + "|GangWaiting", options_.event_interval)) {
      PostEvent(pending.front().ns, pending.front().name, pending.front().uid, "GangWaiting", true,
                "gang " + gang + " waits: " + g.reason, now);
    }
    // Capacity was freed, or the gang's last pods appeared after its members were rejected for
    // want of pods: the gang may be plannable now.
    // Only pods kube-scheduler has parked (PodScheduled=False) need the nudge; the others are
    // still in its active queue and an update would only churn it.
    // The nudge is owed until it reaches a parked pod: kube-scheduler marks a rejected pod
    // PodScheduled=False a moment after rejecting it, possibly after this look.
    const bool quorum_reached = has_quorum && !had_quorum && !first;
    if (has_quorum && (freed || quorum_reached)) {
      owed_nudge_[gang] = freed ? "capacity freed" : "quorum of pods reached";
    }
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [](const MemberRef& m) { return !m.parked; }),
                  pending.end());
    auto owed = owed_nudge_.find(gang);
    if (owed != owed_nudge_.end() && !pending.empty() &&
        due(last_nudge_, gang, options_.nudge_interval)) {
      Nudge(gang, pending, owed->second.c_str(), now);
      owed_nudge_.erase(owed);
    }
  }
  // Forget gangs that are gone: a rate limit or a "placed" mark never outlives its gang, so a gang
  // deleted and created again under the same name is told about at once (issue 11), and the maps
  // do not grow with every gang ever seen.
  std::set<std::string> known;
  for (const GangView& g : gangs) known.insert(g.key.ToString());
  const auto gone = [&known](const std::string& gang) { return known.count(gang) == 0; };
  std::erase_if(seen_quorum_, gone);
  std::erase_if(placed_, gone);
  std::erase_if(last_nudge_, [&gone](const auto& kv) { return gone(kv.first); });
  std::erase_if(waiting_since_, [&gone](const auto& kv) { return gone(kv.first); });
  std::erase_if(last_event_, [&gone](const auto& kv) {
    return gone(kv.first.substr(0, kv.first.rfind('|')));  // "gang|reason"
  });
  for (auto it = owed_nudge_.begin(); it != owed_nudge_.end();) {
    it = seen_quorum_.count(it->first) > 0 ? std::next(it) : owed_nudge_.erase(it);
  }
}

void GangNotifier::Nudge(const std::string& gang, const std::vector<MemberRef>& pods,
                         const char* why, std::chrono::system_clock::time_point now) {
  std::string patch = R"({"metadata":{"annotations":{")";
  patch += kNudgeAnnotation;
  patch += R"(":)";
  AppendJsonString(patch, MicroTime(now));
  patch += "}}}";
  for (const MemberRef& m : pods) {
    const KubeResponse r =
        client_.MergePatch("/api/v1/namespaces/" + m.ns + "/pods/" + m.name, patch);
    if (r.Ok()) {
      ++nudges_;
    } else {
      spdlog::warn("verb=nudge pod={}/{} gang={} decision=failed error=\"{}\"", m.ns, m.name, gang,
                   r.Describe());
    }
  }
  spdlog::info("verb=nudge gang={} pods={} reason=\"{}\"", gang, pods.size(), why);
}

void GangNotifier::PostEvent(const std::string& ns, const std::string& pod,
                             const std::string& pod_uid, const std::string& reason, bool warning,
                             const std::string& note, std::chrono::system_clock::time_point now) {
  // events.k8s.io/v1 (reference/extender-protocol.md §4.5): eventTime, reportingController,
  // reportingInstance, action, reason, type required; note <= 1024 bytes; deprecated fields unset.
  std::string body = R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{)";
  body += R"("generateName":)";
  AppendJsonString(body, pod + ".gangsched-");
  body += R"(,"namespace":)";
  AppendJsonString(body, ns);
  body += R"(},"eventTime":)";
  AppendJsonString(body, MicroTime(now));
  body += R"(,"reportingController":)";
  AppendJsonString(body, kReportingController);
  body += R"(,"reportingInstance":)";
  AppendJsonString(body, options_.instance.substr(0, 128));
  body += R"(,"action":"Scheduling","reason":)";
  AppendJsonString(body, reason);
  body += R"(,"type":)";
  AppendJsonString(body, warning ? "Warning" : "Normal");
  body += R"(,"note":)";
  std::string trimmed = note.substr(0, 1024);
  while (!trimmed.empty() && (static_cast<unsigned char>(trimmed.back()) & 0xC0) == 0x80 &&
         trimmed.size() == 1024) {
    trimmed.pop_back();  // do not cut a UTF-8 sequence in half
  }
  AppendJsonString(body, trimmed);
  body += R"(,"regarding":{"apiVersion":"v1","kind":"Pod","namespace":)";
  AppendJsonString(body, ns);
  body += R"(,"name":)";
  AppendJsonString(body, pod);
  body += R"(,"uid":)";
  AppendJsonString(body, pod_uid);
  body += "}}";
  const KubeResponse r = client_.Post("/apis/events.k8s.io/v1/namespaces/" + ns + "/events", body);
  if (!r.Ok()) {
    spdlog::warn("verb=event pod={}/{} reason={} decision=failed error=\"{}\"", ns, pod, reason,
                 r.Describe());
    return;
  }
  ++events_;
}

}  // namespace gangsched::kube
