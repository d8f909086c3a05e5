#include "cli/simulate_command.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <tl/expected.hpp>

#include "cli/exit_codes.h"
#include "config/config.h"
#include "k8s/cluster_file.h"
#include "sim/cluster_builder.h"
#include "sim/model_simulation.h"
#include "sim/peer_policies.h"
#include "sim/simulator.h"
#include "sim/trace.h"

namespace gangsched::cli {

using k8s::DecodeClusterFile;
namespace {

struct SimulateArgs {
  std::string cluster;
  std::string trace;
  std::string durations;
  std::string policy = "gangsched";
  std::string engine = "model";
  std::string output = "json";
  sim::PodShape shape = sim::PodShape::kPacked;
  unsigned seed = 1;
  sim::RackLayout layout;
  std::size_t max_jobs = 0;  // 0: all
  std::size_t jobs = 0;      // 0: the trace's own count; more repeats the trace (sim::RepeatTrace)
  double load = 0;           // 0: arrivals as in the trace; else the offered load to scale to
  sim::LoadBasis load_basis = sim::LoadBasis::kSpan;
  std::size_t samples = 400;
  std::string config;  // gangsched's config file: the engine's settings, as `serve --config`
  bool help = false;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

tl::expected<std::int64_t, std::string> ParseCount(const std::string& flag, const std::string& v) {
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  return tl::unexpected(flag + " needs a non-negative integer, not \"" + v + "\"");
}

tl::expected<SimulateArgs, std::string> ParseArgs(const std::vector<std::string>& args) {
  SimulateArgs parsed;
  std::map<std::string, std::string> values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "-h" || flag == "--help") {
      parsed.help = true;
      continue;
    }
    std::string value;
    if (auto eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return tl::unexpected(flag + " needs a value (gangsched simulate --help)");
    }
    values[flag] = value;
  }
  if (parsed.help) return parsed;
  for (const auto& [flag, value] : values) {
    if (flag == "--cluster") {
      parsed.cluster = value;
    } else if (flag == "--trace") {
      parsed.trace = value;
    } else if (flag == "--durations") {
      parsed.durations = value;
    } else if (flag == "--policy") {
      const auto names = sim::PolicyNames();
      const auto peers = sim::PeerPolicyNames();
      if (value != "all" && value != "coscheduling" &&
          std::find(names.begin(), names.end(), value) == names.end() &&
          std::find(peers.begin(), peers.end(), value) == peers.end()) {
        std::string all;
        for (const auto& n : names) all += n + ", ";
        all += "coscheduling, ";
        for (const auto& n : peers) all += n + ", ";
        return tl::unexpected("unknown policy \"" + value + "\"; the policies are " + all + "all");
      }
      parsed.policy = value;
    } else if (flag == "--engine") {
      if (value != "model" && value != "planner") {
        return tl::unexpected("--engine must be model or planner, not \"" + value + "\"");
      }
      parsed.engine = value;
    } else if (flag == "--output" || flag == "-o") {
      if (value != "json" && value != "csv") {
        return tl::unexpected("--output must be json or csv, not \"" + value + "\"");
      }
      parsed.output = value;
    } else if (flag == "--config") {
      parsed.config = value;
    } else if (flag == "--load") {
      try {
        std::size_t used = 0;
        parsed.load = std::stod(value, &used);
        if (used != value.size()) parsed.load = -1;
      } catch (const std::exception&) {
        parsed.load = -1;
      }
      if (!(parsed.load > 0 && parsed.load <= 10)) {
        return tl::unexpected("--load needs an offered load above 0 (e.g. 0.75 for 75%), not \"" +
                              value + "\"");
      }
    } else if (flag == "--load-basis") {
      auto basis = sim::ParseLoadBasis(value);
      if (!basis) return tl::unexpected(basis.error());
      parsed.load_basis = *basis;
    } else if (flag == "--shape") {
      auto shape = sim::ParsePodShape(value);
      if (!shape) return tl::unexpected(shape.error());
      parsed.shape = *shape;
    } else {
      auto n = ParseCount(flag, value);
      if (!n) return tl::unexpected(n.error());
      if (flag == "--seed") {
        parsed.seed = static_cast<unsigned>(*n);
      } else if (flag == "--nodes-per-rack" && *n > 0) {
        parsed.layout.nodes_per_rack = static_cast<int>(*n);
      } else if (flag == "--racks-per-block" && *n > 0) {
        parsed.layout.racks_per_block = static_cast<int>(*n);
      } else if (flag == "--max-gpus") {
        parsed.layout.max_gpus = *n;
      } else if (flag == "--max-jobs") {
        parsed.max_jobs = static_cast<std::size_t>(*n);
      } else if (flag == "--jobs" && *n > 0) {
        parsed.jobs = static_cast<std::size_t>(*n);
      } else if (flag == "--samples" && *n > 1) {
        parsed.samples = static_cast<std::size_t>(*n);
      } else {
        return tl::unexpected("unknown or invalid option " + flag + " for simulate");
      }
    }
  }
  if (const auto peers = sim::PeerPolicyNames();
      parsed.engine == "planner" &&
      (parsed.policy == "coscheduling" ||
       std::find(peers.begin(), peers.end(), parsed.policy) != peers.end())) {
    return tl::unexpected("policy " + parsed.policy + " runs on the model only (--engine model)");
  }
  if (parsed.cluster.empty() || parsed.trace.empty()) {
    return tl::unexpected(std::string("simulate needs --cluster FILE and --trace FILE"));
  }
  return parsed;
}

// Running pods of a NodeList inventory are not replayed (the trace is the workload); their count
// goes to `ignored_pods` so the command can say so.
tl::expected<std::vector<scheduler::Node>, std::string> LoadCluster(const SimulateArgs& args,
                                                                    std::size_t& ignored_pods) {
  if (auto spec = sim::ClusterFromSpec(args.cluster)) return std::move(*spec);
  if (EndsWith(args.cluster, ".csv")) {
    std::ifstream in(args.cluster);
    if (!in) return tl::unexpected(args.cluster + ": cannot read the file");
    return sim::ReadAlibabaNodes(in, args.cluster, args.layout);
  }
  auto decoded = DecodeClusterFile(args.cluster);
  if (!decoded) return tl::unexpected(decoded.error().ToString());
  ignored_pods = decoded->pods.size();
  return std::move(decoded->nodes);
}

tl::expected<std::vector<sim::SimJob>, std::string> LoadTrace(const SimulateArgs& args,
                                                              std::mt19937& rng) {
  std::ifstream in(args.trace);
  if (!in) return tl::unexpected(args.trace + ": cannot read the file");
  std::vector<sim::SimJob> jobs;
  if (EndsWith(args.trace, ".csv")) {
    if (args.jobs > 0) {
      return tl::unexpected(args.trace + ": --jobs repeats gavel .trace files only");
    }
    auto read = sim::ReadGenericCsv(in, args.trace);
    if (!read) return tl::unexpected(read.error());
    jobs = std::move(*read);
  } else {
    auto records = sim::ReadGavelTrace(in, args.trace);
    if (!records) return tl::unexpected(records.error());
    if (args.durations.empty()) {
      return tl::unexpected(args.trace +
                            ": a gavel trace has no durations; pass --durations "
                            "philly_job_distribution.csv (shared/data/gavel/)");
    }
    std::ifstream din(args.durations);
    if (!din) return tl::unexpected(args.durations + ": cannot read the file");
    auto sampler = sim::DurationSampler::FromCsv(din, args.durations);
    if (!sampler) return tl::unexpected(sampler.error());
    std::string name = args.trace.substr(args.trace.find_last_of('/') + 1);
    for (auto& r : *records) r.id = name.substr(0, name.find('.')) + r.id.substr(r.id.rfind('-'));
    if (args.jobs > 0) *records = sim::RepeatTrace(*records, args.jobs);
    jobs = sim::JobsFromTrace(*records, args.shape, *sampler, rng);
  }
  if (args.max_jobs > 0 && jobs.size() > args.max_jobs) jobs.resize(args.max_jobs);
  return jobs;
}

nlohmann::json Count(const std::optional<std::int64_t>& n) {
  return n ? nlohmann::json(*n) : nlohmann::json(nullptr);
}

std::string CsvCount(const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : ""; }

nlohmann::json SummaryJson(const sim::Summary& s) {
  const sim::RunCounters& c = s.counters;
  return {{"policy", s.policy},
          {"engine", s.engine},
          {"gangs_bound", s.gangs_bound},
          {"p50_gang_bound_s", s.p50_gang_bound},
          {"p99_gang_bound_s", s.p99_gang_bound},
          {"counters",
           {{"hold_expiries", Count(c.hold_expiries)},
            {"replans", Count(c.replans)},
            {"nudges", Count(c.nudges)},
            {"preemptions", Count(c.preemptions)},
            {"drains", Count(c.drains)},
            {"notes", c.notes}}},
          {"jobs", s.jobs},
          {"finished", s.finished},
          {"unfinished", s.unfinished},
          {"rejected", s.rejected},
          {"end_time_s", s.end_time},
          {"mean_queue_s", s.mean_queue},
          {"p99_queue_s", s.p99_queue},
          {"mean_jct_s", s.mean_jct},
          {"p99_jct_s", s.p99_jct},
          {"allocation_rate", s.allocation_rate},
          {"busy_rate", s.busy_rate},
          {"mean_idle_partial_gpus", s.mean_idle_partial_gpus},
          {"max_idle_partial_gpus", s.max_idle_partial_gpus},
          {"mean_fragmented_gpus", s.mean_fragmented_gpus},
          {"multi_gpu_started", s.multi_gpu_started},
          {"min_span_share", s.min_span_share},
          {"min_nodes_share", s.min_nodes_share},
          {"mean_nodes", s.mean_nodes},
          {"mean_racks", s.mean_racks},
          {"mean_blocks", s.mean_blocks},
          {"span_histogram",
           {{"node", s.span_histogram[0]},
            {"rack", s.span_histogram[1]},
            {"block", s.span_histogram[2]},
            {"cross-block", s.span_histogram[3]}}},
          {"decisions", s.decisions}};
}

constexpr const char* kCsvHeader =
    "policy,jobs,finished,unfinished,rejected,mean_queue_s,p99_queue_s,mean_jct_s,p99_jct_s,"
    "allocation_rate,busy_rate,mean_idle_partial_gpus,max_idle_partial_gpus,mean_fragmented_gpus,"
    "multi_gpu_started,min_span_share,min_nodes_share,mean_nodes,mean_racks,mean_blocks,"
    "decisions,engine,gangs_bound,p50_gang_bound_s,p99_gang_bound_s,hold_expiries,replans,nudges,"
    "preemptions,drains,decisions_per_second";

void CsvRow(std::ostream& out, const sim::Summary& s, double decisions_per_second) {
  out << s.policy << "," << s.jobs << "," << s.finished << "," << s.unfinished << "," << s.rejected
      << "," << s.mean_queue << "," << s.p99_queue << "," << s.mean_jct << "," << s.p99_jct << ","
      << s.allocation_rate << "," << s.busy_rate << "," << s.mean_idle_partial_gpus << ","
      << s.max_idle_partial_gpus << "," << s.mean_fragmented_gpus << "," << s.multi_gpu_started
      << "," << s.min_span_share << "," << s.min_nodes_share << "," << s.mean_nodes << ","
      << s.mean_racks << "," << s.mean_blocks << "," << s.decisions << "," << s.engine << ","
      << s.gangs_bound << "," << s.p50_gang_bound << "," << s.p99_gang_bound << ","
      << CsvCount(s.counters.hold_expiries) << "," << CsvCount(s.counters.replans) << ","
      << CsvCount(s.counters.nudges) << "," << CsvCount(s.counters.preemptions) << ","
      << CsvCount(s.counters.drains) << "," << decisions_per_second << "\n";
}

nlohmann::json RunJson(const sim::Report& report, double seconds, std::size_t max_samples) {
  nlohmann::json run;
  run["summary"] = SummaryJson(report.summary);
  run["speed"] = {{"wall_seconds", seconds},
                  {"decisions_per_second",
                   seconds > 0 ? static_cast<double>(report.summary.decisions) / seconds : 0.0}};
  nlohmann::json samples = nlohmann::json::array();
  const std::size_t stride = std::max<std::size_t>(1, report.samples.size() / max_samples);
  for (std::size_t i = 0; i < report.samples.size(); i += stride) {
    const auto& s = report.samples[i];
    samples.push_back({s.time, s.allocated_gpus, s.idle_partial_gpus, s.free_gpus,
                       s.fragmented_gpus, s.running, s.waiting});
  }
  run["samples_columns"] = {"time_s",    "allocated_gpus",  "idle_partial_gpus",
                            "free_gpus", "fragmented_gpus", "running",
                            "waiting"};
  run["samples"] = std::move(samples);
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& j : report.jobs) {
    jobs.push_back({{"id", j.id},
                    {"gpus", j.gpus},
                    {"pods", j.pods},
                    {"arrival_s", j.arrival},
                    {"start_s", j.start},
                    {"finish_s", j.finish},
                    {"run_time_s", j.run_time},
                    {"phase", sim::JobPhaseName(j.phase)},
                    {"nodes", j.placement.nodes},
                    {"racks", j.placement.racks},
                    {"blocks", j.placement.blocks},
                    {"span", sim::SpanClassName(j.placement.span)},
                    {"min_span", j.placement.min_span},
                    {"gang_bound_s",
                     j.bound_ms >= 0 && j.last_created_ms >= 0
                         ? nlohmann::json(static_cast<double>(j.bound_ms - j.last_created_ms) / 1e3)
                         : nlohmann::json(nullptr)}});
  }
  run["jobs"] = std::move(jobs);
  return run;
}

}  // namespace

const char* SimulateUsage() {
  return "usage: gangsched simulate --cluster FILE --trace FILE [--policy NAME|all]\n"
         "                          [--engine model|planner] [--output json|csv] [--seed N]\n"
         "  --cluster FILE   a NodeList (kubectl get nodes -o yaml|json), an Alibaba node list\n"
         "                   (*.csv: openb_node_list_*.csv or pai_machine_spec.csv), or "
         "gen:BxRxNxG\n"
         "                   (several node shapes rack by rack: gen:2x8x8x8+4), or fat:GPUS (a\n"
         "                   fat tree of 8-GPU and 4-GPU racks, GPUS a multiple of 512)\n"
         "  --trace FILE     a gavel/Philly *.trace, or a generic CSV (job,arrival_s,duration_s,\n"
         "                   "
         "pattern,role,replicas,gpus_per_pod,milli_cpu_per_pod,memory_mib_per_pod)\n"
         "  --durations FILE philly_job_distribution.csv (needed for .trace files)\n"
         "  --shape packed|ps-workers   how a trace job of g GPUs becomes pods (default packed)\n"
         "  --policy NAME    gangsched (default), gang-binpack, binpack, default-scheduler,\n"
         "                   coscheduling, or a topology-aware peer (model only): kueue-tas,\n"
         "                   kueue-tas-preferred, volcano-hypernode, kai, native-tas,\n"
         "                   gang-binpack-model; all: the first four and the peers\n"
         "  --engine model   (default) a model of kube-scheduler's queue and cycles: gangsched is\n"
         "                   the real engine as its extender, binpack and default-scheduler are\n"
         "                   kube-scheduler alone, coscheduling is kube-scheduler with the\n"
         "                   coscheduling plugin, the peers place a whole job in a group\n"
         "                   cycle; gang-binpack has no model: it runs on the planner\n"
         "  --engine planner the planner-only replay (no kube-scheduler; not coscheduling or\n"
         "                   the peers)\n"
         "  --nodes-per-rack N, --racks-per-block N, --max-gpus N   layout of Alibaba node lists\n"
         "  --max-jobs N     replay only the first N jobs;  --samples N  time-series points "
         "(400)\n"
         "  --jobs N         replay N jobs of a .trace: the trace, then again as often as needed\n"
         "                   (each copy one arrival span later, durations sampled anew)\n"
         "  --load X         scale arrival times so the offered load is X (e.g. 0.75):\n"
         "                   sum(GPUs x duration) / (cluster GPUs x arrival span)\n"
         "  --load-basis span|window   what --load counts: all of each job's work (span, the\n"
         "                   default) or only its work before the last arrival (window)\n"
         "  --config FILE    gangsched's config file (as serve --config): the engine's holds,\n"
         "                   planner and drain settings for policy gangsched on the model\n";
}

int RunSimulate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArgs(args);
  if (!parsed) {
    return BadInput(err, parsed.error());
  }
  if (parsed->help) {
    out << SimulateUsage();
    return kExitOk;
  }
  std::size_t ignored_pods = 0;
  auto nodes = LoadCluster(*parsed, ignored_pods);
  if (!nodes) {
    return BadInput(err, nodes.error());
  }
  std::int64_t total_gpus = 0;
  for (const auto& n : *nodes) total_gpus += n.allocatable.gpus;
  std::mt19937 trace_rng(parsed->seed);
  auto jobs = LoadTrace(*parsed, trace_rng);
  if (!jobs) {
    return BadInput(err, jobs.error());
  }
  // Offered load (sim::OfferedLoad) before and after scaling to --load.
  const double trace_load = sim::OfferedLoad(*jobs, total_gpus, parsed->load_basis);
  double arrival_scale = 1;
  if (parsed->load > 0) {
    if (trace_load <= 0) {
      return BadInput(err, parsed->trace + ": --load needs jobs arriving at more than one time");
    }
    auto scale = sim::ScaleToLoad(*jobs, total_gpus, parsed->load, parsed->load_basis);
    if (!scale) return BadInput(err, parsed->trace + ": --load: " + scale.error());
    arrival_scale = *scale;
  }
  std::int64_t first_arrival = jobs->empty() ? 0 : jobs->front().arrival;
  std::int64_t last_arrival = first_arrival;
  for (const auto& j : *jobs) {
    first_arrival = std::min(first_arrival, j.arrival);
    last_arrival = std::max(last_arrival, j.arrival);
  }
  std::vector<std::string> policies = {parsed->policy};
  if (parsed->policy == "all") {
    // The planner's policies, and on the model the peers (coscheduling is too slow for `all`).
    policies = sim::PolicyNames();
    if (parsed->engine == "model") {
      for (auto& peer : sim::PeerPolicyNames()) policies.push_back(std::move(peer));
    }
  }
  scheduler::EngineOptions engine = sim::ModelSimOptions{}.model.engine;
  if (!parsed->config.empty()) {
    auto config = config::LoadConfigFile(parsed->config);
    if (!config) return BadInput(err, config.error());
    engine = config::EngineOptionsFrom(*config);
  }

  nlohmann::json doc;
  doc["cluster"] = {{"source", parsed->cluster},
                    {"nodes", nodes->size()},
                    {"gpus", total_gpus},
                    {"nodes_per_rack", parsed->layout.nodes_per_rack},
                    {"racks_per_block", parsed->layout.racks_per_block}};
  doc["trace"] = {
      {"source", parsed->trace},
      {"jobs", jobs->size()},
      {"shape", sim::PodShapeName(parsed->shape)},
      {"offered_load", sim::OfferedLoad(*jobs, total_gpus, parsed->load_basis)},
      {"load_basis", sim::LoadBasisName(parsed->load_basis)},
      {"offered_load_span", sim::OfferedLoad(*jobs, total_gpus, sim::LoadBasis::kSpan)},
      {"offered_load_window", sim::OfferedLoad(*jobs, total_gpus, sim::LoadBasis::kWindow)},
      {"trace_offered_load", trace_load},
      {"arrival_scale", arrival_scale},
      {"arrival_span_s", last_arrival - first_arrival}};
  doc["seed"] = parsed->seed;
  doc["runs"] = nlohmann::json::array();
  std::ostringstream csv;
  csv << kCsvHeader << "\n";
  for (const auto& name : policies) {
    const auto model_policies = sim::ModelPolicyNames();
    const bool on_model =
        parsed->engine == "model" &&
        std::find(model_policies.begin(), model_policies.end(), name) != model_policies.end();
    const auto t0 = std::chrono::steady_clock::now();
    tl::expected<sim::Report, std::string> report;
    if (on_model) {
      sim::ModelSimOptions options;
      options.seed = parsed->seed;
      options.model.engine = engine;
      report = sim::SimulateOnModel(*nodes, *jobs, name, options);
    } else {
      const auto policy = sim::MakePolicy(name);
      std::mt19937 rng(parsed->seed);
      report = sim::Simulate(*nodes, *jobs, *policy, rng);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!report) {
      return BadInput(err, parsed->cluster + ": " + report.error());
    }
    CsvRow(csv, report->summary,
           seconds > 0 ? static_cast<double>(report->summary.decisions) / seconds : 0.0);
    doc["runs"].push_back(RunJson(*report, seconds, parsed->samples));
  }
  if (ignored_pods > 0) {
    err << "gangsched: note: " << parsed->cluster << " lists " << ignored_pods
        << " running pods; simulate starts from an empty cluster and replays only the trace\n";
  }
  if (parsed->output == "csv") {
    out << csv.str();
  } else {
    out << doc.dump() << "\n";
  }
  return kExitOk;
}

}  // namespace gangsched::cli
