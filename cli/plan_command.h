// `gangsched plan` (DESIGN.md §2): what-if placement of job manifests on a cluster inventory file,
// through the same core (ClusterState + Planner) the extender runs. Owns argument parsing, loading
// and the table/JSON rendering; placement decisions are the core's.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gangsched::cli {

// Runs `gangsched plan` with the arguments after "plan":
//   --cluster FILE [--output table|json] JOB.yaml...
// Every input is decoded before anything is printed: on bad input (usage, unreadable file, decode
// error) one line "gangsched: FILE:LINE:COL: message" goes to `err`, nothing to `out`, and the
// result is kExitBadInput. Jobs are planned in file order; each placed job holds its capacity, so
// later jobs see it taken. Returns kExitOk when every job is placed, else
// kExitSomeUnplaceable.
int RunPlan(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage text of `gangsched plan`.
const char* PlanUsage();

}  // namespace gangsched::cli
