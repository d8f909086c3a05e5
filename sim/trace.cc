#include "sim/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <string_view>
#include <utility>

namespace gangsched::sim {
namespace {

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) fields.push_back(field);
  if (!line.empty() && line.back() == sep) fields.emplace_back();
  return fields;
}

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

template <typename T>
bool ParseNumber(const std::string& text, T& out) {
  const std::string t = Trim(text);
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(t.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::string Where(const std::string& name, int line) { return name + ":" + std::to_string(line); }

scheduler::RoleSpec MakeRole(const std::string& name, int replicas, std::int64_t gpus,
                             std::int64_t milli_cpu, std::int64_t memory) {
  scheduler::RoleSpec role;
  role.name = name;
  role.replicas = replicas;
  role.min_members = replicas;
  role.per_pod = {milli_cpu, memory, gpus, 1};
  // The supported set-up taints GPU nodes and gives gang pods the toleration (DESIGN.md §3).
  scheduler::Toleration gpu_taint;
  gpu_taint.key = kGpuTaintKey;
  gpu_taint.op_exists = true;
  role.tolerations.push_back(gpu_taint);
  return role;
}

void FinishGang(scheduler::GangSpec& gang) {
  gang.quorum = gang.TotalReplicas();
  if (gang.quorum <= 1) gang.pattern = scheduler::CommPattern::kNone;
}

std::int64_t GangGpus(const scheduler::GangSpec& gang) {
  std::int64_t total = 0;
  for (const auto& r : gang.roles) total += r.per_pod.gpus * r.replicas;
  return total;
}

std::pair<std::int64_t, std::int64_t> ArrivalWindow(const std::vector<SimJob>& jobs) {
  if (jobs.empty()) return {0, 0};
  std::int64_t first = jobs.front().arrival, last = first;
  for (const auto& j : jobs) {
    first = std::min(first, j.arrival);
    last = std::max(last, j.arrival);
  }
  return {first, last};
}

// OfferedLoad of the jobs with their arrivals' offsets from `first` multiplied by `factor`.
double ScaledLoad(const std::vector<SimJob>& jobs, std::int64_t cluster_gpus, std::int64_t first,
                  std::int64_t last, double factor, LoadBasis basis) {
  if (last == first || cluster_gpus <= 0) return 0;
  const double window = static_cast<double>(last - first) * factor;
  double work = 0;
  for (const auto& j : jobs) {
    const double left = basis == LoadBasis::kWindow
                            ? window - static_cast<double>(j.arrival - first) * factor
                            : static_cast<double>(j.duration);
    work += static_cast<double>(j.gpus) * std::min(static_cast<double>(j.duration), left);
  }
  return work / (static_cast<double>(cluster_gpus) * window);
}

}  // namespace

const char* PodShapeName(PodShape shape) {
  return shape == PodShape::kPsWorkers ? "ps-workers" : "packed";
}

tl::expected<PodShape, std::string> ParsePodShape(const std::string& name) {
  if (name == "ps-workers") return PodShape::kPsWorkers;
  if (name == "packed") return PodShape::kPacked;
  return tl::unexpected("unknown pod shape \"" + name + "\"; use ps-workers or packed");
}

scheduler::GangSpec ShapeGang(const std::string& id, int gpus, PodShape shape) {
  scheduler::GangSpec gang;
  gang.key = {"sim", id};
  gang.kind = std::string("trace job (") + PodShapeName(shape) + ")";
  if (shape == PodShape::kPsWorkers) {
    gang.roles.push_back(MakeRole("worker", gpus, 1, kPodMilliCpu, kPodMemoryBytes));
    if (gpus > 1) {
      gang.roles.push_back(MakeRole("ps", (gpus + 3) / 4, 0, kPodMilliCpu, kPodMemoryBytes));
    }
  } else {
    const int pods = (gpus + 7) / 8;
    if (gpus % pods == 0) {
      gang.roles.push_back(MakeRole("worker", pods, gpus / pods, kPodMilliCpu, kPodMemoryBytes));
    } else {
      gang.roles.push_back(MakeRole("worker", pods - 1, 8, kPodMilliCpu, kPodMemoryBytes));
      gang.roles.push_back(
          MakeRole("worker-tail", 1, gpus - 8 * (pods - 1), kPodMilliCpu, kPodMemoryBytes));
    }
  }
  gang.pattern = scheduler::InferPattern(gang.roles);
  FinishGang(gang);
  return gang;
}

tl::expected<std::vector<TraceRecord>, std::string> ReadGavelTrace(std::istream& in,
                                                                   const std::string& name) {
  std::vector<TraceRecord> records;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (Trim(line).empty()) continue;
    const auto fields = Split(line, '\t');
    if (fields.size() != 7) {
      return tl::unexpected(Where(name, line_no) + ": expected 7 tab-separated fields, got " +
                            std::to_string(fields.size()) + " (is this a gavel .trace file?)");
    }
    double arrival = 0;
    int gpus = 0;
    if (!ParseNumber(fields[5], arrival) || arrival < 0 || !std::isfinite(arrival)) {
      return tl::unexpected(Where(name, line_no) + ": arrival_time \"" + fields[5] +
                            "\" is not a non-negative number of seconds");
    }
    if (!ParseNumber(fields[6], gpus) || gpus < 1) {
      return tl::unexpected(Where(name, line_no) + ": scale_factor \"" + fields[6] +
                            "\" is not a positive GPU count");
    }
    records.push_back({name + "-" + std::to_string(line_no),
                       static_cast<std::int64_t>(std::llround(arrival)), gpus});
  }
  if (records.empty()) return tl::unexpected(name + ": the trace has no jobs");
  return records;
}

tl::expected<DurationSampler, std::string> DurationSampler::FromCsv(std::istream& in,
                                                                    const std::string& name) {
  DurationSampler sampler;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 || Trim(line).empty()) continue;  // header
    const auto fields = Split(line, ',');
    double duration = 0;
    int gpus = 0;
    if (fields.size() != 2 || !ParseNumber(fields[0], duration) || !ParseNumber(fields[1], gpus) ||
        duration <= 0 || gpus < 1) {
      return tl::unexpected(Where(name, line_no) +
                            ": expected \"duration_s,num_gpus\" with positive numbers");
    }
    sampler.by_gpus_[gpus].push_back(std::max<std::int64_t>(1, std::llround(duration)));
  }
  if (sampler.by_gpus_.empty()) return tl::unexpected(name + ": no durations");
  return sampler;
}

std::int64_t DurationSampler::Sample(int gpus, std::mt19937& rng) const {
  auto it = by_gpus_.upper_bound(gpus);
  const auto& pool = it == by_gpus_.begin() ? it->second : std::prev(it)->second;
  std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
  return pool[pick(rng)];
}

std::vector<SimJob> JobsFromTrace(const std::vector<TraceRecord>& records, PodShape shape,
                                  const DurationSampler& durations, std::mt19937& rng) {
  std::vector<SimJob> jobs;
  jobs.reserve(records.size());
  for (const auto& r : records) {
    SimJob job;
    job.id = r.id;
    job.arrival = r.arrival;
    job.duration = durations.Sample(r.gpus, rng);
    job.gang = ShapeGang(r.id, r.gpus, shape);
    job.gpus = r.gpus;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<TraceRecord> RepeatTrace(const std::vector<TraceRecord>& records, std::size_t count) {
  if (records.empty()) return {};
  std::vector<TraceRecord> sorted = records;
  std::stable_sort(sorted.begin(), sorted.end(), [](const TraceRecord& a, const TraceRecord& b) {
    return a.arrival < b.arrival;
  });
  const std::int64_t first = sorted.front().arrival;
  const std::int64_t span = sorted.back().arrival - first;
  const auto n = static_cast<std::int64_t>(sorted.size());
  // The mean gap, at least 1 s, so a copy never arrives with the last job of the one before.
  const std::int64_t period = span + std::max<std::int64_t>(1, n > 1 ? span / (n - 1) : 1);
  std::vector<TraceRecord> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t copy = i / sorted.size();
    TraceRecord r = sorted[i % sorted.size()];
    if (copy > 0) {
      r.arrival += static_cast<std::int64_t>(copy) * period;
      r.id += "." + std::to_string(copy);
    }
    out.push_back(std::move(r));
  }
  return out;
}

const char* LoadBasisName(LoadBasis basis) {
  return basis == LoadBasis::kWindow ? "window" : "span";
}

tl::expected<LoadBasis, std::string> ParseLoadBasis(const std::string& name) {
  if (name == "span") return LoadBasis::kSpan;
  if (name == "window") return LoadBasis::kWindow;
  return tl::unexpected("unknown load basis \"" + name + "\"; use span or window");
}

double OfferedLoad(const std::vector<SimJob>& jobs, std::int64_t cluster_gpus, LoadBasis basis) {
  const auto [first, last] = ArrivalWindow(jobs);
  return ScaledLoad(jobs, cluster_gpus, first, last, 1.0, basis);
}

tl::expected<double, std::string> ScaleToLoad(std::vector<SimJob>& jobs, std::int64_t cluster_gpus,
                                              double target, LoadBasis basis) {
  const auto [first, last] = ArrivalWindow(jobs);
  if (last == first || cluster_gpus <= 0 || target <= 0) {
    return tl::unexpected(
        std::string("the jobs arrive at one time only: no arrival rate to scale"));
  }
  // As f goes to 0 every job runs from its arrival to the end of the window.
  const double most = ScaledLoad(jobs, cluster_gpus, first, last, 1e-12, basis);
  if (most < target) {
    return tl::unexpected("these " + std::to_string(jobs.size()) + " jobs offer at most " +
                          std::to_string(most) + " on " + std::to_string(cluster_gpus) +
                          " GPUs, below the target " + std::to_string(target) +
                          ": replay more jobs (--jobs)");
  }
  double lo = 1e-12, hi = 1;
  while (ScaledLoad(jobs, cluster_gpus, first, last, hi, basis) > target) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = std::sqrt(lo * hi);
    (ScaledLoad(jobs, cluster_gpus, first, last, mid, basis) > target ? lo : hi) = mid;
  }
  const double factor = (lo + hi) / 2;
  for (auto& j : jobs) {
    j.arrival = first + std::llround(static_cast<double>(j.arrival - first) * factor);
  }
  return factor;
}

tl::expected<std::vector<SimJob>, std::string> ReadGenericCsv(std::istream& in,
                                                              const std::string& name) {
  static constexpr std::string_view kHeader =
      "job,arrival_s,duration_s,pattern,role,replicas,gpus_per_pod,milli_cpu_per_pod,"
      "memory_mib_per_pod";
  std::vector<SimJob> jobs;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1) {
      if (Trim(line) != kHeader) {
        return tl::unexpected(Where(name, 1) + ": expected the header \"" + std::string(kHeader) +
                              "\"");
      }
      continue;
    }
    if (Trim(line).empty() || line[0] == '#') continue;
    const auto f = Split(line, ',');
    if (f.size() != 9) {
      return tl::unexpected(Where(name, line_no) + ": expected 9 comma-separated fields, got " +
                            std::to_string(f.size()));
    }
    std::int64_t arrival = 0, duration = 0, gpus = 0, milli_cpu = 0, memory_mib = 0;
    int replicas = 0;
    if (!ParseNumber(f[1], arrival) || arrival < 0) {
      return tl::unexpected(Where(name, line_no) + ": arrival_s \"" + f[1] +
                            "\" is not a non-negative integer");
    }
    if (!ParseNumber(f[2], duration) || duration < 1) {
      return tl::unexpected(Where(name, line_no) + ": duration_s \"" + f[2] +
                            "\" is not a positive integer");
    }
    const std::string pattern = Trim(f[3]);
    if (pattern != "ps" && pattern != "allreduce") {
      return tl::unexpected(Where(name, line_no) + ": pattern \"" + pattern +
                            "\" is neither ps nor allreduce");
    }
    if (!ParseNumber(f[5], replicas) || replicas < 1 || !ParseNumber(f[6], gpus) || gpus < 0 ||
        !ParseNumber(f[7], milli_cpu) || milli_cpu < 0 || !ParseNumber(f[8], memory_mib) ||
        memory_mib < 0) {
      return tl::unexpected(Where(name, line_no) +
                            ": replicas must be >= 1 and per-pod requests >= 0 integers");
    }
    const std::string id = Trim(f[0]);
    if (id.empty()) return tl::unexpected(Where(name, line_no) + ": empty job name");
    if (jobs.empty() || jobs.back().id != id) {
      for (const auto& j : jobs) {
        if (j.id == id) {
          return tl::unexpected(Where(name, line_no) + ": rows of job \"" + id +
                                "\" must be consecutive");
        }
      }
      SimJob job;
      job.id = id;
      job.arrival = arrival;
      job.duration = duration;
      job.gang.key = {"sim", id};
      job.gang.kind = "generic CSV";
      jobs.push_back(std::move(job));
    } else if (jobs.back().arrival != arrival || jobs.back().duration != duration) {
      return tl::unexpected(Where(name, line_no) + ": job \"" + id +
                            "\" has different arrival_s/duration_s on its rows");
    }
    SimJob& job = jobs.back();
    job.gang.roles.push_back(MakeRole(Trim(f[4]), replicas, gpus, milli_cpu, memory_mib << 20));
    job.gang.pattern = pattern == "ps" ? scheduler::CommPattern::kParameterServer
                                       : scheduler::CommPattern::kAllReduce;
  }
  for (auto& job : jobs) {
    FinishGang(job.gang);
    job.gpus = GangGpus(job.gang);
  }
  if (jobs.empty()) return tl::unexpected(name + ": the trace has no jobs");
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.arrival < b.arrival; });
  return jobs;
}

}  // namespace gangsched::sim
