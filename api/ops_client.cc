#include "api/ops_client.h"

#include <httplib.h>

namespace gangsched::api {

namespace {
// httplib's error names ("Connection", "Read") in words a user can act on.
std::string Why(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "nothing accepted the connection";
    case httplib::Error::ConnectionTimeout:
      return "the connection timed out";
    case httplib::Error::Read:
      return "no answer within 10 s, or the connection closed";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification:
      return "TLS failed: " + httplib::to_string(error);
    default:
      return httplib::to_string(error);
  }
}
}  // namespace

tl::expected<nlohmann::json, OpsError> GetOpsJson(const std::string& server,
                                                  const std::string& path) {
  const std::string base = server.find("://") == std::string::npos ? "http://" + server : server;
  httplib::Client client(base);
  if (!client.is_valid()) {
    return tl::unexpected(OpsError{OpsError::Kind::kUnreachable,
                                   "\"" + server + "\" is not a server address; give --server " +
                                       "http://HOST:PORT (gangsched serve's --ops-listen)"});
  }
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Get(path);
  if (!res) {
    return tl::unexpected(OpsError{
        OpsError::Kind::kUnreachable,
        "cannot reach gangsched at " + base + " (" + Why(res.error()) +
            "): is `gangsched serve` running there? Give its ops listener with --server URL"});
  }
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status == 404) {
    std::string message = base + path + " answered 404";
    if (body.is_object() && body.contains("Error") && body["Error"].is_string()) {
      message = body["Error"].get<std::string>();
    }
    return tl::unexpected(OpsError{OpsError::Kind::kNotFound, message});
  }
  if (res->status != 200 || body.is_discarded()) {
    return tl::unexpected(
        OpsError{OpsError::Kind::kBadResponse,
                 base + path + " answered " + std::to_string(res->status) +
                     (body.is_discarded() ? " with a body that is not JSON" : "") +
                     ": is --server the ops listener of gangsched serve (default port 9464)?"});
  }
  return body;
}

}  // namespace gangsched::api
