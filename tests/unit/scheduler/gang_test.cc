#include "scheduler/gang.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace gangsched::scheduler {
namespace {

// One-line pod fixtures: MakePod("p").Label(k, v).Annotation(k, v).
struct PodBuilder {
  Pod pod;
  PodBuilder& Label(const std::string& k, const std::string& v) {
    pod.labels[k] = v;
    return *this;
  }
  PodBuilder& Annotation(const std::string& k, const std::string& v) {
    pod.annotations[k] = v;
    return *this;
  }
  PodBuilder& SchedulingGroup(const std::string& group) {
    pod.scheduling_group = group;
    return *this;
  }
  operator Pod() const { return pod; }  // NOLINT(google-explicit-constructor)
};
PodBuilder MakePod(const std::string& name, const std::string& ns = "ml") {
  PodBuilder b;
  b.pod.name = name;
  b.pod.namespace_name = ns;
  return b;
}

RoleSpec Role(const std::string& name, int replicas, int min_members) {
  RoleSpec r;
  r.name = name;
  r.replicas = replicas;
  r.min_members = min_members;
  return r;
}

struct IdentityCase {
  const char* what;
  Pod pod;
  GangSource source;
  std::string gang;  // expected key name
  std::optional<int> min_members;
  std::string role;
  std::optional<int> index;
};

TEST_CASE("IdentifyGang reads the keys of DESIGN.md §4", "[gang]") {
  const IdentityCase c = GENERATE(
      IdentityCase{"gangsched annotation with size",
                   MakePod("p")
                       .Annotation("gangsched.io/gang", "bert")
                       .Annotation("gangsched.io/min-members", "4"),
                   GangSource::kGangsched, "bert", 4, "", std::nullopt},
      IdentityCase{"coscheduling label", MakePod("p").Label("scheduling.x-k8s.io/pod-group", "pg1"),
                   GangSource::kCoscheduling, "pg1", std::nullopt, "", std::nullopt},
      IdentityCase{"volcano annotation with task-spec role",
                   MakePod("p")
                       .Annotation("scheduling.k8s.io/group-name", "vj")
                       .Annotation("volcano.sh/task-spec", "Worker"),
                   GangSource::kVolcano, "vj", std::nullopt, "worker", std::nullopt},
      IdentityCase{"kueue plain pods",
                   MakePod("p")
                       .Label("kueue.x-k8s.io/pod-group-name", "kq")
                       .Annotation("kueue.x-k8s.io/pod-group-total-count", "3"),
                   GangSource::kKueue, "kq", 3, "", std::nullopt},
      IdentityCase{"yunikorn app id and task group",
                   MakePod("p")
                       .Label("yunikorn.apache.org/app-id", "app-7")
                       .Annotation("yunikorn.apache.org/task-group-name", "Executors"),
                   GangSource::kYunikorn, "app-7", std::nullopt, "executors", std::nullopt},
      IdentityCase{"yunikorn legacy applicationId",
                   MakePod("p")
                       .Label("applicationId", "spark-1")
                       .Annotation("yunikorn.apache.org/task-group-name", "driver"),
                   GangSource::kYunikorn, "spark-1", std::nullopt, "driver", std::nullopt},
      IdentityCase{"koordinator",
                   MakePod("p")
                       .Annotation("gang.scheduling.koordinator.sh/name", "kg")
                       .Annotation("gang.scheduling.koordinator.sh/min-available", "2"),
                   GangSource::kKoordinator, "kg", 2, "", std::nullopt},
      IdentityCase{"native PodGroup (spec.schedulingGroup, Kubernetes 1.36)",
                   MakePod("p").SchedulingGroup("npg").Label("training.kubeflow.org/job-name", "j"),
                   GangSource::kNative, "npg", std::nullopt, "", std::nullopt},
      IdentityCase{"gangsched wins over the native PodGroup",
                   MakePod("p").SchedulingGroup("npg").Annotation("gangsched.io/gang", "mine"),
                   GangSource::kGangsched, "mine", std::nullopt, "", std::nullopt},
      IdentityCase{"kubeflow training-operator labels",
                   MakePod("p")
                       .Label("training.kubeflow.org/job-name", "mnist")
                       .Label("training.kubeflow.org/replica-type", "PS")
                       .Label("training.kubeflow.org/replica-index", "1"),
                   GangSource::kKubeflow, "mnist", std::nullopt, "ps", 1},
      IdentityCase{"legacy tf-operator labels",
                   MakePod("p")
                       .Label("tf-job-name", "example-job")
                       .Label("tf-replica-type", "worker")
                       .Label("tf-replica-index", "0"),
                   GangSource::kKubeflowLegacy, "example-job", std::nullopt, "worker", 0},
      IdentityCase{"jobset replicated job as role",
                   MakePod("p")
                       .Label("scheduling.x-k8s.io/pod-group", "tj")
                       .Label("jobset.sigs.k8s.io/replicatedjob-name", "Trainer"),
                   GangSource::kCoscheduling, "tj", std::nullopt, "trainer", std::nullopt},
      IdentityCase{"gangsched wins over kubeflow",
                   MakePod("p")
                       .Annotation("gangsched.io/gang", "mine")
                       .Label("training.kubeflow.org/job-name", "theirs")
                       .Label("training.kubeflow.org/replica-type", "worker"),
                   GangSource::kGangsched, "mine", std::nullopt, "worker", std::nullopt},
      IdentityCase{"coscheduling wins over volcano",
                   MakePod("p")
                       .Label("scheduling.x-k8s.io/pod-group", "pg")
                       .Annotation("scheduling.k8s.io/group-name", "vg"),
                   GangSource::kCoscheduling, "pg", std::nullopt, "", std::nullopt},
      IdentityCase{"empty gang annotation is ignored",
                   MakePod("p")
                       .Annotation("gangsched.io/gang", "")
                       .Label("training.kubeflow.org/job-name", "j"),
                   GangSource::kKubeflow, "j", std::nullopt, "", std::nullopt},
      IdentityCase{"coscheduling key as annotation is not read (label only)",
                   MakePod("solo").Annotation("scheduling.x-k8s.io/pod-group", "pg"),
                   GangSource::kSinglePod, "solo", std::nullopt, "", std::nullopt},
      IdentityCase{"no keys: a gang of one", MakePod("solo"), GangSource::kSinglePod, "solo",
                   std::nullopt, "", std::nullopt});
  INFO(c.what);
  const MembershipResult r = IdentifyGang(c.pod);
  CHECK(r.error.empty());
  CHECK(r.membership.source == c.source);
  CHECK(r.membership.key.namespace_name == "ml");
  CHECK(r.membership.key.name == c.gang);
  CHECK(r.membership.min_members == c.min_members);
  CHECK(r.membership.role == c.role);
  CHECK(r.membership.index == c.index);
}

TEST_CASE("IdentifyGang reports a bad size but keeps the gang", "[gang]") {
  const std::string bad = GENERATE("0", "-2", "four", "3.5", "4 ");
  const MembershipResult r = IdentifyGang(MakePod("p")
                                              .Annotation("gangsched.io/gang", "g")
                                              .Annotation("gangsched.io/min-members", bad));
  INFO(bad);
  CHECK(r.membership.source == GangSource::kGangsched);
  CHECK(r.membership.key.name == "g");
  CHECK_FALSE(r.membership.min_members.has_value());
  CHECK(r.error.find("ml/p") != std::string::npos);
  CHECK(r.error.find("gangsched.io/min-members") != std::string::npos);
}

TEST_CASE("IdentifyGang reports a YuniKorn task group without an app id", "[gang]") {
  const MembershipResult r =
      IdentifyGang(MakePod("p").Annotation("yunikorn.apache.org/task-group-name", "tg"));
  CHECK(r.membership.source == GangSource::kSinglePod);
  CHECK(r.error.find("yunikorn.apache.org/app-id") != std::string::npos);
}

TEST_CASE("GangSourceName names every source", "[gang]") {
  const auto source = GENERATE(GangSource::kGangsched, GangSource::kCoscheduling,
                               GangSource::kVolcano, GangSource::kKueue, GangSource::kYunikorn,
                               GangSource::kKoordinator, GangSource::kNative, GangSource::kKubeflow,
                               GangSource::kKubeflowLegacy, GangSource::kSinglePod);
  CHECK(std::string(GangSourceName(source)) != "unknown");
}

struct QuorumCase {
  const char* what;
  std::vector<RoleSpec> roles;
  int quorum;
  int total;
  int effective;
  std::vector<std::pair<int, int>> members;
};

TEST_CASE("GangSpec quorum: role minimums first, then role order", "[gang]") {
  const QuorumCase c = GENERATE(
      QuorumCase{"default quorum is every replica",
                 {Role("ps", 2, 2), Role("worker", 2, 2)},
                 0,
                 4,
                 4,
                 {{0, 0}, {0, 1}, {1, 0}, {1, 1}}},
      QuorumCase{"minAvailable below total keeps one of each role",
                 {Role("ps", 2, 1), Role("worker", 4, 1)},
                 3,
                 6,
                 3,
                 {{0, 0}, {0, 1}, {1, 0}}},
      QuorumCase{"quorum below the role minimums is raised to them",
                 {Role("master", 1, 1), Role("worker", 3, 1)},
                 1,
                 4,
                 2,
                 {{0, 0}, {1, 0}}},
      QuorumCase{
          "quorum above total is clamped", {Role("worker", 2, 1)}, 9, 2, 2, {{0, 0}, {0, 1}}},
      QuorumCase{"launcher with minimum 0 is left out (WaitForWorkersReady)",
                 {Role("launcher", 1, 0), Role("worker", 2, 2)},
                 2,
                 3,
                 2,
                 {{1, 0}, {1, 1}}},
      QuorumCase{"minimum above replicas is clamped to replicas",
                 {Role("worker", 2, 5)},
                 0,
                 2,
                 2,
                 {{0, 0}, {0, 1}}});
  INFO(c.what);
  GangSpec gang;
  gang.roles = c.roles;
  gang.quorum = c.quorum;
  CHECK(gang.TotalReplicas() == c.total);
  CHECK(gang.EffectiveQuorum() == c.effective);
  CHECK(gang.QuorumMembers() == c.members);
}

TEST_CASE("InferPattern picks the communication model from the roles", "[gang]") {
  using Roles = std::vector<RoleSpec>;
  const auto [roles, pattern] = GENERATE(
      std::pair{Roles{Role("ps", 2, 2), Role("worker", 2, 2)}, CommPattern::kParameterServer},
      std::pair{Roles{Role("PS", 1, 1), Role("master", 1, 1)}, CommPattern::kParameterServer},
      std::pair{Roles{Role("master", 1, 1), Role("worker", 3, 3)}, CommPattern::kAllReduce},
      std::pair{Roles{Role("worker", 1, 1)}, CommPattern::kNone},
      std::pair{Roles{Role("ps", 0, 0), Role("worker", 2, 2)}, CommPattern::kAllReduce},
      std::pair{Roles{}, CommPattern::kNone});
  CHECK(InferPattern(roles) == pattern);
}

}  // namespace
}  // namespace gangsched::scheduler
