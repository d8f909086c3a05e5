#include "k8s/objects_yaml.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "k8s/object_fields.h"
#include "k8s/quantity.h"
#include "scheduler/cluster_state.h"
#include "topology/gpu_topology.h"

namespace gangsched::k8s {

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

}  // namespace

DecodeError ErrorIn(const std::string& file, std::string_view kind, FieldError error) {
  std::string message = std::move(error.message);
  if (!kind.empty()) message = Prefix(kind, std::move(message));
  return DecodeError{file, error.at.line, error.at.column, std::move(message)};
}

Decoded<scheduler::Node> DecodeNode(const YAML::Node& object, const std::string& file) {
  scheduler::Node node;
  YamlReader reader(object);
  if (auto ok = fields::ReadNodeObject(reader, node, Strictness::kFile); !ok) {
    return tl::unexpected(ErrorIn(file, "Node", std::move(ok.error())));
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
  scheduler::Pod pod;
  YamlReader reader(object);
  if (auto ok = fields::ReadPodObject(reader, pod, Strictness::kFile); !ok) {
    return tl::unexpected(ErrorIn(file, "Pod", std::move(ok.error())));
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
