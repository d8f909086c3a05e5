#include "api/extender_service.h"

#include <httplib.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <utility>
#include <variant>

#include "api/metrics.h"
#include "api/views.h"
#include "api/wire.h"
#include "k8s/objects_json.h"

namespace gangsched::api {

using k8s::DecodeNodeJson;
using scheduler::BarrierAction;
using scheduler::BarrierDecision;
using scheduler::Millis;
// ---- Service ------------------------------------------------------------------------------------

namespace {

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Cheap identity of one Node of a full-`Nodes` request: name, allocatable, labels, taints, cordon
// and GPU matrix — everything the engine's state is built from.
std::uint64_t NodeHash(const scheduler::Node& n) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  };
  auto mix_int = [&mix](std::int64_t v) {
    mix(std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
  };
  mix(n.name);
  mix_int(n.allocatable.milli_cpu);
  mix_int(n.allocatable.memory_bytes);
  mix_int(n.allocatable.gpus);
  mix_int(n.allocatable.pods);
  mix_int(n.unschedulable ? 1 : 0);
  for (const auto& [k, v] : n.labels) {
    mix(k);
    mix(v);
  }
  for (const scheduler::Taint& t : n.taints) {
    mix(t.key);
    mix(t.value);
    mix_int(static_cast<int>(t.effect));
  }
  if (auto it = n.annotations.find(scheduler::kGpuTopologyAnnotation); it != n.annotations.end()) {
    mix(it->second);
  }
  return h;
}

std::string PodRef(const scheduler::Pod& pod) { return pod.namespace_name + "/" + pod.name; }

std::string GangRef(const scheduler::Pod& pod) {
  return scheduler::IdentifyGang(pod).membership.key.ToString();
}

}  // namespace

ExtenderService::ExtenderService(const config::Config& config,
                                 std::unique_ptr<scheduler::GangScheduler> engine,
                                 bool inventory_loaded, std::unique_ptr<Binder> binder)
    : config_(config),
      binder_(std::move(binder)),
      engine_(std::move(engine)),
      inventory_loaded_(inventory_loaded),
      metrics_(std::make_unique<ServiceMetrics>(
          static_cast<std::size_t>(config.metrics_namespace_labels))) {
  timer_ = std::thread([this] { TimerLoop(); });
}

ExtenderService::~ExtenderService() {
  Shutdown("gangsched is shutting down");
  {
    std::lock_guard lock(mu_);
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
}

Millis ExtenderService::Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Reply ExtenderService::Observe(std::string_view verb, std::string_view outcome,
                               std::int64_t start_us, Reply reply) {
  metrics_->requests.Add({{"verb", std::string(verb)}, {"outcome", std::string(outcome)}})
      .Increment();
  metrics_->Latency(verb, outcome).Observe(static_cast<double>(NowMicros() - start_us) / 1e6);
  return reply;
}

void ExtenderService::CountRejected(std::string_view verb, int status) {
  const std::string outcome = status == 413   ? "too_large"
                              : status == 405 ? "bad_method"
                              : status == 404 ? "not_found"
                                              : "bad_request";
  metrics_->requests.Add({{"verb", std::string(verb)}, {"outcome", outcome}}).Increment();
}

bool ExtenderService::KnownRawNode(std::uint64_t raw_hash, std::string& name) const {
  std::shared_lock lock(raw_mu_);
  auto it = raw_names_.find(raw_hash);
  if (it == raw_names_.end()) return false;
  name = it->second;
  return true;
}

tl::expected<ExtenderArgs, std::string> ExtenderService::DecodeArgs(Body body) const {
  bool any_known = false;
  {
    std::shared_lock lock(raw_mu_);
    any_known = !raw_names_.empty();
  }
  // With no Node known yet (the first full-Nodes request) no lookup is given: each Node is then
  // decoded in one walk instead of being skipped, hashed and walked again.
  KnownNode known;
  if (any_known) {
    known = [this](std::uint64_t hash, std::string& name) { return KnownRawNode(hash, name); };
  }
  return DecodeExtenderArgs(body, known, NodeNamesDecoding::kRawOnly);
}

tl::expected<std::shared_ptr<ExtenderService::ResolvedOffer>, std::string> ExtenderService::OfferOf(
    const ExtenderArgs& args, std::uint64_t hash) {
  if (args.full_nodes) {  // names from the Nodes themselves; resolved each time, not kept
    auto fresh = std::make_shared<ResolvedOffer>();
    fresh->offer = engine_->ResolveOffer(args.node_names);
    return fresh;
  }
  for (auto it = offers_.begin(); it != offers_.end(); ++it) {
    ResolvedOffer& kept = **it;
    if (kept.hash != hash || kept.json != args.node_names_json) continue;
    if (kept.offer.inventory != engine_->inventory_generation()) {
      kept.offer = engine_->ResolveOffer(std::move(kept.offer.names));
    }
    std::rotate(offers_.begin(), it, it + 1);  // most recently used first
    return offers_.front();
  }
  auto names = DecodeNodeNames(args.node_names_json);
  if (!names) return tl::unexpected(names.error());
  auto fresh = std::make_shared<ResolvedOffer>();
  fresh->hash = hash;
  fresh->json = std::string(args.node_names_json);
  fresh->offer = engine_->ResolveOffer(std::move(*names));
  if (offers_.size() == kOfferCache) offers_.pop_back();
  offers_.insert(offers_.begin(), fresh);
  return fresh;
}

tl::expected<void, std::string> ExtenderService::MergeInventory(ExtenderArgs& args) {
  if (inventory_.empty()) {  // the cluster file's nodes, the first time
    for (std::size_t i = 0; i < engine_->state().node_count(); ++i) {
      const scheduler::Node& n = engine_->state().node(i);
      inventory_.emplace(n.name, InventoryNode{NodeHash(n), 0, n});
    }
  }
  // A Node skipped as known must still be the inventory's (the lookup ran outside mu_).
  std::vector<bool> decoded(args.node_names.size(), false);
  for (std::size_t at : args.node_at) decoded[at] = true;
  for (std::size_t i = 0; i < args.raw_nodes.size(); ++i) {
    if (decoded[i]) continue;
    auto it = inventory_.find(args.node_names[i]);
    if (it != inventory_.end() && it->second.raw_hash == args.raw_hashes[i]) continue;
    auto node = DecodeNodeJson(args.raw_nodes[i]);
    if (!node) return tl::unexpected("items[" + std::to_string(i) + "]: " + node.error());
    args.nodes.push_back(std::move(*node));
    args.node_at.push_back(i);
  }
  if (args.nodes.empty()) return {};  // every Node known verbatim: the steady state
  std::vector<std::uint64_t> hashes;
  hashes.reserve(args.nodes.size());
  bool changed = false;
  for (const scheduler::Node& n : args.nodes) {
    hashes.push_back(NodeHash(n));
    auto it = inventory_.find(n.name);
    changed = changed || it == inventory_.end() || it->second.hash != hashes.back();
  }
  // Old raw hashes of the Nodes about to be re-recorded, to drop from the index.
  std::vector<std::uint64_t> old_raw;
  old_raw.reserve(args.nodes.size());
  for (const scheduler::Node& n : args.nodes) {
    auto it = inventory_.find(n.name);
    old_raw.push_back(it == inventory_.end() ? 0 : it->second.raw_hash);
  }
  if (changed) {
    std::map<std::string, InventoryNode> next = inventory_;
    for (std::size_t k = 0; k < args.nodes.size(); ++k) {
      next[args.nodes[k].name] =
          InventoryNode{hashes[k], args.raw_hashes[args.node_at[k]], args.nodes[k]};
    }
    std::vector<scheduler::Node> all;
    all.reserve(next.size());
    for (const auto& [name, entry] : next) all.push_back(entry.node);
    if (auto replaced = engine_->ReplaceNodes(std::move(all)); !replaced) return replaced;
    inventory_ = std::move(next);
    inventory_loaded_ = true;
    spdlog::info("verb=inventory source=request nodes={} offered={}", inventory_.size(),
                 args.node_names.size());
  } else {
    // Only fields the engine does not read differ (heartbeat times, images): no new state.
    for (std::size_t k = 0; k < args.nodes.size(); ++k) {
      inventory_[args.nodes[k].name].raw_hash = args.raw_hashes[args.node_at[k]];
    }
  }
  std::unique_lock raw_lock(raw_mu_);
  for (std::size_t k = 0; k < args.nodes.size(); ++k) {
    auto old = raw_names_.find(old_raw[k]);
    if (old != raw_names_.end() && old->second == args.nodes[k].name) raw_names_.erase(old);
    raw_names_[args.raw_hashes[args.node_at[k]]] = args.nodes[k].name;
  }
  return {};
}

Reply ExtenderService::BadOffer(std::string_view verb, const scheduler::Pod& pod,
                                const std::string& error, std::int64_t start) {
  spdlog::warn("verb={} pod={} decision=bad_request error=\"{}\"", verb, PodRef(pod), error);
  return Observe(verb, "bad_request", start, ErrorReply(400, error));
}

Reply ExtenderService::Filter(Body body) {
  const std::int64_t start = NowMicros();
  auto args = DecodeArgs(body);
  if (!args) {
    spdlog::warn("verb=filter decision=bad_request error=\"{}\"", args.error());
    return Observe("filter", "bad_request", start, ErrorReply(400, args.error()));
  }
  const std::uint64_t names_hash = RawNodeHash(args->node_names_json);
  const scheduler::MembershipResult membership = scheduler::IdentifyGang(args->pod);
  const scheduler::GangKey& gang = membership.membership.key;
  scheduler::FilterDecision decision;
  std::shared_ptr<const OfferedKeys> keys;  // the offered names as a rejection lists them
  std::size_t offered = 0;
  std::size_t failed = 0;  // offered nodes in FailedNodes (the node of a victim plan)
  bool wake_timer = false;
  {
    std::unique_lock lock(mu_);
    if (args->full_nodes) {
      auto merged = MergeInventory(*args);
      if (!merged) {
        lock.unlock();
        spdlog::warn("verb=filter pod={} decision=bad_inventory error=\"{}\"", PodRef(args->pod),
                     merged.error());
        return Observe("filter", "bad_request", start, ErrorReply(400, "Nodes: " + merged.error()));
      }
    }
    auto offer = OfferOf(*args, names_hash);
    if (!offer) {
      lock.unlock();
      return BadOffer("filter", args->pod, offer.error(), start);
    }
    ResolvedOffer& resolved = **offer;
    offered = resolved.offer.names.size();
    const scheduler::Plan* before = engine_->state().HoldOf(gang);
    const bool held_before = before != nullptr;
    const std::int64_t engine_start = NowMicros();
    const Millis now = Now();
    decision = engine_->Filter(args->pod, membership, resolved.offer, now);
    const scheduler::Plan* after = engine_->state().HoldOf(gang);
    if (after != nullptr && !held_before) {
      metrics_->plan_latency.Observe(static_cast<double>(NowMicros() - engine_start) / 1e6);
    }
    metrics_->waits.Seen(*engine_, gang, now);
    if (!std::holds_alternative<scheduler::Narrow>(decision)) {
      if (!resolved.keys) {
        resolved.keys =
            std::make_shared<const OfferedKeys>(EncodeOfferedKeys(resolved.offer.names));
      }
      keys = resolved.keys;
      if (const auto* preempt = std::get_if<scheduler::PreemptOn>(&decision)) {
        const auto& names = resolved.offer.names;
        failed = std::find(names.begin(), names.end(), preempt->node) != names.end() ? 1 : 0;
      }
    }
    wake_timer = TimerSleepsTooLong();  // a new hold may have the earliest deadline
  }
  if (wake_timer) timer_cv_.notify_all();
  static const OfferedKeys kNoKeys;
  std::string out = EncodeFilterResult(decision, keys ? *keys : kNoKeys, *args);
  const auto* narrow = std::get_if<scheduler::Narrow>(&decision);
  const std::string_view outcome = narrow ? "feasible" : "unschedulable";
  if (spdlog::should_log(spdlog::level::info)) {
    // As kube-scheduler reads the reply: every offered node not narrowed to or failed is
    // unresolvable, with the decision's one reason.
    const std::size_t unresolvable = keys ? keys->ends.size() - failed : 0;
    std::string_view first_reason;
    if (unresolvable > 0) {
      if (const auto* reject = std::get_if<scheduler::RejectAll>(&decision)) {
        first_reason = reject->reason;
      } else if (const auto* preempt = std::get_if<scheduler::PreemptOn>(&decision)) {
        first_reason = preempt->elsewhere;
      }
    }
    spdlog::info(
        "verb=filter pod={} gang={} decision={} nodes={} offered={} failed={} unresolvable={} "
        "reason=\"{}\" took_us={}",
        PodRef(args->pod), gang.ToString(), narrow ? "narrow" : std::string(outcome),
        narrow ? narrow->node : "0", offered, failed, unresolvable, first_reason,
        NowMicros() - start);
  }
  return Observe("filter", outcome, start, JsonReply(200, std::move(out)));
}

Reply ExtenderService::Prioritize(Body body) {
  const std::int64_t start = NowMicros();
  auto args = DecodeArgs(body);
  if (!args) {
    spdlog::warn("verb=prioritize decision=bad_request error=\"{}\"", args.error());
    return Observe("prioritize", "bad_request", start, ErrorReply(400, args.error()));
  }
  const std::uint64_t names_hash = RawNodeHash(args->node_names_json);
  std::vector<scheduler::OfferScore> scores;
  std::shared_ptr<const ZeroPriorityList> zero;
  std::size_t offered = 0;
  std::string best;  // the first host with the highest score (for the log)
  std::int64_t best_score = 0;
  {
    std::unique_lock lock(mu_);
    auto offer = OfferOf(*args, names_hash);
    if (!offer) {
      lock.unlock();
      return BadOffer("prioritize", args->pod, offer.error(), start);
    }
    ResolvedOffer& resolved = **offer;
    scores = engine_->Prioritize(args->pod, resolved.offer, Now());
    if (!resolved.zero_scores) {
      resolved.zero_scores =
          std::make_shared<const ZeroPriorityList>(EncodeZeroPriorityList(resolved.offer.names));
    }
    zero = resolved.zero_scores;
    offered = resolved.offer.names.size();
    if (spdlog::should_log(spdlog::level::info) && offered > 0) {
      std::size_t at = 0;
      for (const scheduler::OfferScore& s : scores) {
        if (s.score > best_score || (s.score == best_score && s.at < at)) {
          best_score = s.score;
          at = s.at;
        }
      }
      best = resolved.offer.names[at];
    }
  }
  std::string out = EncodeHostPriorityList(*zero, std::move(scores));
  if (spdlog::should_log(spdlog::level::info)) {
    spdlog::info(
        "verb=prioritize pod={} gang={} decision=scored nodes={} best={} score={} took_us={}",
        PodRef(args->pod), GangRef(args->pod), offered, best, offered > 0 ? best_score : -1,
        NowMicros() - start);
  }
  return Observe("prioritize", "ok", start, JsonReply(200, std::move(out)));
}

Reply ExtenderService::Preempt(std::string_view body) {
  const std::int64_t start = NowMicros();
  auto args = DecodePreemptionArgs(body);
  if (!args) {
    spdlog::warn("verb=preempt decision=bad_request error=\"{}\"", args.error());
    return Observe("preempt", "bad_request", start, ErrorReply(400, args.error()));
  }
  const std::size_t offered = args->candidates.size();
  const scheduler::MembershipResult membership = scheduler::IdentifyGang(args->pod);
  std::vector<scheduler::PreemptCandidate> kept;
  {
    std::lock_guard lock(mu_);
    kept = engine_->Preempt(args->pod, membership, std::move(args->candidates), Now());
  }
  spdlog::info("verb=preempt pod={} gang={} decision=kept candidates={} kept={} took_us={}",
               PodRef(args->pod), membership.membership.key.ToString(), offered, kept.size(),
               NowMicros() - start);
  return Observe("preempt", "ok", start, JsonReply(200, EncodePreemptionResult(kept)));
}

void ExtenderService::Resolve(const std::string& uid, const std::string& error) {
  auto it = waiters_.find(uid);
  if (it == waiters_.end() || it->second->done) return;
  it->second->done = true;
  it->second->error = error;
  it->second->cv.notify_all();
}

void ExtenderService::Apply(std::unique_lock<std::mutex>& lock, const BarrierDecision& d,
                            const std::string& requester) {
  if (d.action == BarrierAction::kWait) return;
  if (d.action == BarrierAction::kReject) {
    for (const scheduler::BindOrder& p : d.pods) Resolve(p.pod_uid, d.reason);
    if (!requester.empty() && d.pods.empty()) Resolve(requester, d.reason);
    spdlog::info("verb=bind gang={} decision=reject pods={} reason=\"{}\"", d.gang.ToString(),
                 d.pods.size(), d.reason);
    return;
  }
  // kBind: every quorum member has arrived. Perform the Bindings outside the lock.
  std::vector<BindingRequest> requests;
  requests.reserve(d.pods.size());
  for (const scheduler::BindOrder& p : d.pods) {
    BindingRequest r;
    r.pod_uid = p.pod_uid;
    r.node = p.node;
    r.pod_namespace = p.pod_namespace;  // the engine names every member it knows
    r.pod_name = p.pod_name;
    if (auto it = waiters_.find(p.pod_uid); it != waiters_.end() && r.pod_name.empty()) {
      r.pod_namespace = it->second->ns;
      r.pod_name = it->second->name;
    }
    r.gpu_ids = engine_->PlannedGpuIds(p.pod_uid);
    r.placement_summary = engine_->PlacementSummary(p.pod_uid);
    requests.push_back(std::move(r));
  }
  if (const scheduler::Plan* plan = engine_->state().HoldOf(d.gang)) {
    metrics_->Released(*plan, engine_->state());
  }
  const std::string summary = requests.empty() ? "" : requests.front().placement_summary;
  lock.unlock();
  std::vector<std::string> errors;
  try {
    errors = binder_->BindAll(requests);
  } catch (const std::exception& e) {
    errors.assign(requests.size(), std::string("binder failed: ") + e.what());
  }
  errors.resize(requests.size());
  lock.lock();
  const Millis now = Now();
  std::size_t failed = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    engine_->BindResult(requests[i].pod_uid, errors[i].empty(), errors[i], now);
    Resolve(requests[i].pod_uid, errors[i]);
    if (!errors[i].empty()) ++failed;
  }
  metrics_->Bound(*engine_, d.gang, now);
  spdlog::info("verb=bind gang={} decision=bind pods={} failed={} placement=\"{}\"",
               d.gang.ToString(), requests.size(), failed, summary);
  if (TimerSleepsTooLong()) timer_cv_.notify_all();
}

Reply ExtenderService::Bind(std::string_view body) {
  const std::int64_t start = NowMicros();
  auto args = DecodeBindingArgs(body);
  if (!args) {
    spdlog::warn("verb=bind decision=bad_request error=\"{}\"", args.error());
    return Observe("bind", "bad_request", start, ErrorReply(400, args.error()));
  }
  std::unique_lock lock(mu_);
  if (shutting_down_) {
    lock.unlock();
    return Observe("bind", "rejected", start,
                   JsonReply(200, EncodeBindingResult("gangsched is shutting down; retry later")));
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->ns = args->pod_namespace;
  waiter->name = args->pod_name;
  if (auto old = waiters_.find(args->pod_uid); old != waiters_.end() && !old->second->done) {
    Resolve(args->pod_uid, "superseded by a newer bind request for the same pod");
  }
  waiters_[args->pod_uid] = waiter;
  const BarrierDecision d =
      engine_->Bind(args->pod_namespace, args->pod_name, args->pod_uid, args->node, Now());
  if (TimerSleepsTooLong()) timer_cv_.notify_all();
  if (d.action == BarrierAction::kWait) {
    metrics_->barrier_waits.Increment();
    metrics_->barrier_waiting.Increment();
    spdlog::info("verb=bind pod={}/{} gang={} decision=wait node={}", args->pod_namespace,
                 args->pod_name, d.gang.ToString(), args->node);
  }
  Apply(lock, d, args->pod_uid);
  if (!waiter->done) {
    // Bounded by the bind extender's httpTimeout: kube-scheduler has given up by then anyway.
    const auto limit =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.holds.bind_timeout);
    waiter->cv.wait_until(lock, limit, [&] { return waiter->done || shutting_down_; });
    if (!waiter->done) {
      waiter->done = true;
      waiter->error = shutting_down_ ? "gangsched is shutting down; the gang's hold is released"
                                     : "no decision within the bind timeout";
    }
  }
  if (d.action == BarrierAction::kWait) metrics_->barrier_waiting.Decrement();
  if (auto it = waiters_.find(args->pod_uid); it != waiters_.end() && it->second == waiter) {
    waiters_.erase(it);
  }
  const std::string error = waiter->error;
  lock.unlock();
  if (d.action == BarrierAction::kWait || !error.empty()) {
    spdlog::info("verb=bind pod={}/{} decision={} node={} error=\"{}\" took_us={}",
                 args->pod_namespace, args->pod_name, error.empty() ? "bound" : "failed",
                 args->node, error, NowMicros() - start);
  }
  return Observe("bind", error.empty() ? "bound" : "rejected", start,
                 JsonReply(200, EncodeBindingResult(error)));
}

bool ExtenderService::TimerSleepsTooLong() const {
  const std::optional<Millis> next = engine_->NextDeadline();
  return next && (!timer_armed_ || *next < *timer_armed_);
}

void ExtenderService::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!timer_stop_) {
    const std::optional<Millis> next = engine_->NextDeadline();
    timer_armed_ = next;
    if (next) {
      timer_cv_.wait_until(lock,
                           std::chrono::steady_clock::time_point(std::chrono::milliseconds(*next)));
    } else {
      timer_cv_.wait(lock);
    }
    if (timer_stop_) break;
    const Millis now = Now();
    if (!next || now < *next) continue;  // woken early: the deadlines may have changed
    const std::vector<BarrierDecision> decisions = engine_->Tick(now);
    for (const BarrierDecision& d : decisions) {
      if (d.action == BarrierAction::kReject) {
        metrics_->barrier_timeouts.Increment(static_cast<double>(d.pods.size()));
        spdlog::info("verb=tick gang={} decision=expired held_binds={} reason=\"{}\"",
                     d.gang.ToString(), d.pods.size(), d.reason);
      }
      Apply(lock, d, "");
      if (timer_stop_) break;
    }
  }
}

// ---- State-source seam (issue 4) ----------------------------------------------------------------

void ExtenderService::UpdateEngine(const EngineUpdate& update) {
  std::unique_lock lock(mu_);
  const std::vector<BarrierDecision> decisions = update(*engine_, Now());
  for (const BarrierDecision& d : decisions) Apply(lock, d, "");
  const bool wake_timer = TimerSleepsTooLong();
  lock.unlock();
  if (wake_timer) timer_cv_.notify_all();
}

void ExtenderService::MarkSynced() {
  std::lock_guard lock(mu_);
  inventory_loaded_ = true;
}

void ExtenderService::Shutdown(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    std::size_t held = 0;
    for (auto& [uid, waiter] : waiters_) {
      if (!waiter->done) {
        waiter->done = true;
        waiter->error = reason + "; the gang's hold is released";
        waiter->cv.notify_all();
        ++held;
      }
    }
    spdlog::info("verb=shutdown decision=fail_held_binds held_binds={}", held);
  }
}

// ---- Views
// ----------------------------------------------------------------------------------------

Reply ExtenderService::Healthz() const { return JsonReply(200, R"({"status":"ok"})"); }

Reply ExtenderService::Readyz() const {
  std::lock_guard lock(mu_);
  if (inventory_loaded_) return JsonReply(200, R"({"status":"ready"})");
  return JsonReply(503,
                   R"({"status":"not ready","reason":"no node inventory yet: give --cluster FILE )"
                   R"(or send a filter request with full Nodes"})");
}

Reply ExtenderService::Metrics() {
  {
    std::lock_guard lock(mu_);
    metrics_->Update(*engine_, Now());
  }
  return Reply{200, metrics_->Text(), "text/plain; version=0.0.4"};
}

// The views copy under mu_ and build their JSON after releasing it (api/views.h).
Reply ExtenderService::Gangs(const std::string& after, std::size_t limit) {
  // A page is copied in chunks, each under its own hold of mu_: copying 5,000 gangs at once held
  // it for ~15 ms (filter p99 32 ms with two clients reading every page); a chunk of 100 takes a
  // fraction of a millisecond. Gangs added or forgotten between chunks may be missed or shown,
  // as between pages.
  constexpr std::size_t kChunk = 100;
  limit = std::clamp<std::size_t>(limit, 1, kGangsPageMax);
  GangsPage page;
  std::string from = after;
  for (bool first = true;; first = false) {
    GangsPage chunk;
    {
      std::lock_guard lock(mu_);
      chunk = CopyGangsPage(*engine_, Now(), from, std::min(kChunk, limit - page.gangs.size()));
    }
    if (first) {
      page.now = chunk.now;
      page.levels = std::move(chunk.levels);
    }
    page.total = chunk.total;
    page.more = chunk.more;
    std::move(chunk.gangs.begin(), chunk.gangs.end(), std::back_inserter(page.gangs));
    std::move(chunk.shapes.begin(), chunk.shapes.end(), std::back_inserter(page.shapes));
    if (!page.more || page.gangs.size() >= limit || page.gangs.empty()) break;
    from = page.gangs.back().key.ToString();
  }
  return JsonReply(200, GangsPageJson(page).dump());
}

Reply ExtenderService::Gang(const std::string& ns, const std::string& name) {
  Millis now = 0;
  std::optional<scheduler::GangStatus> g;
  std::optional<scheduler::GangSpec> shape;
  LevelNames levels;
  {
    std::lock_guard lock(mu_);
    now = Now();
    g = engine_->GangOf(scheduler::GangKey{ns, name}, now);
    if (g) shape = engine_->ShapeOf(g->key);
    levels = engine_->state().topology().level_names();
  }
  if (!g) return ErrorReply(404, "gang " + ns + "/" + name + " is not known to gangsched");
  return JsonReply(200, GangJson(*g, now, levels, shape).dump());
}

Reply ExtenderService::State() {
  StateSnapshot snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = CopyState(*engine_, inventory_loaded_, waiters_.size(), Now());
  }
  return JsonReply(200, StateJson(snapshot).dump());
}

}  // namespace gangsched::api
