// Kubernetes objects in files (YAML, or JSON read as YAML), with yaml-cpp: documents and Lists
// split into objects, and the YAML front end of the Pod and Node decoders (k8s/object_fields.h over
// k8s/yaml_reader.h), each error naming file:line:column. The JSON front end (k8s/objects_json.h)
// runs the same field logic over API JSON; tests/unit/k8s/parity_test.cc keeps the two equal.
// yaml-cpp's exceptions are caught here. Must not plan or hold anything: it returns data and
// errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "k8s/reader.h"
#include "k8s/yaml_reader.h"
#include "scheduler/model.h"

namespace gangsched::k8s {

// A user-facing decode error. line/column are 1-based; 0 when the error is not tied to a position
// (an unreadable file).
struct DecodeError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  // "FILE:LINE:COL: message" (or "FILE: message" without a position).
  std::string ToString() const;
};

template <typename T>
using Decoded = tl::expected<T, DecodeError>;

// A decoded object together with where it came from.
struct SourceObject {
  YAML::Node node;
  std::string kind;         // "" when the object has no kind (items of typed lists are defaulted)
  std::string api_version;  // "" when absent
};

// Splits a file's text into its objects: every document of a multi-document stream; the items of
// a `kind: List`, `NodeList` or `PodList` are flattened (items of typed lists default their kind).
// Empty documents are skipped. Syntax errors carry the position yaml-cpp reports.
Decoded<std::vector<SourceObject>> LoadObjects(std::string_view text, const std::string& file);
// Reads the file, then LoadObjects. A missing or unreadable file is an error naming it.
Decoded<std::vector<SourceObject>> LoadObjectsFromFile(const std::string& path);

// The whole text of a file, with room for simdjson's padding after it (k8s/json.h Body). A missing
// or unreadable file is an error naming it.
Decoded<std::string> ReadTextFile(const std::string& path);

// A reader's error in `file` (k8s/yaml_reader.h), its message prefixed with `kind` ("Pod.spec...").
DecodeError ErrorIn(const std::string& file, std::string_view kind, FieldError error);

// A Node or Pod object of a file (Strictness::kFile); a Node's GPU matrix annotation is checked,
// a bad one reported at its line.
Decoded<scheduler::Node> DecodeNode(const YAML::Node& object, const std::string& file);
Decoded<scheduler::Pod> DecodePod(const YAML::Node& object, const std::string& file);

// The 1-based position of a YAML node ({0, 0} for a missing or synthetic node).
Position PositionOf(const YAML::Node& node);
// An error at `node`'s position.
DecodeError ErrorAt(const YAML::Node& node, const std::string& file, std::string message);
// The first defined node among candidates, for error positions of missing fields.
const YAML::Node& PositionNode(const YAML::Node& preferred, const YAML::Node& fallback);
// The child `key` of a map node; a null node when `map` is not a map, the key is absent, or its
// value is null (as the API server treats `key: null`).
YAML::Node Child(const YAML::Node& map, const char* key);
// The scalar text of a node, or an error naming `what` when it is a map or a sequence.
Decoded<std::string> ScalarText(const YAML::Node& node, const std::string& file, const char* what);

}  // namespace gangsched::k8s
