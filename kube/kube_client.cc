#include "kube/kube_client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "k8s/objects_yaml.h"

namespace gangsched::kube {
namespace {

namespace od = simdjson::ondemand;
using k8s::Child;
using k8s::Position;
using k8s::PositionOf;

tl::expected<std::string, std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> Base64Decode(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// ---- Kubeconfig ---------------------------------------------------------------------------------

// Present and not `null` (Child gives a null node for absent keys).
bool Present(const YAML::Node& node) { return node && !node.IsNull(); }

struct KubeconfigReader {
  const std::string& path;
  std::string dir;

  std::string At(const YAML::Node& node) const {
    const Position p = PositionOf(node);
    if (p.line == 0) return path;
    return path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  }
  // A named entry of `contexts`, `clusters` or `users`; its inner map (`context`, ...).
  tl::expected<YAML::Node, std::string> Named(const YAML::Node& root, const char* list,
                                              const char* inner, const std::string& name) const {
    const YAML::Node entries = Child(root, list);
    if (Present(entries) && entries.IsSequence()) {
      for (const YAML::Node& entry : entries) {
        const YAML::Node n = Child(entry, "name");
        if (Present(n) && n.IsScalar() && n.Scalar() == name) {
          const YAML::Node body = Child(entry, inner);
          if (!Present(body) || !body.IsMap()) {
            return tl::unexpected(At(entry) + ": " + list + "[name=" + name + "]." + inner +
                                  " is missing or not a map");
          }
          return body;
        }
      }
    }
    return tl::unexpected(path + ": " + list + " has no entry named \"" + name +
                          "\"; fix the kubeconfig or choose another context");
  }
  tl::expected<std::string, std::string> Scalar(const YAML::Node& map, const char* key,
                                                const std::string& where) const {
    const YAML::Node v = Child(map, key);
    if (!Present(v)) return std::string();
    if (!v.IsScalar())
      return tl::unexpected(At(v) + ": " + where + "." + key + " must be a string");
    return v.Scalar();
  }
  std::string Resolve(const std::string& file) const {
    if (file.empty() || file.front() == '/' || dir.empty()) return file;
    return dir + "/" + file;
  }
  // `<key>-data` (base64) or `<key>` (a file): the PEM text, or "" when neither is set.
  tl::expected<std::string, std::string> Pem(const YAML::Node& map, const std::string& key,
                                             const std::string& where) const {
    auto data = Scalar(map, (key + "-data").c_str(), where);
    if (!data) return data;
    if (!data->empty()) {
      auto decoded = Base64Decode(*data);
      if (!decoded) {
        return tl::unexpected(At(Child(map, (key + "-data").c_str())) + ": " + where + "." + key +
                              "-data is not base64; paste the PEM file base64-encoded");
      }
      return *decoded;
    }
    auto file = Scalar(map, key.c_str(), where);
    if (!file) return file;
    if (file->empty()) return std::string();
    auto text = ReadWholeFile(Resolve(*file));
    if (!text) {
      return tl::unexpected(At(Child(map, key.c_str())) + ": " + where + "." + key + ": " +
                            text.error() + "; fix the path (relative paths are relative to the " +
                            "kubeconfig's directory)");
    }
    return *text;
  }
};

struct ParsedUrl {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string prefix;
};

tl::expected<ParsedUrl, std::string> ParseServerUrl(std::string_view url) {
  ParsedUrl out;
  std::string_view rest = url;
  if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
    out.tls = false;
    out.port = 80;
  } else {
    return tl::unexpected("server \"" + std::string(url) +
                          "\" must start with https:// (or http://)");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.prefix = std::string(rest.substr(slash));
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:6443
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return tl::unexpected("server \"" + std::string(url) + "\" has an unclosed IPv6 address");
    }
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port_text = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return tl::unexpected("server \"" + std::string(url) + "\" has no host");
  if (!port_text.empty()) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535) {
      return tl::unexpected("server \"" + std::string(url) + "\" has an invalid port");
    }
    out.port = port;
  }
  return out;
}

}  // namespace

tl::expected<KubeConfig, std::string> ParseKubeconfig(std::string_view text,
                                                      const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return tl::unexpected(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  try {
    KubeconfigReader r{path, std::filesystem::path(path).parent_path().string()};
    if (!root.IsMap()) return tl::unexpected(path + ": a kubeconfig must be a YAML map");
    auto context_name = r.Scalar(root, "current-context", "kubeconfig");
    if (!context_name) return tl::unexpected(context_name.error());
    if (context_name->empty()) {
      return tl::unexpected(path +
                            ": current-context is not set; run `kubectl config use-context NAME` "
                            "or pass a kubeconfig that sets it");
    }
    auto context = r.Named(root, "contexts", "context", *context_name);
    if (!context) return tl::unexpected(context.error());
    const std::string cwhere = "contexts[name=" + *context_name + "].context";
    auto cluster_name = r.Scalar(*context, "cluster", cwhere);
    if (!cluster_name) return tl::unexpected(cluster_name.error());
    if (cluster_name->empty()) {
      return tl::unexpected(r.At(*context) + ": " + cwhere + ".cluster is not set");
    }
    auto user_name = r.Scalar(*context, "user", cwhere);
    if (!user_name) return tl::unexpected(user_name.error());

    KubeConfig out;
    out.source = "kubeconfig " + path + " (context " + *context_name + ")";
    auto cluster = r.Named(root, "clusters", "cluster", *cluster_name);
    if (!cluster) return tl::unexpected(cluster.error());
    const std::string where = "clusters[name=" + *cluster_name + "].cluster";
    auto server = r.Scalar(*cluster, "server", where);
    if (!server) return tl::unexpected(server.error());
    if (server->empty()) {
      return tl::unexpected(r.At(*cluster) + ": " + where +
                            ".server is not set; give the API server's URL");
    }
    if (auto url = ParseServerUrl(*server); !url) {
      return tl::unexpected(r.At(Child(*cluster, "server")) + ": " + where + "." + url.error());
    }
    out.server = *server;
    auto ca = r.Pem(*cluster, "certificate-authority", where);
    if (!ca) return tl::unexpected(ca.error());
    out.ca_pem = *ca;
    if (const YAML::Node insecure = Child(*cluster, "insecure-skip-tls-verify");
        Present(insecure)) {
      if (!insecure.IsScalar() || (insecure.Scalar() != "true" && insecure.Scalar() != "false")) {
        return tl::unexpected(r.At(insecure) + ": " + where +
                              ".insecure-skip-tls-verify must be true or false");
      }
      out.insecure_skip_tls_verify = insecure.Scalar() == "true";
    }

    if (!user_name->empty()) {
      auto user = r.Named(root, "users", "user", *user_name);
      if (!user) return tl::unexpected(user.error());
      const std::string uwhere = "users[name=" + *user_name + "].user";
      for (const char* unsupported : {"exec", "auth-provider", "username"}) {
        if (const YAML::Node n = Child(*user, unsupported); Present(n)) {
          return tl::unexpected(r.At(n) + ": " + uwhere + "." + unsupported +
                                " is not supported by gangsched; use a token, tokenFile or a "
                                "client certificate (e.g. a ServiceAccount token)");
        }
      }
      auto token = r.Scalar(*user, "token", uwhere);
      if (!token) return tl::unexpected(token.error());
      out.token = *token;
      auto token_file = r.Scalar(*user, "tokenFile", uwhere);
      if (!token_file) return tl::unexpected(token_file.error());
      if (!token_file->empty()) {
        out.token_file = r.Resolve(*token_file);
        if (auto t = ReadWholeFile(out.token_file); !t) {
          return tl::unexpected(r.At(Child(*user, "tokenFile")) + ": " + uwhere +
                                ".tokenFile: " + t.error());
        }
      }
      auto cert = r.Pem(*user, "client-certificate", uwhere);
      if (!cert) return tl::unexpected(cert.error());
      auto key = r.Pem(*user, "client-key", uwhere);
      if (!key) return tl::unexpected(key.error());
      if (cert->empty() != key->empty()) {
        return tl::unexpected(r.At(*user) + ": " + uwhere +
                              " has a client certificate without a key (or a key without a "
                              "certificate); give both");
      }
      out.client_cert_pem = *cert;
      out.client_key_pem = *key;
    }
    return out;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

tl::expected<KubeConfig, std::string> LoadKubeconfig(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) return tl::unexpected("--kubeconfig: " + text.error());
  return ParseKubeconfig(*text, path);
}

tl::expected<KubeConfig, std::string> InClusterConfig(std::string_view account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    return tl::unexpected(std::string(
        "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig FILE "
        "or --cluster FILE"));
  }
  KubeConfig out;
  const std::string h(host);
  out.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  out.token_file = std::string(account_dir) + "/token";
  if (auto t = ReadWholeFile(out.token_file); !t) {
    return tl::unexpected("in-cluster config: " + t.error() +
                          "; mount the service account token (automountServiceAccountToken)");
  }
  auto ca = ReadWholeFile(std::string(account_dir) + "/ca.crt");
  if (!ca) return tl::unexpected("in-cluster config: " + ca.error());
  out.ca_pem = *ca;
  out.source = "in-cluster service account (" + out.server + ")";
  return out;
}

// ---- Wire decoding ------------------------------------------------------------------------------

std::string KubeResponse::Describe() const {
  if (status == 0) return error.empty() ? "no answer" : error;
  std::string text = "HTTP " + std::to_string(status);
  if (auto s = DecodeStatus(body); s && !s->message.empty()) return text + ": " + s->message;
  if (!body.empty()) return text + ": " + body.substr(0, 200);
  return text;
}

namespace {

// Reads a Status object's fields from an ondemand object.
bool ReadStatus(od::object object, KubeStatus& out, bool& is_status) {
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v;
    if (field.value().get(v)) return false;
    if (key == "kind") {
      std::string_view kind;
      if (!v.get_string().get(kind)) is_status = kind == "Status";
    } else if (key == "code") {
      std::int64_t code = 0;
      if (!v.get_int64().get(code)) out.code = static_cast<int>(code);
    } else if (key == "reason") {
      std::string_view s;
      if (!v.get_string().get(s)) out.reason = std::string(s);
    } else if (key == "message") {
      std::string_view s;
      if (!v.get_string().get(s)) out.message = std::string(s);
    }
  }
  return true;
}

// metadata.resourceVersion of an object's JSON ("" when absent).
std::string ResourceVersionOf(std::string_view json) {
  thread_local od::parser parser;
  const simdjson::padded_string padded(json);
  od::document doc;
  if (parser.iterate(padded).get(doc)) return {};
  std::string_view rv;
  if (doc["metadata"]["resourceVersion"].get_string().get(rv)) return {};
  return std::string(rv);
}

}  // namespace

std::optional<KubeStatus> DecodeStatus(std::string_view json) {
  if (json.empty() || json.front() != '{') return std::nullopt;
  thread_local od::parser parser;
  const simdjson::padded_string padded(json);
  od::document doc;
  if (parser.iterate(padded).get(doc)) return std::nullopt;
  od::object object;
  if (doc.get_object().get(object)) return std::nullopt;
  KubeStatus status;
  bool is_status = false;
  if (!ReadStatus(object, status, is_status) || !is_status) return std::nullopt;
  return status;
}

const char* WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

tl::expected<WatchEvent, std::string> DecodeWatchEvent(std::string_view line) {
  thread_local od::parser parser;
  const simdjson::padded_string padded(line);
  od::document doc;
  od::object root;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) {
    return tl::unexpected(std::string("a watch event is not a JSON object"));
  }
  WatchEvent event;
  bool has_type = false;
  bool has_object = false;
  for (auto field : root) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return tl::unexpected(std::string("a watch event is not valid JSON"));
    }
    if (key == "type") {
      std::string_view type;
      if (v.get_string().get(type)) return tl::unexpected(std::string("type is not a string"));
      has_type = true;
      if (type == "ADDED") {
        event.type = WatchEventType::kAdded;
      } else if (type == "MODIFIED") {
        event.type = WatchEventType::kModified;
      } else if (type == "DELETED") {
        event.type = WatchEventType::kDeleted;
      } else if (type == "BOOKMARK") {
        event.type = WatchEventType::kBookmark;
      } else if (type == "ERROR") {
        event.type = WatchEventType::kError;
      } else {
        return tl::unexpected("unknown watch event type \"" + std::string(type) + "\"");
      }
    } else if (key == "object") {
      od::object object;
      std::string_view raw;
      if (v.get_object().get(object) || object.raw_json().get(raw)) {
        return tl::unexpected(std::string("object is not a JSON object"));
      }
      event.object = std::string(raw);
      has_object = true;
    }
  }
  if (!has_type || !has_object) {
    return tl::unexpected(std::string("a watch event needs \"type\" and \"object\""));
  }
  if (event.type == WatchEventType::kError) {
    if (auto s = DecodeStatus(event.object)) event.status = *s;
  } else {
    event.resource_version = ResourceVersionOf(event.object);
  }
  return event;
}

tl::expected<void, std::string> WatchStreamParser::Feed(
    std::string_view chunk, const std::function<void(WatchEvent)>& on_event) {
  buffer_.append(chunk);
  std::size_t start = 0;
  while (true) {
    const std::size_t end = buffer_.find('\n', start);
    if (end == std::string::npos) break;
    std::string_view line(buffer_.data() + start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    auto event = DecodeWatchEvent(line);
    if (!event) {
      buffer_.clear();
      return tl::unexpected("watch stream: " + event.error() + " in \"" +
                            std::string(line.substr(0, 120)) + "\"");
    }
    on_event(std::move(*event));
  }
  buffer_.erase(0, start);
  return {};
}

tl::expected<ListPage, std::string> DecodeListPage(std::string_view json) {
  thread_local od::parser parser;
  const simdjson::padded_string padded(json);
  od::document doc;
  od::object root;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) {
    return tl::unexpected(std::string("the list is not a JSON object"));
  }
  ListPage page;
  for (auto field : root) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return tl::unexpected(std::string("the list is not valid JSON"));
    }
    if (key == "metadata") {
      od::object meta;
      if (v.get_object().get(meta)) return tl::unexpected(std::string("metadata is not an object"));
      for (auto m : meta) {
        std::string_view mkey;
        od::value mv;
        if (m.unescaped_key().get(mkey) || m.value().get(mv)) {
          return tl::unexpected(std::string("metadata is not valid JSON"));
        }
        std::string_view s;
        if (mkey == "resourceVersion" && !mv.get_string().get(s)) {
          page.resource_version = std::string(s);
        } else if (mkey == "continue" && !mv.get_string().get(s)) {
          page.continue_token = std::string(s);
        }
      }
    } else if (key == "items") {
      if (v.is_null()) continue;
      od::array items;
      if (v.get_array().get(items)) return tl::unexpected(std::string("items is not an array"));
      std::size_t i = 0;
      for (auto item : items) {
        od::object object;
        std::string_view raw;
        if (item.get_object().get(object) || object.raw_json().get(raw)) {
          return tl::unexpected("items[" + std::to_string(i) + "] is not a JSON object");
        }
        page.items.emplace_back(raw);
        ++i;
      }
    }
  }
  return page;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---- Client -------------------------------------------------------------------------------------

KubeClient::KubeClient(KubeConfig config) : config_(std::move(config)) {
  if (auto url = ParseServerUrl(config_.server)) {
    host_ = url->host;
    port_ = url->port;
    tls_ = url->tls;
    prefix_ = url->prefix;
  }
}

KubeClient::~KubeClient() { Stop(); }

void KubeClient::Stop() {
  stopped_ = true;
  std::lock_guard lock(mu_);
  for (httplib::ClientImpl* client : live_) client->stop();
  idle_.clear();
}

void KubeClient::Track(httplib::ClientImpl* client, bool add) {
  std::lock_guard lock(mu_);
  if (add) {
    live_.push_back(client);
  } else {
    live_.erase(std::remove(live_.begin(), live_.end(), client), live_.end());
  }
}

std::string KubeClient::Authorization() const {
  if (!config_.token_file.empty()) {
    if (auto token = ReadWholeFile(config_.token_file)) {
      std::string t = *token;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
      if (!t.empty()) return "Bearer " + t;
    }
  }
  if (!config_.token.empty()) return "Bearer " + config_.token;
  return {};
}

std::unique_ptr<httplib::ClientImpl> KubeClient::Connect(int timeout_seconds,
                                                         std::string& error) const {
  if (host_.empty()) {
    error = "server \"" + config_.server + "\" of " + config_.source + " is not a valid URL";
    return nullptr;
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (!tls_) {
    client = std::make_unique<httplib::ClientImpl>(host_, port_);
  } else {
    std::unique_ptr<httplib::SSLClient> ssl;
    if (!config_.client_cert_pem.empty()) {
      BIO* cert_bio = BIO_new_mem_buf(config_.client_cert_pem.data(),
                                      static_cast<int>(config_.client_cert_pem.size()));
      BIO* key_bio = BIO_new_mem_buf(config_.client_key_pem.data(),
                                     static_cast<int>(config_.client_key_pem.size()));
      X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
      EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
      BIO_free(cert_bio);
      BIO_free(key_bio);
      if (cert == nullptr || key == nullptr) {
        if (cert != nullptr) X509_free(cert);
        if (key != nullptr) EVP_PKEY_free(key);
        error = config_.source + ": the client certificate or key is not valid PEM";
        return nullptr;
      }
      // The SSL_CTX takes its own references (SSL_CTX_use_certificate/PrivateKey).
      ssl = std::make_unique<httplib::SSLClient>(host_, port_, cert, key);
      X509_free(cert);
      EVP_PKEY_free(key);
    } else {
      ssl = std::make_unique<httplib::SSLClient>(host_, port_);
    }
    if (!ssl->is_valid()) {
      error = config_.source + ": cannot set up TLS (client certificate and key do not match?)";
      return nullptr;
    }
    if (config_.insecure_skip_tls_verify) {
      ssl->enable_server_certificate_verification(false);
    } else if (!config_.ca_pem.empty()) {
      X509_STORE* store = X509_STORE_new();
      BIO* bio = BIO_new_mem_buf(config_.ca_pem.data(), static_cast<int>(config_.ca_pem.size()));
      int added = 0;
      while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        added += X509_STORE_add_cert(store, ca);
        X509_free(ca);
      }
      BIO_free(bio);
      if (added == 0) {
        X509_STORE_free(store);
        error = config_.source + ": the certificate authority is not valid PEM";
        return nullptr;
      }
      ssl->set_ca_cert_store(store);  // owned by the SSL_CTX from here
      ssl->enable_server_certificate_verification(true);
    }
    client = std::move(ssl);
  }
  client->set_connection_timeout(10, 0);
  client->set_read_timeout(timeout_seconds, 0);
  client->set_write_timeout(30, 0);
  client->set_keep_alive(false);
  return client;
}

KubeResponse KubeClient::Run(const std::string& method, const std::string& path,
                             int timeout_seconds, const Call& call, bool pooled) {
  if (stopped_) {
    KubeResponse out;
    out.error = "the API client is stopped";
    return out;
  }
  std::unique_ptr<httplib::ClientImpl> idle;
  struct Slot {
    std::counting_semaphore<kMaxIdle>* sem = nullptr;
    ~Slot() {
      if (sem != nullptr) sem->release();
    }
  } slot;
  if (pooled) {
    short_calls_.acquire();
    slot.sem = &short_calls_;
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      idle = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (idle) {
    idle->set_read_timeout(timeout_seconds, 0);
    KubeResponse out = RunOnce(method, path, timeout_seconds, call, std::move(idle), true);
    // Sent on a connection the server had closed while it was idle: once more on a new one. A
    // repeated Binding is harmless (409 on the same node counts as bound).
    if (out.status != 0 || stopped_) return out;
  }
  KubeResponse out;
  auto client = Connect(timeout_seconds, out.error);
  if (!client) return out;
  if (pooled) client->set_keep_alive(true);
  return RunOnce(method, path, timeout_seconds, call, std::move(client), pooled);
}

KubeResponse KubeClient::RunOnce(const std::string& method, const std::string& path,
                                 int timeout_seconds, const Call& call,
                                 std::unique_ptr<httplib::ClientImpl> client, bool pooled) {
  (void)timeout_seconds;
  KubeResponse out;
  httplib::Headers headers = {{"Accept", "application/json"}};
  if (std::string auth = Authorization(); !auth.empty()) headers.emplace("Authorization", auth);
  Track(client.get(), true);
  httplib::Result result{nullptr, httplib::Error::Canceled};
  if (!stopped_) {  // Stop() may have run between the first check and Track
    try {
      result = call(*client, prefix_ + path, headers);
    } catch (const std::exception& e) {
      out.error = method + " " + path + ": " + e.what();
    }
  }
  Track(client.get(), false);
  if (result) {
    out.status = result->status;
    out.body = std::move(result->body);
    const auto connection = result->get_header_value("Connection");
    if (pooled && !stopped_ && connection != "close") {
      std::lock_guard lock(mu_);
      if (idle_.size() < kMaxIdle) idle_.push_back(std::move(client));
    }
  } else if (out.error.empty()) {
    out.error = method + " " + config_.server + path + ": " + httplib::to_string(result.error());
  }
  return out;
}

KubeResponse KubeClient::Get(const std::string& path, int timeout_seconds) {
  return Run(
      "GET", path, timeout_seconds,
      [](httplib::ClientImpl& c, const std::string& full, const httplib::Headers& h) {
        return c.Get(full, h);
      },
      true);
}

KubeResponse KubeClient::Post(const std::string& path, const std::string& body,
                              int timeout_seconds) {
  return Run(
      "POST", path, timeout_seconds,
      [&body](httplib::ClientImpl& c, const std::string& full, const httplib::Headers& h) {
        return c.Post(full, h, body, "application/json");
      },
      true);
}

KubeResponse KubeClient::MergePatch(const std::string& path, const std::string& body,
                                    int timeout_seconds) {
  return Run(
      "PATCH", path, timeout_seconds,
      [&body](httplib::ClientImpl& c, const std::string& full, const httplib::Headers& h) {
        return c.Patch(full, h, body, "application/merge-patch+json");
      },
      true);
}

KubeResponse KubeClient::Stream(const std::string& path, int timeout_seconds,
                                const std::function<bool(std::string_view)>& on_chunk) {
  int status = 0;
  bool stopped_by_reader = false;
  std::string error_body;  // the body of a non-200 answer
  KubeResponse out =
      Run("GET", path, timeout_seconds,
          [&](httplib::ClientImpl& c, const std::string& full, const httplib::Headers& h) {
            return c.Get(
                full, h,
                [&status](const httplib::Response& response) {
                  status = response.status;
                  return true;
                },
                [&](const char* data, std::size_t size) {
                  if (status != 200) {
                    error_body.append(data, size);
                    return true;
                  }
                  stopped_by_reader = !on_chunk(std::string_view(data, size));
                  return !stopped_by_reader;
                });
          });
  if (stopped_by_reader) return KubeResponse{status, "", ""};
  if (out.status == 0 && status == 200) return out;  // the stream broke: no complete answer
  out.status = status != 0 ? status : out.status;
  out.body = std::move(error_body);
  return out;
}

}  // namespace gangsched::kube
