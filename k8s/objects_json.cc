#include "k8s/objects_json.h"

#include <optional>
#include <vector>

#include "k8s/quantity.h"
#include "scheduler/cluster_state.h"

namespace gangsched::k8s {
namespace {

using scheduler::Resources;
using Status = JsonStatus;

// Which of the resources the core plans on a resource map gave.
enum Present : unsigned { kCpu = 1, kMemory = 2, kGpu = 4, kPods = 8 };

Status ReadResources(od::value& v, Resources& out, unsigned* present = nullptr) {
  return ForEachField(v, [&](std::string_view name, od::value& value) -> Status {
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
    od::json_type t{};
    if (auto e = value.type().get(t)) return tl::unexpected(Prefix(name, " " + Fail(e)));
    if (t == od::json_type::string) {
      if (auto e = value.get_string().get(text)) return tl::unexpected(Prefix(name, Fail(e)));
    } else if (t == od::json_type::number) {
      text = value.raw_json_token();
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
      }
    } else if (t == od::json_type::null) {
      return {};
    } else {
      return tl::unexpected(Prefix(name, " must be a quantity string such as \"8\" or \"500m\""));
    }
    auto q = ParseQuantity(text, scale);
    if (!q) return tl::unexpected(Prefix(name, " " + q.error()));
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
Status ReadContainer(od::value& v, Container& c) {
  Resources limits;
  unsigned requested = 0;
  auto ok = ForEachField(v, [&](std::string_view key, od::value& value) -> Status {
    if (key == "resources") {
      auto s = ForEachField(value, [&](std::string_view k, od::value& r) -> Status {
        Status rs;
        if (k == "requests") rs = ReadResources(r, c.requests, &requested);
        if (k == "limits") rs = ReadResources(r, limits);
        if (!rs) return tl::unexpected(Prefix(k, rs.error()));
        return {};
      });
      if (!s) return tl::unexpected(Prefix(key, s.error()));
      return {};
    }
    if (key == "restartPolicy") {
      std::string policy;
      if (auto s = ReadString(value, policy); !s) return s;
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

Status ReadEffect(od::value& v, std::optional<scheduler::TaintEffect>& out) {
  std::string s;
  if (auto ok = ReadString(v, s); !ok) return ok;
  if (auto parsed = ParseTaintEffect(s)) {
    out = *parsed;
  } else if (!s.empty()) {
    return tl::unexpected(" \"" + s +
                          "\" is unknown; use NoSchedule, PreferNoSchedule or NoExecute");
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
Status ReadMetadata(od::value& v, Metadata& m, MetadataOf of = MetadataOf::kPod) {
  const bool pod = of == MetadataOf::kPod;
  return ForEachField(v, [&](std::string_view key, od::value& value) -> Status {
    Status s;
    if (key == "name") s = ReadString(value, m.name);
    if (pod && key == "namespace") s = ReadString(value, m.namespace_name);
    if (pod && key == "uid") s = ReadString(value, m.uid);
    if (key == "labels") s = ReadStringMap(value, m.labels);
    if (key == "annotations") {
      s = ReadStringMap(value, m.annotations, pod ? "" : scheduler::kNodeAnnotationPrefix);
    }
    if (!s) return tl::unexpected(Prefix(key, s.error()));
    return {};
  });
}

Status ReadPodSpec(od::value& v, scheduler::Pod& pod) {
  PodRequests requests;
  Resources overhead;
  auto ok = ForEachField(v, [&](std::string_view key, od::value& value) -> Status {
    Status s;
    if (key == "containers") {
      s = ForEachItem(value, [&](std::size_t, od::value& item) -> Status {
        Container c;
        if (auto r = ReadContainer(item, c); !r) return r;
        requests.AddContainer(c.requests);
        return {};
      });
    } else if (key == "initContainers") {
      s = ForEachItem(value, [&](std::size_t, od::value& item) -> Status {
        Container c;
        if (auto r = ReadContainer(item, c); !r) return r;
        requests.AddInitContainer(c.requests, c.restartable);
        return {};
      });
    } else if (key == "overhead") {
      s = ReadResources(value, overhead);
    } else if (key == "schedulerName") {
      s = ReadString(value, pod.scheduler_name);
    } else if (key == "schedulingGroup") {
      s = ForEachField(value, [&](std::string_view k, od::value& f) -> Status {
        if (k != "podGroupName") return {};
        if (auto r = ReadString(f, pod.scheduling_group); !r)
          return tl::unexpected(Prefix(k, r.error()));
        return {};
      });
    } else if (key == "nodeName") {
      s = ReadString(value, pod.node_name);
    } else if (key == "priority") {
      s = ReadInt(value, pod.priority);
    } else if (key == "nodeSelector") {
      s = ReadStringMap(value, pod.node_selector);
    } else if (key == "tolerations") {
      s = ForEachItem(value, [&](std::size_t, od::value& item) -> Status {
        scheduler::Toleration t;
        auto r = ForEachField(item, [&](std::string_view k, od::value& f) -> Status {
          Status fs;
          if (k == "key") fs = ReadString(f, t.key);
          if (k == "value") fs = ReadString(f, t.value);
          if (k == "effect") fs = ReadEffect(f, t.effect);
          if (k == "operator") {
            std::string op;
            fs = ReadString(f, op);
            if (fs && op != "Exists" && op != "Equal" && !op.empty()) {
              fs = tl::unexpected(" \"" + op + "\" is unknown; use Exists or Equal");
            }
            t.op_exists = op == "Exists";
          }
          if (!fs) return tl::unexpected(Prefix(k, fs.error()));
          return {};
        });
        if (!r) return r;
        pod.tolerations.push_back(std::move(t));
        return {};
      });
    }
    if (!s) return tl::unexpected(Prefix(key, s.error()));
    return {};
  });
  if (!ok) return ok;
  pod.requests = requests.Total(overhead);  // kube-scheduler's arithmetic (k8s/quantity.h)
  return {};
}

}  // namespace

Status ReadPodObject(od::object& obj, scheduler::Pod& pod) {
  pod.scheduler_name = "default-scheduler";
  Metadata m;
  auto ok = IterateObject(obj, [&](std::string_view key, od::value& value) -> Status {
    Status s;
    if (key == "metadata") {
      s = ReadMetadata(value, m);
    } else if (key == "spec") {
      s = ReadPodSpec(value, pod);
    } else if (key == "status") {
      s = ForEachField(value, [&](std::string_view k, od::value& f) -> Status {
        Status fs;
        if (k == "nominatedNodeName") fs = ReadString(f, pod.nominated_node_name);
        if (k == "conditions") {
          fs = ForEachItem(f, [&](std::size_t, od::value& c) -> Status {
            std::string type;
            std::string status;
            auto r = ForEachField(c, [&](std::string_view ck, od::value& cv) -> Status {
              if (ck == "type") return ReadString(cv, type);
              if (ck == "status") return ReadString(cv, status);
              return {};
            });
            if (!r) return r;
            if (type == "PodScheduled") pod.marked_unschedulable = status == "False";
            return {};
          });
        }
        if (k == "phase") {
          std::string phase;
          fs = ReadString(f, phase);
          if (phase == "Running") pod.phase = scheduler::PodPhase::kRunning;
          if (phase == "Succeeded") pod.phase = scheduler::PodPhase::kSucceeded;
          if (phase == "Failed") pod.phase = scheduler::PodPhase::kFailed;
          if (phase == "Unknown") pod.phase = scheduler::PodPhase::kUnknown;
        }
        if (!fs) return tl::unexpected(Prefix(k, fs.error()));
        return {};
      });
    }
    if (!s) return tl::unexpected(Prefix(key, s.error()));
    return {};
  });
  if (!ok) return ok;
  if (m.name.empty()) return tl::unexpected(std::string("metadata.name is missing"));
  pod.name = std::move(m.name);
  pod.namespace_name = m.namespace_name.empty() ? "default" : std::move(m.namespace_name);
  pod.uid = m.uid.empty() ? pod.namespace_name + "/" + pod.name : std::move(m.uid);
  pod.labels = std::move(m.labels);
  pod.annotations = std::move(m.annotations);
  if (pod.requests.pods == 0) pod.requests.pods = 1;  // no spec at all
  // The GPUs gangsched chose for it; malformed ones are ignored here (the pod still holds its GPU
  // count; ClusterState then takes the lowest free ids), a cluster file refuses them.
  if (auto ids = pod.annotations.find(scheduler::kGpuIdsAnnotation); ids != pod.annotations.end()) {
    pod.gpu_ids = ParseGpuIds(ids->second).value_or(std::vector<int>{});
  }
  return {};
}

Status ReadPod(od::value& v, scheduler::Pod& pod) {
  if (IsNull(v)) return tl::unexpected(std::string(" is null; the request must carry the pod"));
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return ReadPodObject(obj, pod);
}

Status ReadNodeObject(od::object& obj, scheduler::Node& node) {
  Metadata m;
  Resources allocatable;
  Resources capacity;
  unsigned alloc_present = 0;
  unsigned cap_present = 0;
  bool has_allocatable = false;
  auto ok = IterateObject(obj, [&](std::string_view key, od::value& value) -> Status {
    Status s;
    if (key == "metadata") {
      s = ReadMetadata(value, m, MetadataOf::kNode);
    } else if (key == "spec") {
      s = ForEachField(value, [&](std::string_view k, od::value& f) -> Status {
        Status fs;
        if (k == "unschedulable") fs = ReadBool(f, node.unschedulable);
        if (k == "taints") {
          fs = ForEachItem(f, [&](std::size_t, od::value& item) -> Status {
            scheduler::Taint t;
            std::optional<scheduler::TaintEffect> effect;
            auto r = ForEachField(item, [&](std::string_view tk, od::value& tv) -> Status {
              Status ts;
              if (tk == "key") ts = ReadString(tv, t.key);
              if (tk == "value") ts = ReadString(tv, t.value);
              if (tk == "effect") ts = ReadEffect(tv, effect);
              if (!ts) return tl::unexpected(Prefix(tk, ts.error()));
              return {};
            });
            if (!r) return r;
            if (effect) t.effect = *effect;
            node.taints.push_back(std::move(t));
            return {};
          });
        }
        if (!fs) return tl::unexpected(Prefix(k, fs.error()));
        return {};
      });
    } else if (key == "status") {
      s = ForEachField(value, [&](std::string_view k, od::value& f) -> Status {
        Status fs;
        if (k == "allocatable") {
          has_allocatable = !IsNull(f);
          fs = ReadResources(f, allocatable, &alloc_present);
        }
        if (k == "capacity") fs = ReadResources(f, capacity, &cap_present);
        if (!fs) return tl::unexpected(Prefix(k, fs.error()));
        return {};
      });
    }
    if (!s) return tl::unexpected(Prefix(key, s.error()));
    return {};
  });
  if (!ok) return ok;
  if (m.name.empty()) return tl::unexpected(std::string("metadata.name is missing"));
  node.name = std::move(m.name);
  node.labels = std::move(m.labels);
  node.annotations = std::move(m.annotations);
  node.allocatable = has_allocatable ? allocatable : capacity;
  const unsigned present = has_allocatable ? alloc_present : cap_present;
  if ((present & kPods) == 0) node.allocatable.pods = kDefaultMaxPods;
  return {};
}

Status ReadNode(od::value& v, scheduler::Node& node) {
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return ReadNodeObject(obj, node);
}

JsonResult<scheduler::Pod> DecodePodJson(std::string_view json) {
  scheduler::Pod pod;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadPod(root, pod); });
  if (!ok) return tl::unexpected(Prefix("Pod", ok.error()));
  return pod;
}

JsonResult<scheduler::Node> DecodeNodeJson(std::string_view json) {
  scheduler::Node node;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadNode(root, node); });
  if (!ok) return tl::unexpected(Prefix("Node", ok.error()));
  return node;
}

}  // namespace gangsched::k8s
