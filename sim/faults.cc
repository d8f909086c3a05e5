#include "sim/faults.h"

namespace gangsched::sim {

namespace {

std::uint64_t Hash(std::uint64_t seed, const std::string& what) {
  std::uint64_t h = 1469598103934665603ULL ^ seed;
  for (const char c : what) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  // splitmix64's finaliser spreads FNV's low-entropy high bits.
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace

const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kBindingRejected:
      return "binding-rejected";
    case FaultKind::kWatchDelayed:
      return "watch-delayed";
    case FaultKind::kNodeDeleted:
      return "node-deleted";
    case FaultKind::kNodeCordoned:
      return "node-cordoned";
    case FaultKind::kPodRecreated:
      return "pod-recreated";
    case FaultKind::kGangschedRestart:
      return "gangsched-restart";
    case FaultKind::kKubeSchedulerRestart:
      return "kube-scheduler-restart";
  }
  return "?";
}

bool FaultOptions::Any() const {
  return binding_rejected > 0 || watch_delayed > 0 || node_deleted_every > 0 ||
         node_cordoned_every > 0 || pod_recreated_every > 0 || gangsched_restart_every > 0 ||
         kube_scheduler_restart_every > 0;
}

FaultOptions FaultOptions::All(double scale) {
  // At scale 1, on the soak's busy 64-GPU cluster: a few failed Bindings and late watch events
  // per gang's life, a node fault every few minutes, a restart of each process every half hour.
  auto every = [&](Millis mean) { return static_cast<Millis>(static_cast<double>(mean) / scale); };
  FaultOptions f;
  f.binding_rejected = 0.02 * scale;
  f.watch_delayed = 0.05 * scale;
  f.node_deleted_every = every(600'000);
  f.node_cordoned_every = every(300'000);
  f.pod_recreated_every = every(120'000);
  f.gangsched_restart_every = every(1'800'000);
  f.kube_scheduler_restart_every = every(1'800'000);
  return f;
}

double FaultDraw(std::uint64_t seed, const std::string& what) {
  return static_cast<double>(Hash(seed, what) >> 11) * 0x1.0p-53;
}

std::size_t FaultPick(std::uint64_t seed, const std::string& what, std::size_t n) {
  return static_cast<std::size_t>(Hash(seed, what) % n);
}

}  // namespace gangsched::sim
