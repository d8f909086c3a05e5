// How long gangs wait (docs/metrics.md "Queueing delay"): from the moment gangsched knows a quorum
// of a gang's pods to the moment the whole gang is bound. Keeps the start per gang and the bounded
// label values it is reported under (namespaces capped, job kinds folded into a fixed set). Reads
// the engine through its views only; no clock (`now` comes from the service) and no lock (the
// service calls it under its own).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

// Not a valid namespace name (RFC 1123 labels have no '_'), so it cannot collide with one.
inline constexpr const char* kOtherNamespace = "_other";

// The job kind label: TFJob, PyTorchJob, MPIJob, PodGroup, plain or other, from GangStatus::kind
// ("TFJob kubeflow.org/v1", "coscheduling", "single-pod", ...).
std::string KindLabel(std::string_view kind);

class GangWaits {
 public:
  struct Wait {
    std::string namespace_label;
    std::string kind_label;
    scheduler::Millis waited = 0;  // from the quorum known to bound whole
  };

  // At most `max_namespaces` distinct namespaces are labelled by name (config
  // metrics.namespace_labels); the rest as kOtherNamespace.
  explicit GangWaits(std::size_t max_namespaces) : max_namespaces_(max_namespaces) {}

  // The engine was told about a member of `key` (a filter call): the gang's clock starts once a
  // quorum of its pods is known and its size is (a PodGroup's or job's pods wait for it), and is
  // dropped when fewer are known again (it starts over with the quorum).
  void Seen(const scheduler::GangScheduler& engine, const scheduler::GangKey& key,
            scheduler::Millis now);
  // Bindings of the gang were made: when it is bound whole now, its wait is over and returned.
  std::optional<Wait> Bound(const scheduler::GangScheduler& engine, const scheduler::GangKey& key,
                            scheduler::Millis now);
  // Forgets the gangs the engine no longer knows or that got bound otherwise; returns the longest
  // wait of the rest (0 when none waits).
  scheduler::Millis Sweep(const scheduler::GangScheduler& engine, scheduler::Millis now);
  std::size_t waiting() const { return started_.size(); }
  // `ns` itself while fewer than the cap of distinct namespaces have been labelled, else
  // kOtherNamespace. First come, first labelled; kept for the life of the process.
  std::string NamespaceLabel(const std::string& ns);

 private:
  struct Started {
    scheduler::Millis at = 0;
    std::string namespace_label;
    std::string kind_label;
  };
  std::map<scheduler::GangKey, Started> started_;
  std::set<std::string> namespaces_;
  std::size_t max_namespaces_;
  std::size_t sweep_above_ = 1024;  // Seen sweeps when more gangs than this are kept
};

}  // namespace gangsched::api
