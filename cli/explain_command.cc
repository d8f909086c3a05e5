#include "cli/explain_command.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string_view>
#include <tl/expected.hpp>

#include "api/explain.h"
#include "api/ops_client.h"
#include "cli/exit_codes.h"

namespace gangsched::cli {

namespace {

constexpr const char* kExplainUsage =
    "usage: gangsched explain NAMESPACE/NAME [--server URL] [--output text|json]\n"
    "       gangsched get gangs [-n NAMESPACE] [--server URL] [--output text|json]\n"
    "  --server URL   the ops listener of a running gangsched serve (default "
    "http://127.0.0.1:9464)\n";

struct Args {
  std::vector<std::string> positional;
  std::string server = kDefaultOpsServer;
  bool json = false;
  std::string ns;
  bool help = false;
};

tl::expected<Args, std::string> Parse(const std::vector<std::string>& args) {
  Args parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string> {
      if (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
          arg[flag.size()] == '=') {
        return arg.substr(flag.size() + 1);
      }
      if (arg != flag) return std::nullopt;
      if (i + 1 < args.size()) return args[++i];
      return std::string();
    };
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
    } else if (auto v = value("--server")) {
      if (v->empty()) return tl::unexpected(std::string("--server needs a URL"));
      parsed.server = *v;
    } else if (auto o = value("--output"); o || (o = value("-o"))) {
      if (*o != "text" && *o != "json") {
        return tl::unexpected("--output must be text or json, not \"" + *o + "\"");
      }
      parsed.json = *o == "json";
    } else if (auto n = value("--namespace"); n || (n = value("-n"))) {
      if (n->empty()) return tl::unexpected(std::string("--namespace needs a namespace"));
      parsed.ns = *n;
    } else if (!arg.empty() && arg[0] == '-') {
      return tl::unexpected("unknown flag \"" + arg + "\"");
    } else {
      parsed.positional.push_back(arg);
    }
  }
  return parsed;
}

// A Kubernetes object name (RFC 1123 subdomain) or namespace (RFC 1123 label).
bool ValidName(const std::string& s) {
  static const std::regex kName("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
  return std::regex_match(s, kName);
}

int Failed(std::ostream& err, const api::OpsError& e) {
  err << "gangsched: " << e.message << "\n";
  return e.kind == api::OpsError::Kind::kNotFound ? kExitNotFound : kExitUnreachable;
}

}  // namespace

int RunExplain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = Parse(args);
  if (!parsed) return BadInput(err, parsed.error() + " (gangsched explain --help)");
  if (parsed->help) {
    err << kExplainUsage;
    return kExitOk;
  }
  if (parsed->positional.size() != 1 || !parsed->ns.empty()) {
    return BadInput(err, "explain takes one gang, NAMESPACE/NAME (gangsched explain --help)");
  }
  const std::string& ref = parsed->positional[0];
  const std::size_t slash = ref.find('/');
  const std::string ns = ref.substr(0, slash);
  const std::string name = slash == std::string::npos ? "" : ref.substr(slash + 1);
  if (slash == std::string::npos || !ValidName(ns) || !ValidName(name)) {
    return BadInput(err, "\"" + ref +
                             "\" is not NAMESPACE/NAME of a gang (e.g. ml/bert; gangsched get "
                             "gangs lists them)");
  }
  auto gang = api::GetOpsJson(parsed->server, "/api/v1/gangs/" + ns + "/" + name);
  if (!gang) return Failed(err, gang.error());
  auto state = api::GetOpsJson(parsed->server, "/api/v1/state");
  if (!state) return Failed(err, state.error());
  try {
    const nlohmann::json explanation = api::Explain(*gang, *state);
    out << (parsed->json ? explanation.dump(2) + "\n" : api::ExplainText(explanation));
  } catch (const nlohmann::json::exception& e) {
    err << "gangsched: " << parsed->server << " answered views gangsched cannot read (" << e.what()
        << "): is --server the ops listener of a gangsched of this version?\n";
    return kExitUnreachable;
  }
  return kExitOk;
}

int RunGet(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = Parse(args);
  if (!parsed) return BadInput(err, parsed.error() + " (gangsched get --help)");
  if (parsed->help) {
    err << kExplainUsage;
    return kExitOk;
  }
  if (parsed->positional.size() != 1 || parsed->positional[0] != "gangs") {
    return BadInput(err, "get lists gangs: gangsched get gangs [-n NAMESPACE]");
  }
  // The view is paged: follow `continue` until the last page.
  nlohmann::json gangs = nlohmann::json::array();
  std::string next;
  do {
    std::string path = "/api/v1/gangs?limit=5000";
    // Namespaces and names are DNS labels: "NAMESPACE/NAME" needs no escaping in a query.
    if (!next.empty()) path += "&continue=" + next;
    auto view = api::GetOpsJson(parsed->server, path);
    if (!view) return Failed(err, view.error());
    for (const nlohmann::json& g : view->value("gangs", nlohmann::json::array())) {
      if (parsed->ns.empty() || g.value("namespace", "") == parsed->ns) gangs.push_back(g);
    }
    const std::string after = view->value("continue", "");
    if (!after.empty() && after == next) break;  // an answer that does not move on
    next = after;
  } while (!next.empty());
  if (parsed->json) {
    out << nlohmann::json{{"gangs", std::move(gangs)}}.dump(2) << "\n";
  } else if (gangs.empty()) {
    err << "no gangs" << (parsed->ns.empty() ? "" : " in namespace " + parsed->ns) << "\n";
  } else {
    try {
      out << api::GangsText(gangs);
    } catch (const nlohmann::json::exception& e) {
      err << "gangsched: " << parsed->server << " answered a gang list gangsched cannot read ("
          << e.what() << ")\n";
      return kExitUnreachable;
    }
  }
  return kExitOk;
}

}  // namespace gangsched::cli
