// A client of a running gangsched's ops endpoint (the JSON views of docs/metrics.md), for the CLI's
// `explain` and `get gangs`. Owns the HTTP requests and what their failures mean to a user; what
// the views say is explain.h's.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>

namespace gangsched::api {

struct OpsError {
  enum class Kind : std::uint8_t {
    kUnreachable,  // no answer: the server is down, the address is wrong, or it timed out
    kNotFound,     // 404: the view names something the server does not know (an unknown gang)
    kBadResponse,  // an answer that is not the view (other status, not JSON)
  };
  Kind kind = Kind::kUnreachable;
  std::string message;  // names the server and the path, and what to do
};

// GET `path` from `server` ("http://HOST:PORT", "https://..." or "HOST:PORT") and parse the JSON.
tl::expected<nlohmann::json, OpsError> GetOpsJson(const std::string& server,
                                                  const std::string& path);

}  // namespace gangsched::api
