"""What each command path imports: the start-up of a one-shot command is what shell loops pay.

Each command runs in a fresh interpreter (``-X importtime``) against a fake app on a free port,
and must succeed; the test names what that path must not import. Never a timed assertion:
the modules are what keeps the time (benchmarks/cli.py measures it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tether.testing import FakeHTTP, FakeServer, fake_igv, marionette_handler

#: never on a one-shot command's path: the entry-point machinery (tether reads entry_points.txt
#: itself), the thread pool of scans, and the heavy client libraries
NEVER = {"importlib.metadata", "requests", "urllib3", "selenium", "websocket"}
#: the standard library's HTTP client and TLS: the queue server's probe does without them
HTTP = {"http.client", "ssl", "_ssl"}


def _imports(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules ``tether ARGS`` imports (full dotted names); the command must exit 0."""
    code = f"import sys; from tether.cli import run; sys.exit(run({args!r}))"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _roots(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def _other_clis(mods: set[str], own: str) -> set[str]:
    return {m for m in mods if m.endswith(".cli") and m.startswith("tether_") and m != f"tether_{own}.cli"}


def test_help_imports_neither_discovery_nor_any_adapter_cli():
    mods = _imports(["--help"])
    assert "typer" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    # the root help needs the adapters' names, not the scan machinery nor their commands
    for mod in ("tether.api", "tether.identify", "psutil", "concurrent.futures"):
        assert mod not in mods, mod
    assert not {m for m in mods if m.startswith("tether_") and m.endswith(".cli")}


def test_import_tether_loads_no_scan_machinery():
    code = "import json, sys, tether; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    mods = set(json.loads(out))
    assert "tether" in mods and "tether.errors" in mods
    for mod in ("tether.api", "tether.identify", "tether.registry", "socket", "concurrent.futures"):
        assert mod not in mods, mod
    assert callable(__import__("tether").scan)  # and the API is still there, at first use


def test_igv_goto_with_a_port_imports_only_igvs_path():
    with fake_igv({}) as igv:
        mods = _imports(["igv", "goto", "chr1:100-200", "--port", str(igv.port)])
        assert any(b"goto chr1:100-200" in r for r in igv.received)  # it did go there
    assert "tether_igv.cli" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP  # the queue server's adapter is loaded, not http.client
    assert not _other_clis(mods, "igv")
    assert "concurrent.futures" not in mods  # one probe: no thread pool


def test_firefox_title_with_a_port_imports_only_firefoxs_path():
    replies = {
        "WebDriver:NewSession": lambda p: {"sessionId": "s1", "capabilities": {"browserName": "firefox"}},
        "WebDriver:GetTitle": lambda p: {"value": "A page"},
        "WebDriver:DeleteSession": lambda p: {"value": None},
    }
    with FakeServer(lambda conn, _server: marionette_handler(replies)(conn)) as ff:
        mods = _imports(["firefox", "title", "--port", str(ff.port)])
    assert "tether_firefox.cli" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    assert not _other_clis(mods, "firefox")
    assert "concurrent.futures" not in mods


def test_qserver_status_with_a_port_imports_only_the_queue_servers_path():
    with FakeHTTP() as http:
        http.routes[("GET", "/openapi.json")] = lambda body: (
            200,
            {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}},
        )
        http.routes[("GET", "/api/status")] = lambda body: (200, {"manager_state": "idle"})
        port = http.url.rsplit(":", 1)[1]
        key = {"QSERVER_HTTP_SERVER_API_KEY": "k1"}
        mods = _imports(["qserver", "status", "--port", port, "--json"], key)
        assert any(path == "/api/status" for _, path, _, _ in http.requests)
    assert "tether_qserver.cli" in mods
    # requests is the client's own (and urllib3 imports importlib.metadata: the floor pays it too)
    assert not mods & {"selenium", "websocket"}
    assert not _other_clis(mods, "qserver")


def test_scan_imports_no_adapter_cli_and_no_http_client(listener):
    mods = _imports(["scan", "--json"])
    assert {"tether.api", "tether.identify", "psutil"} <= mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    assert not {m for m in mods if m.startswith("tether_") and m.endswith(".cli")}
    assert "tether_igv.client" not in mods and "tether_firefox.client" not in mods


@pytest.fixture
def no_full_listing(monkeypatch):
    """Fail the test if the whole socket table of the machine is listed."""
    import psutil

    def refuse(*args, **kwargs):
        raise AssertionError("an explicit --port listed every socket of the machine")

    monkeypatch.setattr(psutil, "net_connections", refuse)
    monkeypatch.setattr("tether.discovery._snapshot", None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_an_explicit_port_names_its_owner_without_listing_every_socket(no_full_listing, capsys):
    from tether.cli import run

    with fake_igv({}) as igv:
        assert run(["igv", "status", "--port", str(igv.port), "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert any(r.startswith(b"echo") for r in igv.received)  # probed first, always
    assert shown["port"] == igv.port and shown["pid"] == os.getpid()  # this process holds the fake


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_port_owner_agrees_with_the_full_listing(listener):
    from tether import discovery

    listed = [li for li in discovery.list_listeners().listeners if li.port == listener.port]
    owner = discovery.port_owner(listener.port)
    assert listed and owner is not None
    assert (owner.pid, owner.bind, owner.process) == (listed[0].pid, listed[0].bind, listed[0].process)
    assert owner.cmdline == listed[0].cmdline


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_port_owner_is_none_where_nothing_listens():
    import socket

    from tether import discovery

    with socket.socket() as s:  # a port that was free a moment ago, bound but not listening
        s.bind(("127.0.0.1", 0))
        assert discovery.port_owner(s.getsockname()[1]) is None
