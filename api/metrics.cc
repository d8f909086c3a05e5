#include "api/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace gangsched::api {

using scheduler::Millis;

void ServiceMetrics::Update(const scheduler::GangScheduler& engine, Millis now) {
  const scheduler::ClusterState& state = engine.state();
  std::map<std::string, double> phases;
  for (auto phase : {scheduler::GangPhase::kWaiting, scheduler::GangPhase::kPlanned,
                     scheduler::GangPhase::kBinding, scheduler::GangPhase::kBound}) {
    phases[scheduler::GangPhaseName(phase)] = 0;
  }
  for (const scheduler::GangStatus& g : engine.Gangs(now)) {
    phases[scheduler::GangPhaseName(g.phase)] += 1;
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

std::string ServiceMetrics::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry->Collect());
  return out.str();
}

}  // namespace gangsched::api
