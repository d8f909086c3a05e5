// Gang Events and nudges (DESIGN.md §3.3, §3.7): tells users why a gang waits and where it was
// placed, and requeues parked members in kube-scheduler when their gang can be planned. Owns one
// thread; reads the engine through the service seam (api/service_seam.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/service_seam.h"
#include "kube/kube_client.h"
#include "kube/state_source.h"

namespace gangsched::kube {

// Tells users and kube-scheduler about waiting gangs (DESIGN.md §3.3, §3.7): a Warning Event
// GangWaiting with the gang-level reason, a Normal Event GangPlaced with the placement once bound,
// and a nudge (merge patch of gangsched.io/nudge) on the pending members of a waiting gang when
// capacity was freed, so parked pods are requeued before kube-scheduler's 5-minute flush. Each is
// rate-limited per gang.
class GangNotifier {
 public:
  struct Options {
    std::chrono::milliseconds period{1'000};           // how often gangs are looked at
    std::chrono::milliseconds event_interval{30'000};  // per gang and reason
    std::chrono::milliseconds nudge_interval{10'000};  // per gang
    // A gang that has waited less than this gets no Warning Event: while a job's pods are still
    // being created it waits "for N more pods", which is no news to anyone.
    std::chrono::milliseconds waiting_grace{10'000};
    std::string instance;  // reportingInstance (host name)
  };
  using MembersFn = std::function<std::vector<MemberRef>(const scheduler::GangKey&)>;
  GangNotifier(KubeClient& client, api::EngineHost& service, MembersFn members, Options options);
  ~GangNotifier();
  GangNotifier(const GangNotifier&) = delete;
  GangNotifier& operator=(const GangNotifier&) = delete;
  void Start();
  void Stop();
  // One pass now (tests): looks at every gang, posts what is due. `now` is wall-clock time.
  void RunOnce(std::chrono::system_clock::time_point now);

  int events_posted() const { return events_; }
  int nudges_posted() const { return nudges_; }

 private:
  struct GangView;
  void Loop();
  void PostEvent(const std::string& ns, const std::string& pod, const std::string& pod_uid,
                 const std::string& reason, bool warning, const std::string& note,
                 std::chrono::system_clock::time_point now);
  // Patches gangsched.io/nudge on each pod so kube-scheduler requeues it.
  void Nudge(const std::string& gang, const std::vector<MemberRef>& pods, const char* why,
             std::chrono::system_clock::time_point now);

  KubeClient& client_;
  api::EngineHost& service_;
  MembersFn members_;
  Options options_;
  std::map<std::string, std::chrono::system_clock::time_point> last_event_;     // gang|reason
  std::map<std::string, std::chrono::system_clock::time_point> last_nudge_;     // gang
  std::map<std::string, std::chrono::system_clock::time_point> waiting_since_;  // gang
  std::set<std::string> placed_;       // gangs whose GangPlaced was posted
  std::set<std::string> seen_quorum_;  // gangs that had a quorum of pods at the last look
  // Waiting gangs owed a nudge (capacity freed, quorum reached) until one reaches a parked pod.
  std::map<std::string, std::string> owed_nudge_;
  std::int64_t last_free_gpus_ = -1;
  std::atomic<int> events_{0};
  std::atomic<int> nudges_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// MicroTime "2006-01-02T15:04:05.000000Z" of a wall-clock time.
std::string MicroTime(std::chrono::system_clock::time_point t);

}  // namespace gangsched::kube
