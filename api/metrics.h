// gangsched's Prometheus metrics (docs/metrics.md): requests and their latency by verb and outcome,
// planning time, gangs by phase, holds, the barrier, GPUs by state, span and fragmentation, and
// the placement metrics a platform team alerts on (queueing delay, span by level, NVLink locality,
// the engine's plans, expiries, victim plans and drains). Owns the registry; reads the engine only
// through its views.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/gang_waits.h"
#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

struct ServiceMetrics {
  // `namespace_labels`: distinct namespaces the queueing delay is labelled with (GangWaits).
  explicit ServiceMetrics(std::size_t namespace_labels) : waits(namespace_labels) {}

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
  prometheus::Family<prometheus::Histogram>& queueing_delay =
      prometheus::BuildHistogram()
          .Name("gangsched_gang_queueing_delay_seconds")
          .Help(
              "From a quorum of a gang's pods known to the whole gang bound, by namespace and job "
              "kind")
          .Register(*registry);
  prometheus::Gauge& longest_wait =
      prometheus::BuildGauge()
          .Name("gangsched_gang_longest_wait_seconds")
          .Help("Longest wait so far of a gang whose quorum of pods is known and not bound whole")
          .Register(*registry)
          .Add({});
  prometheus::Gauge& partly_bound =
      prometheus::BuildGauge()
          .Name("gangsched_partly_bound_gangs")
          .Help("Gangs with some but fewer than their quorum of members bound")
          .Register(*registry)
          .Add({});
  prometheus::Family<prometheus::Counter>& span =
      prometheus::BuildCounter()
          .Name("gangsched_gang_span_total")
          .Help("Gangs released to bind by the narrowest level that holds all of their pods")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& nvlink =
      prometheus::BuildCounter()
          .Name("gangsched_gpu_set_nvlink_total")
          .Help("GPU sets of gangs released to bind (one per gang and node) by NVLink locality")
          .Register(*registry);
  prometheus::Counter& plans = prometheus::BuildCounter()
                                   .Name("gangsched_plans_total")
                                   .Help("Plans committed (a hold started on them)")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Counter& replans =
      prometheus::BuildCounter()
          .Name("gangsched_replans_total")
          .Help("Plans committed for a gang that had been planned before")
          .Register(*registry)
          .Add({});
  prometheus::Counter& hold_expiries =
      prometheus::BuildCounter()
          .Name("gangsched_hold_expiries_total")
          .Help("Holds that expired before their gang bound (capacity released)")
          .Register(*registry)
          .Add({});
  prometheus::Counter& victim_plans =
      prometheus::BuildCounter()
          .Name("gangsched_victim_plans_total")
          .Help("Gang-wide preemptions: victim plans reserved for a gang that did not fit")
          .Register(*registry)
          .Add({});
  prometheus::Counter& drains = prometheus::BuildCounter()
                                    .Name("gangsched_drains_total")
                                    .Help("Drain reservations started for gangs that waited long")
                                    .Register(*registry)
                                    .Add({});
  GangWaits waits;

  // Gauges of the engine's state now (gangs by phase, holds, GPUs, fragmentation, waits) and its
  // counters.
  void Update(const scheduler::GangScheduler& engine, scheduler::Millis now);
  // The gang's plan was released to bind: its span and the NVLink locality of its GPU sets.
  void Released(const scheduler::Plan& plan, const scheduler::ClusterState& state);
  // Its Bindings were made: observes its queueing delay when it is bound whole now.
  void Bound(const scheduler::GangScheduler& engine, const scheduler::GangKey& gang,
             scheduler::Millis now);
  // The Prometheus text format of every metric.
  std::string Text() const;

  prometheus::Histogram& Latency(std::string_view verb, std::string_view outcome) {
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30, 120};
    return latency.Add({{"verb", std::string(verb)}, {"outcome", std::string(outcome)}}, kBuckets);
  }
};

// The NVLink locality of a GPU set on one node: "all" (every pair joined by NVLink), "partial",
// "none" (no pair; also a node without a GPU matrix) or "one_gpu" (no pairs).
std::string_view NvlinkLocality(const topology::GpuTopology& gpus, const std::vector<int>& ids);

}  // namespace gangsched::api
