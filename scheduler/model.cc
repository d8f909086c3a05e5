#include "scheduler/model.h"

#include <algorithm>

namespace gangsched::scheduler {

namespace {

bool Tolerates(const Toleration& t, const Taint& taint) {
  if (t.effect && *t.effect != taint.effect) return false;
  if (t.op_exists) return t.key.empty() || t.key == taint.key;
  return t.key == taint.key && t.value == taint.value;
}

}  // namespace

bool ToleratesAll(const std::vector<Taint>& taints, const std::vector<Toleration>& tolerations) {
  return std::all_of(taints.begin(), taints.end(), [&](const Taint& taint) {
    if (taint.effect == TaintEffect::kPreferNoSchedule) return true;  // a preference, not a filter
    return std::any_of(tolerations.begin(), tolerations.end(),
                       [&](const Toleration& t) { return Tolerates(t, taint); });
  });
}

bool MatchesSelector(const StringMap& labels, const StringMap& selector) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

}  // namespace gangsched::scheduler
