// `gangsched simulate` (DESIGN.md §2, issue 5): replays a trace through the simulator engine
// (sim/, which drives the real core) under one or every policy and prints
// placement-quality and queueing metrics as JSON or CSV. Owns argument parsing, loading the inputs
// (NodeList files through k8s/cluster_file.h, Alibaba node lists and gavel/generic traces through
// the sim library) and the encoding; the simulation itself is the engine's. The wall clock is read
// only here, to report the simulator's own speed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gangsched::cli {

// Runs `gangsched simulate` with the arguments after "simulate" (see SimulateUsage()). Returns 0 on
// success, 2 on bad input (one line "gangsched: ..." on `err`, nothing on `out`).
int RunSimulate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

const char* SimulateUsage();

}  // namespace gangsched::cli
