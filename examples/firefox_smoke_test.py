"""A smoke test of a local web page, driven through tether — run it with pytest.

    pytest examples/firefox_smoke_test.py                 # launches a headless Firefox, quits it after
    TETHER_FIREFOX_PORT=2828 pytest examples/firefox_smoke_test.py   # uses a Firefox already running

The page is served from a temporary directory by Python's own HTTP server; nothing leaves
this machine. Each test opens its own Marionette session (``with Firefox(...)``), so a failing
test never leaves the browser locked for the next one.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator

import pytest

from tether_firefox import Firefox, launch_firefox, quit_firefox

PAGE = """<!doctype html>
<html><head><title>Sign-up</title></head><body>
<form id="signup" onsubmit="event.preventDefault(); done()">
  <label>Email <input id="email" type="email" required></label>
  <button id="submit">Sign up</button>
</form>
<p id="status" role="status"></p>
<script>
function done() {
  const email = document.getElementById("email").value;
  document.getElementById("status").textContent = "Welcome, " + email;
}
</script>
</body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(PAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def marionette_port() -> Iterator[int]:
    """The Firefox to use: ``$TETHER_FIREFOX_PORT``, else one launched here (and quit afterwards)."""
    if os.environ.get("TETHER_FIREFOX_PORT"):
        yield int(os.environ["TETHER_FIREFOX_PORT"])
        return
    browser = launch_firefox(headless=True)
    try:
        yield browser.port
    finally:
        quit_firefox(port=browser.port)


@pytest.fixture
def ff(marionette_port: int) -> Iterator[Firefox]:
    with Firefox(port=marionette_port, timeout=30) as browser:
        yield browser


def test_page_loads_with_its_title(ff: Firefox, site: str) -> None:
    ff.navigate(site)
    assert ff.title == "Sign-up"


def test_signing_up_greets_the_user(ff: Firefox, site: str) -> None:
    ff.navigate(site)
    ff.type("#email", "ada@example.org")
    ff.click("#submit")
    assert ff.wait_for("#status", timeout=5).text == "Welcome, ada@example.org"


def test_empty_email_is_refused_by_the_form(ff: Firefox, site: str) -> None:
    ff.navigate(site)
    ff.click("#submit")
    assert ff.find("#status").text == ""
    assert ff.execute("return document.getElementById('email').validity.valueMissing") is True


def test_page_renders(ff: Firefox, site: str, tmp_path) -> None:
    ff.navigate(site)
    png = ff.screenshot(tmp_path / "signup.png")
    assert png.startswith(b"\x89PNG") and len(png) > 1000
