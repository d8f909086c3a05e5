// One listener's connections (issue 15 §1): httplib parses and routes each request, but the
// connection loop around it is gangsched's own, so that no number of idle or slow clients on one
// listener can stop another client's request from being answered:
// - the request line, headers and body must arrive within one deadline as a whole (httplib
//   0.11.4's read timeout restarts with every byte, so one header byte a second held a thread
//   forever), and within a byte budget (its line reader grows without bound);
// - a connection waits for its next request without a busy poll (httplib polls every 10 ms), and
//   once more connections are open than `idle_close_above`, idle kept-alive connections are
//   closed until no more than half that many are open, so silent sockets do not hold what others
//   need;
// - threads are started as connections need them, up to the connection cap (httplib's fixed pool
//   of 8 was held by 8 idle connections); past the cap a connection is answered 503 and closed,
//   unless it asks for an exempt path (a liveness or readiness probe), which is still served;
// - a handler can ask for the connection to be closed after its answer (a body left unread).
// TLS listeners keep httplib's own loop (its SSL handshake is not reachable from a subclass).
// Owns sockets, threads and deadlines; knows no route and no verb.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace gangsched::api {

struct ListenerLimits {
  std::size_t min_threads = 8;               // started at once and kept while idle
  std::size_t max_connections = 4096;        // open at once; more are answered 503
  std::size_t idle_close_above = 256;        // more open than this: idle connections are closed
  std::int64_t request_timeout_ms = 10'000;  // request line + headers + body; also each write
  std::int64_t keep_alive_timeout_ms = 30'000;
  std::size_t keep_alive_max_count = 100'000;
  // Raw bytes one request may send (line, headers, framing, body as sent) before reading stops.
  std::uint64_t max_request_bytes = std::uint64_t{1} << 30;
  // GET paths answered even past max_connections (one request, then closed): /healthz, /readyz.
  std::vector<std::string> exempt_paths;
};

// A plain-HTTP listener with these limits; the caller adds routes and binds it.
std::unique_ptr<httplib::Server> MakeGuardedServer(const ListenerLimits& limits);

// Wakes every connection of a guarded server that waits for a request or reads one, so that
// stop() returns promptly; call before httplib::Server::stop(). Nothing for other servers.
void InterruptConnections(httplib::Server& server);

// For a handler, on the thread serving the request: close the connection once the answer is
// written, and say so in it (the rest of the body was left unread; reading on would parse it as
// the next request).
void CloseConnectionAfterResponse(const httplib::Request& req);
// For a handler: reading the request stopped at the byte budget or at the request deadline.
bool RequestReadCutShort();

}  // namespace gangsched::api
