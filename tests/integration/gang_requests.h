// kube-scheduler's requests for the members of a test gang, derived from the golden payloads of
// tests/fixtures/extender/ by changing the pod's identity (ordered JSON keeps kube-scheduler's key
// order): member `index` of gang ml/`gang` is pod `gang`-worker-`index` with `gpus` GPUs, in a
// gang of `size` by gangsched's own annotations.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/in_process_server.h"

namespace gangsched::api {

inline std::string MemberArgs(const std::string& fixture, const std::string& gang, int index,
                              int size, int gpus) {
  using ordered = nlohmann::ordered_json;
  ordered args = ordered::parse(Fixture(fixture));
  ordered& meta = args["Pod"]["metadata"];
  meta["name"] = gang + "-worker-" + std::to_string(index);
  meta["uid"] = "uid-" + gang + "-" + std::to_string(index);
  meta["labels"]["app"] = gang;
  meta["annotations"]["gangsched.io/gang"] = gang;
  meta["annotations"]["gangsched.io/min-members"] = std::to_string(size);
  ordered& res = args["Pod"]["spec"]["containers"][0]["resources"];
  res["limits"]["nvidia.com/gpu"] = std::to_string(gpus);
  res["requests"]["nvidia.com/gpu"] = std::to_string(gpus);
  return args.dump();
}

inline std::string BindArgs(const std::string& gang, int index, const std::string& node) {
  using ordered = nlohmann::ordered_json;
  ordered args = ordered::parse(Fixture("bind.json"));
  args["PodName"] = gang + "-worker-" + std::to_string(index);
  args["PodUID"] = "uid-" + gang + "-" + std::to_string(index);
  args["Node"] = node;
  return args.dump();
}

}  // namespace gangsched::api
