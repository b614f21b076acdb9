"""A smoke test of a local web page, driven through tether's pytest plugin — run it with pytest.

    pytest examples/firefox_smoke_test.py          # the Firefox running, else a headless one for the run
    pytest examples/firefox_smoke_test.py --tether-firefox-port 2828   # that one (or $TETHER_FIREFOX_PORT)
    pytest examples/firefox_smoke_test.py --tether-launch --tether-artifacts out/   # always a fresh one

The ``firefox`` fixture comes with tether's Firefox adapter (entry point ``pytest11``; without an
installed tether add ``-p tether.pytest_plugin -p tether_firefox.pytest_plugin``). Each test gets its
own Marionette session in a fresh context (a WebDriver BiDi user context and tab: cookies and storage
of its own), so a failing test never leaves the browser locked, on its page or with its cookies for
the next one; a failing test's screenshot and page source are saved and named in the report.

The page is served from a temporary directory by Python's own HTTP server; nothing leaves
this machine.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest

from tether_firefox import Firefox

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


def test_page_loads_with_its_title(firefox: Firefox, site: str) -> None:
    firefox.navigate(site)
    assert firefox.title == "Sign-up"


def test_signing_up_greets_the_user(firefox: Firefox, site: str) -> None:
    firefox.navigate(site)
    firefox.type("#email", "ada@example.org")
    firefox.click("#submit")
    assert firefox.wait_for("#status", timeout=5).text == "Welcome, ada@example.org"


def test_empty_email_is_refused_by_the_form(firefox: Firefox, site: str) -> None:
    firefox.navigate(site)
    firefox.click("#submit")
    assert firefox.find("#status").text == ""
    assert firefox.execute("return document.getElementById('email').validity.valueMissing") is True


def test_page_renders(firefox: Firefox, site: str, tmp_path) -> None:
    firefox.navigate(site)
    png = firefox.screenshot(tmp_path / "signup.png")
    assert png.startswith(b"\x89PNG") and len(png) > 1000
