// gangsched's Prometheus metrics (docs/metrics.md): requests and their latency by verb and outcome,
// planning time, gangs by phase, holds, the barrier, GPUs by state, span and fragmentation. Owns
// the registry; reads the engine only through its views.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "scheduler/gang_scheduler.h"

namespace gangsched::api {

struct ServiceMetrics {
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

  // Gauges of the engine's state now (gangs by phase, holds, GPUs, fragmentation).
  void Update(const scheduler::GangScheduler& engine, scheduler::Millis now);
  // The Prometheus text format of every metric.
  std::string Text() const;

  prometheus::Histogram& Latency(std::string_view verb, std::string_view outcome) {
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30, 120};
    return latency.Add({{"verb", std::string(verb)}, {"outcome", std::string(outcome)}}, kBuckets);
  }
};

}  // namespace gangsched::api
