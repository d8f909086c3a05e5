// `gangsched explain NAMESPACE/NAME` and `gangsched get gangs` (docs/operations.md "Why does a gang
// wait?"): ask a running server's ops endpoint about gangs. Owns argument parsing and the exit
// codes; fetching is api/ops_client.h's, what the views say api/explain.h's.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gangsched::cli {

// The ops endpoint asked when --server is not given (serve's default --ops-listen).
inline constexpr const char* kDefaultOpsServer = "http://127.0.0.1:9464";

// `gangsched explain NAMESPACE/NAME [--server URL] [--output text|json]`. Exit codes: kExitOk,
// kExitNotFound (the server does not know the gang), kExitBadInput (usage), kExitUnreachable (no
// server there, or an answer that is not the view); errors are one line on `err`.
int RunExplain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `gangsched get gangs [-n NAMESPACE] [--server URL] [--output text|json]`.
int RunGet(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace gangsched::cli
