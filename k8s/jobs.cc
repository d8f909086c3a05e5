#include "k8s/jobs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "k8s/json_reader.h"
#include "k8s/object_fields.h"
#include "k8s/yaml_reader.h"

namespace gangsched::k8s {
namespace {

using scheduler::GangSpec;
using scheduler::RoleSpec;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

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

const KubeflowKind* FindKubeflowKind(std::string_view kind) {
  for (const KubeflowKind& k : kKubeflowKinds) {
    if (kind == k.kind) return &k;
  }
  return nullptr;
}

// A count of pods: a whole number from `min` to 100000, written as a number or a string.
template <typename R>
typename R::Status ReadCount(R& r, std::optional<int>& out, int min, std::string_view what) {
  std::string_view text;
  bool present = false;
  if (auto ok = r.Scalar(text, present, what); !ok) return ok;
  if (!present) return {};
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min ||
      n > 100000 || text.front() == '-') {
    return r.Fail(" must be " + std::string(what) + ", not " + Quote(text));
  }
  out = n;
  return {};
}

// One replica spec (the value under tfReplicaSpecs.<Type>, or an item of v1alpha1 replicaSpecs,
// whose tfReplicaType goes to `type`). `priority` gets the largest spec.priority of the templates.
template <typename R>
typename R::Status ReadReplicaSpec(R& r, RoleSpec& out, std::string& type, std::int32_t& priority) {
  using Status = typename R::Status;
  std::optional<int> replicas;
  scheduler::Pod pod;
  auto ok = r.Fields([&](std::string_view key, R& value) -> Status {
    if (key == "replicas")
      return ReadCount(value, replicas, 0, "a whole number of pods (0 to 100000)");
    if (key == "tfReplicaType") return value.String(type);
    if (key != "template") return {};
    return value.Fields([&](std::string_view k, R& spec) -> Status {
      return k == "spec" ? fields::ReadPodSpec(spec, pod) : Status{};
    });
  });
  if (!ok) return ok;
  out.replicas = replicas.value_or(1);
  out.per_pod = pod.requests;
  out.per_pod.pods = 1;  // a template without a spec still makes pods
  out.node_selector = std::move(pod.node_selector);
  out.tolerations = std::move(pod.tolerations);
  out.min_members = out.replicas;
  priority = std::max(priority, pod.priority);
  return {};
}

// A job's spec: the roles (unsorted, replicas 0 kept), minAvailable, launcherCreationPolicy.
struct JobFields {
  std::vector<RoleSpec> roles;
  std::optional<int> min_available;
  std::string launcher_policy;
  std::int32_t priority = std::numeric_limits<std::int32_t>::min();
};
// The replica specs: kubeflow.org/v1alpha1's list, each item naming its tfReplicaType, or the
// later versions' map by replica type.
template <typename R>
typename R::Status ReadRoles(R& r, bool v1alpha1, JobFields& job) {
  using Status = typename R::Status;
  auto add = [&](R& spec, std::string_view key) -> Status {
    RoleSpec role;
    std::string type;
    if (auto ok = ReadReplicaSpec(spec, role, type, job.priority); !ok) return ok;
    if (!v1alpha1) type = key;
    if (type.empty()) return spec.Fail(" has no tfReplicaType; set MASTER, WORKER or PS");
    role.name = Lower(std::move(type));
    job.roles.push_back(std::move(role));
    return {};
  };
  if (v1alpha1) return r.Items([&](std::size_t, R& item) { return add(item, {}); });
  return r.Fields([&](std::string_view key, R& spec) { return add(spec, key); });
}

// A spec without replica specs is reported in `missing`, after the job's name (ReadKubeflowJob).
template <typename R>
typename R::Status ReadJobSpec(R& r, const KubeflowKind& kind, bool v1alpha1, JobFields& job,
                               typename R::Status& missing) {
  using Status = typename R::Status;
  const std::string_view specs_key = v1alpha1 ? "replicaSpecs" : kind.replica_specs;
  const std::string specs_rule =
      v1alpha1 ? " must be a non-empty list" : " must be a map of replica type to replica spec";
  auto ok = r.Fields([&](std::string_view key, R& value) -> Status {
    if (key == specs_key) {
      auto s = ReadRoles(value, v1alpha1, job);
      if (s && job.roles.empty()) return value.Fail(specs_rule);
      return s;
    }
    if (key == "runPolicy") {
      return value.Fields([&](std::string_view k, R& policy) -> Status {
        if (k != "schedulingPolicy") return {};
        return policy.Fields([&](std::string_view p, R& f) -> Status {
          return p == "minAvailable" ? ReadCount(f, job.min_available, 1, "a positive whole number")
                                     : Status{};
        });
      });
    }
    if (key == "launcherCreationPolicy") {
      if (auto s = value.String(job.launcher_policy); !s) return s;
      const std::string& policy = job.launcher_policy;
      if (!policy.empty() && policy != "AtStartup" && policy != "WaitForWorkersReady") {
        return value.Fail(" " + Quote(policy) +
                          " is unknown; use AtStartup or WaitForWorkersReady");
      }
    }
    return {};
  });
  if (ok && job.roles.empty()) missing = r.Fail(std::string(specs_key) + specs_rule);
  return ok;
}

// What a job must declare, checked once its fields are read; replica types of 0 pods are dropped.
template <typename R>
typename R::Status CheckJob(R& object, bool no_name, bool has_spec,
                            const typename R::Status& missing, JobFields& job) {
  if (no_name) return object.Fail(" has no metadata.name; give the job a name");
  if (!has_spec) return object.Fail(" has no spec");
  if (!missing) return missing;
  // The quorum is the sum of the replicas (DESIGN.md §4), counted in int by the gang's shape:
  // checked here, so that no sum downstream can overflow.
  int pods = 0;
  for (const RoleSpec& role : job.roles) {
    if (__builtin_add_overflow(pods, role.replicas, &pods)) {
      return object.Fail(" declares more than 2^31-1 pods over its replica specs (replicas)");
    }
  }
  for (std::size_t a = 0; a < job.roles.size(); ++a) {
    for (std::size_t b = a + 1; b < job.roles.size(); ++b) {
      if (job.roles[a].name == job.roles[b].name) {
        return object.Fail(" declares replica type " + job.roles[a].name +
                           " twice; merge the two replica specs");
      }
    }
  }
  std::erase_if(job.roles, [](const RoleSpec& r) { return r.replicas == 0; });
  if (job.roles.empty()) return object.Fail(" declares no pods (every replicas is 0)");
  return {};
}

// The gang of a Kubeflow job object: roles by replica type, quorum (DESIGN.md §4).
template <typename R>
typename R::Status ReadKubeflowJob(R& object, const KubeflowKind& kind,
                                   std::string_view api_version, GangSpec& gang) {
  using Status = typename R::Status;
  const bool v1alpha1 =
      std::string_view(kind.kind) == "TFJob" && api_version == "kubeflow.org/v1alpha1";
  fields::Metadata m;
  JobFields job;
  bool has_spec = false;
  Status missing;
  auto ok = object.Fields([&](std::string_view key, R& value) -> Status {
    if (key == "metadata") return fields::ReadMetadata(value, m, fields::MetadataOf::kPod);
    if (key != "spec") return {};
    has_spec = !value.IsNull();
    if (!has_spec) return {};
    auto read = ReadJobSpec(value, kind, v1alpha1, job, missing);
    if (!missing) MessageOf(missing.error()) = Prefix(key, std::move(MessageOf(missing.error())));
    return read;
  });
  if (ok) ok = CheckJob(object, m.name.empty(), has_spec, missing, job);
  gang.key = scheduler::GangKey{m.namespace_name.empty() ? "default" : m.namespace_name, m.name};
  if (!ok) {
    std::string& message = MessageOf(ok.error());
    message = OfObject(kind.kind, gang.key.namespace_name, m.name, std::move(message));
    return ok;
  }
  gang.kind = std::string(kind.kind) + (api_version.empty() ? "" : " " + std::string(api_version));
  std::vector<RoleSpec>& roles = job.roles;
  SortRoles(roles);
  // Quorum (DESIGN.md §4): runPolicy.schedulingPolicy.minAvailable, else every replica.
  if (job.min_available) {
    for (RoleSpec& role : roles) role.min_members = 1;  // at least one of each role it declares
    gang.quorum = *job.min_available;
  }
  // MPIJob v2beta1: the launcher is created once the workers run; it is no quorum member.
  if (std::string_view(kind.kind) == "MPIJob" && job.launcher_policy == "WaitForWorkersReady") {
    int others = 0;  // no overflow: CheckJob bounded the sum of every role's replicas
    for (RoleSpec& role : roles) {
      if (role.name == "launcher") {
        role.min_members = 0;
      } else {
        others += role.replicas;
      }
    }
    gang.quorum = job.min_available ? std::min(*job.min_available, others) : others;
  }
  gang.roles = std::move(roles);
  gang.pattern = scheduler::InferPattern(gang.roles);
  gang.priority = job.priority;
  return {};
}

Decoded<JobSpec> DecodeKubeflowJob(const SourceObject& object, const KubeflowKind& kind,
                                   const std::string& file) {
  JobSpec job;
  job.file = file;
  job.position = PositionOf(object.node);
  YamlReader reader(object.node);
  if (auto ok = ReadKubeflowJob(reader, kind, object.api_version, job.gang); !ok) {
    return tl::unexpected(ErrorIn(file, "", std::move(ok.error())));
  }
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
      if (const KubeflowKind* kubeflow = FindKubeflowKind(object.kind)) {
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

JsonResult<scheduler::GangSpec> DecodeKubeflowJobJson(std::string_view json, std::string_view kind,
                                                      std::string_view api_version) {
  const KubeflowKind* kubeflow = FindKubeflowKind(kind);
  if (kubeflow == nullptr) {
    return tl::unexpected("kind " + Quote(kind) +
                          " is not a Kubeflow job; use TFJob, PyTorchJob, MPIJob, MXJob, "
                          "XGBoostJob, PaddleJob or JAXJob");
  }
  scheduler::GangSpec gang;
  auto ok = ParseBody(json, [&](od::value& root) {
    JsonReader reader(root);
    return ReadKubeflowJob(reader, *kubeflow, api_version, gang);
  });
  if (!ok) return tl::unexpected(std::move(ok.error()));
  return gang;
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
