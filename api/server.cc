#include "api/server.h"

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
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <utility>

#include "api/jobs.h"
#include "api/k8s_decode.h"
#include "api/web_page.h"
#include "api/wire.h"

namespace gangsched::api {

using scheduler::BarrierAction;
using scheduler::BarrierDecision;
using scheduler::Millis;

// ---- Standalone state ---------------------------------------------------------------------------

scheduler::EngineOptions EngineOptionsFrom(const config::Config& config) {
  scheduler::EngineOptions options;
  options.state.levels = config.topology_levels;
  options.holds = config.holds;
  options.planner.candidates_per_level = config.candidates_per_level;
  options.require_quorum_pods = false;  // standalone: pods are known only from requests
  options.max_held_binds = config.max_held_binds;
  options.drain_after = config.drain_after;
  return options;
}

tl::expected<StandaloneState, std::string> LoadStandaloneState(const config::Config& config) {
  const scheduler::EngineOptions options = EngineOptionsFrom(config);
  StandaloneState out;
  std::vector<scheduler::Node> nodes;
  std::vector<scheduler::Pod> pods;
  std::vector<SourceObject> job_objects;
  if (!config.cluster_file.empty()) {
    auto objects = LoadClusterObjectsFromFile(config.cluster_file);
    if (!objects) return tl::unexpected(objects.error().ToString());
    nodes = std::move(objects->cluster.nodes);
    pods = std::move(objects->cluster.pods);
    job_objects = std::move(objects->others);  // TFJob, PyTorchJob, ...: rosters (api/jobs.h)
    if (nodes.empty()) {
      return tl::unexpected(config.cluster_file +
                            ": the cluster file has no Node objects; give a NodeList "
                            "(kubectl get nodes -o json)");
    }
  }
  auto jobs = DecodeJobObjects(job_objects, config.cluster_file);
  if (!jobs) return tl::unexpected(jobs.error().ToString());
  out.nodes = nodes.size();
  out.inventory_loaded = !nodes.empty();
  auto state = scheduler::ClusterState::Create(std::move(nodes), options.state);
  if (!state) return tl::unexpected(config.cluster_file + ": " + state.error());
  out.engine = std::make_unique<scheduler::GangScheduler>(std::move(*state), options);
  for (const scheduler::Pod& pod : pods) out.engine->UpsertPod(pod);
  for (const JobSpec& job : *jobs) out.engine->UpsertRoster(job.gang);
  out.pods = pods.size();
  out.jobs = jobs->size();
  // Decoding a large YAML cluster file through yaml-cpp leaves gigabytes of freed heap that glibc
  // keeps mapped (measured: 3.9 GB RSS for 10,000 nodes + 100,000 pods, 115 MB after a trim).
  ::malloc_trim(0);
  return out;
}

// ---- Metrics ------------------------------------------------------------------------------------

struct ExtenderService::MetricSet {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("gangsched_requests_total")
          .Help("Extender and view requests by verb and outcome")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("gangsched_request_duration_seconds")
          .Help(
              "Time inside gangsched per request (decode, engine, encode; binds include the "
              "barrier wait)")
          .Register(*registry);
  prometheus::Histogram& plan_latency =
      prometheus::BuildHistogram()
          .Name("gangsched_plan_duration_seconds")
          .Help("Engine time of filter calls that planned (or re-planned) a gang")
          .Register(*registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                           0.005, 0.01, 0.025, 0.05, 0.1, 0.5});
  prometheus::Family<prometheus::Gauge>& gangs = prometheus::BuildGauge()
                                                     .Name("gangsched_gangs")
                                                     .Help("Gangs known, by phase")
                                                     .Register(*registry);
  prometheus::Gauge& holds = prometheus::BuildGauge()
                                 .Name("gangsched_holds")
                                 .Help("Gangs holding capacity (planned, not yet bound)")
                                 .Register(*registry)
                                 .Add({});
  prometheus::Counter& barrier_waits =
      prometheus::BuildCounter()
          .Name("gangsched_barrier_waits_total")
          .Help("Bind requests held in the barrier until the rest of their gang arrived")
          .Register(*registry)
          .Add({});
  prometheus::Gauge& barrier_waiting = prometheus::BuildGauge()
                                           .Name("gangsched_barrier_waiting")
                                           .Help("Bind requests waiting in the barrier now")
                                           .Register(*registry)
                                           .Add({});
  prometheus::Counter& barrier_timeouts =
      prometheus::BuildCounter()
          .Name("gangsched_barrier_timeouts_total")
          .Help("Held binds answered with an error because their gang's deadline passed")
          .Register(*registry)
          .Add({});
  prometheus::Family<prometheus::Gauge>& gpus = prometheus::BuildGauge()
                                                    .Name("gangsched_gpus")
                                                    .Help("GPUs by state: allocated, held, free")
                                                    .Register(*registry);
  prometheus::Histogram& domains_spanned =
      prometheus::BuildHistogram()
          .Name("gangsched_gang_domains_spanned")
          .Help("Narrowest-level domains (racks) touched by each gang released to bind")
          .Register(*registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 3, 4, 6, 8, 16, 32});
  prometheus::Gauge& fragmented = prometheus::BuildGauge()
                                      .Name("gangsched_fragmented_free_gpus")
                                      .Help("Free GPUs on nodes that cannot host an 8-GPU pod")
                                      .Register(*registry)
                                      .Add({});
  prometheus::Gauge& fragmentation = prometheus::BuildGauge()
                                         .Name("gangsched_fragmentation_ratio")
                                         .Help("gangsched_fragmented_free_gpus / free GPUs")
                                         .Register(*registry)
                                         .Add({});

  prometheus::Histogram& Latency(std::string_view verb, std::string_view outcome) {
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30, 120};
    return latency.Add({{"verb", std::string(verb)}, {"outcome", std::string(outcome)}}, kBuckets);
  }
};

// ---- Service ------------------------------------------------------------------------------------

namespace {

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Reply JsonReply(int status, std::string body) { return Reply{status, std::move(body)}; }
Reply ErrorReply(int status, std::string_view message) {
  return Reply{status, EncodeError(message)};
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

std::vector<int> MaskIds(std::uint64_t mask) {
  std::vector<int> ids;
  for (int i = 0; i < 64; ++i) {
    if (mask & (std::uint64_t{1} << i)) ids.push_back(i);
  }
  return ids;
}

nlohmann::json PlanJson(const scheduler::Plan& plan, const topology::ClusterTopology& topo) {
  nlohmann::json pods = nlohmann::json::array();
  for (const scheduler::PodPlacement& p : plan.pods) {
    pods.push_back({{"role", p.role_name},
                    {"index", p.index},
                    {"node", p.node},
                    {"domains", p.domains},
                    {"gpu_ids", p.gpu_ids},
                    {"gpus", p.requests.gpus}});
  }
  const int levels = topo.level_count();
  std::string span = "cluster";
  if (plan.span_level == 0) {
    span = "node";
  } else if (plan.span_level <= levels) {
    span = topo.level_names()[static_cast<std::size_t>(levels - plan.span_level)];
  }
  return {{"span", span},
          {"span_domain", plan.span_domain},
          {"nodes_used", plan.nodes_used},
          {"domains_used", plan.domains_used},
          {"pods", std::move(pods)}};
}

nlohmann::json GangJson(const scheduler::GangStatus& g, Millis now,
                        const topology::ClusterTopology& topo) {
  nlohmann::json j = {{"namespace", g.key.namespace_name},
                      {"name", g.key.name},
                      {"kind", g.kind},
                      {"phase", scheduler::GangPhaseName(g.phase)},
                      {"reason", g.reason},
                      {"quorum", g.quorum},
                      {"members_seen", g.members_seen},
                      {"members_arrived", g.members_arrived},
                      {"members_bound", g.members_bound}};
  j["hold_expires_in_ms"] =
      g.hold_deadline ? nlohmann::json(*g.hold_deadline - now) : nlohmann::json(nullptr);
  j["backoff_for_ms"] =
      g.backoff_until ? nlohmann::json(*g.backoff_until - now) : nlohmann::json(nullptr);
  j["plan"] = g.plan ? PlanJson(*g.plan, topo) : nlohmann::json(nullptr);
  return j;
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
      metrics_(std::make_unique<MetricSet>()) {
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
  scheduler::FilterAnswer answer;
  std::size_t offered = 0;
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
    offered = (*offer)->offer.names.size();
    const scheduler::Plan* before = engine_->state().HoldOf(gang);
    const bool held_before = before != nullptr;
    const std::int64_t engine_start = NowMicros();
    answer = engine_->Filter(args->pod, membership, (*offer)->offer, Now());
    const scheduler::Plan* after = engine_->state().HoldOf(gang);
    if (after != nullptr && !held_before) {
      metrics_->plan_latency.Observe(static_cast<double>(NowMicros() - engine_start) / 1e6);
    }
    wake_timer = TimerSleepsTooLong();  // a new hold may have the earliest deadline
  }
  if (wake_timer) timer_cv_.notify_all();
  std::string out = EncodeFilterResult(answer, *args);
  const std::string_view outcome = answer.feasible.empty() ? "unschedulable" : "feasible";
  if (spdlog::should_log(spdlog::level::info)) {
    std::string first_reason;
    if (!answer.unresolvable.empty()) first_reason = answer.unresolvable.begin()->second;
    spdlog::info(
        "verb=filter pod={} gang={} decision={} nodes={} offered={} failed={} unresolvable={} "
        "reason=\"{}\" took_us={}",
        PodRef(args->pod), gang.ToString(),
        answer.feasible.size() == 1 ? "narrow" : std::string(outcome),
        answer.feasible.size() == 1 ? answer.feasible.front()
                                    : std::to_string(answer.feasible.size()),
        offered, answer.failed.size(), answer.unresolvable.size(), first_reason,
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
  if (const scheduler::Plan* plan = engine_->state().HoldOf(d.gang);
      plan != nullptr && !plan->domains_used.empty()) {
    metrics_->domains_spanned.Observe(plan->domains_used.back());
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

void ExtenderService::UpdateGauges(Millis now) {
  const scheduler::ClusterState& state = engine_->state();
  std::map<std::string, double> phases;
  for (auto phase : {scheduler::GangPhase::kWaiting, scheduler::GangPhase::kPlanned,
                     scheduler::GangPhase::kBinding, scheduler::GangPhase::kBound}) {
    phases[scheduler::GangPhaseName(phase)] = 0;
  }
  for (const scheduler::GangStatus& g : engine_->Gangs(now)) {
    phases[scheduler::GangPhaseName(g.phase)] += 1;
  }
  for (const auto& [phase, count] : phases) metrics_->gangs.Add({{"phase", phase}}).Set(count);
  metrics_->holds.Set(static_cast<double>(state.holds().size()));
  std::int64_t used = 0;
  std::int64_t held = 0;
  std::int64_t free = 0;
  std::int64_t fragmented = 0;
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    used += state.usage(i).used.gpus;
    held += state.usage(i).held.gpus;
    const std::int64_t f = std::max<std::int64_t>(0, state.Free(i).gpus);
    free += f;
    if (f < 8) fragmented += f;
  }
  metrics_->gpus.Add({{"state", "allocated"}}).Set(static_cast<double>(used));
  metrics_->gpus.Add({{"state", "held"}}).Set(static_cast<double>(held));
  metrics_->gpus.Add({{"state", "free"}}).Set(static_cast<double>(free));
  metrics_->fragmented.Set(static_cast<double>(fragmented));
  metrics_->fragmentation.Set(free == 0 ? 0.0 : static_cast<double>(fragmented) / free);
}

Reply ExtenderService::Metrics() {
  {
    std::lock_guard lock(mu_);
    UpdateGauges(Now());
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metrics_->registry->Collect());
  return Reply{200, out.str(), "text/plain; version=0.0.4"};
}

Reply ExtenderService::State() {
  std::lock_guard lock(mu_);
  const Millis now = Now();
  const scheduler::ClusterState& state = engine_->state();
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    const scheduler::Node& n = state.node(i);
    const scheduler::NodeUsage& u = state.usage(i);
    const scheduler::Resources free = state.Free(i);
    nodes.push_back(
        {{"name", n.name},
         {"domains", state.topology().PathNames(static_cast<int>(i))},
         {"gpus",
          {{"allocatable", n.allocatable.gpus},
           {"used", u.used.gpus},
           {"held", u.held.gpus},
           {"free", free.gpus}}},
         {"free_gpu_ids", MaskIds(state.FreeGpuMask(i))},
         {"milli_cpu", {{"allocatable", n.allocatable.milli_cpu}, {"free", free.milli_cpu}}},
         {"memory_bytes",
          {{"allocatable", n.allocatable.memory_bytes}, {"free", free.memory_bytes}}},
         {"unschedulable", n.unschedulable}});
  }
  nlohmann::json holds = nlohmann::json::array();
  for (const auto& [key, plan] : state.holds()) {
    nlohmann::json h = PlanJson(plan, state.topology());
    h["gang"] = key.ToString();
    if (auto g = engine_->GangOf(key, now); g && g->hold_deadline) {
      h["expires_in_ms"] = *g->hold_deadline - now;
    }
    holds.push_back(std::move(h));
  }
  nlohmann::json j = {{"ready", inventory_loaded_},
                      {"levels", state.topology().level_names()},
                      {"gpus", {{"total", state.TotalGpus()}, {"free", state.FreeGpus()}}},
                      {"nodes", std::move(nodes)},
                      {"holds", std::move(holds)},
                      {"held_binds", waiters_.size()}};
  return JsonReply(200, j.dump());
}

Reply ExtenderService::Gangs() {
  std::lock_guard lock(mu_);
  const Millis now = Now();
  nlohmann::json gangs = nlohmann::json::array();
  for (const scheduler::GangStatus& g : engine_->Gangs(now)) {
    gangs.push_back(GangJson(g, now, engine_->state().topology()));
  }
  return JsonReply(200, nlohmann::json{{"gangs", std::move(gangs)}}.dump());
}

Reply ExtenderService::Gang(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  const Millis now = Now();
  auto g = engine_->GangOf(scheduler::GangKey{ns, name}, now);
  if (!g) return ErrorReply(404, "gang " + ns + "/" + name + " is not known to gangsched");
  return JsonReply(200, GangJson(*g, now, engine_->state().topology()).dump());
}

// ---- HTTP ---------------------------------------------------------------------------------------

namespace {

// How far over max_body_bytes a declared body may be and still be read (and discarded) before the
// 413, so the client sees the answer instead of a connection reset.
constexpr std::uint64_t kDrainAllowance = 64ULL << 20;

constexpr const char* kVerbs[] = {"/filter", "/prioritize", "/preempt", "/bind"};
constexpr const char* kViews[] = {"/",        "/healthz",      "/readyz",
                                  "/metrics", "/api/v1/state", "/api/v1/gangs"};

bool IsView(const std::string& path) {
  if (std::find(std::begin(kViews), std::end(kViews), path) != std::end(kViews)) return true;
  return path.rfind("/api/v1/gangs/", 0) == 0;
}
bool IsVerb(const std::string& path) {
  return std::find(std::begin(kVerbs), std::end(kVerbs), path) != std::end(kVerbs);
}

void Send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}

}  // namespace

ExtenderServer::ExtenderServer(const config::Config& config, ExtenderService& service)
    : config_(config), service_(service) {}

ExtenderServer::~ExtenderServer() { Stop(); }

std::unique_ptr<httplib::Server> ExtenderServer::Make(Listener which, int threads) {
  std::unique_ptr<httplib::Server> srv;
  if (config_.tls.Enabled()) {
    srv = std::make_unique<httplib::SSLServer>(config_.tls.cert_file.c_str(),
                                               config_.tls.key_file.c_str());
  } else {
    srv = std::make_unique<httplib::Server>();
  }
  const auto pool = static_cast<std::size_t>(threads);
  srv->new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  srv->set_tcp_nodelay(true);  // DESIGN.md §3.6: Nagle + delayed ACK cost 43 ms per request
  srv->set_keep_alive_max_count(static_cast<std::size_t>(config_.keep_alive_max_count));
  srv->set_keep_alive_timeout(std::max<Millis>(1, config_.keep_alive_timeout / 1000));
  srv->set_read_timeout(config_.read_timeout / 1000, (config_.read_timeout % 1000) * 1000);
  srv->set_write_timeout(config_.read_timeout / 1000, (config_.read_timeout % 1000) * 1000);
  srv->set_payload_max_length(static_cast<std::size_t>(config_.max_body_bytes));

  const bool verbs = which != Listener::kOps;
  const bool views = which != Listener::kBind;
  const std::int64_t max_body = config_.max_body_bytes;
  ExtenderService& service = service_;
  // Method and size checks before httplib reads the body: a declared Content-Length over the
  // limit is answered 413 without reading it (httplib itself would read and discard it first).
  srv->set_pre_routing_handler([=, &service](const httplib::Request& req, httplib::Response& res) {
    const bool verb = IsVerb(req.path) && (which != Listener::kBind || req.path == "/bind");
    const bool view = IsView(req.path);
    const std::string name = req.path.substr(1);
    if (verbs && verb) {
      if (req.method != "POST") {
        res.set_header("Allow", "POST");
        Send(res, ErrorReply(405, req.method + " " + req.path + " is not allowed; use POST"));
        service.CountRejected(name, 405);
        return httplib::Server::HandlerResponse::Handled;
      }
      const std::string length = req.get_header_value("Content-Length");
      std::uint64_t declared = 0;
      if (!length.empty()) {
        auto [ptr, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
        if (ec != std::errc() || ptr != length.data() + length.size()) {
          Send(res, ErrorReply(400, "Content-Length \"" + length + "\" is not a number"));
          service.CountRejected(name, 400);
          return httplib::Server::HandlerResponse::Handled;
        }
        // Over the limit but small enough to drain: httplib reads and discards it, then answers
        // 413 (closing a connection with unread data would reset it before the client reads
        // the answer). Far over the limit: answered now, without reading.
        if (declared > static_cast<std::uint64_t>(max_body) + kDrainAllowance) {
          Send(res, ErrorReply(413, "the body (" + length + " bytes) is over the limit of " +
                                        std::to_string(max_body) +
                                        " bytes (max_body_bytes, --max-body-bytes)"));
          service.CountRejected(name, 413);
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (views && view) {
      if (req.method != "GET" && req.method != "HEAD") {
        res.set_header("Allow", "GET");
        Send(res, ErrorReply(405, req.method + " " + req.path + " is not allowed; use GET"));
        service.CountRejected("view", 405);
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Send(res, ErrorReply(404, req.path + " is not served on this listener"));
    service.CountRejected("unknown", 404);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Every error reply has a JSON body (reference/extender-protocol.md §2.1).
  srv->set_error_handler(httplib::Server::HandlerWithResponse(
      [&service](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = "HTTP " + std::to_string(res.status);
        if (res.status == 413) {
          message = "the body is over the limit (max_body_bytes, --max-body-bytes)";
          service.CountRejected(req.path.size() > 1 ? req.path.substr(1) : "unknown", 413);
        } else if (res.status == 400) {
          message = "malformed HTTP request";
        }
        Send(res, ErrorReply(res.status, message));
        return httplib::Server::HandlerResponse::Handled;
      }));
  srv->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("path={} decision=internal_error error=\"{}\"", req.path, what);
        // 200 with Error: an internal fault (DESIGN.md §3.3), never a non-JSON body.
        Send(res, Reply{200, EncodeError("gangsched internal error: " + what)});
      });

  // The handlers catch everything: no exception crosses into httplib (STYLE.md "Errors").
  auto guard = [](auto fn) {
    return [fn](const httplib::Request& req, httplib::Response& res) {
      try {
        Send(res, fn(req));
      } catch (const std::exception& e) {
        spdlog::error("path={} decision=internal_error error=\"{}\"", req.path, e.what());
        Send(res, Reply{200, EncodeError(std::string("gangsched internal error: ") + e.what())});
      }
    };
  };
  if (verbs) {
    srv->Post("/bind",
              guard([&service](const httplib::Request& r) { return service.Bind(r.body); }));
    if (which == Listener::kMain) {
      srv->Post("/filter",
                guard([&service](const httplib::Request& r) { return service.Filter(r.body); }));
      srv->Post("/prioritize", guard([&service](const httplib::Request& r) {
                  return service.Prioritize(r.body);
                }));
      srv->Post("/preempt",
                guard([&service](const httplib::Request& r) { return service.Preempt(r.body); }));
    }
  }
  if (views) {
    srv->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", std::string(WebPageSecurityPolicy()));
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(WebPage().data(), WebPage().size(), "text/html; charset=utf-8");
    });
    srv->Get("/healthz", guard([&service](const httplib::Request&) { return service.Healthz(); }));
    srv->Get("/readyz", guard([&service](const httplib::Request&) { return service.Readyz(); }));
    srv->Get("/metrics", guard([&service](const httplib::Request&) { return service.Metrics(); }));
    srv->Get("/api/v1/state",
             guard([&service](const httplib::Request&) { return service.State(); }));
    srv->Get("/api/v1/gangs",
             guard([&service](const httplib::Request&) { return service.Gangs(); }));
    srv->Get(R"(/api/v1/gangs/([^/]+)/([^/]+))", guard([&service](const httplib::Request& r) {
               return service.Gang(r.matches[1], r.matches[2]);
             }));
  }
  return srv;
}

tl::expected<void, std::string> ExtenderServer::Start() {
  struct Spec {
    Listener which;
    const std::string* address;
    int threads;
    const char* name;
  };
  const Spec specs[] = {
      {Listener::kMain, &config_.listen, config_.threads.filter, "listen"},
      {Listener::kBind, &config_.bind_listen, config_.threads.bind, "bind_listen"},
      {Listener::kOps, &config_.ops_listen, config_.threads.ops, "ops_listen"}};
  for (std::size_t i = 0; i < 3; ++i) {
    const Spec& spec = specs[i];
    if (spec.address->empty()) continue;
    auto address = config::ParseAddress(*spec.address);
    if (!address) return tl::unexpected(std::string(spec.name) + ": " + address.error());
    auto srv = Make(spec.which, spec.threads);
    if (!srv->is_valid()) {
      return tl::unexpected(std::string(spec.name) + ": cannot serve TLS with cert " +
                            config_.tls.cert_file + " and key " + config_.tls.key_file);
    }
    // httplib 0.11.4 listens with a backlog of 5; a burst of held binds overflows it (DESIGN.md
    // §3.6). The listening fd is seen here, before bind; listen() is called again after bind.
    auto fd = std::make_shared<int>(-1);
    srv->set_socket_options([fd](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      *fd = sock;
    });
    int port = address->port;
    if (port == 0) {
      port = srv->bind_to_any_port(address->host);
      if (port < 0) port = 0;
    } else if (!srv->bind_to_port(address->host, port)) {
      port = 0;
    }
    if (port == 0) {
      return tl::unexpected(std::string(spec.name) + ": cannot listen on " + *spec.address +
                            " (address in use or not local?)");
    }
    if (*fd >= 0) ::listen(*fd, 4096);
    ports_[i] = port;
    httplib::Server* raw = srv.get();
    servers_.push_back(std::move(srv));
    threads_.emplace_back([raw] { raw->listen_after_bind(); });
    // httplib's stop() does nothing until the listener thread has marked itself running; a Stop()
    // that came first would leave that thread accepting forever and Stop() joining it forever.
    // So the listener is running before Start returns (bounded: it only has to enter its loop).
    for (int i_wait = 0; i_wait < 5000 && !raw->is_running(); ++i_wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    spdlog::info("verb=listen listener={} address={}:{} threads={} tls={}", spec.name,
                 address->host, port, spec.threads, config_.tls.Enabled());
  }
  return {};
}

void ExtenderServer::Stop() {
  for (auto& srv : servers_) srv->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  servers_.clear();
}

}  // namespace gangsched::api
