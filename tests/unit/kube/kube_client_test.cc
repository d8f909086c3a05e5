// The Kubernetes API client's pure parts: kubeconfig forms and errors, the watch stream parser on
// a recorded kube-apiserver v1.36.3 stream (tests/fixtures/kube/), list pages and Status bodies.
#include "kube/kube_client.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gangsched::kube {
namespace {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/kube/" + name);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gangsched-kc-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = (path / name).string();
    std::ofstream(p) << text;
    return p;
  }
};

constexpr const char* kCertPem =
    "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
constexpr const char* kKeyPem =
    "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n";
// base64 of kCertPem / kKeyPem.
constexpr const char* kCertB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";
constexpr const char* kKeyB64 =
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUVmYWtlCi0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K";

std::string Kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& current = "ctx") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\ncontexts:\n- name: ctx\n  context:\n    cluster: c1\n    user: u1\n"
         "clusters:\n- name: c1\n  cluster:\n" +
         cluster + "users:\n- name: u1\n  user:\n" + user;
}

TEST_CASE("kubeconfig: token, CA data and the current context's cluster") {
  const std::string text =
      Kubeconfig("    server: https://10.0.0.1:6443\n    certificate-authority-data: " +
                     std::string(kCertB64) + "\n",
                 "    token: abc123\n");
  auto kc = ParseKubeconfig(text, "/etc/kc.yaml");
  REQUIRE(kc);
  CHECK(kc->server == "https://10.0.0.1:6443");
  CHECK(kc->ca_pem == kCertPem);
  CHECK(kc->token == "abc123");
  CHECK(kc->client_cert_pem.empty());
  CHECK_FALSE(kc->insecure_skip_tls_verify);
  CHECK(kc->source == "kubeconfig /etc/kc.yaml (context ctx)");
}

TEST_CASE("kubeconfig: client certificate and key inline, insecure-skip-tls-verify") {
  const std::string text =
      Kubeconfig("    server: https://[::1]:6443\n    insecure-skip-tls-verify: true\n",
                 "    client-certificate-data: " + std::string(kCertB64) +
                     "\n    client-key-data: " + std::string(kKeyB64) + "\n");
  auto kc = ParseKubeconfig(text, "kc");
  REQUIRE(kc);
  CHECK(kc->insecure_skip_tls_verify);
  CHECK(kc->client_cert_pem == kCertPem);
  CHECK(kc->client_key_pem == kKeyPem);
}

TEST_CASE("kubeconfig: files relative to the kubeconfig's directory, tokenFile kept as a path") {
  TempDir dir;
  dir.Write("ca.crt", kCertPem);
  dir.Write("admin.crt", kCertPem);
  dir.Write("admin.key", kKeyPem);
  const std::string token = dir.Write("token", "t0\n");
  const std::string path = dir.Write(
      "config", Kubeconfig("    server: https://h:443\n    certificate-authority: ca.crt\n",
                           "    client-certificate: admin.crt\n    client-key: " +
                               (dir.path / "admin.key").string() + "\n    tokenFile: token\n"));
  auto kc = LoadKubeconfig(path);
  REQUIRE(kc);
  CHECK(kc->ca_pem == kCertPem);
  CHECK(kc->client_cert_pem == kCertPem);
  CHECK(kc->client_key_pem == kKeyPem);
  CHECK(kc->token_file == token);
}

TEST_CASE("kubeconfig: the real control plane's JSON kubeconfig") {
  TempDir dir;
  dir.Write("ca.crt", kCertPem);
  dir.Write("admin.crt", kCertPem);
  dir.Write("admin.key", kKeyPem);
  // The shape scripts/controlplane.sh writes (JSON is YAML).
  const std::string path = dir.Write("admin.kubeconfig",
                                     R"({"apiVersion":"v1","kind":"Config","preferences":{},
  "clusters":[{"name":"gangsched-e2e","cluster":{"server":"https://127.0.0.1:48885",
    "certificate-authority":"ca.crt"}}],
  "users":[{"name":"admin","user":{"client-certificate":"admin.crt","client-key":"admin.key"}}],
  "contexts":[{"name":"gangsched-e2e","context":{"cluster":"gangsched-e2e","user":"admin"}}],
  "current-context":"gangsched-e2e"})");
  auto kc = LoadKubeconfig(path);
  REQUIRE(kc);
  CHECK(kc->server == "https://127.0.0.1:48885");
  CHECK(kc->client_cert_pem == kCertPem);
}

TEST_CASE("kubeconfig errors name the file and the field") {
  struct Case {
    std::string text;
    std::vector<std::string> expected;
  };
  const std::string ok_cluster = "    server: https://h:6443\n";
  auto [text, expected] = GENERATE_COPY(values<Case>({
      {Kubeconfig(ok_cluster, "    token: t\n", "\"\""), {"kc.yaml", "current-context is not set"}},
      {Kubeconfig(ok_cluster, "    token: t\n", "other"),
       {"kc.yaml", "contexts has no entry named \"other\""}},
      {Kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"),
       {"kc.yaml:", "clusters[name=c1].cluster.server is not set"}},
      {Kubeconfig("    server: ftp://h\n", "    token: t\n"),
       {"kc.yaml:", "clusters[name=c1].cluster.server", "must start with https://"}},
      {Kubeconfig(ok_cluster + "    certificate-authority-data: '%%%'\n", "    token: t\n"),
       {"kc.yaml:", "certificate-authority-data is not base64"}},
      {Kubeconfig(ok_cluster + "    certificate-authority: /nonexistent/ca.crt\n",
                  "    token: t\n"),
       {"kc.yaml:", "certificate-authority", "cannot read /nonexistent/ca.crt"}},
      {Kubeconfig(ok_cluster, "    exec:\n      command: aws\n"),
       {"kc.yaml:", "users[name=u1].user.exec is not supported"}},
      {Kubeconfig(ok_cluster, "    client-certificate-data: " + std::string(kCertB64) + "\n"),
       {"kc.yaml:", "client certificate without a key"}},
      {Kubeconfig(ok_cluster, "    tokenFile: /nonexistent/token\n"),
       {"kc.yaml:", "tokenFile: cannot read /nonexistent/token"}},
      {"current-context: [unclosed\n", {"kc.yaml:", "not valid YAML"}},
  }));
  auto kc = ParseKubeconfig(text, "kc.yaml");
  REQUIRE_FALSE(kc);
  for (const std::string& part : expected) {
    INFO(kc.error());
    CHECK(kc.error().find(part) != std::string::npos);
  }
}

TEST_CASE("kubeconfig: a missing file is named") {
  auto kc = LoadKubeconfig("/nonexistent/kubeconfig");
  REQUIRE_FALSE(kc);
  CHECK(kc.error() == "--kubeconfig: cannot read /nonexistent/kubeconfig");
}

TEST_CASE("in-cluster config: service host and port, token file and CA of the account dir") {
  TempDir dir;
  dir.Write("token", "tok");
  dir.Write("ca.crt", kCertPem);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto kc = InClusterConfig(dir.path.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  REQUIRE(kc);
  CHECK(kc->server == "https://10.96.0.1:443");
  CHECK(kc->token_file == (dir.path / "token").string());
  CHECK(kc->token.empty());  // re-read on every request, never cached
  CHECK(kc->ca_pem == kCertPem);

  auto outside = InClusterConfig(dir.path.string());
  REQUIRE_FALSE(outside);
  CHECK(outside.error().find("--kubeconfig") != std::string::npos);
}

// ---- Watch stream
// --------------------------------------------------------------------------------

std::vector<WatchEvent> FeedAll(WatchStreamParser& parser, const std::vector<std::string>& chunks) {
  std::vector<WatchEvent> events;
  for (const std::string& chunk : chunks) {
    auto ok = parser.Feed(chunk, [&](WatchEvent e) { events.push_back(std::move(e)); });
    REQUIRE(ok);
  }
  return events;
}

TEST_CASE("watch stream: the recorded stream, split at every byte boundary of its first event") {
  const std::string stream = ReadFixture("pods-watch-stream.jsonl");
  const std::size_t first_end = stream.find('\n') + 1;
  const std::size_t split = GENERATE_COPY(range<std::size_t>(1, 400), first_end - 1, first_end,
                                          first_end + 1, stream.size() - 3);
  WatchStreamParser parser;
  auto events = FeedAll(parser, {stream.substr(0, split), stream.substr(split)});
  REQUIRE(events.size() == 5);
  CHECK(parser.Pending() == 0);
  CHECK(events[0].type == WatchEventType::kAdded);
  CHECK(events[0].resource_version == "216");
  CHECK(events[1].type == WatchEventType::kModified);
  CHECK(events[1].object.find("\"nodeName\":\"gpu-b1-r1-n1\"") != std::string::npos);
  CHECK(events[3].type == WatchEventType::kDeleted);
  CHECK(events[3].resource_version == "219");
  CHECK(events[4].type == WatchEventType::kBookmark);
  CHECK(events[4].resource_version == "219");
  // The object comes out verbatim: it starts and ends as in the stream.
  CHECK(events[0].object.rfind("{\"kind\":\"Pod\"", 0) == 0);
  CHECK(events[0].object.back() == '}');
}

TEST_CASE("watch stream: byte-at-a-time and many events per chunk give the same events") {
  const std::string stream = ReadFixture("pods-watch-stream.jsonl");
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  WatchStreamParser one;
  auto a = FeedAll(one, bytes);
  WatchStreamParser all;
  auto b = FeedAll(all, {stream});
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].type == b[i].type);
    CHECK(a[i].object == b[i].object);
  }
}

TEST_CASE("watch stream: an ERROR event carrying 410 Expired is decoded with its Status") {
  // The form kube-apiserver's cacher sends (reference/extender-protocol.md §4.1).
  const std::string line =
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)j"
      R"j("status":"Failure","message":"too old resource version: 5 (216)","reason":"Expired",)j"
      R"j("code":410}})j"
      "\n";
  WatchStreamParser parser;
  auto events = FeedAll(parser, {line});
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == WatchEventType::kError);
  CHECK(events[0].status.code == 410);
  CHECK(events[0].status.reason == "Expired");
  CHECK(events[0].status.message == "too old resource version: 5 (216)");
}

TEST_CASE("watch stream: a line that is not an event is an error naming it") {
  WatchStreamParser parser;
  auto ok = parser.Feed("{\"type\":\"ADDED\"}\n", [](WatchEvent) { FAIL("no event expected"); });
  REQUIRE_FALSE(ok);
  CHECK(ok.error().find("needs \"type\" and \"object\"") != std::string::npos);
  auto unknown = parser.Feed("{\"type\":\"RENAMED\",\"object\":{}}\n", [](WatchEvent) {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().find("RENAMED") != std::string::npos);
}

// ---- Lists and Status
// ----------------------------------------------------------------------------

TEST_CASE("list pages: the recorded paged NodeList") {
  auto first = DecodeListPage(ReadFixture("nodes-page1.json"));
  REQUIRE(first);
  CHECK(first->items.size() == 2);
  CHECK(first->resource_version == "213");
  CHECK_FALSE(first->continue_token.empty());
  CHECK(first->items[0].find("\"name\": \"gpu-b1-r1-n1\"") != std::string::npos);
  auto last = DecodeListPage(ReadFixture("nodes-page2.json"));
  REQUIRE(last);
  CHECK(last->items.size() == 2);
  CHECK(last->continue_token.empty());
  auto empty =
      DecodeListPage(R"({"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[]})");
  REQUIRE(empty);
  CHECK(empty->items.empty());
  CHECK(empty->resource_version == "9");
  CHECK_FALSE(DecodeListPage("404 page not found"));
}

TEST_CASE("Status bodies: the recorded 409s, and Describe uses the message") {
  auto assigned = DecodeStatus(ReadFixture("binding-409-already-assigned.json"));
  REQUIRE(assigned);
  CHECK(assigned->code == 409);
  CHECK(assigned->reason == "Conflict");
  CHECK(assigned->message.find("is already assigned to node \"gpu-b1-r1-n1\"") !=
        std::string::npos);
  KubeResponse r{409, ReadFixture("binding-409-uid-precondition.json"), ""};
  CHECK(r.Describe().rfind("HTTP 409: Operation cannot be fulfilled on pods", 0) == 0);
  KubeResponse not_found{404, ReadFixture("tfjobs-not-served.txt"), ""};
  CHECK(not_found.Describe() == "HTTP 404: 404 page not found\n");
  CHECK_FALSE(DecodeStatus("404 page not found"));
}

TEST_CASE("query values are percent-encoded") {
  CHECK(QueryEscape("eyJ2Ijo=") == "eyJ2Ijo%3D");
  CHECK(QueryEscape("a b/c") == "a%20b%2Fc");
}

}  // namespace
}  // namespace gangsched::kube
