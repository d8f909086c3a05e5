// gangsched's own configuration (DESIGN.md §1 config/): the schema with its documented defaults
// (docs/configuration.md), loading from a YAML file with strict validation (unknown keys and wrong
// types are errors naming FILE:LINE:COL), and command-line flags that override the file. Owns no
// behaviour of the extender: it produces values the server and the engine take.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/gang_scheduler.h"
#include "scheduler/holds.h"
#include "topology/cluster_topology.h"

namespace gangsched::config {

using Millis = scheduler::Millis;

struct TlsConfig {
  std::string cert_file;  // PEM certificate; with key_file set, the listeners serve HTTPS
  std::string key_file;
  bool Enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ThreadConfig {
  int filter = 8;   // main listener: filter/prioritize/preempt (and bind when sent there)
  int bind = 1100;  // bind listener: one thread per held bind (DESIGN.md §3.6)
  int ops = 4;      // ops listener: metrics, health, state
};

struct Config {
  std::string listen = "127.0.0.1:8888";       // verbs + GET endpoints
  std::string bind_listen = "127.0.0.1:8889";  // only /bind; "" disables the listener
  std::string ops_listen = "0.0.0.0:9464";     // only GET endpoints; "" disables the listener
  TlsConfig tls;
  std::string cluster_file;  // standalone inventory (NodeList [+ PodList, job manifests])
  // API-server state source (issue 4): a kubeconfig; "" with cluster_file "" and
  // KUBERNETES_SERVICE_HOST set means in-cluster.
  std::string kubeconfig;
  std::string log_level = "info";
  std::int64_t max_body_bytes = 256LL << 20;  // larger requests are answered 413
  // A request's line, headers and body must arrive within this, as a whole; also each write.
  Millis read_timeout = 10'000;
  Millis keep_alive_timeout = 30'000;
  int keep_alive_max_count = 100'000;
  // Per listener: connections open at once (more are answered 503), and the number above which
  // idle kept-alive connections are closed (issue 15: idle clients held every thread).
  int max_connections = 4096;
  int idle_close_above = 256;
  scheduler::HoldPolicy holds;  // ttl (barrier deadline), bind_timeout, margin, backoff
  int max_held_binds = 1024;
  topology::LevelKeys topology_levels = topology::LevelKeys::Defaults();
  int candidates_per_level = 16;
  // A gang that has not fit for this long drains its best domain (DESIGN.md §3.9); 0: never.
  Millis drain_after = 300'000;
  // At most this many drain reservations at once, cluster-wide (0: one per domain, no cap).
  int max_drains = 1;
  // A gang whose best plan now is wider than the narrowest span the cluster could give it waits up
  // to this long for that span (DESIGN.md §6 "Span wait"); 0: place as soon as anything fits.
  Millis span_wait = 1'800'000;
  // A gang none of whose pods has been seen for this long, that holds nothing and has nothing
  // bound, is forgotten (issue 15: memory stays bounded); 0: never.
  Millis forget_after = 600'000;
  // Namespaces gangsched_gang_queueing_delay_seconds labels by name (the first seen); later ones
  // are labelled _other, so user-created namespaces cannot grow the series without bound.
  int metrics_namespace_labels = 50;
  ThreadConfig threads;
};

// "60s", "500ms", "2m", "1h", "1m30s"; a bare integer is rejected (the unit must be explicit).
tl::expected<Millis, std::string> ParseDuration(std::string_view text);
// Renders a duration the way ParseDuration reads it ("60s", "1500ms", "5m").
std::string FormatDuration(Millis ms);

// host:port with a port 0..65535 ("[::1]:8888" for IPv6). Port 0 picks a free port.
struct Address {
  std::string host;
  int port = 0;
};
tl::expected<Address, std::string> ParseAddress(std::string_view text);

// Loads a YAML configuration. Keys absent keep their defaults; unknown keys, wrong types and
// invalid values are errors "FILE:LINE:COL: reason".
tl::expected<Config, std::string> LoadConfig(std::string_view text, const std::string& file);
tl::expected<Config, std::string> LoadConfigFile(const std::string& path);

// Cross-field checks (also run by LoadConfig and ParseServeFlags).
tl::expected<void, std::string> Validate(const Config& config);

// `gangsched serve` arguments: --config FILE first (anywhere on the line), then every other flag
// overrides the file's value. Flags take "--flag VALUE" or "--flag=VALUE".
//   --config --listen --bind-listen --ops-listen --cluster --kubeconfig --max-body-bytes --hold-ttl
//   --drain-after --log-level
tl::expected<Config, std::string> ParseServeFlags(const std::vector<std::string>& args);
const char* ServeUsage();

// The engine options this configuration asks for (standalone: pods are known only from requests;
// the API state source sets require_quorum_pods itself).
scheduler::EngineOptions EngineOptionsFrom(const Config& config);

}  // namespace gangsched::config
