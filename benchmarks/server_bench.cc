// Extender server benchmarks (issue 3, DESIGN.md §7), printed and recorded in docs/benchmarks.md:
//  (a) filter and prioritize on a 5,000-node cluster in NodeNames mode: inside the server (the
//      ExtenderService handler called in-process: decode, engine, encode) and over loopback
//      (httplib keep-alive client against the real listeners) — target p99 under 1 ms inside;
//  (b) full-`Nodes` decode rate, the server's simdjson decoder (api/wire.h) against nlohmann's
//      DOM parse of the same payload of kubectl-shaped Node objects — target >= 1 GB/s;
//  (c) a 1,024-member gang through the bind barrier over HTTP (1,024 concurrent bind requests on
//      the bind listener) while another client keeps filtering — total time, filter latency;
//  (d) resident memory of `gangsched serve --cluster FILE` holding 10,000 nodes and 100,000
//      running pods (VmRSS after it serves) — target under 200 MB;
//  (e) filter over loopback with 20,000 gangs known while 2 or 4 clients poll /api/v1/gangs
//      (issue 15: the view held the engine's lock while it serialised every gang);
//  (f) those 20,000 idle gangs forgotten after barrier.forget_after.
// The inventories are generated here as `kubectl get -o json` Lists (seeded, so every run plans on
// the same load) and written to --workdir, which `serve` then reads as users' files.
#include <httplib.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/extender_service.h"
#include "api/http_server.h"
#include "api/state_setup.h"
#include "api/wire.h"
#include "config/config.h"

namespace api = gangsched::api;
namespace config = gangsched::config;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

extern char** environ;

namespace {

constexpr int kGpusPerNode = 8;
constexpr const char* kId = "@ID@";  // replaced by each request's pod number

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Stats {
  std::size_t n = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Stats Summarize(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us.size(), us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)],
          us.back()};
}

void PrintRow(const char* what, const Stats& s, const char* target = "") {
  std::printf("  %-46s n=%-6zu p50 %8.1f us   p99 %8.1f us   max %9.1f us  %s\n", what, s.n, s.p50,
              s.p99, s.max, target);
}

// How an in-process call is timed: wall clock (steady_clock) around the call — the figure the
// target is about — and, to tell the call's own cost from a machine shared with other processes,
// the calling thread's CPU time and whether the kernel switched it out involuntarily meanwhile
// (getrusage RUSAGE_THREAD ru_nivcsw: another runnable process took the core).
struct Timed {
  double wall_us = 0;
  double cpu_us = 0;
  bool preempted = false;
};

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

long InvoluntarySwitches() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nivcsw;
}

template <typename Fn>
auto TimeCall(Timed& t, Fn&& fn) {
  const long switches = InvoluntarySwitches();
  const double cpu0 = ThreadCpuMicros();
  const auto t0 = Clock::now();
  auto result = fn();
  t.wall_us = Micros(Clock::now() - t0);
  t.cpu_us = ThreadCpuMicros() - cpu0;
  t.preempted = InvoluntarySwitches() != switches;
  return result;
}

// Wall-clock row, then the same calls' CPU time and the wall time of those not preempted.
void PrintTimed(const char* what, const std::vector<Timed>& samples, const char* target = "") {
  std::vector<double> wall, cpu, undisturbed;
  for (const Timed& t : samples) {
    wall.push_back(t.wall_us);
    cpu.push_back(t.cpu_us);
    if (!t.preempted) undisturbed.push_back(t.wall_us);
  }
  PrintRow(what, Summarize(wall), target);
  PrintRow("  same calls: thread CPU time", Summarize(cpu));
  const std::string label = "  same calls, wall, not preempted (" +
                            std::to_string(samples.size() - undisturbed.size()) + " were)";
  PrintRow(label.c_str(), Summarize(undisturbed));
}

std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "unknown";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return text;
}

void Replace(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// ---- Generated inventories (kubectl-shaped) ----------------------------------------------------

struct Shape {
  int zones;
  int blocks;  // per zone
  int racks;   // per block
  int nodes;   // per rack
  int Total() const { return zones * blocks * racks * nodes; }
};

struct NodeName {
  std::string name, zone, block, rack;
};

std::vector<NodeName> NodeNames(const Shape& shape) {
  std::vector<NodeName> out;
  for (int z = 0; z < shape.zones; ++z) {
    for (int b = 0; b < shape.blocks; ++b) {
      for (int r = 0; r < shape.racks; ++r) {
        for (int n = 0; n < shape.nodes; ++n) {
          const std::string zone = "z" + std::to_string(z);
          const std::string block = zone + "-b" + std::to_string(b);
          const std::string rack = block + "-r" + std::to_string(r);
          out.push_back({rack + "-n" + std::to_string(n), zone, block, rack});
        }
      }
    }
  }
  return out;
}

// One Node as `kubectl get nodes -o json` prints a GPU node labelled by NVIDIA GPU feature
// discovery: labels, kubelet annotations, taint, capacity, conditions, addresses, nodeInfo and the
// image list. `matrix` (the `nvidia-smi topo -m` annotation) is left out when empty.
std::string NodeJson(const NodeName& n, int index, const std::string& matrix) {
  std::string s;
  s.reserve(4096 + matrix.size());
  s += R"({"metadata":{"name":")" + n.name + R"(","uid":"5e0c1d2a-0000-4000-8000-)";
  char uid_tail[16];
  std::snprintf(uid_tail, sizeof uid_tail, "%012d", index);
  s += uid_tail;
  s +=
      R"(","resourceVersion":")" + std::to_string(1000000 + index) +
      R"(","creationTimestamp":"2026-10-01T08:00:00Z","labels":{"beta.kubernetes.io/arch":"amd64",)"
      R"("beta.kubernetes.io/instance-type":"p5.48xlarge","beta.kubernetes.io/os":"linux",)"
      R"("kubernetes.io/arch":"amd64","kubernetes.io/hostname":")" +
      n.name +
      R"(","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"p5.48xlarge",)"
      R"("topology.kubernetes.io/region":"us-east-1","topology.kubernetes.io/zone":")" +
      n.zone + R"(","gangsched.io/block":")" + n.block + R"(","gangsched.io/rack":")" + n.rack +
      R"(","nvidia.com/cuda.driver.major":"550","nvidia.com/gpu.count":"8",)"
      R"("nvidia.com/gpu.memory":"81559","nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3",)"
      R"("nvidia.com/gpu.present":"true"},"annotations":{"node.alpha.kubernetes.io/ttl":"0",)"
      R"("volumes.kubernetes.io/controller-managed-attach-detach":"true",)"
      R"("kubeadm.alpha.kubernetes.io/cri-socket":"unix:///run/containerd/containerd.sock")";
  if (!matrix.empty()) {
    s += R"(,"gangsched.io/gpu-topology":)";
    api::AppendJsonString(s, matrix);
  }
  s += R"(}},"spec":{"podCIDR":"10.)" + std::to_string(index / 256 % 256) + "." +
       std::to_string(index % 256) + R"(.0/24","podCIDRs":["10.)" +
       std::to_string(index / 256 % 256) + "." + std::to_string(index % 256) +
       R"(.0/24"],"providerID":"aws:///us-east-1a/i-0)" + std::to_string(700000000 + index) +
       R"(","taints":[{"key":"gangsched.io/gpu","value":"true","effect":"NoSchedule"}]},)"
       R"("status":{"capacity":{"cpu":"192","ephemeral-storage":"7811891200Ki",)"
       R"("hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"2097152000Ki","nvidia.com/gpu":"8",)"
       R"("pods":"110"},"allocatable":{"cpu":"191450m","ephemeral-storage":"7199342107420",)"
       R"("hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"2085513216Ki","nvidia.com/gpu":"8",)"
       R"("pods":"110"},"conditions":[)";
  const char* conditions[][3] = {
      {"MemoryPressure", "False", "KubeletHasSufficientMemory"},
      {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
      {"PIDPressure", "False", "KubeletHasSufficientPID"},
      {"Ready", "True", "KubeletReady"},
  };
  for (std::size_t i = 0; i < std::size(conditions); ++i) {
    if (i > 0) s += ',';
    s += R"({"type":")" + std::string(conditions[i][0]) + R"(","status":")" + conditions[i][1] +
         R"(","lastHeartbeatTime":"2026-11-28T17:00:00Z","lastTransitionTime":)"
         R"("2026-10-01T08:00:00Z","reason":")" +
         conditions[i][2] + R"(","message":"kubelet reports )" + conditions[i][2] + R"("})";
  }
  s += R"(],"addresses":[{"type":"InternalIP","address":"10.1.)" + std::to_string(index / 256) +
       "." + std::to_string(index % 256) + R"("},{"type":"Hostname","address":")" + n.name +
       R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":")"
       R"(ec2a5f0e9b1c4d3e8f7a6b5c4d3e2f1a","systemUUID":"ec2a5f0e-9b1c-4d3e-8f7a-6b5c4d3e2f1a",)"
       R"("bootID":"0b6e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b","kernelVersion":"6.1.0-27-cloud-amd64",)"
       R"j("osImage":"Debian GNU/Linux 12 (bookworm)","containerRuntimeVersion":)j"
       R"("containerd://1.7.22","kubeletVersion":"v1.33.1","kubeProxyVersion":"v1.33.1",)"
       R"("operatingSystem":"linux","architecture":"amd64"},"images":[)";
  const char* images[] = {"nvcr.io/nvidia/pytorch:24.10-py3",
                          "nvcr.io/nvidia/k8s-device-plugin:v0.16.2",
                          "nvcr.io/nvidia/gpu-feature-discovery:v0.16.2",
                          "registry.k8s.io/kube-proxy:v1.33.1",
                          "docker.io/calico/node:v3.28.2",
                          "nvcr.io/nvidia/dcgm-exporter:3.3.8-3.6.0-ubuntu22.04",
                          "registry.k8s.io/pause:3.10"};
  for (std::size_t i = 0; i < std::size(images); ++i) {
    if (i > 0) s += ',';
    s += R"({"names":[")" + std::string(images[i]) + R"(@sha256:)" +
         std::string(64, static_cast<char>('a' + i)) + R"(",")" + images[i] + R"("],"sizeBytes":)" +
         std::to_string(3000000 + 104729 * (i + 1) * (i + 7)) + "}";
  }
  s += "]}}";
  return s;
}

// A running pod as the API server returns it (the fields a kubectl dump carries that matter here).
std::string PodJson(int index, const std::string& node, int gpus) {
  const std::string name = "train-" + std::to_string(index);
  std::string s = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                  R"(","namespace":"research","uid":"9a0b1c2d-0000-4000-8000-)";
  char uid_tail[16];
  std::snprintf(uid_tail, sizeof uid_tail, "%012d", index);
  s += uid_tail;
  s += R"(","labels":{"app":"train","job":"job-)" + std::to_string(index / 8) +
       R"("}},"spec":{"nodeName":")" + node +
       R"(","schedulerName":"gang-scheduler","containers":[{"name":"main","image":)"
       R"("nvcr.io/nvidia/pytorch:24.10-py3","resources":{"requests":{"cpu":"8","memory":"64Gi")";
  if (gpus > 0) {
    s += R"(,"nvidia.com/gpu":")" + std::to_string(gpus) + R"("},"limits":{"nvidia.com/gpu":")" +
         std::to_string(gpus) + R"("}}}],)";
  } else {
    s += R"(}}}],)";
  }
  s += R"("tolerations":[{"key":"gangsched.io/gpu","operator":"Exists","effect":"NoSchedule"}]},)"
       R"("status":{"phase":"Running"}})";
  return s;
}

// Writes a `kind: List` of the nodes of `shape` and a seeded load of running pods: `pods_per_node`
// pods on each node, the first `gpu_pods` of them taking GPUs (a seeded 0..8 split in total).
void WriteCluster(const std::string& path, const Shape& shape, int pods_per_node,
                  const std::string& matrix) {
  std::ofstream out(path, std::ios::binary);
  out << R"({"apiVersion":"v1","kind":"List","metadata":{},"items":[)";
  const std::vector<NodeName> names = NodeNames(shape);
  for (std::size_t i = 0; i < names.size(); ++i) {
    // A List's items carry their kind (kubectl); kube-scheduler's Nodes items do not (§1.1).
    std::string node = NodeJson(names[i], static_cast<int>(i), matrix);
    node.insert(1, R"("apiVersion":"v1","kind":"Node",)");
    out << (i > 0 ? "," : "") << node;
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> taken(0, kGpusPerNode);
  int pod = 0;
  for (const NodeName& n : names) {
    int gpus_left = taken(rng);
    for (int k = 0; k < pods_per_node; ++k) {
      // Spread the node's taken GPUs over its first pods; the rest are CPU pods.
      const int gpus = k + 1 == pods_per_node ? gpus_left : std::min(gpus_left, 1);
      gpus_left -= gpus;
      out << "," << PodJson(pod++, n.name, gpus);
    }
  }
  out << "]}\n";
}

// ---- Request bodies ----------------------------------------------------------------------------

// A kube-scheduler filter/prioritize body (tests/fixtures/extender/filter-nodecache.json's pod) for
// pod number kId with `gpus` GPUs, NodeNames = every node. Gang members carry the gang annotations.
std::string FilterTemplate(const std::vector<NodeName>& nodes, int gpus, const std::string& gang,
                           int quorum) {
  // Ordered, so the keys stay in kube-scheduler's order (Pod, Nodes, NodeNames).
  nlohmann::ordered_json args = nlohmann::ordered_json::parse(ReadFile(
      std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/filter-nodecache.json"));
  nlohmann::ordered_json& meta = args["Pod"]["metadata"];
  meta["name"] = (gang.empty() ? "pod-" : gang + "-worker-") + kId;
  meta["uid"] = std::string("uid-") + (gang.empty() ? "pod-" : gang + "-") + kId;
  meta["labels"] = {{"app", gang.empty() ? "single" : gang}};
  if (gang.empty()) {
    meta.erase("annotations");
  } else {
    meta["annotations"] = {{"gangsched.io/gang", gang},
                           {"gangsched.io/min-members", std::to_string(quorum)}};
  }
  nlohmann::ordered_json& resources = args["Pod"]["spec"]["containers"][0]["resources"];
  resources["limits"]["nvidia.com/gpu"] = std::to_string(gpus);
  resources["requests"]["nvidia.com/gpu"] = std::to_string(gpus);
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (const NodeName& n : nodes) names.push_back(n.name);
  args["NodeNames"] = std::move(names);
  return args.dump();
}

std::string Instantiate(const std::string& tmpl, int id) {
  std::string body = tmpl;
  Replace(body, kId, std::to_string(id));
  return body;
}

std::string BindBody(const std::string& name, const std::string& uid, const std::string& node) {
  return json{{"PodName", name}, {"PodNamespace", "ml"}, {"PodUID", uid}, {"Node", node}}.dump();
}

// The node a filter reply narrowed the pod to ("" when it kept none or several).
std::string NarrowedNode(const std::string& reply) {
  const json j = json::parse(reply);
  const json& names = j.at("NodeNames");
  return names.is_array() && names.size() == 1 ? names[0].get<std::string>() : std::string();
}

// An in-process gangsched on free ports over a cluster file.
struct InProcess {
  explicit InProcess(const std::string& cluster_file,
                     const std::function<void(config::Config&)>& tune = {}) {
    if (tune) tune(cfg);
    cfg.cluster_file = cluster_file;
    cfg.listen = "127.0.0.1:0";
    cfg.bind_listen = "127.0.0.1:0";
    cfg.ops_listen = "";
    cfg.log_level = "warn";  // one info line per decision would be the benchmark's main cost
    auto state = api::LoadStandaloneState(cfg);
    if (!state) throw std::runtime_error(state.error());
    service = std::make_unique<api::ExtenderService>(cfg, std::move(state->engine),
                                                     state->inventory_loaded,
                                                     std::make_unique<api::StandaloneBinder>());
    server = std::make_unique<api::ExtenderServer>(cfg, *service);
    if (auto started = server->Start(); !started) throw std::runtime_error(started.error());
  }
  ~InProcess() {
    service->Shutdown("benchmark over");
    server->Stop();
  }
  config::Config cfg;
  std::unique_ptr<api::ExtenderService> service;
  std::unique_ptr<api::ExtenderServer> server;
};

httplib::Client KeepAlive(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(120, 0);
  return cli;
}

// ---- (a) filter and prioritize -----------------------------------------------------------------

// kube-scheduler filters nodes in parallel (16 workers over chunks of about sqrt(n) nodes) and
// hands the extender the feasible nodes in the order the workers finished them, so NodeNames
// comes in a new order nearly every scheduling cycle. `orders` such orders: the chunks in a seeded
// random order.
std::vector<std::string> ReorderedTemplates(const std::vector<NodeName>& nodes, int orders) {
  const std::size_t chunk = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::sqrt(static_cast<double>(nodes.size()))));
  std::vector<std::vector<NodeName>> chunks;
  for (std::size_t at = 0; at < nodes.size(); at += chunk) {
    chunks.emplace_back(nodes.begin() + static_cast<long>(at),
                        nodes.begin() + static_cast<long>(std::min(nodes.size(), at + chunk)));
  }
  std::mt19937 rng(7);
  std::vector<std::string> out;
  for (int k = 0; k < orders; ++k) {
    std::shuffle(chunks.begin(), chunks.end(), rng);
    std::vector<NodeName> order;
    for (const auto& c : chunks) order.insert(order.end(), c.begin(), c.end());
    out.push_back(FilterTemplate(order, 1, "", 0));
  }
  return out;
}

bool BenchVerbs(const std::string& cluster_file, const std::vector<NodeName>& nodes, int runs) {
  InProcess gs(cluster_file);
  const std::string tmpl = FilterTemplate(nodes, 1, "", 0);
  // More orders than the server keeps resolved offers (4): every request is an offer not seen.
  const std::vector<std::string> reordered = ReorderedTemplates(nodes, 50);
  std::printf(
      "\n(a) filter/prioritize, NodeNames mode, %zu nodes offered (%zu KB body), 1-GPU pods"
      " (gangs of one: each filter plans and holds; each pod is then bound)\n",
      nodes.size(), tmpl.size() / 1024);
  std::printf("  load average before: %s\n", LoadAverage().c_str());
  int id = 0;
  bool ok = true;
  // Inside the server: the handler called in-process; prioritize gets the filter's body.
  auto inside = [&](auto&& template_for, std::vector<Timed>& filters, std::vector<Timed>& prios) {
    for (int i = 0; i < runs; ++i, ++id) {
      const std::string body = Instantiate(template_for(i), id);
      Timed t;
      const api::Reply filtered = TimeCall(t, [&] { return gs.service->Filter(body); });
      filters.push_back(t);
      const api::Reply scored = TimeCall(t, [&] { return gs.service->Prioritize(body); });
      prios.push_back(t);
      const std::string node = NarrowedNode(filtered.body);
      ok = ok && filtered.status == 200 && scored.status == 200 && !node.empty();
      const std::string n = std::to_string(id);
      gs.service->Bind(BindBody("pod-" + n, "uid-pod-" + n, node));
    }
  };
  std::vector<Timed> filter_same, prio_same, filter_new, prio_new;
  inside([&](int) -> const std::string& { return tmpl; }, filter_same, prio_same);
  inside([&](int i) -> const std::string& { return reordered[i % reordered.size()]; }, filter_new,
         prio_new);
  // Over loopback: one keep-alive connection, NodeNames in a new order each request.
  std::vector<double> filter_http, prio_http;
  httplib::Client cli = KeepAlive(gs.server->main_port());
  for (int i = 0; i < runs; ++i, ++id) {
    const std::string body = Instantiate(reordered[i % reordered.size()], id);
    auto t0 = Clock::now();
    auto filtered = cli.Post("/filter", body, "application/json");
    filter_http.push_back(Micros(Clock::now() - t0));
    t0 = Clock::now();
    auto scored = cli.Post("/prioritize", body, "application/json");
    prio_http.push_back(Micros(Clock::now() - t0));
    if (!filtered || !scored || filtered->status != 200 || scored->status != 200) {
      ok = false;
      break;
    }
    const std::string n = std::to_string(id);
    gs.service->Bind(BindBody("pod-" + n, "uid-pod-" + n, NarrowedNode(filtered->body)));
  }
  std::printf("  load average after: %s\n", LoadAverage().c_str());
  std::printf("  NodeNames in a new order each request (as kube-scheduler's parallel filter):\n");
  PrintTimed("filter, inside the server", filter_new, "(target p99 < 1000 us)");
  PrintTimed("prioritize, inside the server", prio_new, "(target p99 < 1000 us)");
  PrintRow("filter, loopback HTTP keep-alive", Summarize(filter_http));
  PrintRow("prioritize, loopback HTTP keep-alive", Summarize(prio_http));
  std::printf("  NodeNames byte for byte as in the request before (a kept offer):\n");
  PrintTimed("filter, inside the server", filter_same);
  PrintTimed("prioritize, inside the server", prio_same);
  if (!ok) std::printf("  ERROR: a request failed or was not narrowed to one node\n");
  return ok;
}

// ---- (b) full-Nodes decode ---------------------------------------------------------------------

bool BenchDecode(const Shape& shape, const std::string& matrix, int runs, const char* label) {
  const std::vector<NodeName> names = NodeNames(shape);
  std::string body = FilterTemplate({}, 1, "", 0);
  Replace(body, kId, "0");
  std::string nodes = R"("Nodes":{"metadata":{},"items":[)";
  for (std::size_t i = 0; i < names.size(); ++i) {
    nodes += (i > 0 ? "," : "") + NodeJson(names[i], static_cast<int>(i), matrix);
  }
  nodes += "]},\"NodeNames\":null";
  Replace(body, R"("Nodes":null,"NodeNames":[])", nodes);
  const double mb = static_cast<double>(body.size()) / 1e6;
  std::vector<double> simd_us, simd_dom_us, nlohmann_us;
  bool ok = true;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto args = api::DecodeExtenderArgs(body);
    simd_us.push_back(Micros(Clock::now() - t0));
    ok = ok && args && args->full_nodes && args->nodes.size() == names.size();
    t0 = Clock::now();
    simdjson::dom::parser parser;  // the parser alone: what a full parse costs without decoding
    const bool parsed = parser.parse(body).error() == simdjson::SUCCESS;
    simd_dom_us.push_back(Micros(Clock::now() - t0));
    ok = ok && parsed;
    t0 = Clock::now();
    const json dom = json::parse(body);
    nlohmann_us.push_back(Micros(Clock::now() - t0));
    ok = ok && dom.at("Nodes").at("items").size() == names.size();
  }
  const Stats simd = Summarize(simd_us);
  const Stats simd_dom = Summarize(simd_dom_us);
  const Stats nl = Summarize(nlohmann_us);
  const auto rate = [mb](const Stats& st) { return mb / (st.p50 / 1e6); };
  std::printf(
      "  %-20s %6zu nodes, %5.1f MB: gangsched decode (simdjson On-Demand -> Nodes) %7.1f ms"
      " = %6.0f MB/s | simdjson DOM parse only %7.1f ms = %6.0f MB/s | nlohmann parse "
      "only %7.1f ms = %5.0f MB/s | nlohmann/gangsched %.1fx (medians of %d)\n",
      label, names.size(), mb, simd.p50 / 1e3, rate(simd), simd_dom.p50 / 1e3, rate(simd_dom),
      nl.p50 / 1e3, rate(nl), nl.p50 / simd.p50, runs);
  if (!ok) std::printf("  ERROR: a decode failed or lost nodes\n");
  return ok;
}

// ---- (c) the 1,024-member barrier --------------------------------------------------------------

bool BenchBarrier(const std::string& cluster_file, const std::vector<NodeName>& nodes, int members,
                  int gpus) {
  InProcess gs(cluster_file);
  std::printf(
      "\n(c) a %d-member gang (x %d GPUs) through the bind barrier over HTTP, %zu nodes; "
      "bind pool %d threads; another client keeps filtering 1-GPU pods meanwhile\n",
      members, gpus, nodes.size(), gs.cfg.threads.bind);
  const std::string tmpl = FilterTemplate(nodes, gpus, "big", members);
  httplib::Client cli = KeepAlive(gs.server->main_port());
  std::vector<std::string> planned(static_cast<std::size_t>(members));
  const auto f0 = Clock::now();
  double first_filter_us = 0;
  for (int i = 0; i < members; ++i) {  // kube-scheduler filters members one at a time
    auto t0 = Clock::now();
    auto res = cli.Post("/filter", Instantiate(tmpl, i), "application/json");
    if (i == 0) first_filter_us = Micros(Clock::now() - t0);
    if (!res || res->status != 200 || (planned[i] = NarrowedNode(res->body)).empty()) {
      std::printf("  ERROR: member %d not narrowed: %s\n", i, res ? res->body.c_str() : "no reply");
      return false;
    }
  }
  std::printf("  filter of all %d members: %.0f ms (the first, which plans the gang: %.1f ms)\n",
              members, Micros(Clock::now() - f0) / 1e3, first_filter_us / 1e3);

  std::atomic<bool> binds_done{false};
  std::vector<std::pair<double, double>> background;  // (start offset us, latency us)
  const auto b0 = Clock::now();
  std::thread filterer([&] {
    httplib::Client bg = KeepAlive(gs.server->main_port());
    const std::string bg_tmpl = FilterTemplate(nodes, 1, "", 0);
    for (int id = 1'000'000; !binds_done.load(); ++id) {
      const std::string body = Instantiate(bg_tmpl, id);
      const auto t0 = Clock::now();
      auto res = bg.Post("/filter", body, "application/json");
      const double us = Micros(Clock::now() - t0);
      if (!res || res->status != 200) continue;
      background.emplace_back(Micros(t0 - b0), us);
      const std::string node = NarrowedNode(res->body);
      const std::string n = std::to_string(id);
      if (!node.empty()) gs.service->Bind(BindBody("pod-" + n, "uid-pod-" + n, node));
    }
  });
  std::vector<std::string> errors(static_cast<std::size_t>(members));
  std::vector<double> answered_us(static_cast<std::size_t>(members));
  std::vector<std::thread> binders;
  binders.reserve(static_cast<std::size_t>(members));
  for (int i = 0; i < members; ++i) {
    binders.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", gs.server->bind_port());
      c.set_read_timeout(120, 0);
      c.set_connection_timeout(30, 0);
      const std::string n = std::to_string(i);
      auto res = c.Post("/bind", BindBody("big-worker-" + n, "uid-big-" + n, planned[i]),
                        "application/json");
      answered_us[i] = Micros(Clock::now() - b0);
      if (!res) {
        errors[i] = "transport error " + httplib::to_string(res.error());
      } else {
        errors[i] = json::parse(res->body).at("Error").get<std::string>();
      }
    });
  }
  for (std::thread& t : binders) t.join();
  const double total_us = Micros(Clock::now() - b0);
  binds_done = true;
  filterer.join();
  const std::size_t failed =
      std::count_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); });
  std::vector<double> during;
  for (const auto& [offset, us] : background) {
    if (offset < total_us) during.push_back(us);
  }
  std::printf("  %d concurrent binds answered in %.0f ms (the first answer at %.0f ms); %zu failed",
              members, total_us / 1e3,
              *std::min_element(answered_us.begin(), answered_us.end()) / 1e3, failed);
  for (const std::string& e : errors) {
    if (!e.empty()) {
      std::printf(" (e.g. \"%s\")", e.c_str());
      break;
    }
  }
  std::printf("\n");
  PrintRow("filter during the barrier, loopback HTTP", Summarize(during));
  return failed == 0 && !during.empty();
}

// VmRSS:, VmHWM:, ... of a process, in KiB (-1: not found).
long ProcStatusKiB(pid_t pid, const char* key) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  }
  return -1;
}

// ---- (e) views polled while filtering, (f) idle gangs forgotten --------------------------------

// Issue 15's load: 10,000 two-member gangs of which one member reached filter (each waits for its
// second pod) and 10,000 single pods asking more GPUs than a node has (each waits, unplaceable):
// 20,000 gang records, none holding anything. Filtered in-process.
bool MakeIdleGangs(InProcess& gs, const std::vector<NodeName>& nodes, int each, int round = 0) {
  const std::string gang = FilterTemplate(nodes, 4, "pair", 2);
  const std::string huge = FilterTemplate(nodes, kGpusPerNode + 1, "", 0);
  for (int i = 0; i < each; ++i) {
    const int id = round * each + i;
    std::string member = gang;
    Replace(member, "\"pair\"", "\"pair-" + std::to_string(id) + "\"");  // one gang per pair
    if (gs.service->Filter(Instantiate(member, id)).status != 200) return false;
    if (gs.service->Filter(Instantiate(huge, 2'000'000 + id)).status != 200) return false;
  }
  return true;
}

// GET a gang view; `all`: every page, following `continue`. Returns the bytes read (0: failed).
std::size_t ReadGangs(httplib::Client& cli, bool all) {
  std::size_t bytes = 0;
  std::string next;
  do {
    std::string path = all ? "/api/v1/gangs?limit=5000" : "/api/v1/gangs";
    if (!next.empty()) path += "&continue=" + next;
    auto res = cli.Get(path.c_str());
    if (!res || res->status != 200) return 0;
    bytes += res->body.size();
    next.clear();
    if (all) {
      const json page = json::parse(res->body);
      next = page.value("continue", "");
    }
  } while (!next.empty());
  return bytes;
}

bool BenchViews(const std::string& cluster_file, const std::vector<NodeName>& nodes, int runs,
                int each) {
  InProcess gs(cluster_file);
  const auto m0 = Clock::now();
  if (!MakeIdleGangs(gs, nodes, each)) {
    std::printf("  ERROR: a filter failed while making the gangs\n");
    return false;
  }
  httplib::Client probe = KeepAlive(gs.server->main_port());
  auto first = probe.Get("/api/v1/gangs");
  std::printf(
      "\n(e) filter over loopback while clients poll /api/v1/gangs; %zu nodes offered; %d "
      "two-member gangs (one member seen) + %d unplaceable single pods made in %.1f s; the default "
      "view is %zu KB\n",
      nodes.size(), each, each, std::chrono::duration<double>(Clock::now() - m0).count(),
      first ? first->body.size() / 1024 : 0);
  std::printf("  load average before: %s\n", LoadAverage().c_str());
  const std::string tmpl = FilterTemplate(nodes, 1, "", 0);
  int id = 5'000'000;
  bool ok = true;
  // 1-GPU single pods over one keep-alive connection, each bound after its filter; at most 30 s
  // (a view that holds the engine's lock while it serialises stalls every filter).
  auto filters = [&](int n) {
    std::vector<double> us;
    httplib::Client cli = KeepAlive(gs.server->main_port());
    const auto until = Clock::now() + std::chrono::seconds(30);
    for (int i = 0; i < n && Clock::now() < until; ++i, ++id) {
      const std::string body = Instantiate(tmpl, id);
      const auto t0 = Clock::now();
      auto res = cli.Post("/filter", body, "application/json");
      us.push_back(Micros(Clock::now() - t0));
      const std::string node = res && res->status == 200 ? NarrowedNode(res->body) : "";
      if (node.empty()) {
        ok = false;
        break;
      }
      const std::string k = std::to_string(id);
      gs.service->Bind(BindBody("pod-" + k, "uid-pod-" + k, node));
    }
    return Summarize(us);
  };
  auto polled = [&](int pollers, bool all) {
    std::atomic<bool> stop{false};
    std::atomic<long> polls{0};
    std::atomic<long> failed{0};
    std::mutex mu;
    std::vector<double> poll_us;
    std::size_t bytes = 0;
    std::vector<std::thread> threads;
    for (int p = 0; p < pollers; ++p) {
      threads.emplace_back([&] {
        httplib::Client cli = KeepAlive(gs.server->main_port());
        while (!stop.load()) {
          const auto t0 = Clock::now();
          const std::size_t got = ReadGangs(cli, all);
          const double us = Micros(Clock::now() - t0);
          if (got == 0) {
            ++failed;
            continue;
          }
          ++polls;
          std::lock_guard lock(mu);
          poll_us.push_back(us);
          bytes = got;
        }
      });
    }
    const auto t0 = Clock::now();
    const Stats f = filters(runs);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    stop = true;
    for (auto& t : threads) t.join();
    const std::string what = "filter, " + std::to_string(pollers) + " clients polling the " +
                             (all ? "whole list" : "default view");
    PrintRow(what.c_str(), f);
    const Stats p = Summarize(poll_us);
    std::printf(
        "    views read: %ld (%.1f/s, %ld failed), %zu KB each, read time p50 %.1f ms, p99 %.1f "
        "ms\n",
        polls.load(), static_cast<double>(polls.load()) / secs, failed.load(), bytes / 1024,
        p.p50 / 1e3, p.p99 / 1e3);
    if (failed.load() > 0) ok = false;
  };
  filters(runs / 10);  // warm the connection and the kept offer
  PrintRow("filter, nobody polling", filters(runs));
  polled(2, false);
  polled(2, true);
  polled(4, false);
  std::printf("  load average after: %s\n", LoadAverage().c_str());
  if (!ok) std::printf("  ERROR: a request failed\n");
  return ok;
}

bool BenchForget(const std::string& cluster_file, const std::vector<NodeName>& nodes, int each,
                 int rounds) {
  // Long enough that the gangs of a round are all made before the first of them is forgotten.
  constexpr config::Millis kForget = 20'000;
  InProcess gs(cluster_file, [](config::Config& c) { c.forget_after = kForget; });
  httplib::Client cli = KeepAlive(gs.server->main_port());
  auto total = [&]() -> long {
    auto res = cli.Get("/api/v1/gangs?limit=1");
    if (!res || res->status != 200) return -1;
    return json::parse(res->body).value("total", -1L);
  };
  std::printf(
      "\n(f) %d rounds of %d two-member gangs (one member seen) + %d unplaceable single pods, "
      "barrier.forget_after %.0f s; VmRSS of this process (server and client) at start %.1f MB\n",
      rounds, each, each, kForget / 1000.0, ProcStatusKiB(getpid(), "VmRSS:") / 1024.0);
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    const auto t0 = Clock::now();
    if (!MakeIdleGangs(gs, nodes, each, round)) {
      std::printf("  ERROR: a filter failed while making the gangs\n");
      return false;
    }
    const double made = std::chrono::duration<double>(Clock::now() - t0).count();
    const long listed = total();
    const long rss_with = ProcStatusKiB(getpid(), "VmRSS:");
    long left = listed;
    while (left > 0 && Clock::now() - t0 < std::chrono::seconds(120)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      left = total();
    }
    const double gone = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "  round %d: made in %.1f s, %ld listed; %ld listed %.1f s after the round started; "
        "VmRSS %.1f MB with them, %.1f MB after\n",
        round + 1, made, listed, left, gone, rss_with / 1024.0,
        ProcStatusKiB(getpid(), "VmRSS:") / 1024.0);
    ok = ok && listed == 2L * each && left == 0;
  }
  return ok;
}

// ---- (d) resident memory of `serve` ------------------------------------------------------------

bool BenchMemory(const std::string& gangsched, const std::string& cluster_file, int nodes,
                 int pods) {
  std::printf(
      "\n(d) gangsched serve --cluster %s (%d nodes with the topo annotation, %d running "
      "pods, %.0f MB file)\n",
      cluster_file.c_str(), nodes, pods, static_cast<double>(ReadFile(cluster_file).size()) / 1e6);
  int out[2];
  if (pipe(out) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> argv_s = {gangsched,      "serve",       "--cluster",     cluster_file,
                                     "--listen",     "127.0.0.1:0", "--bind-listen", "127.0.0.1:0",
                                     "--ops-listen", "127.0.0.1:0", "--log-level",   "warn"};
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const auto t0 = Clock::now();
  if (posix_spawn(&pid, gangsched.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::printf("  ERROR: cannot start %s\n", gangsched.c_str());
    return false;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string text;
  char buf[4096];
  int ops_port = 0;
  while (ops_port == 0) {
    const ssize_t got = read(out[0], buf, sizeof buf);
    if (got <= 0) break;
    text.append(buf, static_cast<std::size_t>(got));
    if (auto at = text.find("ops port ");
        at != std::string::npos && text.find('\n', at) != std::string::npos) {
      ops_port = std::stoi(text.substr(at + 9));
    }
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  bool ok = false;
  if (ops_port != 0) {
    httplib::Client cli("127.0.0.1", ops_port);
    auto ready = cli.Get("/readyz");
    auto gangs = cli.Get("/metrics");
    const long rss = ProcStatusKiB(pid, "VmRSS:");
    const long hwm = ProcStatusKiB(pid, "VmHWM:");
    ok = ready && ready->status == 200;
    std::string gpu_line;
    if (gangs) {
      std::istringstream lines(gangs->body);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("gangsched_gpus{state=\"allocated\"}", 0) == 0) gpu_line = line;
      }
    }
    std::printf("  serving after %.1f s; readyz %d; %s\n", load_s, ready ? ready->status : 0,
                gpu_line.c_str());
    std::printf("  VmRSS %.1f MB (target < 200 MB), peak VmHWM %.1f MB\n", rss / 1024.0,
                hwm / 1024.0);
    ok = ok && rss > 0 && rss < 200 * 1024;
  } else {
    std::printf("  ERROR: serve did not start:\n%s\n", text.c_str());
  }
  close(out[0]);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string workdir = ".";
  std::string gangsched;
  std::string only = "abcd";  // which parts to run
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--workdir" && i + 1 < argc) {
      workdir = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--gangsched" && i + 1 < argc) {
      gangsched = argv[++i];
    } else {
      std::fprintf(
          stderr,
          "usage: server_bench [--quick] [--workdir DIR] [--gangsched BIN] [--only abcdef]\n"
          "  --gangsched: the binary whose `serve` memory (d) measures (skipped without)\n"
          "  e, f (not run by default): filter while clients poll the gang view; idle gangs "
          "forgotten\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string matrix =
      ReadFile(std::string(GANGSCHED_SHARED_DIR) + "/data/topology/hgx_h100_topo_m_gpu_rows.tsv");
  const Shape five_k{1, 5, 25, 40};  // 5,000 nodes: blocks of 25 racks of 40 nodes
  const Shape ten_k{2, 5, 25, 40};   // 10,000 nodes: 2 zones of those

  const std::string five_k_file = workdir + "/server-bench-5000-nodes.json";
  WriteCluster(five_k_file, five_k, 1, matrix);
  const std::vector<NodeName> five_k_nodes = NodeNames(five_k);
  const auto part = [&](char c) { return only.find(c) != std::string::npos; };
  bool ok = true;
  if (part('a')) ok = BenchVerbs(five_k_file, five_k_nodes, quick ? 200 : 2000) && ok;
  if (part('b')) {
    std::printf(
        "\n(b) full-Nodes filter body decode (one request, kubectl-shaped Node objects); "
        "simdjson kernel: %s\n",
        simdjson::get_active_implementation()->name().c_str());
    ok = BenchDecode(ten_k, "", quick ? 2 : 5, "plain nodes") && ok;
    ok = BenchDecode(five_k, matrix, quick ? 2 : 5, "with topo annotation") && ok;
  }
  if (part('c')) ok = BenchBarrier(five_k_file, five_k_nodes, quick ? 128 : 1024, 4) && ok;
  if (part('e')) ok = BenchViews(five_k_file, five_k_nodes, quick ? 200 : 1000, 10'000) && ok;
  if (part('f')) ok = BenchForget(five_k_file, five_k_nodes, 10'000, quick ? 1 : 3) && ok;
  if (!gangsched.empty() && part('d')) {
    const int pods_per_node = 10;
    const std::string ten_k_file = workdir + "/server-bench-10000-nodes-100000-pods.json";
    WriteCluster(ten_k_file, ten_k, pods_per_node, matrix);
    ok = BenchMemory(gangsched, ten_k_file, ten_k.Total(), ten_k.Total() * pods_per_node) && ok;
  }
  std::printf("\n%s\n", ok ? "all server benchmarks completed" : "SOME BENCHMARKS FAILED");
  return ok ? 0 : 1;
}
