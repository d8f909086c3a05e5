#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace gangsched::config {
namespace {

using Result = tl::expected<void, std::string>;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

constexpr const char* kLogLevelHelp = "use trace, debug, info, warn, error or off";
bool IsLogLevel(std::string_view s) {
  return s == "trace" || s == "debug" || s == "info" || s == "warn" || s == "error" || s == "off";
}

// Position-carrying errors: "FILE:LINE:COL: message".
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  std::string At(const YAML::Node& node, const std::string& message) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return file_ + ": " + message;
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
           ": " + message;
  }

  tl::expected<std::string, std::string> String(const YAML::Node& node,
                                                const std::string& key) const {
    if (node.IsNull()) return std::string();
    if (!node.IsScalar()) return tl::unexpected(At(node, key + " must be a string"));
    return node.Scalar();
  }

  tl::expected<std::int64_t, std::string> Integer(const YAML::Node& node, const std::string& key,
                                                  std::int64_t min, std::int64_t max) const {
    const std::string range =
        " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (!node.IsScalar()) return tl::unexpected(At(node, key + range));
    const std::string& text = node.Scalar();
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < min ||
        value > max) {
      return tl::unexpected(At(node, key + range + ", not " + Quote(text)));
    }
    return value;
  }

  tl::expected<Millis, std::string> Duration(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) {
      return tl::unexpected(At(node, key + " must be a duration such as \"60s\" or \"500ms\""));
    }
    auto d = ParseDuration(node.Scalar());
    if (!d) return tl::unexpected(At(node, key + ": " + d.error()));
    return *d;
  }

  // Visits every key of a map; a key not in `fields` is an error listing the known keys.
  Result Map(const YAML::Node& node, const std::string& where,
             const std::map<std::string, std::function<Result(const YAML::Node&)>>& fields) const {
    if (node.IsNull()) return {};
    if (!node.IsMap()) return tl::unexpected(At(node, where + " must be a map"));
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      auto field = fields.find(key);
      if (field == fields.end()) {
        std::string known;
        for (const auto& [name, parse] : fields) known += (known.empty() ? "" : ", ") + name;
        return tl::unexpected(At(kv.first, "unknown key " + Quote(key) +
                                               (where.empty() ? "" : " in " + where) +
                                               "; the keys here are: " + known));
      }
      if (auto ok = field->second(kv.second); !ok) return ok;
    }
    return {};
  }

 private:
  std::string file_;
};

Result ParseLevels(const Reader& r, const YAML::Node& node, topology::LevelKeys& out) {
  if (!node.IsSequence()) {
    return tl::unexpected(
        r.At(node, "topology.levels must be a list of {name, keys}, broad to narrow"));
  }
  topology::LevelKeys levels;
  for (const YAML::Node& item : node) {
    topology::Level level;
    auto ok = r.Map(item, "a topology level",
                    {{"name",
                      [&](const YAML::Node& v) -> Result {
                        auto s = r.String(v, "name");
                        if (!s) return tl::unexpected(s.error());
                        level.name = *s;
                        return {};
                      }},
                     {"keys", [&](const YAML::Node& v) -> Result {
                        if (!v.IsSequence()) {
                          return tl::unexpected(r.At(v, "keys must be a list of label keys"));
                        }
                        for (const YAML::Node& k : v) {
                          auto s = r.String(k, "a label key");
                          if (!s) return tl::unexpected(s.error());
                          if (s->empty()) return tl::unexpected(r.At(k, "a label key is empty"));
                          level.keys.push_back(*s);
                        }
                        return {};
                      }}});
    if (!ok) return ok;
    if (level.name.empty() || level.keys.empty()) {
      return tl::unexpected(r.At(item, "a topology level needs a name and at least one key"));
    }
    levels.levels.push_back(std::move(level));
  }
  out = std::move(levels);
  return {};
}

Result ParseRoot(const Reader& r, const YAML::Node& root, Config& c) {
  auto str = [&](std::string& target, const char* key) {
    return [&r, &target, key](const YAML::Node& v) -> Result {
      auto s = r.String(v, key);
      if (!s) return tl::unexpected(s.error());
      target = *s;
      return {};
    };
  };
  auto address = [&](std::string& target, const char* key, bool may_disable) {
    return [&r, &target, key, may_disable](const YAML::Node& v) -> Result {
      auto s = r.String(v, key);
      if (!s) return tl::unexpected(s.error());
      if (!(may_disable && s->empty())) {
        if (auto a = ParseAddress(*s); !a) return tl::unexpected(r.At(v, key + (": " + a.error())));
      }
      target = *s;
      return {};
    };
  };
  auto duration = [&](Millis& target, const char* key) {
    return [&r, &target, key](const YAML::Node& v) -> Result {
      auto d = r.Duration(v, key);
      if (!d) return tl::unexpected(d.error());
      target = *d;
      return {};
    };
  };
  auto integer = [&](auto& target, const char* key, std::int64_t min, std::int64_t max) {
    return [&r, &target, key, min, max](const YAML::Node& v) -> Result {
      auto i = r.Integer(v, key, min, max);
      if (!i) return tl::unexpected(i.error());
      target = static_cast<std::remove_reference_t<decltype(target)>>(*i);
      return {};
    };
  };
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  return r.Map(
      root, "",
      {{"listen", address(c.listen, "listen", false)},
       {"bind_listen", address(c.bind_listen, "bind_listen", true)},
       {"ops_listen", address(c.ops_listen, "ops_listen", true)},
       {"cluster", str(c.cluster_file, "cluster")},
       {"kubeconfig", str(c.kubeconfig, "kubeconfig")},
       {"log_level",
        [&](const YAML::Node& v) -> Result {
          auto s = r.String(v, "log_level");
          if (!s) return tl::unexpected(s.error());
          if (!IsLogLevel(*s)) {
            return tl::unexpected(
                r.At(v, "log_level " + Quote(*s) + " is unknown; " + kLogLevelHelp));
          }
          c.log_level = *s;
          return {};
        }},
       {"max_body_bytes", integer(c.max_body_bytes, "max_body_bytes", 1024,
                                  std::numeric_limits<std::int64_t>::max())},
       {"read_timeout", duration(c.read_timeout, "read_timeout")},
       {"keep_alive_timeout", duration(c.keep_alive_timeout, "keep_alive_timeout")},
       {"keep_alive_max_count",
        integer(c.keep_alive_max_count, "keep_alive_max_count", 1, kIntMax)},
       {"max_connections", integer(c.max_connections, "max_connections", 1, 1'000'000)},
       {"idle_close_above", integer(c.idle_close_above, "idle_close_above", 0, 1'000'000)},
       {"tls",
        [&](const YAML::Node& v) -> Result {
          return r.Map(v, "tls",
                       {{"cert_file", str(c.tls.cert_file, "tls.cert_file")},
                        {"key_file", str(c.tls.key_file, "tls.key_file")}});
        }},
       {"barrier",
        [&](const YAML::Node& v) -> Result {
          return r.Map(
              v, "barrier",
              {{"hold_ttl", duration(c.holds.ttl, "barrier.hold_ttl")},
               {"bind_timeout", duration(c.holds.bind_timeout, "barrier.bind_timeout")},
               {"bind_margin", duration(c.holds.bind_margin, "barrier.bind_margin")},
               {"backoff_initial", duration(c.holds.backoff_initial, "barrier.backoff_initial")},
               {"backoff_max", duration(c.holds.backoff_max, "barrier.backoff_max")},
               {"forget_after", duration(c.forget_after, "barrier.forget_after")},
               {"max_held_binds",
                integer(c.max_held_binds, "barrier.max_held_binds", 1, kIntMax)}});
        }},
       {"topology",
        [&](const YAML::Node& v) -> Result {
          return r.Map(v, "topology", {{"levels", [&](const YAML::Node& l) {
                                          return ParseLevels(r, l, c.topology_levels);
                                        }}});
        }},
       {"planner",
        [&](const YAML::Node& v) -> Result {
          return r.Map(
              v, "planner",
              {{"candidates_per_level",
                integer(c.candidates_per_level, "planner.candidates_per_level", 1, 100'000)},
               {"drain_after", duration(c.drain_after, "planner.drain_after")},
               {"max_drains", integer(c.max_drains, "planner.max_drains", 0, 100'000)},
               {"span_wait", duration(c.span_wait, "planner.span_wait")}});
        }},
       {"metrics",
        [&](const YAML::Node& v) -> Result {
          return r.Map(v, "metrics",
                       {{"namespace_labels", integer(c.metrics_namespace_labels,
                                                     "metrics.namespace_labels", 0, 10'000)}});
        }},
       {"threads", [&](const YAML::Node& v) -> Result {
          return r.Map(v, "threads",
                       {{"filter", integer(c.threads.filter, "threads.filter", 1, 100'000)},
                        {"bind", integer(c.threads.bind, "threads.bind", 1, 100'000)},
                        {"ops", integer(c.threads.ops, "threads.ops", 1, 100'000)}});
        }}});
}

}  // namespace

tl::expected<Millis, std::string> ParseDuration(std::string_view text) {
  const std::string bad = "duration " + Quote(text) +
                          " is not valid; write a number with a unit: \"500ms\", \"60s\", "
                          "\"2m\", \"1h\" or combinations such as \"1m30s\"";
  if (text.empty()) return tl::unexpected(bad);
  Millis total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || ptr == rest.data() || n < 0) return tl::unexpected(bad);
    rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
    std::int64_t unit = 0;
    if (rest.starts_with("ms")) {
      unit = 1;
      rest.remove_prefix(2);
    } else if (rest.starts_with("s")) {
      unit = 1000;
      rest.remove_prefix(1);
    } else if (rest.starts_with("m")) {
      unit = 60'000;
      rest.remove_prefix(1);
    } else if (rest.starts_with("h")) {
      unit = 3'600'000;
      rest.remove_prefix(1);
    } else {
      return tl::unexpected(bad);
    }
    if (n > (std::numeric_limits<Millis>::max() - total) / unit) {
      return tl::unexpected("duration " + Quote(text) + " is too large");
    }
    total += n * unit;
  }
  return total;
}

std::string FormatDuration(Millis ms) {
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

tl::expected<Address, std::string> ParseAddress(std::string_view text) {
  const std::string bad =
      "address " + Quote(text) + " must be HOST:PORT, e.g. \"127.0.0.1:8888\" or \"[::1]:8888\"";
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return tl::unexpected(bad);
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return tl::unexpected(bad);
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return tl::unexpected(bad);
  }
  int p = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535) {
    return tl::unexpected(bad);
  }
  return Address{std::string(host), p};
}

tl::expected<void, std::string> Validate(const Config& c) {
  if (c.holds.ttl <= 0) return tl::unexpected(std::string("barrier.hold_ttl must be > 0"));
  if (c.holds.bind_timeout <= c.holds.bind_margin) {
    return tl::unexpected("barrier.bind_timeout (" + FormatDuration(c.holds.bind_timeout) +
                          ") must be larger than barrier.bind_margin (" +
                          FormatDuration(c.holds.bind_margin) +
                          "): hold deadlines are clamped below the bind timeout");
  }
  if (c.holds.backoff_initial <= 0 || c.holds.backoff_max < c.holds.backoff_initial) {
    return tl::unexpected(
        std::string("barrier.backoff_initial must be > 0 and no larger than barrier.backoff_max"));
  }
  if (c.read_timeout <= 0) return tl::unexpected(std::string("read_timeout must be > 0"));
  if (!c.cluster_file.empty() && !c.kubeconfig.empty()) {
    return tl::unexpected(std::string(
        "cluster and kubeconfig are both set; choose one state source (--cluster FILE for "
        "standalone mode, --kubeconfig FILE for a live cluster)"));
  }
  if (c.tls.Enabled() && (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
    return tl::unexpected(std::string("tls needs both cert_file and key_file"));
  }
  if (c.idle_close_above > c.max_connections) {
    return tl::unexpected("idle_close_above (" + std::to_string(c.idle_close_above) +
                          ") exceeds max_connections (" + std::to_string(c.max_connections) +
                          "): idle connections must be closed before the cap is reached");
  }
  if (c.max_held_binds >= c.max_connections && !c.bind_listen.empty()) {
    return tl::unexpected("barrier.max_held_binds (" + std::to_string(c.max_held_binds) +
                          ") must be below max_connections (" + std::to_string(c.max_connections) +
                          "): every held bind keeps one connection to the bind listener open");
  }
  if (c.max_held_binds > c.threads.bind && !c.bind_listen.empty()) {
    return tl::unexpected("barrier.max_held_binds (" + std::to_string(c.max_held_binds) +
                          ") exceeds threads.bind (" + std::to_string(c.threads.bind) +
                          "): every held bind occupies one thread of the bind listener");
  }
  return {};
}

tl::expected<Config, std::string> LoadConfig(std::string_view text, const std::string& file) {
  Config config;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return tl::unexpected(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsNull() && !root.IsMap()) {
    return tl::unexpected(Reader(file).At(root, "the configuration must be a map of keys"));
  }
  try {
    if (auto ok = ParseRoot(Reader(file), root, config); !ok) return tl::unexpected(ok.error());
  } catch (const YAML::Exception& e) {
    return tl::unexpected(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (auto ok = Validate(config); !ok) return tl::unexpected(file + ": " + ok.error());
  return config;
}

tl::expected<Config, std::string> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(path + ": cannot read the configuration: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return LoadConfig(text.str(), path);
}

const char* ServeUsage() {
  return "usage: gangsched serve [--config FILE] [--listen ADDR:PORT] [--bind-listen ADDR:PORT]\n"
         "                       [--ops-listen ADDR:PORT] [--cluster FILE | --kubeconfig FILE]\n"
         "                       [--max-body-bytes N] [--hold-ttl DURATION]\n"
         "                       [--drain-after DURATION] [--log-level LEVEL]\n"
         "Flags override the configuration file (docs/configuration.md lists every key).\n"
         "Standalone mode (--cluster FILE, or neither --cluster nor --kubeconfig outside a\n"
         "cluster) keeps the binds it records in memory only: after a restart, or a kill, it\n"
         "hands the same GPUs out again. Run with the API server as the state source in\n"
         "production (docs/operations.md \"Standalone mode keeps its state in memory\").\n";
}

tl::expected<Config, std::string> ParseServeFlags(const std::vector<std::string>& args) {
  // Split into (flag, value) pairs first, so --config is applied before any override.
  std::vector<std::pair<std::string, std::string>> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--")) {
      return tl::unexpected("unexpected argument " + Quote(arg) + "\n" + ServeUsage());
    }
    const std::size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      flags.emplace_back(arg, args[++i]);
    } else {
      return tl::unexpected("flag " + arg + " needs a value\n" + ServeUsage());
    }
  }
  Config config;
  for (const auto& [flag, value] : flags) {
    if (flag != "--config") continue;
    auto loaded = LoadConfigFile(value);
    if (!loaded) return loaded;
    config = std::move(*loaded);
  }
  for (const auto& [flag, value] : flags) {
    const std::string where = "flag " + flag + ": ";
    if (flag == "--config") continue;
    if (flag == "--listen" || flag == "--bind-listen" || flag == "--ops-listen") {
      if (!(flag != "--listen" && value.empty())) {
        if (auto a = ParseAddress(value); !a) return tl::unexpected(where + a.error());
      }
      (flag == "--listen"        ? config.listen
       : flag == "--bind-listen" ? config.bind_listen
                                 : config.ops_listen) = value;
    } else if (flag == "--cluster") {
      config.cluster_file = value;
    } else if (flag == "--kubeconfig") {
      config.kubeconfig = value;
    } else if (flag == "--max-body-bytes") {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1024) {
        return tl::unexpected(where + "must be a whole number of bytes >= 1024, not " +
                              Quote(value));
      }
      config.max_body_bytes = n;
    } else if (flag == "--hold-ttl") {
      auto d = ParseDuration(value);
      if (!d) return tl::unexpected(where + d.error());
      config.holds.ttl = *d;
    } else if (flag == "--drain-after") {
      auto d = ParseDuration(value);
      if (!d) return tl::unexpected(where + d.error());
      config.drain_after = *d;
    } else if (flag == "--log-level") {
      if (!IsLogLevel(value)) return tl::unexpected(where + kLogLevelHelp);
      config.log_level = value;
    } else {
      return tl::unexpected("unknown flag " + flag + "\n" + ServeUsage());
    }
  }
  if (auto ok = Validate(config); !ok) return tl::unexpected(ok.error());
  return config;
}

scheduler::EngineOptions EngineOptionsFrom(const config::Config& config) {
  scheduler::EngineOptions options;
  options.state.levels = config.topology_levels;
  options.holds = config.holds;
  options.planner.candidates_per_level = config.candidates_per_level;
  options.require_quorum_pods = false;   // standalone: pods are known only from requests
  options.requeue_by_bind_error = true;  // standalone: no API access to nudge parked pods
  options.max_held_binds = config.max_held_binds;
  options.drain_after = config.drain_after;
  options.max_drains = config.max_drains;
  options.span_wait = config.span_wait;
  options.forget_after = config.forget_after;
  return options;
}

}  // namespace gangsched::config
