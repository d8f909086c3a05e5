#include "api/wire.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "k8s/objects_json.h"

namespace gangsched::api {

using k8s::DecodePodJson;
namespace {

using nlohmann::json;

TEST_CASE("ExtenderArgs in node-names mode, keys in any case, nulls accepted", "[wire]") {
  const char* body = R"({"pod":{"metadata":{"name":"train-0","namespace":"ml","uid":"u-1",
      "labels":{"a":"b"},"annotations":{"gangsched.io/gang":"bert"},"ownerReferences":null},
    "spec":{"schedulerName":"gang-scheduler","nodeSelector":null,"tolerations":[
      {"key":"gangsched.io/gpu","operator":"Exists","effect":"NoSchedule"}],
      "containers":[{"name":"main","resources":{"limits":{"nvidia.com/gpu":"2"},
                     "requests":{"cpu":"500m","memory":"1Gi"}}}]},
    "status":{"phase":"Pending","nominatedNodeName":"gpu-b"}},
  "NODES":null, "nodeNames":["gpu-a","gpu-b"], "Extra":{"x":[1,2,{}]}})";
  auto args = DecodeExtenderArgs(body);
  REQUIRE(args.has_value());
  CHECK_FALSE(args->full_nodes);
  CHECK(args->node_names == std::vector<std::string>{"gpu-a", "gpu-b"});
  const scheduler::Pod& pod = args->pod;
  CHECK(pod.name == "train-0");
  CHECK(pod.namespace_name == "ml");
  CHECK(pod.uid == "u-1");
  CHECK(pod.annotations.at("gangsched.io/gang") == "bert");
  CHECK(pod.scheduler_name == "gang-scheduler");
  CHECK(pod.requests.gpus == 2);  // the GPU limit stands in for the request
  CHECK(pod.requests.milli_cpu == 500);
  CHECK(pod.requests.memory_bytes == 1LL << 30);
  CHECK(pod.requests.pods == 1);
  REQUIRE(pod.tolerations.size() == 1);
  CHECK(pod.tolerations[0].op_exists);
  CHECK(pod.nominated_node_name == "gpu-b");
  CHECK(pod.scheduling_group.empty());
  CHECK_FALSE(pod.marked_unschedulable);
  auto parked = DecodePodJson(R"({"metadata":{"name":"w","uid":"u"},"spec":{"containers":[]},
    "status":{"phase":"Pending","conditions":[{"type":"Ready","status":"False"},
      {"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/8 nodes"}]}})");
  REQUIRE(parked.has_value());
  CHECK(parked->marked_unschedulable);
  auto scheduled = DecodePodJson(R"({"metadata":{"name":"w","uid":"u"},"spec":{"containers":[]},
    "status":{"conditions":[{"type":"PodScheduled","status":"True"}]}})");
  REQUIRE(scheduled.has_value());
  CHECK_FALSE(scheduled->marked_unschedulable);
}

TEST_CASE("a pod's native PodGroup (spec.schedulingGroup.podGroupName) is read; null accepted",
          "[wire]") {
  auto named = DecodePodJson(R"({"metadata":{"name":"w-0","namespace":"ml","uid":"u"},
    "spec":{"schedulingGroup":{"podGroupName":"trainer","future":1},"containers":[]}})");
  REQUIRE(named.has_value());
  CHECK(named->scheduling_group == "trainer");
  auto null_group = DecodePodJson(R"({"metadata":{"name":"w-0","uid":"u"},
    "spec":{"schedulingGroup":null,"containers":[]}})");
  REQUIRE(null_group.has_value());
  CHECK(null_group->scheduling_group.empty());
  auto wrong = DecodePodJson(R"({"metadata":{"name":"w-0","uid":"u"},
    "spec":{"schedulingGroup":{"podGroupName":7},"containers":[]}})");
  REQUIRE_FALSE(wrong.has_value());
  CHECK_THAT(wrong.error(), Catch::Contains("podGroupName"));
}

TEST_CASE("effective requests follow kube-scheduler: init containers, sidecars, overhead",
          "[wire]") {
  const char* body = R"({"Pod":{"metadata":{"name":"p"},"spec":{
      "initContainers":[
        {"name":"big-init","resources":{"requests":{"cpu":"8","nvidia.com/gpu":"1"}}},
        {"name":"sidecar","restartPolicy":"Always","resources":{"requests":{"cpu":"1"}}}],
      "containers":[{"name":"a","resources":{"requests":{"cpu":"2","memory":"1Gi"}}},
                    {"name":"b","resources":{"requests":{"cpu":"2"},"limits":{"memory":"3Gi"}}}],
      "overhead":{"cpu":"250m"}}},
    "NodeNames":[]})";
  auto args = DecodeExtenderArgs(body);
  REQUIRE(args.has_value());
  // containers 4 CPU + sidecar 1 = 5 < init peak 8; plus overhead 0.25.
  CHECK(args->pod.requests.milli_cpu == 8250);
  CHECK(args->pod.requests.memory_bytes == 4LL << 30);  // limit stands in for b's request
  CHECK(args->pod.requests.gpus == 1);
}

TEST_CASE("ExtenderArgs in full-Nodes mode skips the Nodes the caller already holds verbatim",
          "[wire]") {
  const std::string n1 =
      R"({"metadata":{"name":"gpu-a"},"status":{"allocatable":{"nvidia.com/gpu":"8"}}})";
  const std::string n2 =
      R"({"metadata":{"name":"gpu-b"},"status":{"allocatable":{"nvidia.com/gpu":"4"}}})";
  const std::string body = R"({"Pod":{"metadata":{"name":"p"}},"Nodes":{"metadata":{},"items":[)" +
                           n1 + "," + n2 + R"(]},"NodeNames":null})";
  const std::uint64_t known_hash = RawNodeHash(n1);
  CHECK(RawNodeHash(n2) != known_hash);
  auto args = DecodeExtenderArgs(body, [&](std::uint64_t hash, std::string& name) {
    if (hash != known_hash) return false;
    name = "gpu-a";
    return true;
  });
  REQUIRE(args.has_value());
  CHECK(args->node_names == std::vector<std::string>{"gpu-a", "gpu-b"});
  CHECK(args->raw_hashes == std::vector<std::uint64_t>{known_hash, RawNodeHash(n2)});
  // Without a lookup every Node is decoded first and then spanned: the same bytes and hashes.
  auto unknown = DecodeExtenderArgs(body);
  REQUIRE(unknown.has_value());
  CHECK(unknown->raw_hashes == args->raw_hashes);
  CHECK(unknown->raw_nodes == args->raw_nodes);
  CHECK(unknown->nodes.size() == 2);
  CHECK(args->raw_nodes[0] == n1);   // still answered verbatim
  REQUIRE(args->nodes.size() == 1);  // only the unknown Node is decoded
  CHECK(args->node_at == std::vector<std::size_t>{1});
  CHECK(args->nodes[0].name == "gpu-b");
  CHECK(args->nodes[0].allocatable.gpus == 4);
}

TEST_CASE("a body with spare capacity is parsed where it is; bytes past its end are not read",
          "[wire]") {
  const std::string node =
      R"({"metadata":{"name":"gpu-a","labels":{"b":"2","a":"1","a":"3"},"annotations":{)"
      R"("node.alpha.kubernetes.io/ttl":"0","gangsched.io/gpu-topology":"m"}},)"
      R"("status":{"allocatable":{"nvidia.com/gpu":"8"}}})";
  const std::string full = R"({"Pod":{"metadata":{"name":"p"}},"Nodes":{"items":[)" + node + "]}}";
  std::string body = full;
  body.reserve(full.size() + 256);
  body.append(200, '}');  // what lies past the end must not count...
  body.resize(full.size());
  REQUIRE(body.capacity() >= body.size() + 64);
  auto in_place = DecodeExtenderArgs(body);
  REQUIRE(in_place.has_value());
  REQUIRE(in_place->raw_nodes.size() == 1);
  CHECK(in_place->raw_nodes[0] == node);
  CHECK(in_place->raw_nodes[0].data() == body.data() + full.find(node));  // a view into the body
  const scheduler::Node& n = in_place->nodes.at(0);
  CHECK(n.labels == scheduler::StringMap{{"a", "3"}, {"b", "2"}});  // unsorted; the last wins
  // Only the gangsched.io/ annotations are kept (model.h kNodeAnnotationPrefix).
  CHECK(n.annotations == scheduler::StringMap{{"gangsched.io/gpu-topology", "m"}});

  // ...so a truncated body stays truncated although its spare bytes would close it.
  std::string cut = body;
  cut.reserve(full.size() + 256);
  cut.resize(full.size() - 1);
  REQUIRE(cut.capacity() >= cut.size() + 64);
  auto truncated = DecodeExtenderArgs(cut);
  REQUIRE_FALSE(truncated.has_value());
  CHECK_THAT(truncated.error(), Catch::Contains("not valid JSON"));

  // Without spare capacity (a view) the body is copied first: the same answer, views into it.
  const std::string_view view = full;
  auto copied = DecodeExtenderArgs(view);
  REQUIRE(copied.has_value());
  CHECK(copied->raw_nodes[0].data() == full.data() + full.find(node));
  CHECK(copied->nodes.at(0).labels == n.labels);
}

TEST_CASE("ExtenderArgs in full-Nodes mode keeps each Node's JSON verbatim", "[wire]") {
  const std::string n1 =
      R"({"metadata":{"name":"gpu-a","labels":{"gangsched.io/rack":"r1"}},"spec":{"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},"status":{"allocatable":{"cpu":"63500m","memory":"512Gi","nvidia.com/gpu":"8"}}})";
  const std::string n2 =
      R"({"metadata":{"name":"gpu-b"},"spec":{"unschedulable":true},"status":{"capacity":{"nvidia.com/gpu":4,"pods":"50"}}})";
  const std::string body = R"({"Pod":{"metadata":{"name":"p"}},"Nodes":{"metadata":{},"items":[)" +
                           n1 + "," + n2 + R"(]},"NodeNames":null})";
  auto args = DecodeExtenderArgs(body);
  REQUIRE(args.has_value());
  REQUIRE(args->full_nodes);
  REQUIRE(args->nodes.size() == 2);
  CHECK(args->raw_nodes[0] == n1);
  CHECK(args->raw_nodes[1] == n2);
  CHECK(args->node_names == std::vector<std::string>{"gpu-a", "gpu-b"});
  CHECK(args->nodes[0].allocatable.gpus == 8);
  CHECK(args->nodes[0].allocatable.milli_cpu == 63500);
  CHECK(args->nodes[0].allocatable.pods == 110);  // kubelet default when absent
  CHECK(args->nodes[0].labels.at("gangsched.io/rack") == "r1");
  CHECK(args->nodes[0].taints.size() == 1);
  CHECK(args->nodes[1].unschedulable);
  CHECK(args->nodes[1].allocatable.gpus == 4);  // from capacity, number accepted
  CHECK(args->nodes[1].allocatable.pods == 50);

  const std::string out = EncodeFilterResult(scheduler::Narrow{"gpu-b"}, args->node_names, *args);
  CHECK(out ==
        R"({"Nodes":{"metadata":{},"items":[)" + n2 +
            R"(]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
  CHECK(json::parse(out)["Nodes"]["items"][0]["metadata"]["name"] == "gpu-b");
  CHECK(
      EncodeFilterResult(scheduler::RejectAll{"gang ml/x: \"quoted\"\n"}, args->node_names,
                         *args) ==
      R"({"Nodes":{"metadata":{},"items":[]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{"gpu-a":"gang ml/x: \"quoted\"\n","gpu-b":"gang ml/x: \"quoted\"\n"},"Error":""})");
}

TEST_CASE("malformed requests name what is wrong and where", "[wire]") {
  struct Case {
    const char* body;
    const char* mentions;
  };
  auto [body, mentions] = GENERATE(
      Case{R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":[1]})", "NodeNames[0] must be a string"},
      Case{
          R"({"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"cpu":"lots"}}}]}}})",
          "Pod.spec.containers[0].resources.requests.cpu"},
      Case{
          R"({"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"nvidia.com/gpu":"0.5"}}}]}}})",
          "whole"},
      Case{R"({"Pod":{"metadata":{}}})", "Pod.metadata.name is missing"},
      Case{R"({"Pod":{"metadata":{"name":"p"}},"Nodes":{"items":[{"metadata":{}}]}})",
           "Nodes.items[0].metadata.name is missing"},
      Case{R"({"Pod":{"metadata":{"name":"p"}}, "NodeNames":["a"])", "JSON"},
      Case{R"({"NodeNames":["a"]})", "Pod is missing"}, Case{"", "JSON"}, Case{"null", "object"});
  auto args = DecodeExtenderArgs(body);
  REQUIRE_FALSE(args.has_value());
  INFO(args.error());
  CHECK(args.error().find(mentions) != std::string::npos);
}

TEST_CASE("binding args and result", "[wire]") {
  auto args = DecodeBindingArgs(
      R"({"PodName":"train-0","PodNamespace":"ml","PodUID":"6f1c","Node":"gpu-b"})");
  REQUIRE(args.has_value());
  CHECK(args->pod_name == "train-0");
  CHECK(args->pod_namespace == "ml");
  CHECK(args->pod_uid == "6f1c");
  CHECK(args->node == "gpu-b");
  auto lower = DecodeBindingArgs(R"({"podname":"a","podnamespace":null,"poduid":"u","node":"n"})");
  REQUIRE(lower.has_value());
  CHECK(lower->pod_namespace == "default");
  CHECK_FALSE(DecodeBindingArgs(R"({"PodName":"a"})").has_value());  // no node
  CHECK(EncodeBindingResult("") == R"({"Error":""})");
  CHECK(EncodeBindingResult("gang ml/x timed out") == R"({"Error":"gang ml/x timed out"})");
}

TEST_CASE("preemption args in both forms; the reply is always NodeNameToMetaVictims", "[wire]") {
  auto meta = DecodePreemptionArgs(R"({"Pod":{"metadata":{"name":"p"}},"NodeNameToVictims":null,
      "NodeNameToMetaVictims":{"gpu-a":{"Pods":[{"UID":"u-1"},{"UID":"u-2"}],"NumPDBViolations":1}}})");
  REQUIRE(meta.has_value());
  REQUIRE(meta->candidates.size() == 1);
  CHECK(meta->candidates[0].node == "gpu-a");
  CHECK(meta->candidates[0].victim_uids == std::vector<std::string>{"u-1", "u-2"});
  CHECK(meta->candidates[0].pdb_violations == 1);
  auto full = DecodePreemptionArgs(R"({"Pod":{"metadata":{"name":"p"}},"NodeNameToMetaVictims":null,
      "NodeNameToVictims":{"gpu-b":{"Pods":[{"metadata":{"name":"v","namespace":"ml","uid":"u-9"}}],
      "NumPDBViolations":0}}})");
  REQUIRE(full.has_value());
  REQUIRE(full->candidates.size() == 1);
  CHECK(full->candidates[0].victim_uids == std::vector<std::string>{"u-9"});
  CHECK(
      EncodePreemptionResult(meta->candidates) ==
      R"({"NodeNameToMetaVictims":{"gpu-a":{"Pods":[{"UID":"u-1"},{"UID":"u-2"}],"NumPDBViolations":1}}})");
  CHECK(EncodePreemptionResult({}) == R"({"NodeNameToMetaVictims":{}})");
}

TEST_CASE("each filter decision spreads over the offered nodes, byte for byte", "[wire]") {
  // kube-scheduler reads the reply per node (reference/extender-protocol.md §1.3): the node
  // narrowed to, and a reason for every other offered node, listed once each in byte order as a Go
  // map is encoded, however the offer repeats or orders them.
  const ExtenderArgs args;
  const std::vector<std::string> offered = {"gpu-c", "gpu-a", "gpu\"q", "gpu-b", "gpu-a", ""};
  struct Case {
    scheduler::FilterDecision decision;
    std::vector<std::string> offered;
    const char* reply;
  };
  auto [decision, names, reply] = GENERATE_COPY(
      Case{
          scheduler::Narrow{"gpu-b"}, offered,
          R"({"Nodes":null,"NodeNames":["gpu-b"],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})"},
      Case{
          scheduler::RejectAll{"gang ml/x: no fit"}, offered,
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"":"gang ml/x: no fit","gpu\"q":"gang ml/x: no fit","gpu-a":"gang ml/x: no fit","gpu-b":"gang ml/x: no fit","gpu-c":"gang ml/x: no fit"},"Error":""})"},
      Case{
          scheduler::RejectAll{"not known yet"},
          {"gone"},
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"gone":"not known yet"},"Error":""})"},
      // gangsched's inventory lags: an error, so kube-scheduler backs the pod off and retries it.
      Case{
          scheduler::RejectAll{"no offered node is in gangsched's inventory yet", true},
          {"new"},
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"new":"no offered node is in gangsched's inventory yet"},"Error":"no offered node is in gangsched's inventory yet"})"},
      Case{
          scheduler::RejectAll{"anything"},
          {},
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})"},
      Case{
          scheduler::PreemptOn{"gpu-a", "needs this node", "planned elsewhere"}, offered,
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{"gpu-a":"needs this node"},"FailedAndUnresolvableNodes":{"":"planned elsewhere","gpu\"q":"planned elsewhere","gpu-b":"planned elsewhere","gpu-c":"planned elsewhere"},"Error":""})"},
      Case{
          scheduler::PreemptOn{"gpu-a", "needs this node", "planned elsewhere"},
          {"gpu-a"},
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{"gpu-a":"needs this node"},"FailedAndUnresolvableNodes":{},"Error":""})"},
      // Its node not offered: no preemption candidate at all.
      Case{
          scheduler::PreemptOn{"gpu-z", "needs this node", "planned on gpu-z"},
          {"gpu-b", "gpu-a"},
          R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"gpu-a":"planned on gpu-z","gpu-b":"planned on gpu-z"},"Error":""})"});
  CHECK(EncodeFilterResult(decision, names, args) == reply);
  CHECK(EncodeFilterResult(decision, EncodeOfferedKeys(names), args) == reply);
  CHECK_NOTHROW(json::parse(reply));
}

TEST_CASE("a filter reply carries an internal fault in Error", "[wire]") {
  const ExtenderArgs args;
  CHECK(
      EncodeFilterResult(scheduler::RejectAll{"x"}, std::vector<std::string>{"gpu-a"}, args,
                         "engine fault") ==
      R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{"gpu-a":"x"},"Error":"engine fault"})");
}

TEST_CASE("priority lists use the capitalised keys", "[wire]") {
  CHECK(EncodeHostPriorityList({{"gpu-a", 3}, {"gpu-b", 10}}) ==
        R"([{"Host":"gpu-a","Score":3},{"Host":"gpu-b","Score":10}])");
  CHECK(EncodeHostPriorityList({}) == "[]");
}

TEST_CASE("NodeNames can be located without decoding, then decoded when new", "[wire]") {
  const char* body =
      R"({"Pod":{"metadata":{"name":"p"}},"nodenames": ["gpu-a", "gpu\u002db",null] ,"X":1})";
  auto args = DecodeExtenderArgs(body, {}, NodeNamesDecoding::kRawOnly);
  REQUIRE(args.has_value());
  CHECK_FALSE(args->full_nodes);
  CHECK(args->node_names.empty());
  CHECK(args->node_names_json == R"(["gpu-a", "gpu\u002db",null])");
  CHECK(args->node_names_json.data() >= body);  // a view into the body
  auto names = DecodeNodeNames(args->node_names_json);
  REQUIRE(names.has_value());
  CHECK(*names == std::vector<std::string>{"gpu-a", "gpu-b", ""});  // null reads as ""
  // The default decoding gives the same names.
  auto decoded = DecodeExtenderArgs(body);
  REQUIRE(decoded.has_value());
  CHECK(decoded->node_names == *names);

  for (const char* none : {R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":null})",
                           R"({"Pod":{"metadata":{"name":"p"}}})"}) {
    auto empty = DecodeExtenderArgs(none, {}, NodeNamesDecoding::kRawOnly);
    REQUIRE(empty.has_value());
    CHECK(empty->node_names_json.empty());
    CHECK(DecodeNodeNames(empty->node_names_json)->empty());
  }
  CHECK(DecodeNodeNames("[]")->empty());
}

TEST_CASE("NodeNames of the wrong shape are refused, naming the item", "[wire]") {
  struct Case {
    const char* names;
    const char* mentions;
  };
  auto [names, mentions] = GENERATE(Case{"[1]", "NodeNames[0] must be a string"},
                                    Case{R"(["a",{"b":1}])", "NodeNames[1] must be a string"},
                                    Case{R"(["a",["b"]])", "NodeNames[1] must be a string"},
                                    Case{R"({"a":1})", "NodeNames must be an array"},
                                    Case{R"("a")", "NodeNames must be an array"},
                                    Case{"7", "NodeNames must be an array"});
  const std::string body =
      std::string(R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":)") + names + "}";
  auto decoded = DecodeExtenderArgs(body);
  REQUIRE_FALSE(decoded.has_value());
  CHECK_THAT(decoded.error(), Catch::Contains(mentions));
  // Located only, an array is checked when its items are decoded.
  auto located = DecodeExtenderArgs(body, {}, NodeNamesDecoding::kRawOnly);
  if (located) {
    auto items = DecodeNodeNames(located->node_names_json);
    REQUIRE_FALSE(items.has_value());
    CHECK_THAT(items.error(), Catch::Contains(mentions));
  } else {
    CHECK_THAT(located.error(), Catch::Contains(mentions));
  }
}

TEST_CASE("a priority list spliced from the all-zero list equals the one encoded whole", "[wire]") {
  const std::vector<std::string> hosts = {"gpu-a", "gpu-\"b\"", "gpu-c", "gpu-d"};
  const ZeroPriorityList zero = EncodeZeroPriorityList(hosts);
  CHECK(zero.json ==
        EncodeHostPriorityList({{"gpu-a", 0}, {"gpu-\"b\"", 0}, {"gpu-c", 0}, {"gpu-d", 0}}));
  // Out of order, two digits, a negative score, the first and the last host.
  CHECK(EncodeHostPriorityList(zero, {{3, 10}, {0, 7}, {1, -2}}) ==
        EncodeHostPriorityList({{"gpu-a", 7}, {"gpu-\"b\"", -2}, {"gpu-c", 0}, {"gpu-d", 10}}));
  CHECK(EncodeHostPriorityList(zero, {}) == zero.json);
  CHECK(EncodeHostPriorityList(EncodeZeroPriorityList({}), {}) == "[]");
  CHECK(json::parse(EncodeHostPriorityList(zero, {{2, 10}}))[2]["Score"] == 10);
}

TEST_CASE("JSON strings are escaped and stay valid UTF-8", "[wire]") {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\x01\t\xc3\xa9\xe2\x80\xa6"));
  CHECK(out == "\"a\\\"b\\\\c\\u0001\\t\xc3\xa9\xe2\x80\xa6\"");
  out.clear();
  AppendJsonString(out, std::string("x\xff\xc3", 3));  // invalid bytes -> U+FFFD
  CHECK(out == "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(json::parse(out).get<std::string>() == "x\xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace gangsched::api
