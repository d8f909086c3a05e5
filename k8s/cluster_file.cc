#include "k8s/cluster_file.h"

#include <optional>
#include <set>
#include <utility>

#include "k8s/objects_json.h"
#include "scheduler/cluster_state.h"
#include "topology/gpu_topology.h"

namespace gangsched::k8s {
namespace {

using Status = JsonStatus;

}  // namespace

JsonResult<JsonCluster> DecodeClusterJson(Body in) {
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
              if (auto r = ReadNodeObject(obj, node, Strictness::kFile); !r) return r;
              out.nodes.push_back(std::move(node));
            } else if (o.kind == "Pod") {
              scheduler::Pod pod;
              if (auto r = ReadPodObject(obj, pod, Strictness::kFile); !r) return r;
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
      auto node = DecodeNodeJson(o.json, Strictness::kFile);
      if (!node) return tl::unexpected(node.error());
      out.nodes.push_back(std::move(*node));
    } else {
      auto pod = DecodePodJson(o.json, Strictness::kFile);
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

namespace {

// The 1-based line and column of byte offsets into a text, counted on from the last one asked.
class LineCounter {
 public:
  explicit LineCounter(std::string_view text) : text_(text) {}
  Position At(std::size_t offset) {
    if (offset < at_) *this = LineCounter(text_);
    for (; at_ < offset && at_ < text_.size(); ++at_) {
      if (text_[at_] == '\n') {
        ++pos_.line;
        pos_.column = 1;
      } else {
        ++pos_.column;
      }
    }
    return pos_;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  Position pos_{1, 1};
};

// The simdjson path of LoadClusterObjects; nothing when it cannot decode the text, or a Node's
// GPU matrix is malformed (DecodeNode reports that at its place).
std::optional<ClusterObjects> LoadClusterJson(Body in) {
  const std::string_view text = in.bytes;
  auto json = DecodeClusterJson(in);
  if (!json) return std::nullopt;
  std::set<std::string_view> valid;  // most nodes carry the same matrix: checked once
  for (const scheduler::Node& node : json->nodes) {
    auto matrix = node.annotations.find(scheduler::kGpuTopologyAnnotation);
    if (matrix == node.annotations.end() || valid.count(matrix->second)) continue;
    if (!topology::ParseNvidiaSmiTopo(matrix->second)) return std::nullopt;
    valid.insert(matrix->second);
  }
  ClusterObjects out;
  LineCounter lines(text);
  for (std::size_t offset : json->pod_offsets)
    out.cluster.pod_positions.push_back(lines.At(offset));
  out.cluster.nodes = std::move(json->nodes);
  out.cluster.pods = std::move(json->pods);
  for (const JsonObject& o : json->others) {
    // Placed at its line and column, so the YAML node's marks (and errors) are the file's.
    const Position at = lines.At(o.offset);
    std::string placed(static_cast<std::size_t>(at.line - 1), '\n');
    placed.append(static_cast<std::size_t>(at.column - 1), ' ');
    placed.append(o.json);
    try {
      out.others.push_back(SourceObject{YAML::Load(placed), o.kind, o.api_version});
    } catch (const YAML::Exception&) {
      return std::nullopt;
    }
  }
  return out;
}

// LoadClusterObjects on a text that may have spare bytes after it (a file read by ReadFile).
Decoded<ClusterObjects> LoadClusterObjectsIn(Body in, const std::string& file) {
  const std::string_view text = in.bytes;
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    if (auto fast = LoadClusterJson(in)) return std::move(*fast);
  }
  auto objects = LoadObjects(text, file);
  if (!objects) return tl::unexpected(objects.error());
  ClusterObjects out;
  try {
    for (SourceObject& object : *objects) {
      if (object.kind == "Node") {
        auto node = DecodeNode(object.node, file);
        if (!node) return tl::unexpected(node.error());
        out.cluster.nodes.push_back(std::move(*node));
      } else if (object.kind == "Pod") {
        auto pod = DecodePod(object.node, file);
        if (!pod) return tl::unexpected(pod.error());
        out.cluster.pods.push_back(std::move(*pod));
        out.cluster.pod_positions.push_back(PositionOf(object.node));
      } else {
        out.others.push_back(std::move(object));
      }
    }
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    const int column = e.mark.is_null() ? 0 : e.mark.column + 1;
    return tl::unexpected(DecodeError{file, line, column, "cannot decode: " + e.msg});
  }
  return out;
}

}  // namespace

Decoded<ClusterObjects> LoadClusterObjects(std::string_view text, const std::string& file) {
  return LoadClusterObjectsIn(text, file);
}

Decoded<ClusterObjects> LoadClusterObjectsFromFile(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text) return tl::unexpected(text.error());
  return LoadClusterObjectsIn(*text, path);
}

namespace {

// A cluster file for plan and simulate: Nodes and Pods only.
Decoded<ClusterInput> ClusterOnly(Decoded<ClusterObjects> objects, const std::string& file) {
  if (!objects) return tl::unexpected(objects.error());
  ClusterInput cluster = std::move(objects->cluster);
  if (!objects->others.empty()) {
    const SourceObject& object = objects->others.front();
    const YAML::Node kind = Child(object.node, "kind");
    return tl::unexpected(
        ErrorAt(PositionNode(kind, object.node), file,
                (object.kind.empty() ? std::string("object has no kind")
                                     : "unknown kind " + Quote(object.kind)) +
                    " in a cluster file; it may hold Node, Pod, NodeList, PodList or List objects "
                    "(kubectl get nodes -o yaml)"));
  }
  if (cluster.nodes.empty()) {
    return tl::unexpected(DecodeError{
        file, 0, 0, "the cluster file has no Node; dump one with kubectl get nodes -o yaml"});
  }
  return cluster;
}

}  // namespace

Decoded<ClusterInput> DecodeCluster(std::string_view text, const std::string& file) {
  return ClusterOnly(LoadClusterObjects(text, file), file);
}

Decoded<ClusterInput> DecodeClusterFile(const std::string& path) {
  return ClusterOnly(LoadClusterObjectsFromFile(path), path);
}

}  // namespace gangsched::k8s
