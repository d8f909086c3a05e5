#include "k8s/objects_yaml.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "k8s/quantity.h"
#include "scheduler/cluster_state.h"
#include "topology/gpu_topology.h"

namespace gangsched::k8s {
namespace {

using scheduler::Resources;
using scheduler::StringMap;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::string DecodeError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out + ": " + message;
}

Position PositionOf(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

DecodeError ErrorAt(const YAML::Node& node, const std::string& file, std::string message) {
  const Position p = PositionOf(node);
  return DecodeError{file, p.line, p.column, std::move(message)};
}

YAML::Node Child(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node();
  const YAML::Node& const_map = map;
  YAML::Node value = const_map[key];
  if (!value.IsDefined() || value.IsNull()) return YAML::Node();
  return value;
}

const YAML::Node& PositionNode(const YAML::Node& preferred, const YAML::Node& fallback) {
  return PositionOf(preferred).line > 0 ? preferred : fallback;
}

Decoded<std::string> ScalarText(const YAML::Node& node, const std::string& file, const char* what) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) return std::string();
  return tl::unexpected(ErrorAt(
      node, file,
      std::string(what) + " must be a single value, not a " + (node.IsMap() ? "map" : "list")));
}

namespace {

Decoded<std::string> OptionalString(const YAML::Node& parent, const char* key,
                                    const std::string& file, const char* what) {
  return ScalarText(Child(parent, key), file, what);
}

Decoded<bool> OptionalBool(const YAML::Node& parent, const char* key, const std::string& file,
                           const char* what) {
  const YAML::Node node = Child(parent, key);
  auto text = ScalarText(node, file, what);
  if (!text) return tl::unexpected(text.error());
  std::string lower = *text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.empty() || lower == "false") return false;
  if (lower == "true") return true;
  return tl::unexpected(
      ErrorAt(node, file, std::string(what) + " must be true or false, not " + Quote(*text)));
}

Decoded<std::int64_t> OptionalInt(const YAML::Node& parent, const char* key,
                                  const std::string& file, const char* what, std::int64_t fallback,
                                  std::int64_t min, std::int64_t max) {
  const YAML::Node node = Child(parent, key);
  auto text = ScalarText(node, file, what);
  if (!text) return tl::unexpected(text.error());
  if (text->empty()) return fallback;
  std::int64_t value = 0;
  const char* begin = text->data();
  const char* end = begin + text->size();
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) {
    return tl::unexpected(ErrorAt(node, file,
                                  std::string(what) + " must be an integer from " +
                                      std::to_string(min) + " to " + std::to_string(max) +
                                      ", not " + Quote(*text)));
  }
  return value;
}

// Adds one resource quantity to `out` if it is one the core counts (cpu, memory, GPUs, pods).
tl::expected<void, DecodeError> AddResource(const std::string& name, const YAML::Node& value,
                                            const std::string& file, const std::string& where,
                                            Resources& out) {
  std::int64_t* target = nullptr;
  QuantityScale scale = QuantityScale::kUnits;
  if (name == "cpu") {
    target = &out.milli_cpu;
    scale = QuantityScale::kMilli;
  } else if (name == "memory") {
    target = &out.memory_bytes;
  } else if (name == scheduler::kGpuResource) {
    target = &out.gpus;
    scale = QuantityScale::kWhole;
  } else if (name == "pods") {
    target = &out.pods;
    scale = QuantityScale::kWhole;
  } else {
    return {};  // ephemeral-storage, hugepages, other extended resources: not planned on
  }
  auto text = ScalarText(value, file, (where + "." + name).c_str());
  if (!text) return tl::unexpected(text.error());
  auto quantity = ParseQuantity(*text, scale);
  if (!quantity) {
    return tl::unexpected(ErrorAt(value, file, where + "." + name + ": " + quantity.error()));
  }
  *target = *quantity;
  return {};
}

// A resource map (`requests`, `limits`, `allocatable`, `overhead`) -> Resources. `present` gets the
// names it holds, so requests can default to limits per resource.
Decoded<Resources> DecodeResourceMap(const YAML::Node& map, const std::string& file,
                                     const std::string& where,
                                     std::vector<std::string>* present = nullptr) {
  Resources out;
  if (map.IsNull()) return out;
  if (!map.IsMap()) {
    return tl::unexpected(
        ErrorAt(map, file, where + " must be a map of resource name to quantity"));
  }
  for (const auto& kv : map) {
    const std::string name = kv.first.Scalar();
    if (auto added = AddResource(name, kv.second, file, where, out); !added) {
      return tl::unexpected(added.error());
    }
    if (present != nullptr) present->push_back(name);
  }
  return out;
}

// requests, with limits standing in for resources that have no request (API server defaulting).
Decoded<Resources> ContainerRequests(const YAML::Node& container, const std::string& file,
                                     const std::string& where) {
  const YAML::Node resources = Child(container, "resources");
  std::vector<std::string> requested;
  auto requests = DecodeResourceMap(Child(resources, "requests"), file,
                                    where + ".resources.requests", &requested);
  if (!requests) return requests;
  auto limits = DecodeResourceMap(Child(resources, "limits"), file, where + ".resources.limits");
  if (!limits) return limits;
  auto has = [&](const char* name) {
    return std::find(requested.begin(), requested.end(), name) != requested.end();
  };
  if (!has("cpu")) requests->milli_cpu = limits->milli_cpu;
  if (!has("memory")) requests->memory_bytes = limits->memory_bytes;
  if (!has(scheduler::kGpuResource)) requests->gpus = limits->gpus;
  requests->pods = 0;
  return requests;
}

Decoded<std::vector<scheduler::Toleration>> DecodeTolerations(const YAML::Node& list,
                                                              const std::string& file) {
  std::vector<scheduler::Toleration> out;
  if (list.IsNull()) return out;
  if (!list.IsSequence()) {
    return tl::unexpected(ErrorAt(list, file, "spec.tolerations must be a list"));
  }
  for (const YAML::Node& item : list) {
    scheduler::Toleration t;
    auto key = OptionalString(item, "key", file, "toleration key");
    if (!key) return tl::unexpected(key.error());
    t.key = *key;
    auto op = OptionalString(item, "operator", file, "toleration operator");
    if (!op) return tl::unexpected(op.error());
    if (*op == "Exists") {
      t.op_exists = true;
    } else if (!op->empty() && *op != "Equal") {
      return tl::unexpected(
          ErrorAt(Child(item, "operator"), file,
                  "toleration operator " + Quote(*op) + " is unknown; use Exists or Equal"));
    }
    auto value = OptionalString(item, "value", file, "toleration value");
    if (!value) return tl::unexpected(value.error());
    t.value = *value;
    auto effect = OptionalString(item, "effect", file, "toleration effect");
    if (!effect) return tl::unexpected(effect.error());
    if (auto parsed = ParseTaintEffect(*effect)) {
      t.effect = *parsed;
    } else if (!effect->empty()) {
      return tl::unexpected(ErrorAt(Child(item, "effect"), file,
                                    "toleration effect " + Quote(*effect) +
                                        " is unknown; use NoSchedule, PreferNoSchedule or "
                                        "NoExecute, or leave it out for all effects"));
    }
    out.push_back(std::move(t));
  }
  return out;
}

Decoded<std::vector<scheduler::Taint>> DecodeTaints(const YAML::Node& list,
                                                    const std::string& file) {
  std::vector<scheduler::Taint> out;
  if (list.IsNull()) return out;
  if (!list.IsSequence()) return tl::unexpected(ErrorAt(list, file, "spec.taints must be a list"));
  for (const YAML::Node& item : list) {
    scheduler::Taint t;
    auto key = OptionalString(item, "key", file, "taint key");
    if (!key) return tl::unexpected(key.error());
    if (key->empty()) {
      return tl::unexpected(ErrorAt(item, file, "taint has no key; every taint needs a key"));
    }
    t.key = *key;
    auto value = OptionalString(item, "value", file, "taint value");
    if (!value) return tl::unexpected(value.error());
    t.value = *value;
    auto effect = OptionalString(item, "effect", file, "taint effect");
    if (!effect) return tl::unexpected(effect.error());
    if (auto parsed = ParseTaintEffect(*effect)) {
      t.effect = *parsed;
    } else {
      return tl::unexpected(ErrorAt(PositionNode(Child(item, "effect"), item), file,
                                    "taint " + t.key + " has effect " + Quote(*effect) +
                                        "; use NoSchedule, PreferNoSchedule or NoExecute"));
    }
    out.push_back(std::move(t));
  }
  return out;
}

struct Metadata {
  std::string name;
  std::string namespace_name;
  std::string uid;
  StringMap labels;
  StringMap annotations;
};

Decoded<Metadata> DecodeMetadata(const YAML::Node& object, const std::string& file,
                                 const char* kind) {
  Metadata m;
  const YAML::Node metadata = Child(object, "metadata");
  if (!metadata.IsNull() && !metadata.IsMap()) {
    return tl::unexpected(ErrorAt(metadata, file, "metadata must be a map"));
  }
  auto name = OptionalString(metadata, "name", file, "metadata.name");
  if (!name) return tl::unexpected(name.error());
  if (name->empty()) {
    return tl::unexpected(ErrorAt(PositionNode(metadata, object), file,
                                  std::string(kind) + " has no metadata.name; give it a name"));
  }
  m.name = *name;
  auto ns = OptionalString(metadata, "namespace", file, "metadata.namespace");
  if (!ns) return tl::unexpected(ns.error());
  m.namespace_name = ns->empty() ? "default" : *ns;
  auto uid = OptionalString(metadata, "uid", file, "metadata.uid");
  if (!uid) return tl::unexpected(uid.error());
  m.uid = uid->empty() ? m.namespace_name + "/" + m.name : *uid;
  auto labels = DecodeStringMap(Child(metadata, "labels"), file, "metadata.labels");
  if (!labels) return tl::unexpected(labels.error());
  m.labels = std::move(*labels);
  auto annotations = DecodeStringMap(Child(metadata, "annotations"), file, "metadata.annotations");
  if (!annotations) return tl::unexpected(annotations.error());
  m.annotations = std::move(*annotations);
  return m;
}

}  // namespace

Decoded<StringMap> DecodeStringMap(const YAML::Node& map, const std::string& file,
                                   const char* what) {
  StringMap out;
  if (map.IsNull()) return out;
  if (!map.IsMap()) {
    return tl::unexpected(ErrorAt(map, file, std::string(what) + " must be a map of strings"));
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    auto value = ScalarText(kv.second, file, (std::string(what) + "." + key).c_str());
    if (!value) return tl::unexpected(value.error());
    out[key] = *value;
  }
  return out;
}

Decoded<PodSpecInfo> DecodePodSpec(const YAML::Node& spec, const std::string& file) {
  PodSpecInfo info;
  info.scheduler_name = "default-scheduler";
  if (spec.IsNull()) {
    info.requests.pods = 1;
    return info;
  }
  if (!spec.IsMap()) return tl::unexpected(ErrorAt(spec, file, "a pod spec must be a map"));
  PodRequests requests;
  const YAML::Node containers = Child(spec, "containers");
  const YAML::Node& const_containers = containers;
  if (!containers.IsNull() && !containers.IsSequence()) {
    return tl::unexpected(ErrorAt(containers, file, "spec.containers must be a list"));
  }
  for (std::size_t i = 0; i < containers.size(); ++i) {
    auto req =
        ContainerRequests(const_containers[i], file, "containers[" + std::to_string(i) + "]");
    if (!req) return tl::unexpected(req.error());
    requests.AddContainer(*req);
  }
  const YAML::Node init = Child(spec, "initContainers");
  const YAML::Node& const_init = init;
  if (!init.IsNull() && !init.IsSequence()) {
    return tl::unexpected(ErrorAt(init, file, "spec.initContainers must be a list"));
  }
  for (std::size_t i = 0; i < init.size(); ++i) {
    auto req = ContainerRequests(const_init[i], file, "initContainers[" + std::to_string(i) + "]");
    if (!req) return tl::unexpected(req.error());
    auto restart = OptionalString(const_init[i], "restartPolicy", file, "restartPolicy");
    if (!restart) return tl::unexpected(restart.error());
    requests.AddInitContainer(*req, *restart == "Always");
  }
  auto overhead = DecodeResourceMap(Child(spec, "overhead"), file, "spec.overhead");
  if (!overhead) return tl::unexpected(overhead.error());
  info.requests = requests.Total(*overhead);

  auto scheduler_name = OptionalString(spec, "schedulerName", file, "spec.schedulerName");
  if (!scheduler_name) return tl::unexpected(scheduler_name.error());
  if (!scheduler_name->empty()) info.scheduler_name = *scheduler_name;
  auto group = OptionalString(Child(spec, "schedulingGroup"), "podGroupName", file,
                              "spec.schedulingGroup.podGroupName");
  if (!group) return tl::unexpected(group.error());
  info.scheduling_group = *group;
  auto tolerations = DecodeTolerations(Child(spec, "tolerations"), file);
  if (!tolerations) return tl::unexpected(tolerations.error());
  info.tolerations = std::move(*tolerations);
  auto selector = DecodeStringMap(Child(spec, "nodeSelector"), file, "spec.nodeSelector");
  if (!selector) return tl::unexpected(selector.error());
  info.node_selector = std::move(*selector);
  auto priority = OptionalInt(spec, "priority", file, "spec.priority", 0,
                              std::numeric_limits<std::int32_t>::min(),
                              std::numeric_limits<std::int32_t>::max());
  if (!priority) return tl::unexpected(priority.error());
  info.priority = static_cast<std::int32_t>(*priority);
  auto node_name = OptionalString(spec, "nodeName", file, "spec.nodeName");
  if (!node_name) return tl::unexpected(node_name.error());
  info.node_name = *node_name;
  return info;
}

Decoded<scheduler::Node> DecodeNode(const YAML::Node& object, const std::string& file) {
  auto metadata = DecodeMetadata(object, file, "Node");
  if (!metadata) return tl::unexpected(metadata.error());
  scheduler::Node node;
  node.name = metadata->name;
  node.labels = std::move(metadata->labels);
  for (auto& [key, value] : metadata->annotations) {  // only those the core reads (model.h)
    if (key.starts_with(scheduler::kNodeAnnotationPrefix)) node.annotations.emplace(key, value);
  }
  const YAML::Node spec = Child(object, "spec");
  auto taints = DecodeTaints(Child(spec, "taints"), file);
  if (!taints) return tl::unexpected(taints.error());
  node.taints = std::move(*taints);
  auto unschedulable = OptionalBool(spec, "unschedulable", file, "spec.unschedulable");
  if (!unschedulable) return tl::unexpected(unschedulable.error());
  node.unschedulable = *unschedulable;
  const YAML::Node status = Child(object, "status");
  YAML::Node allocatable = Child(status, "allocatable");
  std::string where = "status.allocatable";
  if (allocatable.IsNull()) {
    allocatable = Child(status, "capacity");
    where = "status.capacity";
  }
  std::vector<std::string> present;
  auto resources =
      DecodeResourceMap(allocatable, file, "node " + node.name + " " + where, &present);
  if (!resources) return tl::unexpected(resources.error());
  node.allocatable = *resources;
  if (std::find(present.begin(), present.end(), "pods") == present.end()) {
    node.allocatable.pods = kDefaultMaxPods;
  }
  // The GPU matrix is checked here so a bad one is reported at its place in the file.
  if (auto matrix = node.annotations.find(scheduler::kGpuTopologyAnnotation);
      matrix != node.annotations.end()) {
    auto parsed = topology::ParseNvidiaSmiTopo(matrix->second);
    if (!parsed) {
      const YAML::Node value =
          Child(Child(Child(object, "metadata"), "annotations"), scheduler::kGpuTopologyAnnotation);
      Position at = PositionOf(value);
      // A block scalar (`|`, as kubectl prints multi-line values) starts on the line after the
      // position yaml-cpp reports for it.
      if (at.line > 0 && parsed.error().line > 0) at.line += parsed.error().line;
      return tl::unexpected(DecodeError{file, at.line, 0,
                                        "node " + node.name + ": annotation " +
                                            scheduler::kGpuTopologyAnnotation + ", matrix line " +
                                            std::to_string(parsed.error().line) + ": " +
                                            parsed.error().message});
    }
  }
  return node;
}

Decoded<scheduler::Pod> DecodePod(const YAML::Node& object, const std::string& file) {
  auto metadata = DecodeMetadata(object, file, "Pod");
  if (!metadata) return tl::unexpected(metadata.error());
  scheduler::Pod pod;
  pod.uid = metadata->uid;
  pod.namespace_name = metadata->namespace_name;
  pod.name = metadata->name;
  pod.labels = std::move(metadata->labels);
  pod.annotations = std::move(metadata->annotations);
  auto spec = DecodePodSpec(Child(object, "spec"), file);
  if (!spec) return tl::unexpected(spec.error());
  pod.requests = spec->requests;
  pod.node_name = spec->node_name;
  pod.scheduler_name = spec->scheduler_name;
  pod.scheduling_group = spec->scheduling_group;
  pod.tolerations = std::move(spec->tolerations);
  pod.node_selector = std::move(spec->node_selector);
  pod.priority = spec->priority;
  const YAML::Node status = Child(object, "status");
  auto phase = OptionalString(status, "phase", file, "status.phase");
  if (!phase) return tl::unexpected(phase.error());
  if (phase->empty() || *phase == "Pending") {
    pod.phase = scheduler::PodPhase::kPending;
  } else if (*phase == "Running") {
    pod.phase = scheduler::PodPhase::kRunning;
  } else if (*phase == "Succeeded") {
    pod.phase = scheduler::PodPhase::kSucceeded;
  } else if (*phase == "Failed") {
    pod.phase = scheduler::PodPhase::kFailed;
  } else if (*phase == "Unknown") {
    pod.phase = scheduler::PodPhase::kUnknown;
  } else {
    return tl::unexpected(ErrorAt(Child(status, "phase"), file,
                                  "status.phase " + Quote(*phase) +
                                      " is unknown; use Pending, Running, Succeeded, Failed or "
                                      "Unknown"));
  }
  auto nominated = OptionalString(status, "nominatedNodeName", file, "status.nominatedNodeName");
  if (!nominated) return tl::unexpected(nominated.error());
  pod.nominated_node_name = *nominated;
  if (auto ids = pod.annotations.find(scheduler::kGpuIdsAnnotation); ids != pod.annotations.end()) {
    auto parsed = ParseGpuIds(ids->second);
    if (!parsed) {
      const YAML::Node where =
          Child(Child(Child(object, "metadata"), "annotations"), scheduler::kGpuIdsAnnotation);
      return tl::unexpected(ErrorAt(where, file,
                                    std::string("annotation ") + scheduler::kGpuIdsAnnotation +
                                        "=" + Quote(ids->second) +
                                        " must list GPU indices 0-63 separated by commas, "
                                        "e.g. \"0,1\""));
    }
    pod.gpu_ids = std::move(*parsed);
  }
  return pod;
}

Decoded<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(DecodeError{path, 0, 0,
                                      std::string("cannot read the file: ") + std::strerror(errno) +
                                          "; check the path and its permissions"});
  }
  // Read whole into a string with room for simdjson's padding after it (wire.h Body), so a JSON
  // file is parsed where it is.
  std::string text;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  if (size >= 0 && in) {
    text.reserve(static_cast<std::size_t>(size) + 64);
    text.resize(static_cast<std::size_t>(size));
    in.read(text.data(), size);
    text.resize(static_cast<std::size_t>(in.gcount()));
  } else {  // not seekable (a pipe)
    in.clear();
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  if (in.bad()) {
    return tl::unexpected(DecodeError{path, 0, 0, "cannot read the file: I/O error"});
  }
  return text;
}

namespace {

// JSON is YAML, but YAML is laxer (trailing commas, comments, unquoted keys). A file that starts
// like JSON is checked as strict JSON first, so `kubectl ... -o json` output edited by hand gets a
// JSON error at the right place.
// Records the first syntax error; builds nothing (the objects are read by yaml-cpp, with
// positions).
struct JsonSyntaxCheck : nlohmann::json_sax<nlohmann::json> {
  std::size_t byte = 0;
  std::string message;
  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return true; }
  bool key(string_t& /*val*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    byte = position;
    message = ex.what();
    return false;
  }
};

std::optional<DecodeError> CheckJson(std::string_view text, const std::string& file) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (text[first] != '{' && text[first] != '[')) {
    return std::nullopt;
  }
  JsonSyntaxCheck check;
  if (nlohmann::json::sax_parse(text.begin(), text.end(), &check)) return std::nullopt;
  // `byte` counts the characters read up to the end of the offending token (whitespace before it
  // included); point at the token's first character.
  std::size_t end = std::min<std::size_t>(check.byte > 0 ? check.byte - 1 : 0, text.size() - 1);
  while (end > 0 && std::isspace(static_cast<unsigned char>(text[end]))) --end;
  if (text[end] == '"') {
    while (end > 0 && !(text[end - 1] == '"' && (end < 2 || text[end - 2] != '\\'))) --end;
    if (end > 0) --end;
  } else {
    auto literal = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+';
    };
    while (end > 0 && literal(text[end]) && literal(text[end - 1])) --end;
  }
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = check.message;
  const std::size_t detail = what.find("syntax error");
  if (detail != std::string::npos) what = what.substr(detail);
  return DecodeError{file, line, column, "not valid JSON: " + what + "; fix the syntax there"};
}

}  // namespace

Decoded<std::vector<SourceObject>> LoadObjects(std::string_view text, const std::string& file) {
  if (auto json_error = CheckJson(text, file)) return tl::unexpected(*json_error);
  std::vector<SourceObject> out;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    for (const YAML::Node& doc : documents) {
      if (doc.IsNull()) continue;
      if (!doc.IsMap()) {
        return tl::unexpected(ErrorAt(doc, file,
                                      "expected a Kubernetes object (a map with apiVersion and "
                                      "kind), found a " +
                                          std::string(doc.IsSequence() ? "list" : "plain value")));
      }
      auto kind = OptionalString(doc, "kind", file, "kind");
      if (!kind) return tl::unexpected(kind.error());
      auto api_version = OptionalString(doc, "apiVersion", file, "apiVersion");
      if (!api_version) return tl::unexpected(api_version.error());
      if (*kind != "List" && *kind != "NodeList" && *kind != "PodList") {
        out.push_back(SourceObject{doc, *kind, *api_version});
        continue;
      }
      const YAML::Node items = Child(doc, "items");
      if (!items.IsNull() && !items.IsSequence()) {
        return tl::unexpected(ErrorAt(items, file, *kind + " items must be a list"));
      }
      for (const YAML::Node& item : items) {
        if (!item.IsMap()) {
          return tl::unexpected(
              ErrorAt(item, file, "an item of a " + *kind + " must be an object"));
        }
        auto item_kind = OptionalString(item, "kind", file, "kind");
        if (!item_kind) return tl::unexpected(item_kind.error());
        auto item_version = OptionalString(item, "apiVersion", file, "apiVersion");
        if (!item_version) return tl::unexpected(item_version.error());
        std::string k = *item_kind;
        if (k.empty() && *kind == "NodeList") k = "Node";
        if (k.empty() && *kind == "PodList") k = "Pod";
        if (k.empty()) {
          return tl::unexpected(
              ErrorAt(item, file, "an item of a List has no kind; add kind: Node or kind: Pod"));
        }
        out.push_back(SourceObject{item, k, item_version->empty() ? *api_version : *item_version});
      }
    }
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    const int column = e.mark.is_null() ? 0 : e.mark.column + 1;
    return tl::unexpected(DecodeError{
        file, line, column, "not valid YAML or JSON: " + e.msg + "; fix the syntax there"});
  }
  return out;
}

Decoded<std::vector<SourceObject>> LoadObjectsFromFile(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text) return tl::unexpected(text.error());
  return LoadObjects(*text, path);
}

}  // namespace gangsched::k8s
