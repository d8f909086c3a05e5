#include "api/wire.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "api/k8s_decode.h"

namespace gangsched::api {
namespace {

namespace od = simdjson::ondemand;
using scheduler::Resources;
using Status = tl::expected<void, std::string>;

// The kubelet's default max pods, used when a Node's allocatable has no "pods" (as k8s_decode.cc).
constexpr std::int64_t kDefaultMaxPods = 110;

std::string Fail(simdjson::error_code e) {
  switch (e) {
    case simdjson::INCORRECT_TYPE:
      return "has the wrong JSON type";
    case simdjson::TAPE_ERROR:
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "is not valid JSON (truncated or unbalanced brackets)";
    case simdjson::UNCLOSED_STRING:
      return "is not valid JSON (a string is not closed)";
    case simdjson::NUMBER_ERROR:
      return "is not a valid number";
    case simdjson::STRING_ERROR:
    case simdjson::UTF8_ERROR:
      return "is not a valid JSON string";
    default:
      return std::string("is not valid JSON (") + simdjson::error_message(e) + ")";
  }
}

// "a.b" joins; errors are prefixed with the field path as they unwind (no cost on success).
std::string Prefix(std::string_view field, std::string error) {
  if (!error.empty() && error.front() == '[') return std::string(field) + error;
  if (!error.empty() && error.front() == ' ') return std::string(field) + error;
  return std::string(field) + "." + error;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

bool IsNull(od::value& v) {
  od::json_type t{};
  return !v.type().get(t) && t == od::json_type::null;
}

// A string field; null reads as "".
Status ReadString(od::value& v, std::string& out) {
  if (IsNull(v)) {
    out.clear();
    return {};
  }
  std::string_view s;
  if (auto e = v.get_string().get(s)) {
    return tl::unexpected(e == simdjson::INCORRECT_TYPE ? std::string(" must be a string")
                                                        : " " + Fail(e));
  }
  out.assign(s);
  return {};
}

Status ReadBool(od::value& v, bool& out) {
  if (IsNull(v)) {
    out = false;
    return {};
  }
  if (v.get_bool().get(out)) return tl::unexpected(std::string(" must be true or false"));
  return {};
}

template <typename Int>
Status ReadInt(od::value& v, Int& out) {
  if (IsNull(v)) {
    out = 0;
    return {};
  }
  std::int64_t n = 0;
  if (v.get_int64().get(n) || n < std::numeric_limits<Int>::min() ||
      n > std::numeric_limits<Int>::max()) {
    return tl::unexpected(std::string(" must be an integer"));
  }
  out = static_cast<Int>(n);
  return {};
}

// Iterates an object's fields: fn(key, value) -> Status.
template <typename Fn>
Status IterateObject(od::object& obj, Fn&& fn) {
  for (auto field : obj) {
    od::field f;
    if (auto e = std::move(field).get(f)) return tl::unexpected(" " + Fail(e));
    std::string_view key;
    if (auto e = f.unescaped_key().get(key)) return tl::unexpected(" " + Fail(e));
    if (auto ok = fn(key, f.value()); !ok) return ok;
  }
  return {};
}

// The object a value holds; an error naming the wrong type otherwise.
Status GetObject(od::value& v, od::object& obj) {
  if (auto e = v.get_object().get(obj)) {
    return tl::unexpected(e == simdjson::INCORRECT_TYPE ? std::string(" must be an object")
                                                        : " " + Fail(e));
  }
  return {};
}

// The same over a value; null reads as an empty object.
template <typename Fn>
Status ForEachField(od::value& v, Fn&& fn) {
  if (IsNull(v)) return {};
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return IterateObject(obj, std::forward<Fn>(fn));
}

template <typename Fn>
Status ForEachItem(od::value& v, Fn&& fn) {
  if (IsNull(v)) return {};
  od::array arr;
  if (auto e = v.get_array().get(arr)) {
    return tl::unexpected(e == simdjson::INCORRECT_TYPE ? std::string(" must be an array")
                                                        : " " + Fail(e));
  }
  std::size_t i = 0;
  for (auto item : arr) {
    od::value value;
    if (auto e = std::move(item).get(value)) {
      return tl::unexpected("[" + std::to_string(i) + "] " + Fail(e));
    }
    if (auto ok = fn(i, value); !ok) {
      return tl::unexpected(Prefix("[" + std::to_string(i) + "]", ok.error()));
    }
    ++i;
  }
  return {};
}

// A string-to-string map (labels, annotations, nodeSelector); with `prefix`, only the keys that
// start with it are kept (the other values are skipped unread). Go writes map keys sorted, so each
// key goes in at the end of the map (constant time) when they come in order.
Status ReadStringMap(od::value& v, scheduler::StringMap& out, std::string_view prefix = {}) {
  return ForEachField(v, [&](std::string_view key, od::value& value) -> Status {
    if (key.substr(0, prefix.size()) != prefix) return {};
    std::string_view s;
    if (!IsNull(value)) {
      if (auto e = value.get_string().get(s)) {
        return tl::unexpected(Prefix(
            key, e == simdjson::INCORRECT_TYPE ? std::string(" must be a string") : " " + Fail(e)));
      }
    }
    const auto hint =
        out.empty() || out.rbegin()->first < key ? out.end() : out.lower_bound(std::string(key));
    if (hint != out.end() && hint->first == key) {
      hint->second.assign(s);  // a repeated key: the last one wins, as in Go
    } else {
      out.emplace_hint(hint, std::piecewise_construct, std::forward_as_tuple(key),
                       std::forward_as_tuple(s));
    }
    return {};
  });
}

// A resource map (requests, limits, allocatable, overhead). Quantities are strings ("500m"); a JSON
// number is accepted as resource.Quantity's UnmarshalJSON does. Only cpu, memory, GPUs and pods
// count; `present` records which of them were given.
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
  pod.requests = requests.Total(overhead);  // kube-scheduler's arithmetic (api/k8s_decode.h)
  return {};
}

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

// Parses a whole body: `top(document)` reads the top-level object; then nothing may follow.
// `padded_base`, when given, gets the start of the padded copy that views returned by simdjson
// (raw_json) point into, so that they can be turned into views of `body`.
// `own_parser`: parse with this parser instead of the thread's (whose buffers, sized to the
// largest body it has parsed, stay allocated while the thread lives).
template <typename Fn>
Status ParseBody(Body in, Fn&& top, const char** padded_base = nullptr, bool array_or_null = false,
                 od::parser* own_parser = nullptr) {
  const std::string_view body = in.bytes;
  thread_local od::parser thread_parser;
  od::parser& parser = own_parser != nullptr ? *own_parser : thread_parser;
  // simdjson reads a padded copy. Up to kReusedCopy bytes it goes into this thread's buffer, kept
  // from request to request: a fresh 76 KB block per filter call (5,000 names) cost a
  // malloc_consolidate on every free. Larger bodies get their own copy, so no thread keeps one.
  constexpr std::size_t kReusedCopy = std::size_t{1} << 20;
  thread_local std::string reused;
  simdjson::padded_string own;
  const char* base = nullptr;
  std::size_t capacity = 0;
  if (in.readable >= body.size() + simdjson::SIMDJSON_PADDING) {  // parsed where it is
    base = body.data();
    capacity = in.readable;
  } else if (body.size() + simdjson::SIMDJSON_PADDING <= kReusedCopy) {
    if (reused.size() < body.size() + simdjson::SIMDJSON_PADDING) {
      reused.resize(std::min(kReusedCopy, 2 * (body.size() + simdjson::SIMDJSON_PADDING)));
    }
    std::memcpy(reused.data(), body.data(), body.size());
    std::memset(reused.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    base = reused.data();
    capacity = reused.size();
  } else {
    own = simdjson::padded_string(body);
    base = own.data();
    capacity = own.size() + simdjson::SIMDJSON_PADDING;
  }
  if (padded_base != nullptr) *padded_base = base;
  od::document doc;
  if (auto e = parser.iterate(base, body.size(), capacity).get(doc)) {
    return tl::unexpected("the body " + Fail(e));
  }
  od::json_type t{};
  if (auto e = doc.type().get(t)) return tl::unexpected("the body " + Fail(e));
  if (array_or_null && t != od::json_type::array && t != od::json_type::null) {
    return tl::unexpected(std::string("the body must be an array"));
  }
  if (!array_or_null && t != od::json_type::object) {
    return tl::unexpected(std::string("the body must be a JSON object"));
  }
  od::value root;
  if (auto e = doc.get_value().get(root)) return tl::unexpected("the body " + Fail(e));
  if (auto ok = top(root); !ok) return ok;
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) != simdjson::OUT_OF_BOUNDS) {
    return tl::unexpected(std::string("the body is not valid JSON (text after the object)"));
  }
  return {};
}

// A Pod value at the top level: "Pod: ..." errors.
Status ReadTopPod(od::value& v, scheduler::Pod& pod, bool& seen) {
  seen = !IsNull(v);
  if (!seen) return {};
  if (auto ok = ReadPod(v, pod); !ok) return tl::unexpected(Prefix("Pod", ok.error()));
  return {};
}

}  // namespace

std::uint64_t RawNodeHash(std::string_view raw) {
  // wyhash's multiply-fold over two independent 16-byte lanes: ~0.4 instructions a byte, so
  // hashing a known Node costs less than simdjson's pass over it.
  __extension__ using U128 = unsigned __int128;
  constexpr std::uint64_t kP0 = 0xa0761d6478bd642fULL;
  constexpr std::uint64_t kP1 = 0xe7037ed1a0b428dbULL;
  constexpr std::uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;
  constexpr std::uint64_t kP3 = 0x589965cc75374cc3ULL;
  auto mix = [](std::uint64_t a, std::uint64_t b) {
    const U128 r = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  };
  auto load = [](const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  const char* p = raw.data();
  std::size_t n = raw.size();
  std::uint64_t h0 = kP0 ^ n;
  std::uint64_t h1 = kP3;
  for (; n >= 32; p += 32, n -= 32) {
    h0 = mix(load(p) ^ kP1, load(p + 8) ^ h0);
    h1 = mix(load(p + 16) ^ kP2, load(p + 24) ^ h1);
  }
  for (; n >= 8; p += 8, n -= 8) h0 = mix(load(p) ^ kP1, h0 ^ kP2);
  if (n > 0) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h0 = mix(tail ^ kP2, h0 ^ n);
  }
  return mix(h0 ^ kP3, h1 ^ raw.size());
}

WireResult<std::vector<std::string>> DecodeNodeNames(std::string_view json) {
  std::vector<std::string> names;
  if (json.empty()) return names;
  auto ok = ParseBody(
      json,
      [&](od::value& root) -> Status {
        return ForEachItem(root, [&](std::size_t, od::value& item) -> Status {
          std::string_view name;
          if (IsNull(item)) {
            names.emplace_back();
            return {};
          }
          if (auto e = item.get_string().get(name)) {
            return tl::unexpected(e == simdjson::INCORRECT_TYPE ? std::string(" must be a string")
                                                                : " " + Fail(e));
          }
          names.emplace_back(name);
          return {};
        });
      },
      nullptr, true);
  if (!ok) {
    // ParseBody speaks of "the body"; here the body is the array.
    const std::string& e = ok.error();
    if (e.rfind("the body", 0) == 0) return tl::unexpected("NodeNames" + e.substr(8));
    return tl::unexpected(Prefix("NodeNames", e));
  }
  return names;
}

WireResult<ExtenderArgs> DecodeExtenderArgs(Body in, const KnownNode& known,
                                            NodeNamesDecoding names_decoding) {
  const std::string_view body = in.bytes;
  ExtenderArgs args;
  bool has_pod = false;
  bool has_names = false;
  const char* padded_base = nullptr;
  std::string known_name;
  auto ok = ParseBody(
      in,
      [&](od::value& root) {
        return ForEachField(root, [&](std::string_view key, od::value& value) -> Status {
          if (IEquals(key, "Pod")) return ReadTopPod(value, args.pod, has_pod);
          if (IEquals(key, "NodeNames")) {
            // Only located here (simdjson skips it); DecodeNodeNames reads the items.
            has_names = !IsNull(value);
            args.node_names_json = {};
            if (!has_names) return {};
            od::array arr;
            std::string_view raw;
            if (auto e = value.get_array().get(arr)) {
              return tl::unexpected(e == simdjson::INCORRECT_TYPE
                                        ? std::string("NodeNames must be an array")
                                        : "NodeNames " + Fail(e));
            }
            if (auto e = arr.raw_json().get(raw)) return tl::unexpected("NodeNames " + Fail(e));
            while (!raw.empty() && raw.back() != ']') raw.remove_suffix(1);  // trailing space
            args.node_names_json =
                body.substr(static_cast<std::size_t>(raw.data() - padded_base), raw.size());
            return {};
          }
          if (IEquals(key, "Nodes")) {
            if (IsNull(value)) return {};
            args.full_nodes = true;
            auto s = ForEachField(value, [&](std::string_view k, od::value& list) -> Status {
              if (k != "items") return {};
              auto items = ForEachItem(list, [&](std::size_t i, od::value& item) -> Status {
                od::object obj;
                if (auto got = GetObject(item, obj); !got) return got;
                // The Node's bytes (raw_json skips the object; after ReadNodeObject it only
                // spans it), in the caller's body (simdjson may have parsed a padded copy).
                std::string_view raw;
                auto take_raw = [&]() -> Status {
                  if (auto e = obj.raw_json().get(raw)) return tl::unexpected(" " + Fail(e));
                  raw = body.substr(static_cast<std::size_t>(raw.data() - padded_base), raw.size());
                  args.raw_nodes.push_back(raw);
                  args.raw_hashes.push_back(RawNodeHash(raw));
                  return {};
                };
                scheduler::Node node;
                if (known) {  // hashed first: a known Node is not decoded
                  if (auto r = take_raw(); !r) return r;
                  if (known(args.raw_hashes.back(), known_name)) {
                    args.node_names.push_back(known_name);
                    return {};
                  }
                  if (auto e = obj.reset().error()) return tl::unexpected(" " + Fail(e));
                  if (auto r = ReadNodeObject(obj, node); !r) return r;
                } else {  // nothing known (a first request): one walk, decoded then spanned
                  if (auto r = ReadNodeObject(obj, node); !r) return r;
                  if (auto r = take_raw(); !r) return r;
                }
                args.node_names.push_back(node.name);
                args.nodes.push_back(std::move(node));
                args.node_at.push_back(i);
                return {};
              });
              if (!items) return tl::unexpected(Prefix(k, items.error()));
              return {};
            });
            if (!s) return tl::unexpected(Prefix("Nodes", s.error()));
            return {};
          }
          return {};  // unknown fields are ignored, as Go's decoder does
        });
      },
      &padded_base);
  if (!ok) return tl::unexpected(ok.error());
  if (!has_pod) return tl::unexpected(std::string("Pod is missing; ExtenderArgs needs the pod"));
  if (has_names && names_decoding == NodeNamesDecoding::kDecode) {
    auto names = DecodeNodeNames(args.node_names_json);
    if (!names) return tl::unexpected(names.error());
    args.node_names = std::move(*names);
  }
  if (args.full_nodes && has_names) {
    // Both given: kube-scheduler never does this; the names win as in nodeCacheCapable mode.
    args.full_nodes = false;
    if (names_decoding == NodeNamesDecoding::kRawOnly) args.node_names.clear();
    args.nodes.clear();
    args.node_at.clear();
    args.raw_nodes.clear();
    args.raw_hashes.clear();
  }
  return args;
}

WireResult<BindingArgs> DecodeBindingArgs(std::string_view body) {
  BindingArgs args;
  auto ok = ParseBody(body, [&](od::value& root) {
    return ForEachField(root, [&](std::string_view key, od::value& value) -> Status {
      Status s;
      if (IEquals(key, "PodName")) s = ReadString(value, args.pod_name);
      if (IEquals(key, "PodNamespace")) s = ReadString(value, args.pod_namespace);
      if (IEquals(key, "PodUID")) s = ReadString(value, args.pod_uid);
      if (IEquals(key, "Node")) s = ReadString(value, args.node);
      if (!s) return tl::unexpected(Prefix(key, s.error()));
      return {};
    });
  });
  if (!ok) return tl::unexpected(ok.error());
  if (args.pod_name.empty() || args.node.empty()) {
    return tl::unexpected(
        std::string("ExtenderBindingArgs needs PodName and Node (and PodNamespace, PodUID)"));
  }
  if (args.pod_namespace.empty()) args.pod_namespace = "default";
  if (args.pod_uid.empty()) args.pod_uid = args.pod_namespace + "/" + args.pod_name;
  return args;
}

WireResult<PreemptionArgs> DecodePreemptionArgs(std::string_view body) {
  PreemptionArgs args;
  bool has_pod = false;
  std::map<std::string, scheduler::PreemptCandidate> candidates;  // meta form wins per node
  auto victims = [&](od::value& value, bool meta) -> Status {
    return ForEachField(value, [&](std::string_view node, od::value& v) -> Status {
      scheduler::PreemptCandidate c;
      c.node = std::string(node);
      auto s = ForEachField(v, [&](std::string_view k, od::value& f) -> Status {
        if (IEquals(k, "NumPDBViolations")) {
          if (auto r = ReadInt(f, c.pdb_violations); !r)
            return tl::unexpected(Prefix(k, r.error()));
        }
        if (!IEquals(k, "Pods")) return {};
        auto r = ForEachItem(f, [&](std::size_t, od::value& pod) -> Status {
          std::string uid;
          if (meta) {
            auto u = ForEachField(pod, [&](std::string_view pk, od::value& pv) -> Status {
              if (!IEquals(pk, "UID")) return {};
              if (auto rs = ReadString(pv, uid); !rs) return tl::unexpected(Prefix(pk, rs.error()));
              return {};
            });
            if (!u) return u;
          } else {
            scheduler::Pod victim;
            if (auto u = ReadPod(pod, victim); !u) return u;
            uid = victim.uid;
          }
          if (uid.empty()) return tl::unexpected(std::string(" has no UID"));
          c.victim_uids.push_back(std::move(uid));
          return {};
        });
        if (!r) return tl::unexpected(Prefix(k, r.error()));
        return {};
      });
      if (!s) return tl::unexpected(Prefix(node, s.error()));
      if (meta || candidates.count(c.node) == 0) candidates[c.node] = std::move(c);
      return {};
    });
  };
  auto ok = ParseBody(body, [&](od::value& root) {
    return ForEachField(root, [&](std::string_view key, od::value& value) -> Status {
      if (IEquals(key, "Pod")) return ReadTopPod(value, args.pod, has_pod);
      Status s;
      if (IEquals(key, "NodeNameToMetaVictims")) s = victims(value, true);
      if (IEquals(key, "NodeNameToVictims")) s = victims(value, false);
      if (!s) return tl::unexpected(Prefix(key, s.error()));
      return {};
    });
  });
  if (!ok) return tl::unexpected(ok.error());
  if (!has_pod) {
    return tl::unexpected(std::string("Pod is missing; ExtenderPreemptionArgs needs the pod"));
  }
  for (auto& [node, c] : candidates) args.candidates.push_back(std::move(c));
  return args;
}

WireResult<scheduler::Pod> DecodePodJson(std::string_view json) {
  scheduler::Pod pod;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadPod(root, pod); });
  if (!ok) return tl::unexpected(Prefix("Pod", ok.error()));
  return pod;
}

WireResult<scheduler::Node> DecodeNodeJson(std::string_view json) {
  scheduler::Node node;
  auto ok = ParseBody(json, [&](od::value& root) { return ReadNode(root, node); });
  if (!ok) return tl::unexpected(Prefix("Node", ok.error()));
  return node;
}

WireResult<JsonCluster> DecodeClusterJson(Body in) {
  const std::string_view text = in.bytes;
  JsonCluster out;
  std::string list_kind;
  std::string list_version;
  std::vector<JsonObject> kindless;  // items of a NodeList/PodList from the API carry no kind
  const char* padded_base = nullptr;
  od::parser parser;  // a cluster file is read once: its parser's buffers go with it
  auto ok = ParseBody(
      in,
      [&](od::value& root) {
        return ForEachField(root, [&](std::string_view key, od::value& value) -> Status {
          if (key == "kind") return ReadString(value, list_kind);
          if (key == "apiVersion") return ReadString(value, list_version);
          if (key != "items") return {};
          return ForEachItem(value, [&](std::size_t, od::value& item) -> Status {
            od::object obj;
            if (auto got = GetObject(item, obj); !got) return got;
            std::string_view raw;
            if (auto e = obj.raw_json().get(raw)) return tl::unexpected(" " + Fail(e));
            JsonObject o;
            o.offset = static_cast<std::size_t>(raw.data() - padded_base);
            o.json = text.substr(o.offset, raw.size());
            if (auto e = obj.reset().error()) return tl::unexpected(" " + Fail(e));
            if (auto r = IterateObject(obj,
                                       [&](std::string_view k, od::value& v) -> Status {
                                         if (k == "kind") return ReadString(v, o.kind);
                                         if (k == "apiVersion") return ReadString(v, o.api_version);
                                         return {};
                                       });
                !r) {
              return r;
            }
            if (auto e = obj.reset().error()) return tl::unexpected(" " + Fail(e));
            if (o.kind == "Node") {
              scheduler::Node node;
              if (auto r = ReadNodeObject(obj, node); !r) return r;
              out.nodes.push_back(std::move(node));
            } else if (o.kind == "Pod") {
              scheduler::Pod pod;
              if (auto r = ReadPodObject(obj, pod); !r) return r;
              out.pods.push_back(std::move(pod));
              out.pod_offsets.push_back(o.offset);
            } else if (o.kind.empty()) {
              kindless.push_back(std::move(o));
            } else {
              out.others.push_back(std::move(o));
            }
            return {};
          });
        });
      },
      &padded_base, false, &parser);
  if (!ok) return tl::unexpected(ok.error());
  if (list_kind != "List" && list_kind != "NodeList" && list_kind != "PodList") {
    return tl::unexpected("kind \"" + list_kind + "\" is not a List, NodeList or PodList");
  }
  if (!kindless.empty() && list_kind == "List") {
    return tl::unexpected(std::string("an item of a List has no kind"));
  }
  for (JsonObject& o : kindless) {  // decoded after the walk: the list's kind may come last
    if (list_kind == "NodeList") {
      auto node = DecodeNodeJson(o.json);
      if (!node) return tl::unexpected(node.error());
      out.nodes.push_back(std::move(*node));
    } else {
      auto pod = DecodePodJson(o.json);
      if (!pod) return tl::unexpected(pod.error());
      out.pods.push_back(std::move(*pod));
      out.pod_offsets.push_back(o.offset);
    }
  }
  for (JsonObject& o : out.others) {
    if (o.api_version.empty()) o.api_version = list_version;
  }
  return out;
}

// ---- Encoders -----------------------------------------------------------------------------------

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most strings (node names, reasons) need no escaping: copied whole.
  if (std::none_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
      })) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copied when valid, else U+FFFD (as Go's encoder does).
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool valid = len != 0 && c < 0xf5 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (valid && len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out.push_back('"');
}

namespace {

void AppendReasonMap(std::string& out, const std::map<std::string, std::string>& reasons) {
  out.push_back('{');
  bool first = true;
  for (const auto& [node, reason] : reasons) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, node);
    out.push_back(':');
    AppendJsonString(out, reason);
  }
  out.push_back('}');
}

}  // namespace

std::string EncodeFilterResult(const scheduler::FilterAnswer& answer, const ExtenderArgs& args,
                               std::string_view error) {
  std::string out;
  out.reserve(128 + answer.feasible.size() * 24);
  if (args.full_nodes) {
    out += "{\"Nodes\":{\"metadata\":{},\"items\":[";
    std::unordered_map<std::string_view, std::size_t> index;
    index.reserve(args.raw_nodes.size());
    for (std::size_t i = 0; i < args.raw_nodes.size(); ++i) index.emplace(args.node_names[i], i);
    bool first = true;
    for (const std::string& name : answer.feasible) {
      auto it = index.find(name);
      if (it == index.end()) continue;  // the core only keeps offered nodes
      if (!first) out.push_back(',');
      first = false;
      out += args.raw_nodes[it->second];
    }
    out += "]},\"NodeNames\":null";
  } else {
    out += "{\"Nodes\":null,\"NodeNames\":[";
    bool first = true;
    for (const std::string& name : answer.feasible) {
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, name);
    }
    out += "]";
  }
  out += ",\"FailedNodes\":";
  AppendReasonMap(out, answer.failed);
  out += ",\"FailedAndUnresolvableNodes\":";
  AppendReasonMap(out, answer.unresolvable);
  out += ",\"Error\":";
  AppendJsonString(out, error);
  out += "}";
  return out;
}

namespace {

// One HostPriority; returns the offset of its score in `out`.
std::size_t AppendHostScore(std::string& out, std::string_view host, std::int64_t score) {
  out += "{\"Host\":";
  AppendJsonString(out, host);
  out += ",\"Score\":";
  const std::size_t at = out.size();
  char digits[24];
  const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), score);
  (void)ec;  // 24 chars hold any int64
  out.append(digits, end);
  out += "}";
  return at;
}

}  // namespace

std::string EncodeHostPriorityList(const std::vector<scheduler::HostScore>& scores) {
  std::string out = "[";
  out.reserve(2 + scores.size() * 32);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendHostScore(out, scores[i].host, scores[i].score);
  }
  out += "]";
  return out;
}

ZeroPriorityList EncodeZeroPriorityList(const std::vector<std::string>& hosts) {
  ZeroPriorityList list;
  list.json = "[";
  list.json.reserve(2 + hosts.size() * 32);
  list.digit_at.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i > 0) list.json.push_back(',');
    list.digit_at.push_back(AppendHostScore(list.json, hosts[i], 0));
  }
  list.json += "]";
  return list;
}

std::string EncodeHostPriorityList(const ZeroPriorityList& zero,
                                   std::vector<scheduler::OfferScore> scores) {
  std::sort(scores.begin(), scores.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  std::string out;
  out.reserve(zero.json.size() + scores.size() * 20);
  std::size_t from = 0;
  for (const scheduler::OfferScore& s : scores) {
    if (s.at >= zero.digit_at.size()) continue;
    const std::size_t at = zero.digit_at[s.at];
    if (at < from) continue;  // the same host twice
    out.append(zero.json, from, at - from);
    char digits[24];
    const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), s.score);
    (void)ec;
    out.append(digits, end);
    from = at + 1;  // past the "0"
  }
  out.append(zero.json, from);
  return out;
}

std::string EncodeBindingResult(std::string_view error) {
  std::string out = "{\"Error\":";
  AppendJsonString(out, error);
  out += "}";
  return out;
}

std::string EncodePreemptionResult(const std::vector<scheduler::PreemptCandidate>& kept) {
  std::string out = "{\"NodeNameToMetaVictims\":{";
  bool first = true;
  for (const scheduler::PreemptCandidate& c : kept) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, c.node);
    out += ":{\"Pods\":[";
    for (std::size_t i = 0; i < c.victim_uids.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += "{\"UID\":";
      AppendJsonString(out, c.victim_uids[i]);
      out += "}";
    }
    out += "],\"NumPDBViolations\":";
    out += std::to_string(c.pdb_violations);
    out += "}";
  }
  out += "}}";
  return out;
}

}  // namespace gangsched::api
