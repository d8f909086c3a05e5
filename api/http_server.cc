#include "api/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "api/listener.h"
#include "api/wire.h"
#include "k8s/json.h"
#include "web/web_page.h"

namespace gangsched::api {

using scheduler::Millis;
using web::WebPage;
using web::WebPageSecurityPolicy;

// ---- HTTP ---------------------------------------------------------------------------------------

namespace {

// How far over max_body_bytes a declared body may be and still be read (and discarded) before the
// 413, so the client sees the answer instead of a connection reset.
constexpr std::uint64_t kDrainAllowance = 64ULL << 20;

constexpr const char* kVerbs[] = {"/filter", "/prioritize", "/preempt", "/bind"};
constexpr const char* kViews[] = {"/",       "/page.css", "/page.js",      "/healthz",
                                  "/readyz", "/metrics",  "/api/v1/state", "/api/v1/gangs"};

bool IsView(const std::string& path) {
  if (std::find(std::begin(kViews), std::end(kViews), path) != std::end(kViews)) return true;
  return path.rfind("/api/v1/gangs/", 0) == 0;
}
bool IsVerb(const std::string& path) {
  return std::find(std::begin(kVerbs), std::end(kVerbs), path) != std::end(kVerbs);
}

void Send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}

bool DeclaresBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// The framing faults RFC 9112 §6.3 makes fatal to the connection: the first of two
// Content-Length headers used to win, and chunked framing beside a Content-Length was accepted,
// so gangsched and a proxy in front of it could split the same bytes into different requests.
// Empty when the framing is sound; else the reason, answered with `status`.
std::string FramingFault(const httplib::Request& req, int& status) {
  status = 400;
  const std::size_t lengths = req.get_header_value_count("Content-Length");
  const std::size_t codings = req.get_header_value_count("Transfer-Encoding");
  if (lengths > 1) return "the request has " + std::to_string(lengths) + " Content-Length headers";
  if (codings > 1)
    return "the request has " + std::to_string(codings) + " Transfer-Encoding headers";
  if (codings == 1) {
    if (lengths == 1) return "the request has both Transfer-Encoding and Content-Length";
    if (!k8s::IEquals(req.get_header_value("Transfer-Encoding"), "chunked")) {
      status = 501;
      return "Transfer-Encoding \"" + req.get_header_value("Transfer-Encoding") +
             "\" is not supported; send chunked or a Content-Length";
    }
    return {};
  }
  if (lengths == 0 && req.method == "POST") {
    // httplib would read until the client closes: a request without framing has no body
    // (RFC 9112 §6.3), and every verb needs one.
    status = 411;
    return "the request has neither Content-Length nor chunked Transfer-Encoding";
  }
  return {};
}

// The body of the request being served. Up to kKept bytes it is the thread's string, kept from
// request to request; a larger body moves to an anonymous mapping sized to the limit, unmapped
// once it is answered. glibc keeps what a thread frees at the top of its arena, and malloc_trim
// does not return a thread arena's top: four concurrent 200 MB bodies left about 1 GB held, and
// 314 MB gzip bodies left 38 MB per thread that served one. Either way the bytes are followed by
// zeroed room for simdjson's padding, so the body is parsed where it is.
class RequestBody {
 public:
  static constexpr std::size_t kKept = std::size_t{1} << 20;
  static constexpr std::size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING

  explicit RequestBody(std::size_t limit) : limit_(limit), small_(Small()) { small_.clear(); }
  ~RequestBody() {
    if (mapped_ != nullptr) ::munmap(mapped_, mapped_size_);
    if (small_.capacity() > kKept) std::string().swap(small_);
  }
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;

  // Room for `bytes` (a declared Content-Length); false when the mapping cannot be made.
  bool Reserve(std::size_t bytes) {
    if (bytes + kPadding <= kKept) {
      small_.reserve(bytes + kPadding);
      return true;
    }
    return Map();
  }
  // False past the limit (nothing is appended) or when the mapping cannot be made.
  bool Append(const char* data, std::size_t n, bool& over) {
    if (n > limit_ - size()) {
      over = true;
      return false;
    }
    if (mapped_ == nullptr && small_.size() + n + kPadding > kKept && !Map()) return false;
    if (mapped_ != nullptr) {
      std::memcpy(mapped_ + mapped_used_, data, n);
      mapped_used_ += n;
    } else {
      small_.append(data, n);
    }
    return true;
  }
  std::size_t size() const { return mapped_ != nullptr ? mapped_used_ : small_.size(); }
  k8s::Body body() const {
    if (mapped_ == nullptr) return k8s::Body(small_);
    k8s::Body b(std::string_view(mapped_, mapped_used_));
    b.readable = mapped_size_;
    return b;
  }
  std::string_view view() const { return body().bytes; }

 private:
  static std::string& Small() {
    thread_local std::string small;
    return small;
  }
  bool Map() {
    if (mapped_ != nullptr) return true;
    const std::size_t page = 4096;
    mapped_size_ = (limit_ + kPadding + page - 1) / page * page;
    void* m = ::mmap(nullptr, mapped_size_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    mapped_ = static_cast<char*>(m);
    std::memcpy(mapped_, small_.data(), small_.size());
    mapped_used_ = small_.size();
    small_.clear();
    return true;
  }

  std::size_t limit_;
  std::string& small_;
  char* mapped_ = nullptr;
  std::size_t mapped_size_ = 0;
  std::size_t mapped_used_ = 0;
};

using BodyHandler = std::function<Reply(const RequestBody& body)>;

// A verb's handler: reads the body through httplib's content reader — which decodes chunked
// framing and gzip/deflate as it reads — counting the decoded bytes, and stops at max_body_bytes
// (issue 15: a chunked or compressed body used to be read whole, past any limit).
httplib::Server::HandlerWithContentReader ReadBody(ExtenderService& service, std::string verb,
                                                   std::int64_t max_body, BodyHandler handle) {
  return [&service, verb = std::move(verb), max_body, handle = std::move(handle)](
             const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader& read) {
    const auto limit = static_cast<std::size_t>(max_body);
    RequestBody body(limit);
    std::uint64_t declared = 0;
    const std::string length = req.get_header_value("Content-Length");
    std::from_chars(length.data(), length.data() + length.size(), declared);
    bool over = false;
    bool mapped = body.Reserve(static_cast<std::size_t>(std::min<std::uint64_t>(declared, limit)));
    const bool complete = mapped && read([&](const char* data, std::size_t n) {
                            mapped = body.Append(data, n, over) || over;
                            return !over && mapped;
                          });
    if (!mapped) {
      CloseConnectionAfterResponse(req);
      Send(res, ErrorReply(503, "no memory for the body; retry shortly"));
      service.CountRejected(verb, 503);
      return;
    }
    if (over || (!complete && res.status == 413) ||
        (!complete && RequestReadCutShort() && declared > limit)) {
      CloseConnectionAfterResponse(req);
      Send(res,
           ErrorReply(413, "the body (decoded) is over the limit of " + std::to_string(max_body) +
                               " bytes (max_body_bytes, --max-body-bytes)"));
      service.CountRejected(verb, 413);
      return;
    }
    if (!complete) {
      CloseConnectionAfterResponse(req);
      Send(res, ErrorReply(400, RequestReadCutShort()
                                    ? "the body did not arrive within read_timeout"
                                    : "the body could not be read: truncated, or malformed "
                                      "chunked framing or compressed data"));
      service.CountRejected(verb, 400);
      return;
    }
    try {
      Send(res, handle(body));
    } catch (const std::exception& e) {
      spdlog::error("path={} decision=internal_error error=\"{}\"", req.path, e.what());
      Send(res, Reply{200, EncodeError(std::string("gangsched internal error: ") + e.what())});
    }
  };
}

}  // namespace

ExtenderServer::ExtenderServer(const config::Config& config, ExtenderService& service)
    : config_(config), service_(service) {}

ExtenderServer::~ExtenderServer() { Stop(); }

std::unique_ptr<httplib::Server> ExtenderServer::Make(Listener which, int threads) {
  const auto pool = static_cast<std::size_t>(threads);
  std::unique_ptr<httplib::Server> srv;
  if (config_.tls.Enabled()) {
    srv = std::make_unique<httplib::SSLServer>(config_.tls.cert_file.c_str(),
                                               config_.tls.key_file.c_str());
    srv->new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  } else {
    ListenerLimits limits;
    limits.min_threads = pool;
    limits.max_connections = static_cast<std::size_t>(config_.max_connections);
    limits.idle_close_above = static_cast<std::size_t>(config_.idle_close_above);
    limits.request_timeout_ms = config_.read_timeout;
    limits.keep_alive_timeout_ms = config_.keep_alive_timeout;
    limits.keep_alive_max_count = static_cast<std::size_t>(config_.keep_alive_max_count);
    // The body as sent may exceed the decoded limit by its chunked framing; 1/16 covers chunks of
    // 128 bytes and up (Go and httplib write 4 KB and larger).
    const auto max_body = static_cast<std::uint64_t>(config_.max_body_bytes);
    limits.max_request_bytes = max_body + max_body / 16 + (std::uint64_t{1} << 20);
    // A kubelet probe is answered even when other clients hold every connection.
    if (which != Listener::kBind) limits.exempt_paths = {"/healthz", "/readyz"};
    srv = MakeGuardedServer(limits);
  }
  srv->set_tcp_nodelay(true);  // DESIGN.md §3.6: Nagle + delayed ACK cost 43 ms per request
  srv->set_keep_alive_max_count(static_cast<std::size_t>(config_.keep_alive_max_count));
  srv->set_keep_alive_timeout(std::max<Millis>(1, config_.keep_alive_timeout / 1000));
  srv->set_read_timeout(config_.read_timeout / 1000, (config_.read_timeout % 1000) * 1000);
  srv->set_write_timeout(config_.read_timeout / 1000, (config_.read_timeout % 1000) * 1000);
  srv->set_payload_max_length(static_cast<std::size_t>(config_.max_body_bytes));

  const bool verbs = which != Listener::kOps;
  const bool views = which != Listener::kBind;
  const std::int64_t max_body = config_.max_body_bytes;
  ExtenderService& service = service_;
  // Method and size checks before httplib reads the body: a declared Content-Length over the
  // limit is answered 413 without reading it (httplib itself would read and discard it first).
  auto route = [=, &service](const httplib::Request& req, httplib::Response& res) {
    int framing_status = 400;
    if (std::string fault = FramingFault(req, framing_status); !fault.empty()) {
      CloseConnectionAfterResponse(req);  // where the next request starts is unknown
      Send(res, ErrorReply(framing_status, fault));
      service.CountRejected(IsVerb(req.path) ? req.path.substr(1) : "unknown", framing_status);
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool verb = IsVerb(req.path) && (which != Listener::kBind || req.path == "/bind");
    const bool view = IsView(req.path);
    const std::string name = req.path.substr(1);
    if (verbs && verb) {
      if (req.method != "POST") {
        res.set_header("Allow", "POST");
        Send(res, ErrorReply(405, req.method + " " + req.path + " is not allowed; use POST"));
        service.CountRejected(name, 405);
        return httplib::Server::HandlerResponse::Handled;
      }
      const std::string length = req.get_header_value("Content-Length");
      std::uint64_t declared = 0;
      if (!length.empty()) {
        auto [ptr, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
        if (ec != std::errc() || ptr != length.data() + length.size()) {
          Send(res, ErrorReply(400, "Content-Length \"" + length + "\" is not a number"));
          service.CountRejected(name, 400);
          return httplib::Server::HandlerResponse::Handled;
        }
        // Over the limit but small enough to drain: httplib reads and discards it, then answers
        // 413 (closing a connection with unread data would reset it before the client reads
        // the answer). Far over the limit: answered now, without reading.
        if (declared > static_cast<std::uint64_t>(max_body) + kDrainAllowance) {
          Send(res, ErrorReply(413, "the body (" + length + " bytes) is over the limit of " +
                                        std::to_string(max_body) +
                                        " bytes (max_body_bytes, --max-body-bytes)"));
          service.CountRejected(name, 413);
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (views && view) {
      if (req.method != "GET" && req.method != "HEAD") {
        res.set_header("Allow", "GET");
        Send(res, ErrorReply(405, req.method + " " + req.path + " is not allowed; use GET"));
        service.CountRejected("view", 405);
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Send(res, ErrorReply(404, req.path + " is not served on this listener"));
    service.CountRejected("unknown", 404);
    return httplib::Server::HandlerResponse::Handled;
  };
  srv->set_pre_routing_handler([route](const httplib::Request& req, httplib::Response& res) {
    const auto handled = route(req, res);
    // A body left unread would be parsed as the next request: the connection ends here. httplib
    // reads a body only for POST (and PUT, PATCH, DELETE, which nothing here serves): a GET with
    // a body could smuggle a second request past a proxy that reads the body.
    if (DeclaresBody(req) &&
        (handled == httplib::Server::HandlerResponse::Handled || req.method != "POST")) {
      CloseConnectionAfterResponse(req);
    }
    return handled;
  });
  // Every error reply has a JSON body (reference/extender-protocol.md §2.1).
  srv->set_error_handler(httplib::Server::HandlerWithResponse(
      [&service](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = "HTTP " + std::to_string(res.status);
        if (res.status == 413) {
          message = "the body is over the limit (max_body_bytes, --max-body-bytes)";
          service.CountRejected(req.path.size() > 1 ? req.path.substr(1) : "unknown", 413);
        } else if (res.status == 400) {
          message = "malformed HTTP request";
        }
        Send(res, ErrorReply(res.status, message));
        return httplib::Server::HandlerResponse::Handled;
      }));
  srv->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("path={} decision=internal_error error=\"{}\"", req.path, what);
        // 200 with Error: an internal fault (DESIGN.md §3.3), never a non-JSON body.
        Send(res, Reply{200, EncodeError("gangsched internal error: " + what)});
      });

  // The handlers catch everything: no exception crosses into httplib (STYLE.md "Errors").
  auto guard = [](auto fn) {
    return [fn](const httplib::Request& req, httplib::Response& res) {
      try {
        Send(res, fn(req));
      } catch (const std::exception& e) {
        spdlog::error("path={} decision=internal_error error=\"{}\"", req.path, e.what());
        Send(res, Reply{200, EncodeError(std::string("gangsched internal error: ") + e.what())});
      }
    };
  };
  if (verbs) {
    srv->Post("/bind", ReadBody(service, "bind", max_body, [&service](const RequestBody& body) {
                return service.Bind(body.view());
              }));
    if (which == Listener::kMain) {
      srv->Post("/filter",
                ReadBody(service, "filter", max_body, [&service](const RequestBody& body) {
                  return service.Filter(body.body());
                }));
      srv->Post("/prioritize",
                ReadBody(service, "prioritize", max_body, [&service](const RequestBody& body) {
                  return service.Prioritize(body.body());
                }));
      srv->Post("/preempt",
                ReadBody(service, "preempt", max_body, [&service](const RequestBody& body) {
                  return service.Preempt(body.view());
                }));
    }
  }
  if (views) {
    auto file = [](std::string_view text, const char* type) {
      return [text, type](const httplib::Request&, httplib::Response& res) {
        res.set_header("Content-Security-Policy", std::string(WebPageSecurityPolicy()));
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content(text.data(), text.size(), type);
      };
    };
    srv->Get("/", file(WebPage(), "text/html; charset=utf-8"));
    srv->Get("/page.css", file(web::WebPageStyle(), "text/css; charset=utf-8"));
    srv->Get("/page.js", file(web::WebPageScript(), "text/javascript; charset=utf-8"));
    srv->Get("/healthz", guard([&service](const httplib::Request&) { return service.Healthz(); }));
    srv->Get("/readyz", guard([&service](const httplib::Request&) { return service.Readyz(); }));
    srv->Get("/metrics", guard([&service](const httplib::Request&) { return service.Metrics(); }));
    srv->Get("/api/v1/state",
             guard([&service](const httplib::Request&) { return service.State(); }));
    srv->Get("/api/v1/gangs", guard([&service](const httplib::Request& r) {
               // ?limit=N&continue=NAMESPACE/NAME: one page at a time (the view is capped).
               std::size_t limit = ExtenderService::kGangsPageDefault;
               if (r.has_param("limit")) {
                 const std::string text = r.get_param_value("limit");
                 std::size_t n = 0;
                 auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
                 if (ec != std::errc() || ptr != text.data() + text.size() || n == 0) {
                   return ErrorReply(
                       400, "limit \"" + text + "\" is not a positive integer (at most " +
                                std::to_string(ExtenderService::kGangsPageMax) + " gangs a page)");
                 }
                 limit = n;
               }
               return service.Gangs(r.get_param_value("continue"), limit);
             }));
    srv->Get(R"(/api/v1/gangs/([^/]+)/([^/]+))", guard([&service](const httplib::Request& r) {
               return service.Gang(r.matches[1], r.matches[2]);
             }));
  }
  return srv;
}

tl::expected<void, std::string> ExtenderServer::Start() {
  struct Spec {
    Listener which;
    const std::string* address;
    int threads;
    const char* name;
  };
  const Spec specs[] = {
      {Listener::kMain, &config_.listen, config_.threads.filter, "listen"},
      {Listener::kBind, &config_.bind_listen, config_.threads.bind, "bind_listen"},
      {Listener::kOps, &config_.ops_listen, config_.threads.ops, "ops_listen"}};
  for (std::size_t i = 0; i < 3; ++i) {
    const Spec& spec = specs[i];
    if (spec.address->empty()) continue;
    auto address = config::ParseAddress(*spec.address);
    if (!address) return tl::unexpected(std::string(spec.name) + ": " + address.error());
    auto srv = Make(spec.which, spec.threads);
    if (!srv->is_valid()) {
      return tl::unexpected(std::string(spec.name) + ": cannot serve TLS with cert " +
                            config_.tls.cert_file + " and key " + config_.tls.key_file);
    }
    // httplib 0.11.4 listens with a backlog of 5; a burst of held binds overflows it (DESIGN.md
    // §3.6). The listening fd is seen here, before bind; listen() is called again after bind.
    auto fd = std::make_shared<int>(-1);
    srv->set_socket_options([fd](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      *fd = sock;
    });
    int port = address->port;
    if (port == 0) {
      port = srv->bind_to_any_port(address->host);
      if (port < 0) port = 0;
    } else if (!srv->bind_to_port(address->host, port)) {
      port = 0;
    }
    if (port == 0) {
      return tl::unexpected(std::string(spec.name) + ": cannot listen on " + *spec.address +
                            " (address in use or not local?)");
    }
    if (*fd >= 0) ::listen(*fd, 4096);
    ports_[i] = port;
    httplib::Server* raw = srv.get();
    servers_.push_back(std::move(srv));
    threads_.emplace_back([raw] { raw->listen_after_bind(); });
    // httplib's stop() does nothing until the listener thread has marked itself running; a Stop()
    // that came first would leave that thread accepting forever and Stop() joining it forever.
    // So the listener is running before Start returns (bounded: it only has to enter its loop).
    for (int i_wait = 0; i_wait < 5000 && !raw->is_running(); ++i_wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    spdlog::info("verb=listen listener={} address={}:{} threads={} tls={}", spec.name,
                 address->host, port, spec.threads, config_.tls.Enabled());
  }
  return {};
}

void ExtenderServer::Stop() {
  for (auto& srv : servers_) InterruptConnections(*srv);
  for (auto& srv : servers_) srv->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  servers_.clear();
}

}  // namespace gangsched::api
