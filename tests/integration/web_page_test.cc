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

#include "api/extender_service.h"
#include "config/config.h"
#include "tests/integration/in_process_server.h"

namespace gangsched::api {

using web::WebPage;
using web::WebPageSecurityPolicy;
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
  // The page reads the JSON views, relative to where it was served from.
  CHECK(page->body.find("./api/v1/state") != std::string::npos);
  CHECK(page->body.find("./api/v1/gangs") != std::string::npos);

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
  const std::string page(WebPage());
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

}  // namespace
}  // namespace gangsched::api
