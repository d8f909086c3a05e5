#include "config/config.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

namespace gangsched::config {
namespace {

TEST_CASE("the defaults are the documented ones", "[config]") {
  const Config c;
  CHECK(c.listen == "127.0.0.1:8888");
  CHECK(c.bind_listen == "127.0.0.1:8889");
  CHECK(c.ops_listen == "0.0.0.0:9464");
  CHECK(c.max_body_bytes == 256LL * 1024 * 1024);
  CHECK(c.holds.ttl == 60'000);
  CHECK(c.holds.bind_timeout == 600'000);
  CHECK(c.threads.filter == 8);
  CHECK(c.threads.bind == 1100);
  CHECK(c.topology_levels.levels.size() == topology::LevelKeys::Defaults().levels.size());
  CHECK(Validate(c).has_value());
}

TEST_CASE("durations need a unit and add up", "[config]") {
  CHECK(ParseDuration("60s").value() == 60'000);
  CHECK(ParseDuration("500ms").value() == 500);
  CHECK(ParseDuration("2m").value() == 120'000);
  CHECK(ParseDuration("1m30s").value() == 90'000);
  CHECK(ParseDuration("1h").value() == 3'600'000);
  for (const char* bad : {"", "60", "s", "-1s", "1x", "1.5s", "10 s"}) {
    INFO(bad);
    CHECK_FALSE(ParseDuration(bad).has_value());
  }
  CHECK(FormatDuration(90'000) == "90s");
  CHECK(FormatDuration(120'000) == "2m");
  CHECK(FormatDuration(1500) == "1500ms");
}

TEST_CASE("addresses are host:port", "[config]") {
  CHECK(ParseAddress("127.0.0.1:8888")->port == 8888);
  CHECK(ParseAddress("[::1]:0")->host == "::1");
  CHECK(ParseAddress("0.0.0.0:0")->port == 0);
  for (const char* bad : {"8888", ":8888", "host:", "host:70000", "::1:80", "h:8x"}) {
    INFO(bad);
    CHECK_FALSE(ParseAddress(bad).has_value());
  }
}

TEST_CASE("a full file is read into every field", "[config]") {
  const char* text = R"(listen: 127.0.0.1:7000
bind_listen: ""
ops_listen: 0.0.0.0:7002
cluster: /tmp/cluster.yaml
log_level: debug
max_body_bytes: 1048576
read_timeout: 2s
max_connections: 500
idle_close_above: 50
tls: {cert_file: /c.pem, key_file: /k.pem}
barrier:
  hold_ttl: 30s
  bind_timeout: 2m
  backoff_initial: 500ms
  backoff_max: 1m
  forget_after: 90s
  max_held_binds: 64
topology:
  levels:
    - {name: block, keys: [my/block]}
    - {name: rack, keys: [my/rack, other/rack]}
planner: {candidates_per_level: 4, drain_after: 90s, span_wait: 20m}
metrics: {namespace_labels: 7}
threads: {filter: 2, bind: 64, ops: 1}
)";
  auto c = LoadConfig(text, "g.yaml");
  REQUIRE(c.has_value());
  CHECK(c->listen == "127.0.0.1:7000");
  CHECK(c->bind_listen.empty());
  CHECK(c->cluster_file == "/tmp/cluster.yaml");
  CHECK(c->log_level == "debug");
  CHECK(c->max_body_bytes == 1 << 20);
  CHECK(c->read_timeout == 2000);
  CHECK(c->max_connections == 500);
  CHECK(c->idle_close_above == 50);
  CHECK(c->tls.Enabled());
  CHECK(c->holds.ttl == 30'000);
  CHECK(c->holds.bind_timeout == 120'000);
  CHECK(c->holds.backoff_initial == 500);
  CHECK(c->forget_after == 90'000);
  CHECK(EngineOptionsFrom(*c).forget_after == 90'000);
  REQUIRE(c->topology_levels.levels.size() == 2);
  CHECK(c->topology_levels.levels[1].keys.size() == 2);
  CHECK(c->candidates_per_level == 4);
  CHECK(c->drain_after == 90'000);
  CHECK(c->span_wait == 1'200'000);
  CHECK(EngineOptionsFrom(*c).span_wait == 1'200'000);
  CHECK(c->metrics_namespace_labels == 7);
  CHECK(c->max_held_binds == 64);
  CHECK(c->threads.bind == 64);
}

TEST_CASE("a bad file is refused with FILE:LINE:COL and the reason", "[config]") {
  struct Case {
    const char* text;
    const char* where;
    const char* reason;
  };
  auto [text, where, reason] = GENERATE(
      Case{"listen: 127.0.0.1:1\nlisen: x\n", "g.yaml:2:1:", "unknown key \"lisen\""},
      Case{"barrier:\n  hold_ttl: 60\n", "g.yaml:2:13:", "barrier.hold_ttl"},
      Case{"threads:\n  filter: many\n", "g.yaml:2:11:", "threads.filter must be an integer"},
      Case{"threads:\n  bogus: 1\n", "g.yaml:2:3:", "unknown key \"bogus\" in threads"},
      Case{"listen: [a, b]\n", "g.yaml:1:9:", "listen must be a string"},
      Case{"listen: nohost\n", "g.yaml:1:9:", "must be HOST:PORT"},
      Case{"log_level: loud\n", "g.yaml:1:12:", "log_level \"loud\" is unknown"},
      Case{"tls: {cert_file: a.pem\n", "g.yaml:", ""},
      Case{"topology:\n  levels:\n    - {name: rack}\n", "g.yaml:3:7:", "needs a name"},
      Case{"- a\n- b\n", "g.yaml:1:1:", "must be a map"});
  auto c = LoadConfig(text, "g.yaml");
  REQUIRE_FALSE(c.has_value());
  INFO(c.error());
  CHECK(c.error().rfind(where, 0) == 0);
  CHECK(c.error().find(reason) != std::string::npos);
}

TEST_CASE("cross-field rules are checked", "[config]") {
  CHECK_FALSE(LoadConfig("barrier: {bind_timeout: 3s, bind_margin: 5s}\n", "g").has_value());
  CHECK_FALSE(LoadConfig("tls: {cert_file: a.pem}\n", "g").has_value());
  CHECK_FALSE(LoadConfig("threads: {bind: 10}\n", "g").has_value());  // 1024 held binds
  // Idle connections are closed before the cap; a held bind keeps its connection open.
  CHECK_FALSE(LoadConfig("max_connections: 100\nidle_close_above: 200\n", "g").has_value());
  CHECK_FALSE(LoadConfig("max_connections: 1024\n", "g").has_value());
  CHECK(LoadConfig("max_connections: 1024\nbind_listen: \"\"\n", "g").has_value());
  CHECK(LoadConfig("", "g").has_value());  // all defaults
}

TEST_CASE("flags override the file", "[config]") {
  const std::string path = "config_test_flags.yaml";
  {
    std::ofstream out(path);
    out << "listen: 127.0.0.1:7000\nbarrier: {hold_ttl: 30s}\nlog_level: warn\n";
  }
  auto c =
      ParseServeFlags({"--listen=127.0.0.1:7100", "--config", path, "--hold-ttl", "5s",
                       "--max-body-bytes", "1048576", "--ops-listen", "", "--drain-after", "10m"});
  REQUIRE(c.has_value());
  CHECK(c->listen == "127.0.0.1:7100");  // the flag wins although it came before --config
  CHECK(c->holds.ttl == 5000);
  CHECK(c->log_level == "warn");  // from the file
  CHECK(c->max_body_bytes == 1 << 20);
  CHECK(c->ops_listen.empty());
  CHECK(c->drain_after == 600'000);
  std::remove(path.c_str());

  CHECK_FALSE(ParseServeFlags({"--hold-ttl", "5"}).has_value());
  CHECK_FALSE(ParseServeFlags({"--listen"}).has_value());
  CHECK_FALSE(ParseServeFlags({"--nope", "1"}).has_value());
  CHECK_FALSE(ParseServeFlags({"stray"}).has_value());
  auto missing = ParseServeFlags({"--config", "/nonexistent/g.yaml"});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().find("/nonexistent/g.yaml") != std::string::npos);
}

TEST_CASE("the shipped example configuration holds exactly the defaults", "[config]") {
  auto shipped = LoadConfigFile(std::string(GANGSCHED_SOURCE_DIR) + "/manifests/gangsched.yaml");
  REQUIRE(shipped.has_value());
  const Config d;
  CHECK(shipped->listen == d.listen);
  CHECK(shipped->bind_listen == d.bind_listen);
  CHECK(shipped->ops_listen == d.ops_listen);
  CHECK(shipped->max_body_bytes == d.max_body_bytes);
  CHECK(shipped->read_timeout == d.read_timeout);
  CHECK(shipped->keep_alive_timeout == d.keep_alive_timeout);
  CHECK(shipped->keep_alive_max_count == d.keep_alive_max_count);
  CHECK(shipped->max_connections == d.max_connections);
  CHECK(shipped->idle_close_above == d.idle_close_above);
  CHECK(shipped->log_level == d.log_level);
  CHECK(shipped->holds.ttl == d.holds.ttl);
  CHECK(shipped->holds.bind_timeout == d.holds.bind_timeout);
  CHECK(shipped->holds.bind_margin == d.holds.bind_margin);
  CHECK(shipped->holds.backoff_initial == d.holds.backoff_initial);
  CHECK(shipped->holds.backoff_max == d.holds.backoff_max);
  CHECK(shipped->forget_after == d.forget_after);
  CHECK(shipped->max_held_binds == d.max_held_binds);
  CHECK(shipped->candidates_per_level == d.candidates_per_level);
  CHECK(shipped->drain_after == d.drain_after);
  CHECK(shipped->metrics_namespace_labels == d.metrics_namespace_labels);
  CHECK(shipped->threads.filter == d.threads.filter);
  CHECK(shipped->threads.bind == d.threads.bind);
  CHECK(shipped->threads.ops == d.threads.ops);
  REQUIRE(shipped->topology_levels.levels.size() == d.topology_levels.levels.size());
  for (std::size_t i = 0; i < d.topology_levels.levels.size(); ++i) {
    CHECK(shipped->topology_levels.levels[i].name == d.topology_levels.levels[i].name);
    CHECK(shipped->topology_levels.levels[i].keys == d.topology_levels.levels[i].keys);
  }
}

TEST_CASE("serve flags: --kubeconfig selects the API state source and excludes --cluster") {
  auto c = ParseServeFlags({"--kubeconfig", "/etc/gangsched/kubeconfig"});
  REQUIRE(c);
  CHECK(c->kubeconfig == "/etc/gangsched/kubeconfig");
  CHECK(c->cluster_file.empty());
  auto both = ParseServeFlags({"--kubeconfig=kc", "--cluster=cluster.json"});
  REQUIRE_FALSE(both);
  CHECK(both.error().find("cluster and kubeconfig are both set") != std::string::npos);
  auto file = LoadConfig("kubeconfig: /var/kc\n", "gangsched.yaml");
  REQUIRE(file);
  CHECK(file->kubeconfig == "/var/kc");
}

}  // namespace
}  // namespace gangsched::config
