// `gangsched explain` and `gangsched get gangs` (docs/operations.md "Why does a gang wait?"): what
// the ops views (/api/v1/gangs/{ns}/{name}, /api/v1/state) say about a gang, per topology domain:
// what is free, what is held and by whom, and what would make the gang fit. Pure: JSON views in,
// JSON or text out; fetching them is ops_client.h's.
//
// Whether the gang fits a domain is counted from capacity alone: its quorum's pods (the view's
// `need`) packed onto the domain's schedulable nodes, largest first, each on the node it leaves
// least free (GPUs, CPU, memory). Node selectors, taints and GPU ids are the planner's business;
// the gang's `reason` covers them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gangsched::api {

// The explanation as JSON (`--output json`): the gang's view, and `domains[]` (the cluster first,
// then each level broad to narrow) with `level`, `name`, `nodes`, `gpus` {`total`, `used`,
// `held`, `free`}, `held_by[]` {`gang`, `gpus`, `expires_in_ms`}, `pods_fit_now`,
// `pods_fit_without_holds`, `pods_needed`, `verdict` (`fits`, `fits_without_holds`, `short`, or
// `bound` for a gang bound whole) and `to_fit` in plain words.
nlohmann::json Explain(const nlohmann::json& gang, const nlohmann::json& state);
// The explanation as text; at most `per_level` domains of each level (the closest to fitting).
std::string ExplainText(const nlohmann::json& explanation, int per_level = 8);
// `get gangs` as a table, one gang a line (the /api/v1/gangs view's `gangs`).
std::string GangsText(const nlohmann::json& gangs);

}  // namespace gangsched::api
