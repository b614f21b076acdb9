"""The page's network on real headless Firefox ESR over WebDriver BiDi, against pages a thread
serves on 127.0.0.1 (which logs every request it answers): a mocked API response the page
renders, blocked images, a HAR whose entries are the requests the server saw, response waits,
and ``tether firefox navigate URL --har FILE``."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time

import pytest

import tether
from tether.errors import Timeout

from .conftest import launched_bidi_firefox
from .test_firefox_cli import tether as run_tether

pytestmark = pytest.mark.real

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# The page renders the API's items as text (never as HTML), shows its picture, and fetches a
# slow endpoint on a click. The empty icon keeps Firefox from asking for /favicon.ico.
PAGE = """<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,"></head><body>
<img id="logo" src="/img/logo.png"><ul id="items"></ul><p id="slow"></p>
<button id="load" onclick="fetch('/api/slow').then(r => r.text()).then(t => slow.textContent = t)">
load</button>
<script>
fetch('/api/items?page=1').then(r => r.json()).then(items => {
  for (const it of items) {
    const li = document.createElement('li'); li.textContent = it.name; items_el.append(li);
  }
  document.title = 'Shop: ' + items.length;
});
const items_el = document.getElementById('items'), slow = document.getElementById('slow');
</script></body></html>"""


class Site(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, int]] = []  # (path, status) of every request answered

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Site
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path
        if path == "/" or path.startswith("/?"):
            status, ctype, body = 200, "text/html; charset=utf-8", PAGE.encode()
        elif path.startswith("/api/items"):
            status, ctype, body = 200, "application/json", json.dumps([{"name": "real"}]).encode()
        elif path == "/api/slow":
            time.sleep(0.3)
            status, ctype, body = 200, "text/plain", b"slow done"
        elif path == "/img/logo.png":
            status, ctype, body = 200, "image/png", PNG_1PX
        else:
            status, ctype, body = 404, "text/plain", b"no such page"
        self.server.seen.append((path, status))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = Site()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def bidi_ff(tmp_path_factory):
    """One Firefox with the Remote Agent for this module (tether launches it), quit after it."""
    with launched_bidi_firefox(tmp_path_factory.mktemp("state")) as rec:
        yield rec


@pytest.fixture
def ff(bidi_ff, site):
    site.seen.clear()
    with tether.connect("firefox", port=bidi_ff.port, timeout=15, bidi=True) as session:
        yield session


def test_a_mocked_api_response_is_what_the_page_renders(ff, site):
    route = ff.route("**/api/items*", json=[{"name": "<b>mocked</b>"}, {"name": "two"}])
    ff.navigate(site.base + "/")
    ff.wait_for(title="Shop: 2")
    assert [li.text for li in ff.find_all("#items li")] == ["<b>mocked</b>", "two"]
    assert route.hits == 1
    assert not any(p.startswith("/api/items") for p, _ in site.seen)  # the server was never asked
    assert ff.unroute("**/api/items*") == 1
    ff.navigate(site.base + "/?again")
    ff.wait_for(title="Shop: 1")
    assert ff.find("#items li").text == "real"


def test_blocked_images_never_reach_the_server(ff, site):
    ff.block("**/*.png")
    with ff.expect_request("**/img/logo.png") as seen:
        ff.navigate(site.base + "/")
    ff.wait_for_network_idle(idle=0.2, timeout=5)
    assert ff.execute("return document.getElementById('logo').naturalWidth") == 0
    assert ("/img/logo.png", 200) not in site.seen and ("/", 200) in site.seen
    assert seen.value.routed == "blocked" and seen.value.failure  # Firefox's error text (NS_ERROR_ABORT)


def test_a_har_lists_the_requests_the_server_answered(ff, site, tmp_path):
    path = tmp_path / "run.har"
    with ff.record_har(path):
        ff.navigate(site.base + "/")
        ff.wait_for(title="Shop: 1")
        ff.wait_for_network_idle(idle=0.2, timeout=5)
    log = json.loads(path.read_text())["log"]
    assert log["version"] == "1.2" and log["browser"]["version"] == ff.capabilities["browserVersion"] != ""
    served = [e for e in log["entries"] if e["request"]["url"].startswith(site.base)]  # not the data: icon
    got = sorted((e["request"]["url"].removeprefix(site.base), e["response"]["status"]) for e in served)
    assert got == sorted(site.seen) and len(got) == 3  # the page, its picture, its API call
    api = next(e for e in log["entries"] if "/api/items" in e["request"]["url"])
    assert json.loads(api["response"]["content"]["text"]) == [{"name": "real"}]  # a text body
    assert api["request"]["queryString"] == [{"name": "page", "value": "1"}]
    assert any(h["name"] == "User-Agent" for h in api["request"]["headers"])
    assert api["response"]["content"]["mimeType"].startswith("application/json")
    png = next(e for e in log["entries"] if e["request"]["url"].endswith(".png"))
    assert "text" not in png["response"]["content"] and png["response"]["content"]["size"] == len(PNG_1PX)
    for e in served:
        assert e["time"] >= 0 and e["startedDateTime"].endswith("Z")
        assert all(v >= -1 for v in e["timings"].values())


def test_waiting_for_a_response_the_click_caused(ff, site):
    ff.navigate(site.base + "/")
    with ff.expect_response("**/api/slow", status=200, timeout=5) as resp:
        ff.click("#load")
    assert resp.value.response.status == 200 and resp.value.url == site.base + "/api/slow"
    assert ff.find("#slow").text in ("", "slow done")  # the response came; the page may not have drawn yet
    started = time.monotonic()
    with pytest.raises(Timeout, match="never"), ff.expect_response("**/never", timeout=0.5):
        pass
    assert time.monotonic() - started < 3


def test_cli_navigate_writes_a_har(bidi_ff, site, tmp_path):
    site.seen.clear()
    har = tmp_path / "cli.har"
    run_tether(
        "navigate", site.base + "/", "--har", str(har), "--port", str(bidi_ff.port), state=tmp_path / "st"
    )
    entries = json.loads(har.read_text())["log"]["entries"]
    urls = {e["request"]["url"].removeprefix(site.base) for e in entries}
    assert {"/", "/img/logo.png", "/api/items?page=1"} <= urls
    assert {u for u in urls if u.startswith("/")} == {p for p, _ in site.seen}


# ----------------------------------------------------------------------------- the trace of a failed test
TRACED_PROJECT = """
import os

BASE = os.environ["SITE"]


def test_a_checkout_that_fails(firefox):
    firefox.route("**/api/items*", json=[{"name": "<img src=x onerror=window.pwned=1>"}])
    firefox.navigate(BASE + "/")
    firefox.wait_for(title="Shop: 1")
    firefox.execute("console.log('<script>window.pwned=2</script>')")
    firefox.find("#load").click()
    assert firefox.title == "<b>paid</b>", "the page never said <b>paid</b>"


def test_a_passing_one(firefox):
    firefox.navigate(BASE + "/")
"""


def test_a_failing_test_leaves_a_trace_firefox_opens_with_a_screenshot_per_step(bidi_ff, site, tmp_path):
    from .test_pytest_plugin import plugin_args

    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_shop.py").write_text(TRACED_PROJECT)
    artifacts = tmp_path / "artifacts"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "-rA",
         "--basetemp", str(tmp_path / "basetemp"), "--tether-firefox-port", str(bidi_ff.port),
         "--tether-trace=on-failure", "--tether-har", "--tether-artifacts", str(artifacts)],
        cwd=project, capture_output=True, text=True, timeout=120, env={**os.environ, "SITE": site.base},
    )  # fmt: skip
    assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    failed = artifacts / "test_shop.py_test_a_checkout_that_fails"
    trace, har = failed / "trace.html", failed / "network.har"
    assert f"trace: {trace}" in proc.stdout and f"network HAR: {har}" in proc.stdout
    assert sorted(p.name for p in artifacts.iterdir()) == [failed.name]  # the passing test: nothing
    har_urls = [e["request"]["url"] for e in json.loads(har.read_text())["log"]["entries"]]
    assert site.base + "/" in har_urls and site.base + "/api/slow" in har_urls

    with tether.connect("firefox", port=bidi_ff.port, timeout=15) as ff:
        ff.navigate(trace.as_uri())
        ff.wait_until(
            lambda: ff.execute("return [...document.images].every(i => i.complete)"), timeout=5, what="images"
        )
        names = [s.text for s in ff.find_all("#steps li.step .name")]
        # route, navigate, wait_for, execute, find, element.click, then the test's own failure
        assert [n.split(" ")[1] for n in names] == [
            "route", "navigate", "wait_for", "execute", "find", "element.click", "test",
        ], names  # fmt: skip
        assert "#load" in names[5]  # the element's step names the selector that found it
        loaded = ff.execute(
            "return [...document.querySelectorAll('#steps li.step img.thumb')].map(i => i.naturalWidth > 0)"
        )
        assert loaded == [True] * len(names)  # one screenshot per step, each loaded
        marked = ff.find_all("#steps li.failure")
        assert len(marked) == 1 and marked[0].attr("data-index") == str(len(names) - 1)
        assert ff.execute("return document.body.dataset.selected") == str(len(names) - 1)  # opens there
        assert "never said <b>paid</b>" in ff.find("#failure").text  # the message, as text
        ff.press("ArrowLeft")
        ff.press("ArrowLeft")
        assert ff.execute("return document.body.dataset.selected") == str(len(names) - 3)
        assert ff.find("#step-title").text == f"{len(names) - 2}. find #load"
        ff.press("ArrowLeft")
        assert ff.find("#step-title").text.startswith(f"{len(names) - 3}. execute")
        assert "<script>window.pwned=2</script>" in ff.find("#console").text  # the console, as text
        ff.press("Home")
        assert "<img src=x onerror=window.pwned=1>" in ff.find("#step-title").text  # route's args, as text
        ff.press("ArrowRight")
        assert ff.find("#step-title").text.startswith("2. navigate")
        assert f"GET 200 {site.base}/" in ff.find("#net").text  # the page's request, in its step
        # app text never became markup: no script ran, no element came from it
        planted = (
            "return [window.pwned, document.querySelectorAll('b:not(#title), img:not(.thumb, #shot)').length]"
        )
        assert ff.execute(planted) == [None, 0]
