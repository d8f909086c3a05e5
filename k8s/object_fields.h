// The fields of Pods and Nodes (and of pod specs, which job templates share) -> the core's values,
// written once over k8s/reader.h's readers: k8s/objects_json.cc instantiates it with the simdjson
// reader (API JSON), k8s/objects_yaml.cc with the yaml-cpp reader (files), so both front ends read
// the same fields with the same defaults and the same errors. Reads only the fields the core
// needs. Included by the front ends only; the function templates inline into each.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "k8s/quantity.h"
#include "k8s/reader.h"
#include "scheduler/cluster_state.h"
#include "scheduler/model.h"

namespace gangsched::k8s::fields {

using scheduler::Resources;

// Which of the resources the core plans on a resource map gave.
enum Present : unsigned { kCpu = 1, kMemory = 2, kGpu = 4, kPods = 8 };

// A resource map (requests, limits, allocatable, overhead). Only cpu, memory, GPUs and pods count.
template <typename R>
typename R::Status ReadResources(R& r, Resources& out, unsigned* present = nullptr) {
  return r.Fields([&](std::string_view name, R& value) -> typename R::Status {
    std::int64_t* target = nullptr;
    QuantityScale scale = QuantityScale::kUnits;
    unsigned bit = 0;
    if (name == "cpu") {
      target = &out.milli_cpu;
      scale = QuantityScale::kMilli;
      bit = kCpu;
    } else if (name == "memory") {
      target = &out.memory_bytes;
      bit = kMemory;
    } else if (name == scheduler::kGpuResource) {
      target = &out.gpus;
      scale = QuantityScale::kWhole;
      bit = kGpu;
    } else if (name == "pods") {
      target = &out.pods;
      scale = QuantityScale::kWhole;
      bit = kPods;
    } else {
      return {};  // ephemeral-storage, hugepages, other extended resources: not planned on
    }
    std::string_view text;
    bool given = false;
    if (auto ok = value.Scalar(text, given, "a quantity string such as \"8\" or \"500m\""); !ok) {
      return ok;
    }
    if (!given) return {};
    auto q = ParseQuantity(text, scale);
    if (!q) return value.Fail(" " + q.error());
    *target = *q;
    if (present != nullptr) *present |= bit;
    return {};
  });
}

// requests, with limits standing in for resources that have no request (API server defaulting:
// a GPU limit alone is a GPU request).
struct Container {
  Resources requests;
  bool restartable = false;  // an init container with restartPolicy: Always (a sidecar)
};
template <typename R>
typename R::Status ReadContainer(R& r, Container& c) {
  Resources limits;
  unsigned requested = 0;
  auto ok = r.Fields([&](std::string_view key, R& value) -> typename R::Status {
    if (key == "resources") {
      return value.Fields([&](std::string_view k, R& res) -> typename R::Status {
        if (k == "requests") return ReadResources(res, c.requests, &requested);
        if (k == "limits") return ReadResources(res, limits);
        return {};
      });
    }
    if (key == "restartPolicy") {
      std::string policy;
      if (auto s = value.String(policy); !s) return s;
      c.restartable = policy == "Always";
    }
    return {};
  });
  if (!ok) return ok;
  if ((requested & kCpu) == 0) c.requests.milli_cpu = limits.milli_cpu;
  if ((requested & kMemory) == 0) c.requests.memory_bytes = limits.memory_bytes;
  if ((requested & kGpu) == 0) c.requests.gpus = limits.gpus;
  c.requests.pods = 0;
  return {};
}

template <typename R>
typename R::Status ReadEffect(R& r, std::optional<scheduler::TaintEffect>& out,
                              std::string_view otherwise = {}) {
  std::string s;
  if (auto ok = r.String(s); !ok) return ok;
  if (auto parsed = ParseTaintEffect(s)) {
    out = *parsed;
  } else if (!s.empty()) {
    return r.Fail(" " + Quote(s) + " is unknown; use NoSchedule, PreferNoSchedule or NoExecute" +
                  std::string(otherwise));
  }
  return {};
}

struct Metadata {
  std::string name;
  std::string namespace_name;
  std::string uid;
  scheduler::StringMap labels;
  scheduler::StringMap annotations;
};
// A Node's metadata: only its name and labels, and of its annotations only gangsched.io/ ones
// (scheduler::Node); kubelet, CSI and CNI annotations are most of a Node's metadata bytes.
enum class MetadataOf : std::uint8_t { kPod, kNode };
template <typename R, typename Check = NoEntryCheck>
typename R::Status ReadMetadata(R& r, Metadata& m, MetadataOf of, Check check = {}) {
  const bool pod = of == MetadataOf::kPod;
  auto ok = r.Fields([&](std::string_view key, R& value) -> typename R::Status {
    if (key == "name") return value.String(m.name);
    if (pod && key == "namespace") return value.String(m.namespace_name);
    if (pod && key == "uid") return value.String(m.uid);
    if (key == "labels") return value.StringMap(m.labels);
    if (key == "annotations") {
      return value.StringMap(m.annotations, pod ? "" : scheduler::kNodeAnnotationPrefix, check);
    }
    return {};
  });
  if (!ok) return ok;
  if (m.name.empty()) return r.Fail("name is missing");  // at the metadata, null or not
  return {};
}

// A pod spec (of a Pod, or of a job's pod template) into `pod`: requests as kube-scheduler
// computes them (k8s/quantity.h PodRequests), schedulerName, schedulingGroup, nodeName, priority,
// nodeSelector, tolerations.
template <typename R>
typename R::Status ReadPodSpec(R& r, scheduler::Pod& pod) {
  using Status = typename R::Status;
  PodRequests requests;
  Resources overhead;
  auto ok = r.Fields([&](std::string_view key, R& value) -> Status {
    if (key == "containers") {
      return value.Items([&](std::size_t, R& item) -> Status {
        Container c;
        if (auto s = ReadContainer(item, c); !s) return s;
        if (auto sum = requests.AddContainer(c.requests); !sum) return item.Fail(" " + sum.error());
        return {};
      });
    }
    if (key == "initContainers") {
      return value.Items([&](std::size_t, R& item) -> Status {
        Container c;
        if (auto s = ReadContainer(item, c); !s) return s;
        if (auto sum = requests.AddInitContainer(c.requests, c.restartable); !sum) {
          return item.Fail(" " + sum.error());
        }
        return {};
      });
    }
    if (key == "overhead") return ReadResources(value, overhead);
    if (key == "schedulerName") return value.String(pod.scheduler_name);
    if (key == "schedulingGroup") {
      return value.Fields([&](std::string_view k, R& f) -> Status {
        return k == "podGroupName" ? f.String(pod.scheduling_group) : Status{};
      });
    }
    if (key == "nodeName") return value.String(pod.node_name);
    if (key == "priority") return value.Integer(pod.priority);
    if (key == "nodeSelector") return value.StringMap(pod.node_selector);
    if (key == "tolerations") {
      return value.Items([&](std::size_t, R& item) -> Status {
        scheduler::Toleration t;
        auto s = item.Fields([&](std::string_view k, R& f) -> Status {
          if (k == "key") return f.String(t.key);
          if (k == "value") return f.String(t.value);
          if (k == "effect") return ReadEffect(f, t.effect, ", or leave it out for all effects");
          if (k == "operator") {
            std::string op;
            if (auto os = f.String(op); !os) return os;
            if (op != "Exists" && op != "Equal" && !op.empty()) {
              return f.Fail(" " + Quote(op) + " is unknown; use Exists or Equal");
            }
            t.op_exists = op == "Exists";
          }
          return {};
        });
        if (!s) return s;
        pod.tolerations.push_back(std::move(t));
        return {};
      });
    }
    return {};
  });
  if (!ok) return ok;
  auto total = requests.Total(overhead);
  if (!total) return r.Fail(total.error());
  pod.requests = *total;
  return {};
}

template <typename R>
typename R::Status ReadPodStatus(R& r, scheduler::Pod& pod, Strictness strictness) {
  using Status = typename R::Status;
  return r.Fields([&](std::string_view key, R& value) -> Status {
    if (key == "nominatedNodeName") return value.String(pod.nominated_node_name);
    if (key == "conditions") {
      return value.Items([&](std::size_t, R& c) -> Status {
        std::string type;
        std::string status;
        auto s = c.Fields([&](std::string_view k, R& f) -> Status {
          if (k == "type") return f.String(type);
          if (k == "status") return f.String(status);
          return {};
        });
        if (!s) return s;
        if (type == "PodScheduled") pod.marked_unschedulable = status == "False";
        return {};
      });
    }
    if (key == "phase") {
      std::string phase;
      if (auto s = value.String(phase); !s) return s;
      if (phase == "Running") {
        pod.phase = scheduler::PodPhase::kRunning;
      } else if (phase == "Succeeded") {
        pod.phase = scheduler::PodPhase::kSucceeded;
      } else if (phase == "Failed") {
        pod.phase = scheduler::PodPhase::kFailed;
      } else if (phase == "Unknown") {
        pod.phase = scheduler::PodPhase::kUnknown;
      } else if (phase.empty() || phase == "Pending") {
        pod.phase = scheduler::PodPhase::kPending;
      } else if (strictness == Strictness::kFile) {
        return value.Fail(" " + Quote(phase) +
                          " is unknown; use Pending, Running, Succeeded, Failed or Unknown");
      }
    }
    return {};
  });
}

// A Pod object. `Object` is a reader at the object (or k8s/json_reader.h JsonObjectReader).
template <typename Object>
typename Object::Status ReadPodObject(Object& object, scheduler::Pod& pod, Strictness strictness) {
  using Status = typename Object::Status;
  Metadata m;
  // The GPUs gangsched chose for it. Through the API a malformed value is ignored (the pod still
  // holds its GPU count; ClusterState then takes the lowest free ids); a file refuses it.
  auto gpu_ids = [file = strictness == Strictness::kFile](
                     std::string_view key, std::string_view value, std::string& message) {
    if (!file || key != scheduler::kGpuIdsAnnotation || ParseGpuIds(value)) return true;
    message = " " + Quote(value) + " must list GPU indices 0-63 separated by commas, e.g. \"0,1\"";
    return false;
  };
  auto ok = object.Fields([&](std::string_view key, auto& value) -> Status {
    if (key == "metadata") return ReadMetadata(value, m, MetadataOf::kPod, gpu_ids);
    if (key == "spec") return ReadPodSpec(value, pod);
    if (key == "status") return ReadPodStatus(value, pod, strictness);
    return {};
  });
  if (!ok) return ok;
  if (m.name.empty()) return object.Fail("metadata.name is missing");
  pod.name = std::move(m.name);
  pod.namespace_name = m.namespace_name.empty() ? "default" : std::move(m.namespace_name);
  pod.uid = m.uid.empty() ? pod.namespace_name + "/" + pod.name : std::move(m.uid);
  pod.labels = std::move(m.labels);
  pod.annotations = std::move(m.annotations);
  if (pod.scheduler_name.empty()) pod.scheduler_name = "default-scheduler";  // API defaulting
  if (pod.requests.pods == 0) pod.requests.pods = 1;                         // no spec at all
  if (auto ids = pod.annotations.find(scheduler::kGpuIdsAnnotation); ids != pod.annotations.end()) {
    pod.gpu_ids = ParseGpuIds(ids->second).value_or(std::vector<int>{});
  }
  return {};
}

// A Node object: name, labels, gangsched.io/ annotations, taints, cordon, and allocatable (else
// capacity) with the kubelet's default max pods when "pods" is absent.
template <typename Object>
typename Object::Status ReadNodeObject(Object& object, scheduler::Node& node,
                                       Strictness strictness) {
  using Status = typename Object::Status;
  Metadata m;
  Resources allocatable;
  Resources capacity;
  unsigned alloc_present = 0;
  unsigned cap_present = 0;
  bool has_allocatable = false;
  auto ok = object.Fields([&](std::string_view key, auto& value) -> Status {
    using R = std::remove_reference_t<decltype(value)>;
    if (key == "metadata") return ReadMetadata(value, m, MetadataOf::kNode);
    if (key == "spec") {
      return value.Fields([&](std::string_view k, R& f) -> Status {
        if (k == "unschedulable") return f.Bool(node.unschedulable);
        if (k != "taints") return {};
        return f.Items([&](std::size_t, R& item) -> Status {
          scheduler::Taint t;
          std::optional<scheduler::TaintEffect> effect;
          auto s = item.Fields([&](std::string_view tk, R& tv) -> Status {
            if (tk == "key") return tv.String(t.key);
            if (tk == "value") return tv.String(t.value);
            if (tk == "effect") return ReadEffect(tv, effect);
            return {};
          });
          if (!s) return s;
          if (strictness == Strictness::kFile && t.key.empty()) {
            return item.Fail(" has no key; every taint needs a key");
          }
          if (strictness == Strictness::kFile && !effect) {
            return item.Fail(" has no effect; use NoSchedule, PreferNoSchedule or NoExecute");
          }
          if (effect) t.effect = *effect;
          node.taints.push_back(std::move(t));
          return {};
        });
      });
    }
    if (key == "status") {
      return value.Fields([&](std::string_view k, R& f) -> Status {
        if (k == "allocatable") {
          has_allocatable = !f.IsNull();
          return ReadResources(f, allocatable, &alloc_present);
        }
        if (k == "capacity") return ReadResources(f, capacity, &cap_present);
        return {};
      });
    }
    return {};
  });
  if (!ok) return ok;
  if (m.name.empty()) return object.Fail("metadata.name is missing");
  node.name = std::move(m.name);
  node.labels = std::move(m.labels);
  node.annotations = std::move(m.annotations);
  node.allocatable = has_allocatable ? allocatable : capacity;
  const unsigned present = has_allocatable ? alloc_present : cap_present;
  if ((present & kPods) == 0) node.allocatable.pods = kDefaultMaxPods;
  return {};
}

}  // namespace gangsched::k8s::fields
