#include "k8s/pod_group.h"

#include <cstdint>
#include <utility>

#include "k8s/json_reader.h"
#include "k8s/object_fields.h"
#include "k8s/yaml_reader.h"

namespace gangsched::k8s {
namespace {

// A group size: an integer of 0 or more.
template <typename R>
typename R::Status ReadSize(R& r, int& out) {
  std::int32_t n = 0;
  if (auto ok = r.Integer(n); !ok) return ok;
  if (n < 0) return r.Fail(" must be 0 or more, not " + std::to_string(n));
  out = n;
  return {};
}

template <typename R>
typename R::Status ReadPodGroup(R& object, PodGroup& group) {
  using Status = typename R::Status;
  fields::Metadata m;
  auto ok = object.Fields([&](std::string_view key, R& value) -> Status {
    if (key == "metadata") return fields::ReadMetadata(value, m, fields::MetadataOf::kPod);
    if (key != "spec") return {};
    return value.Fields([&](std::string_view k, R& f) -> Status {
      if (k == "minMember") return ReadSize(f, group.min_member);  // coscheduling, Volcano
      if (k != "schedulingPolicy") return {};
      return f.Fields([&](std::string_view p, R& policy) -> Status {  // native
        if (p != "gang") return {};
        return policy.Fields([&](std::string_view g, R& gang) -> Status {
          return g == "minCount" ? ReadSize(gang, group.min_member) : Status{};
        });
      });
    });
  });
  group.name = std::move(m.name);
  group.namespace_name = m.namespace_name.empty() ? "default" : std::move(m.namespace_name);
  if (ok && group.name.empty()) ok = object.Fail("metadata.name is missing");
  if (!ok) {
    std::string& message = MessageOf(ok.error());
    message = OfObject("PodGroup", group.namespace_name, group.name, std::move(message));
  }
  return ok;
}

}  // namespace

JsonResult<PodGroup> DecodePodGroupJson(std::string_view json) {
  PodGroup group;
  auto ok = ParseBody(json, [&](od::value& root) {
    JsonReader reader(root);
    return ReadPodGroup(reader, group);
  });
  if (!ok) return tl::unexpected(std::move(ok.error()));
  return group;
}

Decoded<PodGroup> DecodePodGroup(const YAML::Node& object, const std::string& file) {
  PodGroup group;
  YamlReader reader(object);
  if (auto ok = ReadPodGroup(reader, group); !ok) {
    return tl::unexpected(ErrorIn(file, "", std::move(ok.error())));
  }
  return group;
}

}  // namespace gangsched::k8s
