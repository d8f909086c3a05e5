#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <queue>
#include <set>
#include <tuple>

namespace gangsched::sim {
namespace {

using scheduler::ClusterState;

struct Event {
  std::int64_t time;
  int kind;  // 0 finish, 1 arrival: finishes at a moment free capacity before arrivals look at it
  std::size_t seq;
  std::size_t job;
  friend bool operator>(const Event& a, const Event& b) {
    return std::tie(a.time, a.kind, a.seq) > std::tie(b.time, b.kind, b.seq);
  }
};

// Per-job bookkeeping the report does not show.
struct JobRuntime {
  std::vector<std::pair<int, int>> pending;  // pods not bound yet, QuorumMembers() order
  std::vector<std::string> pod_uids;
  std::vector<std::size_t> nodes;              // node of every bound pod
  std::uint64_t tried_at = ~std::uint64_t{0};  // capacity generation of the last failed attempt
};

}  // namespace

bool NeverFits(const ClusterState& empty, const SimJob& job) {
  if (job.gpus > empty.TotalGpus()) return true;
  std::map<std::int64_t, std::int64_t> pods_by_gpus;
  for (const auto& role : job.gang.roles) {
    if (role.per_pod.gpus > 0) pods_by_gpus[role.per_pod.gpus] += role.replicas;
  }
  // Pods of g GPUs or more must find that many node slots of at least g GPUs.
  std::int64_t needed = 0;
  for (auto it = pods_by_gpus.rbegin(); it != pods_by_gpus.rend(); ++it) {
    needed += it->second;
    if (it->first > empty.capacity().max_gpus() ||
        empty.capacity().PodsThatFit(0, static_cast<int>(it->first)) < needed) {
      return true;
    }
  }
  return false;
}

const char* JobPhaseName(JobPhase phase) {
  switch (phase) {
    case JobPhase::kWaiting:
      return "waiting";
    case JobPhase::kPartial:
      return "partial";
    case JobPhase::kRunning:
      return "running";
    case JobPhase::kFinished:
      return "finished";
    case JobPhase::kRejected:
      return "rejected";
  }
  return "?";
}

tl::expected<Report, std::string> Simulate(std::vector<scheduler::Node> nodes,
                                           const std::vector<SimJob>& input, const Policy& policy,
                                           std::mt19937& rng, const SimOptions& options) {
  auto created = ClusterState::Create(std::move(nodes));
  if (!created) return tl::unexpected("cluster: " + created.error());
  ClusterState state = std::move(*created);
  const SpanMeter meter(state);
  const ClusterState& empty = meter.empty();
  const std::int64_t total_gpus = state.TotalGpus();

  std::vector<SimJob> jobs = input;
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.arrival < b.arrival; });

  Report report;
  report.summary.policy = std::string(policy.Name());
  report.jobs.resize(jobs.size());
  std::vector<JobRuntime> runtime(jobs.size());
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::size_t seq = 0;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    JobRecord& r = report.jobs[j];
    r.id = jobs[j].id;
    r.gpus = jobs[j].gpus;
    r.arrival = jobs[j].arrival;
    runtime[j].pending = jobs[j].gang.QuorumMembers();
    r.pods = static_cast<int>(runtime[j].pending.size());
    events.push({jobs[j].arrival, 1, seq++, j});
  }

  std::vector<std::size_t> waiting;  // arrival order
  std::uint64_t generation = 0;      // bumped whenever capacity is freed
  std::int64_t decisions = 0;
  std::int64_t now = jobs.empty() ? 0 : jobs.front().arrival;

  auto bind = [&](std::size_t j, const PodAssignment& a) {
    const auto& role = jobs[j].gang.roles[static_cast<std::size_t>(a.role)];
    scheduler::Pod pod;
    pod.uid = jobs[j].id + "/" + role.name + "/" + std::to_string(a.index);
    pod.namespace_name = "sim";
    pod.name = pod.uid;
    pod.requests = a.requests;
    pod.node_name = state.node(a.node).name;
    pod.phase = scheduler::PodPhase::kRunning;
    pod.gpu_ids = a.gpu_ids;
    state.AddPod(pod);
    runtime[j].pod_uids.push_back(pod.uid);
    runtime[j].nodes.push_back(a.node);
    JobRecord& r = report.jobs[j];
    ++r.placed_pods;
    r.placed_gpus += a.requests.gpus;
    auto& pending = runtime[j].pending;
    pending.erase(std::find(pending.begin(), pending.end(), std::make_pair(a.role, a.index)));
  };

  auto start = [&](std::size_t j) {
    JobRecord& r = report.jobs[j];
    r.placement = meter.Measure(runtime[j].nodes, r.gpus);
    const double factor = options.comm.Factor(jobs[j].gang.pattern, r.placement.span);
    r.run_time =
        std::max<std::int64_t>(1, std::llround(static_cast<double>(jobs[j].duration) * factor));
    r.start = now;
    r.phase = JobPhase::kRunning;
    events.push({now + r.run_time, 0, seq++, j});
  };

  // Gang policies: each waiting job in arrival order, whole or not at all (backfill).
  auto schedule_gangs = [&]() -> tl::expected<void, std::string> {
    for (std::size_t j : waiting) {
      JobRuntime& rt = runtime[j];
      JobRecord& r = report.jobs[j];
      if (rt.tried_at == generation) continue;  // nothing freed since it last failed
      rt.tried_at = generation;
      if (state.FreeGpus() < r.gpus) continue;
      ++decisions;
      const auto assignments = policy.Place(state, jobs[j].gang, rt.pending, rng);
      if (assignments.empty()) continue;
      if (assignments.size() != rt.pending.size()) {
        return tl::unexpected("policy " + report.summary.policy + " placed part of gang " + r.id);
      }
      // Hold, then commit: the bind barrier completes at once in simulated time.
      scheduler::Plan plan;
      plan.gang = jobs[j].gang.key;
      for (const auto& a : assignments) {
        const auto& role = jobs[j].gang.roles[static_cast<std::size_t>(a.role)];
        plan.pods.push_back(
            {a.role, role.name, a.index, state.node(a.node).name, {}, a.gpu_ids, a.requests});
      }
      state.Hold(plan);
      state.Release(plan.gang);
      for (const auto& a : assignments) bind(j, a);
      start(j);
    }
    return {};
  };

  // Per-pod policies: kube-scheduler's queue holds the pods of every waiting job, interleaved (pods
  // created together, retried together when capacity frees): one pod of each waiting job in turn,
  // round after round, until no pod fits. A job starts when its last pod is bound.
  auto schedule_pods = [&] {
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t j : waiting) {
        JobRuntime& rt = runtime[j];
        JobRecord& r = report.jobs[j];
        if (r.phase == JobPhase::kRunning || rt.tried_at == generation) continue;
        std::optional<PodAssignment> placed;
        std::set<int> roles_tried;            // pods of one role are alike: one try per role
        for (const auto& pod : rt.pending) {  // the first pending pod that fits somewhere
          if (!roles_tried.insert(pod.first).second) continue;
          ++decisions;
          auto a = policy.Place(state, jobs[j].gang, {pod}, rng);
          if (!a.empty()) {
            placed = std::move(a.front());
            break;
          }
        }
        if (!placed) {
          rt.tried_at = generation;
          continue;
        }
        bind(j, *placed);
        progress = true;
        if (rt.pending.empty()) {
          start(j);
        } else {
          r.phase = JobPhase::kPartial;
        }
      }
    }
  };

  auto schedule = [&]() -> tl::expected<void, std::string> {
    if (policy.IsGang()) {
      if (auto ok = schedule_gangs(); !ok) return ok;
    } else {
      schedule_pods();
    }
    std::erase_if(waiting,
                  [&](std::size_t j) { return report.jobs[j].phase == JobPhase::kRunning; });
    return {};
  };

  while (!events.empty()) {
    now = events.top().time;
    while (!events.empty() && events.top().time == now) {
      const Event e = events.top();
      events.pop();
      JobRecord& r = report.jobs[e.job];
      if (e.kind == 0) {
        for (const auto& uid : runtime[e.job].pod_uids) state.RemovePod(uid);
        r.finish = now;
        r.phase = JobPhase::kFinished;
        r.placed_pods = 0;
        r.placed_gpus = 0;
        ++generation;
      } else if (NeverFits(empty, jobs[e.job])) {
        r.phase = JobPhase::kRejected;
      } else {
        waiting.push_back(e.job);
      }
    }
    if (auto ok = schedule(); !ok) return tl::unexpected(ok.error());

    Sample s;
    s.time = now;
    for (std::size_t n = 0; n < state.node_count(); ++n) {
      const auto& u = state.usage(n);
      s.allocated_gpus += u.used.gpus + u.held.gpus;
      const std::int64_t free = state.Free(n).gpus;
      s.free_gpus += free;
      if (free < 8) s.fragmented_gpus += free;
    }
    for (std::size_t j : waiting) s.idle_partial_gpus += report.jobs[j].placed_gpus;
    for (const auto& r : report.jobs) s.running += r.phase == JobPhase::kRunning ? 1 : 0;
    s.waiting = static_cast<int>(waiting.size());
    report.samples.push_back(s);
    if (options.on_event) options.on_event({now, state, report.jobs});
  }

  report.summary.decisions = decisions;
  Summarize(report, now, total_gpus);
  return report;
}

void Summarize(Report& report, std::int64_t now, std::int64_t total_gpus) {
  Summary& sum = report.summary;
  sum.jobs = static_cast<int>(report.jobs.size());
  sum.end_time = now;
  std::vector<double> queue, jct;
  double nodes_total = 0, racks_total = 0, blocks_total = 0;
  int min_span = 0, min_nodes = 0;
  for (const auto& r : report.jobs) {
    if (r.phase == JobPhase::kRejected) {
      ++sum.rejected;
      continue;
    }
    if (r.phase == JobPhase::kFinished) {
      ++sum.finished;
    } else {
      ++sum.unfinished;
    }
    queue.push_back(static_cast<double>((r.start >= 0 ? r.start : now) - r.arrival));
    jct.push_back(static_cast<double>((r.finish >= 0 ? r.finish : now) - r.arrival));
    if (r.start >= 0 && r.gpus >= 2) {
      ++sum.multi_gpu_started;
      min_span += r.placement.min_span ? 1 : 0;
      min_nodes += r.placement.min_nodes ? 1 : 0;
      nodes_total += r.placement.nodes;
      racks_total += r.placement.racks;
      blocks_total += r.placement.blocks;
      ++sum.span_histogram[static_cast<std::size_t>(r.placement.span)];
    }
  }
  sum.mean_queue = Mean(queue);
  sum.p99_queue = Percentile(queue, 0.99);
  sum.mean_jct = Mean(jct);
  sum.p99_jct = Percentile(jct, 0.99);
  if (sum.multi_gpu_started > 0) {
    const double n = sum.multi_gpu_started;
    sum.min_span_share = min_span / n;
    sum.min_nodes_share = min_nodes / n;
    sum.mean_nodes = nodes_total / n;
    sum.mean_racks = racks_total / n;
    sum.mean_blocks = blocks_total / n;
  }
  std::int64_t first = now;
  for (const auto& r : report.jobs) first = std::min(first, r.arrival);
  double alloc = 0, busy = 0, idle = 0, frag = 0;
  for (std::size_t i = 0; i + 1 < report.samples.size(); ++i) {
    const Sample& s = report.samples[i];
    const auto dt = static_cast<double>(report.samples[i + 1].time - s.time);
    alloc += dt * static_cast<double>(s.allocated_gpus);
    busy += dt * static_cast<double>(s.allocated_gpus - s.idle_partial_gpus);
    idle += dt * static_cast<double>(s.idle_partial_gpus);
    frag += dt * static_cast<double>(s.fragmented_gpus);
  }
  for (const auto& s : report.samples) {
    sum.max_idle_partial_gpus = std::max(sum.max_idle_partial_gpus, s.idle_partial_gpus);
  }
  const double span = static_cast<double>(now - first);
  if (span > 0 && total_gpus > 0) {
    sum.allocation_rate = alloc / span / static_cast<double>(total_gpus);
    sum.busy_rate = busy / span / static_cast<double>(total_gpus);
    sum.mean_idle_partial_gpus = idle / span;
    sum.mean_fragmented_gpus = frag / span;
  }
}

}  // namespace gangsched::sim
