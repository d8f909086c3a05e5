// The web page of `GET /` (DESIGN.md §2): racks and nodes as a GPU heat map, gangs and why each
// waits. Three files compiled into the binary (web/index.html, web/page.css, web/page.js, served
// beside each other as /, /page.css and /page.js; nothing fetched from elsewhere: clusters are
// often air-gapped). It reads only the JSON views
// (/api/v1/state, /api/v1/gangs) through relative URLs, so it works behind kubectl port-forward and
// proxies. Owns no state and touches nothing of the engine.
#pragma once

#include <string_view>

namespace gangsched::web {

// The page, served as `text/html; charset=utf-8`; it loads the two below by relative URLs.
std::string_view WebPage();
// page.css (`text/css; charset=utf-8`) and page.js (`text/javascript; charset=utf-8`).
std::string_view WebPageStyle();
std::string_view WebPageScript();

// The Content-Security-Policy the three are served with: script and style only from the page's own
// origin — no inline script, style or style attribute ('unsafe-inline'), so markup that got into
// the page could run nothing — and fetches to its own origin only. Text from the API is inserted
// as text (textContent), never as markup; the policy is the second line of defence against a pod
// or gang name that carries markup.
std::string_view WebPageSecurityPolicy();

}  // namespace gangsched::web
