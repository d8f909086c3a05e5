// The listeners against hostile clients (issue 15), in-process on port 0: the body limit on every
// framing, framing that two parsers could read differently, and idle, slow and surplus
// connections that must not stop another client's request. Raw sockets send what httplib's
// client would not; every wait is bounded by a socket timeout.
#include <httplib.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "config/config.h"
#include "tests/integration/in_process_server.h"
#include "tests/integration/raw_connection.h"

namespace gangsched::api {
namespace {

constexpr int kLimit = 1 << 20;  // max_body_bytes in these tests

// The golden filter request, its pod a gang of one: narrowed at once (a gang of more waits for
// its other pods).
std::string GoodFilter() {
  std::string body = Fixture("filter-nodecache.json");
  const std::string size = "\"gangsched.io/min-members\":\"4\"";
  const auto at = body.find(size);
  REQUIRE(at != std::string::npos);
  body.replace(at, size.size(), "\"gangsched.io/min-members\":\"1\"");
  return body;
}

config::Config TwoRacks() {
  config::Config c;
  c.cluster_file =
      std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/cluster-two-racks.json";
  c.ops_listen = "127.0.0.1:0";
  c.max_body_bytes = kLimit;
  c.threads.filter = 2;
  c.threads.bind = 4;
  c.threads.ops = 1;
  c.max_held_binds = 4;
  return c;
}

std::string Chunked(const std::string& body, std::size_t chunk) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const std::string part = body.substr(at, chunk);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out += size + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::string Deflate(const std::string& body) {
  uLongf size = compressBound(body.size());
  std::string out(size, '\0');
  REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                    reinterpret_cast<const Bytef*>(body.data()), body.size(), 9) == Z_OK);
  out.resize(size);
  return out;
}

std::string Post(const std::string& headers, const std::string& body = "") {
  return "POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
         "\r\n" + body;
}
std::string WithLength(const std::string& body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n";
}

bool Status(const std::string& response, int status) {
  return response.rfind("HTTP/1.1 " + std::to_string(status), 0) == 0;
}

// The answer, then the end of the connection: the rest of what the client sent is never read as
// a request.
void CheckAnsweredAndClosed(RawConnection& conn, int status, const std::string& says) {
  const std::string response = conn.ReadResponse();
  INFO(response);
  CHECK(Status(response, status));
  CHECK(response.find("Connection: close") != std::string::npos);
  CHECK(response.find(says) != std::string::npos);
  CHECK(conn.ClosedByServer());
}

TEST_CASE("max_body_bytes holds for the decoded body on every framing", "[server][limits]") {
  InProcessServer gs(TwoRacks());
  const int port = gs.server().main_port();
  const std::string over(kLimit + 1, ' ');  // whitespace: valid JSON around it

  SECTION("chunked, without a Content-Length, is cut off at the limit") {
    RawConnection conn(port);
    conn.TrySend(Post("Transfer-Encoding: chunked\r\n", Chunked(over, 64 << 10)));
    CheckAnsweredAndClosed(conn, 413, "max_body_bytes");
  }
  SECTION("a deflate body of a few KB that inflates past the limit is cut off") {
    const std::string small = Deflate(std::string(4 * kLimit, ' '));
    REQUIRE(small.size() < kLimit / 100);
    RawConnection conn(port);
    conn.Send(Post("Content-Encoding: deflate\r\n" + WithLength(small), small));
    CheckAnsweredAndClosed(conn, 413, "max_body_bytes");
  }
  SECTION("a gzip body inside chunks is counted after both") {
    const std::string small = Deflate(std::string(4 * kLimit, ' '));
    RawConnection conn(port);
    conn.Send(
        Post("Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n", Chunked(small, 1000)));
    CheckAnsweredAndClosed(conn, 413, "max_body_bytes");
  }
  SECTION("bodies within the limit are decoded on every framing") {
    const std::string good = GoodFilter();
    for (const std::string& request :
         {Post("Transfer-Encoding: chunked\r\n", Chunked(good, 100)),
          Post("Content-Encoding: deflate\r\n" + WithLength(Deflate(good)), Deflate(good)),
          Post(WithLength(good), good)}) {
      RawConnection conn(port);
      conn.Send(request);
      const std::string response = conn.ReadResponse();
      INFO(response);
      CHECK(Status(response, 200));
      CHECK(response.find("\"NodeNames\":[\"gpu-a1\"]") != std::string::npos);
    }
  }
}

// RFC 9112 §6.3: framing that a proxy and gangsched could read differently is refused, and the
// connection closed (the first of two Content-Length headers used to win; chunked beside a
// Content-Length was accepted).
TEST_CASE("ambiguous or missing framing is refused and the connection closed", "[server][limits]") {
  InProcessServer gs(TwoRacks());
  const std::string good = GoodFilter();
  struct Case {
    const char* what;
    std::string request;
    int status;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"two Content-Length headers", Post(WithLength(good) + "Content-Length: 2\r\n", good + "{}"),
       400, "2 Content-Length headers"},
      {"two equal Content-Length headers", Post(WithLength(good) + WithLength(good), good), 400,
       "2 Content-Length headers"},
      {"chunked beside a Content-Length",
       Post("Transfer-Encoding: chunked\r\n" + WithLength(good), Chunked(good, 512)), 400,
       "both Transfer-Encoding and Content-Length"},
      {"two Transfer-Encoding headers",
       Post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", Chunked(good, 512)),
       400, "2 Transfer-Encoding headers"},
      {"a transfer coding other than chunked", Post("Transfer-Encoding: gzip, chunked\r\n", "0"),
       501, "not supported"},
      {"a POST with neither", Post("", good), 411, "neither Content-Length nor chunked"},
      // httplib does not read a GET's body: it would be taken for the next request.
      {"a GET with a body",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n"
       "GET /api/v1/gangs HTTP/1.1\r\nHost: x\r\n\r\n",
       200, "\"status\""},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    RawConnection conn(gs.server().main_port());
    conn.Send(c.request);
    CheckAnsweredAndClosed(conn, c.status, c.says);
  }
}

httplib::Client Client(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
  return cli;
}

// Each listener kept one pool thread per connection for the connection's whole life: 8 idle
// keep-alive connections stopped /filter for 30 s, 4 stopped /healthz on the ops port.
TEST_CASE("idle and slow connections do not stop /filter or /healthz", "[server][connections]") {
  InProcessServer gs(TwoRacks());  // 2 threads on the main listener, 1 on the ops listener
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (const int port : {gs.server().main_port(), gs.server().ops_port()}) {
    for (int i = 0; i < 16; ++i) silent.push_back(std::make_unique<RawConnection>(port));
    for (int i = 0; i < 4; ++i) {  // slowloris: a request started, never finished
      silent.push_back(std::make_unique<RawConnection>(port));
      silent.back()->Send("POST /filter HTTP/1.1\r\nHost: x\r\nContent-Le");
    }
  }
  const std::string good = GoodFilter();
  for (int i = 0; i < 3; ++i) {
    auto filter = Client(gs.server().main_port()).Post("/filter", good, "application/json");
    REQUIRE(filter);
    CHECK(filter->status == 200);
    auto health = Client(gs.server().ops_port()).Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
}

// The read timeout restarted with every byte: one header byte a second held a thread forever.
TEST_CASE("a request trickled byte by byte is cut off at read_timeout as a whole",
          "[server][connections]") {
  config::Config c = TwoRacks();
  c.read_timeout = 300;
  InProcessServer gs(c);
  RawConnection slow(gs.server().main_port(), 5);
  const std::string request = Post(WithLength(GoodFilter()), GoodFilter());
  // One byte every 50 ms: each read waits far less than read_timeout, the whole takes minutes.
  bool cut_off = false;
  for (std::size_t i = 0; i < 200 && !cut_off; ++i) {
    cut_off = slow.AnsweredOrClosed() || !slow.TrySend(request.substr(i, 1));
    if (!cut_off) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(cut_off);  // within 200 bytes (10 s), not after the whole request
}

TEST_CASE("past max_connections a connection is answered 503, a health probe still 200",
          "[server][connections]") {
  config::Config c = TwoRacks();
  c.max_connections = 6;
  c.idle_close_above = 6;
  c.max_held_binds = 4;
  InProcessServer gs(c);
  const int port = gs.server().ops_port();
  std::vector<std::unique_ptr<RawConnection>> busy;
  for (int i = 0; i < 6; ++i) {
    busy.push_back(std::make_unique<RawConnection>(port));
    // Answered once, so the server has taken it up and counted it; then mid-request: neither
    // idle nor done.
    busy.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(Status(busy.back()->ReadResponse(), 200));
    busy.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  RawConnection surplus(port, 5);
  surplus.Send("GET /api/v1/gangs HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string response = surplus.ReadResponse();
  INFO(response);
  CHECK(Status(response, 503));
  CHECK(response.find("max_connections") != std::string::npos);
  CHECK(response.find("Retry-After: 1") != std::string::npos);
  // Liveness and readiness are still answered: a kubelet probe must not restart the scheduler
  // because other clients hold every connection.
  for (const char* probe : {"/healthz", "/readyz"}) {
    INFO(probe);
    RawConnection kubelet(port, 5);
    kubelet.Send(std::string("GET ") + probe + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = kubelet.ReadResponse();
    INFO(answer);
    CHECK(Status(answer, 200));
    CHECK(answer.find("Connection: close") != std::string::npos);
  }
}

TEST_CASE("while more than idle_close_above connections are open, idle ones are closed",
          "[server][connections]") {
  config::Config c = TwoRacks();
  c.idle_close_above = 2;
  InProcessServer gs(c);
  const int port = gs.server().ops_port();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 2; ++i) {  // answered and kept alive: two are within the threshold
    idle.push_back(std::make_unique<RawConnection>(port, 5));
    idle.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string response = idle.back()->ReadResponse();
    REQUIRE(Status(response, 200));
    CHECK(response.find("Connection: close") == std::string::npos);
  }
  // Two more, mid-request, so they stay open: four open, and the idle ones are closed until no
  // more than two are.
  RawConnection third(port, 5);
  third.Send("GET /healthz HTTP/1.1\r\n");
  RawConnection fourth(port, 5);
  fourth.Send("GET /healthz HTTP/1.1\r\n");
  for (auto& conn : idle) CHECK(conn->ClosedByServer());
  CHECK_FALSE(third.AnsweredOrClosed());
}

}  // namespace
}  // namespace gangsched::api
