#include "cli/plan_command.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <variant>

#include "cli/exit_codes.h"
#include "k8s/cluster_file.h"
#include "k8s/jobs.h"
#include "scheduler/cluster_state.h"
#include "scheduler/planner.h"

namespace gangsched::cli {

using k8s::DecodeClusterFile;
using k8s::DecodeError;
using k8s::DecodeJobsFile;
using k8s::JobSpec;
using k8s::Position;
namespace {

using scheduler::Plan;
using scheduler::Unplaceable;

enum class OutputFormat : std::uint8_t { kTable, kJson };

struct PlanArgs {
  std::string cluster;
  OutputFormat format = OutputFormat::kTable;
  std::vector<std::string> job_files;
  bool help = false;
};

// A usage error: message for "gangsched: ..." on stderr.
tl::expected<PlanArgs, std::string> ParseArgs(const std::vector<std::string>& args) {
  PlanArgs parsed;
  auto value_of = [&](std::size_t& i, std::string_view flag) -> std::optional<std::string> {
    const std::string& arg = args[i];
    if (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
        arg[flag.size()] == '=') {
      return arg.substr(flag.size() + 1);
    }
    if (i + 1 < args.size()) return args[++i];
    return std::nullopt;
  };
  auto is_flag = [](const std::string& arg, std::string_view flag) {
    return arg == flag || (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
                           arg[flag.size()] == '=');
  };
  bool only_files = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_files) {
      parsed.job_files.push_back(arg);
    } else if (arg == "--") {
      only_files = true;
    } else if (arg == "-h" || arg == "--help") {
      parsed.help = true;
    } else if (is_flag(arg, "--cluster")) {
      auto v = value_of(i, "--cluster");
      if (!v || v->empty()) return tl::unexpected(std::string("--cluster needs a FILE"));
      parsed.cluster = *v;
    } else if (is_flag(arg, "--output") || arg == "-o") {
      auto v = value_of(i, arg == "-o" ? "-o" : "--output");
      if (v == "table") {
        parsed.format = OutputFormat::kTable;
      } else if (v == "json") {
        parsed.format = OutputFormat::kJson;
      } else {
        return tl::unexpected("--output must be table or json, not \"" + v.value_or("") + "\"");
      }
    } else if (arg.size() > 1 && arg[0] == '-') {
      return tl::unexpected("unknown option " + arg + " for plan");
    } else {
      parsed.job_files.push_back(arg);
    }
  }
  if (parsed.help) return parsed;
  if (parsed.cluster.empty()) {
    return tl::unexpected(
        std::string("plan needs --cluster FILE (a NodeList, e.g. kubectl get "
                    "nodes -o yaml)"));
  }
  if (parsed.job_files.empty()) {
    return tl::unexpected(std::string("plan needs at least one JOB.yaml to place"));
  }
  return parsed;
}

std::string LevelName(const scheduler::ClusterState& state, int span_level) {
  const auto& names = state.topology().level_names();
  const int levels = static_cast<int>(names.size());
  if (span_level <= 0) return "node";
  if (span_level > levels) return "cluster";
  return names[static_cast<std::size_t>(levels - span_level)];
}

std::string Summary(const scheduler::ClusterState& state, const Plan& plan) {
  const std::string nodes =
      std::to_string(plan.nodes_used) + (plan.nodes_used == 1 ? " node" : " nodes");
  const std::string level = LevelName(state, plan.span_level);
  if (plan.span_level <= 0) {
    return "placed on " + nodes + " " + plan.span_domain + " (span: node)";
  }
  if (level == "cluster") return "placed on " + nodes + " across the cluster (span: cluster)";
  return "placed on " + nodes + " in " + level + " " + plan.span_domain + " (span: " + level + ")";
}

std::string GpuList(const std::vector<int>& ids) {
  if (ids.empty()) return "-";
  std::string out;
  for (int id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

struct Outcome {
  const JobSpec* job;
  scheduler::PlanResult result;
};

void RenderTable(std::ostream& out, const scheduler::ClusterState& state,
                 const std::vector<Outcome>& outcomes) {
  bool first = true;
  for (const Outcome& o : outcomes) {
    if (!first) out << "\n";
    first = false;
    const std::string title = "JOB " + o.job->gang.key.ToString() + " (" + o.job->gang.kind + "): ";
    if (const auto* unplaceable = std::get_if<Unplaceable>(&o.result)) {
      out << title << "cannot be placed: " << unplaceable->reason << "\n";
      continue;
    }
    const Plan& plan = std::get<Plan>(o.result);
    out << title << Summary(state, plan) << "\n";
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"ROLE", "INDEX", "NODE"};
    for (const std::string& level : state.topology().level_names()) {
      std::string upper = level;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      header.push_back(upper);
    }
    header.emplace_back("GPUS");
    rows.push_back(std::move(header));
    for (const scheduler::PodPlacement& pod : plan.pods) {
      std::vector<std::string> row = {pod.role_name, std::to_string(pod.index), pod.node};
      for (std::size_t l = 0; l < state.topology().level_names().size(); ++l) {
        row.push_back(l < pod.domains.size() ? pod.domains[l] : "-");
      }
      row.push_back(GpuList(pod.gpu_ids));
      rows.push_back(std::move(row));
    }
    PrintTable(out, rows);
  }
}

void RenderJson(std::ostream& out, const scheduler::ClusterState& state,
                const std::vector<Outcome>& outcomes) {
  nlohmann::json jobs = nlohmann::json::array();
  const auto& levels = state.topology().level_names();
  for (const Outcome& o : outcomes) {
    nlohmann::json job = {{"namespace", o.job->gang.key.namespace_name},
                          {"name", o.job->gang.key.name},
                          {"kind", o.job->gang.kind}};
    if (const auto* unplaceable = std::get_if<Unplaceable>(&o.result)) {
      job["placed"] = false;
      job["reason"] = unplaceable->reason;
      job["span"] = nullptr;
      job["pods"] = nlohmann::json::array();
    } else {
      const Plan& plan = std::get<Plan>(o.result);
      job["placed"] = true;
      job["reason"] = "";
      job["span"] = {{"level", LevelName(state, plan.span_level)},
                     {"domain", plan.span_domain},
                     {"nodes", plan.nodes_used}};
      nlohmann::json pods = nlohmann::json::array();
      for (const scheduler::PodPlacement& pod : plan.pods) {
        nlohmann::json domains = nlohmann::json::object();
        for (std::size_t l = 0; l < levels.size() && l < pod.domains.size(); ++l) {
          domains[levels[l]] = pod.domains[l];
        }
        pods.push_back({{"role", pod.role_name},
                        {"index", pod.index},
                        {"node", pod.node},
                        {"domains", std::move(domains)},
                        {"gpuIds", pod.gpu_ids}});
      }
      job["pods"] = std::move(pods);
    }
    jobs.push_back(std::move(job));
  }
  out << nlohmann::json{{"jobs", std::move(jobs)}}.dump(2) << "\n";
}

}  // namespace

const char* PlanUsage() {
  return "usage: gangsched plan --cluster FILE [--output table|json] JOB.yaml...\n"
         "  Where would these jobs go on this cluster? FILE is a NodeList (kubectl get nodes -o\n"
         "  yaml or -o json), optionally with running Pods; each JOB.yaml holds TFJob, "
         "PyTorchJob,\n"
         "  MPIJob (...) or Pod objects. Jobs are placed in order, each seeing the ones before.\n"
         "  Exit status: 0 all placed, 1 some cannot be placed, 2 bad input.\n";
}

int RunPlan(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArgs(args);
  if (!parsed) {
    return BadInput(err,
                    parsed.error() +
                        "; usage: gangsched plan --cluster FILE [--output table|json] JOB.yaml...");
  }
  if (parsed->help) {
    out << PlanUsage();
    return kExitOk;
  }

  // Decode everything before printing anything.
  auto cluster = DecodeClusterFile(parsed->cluster);
  if (!cluster) return BadInput(err, cluster.error().ToString());
  std::vector<JobSpec> jobs;
  std::map<scheduler::GangKey, const JobSpec*> seen;
  for (const std::string& file : parsed->job_files) {
    auto decoded = DecodeJobsFile(file);
    if (!decoded) return BadInput(err, decoded.error().ToString());
    if (decoded->empty()) {
      return BadInput(err, file +
                               ": no job in the file; it needs a TFJob, PyTorchJob, MPIJob or "
                               "Pod object");
    }
    for (JobSpec& job : *decoded) jobs.push_back(std::move(job));
  }
  for (const JobSpec& job : jobs) {
    auto [it, inserted] = seen.try_emplace(job.gang.key, &job);
    if (!inserted) {
      const JobSpec& first = *it->second;
      return BadInput(
          err, DecodeError{job.file, job.position.line, job.position.column,
                           "job " + job.gang.key.ToString() + " is declared twice (first at " +
                               first.file + ":" + std::to_string(first.position.line) +
                               "); give each job its own name"}
                   .ToString());
    }
  }

  auto state = scheduler::ClusterState::Create(std::move(cluster->nodes));
  if (!state) return BadInput(err, parsed->cluster + ": " + state.error());
  for (std::size_t i = 0; i < cluster->pods.size(); ++i) {
    const scheduler::Pod& pod = cluster->pods[i];
    if (!pod.HoldsCapacity()) continue;
    if (!state->AddPod(pod)) {
      const Position p = cluster->pod_positions[i];
      return BadInput(err, DecodeError{parsed->cluster, p.line, p.column,
                                       "pod " + pod.namespace_name + "/" + pod.name +
                                           " runs on node " + pod.node_name +
                                           ", which the file does not list; add that Node or "
                                           "remove the pod"}
                               .ToString());
    }
  }

  std::vector<Outcome> outcomes;
  bool all_placed = true;
  const scheduler::Planner planner;
  for (const JobSpec& job : jobs) {
    scheduler::PlanResult result = planner.PlanGang(*state, job.gang);
    if (const Plan* plan = std::get_if<Plan>(&result)) {
      state->Hold(*plan);
    } else {
      all_placed = false;
    }
    outcomes.push_back(Outcome{&job, std::move(result)});
  }
  std::ostringstream rendered;
  if (parsed->format == OutputFormat::kJson) {
    RenderJson(rendered, *state, outcomes);
  } else {
    RenderTable(rendered, *state, outcomes);
  }
  out << rendered.str();
  return all_placed ? kExitOk : kExitSomeUnplaceable;
}

}  // namespace gangsched::cli
