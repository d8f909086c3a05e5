// Full-`Nodes` filter body decode rate (issue 3, DESIGN.md §7: ≥ 1 GB/s): gangsched's simdjson
// On-Demand decoder (api/wire.h) cold (every Node new, all decoded) and warm (every Node already
// known by its raw-JSON hash: the steady state kube-scheduler produces by resending the same
// Nodes), against nlohmann::json::parse of the same body. Medians of N runs. The body is a
// std::string built by appending, so it has spare capacity as httplib's request bodies do and is
// parsed in place; "copied" passes a view (no spare capacity known), as before that.
//
//   decode_bench [--runs N] [--nodes N]        timings for 5,000 and 10,000 Nodes (or N)
//   decode_bench --one cold|warm|nlohmann --nodes N [--repeat R]
//                                              one decode (or R) inside CALLGRIND_{START,STOP}
//                                              (valgrind --tool=callgrind --collect-atstart=no)
#include <valgrind/callgrind.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/wire.h"
#include "k8s/json.h"

namespace {

using Clock = std::chrono::steady_clock;
using gangsched::k8s::AppendJsonString;

// The `nvidia-smi topo -m` matrix of an 8-GPU HGX node, as the gangsched.io/gpu-topology value.
std::string Matrix() {
  std::string m =
      "\tGPU0\tGPU1\tGPU2\tGPU3\tGPU4\tGPU5\tGPU6\tGPU7\tNIC0\tCPU Affinity\tNUMA Affinity\n";
  for (int g = 0; g < 8; ++g) {
    m += "GPU" + std::to_string(g);
    for (int o = 0; o < 8; ++o) m += o == g ? "\t X " : "\tNV18";
    m += g < 4 ? "\tPXB\t0-47,96-143\t0\n" : "\tSYS\t48-95,144-191\t1\n";
  }
  return m;
}

// One Node as a kubelet (1.33) reports it on a GPU node labelled by GPU feature discovery:
// ~25 labels incl. topology keys, ~10 annotations incl. the GPU matrix, a taint, capacity and
// allocatable, conditions, addresses, nodeInfo and a 30-image list (~8 KB).
std::string NodeJson(int i, const std::string& matrix) {
  const int rack = i / 32;
  const std::string name = "gpu-" + std::to_string(i);
  const std::string zone = "us-east-1" + std::string(1, static_cast<char>('a' + rack / 40 % 4));
  const std::string block = "b" + std::to_string(rack / 8);
  std::string s = R"({"metadata":{"name":")" + name + R"(","uid":"5e0c1d2a-0000-4000-8000-)";
  char tail[16];
  std::snprintf(tail, sizeof tail, "%012d", i);
  s += tail;
  s +=
      R"(","resourceVersion":")" + std::to_string(1000000 + i) +
      R"(","creationTimestamp":"2026-10-01T08:00:00Z","labels":{"beta.kubernetes.io/arch":"amd64",)"
      R"("beta.kubernetes.io/instance-type":"p5.48xlarge","beta.kubernetes.io/os":"linux",)"
      R"("failure-domain.beta.kubernetes.io/region":"us-east-1","failure-domain.beta.kubernetes.io/zone":")" +
      zone + R"(","kubernetes.io/arch":"amd64","kubernetes.io/hostname":")" + name +
      R"(","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"p5.48xlarge",)"
      R"("topology.kubernetes.io/region":"us-east-1","topology.kubernetes.io/zone":")" +
      zone + R"(","gangsched.io/block":")" + block + R"(","gangsched.io/rack":"r)" +
      std::to_string(rack) +
      R"(","nvidia.com/cuda.driver.major":"550","nvidia.com/cuda.driver.minor":"127",)"
      R"("nvidia.com/cuda.runtime.major":"12","nvidia.com/cuda.runtime.minor":"4",)"
      R"("nvidia.com/gfd.timestamp":"1732700000","nvidia.com/gpu.compute.major":"9",)"
      R"("nvidia.com/gpu.compute.minor":"0","nvidia.com/gpu.count":"8","nvidia.com/gpu.family":"hopper",)"
      R"("nvidia.com/gpu.machine":"p5.48xlarge","nvidia.com/gpu.memory":"81559",)"
      R"("nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3","nvidia.com/gpu.present":"true",)"
      R"("nvidia.com/mig.capable":"false","feature.node.kubernetes.io/network-sriov.capable":"true"},)"
      R"("annotations":{"node.alpha.kubernetes.io/ttl":"0",)"
      R"("volumes.kubernetes.io/controller-managed-attach-detach":"true",)"
      R"("kubeadm.alpha.kubernetes.io/cri-socket":"unix:///run/containerd/containerd.sock",)"
      R"("csi.volume.kubernetes.io/nodeid":"{\"ebs.csi.aws.com\":\"i-0)" +
      std::to_string(700000000 + i) + R"(\",\"efs.csi.aws.com\":\"i-0)" +
      std::to_string(700000000 + i) +
      R"(\"}",)"
      R"("nfd.node.kubernetes.io/feature-labels":"cpu-cpuid.AVX512F,cpu-cpuid.AMXBF16,kernel-version.major,pci-10de.present",)"
      R"("nfd.node.kubernetes.io/extended-resources":"",)"
      R"("projectcalico.org/IPv4Address":"10.1.)" +
      std::to_string(i / 256) + "." + std::to_string(i % 256) +
      R"(/16","projectcalico.org/IPv4VXLANTunnelAddr":"192.168.)" + std::to_string(i / 256) + "." +
      std::to_string(i % 256) + R"(","alpha.kubernetes.io/provided-node-ip":"10.1.)" +
      std::to_string(i / 256) + "." + std::to_string(i % 256) + R"(","gangsched.io/gpu-topology":)";
  AppendJsonString(s, matrix);
  s += R"(}},"spec":{"podCIDR":"10.244.)" + std::to_string(i % 256) +
       R"(.0/24","providerID":"aws:///us-east-1a/i-0)" + std::to_string(700000000 + i) +
       R"(","taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]},)"
       R"("status":{"capacity":{"cpu":"192","ephemeral-storage":"7811891200Ki",)"
       R"("hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"2097152000Ki","nvidia.com/gpu":"8",)"
       R"("pods":"110","vpc.amazonaws.com/efa":"32"},"allocatable":{"cpu":"191450m",)"
       R"("ephemeral-storage":"7199342107420","hugepages-1Gi":"0","hugepages-2Mi":"0",)"
       R"("memory":"2085513216Ki","nvidia.com/gpu":"8","pods":"110","vpc.amazonaws.com/efa":"32"},)"
       R"("conditions":[)";
  const char* conditions[][3] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                                 {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                                 {"PIDPressure", "False", "KubeletHasSufficientPID"},
                                 {"Ready", "True", "KubeletReady"}};
  for (std::size_t c = 0; c < std::size(conditions); ++c) {
    if (c > 0) s += ',';
    s += R"({"type":")" + std::string(conditions[c][0]) + R"(","status":")" + conditions[c][1] +
         R"(","lastHeartbeatTime":"2026-11-28T17:00:00Z","lastTransitionTime":)"
         R"("2026-10-01T08:00:00Z","reason":")" +
         conditions[c][2] + R"(","message":"kubelet has )" + conditions[c][2] + R"("})";
  }
  s += R"(],"addresses":[{"type":"InternalIP","address":"10.1.)" + std::to_string(i / 256) + "." +
       std::to_string(i % 256) + R"("},{"type":"Hostname","address":")" + name +
       R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":")"
       R"(ec2a5f0e9b1c4d3e8f7a6b5c4d3e2f1a","systemUUID":"ec2a5f0e-9b1c-4d3e-8f7a-6b5c4d3e2f1a",)"
       R"("bootID":"0b6e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b","kernelVersion":"6.1.0-27-cloud-amd64",)"
       R"j("osImage":"Debian GNU/Linux 12 (bookworm)","containerRuntimeVersion":)j"
       R"("containerd://1.7.22","kubeletVersion":"v1.33.1","kubeProxyVersion":"v1.33.1",)"
       R"("operatingSystem":"linux","architecture":"amd64"},"images":[)";
  const char* repos[] = {"nvcr.io/nvidia/pytorch",
                         "nvcr.io/nvidia/k8s-device-plugin",
                         "nvcr.io/nvidia/gpu-feature-discovery",
                         "registry.k8s.io/kube-proxy",
                         "docker.io/calico/node",
                         "nvcr.io/nvidia/dcgm-exporter",
                         "registry.k8s.io/pause",
                         "nvcr.io/nvidia/tritonserver",
                         "nvcr.io/nvidia/nemo",
                         "docker.io/library/busybox"};
  for (int img = 0; img < 30; ++img) {
    if (img > 0) s += ',';
    const std::string repo = repos[img % std::size(repos)];
    const std::string tag = repo + ":v" + std::to_string(img / 10 + 1) + "." + std::to_string(img);
    char digest[65];
    for (int d = 0; d < 64; ++d) digest[d] = "0123456789abcdef"[(img * 7 + d * 13) % 16];
    digest[64] = 0;
    s += R"({"names":[")" + repo + "@sha256:" + digest + R"(",")" + tag + R"("],"sizeBytes":)" +
         std::to_string(3000000 + 104729 * (img + 1) * (img + 7)) + "}";
  }
  s += "]}}";
  return s;
}

std::string FilterBody(int nodes) {
  const std::string matrix = Matrix();
  std::string body =
      R"({"Pod":{"metadata":{"name":"train-0","namespace":"research","uid":"9a0b1c2d-0000-4000-8000-000000000000",)"
      R"("labels":{"app":"train"},"annotations":{"gangsched.io/gang":"job-0","gangsched.io/gang-size":"8"}},)"
      R"("spec":{"schedulerName":"default-scheduler","containers":[{"name":"main","image":"nvcr.io/nvidia/pytorch:24.10-py3",)"
      R"("resources":{"requests":{"cpu":"16","memory":"256Gi","nvidia.com/gpu":"8"},"limits":{"nvidia.com/gpu":"8"}}}],)"
      R"("tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]}},)"
      R"("Nodes":{"metadata":{},"items":[)";
  for (int i = 0; i < nodes; ++i) {
    if (i > 0) body += ',';
    body += NodeJson(i, matrix);
  }
  body += R"(]},"NodeNames":null})";
  return body;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The cold decode: every Node decoded.
bool DecodeCold(const std::string& body, std::size_t nodes) {
  auto args = gangsched::api::DecodeExtenderArgs(body);
  return args && args->full_nodes && args->node_names.size() == nodes;
}

// The warm decode: every Node known by its raw hash, as the server's inventory knows them after
// the first request (ExtenderService::KnownRawNode, minus its shared lock).
bool DecodeWarm(gangsched::api::Body body, std::size_t nodes,
                const std::unordered_map<std::uint64_t, std::string>& known) {
  auto args =
      gangsched::api::DecodeExtenderArgs(body, [&known](std::uint64_t hash, std::string& name) {
        auto it = known.find(hash);
        if (it == known.end()) return false;
        name = it->second;
        return true;
      });
  return args && args->full_nodes && args->node_names.size() == nodes && args->nodes.empty();
}

std::unordered_map<std::uint64_t, std::string> KnownNodes(const std::string& body) {
  std::unordered_map<std::uint64_t, std::string> known;
  auto args = gangsched::api::DecodeExtenderArgs(body);
  for (std::size_t i = 0; args && i < args->raw_hashes.size(); ++i) {
    known.emplace(args->raw_hashes[i], args->node_names[i]);
  }
  return known;
}

bool DecodeNlohmann(const std::string& body, std::size_t nodes) {
  const nlohmann::json dom = nlohmann::json::parse(body, nullptr, false);
  return !dom.is_discarded() && dom["Nodes"]["items"].size() == nodes;
}

template <typename Fn>
double MedianMBps(const std::string& body, int runs, Fn&& fn, bool& ok) {
  std::vector<double> mbps;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    ok = fn() && ok;
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    mbps.push_back(static_cast<double>(body.size()) / 1e6 / s);
  }
  return Median(mbps);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 11;
  std::vector<int> sizes = {5000, 10000};
  const char* one = nullptr;
  int repeat = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--nodes") == 0) sizes = {std::atoi(argv[i + 1])};
    if (std::strcmp(argv[i], "--one") == 0) one = argv[i + 1];
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
  }
  bool ok = true;
  if (one != nullptr) {
    const std::string body = FilterBody(sizes.front());
    const auto n = static_cast<std::size_t>(sizes.front());
    const auto known = KnownNodes(body);  // also warms the parser's buffers, as a server has them
    CALLGRIND_START_INSTRUMENTATION;
    for (int r = 0; r < repeat; ++r) {
      if (std::strcmp(one, "cold") == 0) ok = DecodeCold(body, n) && ok;
      if (std::strcmp(one, "warm") == 0) ok = DecodeWarm(body, n, known) && ok;
      if (std::strcmp(one, "nlohmann") == 0) ok = DecodeNlohmann(body, n) && ok;
    }
    CALLGRIND_STOP_INSTRUMENTATION;
    std::printf("%s %d nodes %zu bytes ok=%d\n", one, sizes.front(), body.size(), ok);
    return ok ? 0 : 1;
  }
  std::printf("full-Nodes filter body decode, medians of %d runs\n", runs);
  for (int nodes : sizes) {
    const std::string body = FilterBody(nodes);
    const auto n = static_cast<std::size_t>(nodes);
    const auto known = KnownNodes(body);
    const double cold = MedianMBps(
        body, runs, [&] { return DecodeCold(body, n); }, ok);
    const double warm = MedianMBps(
        body, runs, [&] { return DecodeWarm(body, n, known); }, ok);
    // The same without spare capacity after the body (a view): simdjson then parses a copy.
    const double copied = MedianMBps(
        body, runs, [&] { return DecodeWarm(std::string_view(body), n, known); }, ok);
    const double nl = MedianMBps(
        body, std::max(3, runs / 3), [&] { return DecodeNlohmann(body, n); }, ok);
    std::printf(
        "  %6d nodes, %5.1f MB (%.1f KB/node, spare capacity %zu B): simdjson cold %5.0f MB/s, "
        "warm %5.0f MB/s (body copied first: %5.0f MB/s) | nlohmann parse %4.0f MB/s | "
        "cold/nlohmann %.1fx, warm/nlohmann %.1fx\n",
        nodes, static_cast<double>(body.size()) / 1e6,
        static_cast<double>(body.size()) / 1e3 / nodes, body.capacity() - body.size(), cold, warm,
        copied, nl, cold / nl, warm / nl);
  }
  if (!ok) std::printf("ERROR: a decode failed or lost nodes\n");
  return ok ? 0 : 1;
}
