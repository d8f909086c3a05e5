// Gang identity (DESIGN.md §4) and the shape of a gang's quorum (DESIGN.md §3.1).
// Pure: reads label/annotation maps only; object lookups (PodGroup, TFJob, YuniKorn task-group
// JSON) belong to k8s/ and kube/.
#include "scheduler/gang.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>
#include <system_error>
#include <utility>

namespace gangsched::scheduler {
namespace {

// Keys of DESIGN.md §4, with the producer they come from (reference/gang-anchors.md §4.1).
constexpr const char* kGangschedGang = "gangsched.io/gang";                     // annotation
constexpr const char* kGangschedMinMembers = "gangsched.io/min-members";        // annotation
constexpr const char* kCoschedulingPodGroup = "scheduling.x-k8s.io/pod-group";  // label
constexpr const char* kVolcanoGroupName = "scheduling.k8s.io/group-name";       // annotation
constexpr const char* kKueuePodGroupName =
    "kueue.x-k8s.io/pod-group-name";  // label (annotation too)
constexpr const char* kKueueTotalCount = "kueue.x-k8s.io/pod-group-total-count";   // annotation
constexpr const char* kYunikornTaskGroup = "yunikorn.apache.org/task-group-name";  // annotation
constexpr const char* kYunikornAppId = "yunikorn.apache.org/app-id";  // label or annotation
constexpr const char* kYunikornLegacyAppId = "applicationId";         // label or annotation
constexpr const char* kKoordinatorName = "gang.scheduling.koordinator.sh/name";  // annotation
constexpr const char* kKoordinatorMinAvailable = "gang.scheduling.koordinator.sh/min-available";
constexpr const char* kKubeflowJobName = "training.kubeflow.org/job-name";  // labels
constexpr const char* kKubeflowReplicaType = "training.kubeflow.org/replica-type";
constexpr const char* kKubeflowReplicaIndex = "training.kubeflow.org/replica-index";
constexpr const char* kLegacyJobName = "tf-job-name";  // labels of tf-operator <= v1.1
constexpr const char* kLegacyReplicaType = "tf-replica-type";
constexpr const char* kLegacyReplicaIndex = "tf-replica-index";
constexpr const char* kVolcanoTaskSpec = "volcano.sh/task-spec";  // label and annotation
constexpr const char* kJobSetReplicatedJob = "jobset.sigs.k8s.io/replicatedjob-name";  // label

// A non-empty value of `key` in `map`, or nullptr.
const std::string* Find(const StringMap& map, const char* key) {
  auto it = map.find(key);
  if (it == map.end() || it->second.empty()) return nullptr;
  return &it->second;
}

const std::string* FindEither(const Pod& pod, const char* key) {
  if (const std::string* v = Find(pod.labels, key)) return v;
  return Find(pod.annotations, key);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<int> ParseNonNegative(std::string_view s) {
  int value = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 0) return std::nullopt;
  return value;
}

std::string PodName(const Pod& pod) { return pod.namespace_name + "/" + pod.name; }

void AppendError(std::string& error, const std::string& message) {
  if (!error.empty()) error += "; ";
  error += message;
}

// Reads a size annotation: a positive integer, else an error naming the pod and the key.
void ReadSize(const Pod& pod, const char* key, MembershipResult& result) {
  const std::string* value = Find(pod.annotations, key);
  if (value == nullptr) return;
  std::optional<int> n = ParseNonNegative(*value);
  if (!n || *n == 0) {
    AppendError(result.error, "pod " + PodName(pod) + ": annotation " + key + "=\"" + *value +
                                  "\" is not a positive integer; set it to the gang's minimum "
                                  "member count, e.g. \"4\"");
    return;
  }
  result.membership.min_members = *n;
}

// Role and replica index, from whichever producer set them (DESIGN.md §4 "Roles").
void ReadRoleAndIndex(const Pod& pod, MembershipResult& result) {
  GangMembership& m = result.membership;
  if (m.role.empty()) {
    for (const char* key : {kKubeflowReplicaType, kLegacyReplicaType}) {
      if (const std::string* v = Find(pod.labels, key)) {
        m.role = Lower(*v);
        break;
      }
    }
  }
  if (m.role.empty()) {
    if (const std::string* v = FindEither(pod, kVolcanoTaskSpec)) m.role = Lower(*v);
  }
  if (m.role.empty()) {
    if (const std::string* v = Find(pod.labels, kJobSetReplicatedJob)) m.role = Lower(*v);
  }
  for (const char* key : {kKubeflowReplicaIndex, kLegacyReplicaIndex}) {
    const std::string* v = Find(pod.labels, key);
    if (v == nullptr) continue;
    if (std::optional<int> index = ParseNonNegative(*v)) {
      m.index = *index;
    } else {
      AppendError(result.error, "pod " + PodName(pod) + ": label " + key + "=\"" + *v +
                                    "\" is not a replica index (a non-negative integer); the "
                                    "index is ignored");
    }
    break;
  }
}

MembershipResult Found(const Pod& pod, GangSource source, const std::string& name) {
  MembershipResult result;
  result.membership.key = GangKey{pod.namespace_name, name};
  result.membership.source = source;
  return result;
}

}  // namespace

const char* GangSourceName(GangSource source) {
  switch (source) {
    case GangSource::kGangsched:
      return "gangsched";
    case GangSource::kCoscheduling:
      return "coscheduling";
    case GangSource::kVolcano:
      return "volcano";
    case GangSource::kKueue:
      return "kueue";
    case GangSource::kYunikorn:
      return "yunikorn";
    case GangSource::kKoordinator:
      return "koordinator";
    case GangSource::kNative:
      return "native";
    case GangSource::kKubeflow:
      return "kubeflow";
    case GangSource::kKubeflowLegacy:
      return "kubeflow-legacy";
    case GangSource::kSinglePod:
      return "single-pod";
  }
  return "unknown";
}

MembershipResult IdentifyGang(const Pod& pod) {
  MembershipResult result;
  std::string pending_error;  // an error of a key that was skipped, kept for the final result
  if (const std::string* name = Find(pod.annotations, kGangschedGang)) {
    result = Found(pod, GangSource::kGangsched, *name);
    ReadSize(pod, kGangschedMinMembers, result);
  } else if (!pod.scheduling_group.empty()) {
    // Kubernetes 1.36's own gangs: spec.schedulingGroup names a scheduling.k8s.io PodGroup in the
    // pod's namespace; its size (spec.schedulingPolicy.gang.minCount) comes from kube/.
    result = Found(pod, GangSource::kNative, pod.scheduling_group);
  } else if (const std::string* pg = Find(pod.labels, kCoschedulingPodGroup)) {
    result = Found(pod, GangSource::kCoscheduling, *pg);  // size: the PodGroup's minMember (kube/)
  } else if (const std::string* group = Find(pod.annotations, kVolcanoGroupName)) {
    result = Found(pod, GangSource::kVolcano, *group);  // size: the PodGroup's minMember (kube/)
  } else if (const std::string* kueue = FindEither(pod, kKueuePodGroupName)) {
    result = Found(pod, GangSource::kKueue, *kueue);
    ReadSize(pod, kKueueTotalCount, result);
  } else {
    const std::string* task_group = Find(pod.annotations, kYunikornTaskGroup);
    const std::string* app_id = FindEither(pod, kYunikornAppId);
    if (app_id == nullptr) app_id = FindEither(pod, kYunikornLegacyAppId);
    if (task_group != nullptr && app_id == nullptr) {
      pending_error = "pod " + PodName(pod) + ": annotation " + kYunikornTaskGroup +
                      " without an application id; add label " + kYunikornAppId +
                      " so the pod joins its YuniKorn gang";
    }
    if (task_group != nullptr && app_id != nullptr) {
      // The application is the gang, the task group its role. The size lives in the
      // yunikorn.apache.org/task-groups JSON, which the pure core does not parse: min_members stays
      // empty and kube/ supplies it.
      result = Found(pod, GangSource::kYunikorn, *app_id);
      result.membership.role = Lower(*task_group);
    } else if (const std::string* koord = Find(pod.annotations, kKoordinatorName)) {
      result = Found(pod, GangSource::kKoordinator, *koord);
      ReadSize(pod, kKoordinatorMinAvailable, result);
    } else if (const std::string* job = Find(pod.labels, kKubeflowJobName)) {
      result = Found(pod, GangSource::kKubeflow, *job);
    } else if (const std::string* legacy = Find(pod.labels, kLegacyJobName)) {
      result = Found(pod, GangSource::kKubeflowLegacy, *legacy);
    } else {
      // Not a gang member by any convention gangsched knows: a gang of one.
      result = Found(pod, GangSource::kSinglePod, pod.name);
    }
  }
  ReadRoleAndIndex(pod, result);
  if (!pending_error.empty()) AppendError(result.error, pending_error);
  return result;
}

int GangSpec::TotalReplicas() const {
  int total = 0;
  for (const RoleSpec& role : roles) total += std::max(role.replicas, 0);
  return total;
}

namespace {
int RoleMinimum(const RoleSpec& role) {
  return std::clamp(role.min_members, 0, std::max(role.replicas, 0));
}
}  // namespace

int GangSpec::EffectiveQuorum() const {
  const int total = TotalReplicas();
  int minimums = 0;
  for (const RoleSpec& role : roles) minimums += RoleMinimum(role);
  const int wanted = quorum > 0 ? quorum : total;
  return std::clamp(wanted, minimums, total);
}

std::vector<std::pair<int, int>> GangSpec::QuorumMembers() const {
  std::vector<std::pair<int, int>> members;
  const int quorum_size = EffectiveQuorum();
  members.reserve(static_cast<std::size_t>(quorum_size));
  for (int r = 0; r < static_cast<int>(roles.size()); ++r) {
    for (int i = 0; i < RoleMinimum(roles[r]); ++i) members.emplace_back(r, i);
  }
  int remaining = quorum_size - static_cast<int>(members.size());
  for (int r = 0; r < static_cast<int>(roles.size()) && remaining > 0; ++r) {
    for (int i = RoleMinimum(roles[r]); i < roles[r].replicas && remaining > 0; ++i) {
      members.emplace_back(r, i);
      --remaining;
    }
  }
  std::sort(members.begin(), members.end());
  return members;
}

CommPattern InferPattern(const std::vector<RoleSpec>& roles) {
  int total = 0;
  bool has_ps = false;
  for (const RoleSpec& role : roles) {
    total += std::max(role.replicas, 0);
    if (role.replicas > 0 && Lower(role.name) == "ps") has_ps = true;
  }
  if (total <= 1) return CommPattern::kNone;
  return has_ps ? CommPattern::kParameterServer : CommPattern::kAllReduce;
}

}  // namespace gangsched::scheduler
