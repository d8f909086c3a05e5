// What the Kubernetes object decoders (k8s/object_fields.h, k8s/pod_group.cc, k8s/jobs.cc) read
// through: a cursor at one value of a document, with two implementations, k8s/json_reader.h
// (simdjson On-Demand: API JSON) and k8s/yaml_reader.h (yaml-cpp: files, with line:col). Each
// kind's field logic is written once as a template over this interface, so the two front ends
// cannot drift. Owns the interface and the error conventions only; no Kubernetes fields.
//
// Errors: a reader's Fail(message) makes an error about the value it stands at. A message that
// starts with a space is about the value itself (" must be a string"); any other is a path below
// it ("metadata.name is missing"). Fields() and Items() prefix the key or "[i]" as an error
// unwinds (k8s/json.h Prefix), so the decoder that called first sees a path such as
// "spec.containers[0].resources.requests.cpu \"lots\" is not a quantity...". The YAML reader also
// keeps the line and column of the value that failed. Nothing is built on success.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "scheduler/model.h"

namespace gangsched::k8s {

// A 1-based position in a file; 0 when unknown.
struct Position {
  int line = 0;
  int column = 0;
};

// How much a decoder checks beyond what it needs to read a value.
enum class Strictness : std::uint8_t {
  // The object passed the API server's validation (a watch, a list, kube-scheduler's requests):
  // what gangsched cannot use is ignored so the object still counts — an unknown status.phase
  // reads as Pending, a malformed gangsched.io/gpu-ids annotation as no ids, a taint without a key
  // or an effect is kept with the defaults.
  kApiServer,
  // The object was written by hand (a cluster or job file): each of those is an error at its place.
  kFile,
};

// A string map entry check (ReadStringMap's `check`): nothing, or a message about the value.
struct NoEntryCheck {
  bool operator()(std::string_view /*key*/, std::string_view /*value*/,
                  std::string& /*message*/) const {
    return true;
  }
};

// The interface, as the decoders use it (R::Status is tl::expected<void, R::Error>):
template <typename R>
concept ObjectReader = requires(R& r, std::string& s, bool& b, std::int32_t& i32, std::int64_t& i64,
                                std::string_view& sv, scheduler::StringMap& map) {
  typename R::Error;
  typename R::Status;
  { r.IsNull() } -> std::same_as<bool>;
  // Walks a map's entries, fn(std::string_view key, R& value) -> Status; null is an empty map.
  {r.Fields([](std::string_view, R&) { return typename R::Status{}; })};
  // Walks a list's items, fn(std::size_t index, R& item) -> Status; null is an empty list.
  {r.Items([](std::size_t, R&) { return typename R::Status{}; })};
  // Scalars; null reads as "", false, 0.
  { r.String(s) } -> std::same_as<typename R::Status>;
  { r.Bool(b) } -> std::same_as<typename R::Status>;
  { r.Integer(i32) } -> std::same_as<typename R::Status>;
  { r.Integer(i64) } -> std::same_as<typename R::Status>;
  // A number or a string as its text (quantities, replica counts); `present` is false for
  // null. `want` completes " must be ..." when the value is neither.
  { r.Scalar(sv, b, std::string_view()) } -> std::same_as<typename R::Status>;
  // A string-to-string map; with `prefix`, only keys starting with it are kept.
  { r.StringMap(map, std::string_view(), NoEntryCheck{}) } -> std::same_as<typename R::Status>;
  { r.Fail(std::string()) } -> std::same_as<typename R::Status>;
};

// The message of a reader's error (k8s/json_reader.h: the string itself; k8s/yaml_reader.h: a
// FieldError's message, found by argument-dependent lookup).
inline std::string& MessageOf(std::string& error) { return error; }

// "a.b" joins; errors are prefixed with the field path as they unwind (no cost on success).
inline std::string Prefix(std::string_view field, std::string error) {
  if (!error.empty() && error.front() == '[') return std::string(field) + error;
  if (!error.empty() && error.front() == ' ') return std::string(field) + error;
  return std::string(field) + "." + error;
}

// An error of a named object's decoder, said of the object: "TFJob ml/bert: spec.x must ..." (or
// "TFJob ml/bert declares ..." for a message about the object itself); "TFJob.spec.x must ..."
// while the name is not known.
inline std::string OfObject(std::string_view kind, std::string_view ns, std::string_view name,
                            std::string error) {
  if (name.empty()) return Prefix(kind, std::move(error));
  std::string out =
      std::string(kind) + " " + std::string(ns.empty() ? "default" : ns) + "/" + std::string(name);
  if (!error.empty() && error.front() == ' ') return out + error;
  return out + ": " + error;
}

// Quotes a value for a message.
inline std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace gangsched::k8s
