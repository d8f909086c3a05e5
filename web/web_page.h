// The web page of `GET /` (DESIGN.md §2): racks and nodes as a GPU heat map, gangs and why each
// waits. One self-contained HTML document (web/index.html with web/page.css and web/page.js
// inlined at build time; nothing fetched from elsewhere: clusters are often air-gapped). It reads
// only the JSON views
// (/api/v1/state, /api/v1/gangs) through relative URLs, so it works behind kubectl port-forward and
// proxies. Owns no state and touches nothing of the engine.
#pragma once

#include <string_view>

namespace gangsched::web {

// The page, served as `text/html; charset=utf-8`.
std::string_view WebPage();

// The Content-Security-Policy the page is served with: its own inline script and style, fetches to
// its own origin only. Text from the API is inserted as text (textContent), never as markup; the
// policy is the second line of defence against a pod or gang name that carries markup.
std::string_view WebPageSecurityPolicy();

}  // namespace gangsched::web
