"""`tether scan` and `tether.connect` against the real IGV, Firefox and queue server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from importlib.metadata import version as dist_version

import pytest

import tether
from tether.errors import Busy, WrongApp
from tether.testing import FakeServer, http_400

from . import apps

pytestmark = pytest.mark.real


def tether_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def scan_json(*args: str, env: dict | None = None) -> list[dict]:
    proc = tether_cli("scan", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_scan_lists_the_three_apps_verified_with_pid_port_and_version(igv_app, firefox_app, qserver_app):
    found = scan_json()
    by_app = {(e["app"], e["port"]): e for e in found}
    for app, fixture in (("igv", igv_app), ("firefox", firefox_app), ("qserver", qserver_app)):
        entry = by_app.get((app, fixture.port))
        assert entry is not None, f"{app} not found on port {fixture.port}: {found}"
        assert entry["confidence"] == "verified"
        assert entry["pid"] == fixture.pid
        assert entry["version"], entry
        for key in ("title", "host", "bind", "process", "detail"):
            assert key in entry
    assert by_app[("qserver", qserver_app.port)]["version"] == dist_version("bluesky-httpserver")
    ff_version = subprocess.run([firefox_app.binary, "--version"], capture_output=True, text=True).stdout
    assert by_app[("firefox", firefox_app.port)]["version"] in ff_version
    assert by_app[("igv", igv_app.port)]["version"].startswith(
        "2."
    )  # Debian's IGV says "user": tether looks it up


def test_firefox_on_an_os_chosen_port_is_found_on_that_port(firefox_app):
    # Started the way geckodriver starts it: marionette.port 0, so the OS picked the port.
    written = int((firefox_app.profile / "MarionetteActivePort").read_text())
    assert written == firefox_app.port != 2828
    eps = [e for e in tether.scan(["firefox"]) if e.port == firefox_app.port]
    assert eps and eps[0].confidence == "verified" and eps[0].pid == firefox_app.pid


def _frame(sock: socket.socket) -> list | dict:
    buf = b""
    while b":" not in buf:
        buf += sock.recv(1)
    length, rest = buf.split(b":", 1)
    body = rest
    while len(body) < int(length):
        body += sock.recv(int(length) - len(body))
    return json.loads(body)


def _send(sock: socket.socket, msg_id: int, name: str, params: dict) -> list:
    body = json.dumps([0, msg_id, name, params]).encode()
    sock.sendall(str(len(body)).encode() + b":" + body)
    return _frame(sock)


def test_firefox_held_by_another_client_is_busy_and_the_holder_is_undisturbed(firefox_app):
    holder = socket.create_connection(("127.0.0.1", firefox_app.port), timeout=30)
    try:
        _frame(holder)  # greeting
        assert _send(holder, 1, "WebDriver:NewSession", {})[2] is None
        assert (
            _send(holder, 2, "WebDriver:Navigate", {"url": "data:text/html,<title>held</title>"})[2] is None
        )

        eps = [e for e in tether.scan(["firefox"]) if e.port == firefox_app.port]
        assert eps and eps[0].confidence == "busy", eps
        status = tether_cli("firefox", "status", "--port", str(firefox_app.port))
        assert status.returncode == 4 and "busy" in status.stderr
        with pytest.raises(Busy) as info:  # the Python API says the same, naming the port
            tether.connect("firefox", port=firefox_app.port)
        assert info.value.detail["port"] == firefox_app.port

        assert _send(holder, 3, "WebDriver:GetTitle", {}) == [1, 3, None, {"value": "held"}]
        assert _send(holder, 4, "WebDriver:DeleteSession", {})[2] is None
    finally:
        holder.close()
    apps.wait_for(
        "the greeting after the holder left", lambda: apps.marionette_greeting(firefox_app.port), 15
    )


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0  # nothing answers there


def test_a_plain_http_server_on_igvs_default_port_is_not_igv():
    if not _port_is_free(60151):
        pytest.skip("60151 is in use on this machine")  # the configured-port variant below still runs
    with FakeServer(http_400, port=60151) as srv:
        assert not [e for e in tether.scan(["igv"]) if e.port == 60151]
        with pytest.raises(WrongApp):
            tether.connect("igv", port=60151)
        proc = tether_cli("igv", "status", "--port", "60151")
        assert proc.returncode == 6, proc.stderr
        time.sleep(0.1)
        assert set(srv.received) == {b"echo\n"}  # the probe, and nothing else


def test_a_plain_http_server_on_igvs_configured_port_is_not_igv(tmp_path):
    home = tmp_path / "home"
    (home / "igv").mkdir(parents=True)
    with FakeServer(http_400) as srv:
        (home / "igv" / "prefs.properties").write_text(f"PORT_NUMBER={srv.port}\n")
        entries = [e for e in scan_json("--all", env={"HOME": str(home)}) if e["port"] == srv.port]
        assert entries and entries[0]["app"] is None and "not IGV" in entries[0]["detail"], entries
        with pytest.raises(WrongApp) as info:
            tether.connect("igv", port=srv.port)
        assert info.value.exit_code == 6
        time.sleep(0.1)
        assert srv.received and set(srv.received) == {b"echo\n"}


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) for an empty network namespace")
def test_nothing_listening_igv_status_exits_3_naming_the_ports():
    # A fresh network namespace has no listener at all: the truthful "nothing is running" case.
    cmd = f"ip link set lo up 2>/dev/null; exec {sys.executable} -m tether igv status"
    proc = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    if "Operation not permitted" in proc.stderr and proc.returncode != 3:
        pytest.skip("unshare -n is not permitted here")
    assert proc.returncode == 3, proc.stderr
    assert "127.0.0.1:60151" in proc.stderr and "Traceback" not in proc.stderr


def test_explicit_port_skips_the_scan_but_not_the_probe(igv_app, firefox_app):
    ep = tether.find("igv", port=igv_app.port)
    assert ep.verified and ep.pid == igv_app.pid
    with pytest.raises(WrongApp):
        tether.find("igv", port=firefox_app.port)  # Marionette answers there, not IGV


def test_scan_without_probe_sends_nothing_and_reports_hints(igv_app):
    eps = [e for e in tether.scan(["igv"], probe=False) if e.port == igv_app.port]
    assert eps and eps[0].confidence == "hinted" and eps[0].pid == igv_app.pid
