"""Mock an API, block images, wait for a response, record a HAR — run it with pytest.

    pytest examples/firefox_network_test.py                     # a headless Firefox (with BiDi) for the run
    pytest examples/firefox_network_test.py --tether-trace=on-failure --tether-har --tether-artifacts out/

The network needs WebDriver BiDi: the Firefox the plugin launches runs it; one it attaches to must run
its Remote Agent (``tether firefox launch --bidi``). A failing test here leaves ``out/<test>/trace.html``
(open it in a browser: ← → step through) and ``network.har`` beside its screenshot.

The page is served by Python's own HTTP server on 127.0.0.1; its API is never asked when mocked.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from tether_firefox import Firefox

PAGE = b"""<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,"></head><body>
<img src="/logo.png" id="logo"><ul id="items"></ul>
<script>
fetch("/api/items").then(r => r.json()).then(items => {
  for (const it of items) document.getElementById("items").append(Object.assign(
    document.createElement("li"), {textContent: it.name}));
  document.title = "Shop (" + items.length + ")";
});
</script></body></html>"""


class Shop(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = (PAGE, "text/html") if self.path == "/" else (b'[{"name": "real"}]', "application/json")
        if self.path == "/logo.png":
            body, kind = b"\x89PNG\r\n", "image/png"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_page_lists_what_the_mocked_api_returns(firefox: Firefox, shop: str) -> None:
    firefox.route("**/api/items", json=[{"name": "tea"}, {"name": "cake"}])
    firefox.block("**/*.png")
    with firefox.expect_response("**/api/items", status=200) as resp:
        firefox.navigate(shop + "/")
    assert resp.value.routed == "fulfilled"
    firefox.wait_for(title="Shop (2)")
    assert [li.text for li in firefox.find_all("#items li")] == ["tea", "cake"]
    assert firefox.execute("return document.getElementById('logo').naturalWidth") == 0  # blocked


def test_a_har_of_the_real_page(firefox: Firefox, shop: str, tmp_path) -> None:
    with firefox.record_har(tmp_path / "shop.har"):
        firefox.navigate(shop + "/")
        firefox.wait_for_network_idle()
    entries = json.loads((tmp_path / "shop.har").read_text())["log"]["entries"]
    served = {
        e["request"]["url"]: e["response"]["status"] for e in entries if e["request"]["url"].startswith(shop)
    }
    assert served == {shop + "/": 200, shop + "/logo.png": 200, shop + "/api/items": 200}
