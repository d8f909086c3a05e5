#include "k8s/jobs.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <optional>
#include <utility>

namespace gangsched::k8s {
namespace {

using scheduler::GangSpec;
using scheduler::RoleSpec;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// Kubeflow kinds and the spec field holding their replica specs (training-operator v1 API).
struct KubeflowKind {
  const char* kind;
  const char* replica_specs;
};
constexpr KubeflowKind kKubeflowKinds[] = {
    {"TFJob", "tfReplicaSpecs"},       {"PyTorchJob", "pytorchReplicaSpecs"},
    {"MPIJob", "mpiReplicaSpecs"},     {"MXJob", "mxReplicaSpecs"},
    {"XGBoostJob", "xgbReplicaSpecs"}, {"PaddleJob", "paddleReplicaSpecs"},
    {"JAXJob", "jaxReplicaSpecs"},
};

// Role order in a gang: the coordinating role first, then parameter servers, then workers. Maps in
// Kubernetes objects are unordered, so the order must not depend on how the file wrote them.
int RoleRank(const std::string& role) {
  if (role == "chief" || role == "master" || role == "launcher") return 0;
  if (role == "ps" || role == "server" || role == "scheduler") return 1;
  if (role == "worker") return 2;
  if (role == "evaluator") return 3;
  return 4;
}

void SortRoles(std::vector<RoleSpec>& roles) {
  std::stable_sort(roles.begin(), roles.end(), [](const RoleSpec& a, const RoleSpec& b) {
    const int ra = RoleRank(a.name);
    const int rb = RoleRank(b.name);
    if (ra != rb) return ra < rb;
    return ra == 4 && a.name < b.name;
  });
}

// One replica spec (the value under tfReplicaSpecs.<Type>, or an item of v1alpha1 replicaSpecs).
// `priority` gets the largest spec.priority of the templates.
Decoded<RoleSpec> DecodeReplicaSpec(const std::string& role, const YAML::Node& spec,
                                    const std::string& file, const std::string& where,
                                    std::int32_t& priority) {
  if (!spec.IsNull() && !spec.IsMap()) {
    return tl::unexpected(ErrorAt(spec, file, where + " must be a map with replicas and template"));
  }
  RoleSpec out;
  out.name = role;
  const YAML::Node replicas = Child(spec, "replicas");
  auto text = ScalarText(replicas, file, (where + ".replicas").c_str());
  if (!text) return tl::unexpected(text.error());
  if (!text->empty()) {
    auto n = ParseQuantity(*text, QuantityScale::kWhole);
    if (!n || *n > 100000 || text->find_first_not_of("0123456789") != std::string::npos) {
      return tl::unexpected(ErrorAt(replicas, file,
                                    where +
                                        ".replicas must be a whole number of pods (0 to "
                                        "100000), not " +
                                        Quote(*text)));
    }
    out.replicas = static_cast<int>(*n);
  }
  auto pod = DecodePodSpec(Child(Child(spec, "template"), "spec"), file);
  if (!pod) return tl::unexpected(pod.error());
  out.per_pod = pod->requests;
  out.node_selector = std::move(pod->node_selector);
  out.tolerations = std::move(pod->tolerations);
  out.min_members = out.replicas;
  priority = std::max(priority, pod->priority);
  return out;
}

struct JobHeader {
  std::string name;
  std::string namespace_name;
};

Decoded<JobHeader> DecodeJobHeader(const SourceObject& object, const std::string& file) {
  const YAML::Node metadata = Child(object.node, "metadata");
  auto name = ScalarText(Child(metadata, "name"), file, "metadata.name");
  if (!name) return tl::unexpected(name.error());
  if (name->empty()) {
    return tl::unexpected(
        ErrorAt(object.node, file, object.kind + " has no metadata.name; give the job a name"));
  }
  auto ns = ScalarText(Child(metadata, "namespace"), file, "metadata.namespace");
  if (!ns) return tl::unexpected(ns.error());
  return JobHeader{*name, ns->empty() ? "default" : *ns};
}

Decoded<JobSpec> DecodeKubeflowJob(const SourceObject& object, const KubeflowKind& kind,
                                   const std::string& file) {
  auto header = DecodeJobHeader(object, file);
  if (!header) return tl::unexpected(header.error());
  JobSpec job;
  job.file = file;
  job.position = PositionOf(object.node);
  job.gang.key = scheduler::GangKey{header->namespace_name, header->name};
  job.gang.kind = object.kind + (object.api_version.empty() ? "" : " " + object.api_version);
  const std::string job_name = object.kind + " " + job.gang.key.ToString();
  const YAML::Node spec = Child(object.node, "spec");
  if (!spec.IsMap()) {
    return tl::unexpected(
        ErrorAt(PositionOf(spec).line > 0 ? spec : object.node, file, job_name + " has no spec"));
  }

  const bool v1alpha1 = object.kind == "TFJob" && object.api_version == "kubeflow.org/v1alpha1";
  std::vector<RoleSpec> roles;
  std::int32_t priority = std::numeric_limits<std::int32_t>::min();
  if (v1alpha1) {
    // kubeflow.org/v1alpha1: spec.replicaSpecs is a list, each with tfReplicaType.
    const YAML::Node list = Child(spec, "replicaSpecs");
    if (!list.IsSequence() || list.size() == 0) {
      return tl::unexpected(ErrorAt(PositionOf(list).line > 0 ? list : spec, file,
                                    job_name + ": spec.replicaSpecs must be a non-empty list"));
    }
    int i = 0;
    for (const YAML::Node& item : list) {
      const std::string where = "spec.replicaSpecs[" + std::to_string(i++) + "]";
      auto type = ScalarText(Child(item, "tfReplicaType"), file, "tfReplicaType");
      if (!type) return tl::unexpected(type.error());
      if (type->empty()) {
        return tl::unexpected(
            ErrorAt(item, file,
                    job_name + ": " + where + " has no tfReplicaType; set MASTER, WORKER or PS"));
      }
      auto role = DecodeReplicaSpec(Lower(*type), item, file, where, priority);
      if (!role) return tl::unexpected(role.error());
      roles.push_back(std::move(*role));
    }
  } else {
    const YAML::Node map = Child(spec, kind.replica_specs);
    if (!map.IsMap() || map.size() == 0) {
      return tl::unexpected(ErrorAt(PositionOf(map).line > 0 ? map : spec, file,
                                    job_name + ": spec." + kind.replica_specs +
                                        " must be a map of replica type to replica spec"));
    }
    for (const auto& kv : map) {
      const std::string type = kv.first.Scalar();
      auto role =
          DecodeReplicaSpec(Lower(type), kv.second, file,
                            std::string("spec.") + kind.replica_specs + "." + type, priority);
      if (!role) return tl::unexpected(role.error());
      roles.push_back(std::move(*role));
    }
  }
  for (std::size_t a = 0; a < roles.size(); ++a) {
    for (std::size_t b = a + 1; b < roles.size(); ++b) {
      if (roles[a].name == roles[b].name) {
        return tl::unexpected(ErrorAt(object.node, file,
                                      job_name + " declares replica type " + roles[a].name +
                                          " twice; merge the two replica specs"));
      }
    }
  }
  std::erase_if(roles, [](const RoleSpec& r) { return r.replicas == 0; });
  if (roles.empty()) {
    return tl::unexpected(
        ErrorAt(object.node, file, job_name + " declares no pods (every replicas is 0)"));
  }
  SortRoles(roles);

  // Quorum (DESIGN.md §4): runPolicy.schedulingPolicy.minAvailable, else every replica.
  const YAML::Node min_available_node =
      Child(Child(Child(spec, "runPolicy"), "schedulingPolicy"), "minAvailable");
  auto min_text = ScalarText(min_available_node, file, "minAvailable");
  if (!min_text) return tl::unexpected(min_text.error());
  std::optional<int> min_available;
  if (!min_text->empty()) {
    auto n = ParseQuantity(*min_text, QuantityScale::kWhole);
    if (!n || *n < 1 || *n > 100000 ||
        min_text->find_first_not_of("0123456789") != std::string::npos) {
      return tl::unexpected(ErrorAt(min_available_node, file,
                                    job_name +
                                        ": runPolicy.schedulingPolicy.minAvailable must be a "
                                        "positive whole number, not " +
                                        Quote(*min_text)));
    }
    min_available = static_cast<int>(*n);
  }
  if (min_available) {
    for (RoleSpec& role : roles) role.min_members = 1;  // at least one of each role it declares
    job.gang.quorum = *min_available;
  }
  // MPIJob v2beta1: the launcher is created once the workers run; it is no quorum member.
  auto policy = ScalarText(Child(spec, "launcherCreationPolicy"), file, "launcherCreationPolicy");
  if (!policy) return tl::unexpected(policy.error());
  if (object.kind == "MPIJob" && *policy == "WaitForWorkersReady") {
    int others = 0;
    for (RoleSpec& role : roles) {
      if (role.name == "launcher") {
        role.min_members = 0;
      } else {
        others += role.replicas;
      }
    }
    job.gang.quorum = min_available ? std::min(*min_available, others) : others;
  } else if (!policy->empty() && *policy != "AtStartup") {
    return tl::unexpected(ErrorAt(Child(spec, "launcherCreationPolicy"), file,
                                  job_name + ": launcherCreationPolicy " + Quote(*policy) +
                                      " is unknown; use AtStartup or WaitForWorkersReady"));
  }

  job.gang.roles = std::move(roles);
  job.gang.pattern = scheduler::InferPattern(job.gang.roles);
  job.gang.priority = priority;
  return job;
}

bool SameTolerations(const std::vector<scheduler::Toleration>& a,
                     const std::vector<scheduler::Toleration>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.key == y.key && x.op_exists == y.op_exists && x.value == y.value &&
           x.effect == y.effect;
  });
}

// Plain pods of one gang, collected in file order.
struct PodGang {
  JobSpec job;
  std::optional<int> min_members;
  scheduler::GangSource source = scheduler::GangSource::kSinglePod;
};

}  // namespace

Decoded<std::vector<JobSpec>> DecodeJobObjects(const std::vector<SourceObject>& objects,
                                               const std::string& file) {
  // Entries are either a job (index into `jobs`) or a pod gang (index into `pod_gangs`).
  std::vector<std::pair<bool, std::size_t>> order;
  std::vector<JobSpec> jobs;
  std::vector<PodGang> pod_gangs;
  std::map<scheduler::GangKey, std::size_t> pod_gang_index;
  try {
    for (const SourceObject& object : objects) {
      const KubeflowKind* kubeflow = nullptr;
      for (const KubeflowKind& k : kKubeflowKinds) {
        if (object.kind == k.kind) kubeflow = &k;
      }
      if (kubeflow != nullptr) {
        auto job = DecodeKubeflowJob(object, *kubeflow, file);
        if (!job) return tl::unexpected(job.error());
        order.emplace_back(true, jobs.size());
        jobs.push_back(std::move(*job));
        continue;
      }
      if (object.kind != "Pod") {
        const YAML::Node kind = Child(object.node, "kind");
        return tl::unexpected(
            ErrorAt(PositionOf(kind).line > 0 ? kind : object.node, file,
                    (object.kind.empty() ? std::string("object has no kind")
                                         : "unknown kind " + Quote(object.kind)) +
                        " in a job file; gangsched plan reads TFJob, PyTorchJob, MPIJob, MXJob, "
                        "XGBoostJob, PaddleJob, JAXJob and Pod objects"));
      }
      auto pod = DecodePod(object.node, file);
      if (!pod) return tl::unexpected(pod.error());
      const scheduler::MembershipResult membership = scheduler::IdentifyGang(*pod);
      if (!membership.error.empty()) {
        return tl::unexpected(ErrorAt(object.node, file, membership.error));
      }
      const scheduler::GangKey& key = membership.membership.key;
      auto [it, inserted] = pod_gang_index.try_emplace(key, pod_gangs.size());
      if (inserted) {
        PodGang gang;
        gang.job.file = file;
        gang.job.position = PositionOf(object.node);
        gang.job.gang.key = key;
        gang.job.gang.kind =
            std::string("Pod (") + scheduler::GangSourceName(membership.membership.source) + ")";
        gang.source = membership.membership.source;
        gang.job.gang.priority = pod->priority;
        order.emplace_back(false, pod_gangs.size());
        pod_gangs.push_back(std::move(gang));
      }
      PodGang& gang = pod_gangs[it->second];
      if (const auto& m = membership.membership.min_members) {
        if (gang.min_members && *gang.min_members != *m) {
          return tl::unexpected(ErrorAt(object.node, file,
                                        "pod " + pod->namespace_name + "/" + pod->name +
                                            " gives gang " + key.ToString() + " a size of " +
                                            std::to_string(*m) + ", an earlier pod gave " +
                                            std::to_string(*gang.min_members) +
                                            "; give every pod of the gang the same size"));
        }
        gang.min_members = m;
      }
      const std::string role =
          membership.membership.role.empty() ? "member" : membership.membership.role;
      std::vector<RoleSpec>& roles = gang.job.gang.roles;
      auto same = std::find_if(roles.begin(), roles.end(), [&](const RoleSpec& r) {
        return r.name == role && r.per_pod == pod->requests &&
               r.node_selector == pod->node_selector &&
               SameTolerations(r.tolerations, pod->tolerations);
      });
      if (same == roles.end()) {
        RoleSpec r;
        r.name = role;
        r.replicas = 0;
        r.per_pod = pod->requests;
        r.node_selector = pod->node_selector;
        r.tolerations = pod->tolerations;
        roles.push_back(std::move(r));
        same = std::prev(roles.end());
      }
      ++same->replicas;
      gang.job.gang.priority = std::max(gang.job.gang.priority, pod->priority);
    }
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    const int column = e.mark.is_null() ? 0 : e.mark.column + 1;
    return tl::unexpected(DecodeError{file, line, column, "cannot decode: " + e.msg});
  }

  std::vector<JobSpec> out;
  out.reserve(order.size());
  for (const auto& [is_job, index] : order) {
    if (is_job) {
      out.push_back(std::move(jobs[index]));
      continue;
    }
    PodGang& gang = pod_gangs[index];
    GangSpec& spec = gang.job.gang;
    SortRoles(spec.roles);
    for (RoleSpec& role : spec.roles) role.min_members = gang.min_members ? 1 : role.replicas;
    spec.quorum = gang.min_members.value_or(0);
    spec.pattern = scheduler::InferPattern(spec.roles);
    out.push_back(std::move(gang.job));
  }
  return out;
}

Decoded<std::vector<JobSpec>> DecodeJobs(std::string_view text, const std::string& file) {
  auto objects = LoadObjects(text, file);
  if (!objects) return tl::unexpected(objects.error());
  return DecodeJobObjects(*objects, file);
}

Decoded<std::vector<JobSpec>> DecodeJobsFile(const std::string& path) {
  auto objects = LoadObjectsFromFile(path);
  if (!objects) return tl::unexpected(objects.error());
  return DecodeJobObjects(*objects, path);
}

}  // namespace gangsched::k8s
