#include "api/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "api/views.h"

namespace gangsched::api {

using scheduler::Millis;

void ServiceMetrics::Update(const scheduler::GangScheduler& engine, Millis now) {
  const scheduler::ClusterState& state = engine.state();
  std::map<std::string, double> phases;
  for (auto phase : {scheduler::GangPhase::kWaiting, scheduler::GangPhase::kPlanned,
                     scheduler::GangPhase::kBinding, scheduler::GangPhase::kBound}) {
    phases[scheduler::GangPhaseName(phase)] = 0;
  }
  double partly = 0;
  for (const scheduler::GangStatus& g : engine.Gangs(now)) {
    phases[scheduler::GangPhaseName(g.phase)] += 1;
    if (g.members_bound > 0 && g.members_bound < g.quorum) partly += 1;
  }
  partly_bound.Set(partly);
  longest_wait.Set(static_cast<double>(waits.Sweep(engine, now)) / 1000.0);
  // The engine's counters are monotonic: each Prometheus counter catches up with its own.
  const scheduler::EngineCounters& c = engine.counters();
  for (auto [counter, value] :
       {std::pair{&plans, c.plans}, std::pair{&replans, c.replans},
        std::pair{&hold_expiries, c.hold_expiries}, std::pair{&victim_plans, c.victim_plans},
        std::pair{&drains, c.drains}}) {
    const double behind = static_cast<double>(value) - counter->Value();
    if (behind > 0) counter->Increment(behind);
  }
  // Every label value exists from the first scrape (dashboards and alerts see 0, not nothing).
  span.Add({{"level", "node"}});
  for (const std::string& level : state.topology().level_names()) span.Add({{"level", level}});
  span.Add({{"level", "cluster"}});
  for (const char* locality : {"all", "partial", "none", "one_gpu"}) {
    nvlink.Add({{"locality", locality}});
  }
  for (const auto& [phase, count] : phases) gangs.Add({{"phase", phase}}).Set(count);
  holds.Set(static_cast<double>(state.holds().size()));
  std::int64_t used = 0;
  std::int64_t held = 0;
  std::int64_t free = 0;
  std::int64_t fragmented_gpus = 0;
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    used += state.usage(i).used.gpus;
    held += state.usage(i).held.gpus;
    const std::int64_t f = std::max<std::int64_t>(0, state.Free(i).gpus);
    free += f;
    if (f < 8) fragmented_gpus += f;
  }
  gpus.Add({{"state", "allocated"}}).Set(static_cast<double>(used));
  gpus.Add({{"state", "held"}}).Set(static_cast<double>(held));
  gpus.Add({{"state", "free"}}).Set(static_cast<double>(free));
  fragmented.Set(static_cast<double>(fragmented_gpus));
  fragmentation.Set(free == 0 ? 0.0 : static_cast<double>(fragmented_gpus) / free);
}

void ServiceMetrics::Released(const scheduler::Plan& plan, const scheduler::ClusterState& state) {
  if (!plan.domains_used.empty()) domains_spanned.Observe(plan.domains_used.back());
  span.Add({{"level", SpanName(plan, state.topology().level_names())}}).Increment();
  // The gang's GPU set on each node it uses: its pods there may talk over NVLink with each other.
  std::map<std::string, std::vector<int>> by_node;
  for (const scheduler::PodPlacement& p : plan.pods) {
    std::vector<int>& ids = by_node[p.node];
    ids.insert(ids.end(), p.gpu_ids.begin(), p.gpu_ids.end());
  }
  for (const auto& [node, ids] : by_node) {
    const std::optional<std::size_t> i = state.FindNode(node);
    if (!i || ids.empty()) continue;
    nvlink.Add({{"locality", std::string(NvlinkLocality(state.gpu_topology(*i), ids))}})
        .Increment();
  }
}

void ServiceMetrics::Bound(const scheduler::GangScheduler& engine, const scheduler::GangKey& gang,
                           Millis now) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200};
  if (auto wait = waits.Bound(engine, gang, now)) {
    queueing_delay.Add({{"namespace", wait->namespace_label}, {"kind", wait->kind_label}}, kBuckets)
        .Observe(static_cast<double>(wait->waited) / 1000.0);
  }
}

std::string_view NvlinkLocality(const topology::GpuTopology& gpus, const std::vector<int>& ids) {
  if (ids.size() < 2) return "one_gpu";
  std::size_t pairs = 0;
  std::size_t nvlinked = 0;
  for (std::size_t a = 0; a < ids.size(); ++a) {
    for (std::size_t b = a + 1; b < ids.size(); ++b) {
      ++pairs;
      if (gpus.Link(ids[a], ids[b]).kind == topology::LinkKind::kNvLink) ++nvlinked;
    }
  }
  if (nvlinked == pairs) return "all";
  return nvlinked == 0 ? "none" : "partial";
}

std::string ServiceMetrics::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry->Collect());
  return out.str();
}

}  // namespace gangsched::api
