// Job manifests -> the core's GangSpec (DESIGN.md §3.1, §4): Kubeflow training jobs (TFJob
// kubeflow.org/v1alpha1, v1alpha2, v1; PyTorchJob; MPIJob v1 and v2beta1; MXJob, XGBoostJob,
// PaddleJob, JAXJob) and plain Pods carrying gang keys. One Kubeflow job decoder over k8s/reader.h
// with a YAML front end (job and cluster files) and a JSON front end (watched jobs); pod templates
// are read by k8s/object_fields.h. Owns the reading of job objects only; the quorum arithmetic and
// the communication pattern come from scheduler/gang.h.
//
// Defaults, as the operators apply them: `replicas` absent -> 1; namespace absent -> "default";
// a replica template without `resources` requests nothing (0 CPU, 0 memory, 0 GPUs) — gangsched
// never invents GPUs the manifest does not ask for (the old TFJob examples request none).
// Quorum: runPolicy.schedulingPolicy.minAvailable when given (each role then needs at least one
// pod), else every replica (each role needs all of its replicas). An MPIJob with
// launcherCreationPolicy: WaitForWorkersReady has the workers as its quorum; the launcher is
// created after them and is not part of the plan (DESIGN.md §4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "k8s/json.h"
#include "k8s/objects_yaml.h"
#include "k8s/quantity.h"
#include "scheduler/gang.h"

namespace gangsched::k8s {

struct JobSpec {
  scheduler::GangSpec
      gang;  // gang.key is the job's namespace/name; gang.kind e.g. "TFJob kubeflow.org/v1"
  std::string file;
  Position position;  // of the job object (of its first pod for plain pods)
};

// Every job of the objects, in file order. Plain pods are grouped into gangs by
// scheduler::IdentifyGang (a gang appears where its first pod is); pods without gang keys are
// gangs of one. Any other kind is an error naming its position.
Decoded<std::vector<JobSpec>> DecodeJobObjects(const std::vector<SourceObject>& objects,
                                               const std::string& file);
// A watched Kubeflow job (API JSON) of the given kind and apiVersion (those of the watched
// resource): its gang. Errors name the job and the field ("TFJob ml/bert: spec.tfReplicaSpecs
// .Worker.replicas must be ...").
JsonResult<scheduler::GangSpec> DecodeKubeflowJobJson(std::string_view json, std::string_view kind,
                                                      std::string_view api_version);
Decoded<std::vector<JobSpec>> DecodeJobs(std::string_view text, const std::string& file);
Decoded<std::vector<JobSpec>> DecodeJobsFile(const std::string& path);

}  // namespace gangsched::k8s
