// The extender verbs, independent of the transport (DESIGN.md §3): decodes kube-scheduler's bodies
// (api/wire.h), calls the engine under one mutex with `now` from a steady clock, holds binds in the
// barrier until their gang is released, runs the hold timer, and serves the views and metrics.
// Owns threads, locks, clocks, metrics and logs; every placement decision is the engine's.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "api/service_seam.h"
#include "api/wire.h"
#include "config/config.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

struct ServiceMetrics;
struct ZeroPriorityList;

// A reply: status and JSON body (every reply has a JSON body, reference/extender-protocol.md §2.1).
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};
inline Reply JsonReply(int status, std::string body) { return Reply{status, std::move(body)}; }
// An error reply: {"Error": message} (reference/extender-protocol.md §2.1).
inline Reply ErrorReply(int status, std::string_view message) {
  return Reply{status, EncodeError(message)};
}

// The verbs, the barrier's waiting and the views, independent of the transport.
class ExtenderService final : public EngineHost {
 public:
  ExtenderService(const config::Config& config, std::unique_ptr<scheduler::GangScheduler> engine,
                  bool inventory_loaded, std::unique_ptr<Binder> binder);
  ~ExtenderService();
  ExtenderService(const ExtenderService&) = delete;
  ExtenderService& operator=(const ExtenderService&) = delete;

  Reply Filter(Body body);
  Reply Prioritize(Body body);
  Reply Preempt(std::string_view body);
  // Blocks while the pod waits in the barrier (on the bind listener's own thread).
  Reply Bind(std::string_view body);

  Reply Healthz() const;
  Reply Readyz() const;
  Reply Metrics();
  Reply State();
  // A page of at most `limit` gangs (kGangsPageMax at most) after `after` ("NAMESPACE/NAME", the
  // previous page's `continue`; "" for the first page).
  static constexpr std::size_t kGangsPageDefault = 500;
  static constexpr std::size_t kGangsPageMax = 5000;
  Reply Gangs(const std::string& after = "", std::size_t limit = kGangsPageDefault);
  Reply Gang(const std::string& ns, const std::string& name);

  // Graceful stop: every held bind answers an error, new binds are refused, the timer stops.
  void Shutdown(const std::string& reason);
  // Counts a request the transport answered itself (400/404/405/413), for the metrics.
  void CountRejected(std::string_view verb, int status);

  // ---- State-source seam (api/service_seam.h; kube/ feeds the engine from list+watch) ---------
  void UpdateEngine(const EngineUpdate& update) override;
  void MarkSynced() override;

 private:
  // One held bind. Each has its own condition variable: a broadcast to every held bind on every
  // decision woke ~1,400 threads per gang released in the throughput benchmark (most of
  // gangsched's CPU went to futex wake-ups).
  struct Waiter {
    std::string ns;
    std::string name;
    bool done = false;
    std::string error;
    std::condition_variable cv;
  };
  // The nodes of one request resolved against the engine's inventory. NodeNames offers are kept
  // (the last kOfferCache distinct ones, by their JSON) and reused while the inventory stays:
  // kube-scheduler sends the same NodeNames pod after pod, and resolving 5,000 names is most of a
  // filter call.
  struct ResolvedOffer {
    std::uint64_t hash = 0;  // RawNodeHash of `json`
    std::string json;        // the NodeNames array it was decoded from ("" for full-Nodes requests)
    scheduler::Offer offer;
    std::shared_ptr<const ZeroPriorityList> zero_scores;  // built by the first prioritize call
    std::shared_ptr<const OfferedKeys> keys;              // built by the first filter rejection
  };
  static constexpr std::size_t kOfferCache = 4;

  static scheduler::Millis Now();
  // Adds or updates a full-`Nodes` request's nodes in the inventory (under mu_); the engine's
  // nodes are replaced only when one is new or changed. Nodes the decoder skipped as known are
  // checked against the inventory again (another request may have replaced them meanwhile) and
  // decoded here if they differ.
  tl::expected<void, std::string> MergeInventory(ExtenderArgs& args);
  // The decoder's KnownNode lookup: the name of the inventory Node with this raw-JSON hash.
  bool KnownRawNode(std::uint64_t raw_hash, std::string& name) const;
  // Decodes a filter/prioritize body, skipping the Nodes the inventory already holds verbatim;
  // NodeNames are located, not decoded (OfferOf decodes them when they are new).
  tl::expected<ExtenderArgs, std::string> DecodeArgs(Body body) const;
  // The request's offer (under mu_): a kept one when its NodeNames JSON (`hash`: RawNodeHash) was
  // seen lately, else decoded, resolved and kept. Fails on NodeNames that are not names.
  tl::expected<std::shared_ptr<ResolvedOffer>, std::string> OfferOf(const ExtenderArgs& args,
                                                                    std::uint64_t hash);
  // The 400 answer (logged, counted) to a request whose NodeNames are not names.
  Reply BadOffer(std::string_view verb, const scheduler::Pod& pod, const std::string& error,
                 std::int64_t start);
  // Carries out a barrier decision under `lock` (kBind unlocks while the binder runs).
  void Apply(std::unique_lock<std::mutex>& lock, const scheduler::BarrierDecision& d,
             const std::string& requester);
  void Resolve(const std::string& uid, const std::string& error);
  void TimerLoop();
  // Under mu_: the engine's next deadline is earlier than the one the timer sleeps until (a
  // deadline that went away needs no wake-up: the timer wakes, finds nothing due, sleeps again).
  bool TimerSleepsTooLong() const;
  Reply Observe(std::string_view verb, std::string_view outcome, std::int64_t start_us,
                Reply reply);

  config::Config config_;
  std::unique_ptr<Binder> binder_;
  mutable std::mutex mu_;  // guards everything below, and every engine call
  std::unique_ptr<scheduler::GangScheduler> engine_;
  bool inventory_loaded_ = false;
  // Full-`Nodes` mode: every Node seen in a request, by name. kube-scheduler sends only the nodes
  // that passed its own filters, so a request adds or updates nodes and never removes one.
  struct InventoryNode {
    std::uint64_t hash = 0;      // NodeHash: what the engine's state is built from
    std::uint64_t raw_hash = 0;  // RawNodeHash of the JSON it was last decoded from; 0: none
    scheduler::Node node;
  };
  std::map<std::string, InventoryNode> inventory_;
  // The inventory's Nodes by the raw hash of their JSON (RawNodeHash -> name), read by decoders
  // outside mu_; written under mu_ and raw_mu_ together.
  mutable std::shared_mutex raw_mu_;
  std::unordered_map<std::uint64_t, std::string> raw_names_;
  std::vector<std::shared_ptr<ResolvedOffer>> offers_;      // most recently used first
  std::map<std::string, std::shared_ptr<Waiter>> waiters_;  // by pod UID
  std::condition_variable timer_cv_;
  // The deadline the timer thread sleeps until (none: until notified). A filter wakes it only when
  // the engine's next deadline is earlier, so filter calls do not hand it the lock each time.
  std::optional<scheduler::Millis> timer_armed_;
  bool shutting_down_ = false;
  bool timer_stop_ = false;
  std::unique_ptr<ServiceMetrics> metrics_;
  std::thread timer_;
};

}  // namespace gangsched::api
