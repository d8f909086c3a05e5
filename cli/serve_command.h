// `gangsched serve` (DESIGN.md §2): parses the flags and the configuration file, loads the
// standalone state, starts the listeners and runs until SIGTERM/SIGINT, then stops gracefully
// (held binds answer an error, listeners close). Owns process lifetime only: the runtime is
// api/ (service, listeners), the API state source kube/.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gangsched::cli {

// Runs `gangsched serve` with the arguments after "serve". Returns 0 after a signal-initiated
// shutdown, 2 on bad flags/configuration/cluster file (one line on `err` naming FILE:LINE:COL),
// 1 when a listener cannot start.
int RunServe(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace gangsched::cli
