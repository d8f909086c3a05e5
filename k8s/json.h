// JSON reading over simdjson On-Demand, shared by the Kubernetes object decoders (k8s/) and the
// extender's wire codecs (api/wire.h): a request or file body and how it is parsed in place, field
// and item walks whose errors carry the field path ("spec.containers[0].resources.requests.cpu
// ..."), scalars, string maps, and the JSON string writer. Everything here is inline: these run for
// every field of a 50 MB full-Nodes body. Owns no Kubernetes knowledge.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "k8s/reader.h"
#include "scheduler/model.h"

namespace gangsched::k8s {

namespace od = simdjson::ondemand;
// A decode step: nothing, or what is wrong and where.
using JsonStatus = tl::expected<void, std::string>;
template <typename T>
using JsonResult = tl::expected<T, std::string>;

// A request or file body: its bytes, and how many bytes from their start are allocated and may be
// read. When simdjson's padding (64 bytes) fits after the bytes, the body is parsed where it is;
// otherwise a padded copy is parsed (for a 48 MB full-Nodes body: a 48 MB copy into ~12,000 fresh
// pages per request, a third of the decode time). A std::string's spare capacity serves: httplib
// grows request bodies by appending, which leaves spare capacity nearly always.
struct Body {
  Body(std::string_view b) : bytes(b), readable(b.size()) {}  // NOLINT(google-explicit-constructor)
  Body(const char* b) : Body(std::string_view(b)) {}          // NOLINT(google-explicit-constructor)
  // capacity() + 1: the string's terminating NUL is allocated too.
  Body(const std::string& b)  // NOLINT(google-explicit-constructor)
      : bytes(b), readable(b.capacity() + 1) {}
  std::string_view bytes;
  std::size_t readable;
};

inline std::string Fail(simdjson::error_code e) {
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

inline bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

inline bool IsNull(od::value& v) {
  od::json_type t{};
  return !v.type().get(t) && t == od::json_type::null;
}

// A string field; null reads as "".
inline JsonStatus ReadString(od::value& v, std::string& out) {
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

inline JsonStatus ReadBool(od::value& v, bool& out) {
  if (IsNull(v)) {
    out = false;
    return {};
  }
  if (v.get_bool().get(out)) return tl::unexpected(std::string(" must be true or false"));
  return {};
}

template <typename Int>
JsonStatus ReadInt(od::value& v, Int& out) {
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

// Iterates an object's fields: fn(key, value) -> JsonStatus.
template <typename Fn>
JsonStatus IterateObject(od::object& obj, Fn&& fn) {
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
inline JsonStatus GetObject(od::value& v, od::object& obj) {
  if (auto e = v.get_object().get(obj)) {
    return tl::unexpected(e == simdjson::INCORRECT_TYPE ? std::string(" must be an object")
                                                        : " " + Fail(e));
  }
  return {};
}

// The same over a value; null reads as an empty object.
template <typename Fn>
JsonStatus ForEachField(od::value& v, Fn&& fn) {
  if (IsNull(v)) return {};
  od::object obj;
  if (auto ok = GetObject(v, obj); !ok) return ok;
  return IterateObject(obj, std::forward<Fn>(fn));
}

template <typename Fn>
JsonStatus ForEachItem(od::value& v, Fn&& fn) {
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

// The parser for one body. A simdjson parser keeps buffers sized to the largest body it has
// parsed: per-thread parsers held ~1 GB after four concurrent 200 MB bodies (issue 15). So bodies
// up to kThreadParserBytes use the thread's parser; larger ones the process's one kept large
// parser when it is free (kube-scheduler's full-Nodes requests, 48 MB at 5,000 nodes, come one
// at a time and keep their warm decode), released after a body over kKeptParserBytes; when it is
// busy, a parser of their own, freed after.
class ParserLease {
 public:
  static constexpr std::size_t kThreadParserBytes = std::size_t{1} << 20;
  static constexpr std::size_t kKeptParserBytes = std::size_t{128} << 20;
  explicit ParserLease(std::size_t body_size);
  ~ParserLease();
  ParserLease(const ParserLease&) = delete;
  ParserLease& operator=(const ParserLease&) = delete;
  od::parser& get() { return *parser_; }

 private:
  std::size_t body_size_;
  std::unique_lock<std::mutex> kept_;
  std::unique_ptr<od::parser> own_;
  od::parser* parser_ = nullptr;
};

// Parses a whole body: `top(document)` reads the top-level object; then nothing may follow.
// `padded_base`, when given, gets the start of the padded copy that views returned by simdjson
// (raw_json) point into, so that they can be turned into views of `body`.
// `own_parser`: parse with this parser instead of one from ParserLease.
template <typename Fn>
JsonStatus ParseBody(Body in, Fn&& top, const char** padded_base = nullptr,
                     bool array_or_null = false, od::parser* own_parser = nullptr) {
  const std::string_view body = in.bytes;
  std::optional<ParserLease> lease;
  if (own_parser == nullptr) lease.emplace(body.size());
  od::parser& parser = own_parser != nullptr ? *own_parser : lease->get();
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

// Appends `s` as a JSON string literal (quotes, escapes; invalid UTF-8 bytes become U+FFFD).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace gangsched::k8s
