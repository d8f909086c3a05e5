// One-line fixtures for tests and benchmarks: MakeNode("n1").Gpus(8).Rack("r1"),
// MakeGang("ml", "bert").Role("worker", 4, 8).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "scheduler/gang.h"
#include "scheduler/model.h"

namespace gangsched::testing {

class NodeBuilder {
 public:
  explicit NodeBuilder(std::string name) {
    node_.name = std::move(name);
    node_.allocatable = {64'000, 512LL << 30, 0, 110};
  }
  NodeBuilder& Gpus(int n) {
    node_.allocatable.gpus = n;
    return *this;
  }
  NodeBuilder& Cpu(std::int64_t milli) {
    node_.allocatable.milli_cpu = milli;
    return *this;
  }
  NodeBuilder& Memory(std::int64_t bytes) {
    node_.allocatable.memory_bytes = bytes;
    return *this;
  }
  NodeBuilder& Rack(const std::string& rack) { return Label("gangsched.io/rack", rack); }
  NodeBuilder& Block(const std::string& block) { return Label("gangsched.io/block", block); }
  NodeBuilder& Zone(const std::string& zone) { return Label("topology.kubernetes.io/zone", zone); }
  NodeBuilder& Label(const std::string& k, const std::string& v) {
    node_.labels[k] = v;
    return *this;
  }
  NodeBuilder& Annotation(const std::string& k, const std::string& v) {
    node_.annotations[k] = v;
    return *this;
  }
  NodeBuilder& Taint(const std::string& key, const std::string& value) {
    node_.taints.push_back({key, value, scheduler::TaintEffect::kNoSchedule});
    return *this;
  }
  NodeBuilder& Cordoned() {
    node_.unschedulable = true;
    return *this;
  }
  operator scheduler::Node() const { return node_; }  // NOLINT(google-explicit-constructor)
  scheduler::Node Build() const { return node_; }

 private:
  scheduler::Node node_;
};

inline NodeBuilder MakeNode(std::string name) { return NodeBuilder(std::move(name)); }

class GangBuilder {
 public:
  GangBuilder(std::string ns, std::string name) {
    gang_.key = {std::move(ns), std::move(name)};
    gang_.kind = "test";
  }
  // A role of `replicas` pods of `gpus` GPUs each (and 1 CPU, 1 GiB unless set with Cpu()).
  GangBuilder& Role(const std::string& name, int replicas, int gpus,
                    std::int64_t milli_cpu = 1000) {
    scheduler::RoleSpec r;
    r.name = name;
    r.replicas = replicas;
    r.min_members = 1;
    r.per_pod = {milli_cpu, 1LL << 30, gpus, 1};
    gang_.roles.push_back(r);
    gang_.pattern = scheduler::InferPattern(gang_.roles);
    return *this;
  }
  GangBuilder& Selector(const std::string& k, const std::string& v) {
    gang_.roles.back().node_selector[k] = v;
    return *this;
  }
  GangBuilder& Tolerate(const std::string& key) {
    scheduler::Toleration t;
    t.key = key;
    t.op_exists = true;
    gang_.roles.back().tolerations.push_back(t);
    return *this;
  }
  // How many pods of the last role must be placed for the gang to run (default 1).
  GangBuilder& MinMembers(int n) {
    gang_.roles.back().min_members = n;
    return *this;
  }
  GangBuilder& Quorum(int q) {
    gang_.quorum = q;
    return *this;
  }
  operator scheduler::GangSpec() const { return gang_; }  // NOLINT(google-explicit-constructor)
  scheduler::GangSpec Build() const { return gang_; }

 private:
  scheduler::GangSpec gang_;
};

inline GangBuilder MakeGang(std::string ns, std::string name) {
  return GangBuilder(std::move(ns), std::move(name));
}

// blocks × racks × nodes × gpus, named b<i>, b<i>-r<j>, b<i>-r<j>-n<k>.
inline std::vector<scheduler::Node> MakeCluster(int blocks, int racks, int nodes, int gpus) {
  std::vector<scheduler::Node> out;
  for (int b = 0; b < blocks; ++b) {
    for (int r = 0; r < racks; ++r) {
      for (int n = 0; n < nodes; ++n) {
        const std::string block = "b" + std::to_string(b);
        const std::string rack = block + "-r" + std::to_string(r);
        out.push_back(MakeNode(rack + "-n" + std::to_string(n)).Gpus(gpus).Block(block).Rack(rack));
      }
    }
  }
  return out;
}

}  // namespace gangsched::testing
