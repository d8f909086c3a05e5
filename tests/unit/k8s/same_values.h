// Field-by-field equality checks of decoded Pods and Nodes, for the tests that decode one object
// through two paths (tests/unit/k8s/parity_test.cc, objects_test.cc).
#pragma once

#include <catch2/catch.hpp>
#include <cstddef>

#include "scheduler/model.h"

namespace gangsched::k8s {

inline void CheckSame(const scheduler::Pod& a, const scheduler::Pod& b) {
  CHECK(a.uid == b.uid);
  CHECK(a.namespace_name == b.namespace_name);
  CHECK(a.name == b.name);
  CHECK(a.labels == b.labels);
  CHECK(a.annotations == b.annotations);
  CHECK(a.requests == b.requests);
  CHECK(a.node_name == b.node_name);
  CHECK(a.phase == b.phase);
  CHECK(a.scheduler_name == b.scheduler_name);
  CHECK(a.tolerations == b.tolerations);
  CHECK(a.node_selector == b.node_selector);
  CHECK(a.priority == b.priority);
  CHECK(a.gpu_ids == b.gpu_ids);
  CHECK(a.nominated_node_name == b.nominated_node_name);
  CHECK(a.scheduling_group == b.scheduling_group);
  CHECK(a.marked_unschedulable == b.marked_unschedulable);
}

inline void CheckSame(const scheduler::Node& a, const scheduler::Node& b) {
  CHECK(a.name == b.name);
  CHECK(a.labels == b.labels);
  CHECK(a.annotations == b.annotations);
  CHECK(a.allocatable == b.allocatable);
  CHECK(a.unschedulable == b.unschedulable);
  REQUIRE(a.taints.size() == b.taints.size());
  for (std::size_t i = 0; i < a.taints.size(); ++i) {
    CHECK(a.taints[i].key == b.taints[i].key);
    CHECK(a.taints[i].value == b.taints[i].value);
    CHECK(a.taints[i].effect == b.taints[i].effect);
  }
}

}  // namespace gangsched::k8s
