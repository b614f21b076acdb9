"""The choice rules on a shared machine, with real apps: several verified instances of one app,
and a command (no --port) takes the one this user launched with tether, else the only one this
user owns, else exits 2 listing them (tests/unit/test_choose.py shows each rule on its own).

- launched wins: the session's Firefox (not launched by tether) beside one tether launched;
- mine wins: the session's IGV (this user's) beside an IGV-speaking listener run as ``nobody``
  (setpriv), which a scan verifies as IGV too;
- otherwise: both this user's, none launched -> exit 2 with each --port and TETHER_IGV_PORT.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tether import choose

from . import apps

pytestmark = pytest.mark.real

TETHER = [sys.executable, "-m", "tether"]

#: IGV's batch port as far as tether's probe and `status` look: `echo` answers `echo`. The last
#: argument makes the command line read as IGV's jar, as the scan's process hint wants.
FAKE_IGV = textwrap.dedent(
    """
    import socket, sys, threading
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8)
    def serve(conn):
        with conn, conn.makefile("rwb") as f:
            for line in f:
                f.write(b"echo\\n" if line.strip() == b"echo" else b"OK\\n"); f.flush()
    while True:
        c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
    """
)


def tether(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TETHER, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def fake_igv_as(tmp_path):
    """Start the fake IGV as ``user`` (setpriv) on a free port; stopped by pid at the end."""
    started: list[apps.Proc] = []

    def start(user: str | None) -> tuple[int, int]:
        if not shutil.which("setpriv") or os.geteuid() != 0:
            pytest.skip("running a listener as another user needs root and setpriv (util-linux)")
        port = apps.free_port()
        drop = []
        if user:
            import pwd

            who = pwd.getpwnam(user)
            drop = ["setpriv", f"--reuid={who.pw_uid}", f"--regid={who.pw_gid}", "--clear-groups"]
        proc = apps.spawn(  # the code on the command line: pytest's tmp dirs are private to root
            f"fake IGV ({user or 'me'})",
            [*drop, "/usr/bin/python3", "-c", FAKE_IGV, str(port), "/opt/igv/igv.jar"],
            tmp_path / f"fake-{port}.log",
            cwd="/",
        )
        started.append(proc)
        apps.wait_for("the fake IGV to answer", lambda: apps.line_query(port, "echo") == "echo", 15, proc)
        return port, proc.pid

    yield start
    for proc in started:
        proc.stop()


def test_only_mine_wins_over_another_users_igv(igv_app, fake_igv_as, tmp_path):
    port, pid = fake_igv_as("nobody")
    assert choose.owner_uid(pid) != os.getuid()  # the listener really is another user's
    env = {"TETHER_STATE_DIR": str(tmp_path / "state")}  # no launch record: the owner decides
    scan = json.loads(tether("scan", "--app", "igv", "--json", env=env).stdout)
    verified = {r["port"] for r in scan if r["confidence"] == "verified"}
    assert {igv_app.port, port} <= verified, scan
    status = tether("igv", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["port"] == igv_app.port  # this user's, not nobody's


def test_otherwise_exit_2_names_each_port_and_variable(igv_app, fake_igv_as, tmp_path):
    port, _ = fake_igv_as(None)  # this user's too: two of mine, neither launched by tether
    proc = tether("igv", "status", env={"TETHER_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for p in (igv_app.port, port):
        assert f"--port {p} (or TETHER_IGV_PORT={p})" in proc.stderr
    assert "IGV at 127.0.0.1" in proc.stderr
    # and the variable the message names does name it
    named = tether("igv", "status", "--json", env={"TETHER_IGV_PORT": str(igv_app.port)})
    assert named.returncode == 0 and json.loads(named.stdout)["port"] == igv_app.port
    waited = tether("wait", "igv", "--timeout", "5", env={"TETHER_STATE_DIR": str(tmp_path / "state")})
    assert waited.returncode == 2 and "TETHER_IGV_PORT" in waited.stderr  # wait does not wait it out


def test_the_firefox_tether_launched_wins(firefox_app, bidi_firefox):
    # bidi_firefox: launched by tether (its record in this test's $TETHER_STATE_DIR); firefox_app
    # was started as geckodriver starts it. Both answer Marionette; both are this user's.
    found = json.loads(tether("scan", "--app", "firefox", "--json").stdout)
    assert {firefox_app.port, bidi_firefox.port} <= {
        r["port"] for r in found if r["confidence"] == "verified"
    }
    title = tether("firefox", "status", "--json")
    assert title.returncode == 0, title.stderr
    assert json.loads(title.stdout)["pid"] == bidi_firefox.pid
