// The YAML reader of k8s/reader.h: a cursor at one yaml-cpp node, for the object decoders' file
// front ends. Errors carry the path below the value (prefixed as they unwind, as the JSON reader
// does) and the line and column of the value that failed, so a file error reads
// "FILE:LINE:COL: Pod.spec.containers[0].resources.requests.cpu ...". Scalars are YAML text: a
// number or a boolean may be written plain or quoted.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "k8s/json.h"
#include "k8s/reader.h"

namespace gangsched::k8s {

// An error at a place in a YAML document: the position of the value it is about, and the message
// with the path from the decoder's top (FieldError::message).
struct FieldError {
  Position at;
  std::string message;
};
inline std::string& MessageOf(FieldError& error) { return error.message; }

class YamlReader {
 public:
  using Error = FieldError;
  using Status = tl::expected<void, FieldError>;

  explicit YamlReader(YAML::Node node) : node_(std::move(node)) {}

  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }
  const YAML::Node& node() const { return node_; }

  template <typename Fn>
  Status Fields(Fn&& fn) {
    if (IsNull()) return {};
    if (!node_.IsMap()) return Fail(" must be a map");
    for (const auto& kv : node_) {
      const std::string& key = kv.first.Scalar();
      YamlReader child(kv.second);
      if (auto ok = fn(std::string_view(key), child); !ok) {
        ok.error().message = Prefix(key, std::move(ok.error().message));
        return ok;
      }
    }
    return {};
  }

  template <typename Fn>
  Status Items(Fn&& fn) {
    if (IsNull()) return {};
    if (!node_.IsSequence()) return Fail(" must be a list");
    std::size_t i = 0;
    for (const YAML::Node& item : node_) {
      YamlReader child(item);
      if (auto ok = fn(i, child); !ok) {
        ok.error().message = Prefix("[" + std::to_string(i) + "]", std::move(ok.error().message));
        return ok;
      }
      ++i;
    }
    return {};
  }

  Status String(std::string& out) {
    std::string_view text;
    if (auto ok = Text(text); !ok) return ok;
    out.assign(text);
    return {};
  }

  Status Bool(bool& out) {
    std::string_view text;
    if (auto ok = Text(text); !ok) return ok;
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.empty() || lower == "false") {
      out = false;
    } else if (lower == "true") {
      out = true;
    } else {
      return Fail(" must be true or false, not " + Quote(text));
    }
    return {};
  }

  template <typename Int>
  Status Integer(Int& out) {
    std::string_view text;
    if (auto ok = Text(text); !ok) return ok;
    if (text.empty()) {
      out = 0;
      return {};
    }
    std::int64_t value = 0;
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (*begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    constexpr auto kMin = static_cast<std::int64_t>(std::numeric_limits<Int>::min());
    constexpr auto kMax = static_cast<std::int64_t>(std::numeric_limits<Int>::max());
    if (ec != std::errc() || ptr != end || value < kMin || value > kMax) {
      return Fail(" must be an integer from " + std::to_string(kMin) + " to " +
                  std::to_string(kMax) + ", not " + Quote(text));
    }
    out = static_cast<Int>(value);
    return {};
  }

  Status Scalar(std::string_view& text, bool& present, std::string_view want) {
    present = !IsNull();
    if (!present) return {};
    if (!node_.IsScalar()) return Fail(" must be " + std::string(want));
    text = node_.Scalar();
    return {};
  }

  template <typename Check = NoEntryCheck>
  Status StringMap(scheduler::StringMap& out, std::string_view prefix = {}, Check check = {}) {
    if (IsNull()) return {};
    if (!node_.IsMap()) return Fail(" must be a map of strings");
    for (const auto& kv : node_) {
      const std::string& key = kv.first.Scalar();
      if (!key.starts_with(prefix)) continue;
      YamlReader child(kv.second);
      std::string_view value;
      auto ok = child.Text(value);
      if (std::string message; ok && !check(key, value, message)) ok = child.Fail(message);
      if (!ok) {
        ok.error().message = Prefix(key, std::move(ok.error().message));
        return ok;
      }
      out.insert_or_assign(key, std::string(value));
    }
    return {};
  }

  Status Fail(std::string message) const {
    Position at;
    if (node_.IsDefined() && !node_.Mark().is_null()) {
      at = {node_.Mark().line + 1, node_.Mark().column + 1};
    }
    return tl::unexpected(FieldError{at, std::move(message)});
  }

 private:
  // A scalar's text; null is "".
  Status Text(std::string_view& text) {
    if (IsNull()) {
      text = {};
      return {};
    }
    if (!node_.IsScalar()) {
      return Fail(std::string(" must be a single value, not a ") +
                  (node_.IsMap() ? "map" : "list"));
    }
    text = node_.Scalar();
    return {};
  }

  YAML::Node node_;
};

static_assert(ObjectReader<YamlReader>);

}  // namespace gangsched::k8s
