# The README's commands. `make run` and `make test` do all set-up on a fresh Debian machine.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# Compiler cache outside the clone so a second CI run (fresh clone) rebuilds in seconds.
export CCACHE_DIR ?= $(HOME)/.cache/gangsched/ccache
CMAKE_FLAGS ?=

.PHONY: all deps configure build test run demo plan bench bench-server bench-placement bench-release format format-check \
        clean controlplane e2e bench-e2e tsan soak image image-test chart-tools

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=$(shell command -v ccache) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build chart-tools
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# helm and kustomize for the chart tests (ctest `chart`, tests/e2e/test_chart.py), built from the Go
# module proxy at the versions pinned in tests/chart/tools/go.mod and cached under
# $(HOME)/.cache/gangsched/chart-tools (docs/install.md "Chart tools").
chart-tools:
	scripts/build-chart-tools.sh

# The OCI image (docs/install.md "The image"): the binary `make build` makes plus exactly the Debian 12
# libraries it links, packaged with Debian's umoci, no registry; writes $(BUILD_DIR)/gangsched-image.oci.tar.
image: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target gangsched
	BUILD_DIR=$(BUILD_DIR) scripts/image/build.sh

# That image under runc (Debian's): `gangsched version`, `serve` answering /healthz and /readyz as
# uid 65532 with a read-only root; then a second build must give the same bytes. Needs root.
image-test: image
	BUILD_DIR=$(BUILD_DIR) tests/image/run_image.sh
	BUILD_DIR=$(BUILD_DIR) tests/image/reproducible.sh

# The engine behind the kube-scheduler model with every fault on, over random seeds (docs/simulation.md):
# prints each failing seed, failures by invariant and a minimized trace of the first failure of each.
# Not part of `make test`, which runs a short run of it. Exits non-zero while anything fails.
SOAK_EVENTS ?= 10000000
soak: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kube_soak
	$(BUILD_DIR)/sim/kube_soak --events $(SOAK_EVENTS)

# The bundled example: `gangsched serve` on manifests/examples/cluster.yaml (standalone) plus the TFJob
# examples, driven through /filter, /prioritize and /bind exactly as kube-scheduler would
# (scripts/demo-drive.py). The server keeps serving on the DESIGN.md §2 default ports until Ctrl-C (when
# not at a terminal it stays in the background and its PID is printed). `make demo` runs the same drive
# on free ports and stops the server; it fails unless every job was placed whole.
EXAMPLE_JOBS := manifests/examples/tfjob-v1alpha1-example-job.yaml \
  manifests/examples/tfjob-v1alpha2-mycnnjob.yaml manifests/examples/tfjob-v1-example-job.yaml \
  manifests/examples/tfjob-v1-mycnnjob.yaml
DEMO_DRIVE = scripts/demo-drive.py --gangsched $(BUILD_DIR)/gangsched --workdir $(BUILD_DIR)/demo \
  --cluster manifests/examples/cluster.yaml $(EXAMPLE_JOBS)

run: build
	$(DEMO_DRIVE) --listen 127.0.0.1:8888 --bind-listen 127.0.0.1:8889 --ops-listen 0.0.0.0:9464 \
	  --keep-serving

demo: build
	$(DEMO_DRIVE) --check

# What-if planning of the same examples (no server).
plan: build
	$(BUILD_DIR)/gangsched plan --cluster manifests/examples/cluster.yaml $(EXAMPLE_JOBS)

bench:
	$(MAKE) BUILD_DIR=build-release BUILD_TYPE=Release build
	build-release/benchmarks/planner_bench

# Extender server figures (issue 3, docs/benchmarks.md): verbs on 5,000 nodes inside the server and over
# loopback, full-Nodes decode (simdjson vs nlohmann), the 1,024-member barrier, serve's RSS with 10,000
# nodes + 100,000 pods (generated into build-release/). -Wno-error=restrict: GCC 12 at -O3 reports a
# false -Wrestrict inside std::string (GCC bug 105329) in sim/cluster_builder.cc.
bench-server:
	$(MAKE) BUILD_DIR=build-release BUILD_TYPE=Release \
	  CMAKE_FLAGS=-DCMAKE_CXX_FLAGS=-Wno-error=restrict configure
	cmake --build build-release -j $(JOBS) --target gangsched server_bench
	uptime
	build-release/benchmarks/server_bench --workdir build-release --gangsched build-release/gangsched

# Placement report (issue 5): every policy on three Philly traces x two cluster shapes x two pod
# shapes, plus gangsched vs CBC on 60 small instances -> docs/placement.md and docs/placement/*.png.
# Debian's python3 (it has python3-matplotlib from install-deps; a pyenv python may not).
SHARED_DIR ?= ../shared
# docs/placement.md (benchmarks/placement_report.py): every policy of `simulate --policy all` on the
# 1,024- to 8,192-GPU clusters and the full Alibaba list x the three gavel traces x both pod shapes
# at PLACEMENT_LOAD offered load, 2 simulations at a time, plus gangsched against CBC; about 10
# minutes on 2 cores once the two binaries are built.
PLACEMENT_LOAD ?= 0.75
bench-placement: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target gangsched placement_gap
	/usr/bin/python3 benchmarks/placement_report.py --gangsched $(BUILD_DIR)/gangsched \
	  --gap $(BUILD_DIR)/benchmarks/placement_gap --shared $(SHARED_DIR) --out docs/placement.md \
	  --workdir $(BUILD_DIR)/placement --load $(PLACEMENT_LOAD) --procs 2

# The e2e control plane (etcd, kube-apiserver, kube-scheduler, kubectl) built from the Go module proxy at the
# versions pinned in tests/e2e/controlplane/*/go.mod; cached under $(HOME)/.cache/gangsched/controlplane
# (GANGSCHED_CACHE overrides), so only the first run builds. docs/e2e.md.
controlplane:
	scripts/build-controlplane.sh

# The e2e suite against that real control plane (tests/e2e/run.sh; E2E_TESTS=name filters); the tests
# that run gangsched itself use $(BUILD_DIR)/gangsched. The image test runs first (about 20 s with the
# binary built), so the suite's "N passed, M failed" stays the last line.
e2e: build controlplane chart-tools image-test
	GANGSCHED_BIN=$(abspath $(BUILD_DIR))/gangsched tests/e2e/run.sh $(E2E_TESTS)

# End-to-end scheduling throughput (issue 4, docs/benchmarks.md): pods bound per second through the real
# kube-scheduler + `gangsched serve --kubeconfig` vs the same kube-scheduler without the extender, on the
# e2e control plane with 500 fake 8-GPU nodes, gangs from the Philly-derived traces. Not in CI (about
# 15 minutes); BENCH_E2E_ARGS passes options (--reps, --pods, --phases, --json ...).
BENCH_E2E_ARGS ?=
bench-e2e: build
	uptime
	GANGSCHED_CP_BIN="$$(scripts/build-controlplane.sh | tail -n 1)" && export GANGSCHED_CP_BIN && \
	  python3 benchmarks/e2e_throughput.py --gangsched $(BUILD_DIR)/gangsched \
	  --trace-dir $(SHARED_DIR)/data/gavel/msr_seed0 $(BENCH_E2E_ARGS)

# The threaded parts (the HTTP server with its held binds and timer, the API-server state source with
# its watches, client pool and notifier) under ThreadSanitizer: the integration tests in build-tsan/.
# tests/tsan.supp names the one suppression (Debian's uninstrumented httplib) and why.
tsan: deps
	cmake --preset tsan -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build build-tsan -j $(JOBS) --target server_integration_test kube_source_integration_test \
	  connections_integration_test
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  build-tsan/tests/integration/server_integration_test
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  build-tsan/tests/integration/connections_integration_test
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  build-tsan/tests/integration/kube_source_integration_test

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

format-check: deps
	clang-format --dry-run -Werror $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
