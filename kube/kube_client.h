// The Kubernetes API client (issue 4, reference/extender-protocol.md §4): connection settings from
// a kubeconfig or the in-cluster service account, plain HTTP(S) requests on cpp-httplib, and the
// parser of the watch stream (newline-delimited events). Owns transport and credentials only: it
// knows nothing of gangs or of the engine (kube/state_source.h applies what it reads). Every call
// returns values; no exception leaves this unit.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace gangsched::kube {

// Where and how to reach the API server.
struct KubeConfig {
  std::string server;  // "https://host:port" (a path prefix is kept: "https://h/k8s")
  std::string ca_pem;  // trusted CA certificates (PEM); empty: the system's store
  bool insecure_skip_tls_verify = false;
  std::string token;       // bearer token given inline
  std::string token_file;  // bearer token re-read on every request (projected tokens rotate)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string source;  // "kubeconfig FILE (context C)" or "in-cluster", for messages
};

// Reads a kubeconfig (current-context; its cluster and user). Relative file paths resolve against
// the kubeconfig's directory, as kubectl does. Errors name the file and the field.
tl::expected<KubeConfig, std::string> LoadKubeconfig(const std::string& path);
tl::expected<KubeConfig, std::string> ParseKubeconfig(std::string_view text,
                                                      const std::string& path);

// In-cluster settings (§4.3): https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token
// and CA of the service account directory (default /var/run/secrets/kubernetes.io/serviceaccount).
tl::expected<KubeConfig, std::string> InClusterConfig(
    std::string_view account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// One answer. `status` 0 means no HTTP answer (connection failed; `error` says why).
struct KubeResponse {
  int status = 0;
  std::string body;
  std::string error;
  bool Ok() const { return status >= 200 && status < 300; }
  // "HTTP 404: the server could not find the requested resource" (the Status message when the
  // body is a Status) or the transport error.
  std::string Describe() const;
};

// A Status object (metav1.Status) as the server sends it in error bodies and ERROR watch events.
struct KubeStatus {
  int code = 0;
  std::string reason;   // "Expired", "Conflict", "NotFound", ...
  std::string message;  // "too old resource version: 5 (100)"
};
// Decodes a Status; nothing when the text is not one.
std::optional<KubeStatus> DecodeStatus(std::string_view json);

enum class WatchEventType : std::uint8_t { kAdded, kModified, kDeleted, kBookmark, kError };
const char* WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  std::string object;            // the object's JSON verbatim
  std::string resource_version;  // the object's metadata.resourceVersion ("" for ERROR)
  KubeStatus status;             // ERROR: the Status (code 410 = too old resource version)
};

// Splits a watch response body into events. The body arrives in arbitrary chunks: an event may be
// split anywhere, several may come in one chunk.
class WatchStreamParser {
 public:
  // Feeds a chunk; calls `on_event` for every complete event. Returns an error (naming the line)
  // when a complete line is not a watch event; the stream is then unusable.
  tl::expected<void, std::string> Feed(std::string_view chunk,
                                       const std::function<void(WatchEvent)>& on_event);
  // Bytes of an unfinished event held back.
  std::size_t Pending() const { return buffer_.size(); }

 private:
  std::string buffer_;
};
tl::expected<WatchEvent, std::string> DecodeWatchEvent(std::string_view line);

// One page of a List: the items' JSON verbatim, the list's resourceVersion and continue token.
struct ListPage {
  std::vector<std::string> items;
  std::string resource_version;
  std::string continue_token;
};
tl::expected<ListPage, std::string> DecodeListPage(std::string_view json);

// Requests to one API server. Thread-safe: each call uses a connection of its own (httplib clients
// are not shared between threads). Short calls (Get, Post, MergePatch) take a kept-alive
// connection from a small pool and put it back: a TLS handshake per Binding made gangsched's binds
// CPU-bound (benchmarks/e2e_throughput.py). Streams (watches) always open their own. Stop() aborts
// calls in flight (watches) from any thread.
class KubeClient {
 public:
  explicit KubeClient(KubeConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeConfig& config() const { return config_; }

  KubeResponse Get(const std::string& path, int timeout_seconds = 60);
  KubeResponse Post(const std::string& path, const std::string& body, int timeout_seconds = 30);
  // JSON merge patch (application/merge-patch+json).
  KubeResponse MergePatch(const std::string& path, const std::string& body,
                          int timeout_seconds = 30);
  // A streaming GET: `on_chunk` sees the body as it arrives (only when the status is 200; other
  // statuses come back with their whole body) and returns false to stop reading.
  KubeResponse Stream(const std::string& path, int timeout_seconds,
                      const std::function<bool(std::string_view)>& on_chunk);
  // Aborts every call in flight and makes later calls fail at once.
  void Stop();

 private:
  std::unique_ptr<httplib::ClientImpl> Connect(int timeout_seconds, std::string& error) const;
  using Call = std::function<httplib::Result(httplib::ClientImpl& client, const std::string& path,
                                             const httplib::Headers& headers)>;
  // Connects (or, with `pooled`, takes an idle kept-alive connection), adds the headers
  // (Authorization re-read), tracks the call for Stop(), runs `call`. A pooled connection that
  // fails at the transport level (the server closed it while idle) is dropped and the call made
  // once more on a new one.
  KubeResponse Run(const std::string& method, const std::string& path, int timeout_seconds,
                   const Call& call, bool pooled = false);
  KubeResponse RunOnce(const std::string& method, const std::string& path, int timeout_seconds,
                       const Call& call, std::unique_ptr<httplib::ClientImpl> client, bool pooled);
  // The Authorization header value ("" without credentials); re-reads token_file.
  std::string Authorization() const;
  void Track(httplib::ClientImpl* client, bool add);

  KubeConfig config_;
  std::string host_;
  int port_ = 443;
  bool tls_ = true;
  std::string prefix_;  // path prefix of the server URL
  std::atomic<bool> stopped_{false};
  std::mutex mu_;  // guards live_ and idle_
  std::vector<httplib::ClientImpl*> live_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;  // kept-alive, ready for a short call
  static constexpr std::size_t kMaxIdle = 32;
  // At most kMaxIdle short calls at once, so a burst (many gangs released together, each posting
  // its Bindings in parallel) reuses the pool instead of opening hundreds of TLS connections.
  std::counting_semaphore<kMaxIdle> short_calls_{kMaxIdle};
};

// Percent-encodes a query value (continue tokens, selectors).
std::string QueryEscape(std::string_view value);

}  // namespace gangsched::kube
