#include "api/wire.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <utility>
#include <variant>

#include "k8s/json.h"
#include "k8s/objects_json.h"

namespace gangsched::api {
namespace {

namespace od = simdjson::ondemand;
using scheduler::Resources;
using Status = k8s::JsonStatus;
using k8s::Fail;
using k8s::ForEachField;
using k8s::ForEachItem;
using k8s::GetObject;
using k8s::IEquals;
using k8s::IsNull;
using k8s::IterateObject;
using k8s::ParseBody;
using k8s::Prefix;
using k8s::ReadInt;
using k8s::ReadString;

// A Pod value at the top level: "Pod: ..." errors.
Status ReadTopPod(od::value& v, scheduler::Pod& pod, bool& seen) {
  seen = !IsNull(v);
  if (!seen) return {};
  if (auto ok = k8s::ReadPod(v, pod); !ok) return tl::unexpected(Prefix("Pod", ok.error()));
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
                  if (auto r = k8s::ReadNodeObject(obj, node); !r) return r;
                } else {  // nothing known (a first request): one walk, decoded then spanned
                  if (auto r = k8s::ReadNodeObject(obj, node); !r) return r;
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
            if (auto u = k8s::ReadPod(pod, victim); !u) return u;
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

// ---- Encoders -----------------------------------------------------------------------------------

OfferedKeys EncodeOfferedKeys(const std::vector<std::string>& offered) {
  std::vector<const std::string*> names;
  names.reserve(offered.size());
  for (const std::string& name : offered) names.push_back(&name);
  const auto by_name = [](const std::string* a, const std::string* b) { return *a < *b; };
  std::sort(names.begin(), names.end(), by_name);
  const auto same = [](const std::string* a, const std::string* b) { return *a == *b; };
  names.erase(std::unique(names.begin(), names.end(), same), names.end());
  OfferedKeys keys;
  keys.ends.reserve(names.size());
  std::size_t bytes = 0;
  for (const std::string* name : names) bytes += name->size() + 2;
  keys.json.reserve(bytes);
  for (const std::string* name : names) {
    AppendJsonString(keys.json, *name);
    keys.ends.push_back(keys.json.size());
  }
  return keys;
}

namespace {

// Each offered key but `except` (a key; "" for none) with `reason`, both JSON strings.
void AppendReasonMap(std::string& out, const OfferedKeys& keys, std::string_view except,
                     std::string_view reason) {
  out.push_back('{');
  std::size_t from = 0;
  for (const std::size_t end : keys.ends) {
    const std::string_view key(keys.json.data() + from, end - from);
    from = end;
    if (key == except) continue;
    if (out.back() != '{') out.push_back(',');
    out += key;
    out.push_back(':');
    out += reason;
  }
  out.push_back('}');
}

bool HasKey(const OfferedKeys& keys, std::string_view key) {
  std::size_t from = 0;
  for (const std::size_t end : keys.ends) {
    if (std::string_view(keys.json.data() + from, end - from) == key) return true;
    from = end;
  }
  return false;
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

// NodeNames [node], or in full mode the Node object of that name as the request carried it.
void AppendKept(std::string& out, const scheduler::Narrow* narrow, const ExtenderArgs& args) {
  if (args.full_nodes) {
    out += "{\"Nodes\":{\"metadata\":{},\"items\":[";
    if (narrow) {
      // The first Node of that name (the core narrows only to offered nodes).
      const auto it = std::find(args.node_names.begin(), args.node_names.end(), narrow->node);
      const auto at = static_cast<std::size_t>(it - args.node_names.begin());
      if (at < args.raw_nodes.size()) out += args.raw_nodes[at];
    }
    out += "]},\"NodeNames\":null";
  } else {
    out += "{\"Nodes\":null,\"NodeNames\":[";
    if (narrow) AppendJsonString(out, narrow->node);
    out += "]";
  }
}

}  // namespace

std::string EncodeFilterResult(const scheduler::FilterDecision& decision, const OfferedKeys& keys,
                               const ExtenderArgs& args, std::string_view error) {
  std::string out;
  out.reserve(128);
  AppendKept(out, std::get_if<scheduler::Narrow>(&decision), args);
  const auto* reject = std::get_if<scheduler::RejectAll>(&decision);
  if (reject && reject->retry && error.empty()) error = reject->reason;
  if (reject) {
    const std::string reason = JsonString(reject->reason);
    out.reserve(out.size() + 128 + keys.json.size() + keys.ends.size() * (reason.size() + 2));
    out += ",\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":";
    AppendReasonMap(out, keys, {}, reason);
  } else if (const auto* preempt = std::get_if<scheduler::PreemptOn>(&decision)) {
    const std::string node = JsonString(preempt->node);
    const std::string elsewhere = JsonString(preempt->elsewhere);
    out.reserve(out.size() + 128 + keys.json.size() + keys.ends.size() * (elsewhere.size() + 2) +
                preempt->reason.size());
    out += ",\"FailedNodes\":{";
    if (HasKey(keys, node)) {
      out += node;
      out.push_back(':');
      AppendJsonString(out, preempt->reason);
    }
    out += "},\"FailedAndUnresolvableNodes\":";
    AppendReasonMap(out, keys, node, elsewhere);
  } else {
    out += ",\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{}";
  }
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
