// GET / (DESIGN.md §2 "a web page"): served on the listeners that serve the GET views, in-process
// on port 0, and the page's own source kept free of markup injection and outside resources.
#include "web/web_page.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <string_view>

#include "api/extender_service.h"
#include "config/config.h"
#include "tests/integration/in_process_server.h"

namespace gangsched::api {

using web::WebPage;
using web::WebPageScript;
using web::WebPageSecurityPolicy;
using web::WebPageStyle;
namespace {

// gangsched on the two-rack fixture with its main, bind and ops listeners on free ports.
class WebServer {
 public:
  WebServer() : gs_(TwoRacksWithOps()) {}

  int port(const std::string& listener) const {
    if (listener == "main") return gs_.server().main_port();
    if (listener == "ops") return gs_.server().ops_port();
    return gs_.server().bind_port();
  }

 private:
  static config::Config TwoRacksWithOps() {
    config::Config c;
    c.cluster_file =
        std::string(GANGSCHED_SOURCE_DIR) + "/tests/fixtures/extender/cluster-two-racks.json";
    c.ops_listen = "127.0.0.1:0";
    c.threads.filter = 2;
    c.threads.bind = 2;
    c.threads.ops = 2;
    return c;
  }
  InProcessServer gs_;
};

httplib::Result Get(int port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(30, 0);
  return cli.Get(path.c_str());
}

TEST_CASE("GET / serves the web page on the main and ops listeners", "[server][web]") {
  WebServer server;
  const std::string listener = GENERATE("main", "ops");
  INFO("listener " << listener);
  const int port = server.port(listener);

  auto page = Get(port, "/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(page->get_header_value("Content-Security-Policy") == WebPageSecurityPolicy());
  CHECK(page->body == WebPage());
  // Its style and script beside it, by relative URLs (so under kubectl proxy's path too).
  CHECK(page->body.find(R"(<link rel="stylesheet" href="page.css">)") != std::string::npos);
  CHECK(page->body.find(R"(<script src="page.js"></script>)") != std::string::npos);
  struct File {
    const char* path;
    std::string_view text;
    const char* type;
  };
  for (const File& f : {File{"/page.css", WebPageStyle(), "text/css; charset=utf-8"},
                        File{"/page.js", WebPageScript(), "text/javascript; charset=utf-8"}}) {
    INFO(f.path);
    auto got = Get(port, f.path);
    REQUIRE(got);
    CHECK(got->status == 200);
    CHECK(got->get_header_value("Content-Type") == f.type);
    CHECK(got->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(got->body == f.text);
  }
  // The script reads the JSON views, relative to where the page was served from.
  auto script = Get(port, "/page.js");
  REQUIRE(script);
  CHECK(script->body.find("./api/v1/state") != std::string::npos);
  CHECK(script->body.find("./api/v1/gangs") != std::string::npos);

  // The views it reads are there on the same listener, with what it draws the racks from.
  auto state = Get(port, "/api/v1/state");
  REQUIRE(state);
  REQUIRE(state->status == 200);
  const auto json = nlohmann::json::parse(state->body);
  CHECK(json.at("levels") == nlohmann::json::array({"block", "rack"}));  // broad to narrow
  CHECK(json.at("nodes").at(0).at("domains").size() == 2);
  auto gangs = Get(port, "/api/v1/gangs");
  REQUIRE(gangs);
  CHECK(gangs->status == 200);

  // Other paths keep their JSON 404.
  for (const char* path : {"/index.html", "/favicon.ico", "/api", "/state"}) {
    INFO(path);
    auto missing = Get(port, path);
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->get_header_value("Content-Type") == "application/json");
    CHECK(nlohmann::json::parse(missing->body).contains("Error"));
  }
}

TEST_CASE("GET / is a view: POST answers 405, the bind listener does not serve it",
          "[server][web]") {
  WebServer server;
  httplib::Client cli("127.0.0.1", server.port("main"));
  auto post = cli.Post("/", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(nlohmann::json::parse(post->body).contains("Error"));

  auto on_bind = Get(server.port("bind"), "/");
  REQUIRE(on_bind);
  CHECK(on_bind->status == 404);
  CHECK(nlohmann::json::parse(on_bind->body).contains("Error"));
}

TEST_CASE("the web page inserts no markup and loads nothing from elsewhere", "[web]") {
  const std::string page =
      std::string(WebPage()) + std::string(WebPageStyle()) + std::string(WebPageScript());
  // API text (pod, gang, node names) goes in as text: no markup-parsing sinks at all.
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                           "DOMParser", "createContextualFragment", "eval("}) {
    INFO(sink);
    CHECK(page.find(sink) == std::string::npos);
  }
  // Air-gapped clusters: no absolute URLs, no protocol-relative ones, no imports.
  CHECK_FALSE(std::regex_search(page, std::regex("https?:", std::regex::icase)));
  CHECK_FALSE(std::regex_search(page, std::regex(R"((src|href)\s*=\s*["']?//)")));
  CHECK(page.find("@import") == std::string::npos);
  // The policy it is served with keeps it so.
  const std::string csp(WebPageSecurityPolicy());
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
}

// Markup that got into the page (a name that slipped past textContent) could run as inline script
// or style while the policy allowed 'unsafe-inline' (issue 15). The policy allows script and style
// only as the page's own files, and the page has no inline script, style, style attribute or
// event-handler attribute that such a policy would block.
TEST_CASE("the web page runs under a policy without 'unsafe-inline'", "[web]") {
  const std::string csp(WebPageSecurityPolicy());
  CHECK(csp.find("'unsafe-inline'") == std::string::npos);
  CHECK(csp.find("'unsafe-eval'") == std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("style-src 'self'") != std::string::npos);
  const std::string html(WebPage());
  CHECK_FALSE(std::regex_search(html, std::regex(R"(<script(?![^>]*\bsrc=)[^>]*>)")));
  CHECK(html.find("<style") == std::string::npos);
  CHECK_FALSE(std::regex_search(html, std::regex(R"(\s(style|on[a-z]+)\s*=)", std::regex::icase)));
  const std::string script(WebPageScript());
  CHECK(script.find("setAttribute('style'") == std::string::npos);
  CHECK(script.find("setAttribute(\"style\"") == std::string::npos);
}

}  // namespace
}  // namespace gangsched::api
