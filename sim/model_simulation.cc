#include "sim/model_simulation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "sim/kube_profile.h"
#include "sim/peer_policies.h"

namespace gangsched::sim {
namespace {

// The training-operator creates parameter servers first, then chief and master, then the rest.
int CreationRank(const std::string& role) {
  if (role == "ps") return 0;
  if (role == "chief" || role == "master") return 1;
  return 2;
}

// One change to the cluster, for the time series (Sample).
struct Change {
  enum Kind : std::uint8_t { kFinish, kArrival, kPodBound, kJobStart };
  Millis time = 0;
  Kind kind = kArrival;
  std::size_t job = 0;  // index into the report's jobs
  int node = -1;
  std::int64_t gpus = 0;
  bool operator<(const Change& o) const {
    return std::tie(time, kind, job) < std::tie(o.time, o.kind, o.job);
  }
};

// The samples of a run, from the pods' bound times and the jobs' start and finish times:
// finishes free capacity before arrivals and binds at the same moment, as in Simulate().
std::vector<Sample> Samples(const std::vector<Change>& changes, std::size_t jobs,
                            const scheduler::ClusterState& empty, Millis end) {
  std::vector<std::int64_t> used(empty.node_count(), 0);
  std::vector<std::int64_t> job_gpus(jobs, 0);
  std::vector<bool> started(jobs, false);
  std::int64_t allocated = 0, idle = 0;
  int running = 0, waiting = 0;
  std::vector<Sample> out;
  auto sample = [&](Millis at) {
    Sample s;
    s.time = at / 1000;
    s.allocated_gpus = allocated;
    s.idle_partial_gpus = idle;
    for (std::size_t n = 0; n < used.size(); ++n) {
      const std::int64_t free = empty.node(n).allocatable.gpus - used[n];
      s.free_gpus += free;
      if (free < 8) s.fragmented_gpus += free;
    }
    s.running = running;
    s.waiting = waiting;
    // Within one second only the last state carries weight: keep one sample a second.
    if (!out.empty() && out.back().time == s.time) {
      out.back() = s;
    } else {
      out.push_back(s);
    }
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Change& c = changes[i];
    switch (c.kind) {
      case Change::kFinish:
        if (c.node < 0) {
          --running;  // the job's own record
        } else {
          used[static_cast<std::size_t>(c.node)] -= c.gpus;
          allocated -= c.gpus;
        }
        break;
      case Change::kArrival:
        ++waiting;
        break;
      case Change::kPodBound:
        used[static_cast<std::size_t>(c.node)] += c.gpus;
        allocated += c.gpus;
        job_gpus[c.job] += c.gpus;
        if (!started[c.job]) idle += c.gpus;
        break;
      case Change::kJobStart:
        started[c.job] = true;
        idle -= job_gpus[c.job];
        ++running;
        --waiting;
        break;
    }
    if (i + 1 == changes.size() || changes[i + 1].time != c.time) sample(c.time);
  }
  if (out.empty() || out.back().time < end / 1000) sample(end);
  return out;
}

}  // namespace

std::vector<std::string> ModelPolicyNames() {
  std::vector<std::string> names = {"gangsched", "binpack", "default-scheduler", "coscheduling"};
  for (std::string& peer : PeerPolicyNames()) names.push_back(std::move(peer));
  return names;
}

WorkloadJob ToWorkload(const SimJob& job, Millis role_delay, Millis pod_delay) {
  WorkloadJob w;
  w.id = job.id;
  w.arrival = job.arrival * 1000;
  w.duration = job.duration * 1000;
  w.role_delay = role_delay;
  w.pod_delay = pod_delay;
  w.priority = job.gang.priority;
  // A one-pod job is a plain pod (the engine makes it a gang of one); the rest carry the gang
  // annotations and role labels.
  w.gang = job.gang.TotalReplicas() > 1;
  std::vector<const scheduler::RoleSpec*> roles;
  for (const auto& role : job.gang.roles) roles.push_back(&role);
  std::stable_sort(roles.begin(), roles.end(), [](const auto* a, const auto* b) {
    return CreationRank(a->name) < CreationRank(b->name);
  });
  std::map<std::string, int> seen;
  for (const scheduler::RoleSpec* role : roles) {
    if (role->replicas <= 0) continue;
    std::string name = role->name;
    if (const int n = ++seen[name]; n > 1) name += "-" + std::to_string(n);
    scheduler::Resources requests = role->per_pod;
    requests.pods = 1;
    w.roles.push_back({w.gang ? name : "", role->replicas, requests});
  }
  if (!job.gang.roles.empty()) {
    w.tolerations = job.gang.roles.front().tolerations;
    w.node_selector = job.gang.roles.front().node_selector;
  }
  return w;
}

tl::expected<Report, std::string> SimulateOnModel(std::vector<scheduler::Node> nodes,
                                                  const std::vector<SimJob>& input,
                                                  std::string_view policy,
                                                  const ModelSimOptions& options) {
  auto created = scheduler::ClusterState::Create(nodes);
  if (!created) return tl::unexpected("cluster: " + created.error());
  const SpanMeter meter(std::move(*created));
  const scheduler::ClusterState& empty = meter.empty();

  KubeModelOptions mo = options.model;
  mo.seed = options.seed;
  mo.nudges = true;
  // Liveness is the soak's to judge (its fit check per event is too slow for a whole trace);
  // every safety invariant is checked.
  mo.invariants.liveness = false;
  if (policy != "gangsched") {
    mo.profile = MakeKubeProfile(policy);
    if (!mo.profile) {
      return tl::unexpected("policy " + std::string(policy) +
                            " has no kube-scheduler model (use --engine planner)");
    }
    // Per-pod baselines bind part of a gang by design; coscheduling and the peers that place
    // groups bind a job whole.
    mo.invariants.whole_gangs = mo.profile->Groups() || mo.profile->PlacesGroups();
  }

  std::vector<SimJob> jobs = input;
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.arrival < b.arrival; });
  Report report;
  report.summary.policy = std::string(policy);
  report.summary.engine = "kube-scheduler-model";
  report.jobs.resize(jobs.size());
  std::vector<WorkloadJob> workload;
  std::vector<std::size_t> record_of;  // model job -> report job
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    JobRecord& r = report.jobs[j];
    r.id = jobs[j].id;
    r.gpus = jobs[j].gpus;
    r.pods = jobs[j].gang.TotalReplicas();
    r.arrival = jobs[j].arrival;
    if (NeverFits(empty, jobs[j])) {
      r.phase = JobPhase::kRejected;
      continue;
    }
    record_of.push_back(j);
    workload.push_back(ToWorkload(jobs[j], options.role_delay, options.pod_delay));
  }
  // A job's run time: its trace duration times the communication factor of its span.
  mo.run_time = [&](int job, const std::vector<std::size_t>& used) {
    const SimJob& sj = jobs[record_of[static_cast<std::size_t>(job)]];
    const double factor = options.comm.Factor(sj.gang.pattern, meter.Measure(used, sj.gpus).span);
    return std::max<Millis>(1, std::llround(static_cast<double>(sj.duration) * 1000.0 * factor));
  };

  auto made = KubeSchedulerModel::Create(nodes, workload, mo);
  if (!made) return tl::unexpected("cluster: " + made.error());
  KubeSchedulerModel& model = **made;
  const RunResult run =
      model.RunUntil([&] { return !model.Busy(); }, std::numeric_limits<Millis>::max());
  if (run.violation) return tl::unexpected("kube-scheduler model: " + *run.violation);

  std::unordered_map<std::string, int> node_index;
  for (std::size_t n = 0; n < nodes.size(); ++n) node_index[nodes[n].name] = static_cast<int>(n);
  const std::vector<JobOutcome> outcomes = model.Jobs();
  std::vector<Change> changes;
  std::vector<double> to_bound;
  for (std::size_t k = 0; k < outcomes.size(); ++k) {
    const JobOutcome& o = outcomes[k];
    const std::size_t j = record_of[k];
    JobRecord& r = report.jobs[j];
    std::map<std::string, std::int64_t> gpus_of;  // per role
    for (const RoleTemplate& role : workload[k].roles) gpus_of[role.name] = role.requests.gpus;
    changes.push_back({workload[k].arrival, Change::kArrival, j});
    std::vector<std::size_t> used;
    for (const PodOutcome& pod : o.pods) {
      if (pod.bound < 0 || pod.node.empty()) continue;
      const int n = node_index.at(pod.node);
      const std::int64_t g = gpus_of[pod.role];
      used.push_back(static_cast<std::size_t>(n));
      ++r.placed_pods;
      r.placed_gpus += g;
      changes.push_back({pod.bound, Change::kPodBound, j, n, g});
      if (o.finished >= 0) changes.push_back({o.finished, Change::kFinish, j, n, g});
    }
    r.last_created_ms = o.last_created;
    r.bound_ms = o.bound;
    if (o.bound < 0) {
      r.phase = r.placed_pods > 0 ? JobPhase::kPartial : JobPhase::kWaiting;
      continue;
    }
    changes.push_back({o.bound, Change::kJobStart, j});
    if (o.last_created >= 0)
      to_bound.push_back(static_cast<double>(o.bound - o.last_created) / 1e3);
    r.placement = meter.Measure(used, r.gpus);
    r.start = o.bound / 1000;
    r.run_time = (o.run_time + 500) / 1000;
    r.phase = JobPhase::kRunning;
    if (o.finished >= 0) {
      r.finish = o.finished / 1000;
      r.phase = JobPhase::kFinished;
      r.placed_pods = 0;
      r.placed_gpus = 0;
      changes.push_back({o.finished, Change::kFinish, j});
    }
  }
  std::sort(changes.begin(), changes.end());
  report.samples = Samples(changes, jobs.size(), empty, model.now());
  Summarize(report, model.now() / 1000, empty.TotalGpus());

  Summary& sum = report.summary;
  const ModelStats& stats = model.stats();
  sum.decisions = stats.cycles;
  sum.gangs_bound = static_cast<int>(to_bound.size());
  sum.p50_gang_bound = Percentile(to_bound, 0.5);
  sum.p99_gang_bound = Percentile(to_bound, 0.99);
  RunCounters& c = sum.counters;
  if (model.engine() == nullptr) {
    c.notes.push_back("no extender: kube-scheduler alone has no holds, plans, nudges or drains");
    return report;
  }
  // The engine's own counts (simulate injects no faults, so one engine ran the whole trace).
  const scheduler::EngineCounters& engine = model.engine()->counters();
  c.hold_expiries = engine.hold_expiries;
  c.replans = engine.replans;
  c.preemptions = stats.preemptions;
  c.drains = engine.drains;
  c.nudges = stats.nudges;
  c.notes.push_back(
      "nudges: parked pods the model requeued when kube/notifier.cc would nudge them (its rules "
      "for when, not its events)");
  c.notes.push_back(
      "preemptions: kube-scheduler's preemptions through the extender's preempt "
      "verb (" +
      std::to_string(stats.victims) + " pods evicted; the engine reserved " +
      std::to_string(engine.victim_plans) + " gang-wide victim plans)");
  return report;
}

}  // namespace gangsched::sim
