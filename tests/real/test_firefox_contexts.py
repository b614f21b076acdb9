"""A fresh context per test (issue 21, items 3 and 4): the ``firefox`` fixture gives each test its
own WebDriver BiDi user context and tab, so cookies and localStorage set by one test are not seen
by the next (nor left in the profile's default jar); ``Firefox.new_context()`` does the same in a
script; a Firefox without BiDi falls back to a fresh tab, saying so once; and under pytest-xdist
each worker launches a Firefox of its own, while one Firefox named by port is refused with a
usage error naming ``--tether-launch``. Test projects run in a pytest subprocess."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading

import psutil
import pytest

from .test_pytest_plugin import make_project, run_project

pytestmark = pytest.mark.real

SITE = """
import http.server, threading
import pytest


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<title>site</title><p id=p>site</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
"""

ISOLATION = """
import json, os
from pathlib import Path

OUT = Path(os.environ["PROJECT_OUT"])


def test_a_sets_cookies_and_storage(firefox, site):
    firefox.navigate(site)
    firefox.add_cookie("through_marionette", "1")
    firefox.execute("document.cookie = 'through_page=2; path=/'; localStorage.setItem('k', 'v')")
    assert {c["name"] for c in firefox.cookies()} == {"through_marionette", "through_page"}
    assert firefox.execute("return document.cookie").count("=") == 2  # the page sees both
    # a tab opened by the test is in the same context: it sees the same cookies and storage
    firefox.new_window("tab")
    firefox.navigate(site)
    assert {c["name"] for c in firefox.cookies()} == {"through_marionette", "through_page"}
    assert firefox.execute("return localStorage.getItem('k')") == "v"
    firefox.delete_cookie("through_page")
    assert [c["name"] for c in firefox.cookies()] == ["through_marionette"]
    (OUT / "a.json").write_text(json.dumps({"tab": firefox.window, "context": firefox.user_context}))


def test_b_sees_none_of_them(firefox, site):
    a = json.loads((OUT / "a.json").read_text())
    assert firefox.user_context not in (None, a["context"])
    assert a["tab"] not in firefox.windows()  # test a's tabs went with its context
    firefox.navigate(site)
    assert firefox.cookies() == []
    assert firefox.execute("return [document.cookie, localStorage.getItem('k')]") == ["", None]


def test_c_closes_its_session_itself(firefox, site):
    firefox.navigate(site)
    firefox.close()  # the fixture still removes the user context and its tab
"""


def test_each_firefox_test_gets_a_fresh_context_and_nothing_leaks(tmp_path, bidi_firefox):
    project = make_project(tmp_path)
    (project / "conftest.py").write_text(SITE)
    (project / "test_with_tether.py").write_text(textwrap.dedent(ISOLATION))
    proc = run_project(project, "--tether-firefox-port", str(bidi_firefox.port), "-W", "error::UserWarning")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout

    import tether

    with tether.connect("firefox", port=bidi_firefox.port, bidi=True) as ff, _site() as url:
        assert len(ff.windows()) == 1  # the tests' tabs went with their contexts
        # the Python API: two contexts in a row, the second sees nothing of the first
        with ff.new_context() as page:
            page.navigate(url)
            page.add_cookie("first", "1")
            page.execute("localStorage.setItem('k', 'first')")
            first = page.window
        assert first not in ff.windows() and ff.user_context is None
        with ff.new_context() as page:
            page.navigate(url)
            assert page.cookies() == []
            assert page.execute("return localStorage.getItem('k')") is None
        ff.navigate(url)  # the default context (the profile's jar) saw none of them, nor the tests'
        assert ff.cookies() == [] and ff.execute("return localStorage.getItem('k')") is None


class _Site:
    def __enter__(self) -> str:
        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<title>site</title>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _site() -> _Site:
    return _Site()


FALLBACK = """
def test_one(firefox):
    firefox.navigate("data:text/html,<title>one</title>")
    assert firefox.user_context is None and firefox.title == "one"


def test_two_gets_a_fresh_tab(firefox):
    assert firefox.url == "about:blank"
"""


def test_a_firefox_without_bidi_gives_fresh_tabs_and_says_so_once(tmp_path, firefox_app):
    project = make_project(tmp_path)
    (project / "test_with_tether.py").write_text(textwrap.dedent(FALLBACK))
    proc = run_project(project, "--tether-firefox-port", str(firefox_app.port))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "2 passed, 1 warning" in out, out
    assert out.count("FreshContextWarning") == 1
    assert f"the Firefox on port {firefox_app.port} runs no WebDriver BiDi" in out
    assert "--remote-debugging-port" in out


XDIST = """
import json, os
from pathlib import Path

OUT = Path(os.environ["PROJECT_OUT"])


def record(name, firefox, endpoint):
    firefox.navigate(f"data:text/html,<title>{name}</title>")
    assert firefox.title == name
    worker = os.environ.get("PYTEST_XDIST_WORKER", "none")
    (OUT / f"{name}.json").write_text(json.dumps([worker, endpoint.pid]))


def test_one(firefox, tether_firefox_endpoint):
    record("one", firefox, tether_firefox_endpoint)


def test_two(firefox, tether_firefox_endpoint):
    record("two", firefox, tether_firefox_endpoint)


def test_three(firefox, tether_firefox_endpoint):
    record("three", firefox, tether_firefox_endpoint)


def test_four(firefox, tether_firefox_endpoint):
    record("four", firefox, tether_firefox_endpoint)
"""


def test_xdist_workers_each_launch_a_firefox_and_one_named_by_port_is_refused(tmp_path, firefox_app):
    project = make_project(tmp_path)
    (project / "test_with_tether.py").write_text(textwrap.dedent(XDIST))
    env = {"TETHER_STATE_DIR": str(tmp_path / "state")}

    # named on the command line: refused before any worker starts (pytest's usage error, exit 4)
    refused = run_project(project, "-n", "2", "--tether-firefox-port", str(firefox_app.port), env=env)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 4, out
    assert f"2 pytest-xdist workers cannot share the Firefox on port {firefox_app.port}" in refused.stderr
    assert "Run with --tether-launch" in out and "Busy" not in out
    # named in the environment: each worker's fixture refuses it, with the same words
    refused = run_project(project, "-n", "2", "-k", "one or two",
                          env={**env, "TETHER_FIREFOX_PORT": str(firefox_app.port)})  # fmt: skip
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    assert "2 errors" in out and "UsageError: 2 pytest-xdist workers cannot share the Firefox" in out, out
    assert "Busy" not in out and firefox_app.alive()

    proc = run_project(project, "-n", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    seen = [json.loads((project / f"{n}.json").read_text()) for n in ("one", "two", "three", "four")]
    by_worker: dict[str, set] = {}
    for worker, pid in seen:
        by_worker.setdefault(worker, set()).add(pid)
    assert len(by_worker) == 2 and all(len(p) == 1 for p in by_worker.values()), by_worker  # one per worker
    pids = {pid for pids in by_worker.values() for pid in pids}
    assert len(pids) == len(by_worker)  # and never another worker's
    assert firefox_app.pid not in pids  # launched, not the one running
    for pid in pids:  # each worker quit its Firefox
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
