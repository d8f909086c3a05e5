// The JSON reader of k8s/reader.h: a cursor at one simdjson On-Demand value (or object), for the
// object decoders' JSON front ends. Errors are field paths relative to the value, prefixed as they
// unwind ("spec.containers[0].resources.requests.cpu ..."), exactly as k8s/json.h writes them.
// Everything is inline and there is no virtual call: this reads every field of a 50 MB full-Nodes
// body (DESIGN.md §7).
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "k8s/json.h"
#include "k8s/reader.h"

namespace gangsched::k8s {

class JsonReader {
 public:
  using Error = std::string;
  using Status = JsonStatus;

  explicit JsonReader(od::value& v) : v_(v) {}

  bool IsNull() { return k8s::IsNull(v_); }

  template <typename Fn>
  Status Fields(Fn&& fn) {
    return ForEachField(v_, KeyedBy(fn));
  }

  // fn(key, JsonReader&) as a step of the k8s/json.h walks, its errors prefixed with the key.
  template <typename Fn>
  static auto KeyedBy(Fn& fn) {
    return [&fn](std::string_view key, od::value& value) -> Status {
      JsonReader child(value);
      if (auto ok = fn(key, child); !ok) return tl::unexpected(Prefix(key, std::move(ok.error())));
      return {};
    };
  }

  template <typename Fn>
  Status Items(Fn&& fn) {  // ForEachItem prefixes "[i]"
    return ForEachItem(v_, [&](std::size_t i, od::value& value) -> Status {
      JsonReader child(value);
      return fn(i, child);
    });
  }

  Status String(std::string& out) { return ReadString(v_, out); }
  Status Bool(bool& out) { return ReadBool(v_, out); }
  template <typename Int>
  Status Integer(Int& out) {
    return ReadInt(v_, out);
  }

  // A quantity is a string ("500m"); a JSON number is accepted as resource.Quantity's
  // UnmarshalJSON does, as its text.
  Status Scalar(std::string_view& text, bool& present, std::string_view want) {
    od::json_type t{};
    if (auto e = v_.type().get(t)) return tl::unexpected(" " + k8s::Fail(e));
    present = t != od::json_type::null;
    if (t == od::json_type::string) {
      if (auto e = v_.get_string().get(text)) return tl::unexpected(" " + k8s::Fail(e));
    } else if (t == od::json_type::number) {
      text = v_.raw_json_token();
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
      }
    } else if (present) {
      return tl::unexpected(" must be " + std::string(want));
    }
    return {};
  }

  // Go writes map keys sorted, so each key goes in at the end of the map (constant time) when they
  // come in order. Keys without `prefix` are skipped unread.
  template <typename Check = NoEntryCheck>
  Status StringMap(scheduler::StringMap& out, std::string_view prefix = {}, Check check = {}) {
    return ForEachField(v_, [&](std::string_view key, od::value& value) -> Status {
      if (key.substr(0, prefix.size()) != prefix) return {};
      std::string_view s;
      if (!k8s::IsNull(value)) {
        if (auto e = value.get_string().get(s)) {
          return tl::unexpected(Prefix(key, e == simdjson::INCORRECT_TYPE
                                                ? std::string(" must be a string")
                                                : " " + k8s::Fail(e)));
        }
      }
      if (std::string message; !check(key, s, message)) {
        return tl::unexpected(Prefix(key, std::move(message)));
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

  Status Fail(std::string message) const { return tl::unexpected(std::move(message)); }

 private:
  od::value& v_;
};

// The same at an object already opened (a Node item whose bytes the caller also takes): only
// Fields and Fail, which is all an object decoder asks of its top.
class JsonObjectReader {
 public:
  using Error = std::string;
  using Status = JsonStatus;

  explicit JsonObjectReader(od::object& obj) : obj_(obj) {}

  template <typename Fn>
  Status Fields(Fn&& fn) {
    return IterateObject(obj_, JsonReader::KeyedBy(fn));
  }

  Status Fail(std::string message) const { return tl::unexpected(std::move(message)); }

 private:
  od::object& obj_;
};

static_assert(ObjectReader<JsonReader>);

}  // namespace gangsched::k8s
