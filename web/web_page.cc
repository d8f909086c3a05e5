#include "web/web_page.h"

#include "web/web_page_text.h"  // generated from web/index.html, page.css and page.js (web/CMakeLists.txt)

namespace gangsched::web {

// Rules the page keeps (tests/integration/web_page_test.cc checks the first two):
// - Every string from the API reaches the document through textContent or a property (title),
//   never parsed as markup: pod, gang and node names are user input.
// - Nothing is loaded from another origin (air-gapped clusters; the CSP forbids it anyway).
// - The JSON views are fetched with relative URLs ("./api/v1/state"), so the page works under a
//   path prefix (kubectl proxy) as well as on its own port (kubectl port-forward).
// - 10,000 nodes: a rack is one <canvas>, a node a few pixels in it; the page never creates an
//   element per node or per GPU. Nodes show per-GPU cells up to 2,000 nodes, one cell each above.
std::string_view WebPage() { return kWebPageText; }
std::string_view WebPageStyle() { return kWebStyleText; }
std::string_view WebPageScript() { return kWebScriptText; }

std::string_view WebPageSecurityPolicy() {
  return "default-src 'none'; script-src 'self'; style-src 'self'; "
         "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'";
}

}  // namespace gangsched::web
