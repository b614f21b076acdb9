"""`tether qserver monitor` in a real terminal (tmux, its own socket) while plans run on the real
queue server: states shown, the running plan, history growing with exit status, a resize redrawn,
`q` quitting with exit 0 and the terminal's settings restored; over HTTP and over RE Manager's 0MQ."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_qserver import client, ensure_env, history_item, remove_quietly

pytestmark = pytest.mark.real

TETHER = str(Path(sys.executable).with_name("tether"))
_count = itertools.count()


class Tmux:
    """A detached tmux session on a socket of its own, killed (by its own server) after the test."""

    def __init__(self, width: int = 120, height: int = 40) -> None:
        if not shutil.which("tmux"):
            pytest.fail("tmux is not installed (Debian package tmux; tests/real/install.py installs it)")
        self.socket = f"tether-monitor-{os.getpid()}-{next(_count)}"
        self.size = (width, height)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def start(self, env: dict[str, str]) -> None:
        extra = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self.tmux("new-session", "-d", "-s", "t", "-x", str(self.size[0]), "-y", str(self.size[1]), *extra,
                  "bash --norc --noprofile")  # fmt: skip

    def type(self, text: str, enter: bool = True) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)
        if enter:
            self.tmux("send-keys", "-t", "t", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", "t", "-p")

    def wait_for(self, what: str, check, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"the screen never showed {what}; it showed:\n{text}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux():
    term = Tmux()
    try:
        yield term
    finally:
        term.kill()


# the markers are split in the command line, so that only the output shows them whole
AFTER = '; echo "EX""IT=$? FL""AGS=$(stty -a | grep -ow -- \'-\\?icanon\\|-\\?echo\' | tr \'\\n\' ,)"'


def running_panel(screen: str) -> str:
    """The two lines under the running panel's title."""
    lines = screen.splitlines()
    at = next((i for i, line in enumerate(lines) if "─ running " in line), None)
    return "" if at is None else "\n".join(lines[at + 1 : at + 3])


def quit_and_check(tmux: Tmux, key: str = "q", code: str = "0") -> None:
    import re

    if key == "C-c":
        tmux.tmux("send-keys", "-t", "t", "C-c")
    else:
        tmux.type(key, enter=False)
    text = tmux.wait_for("the exit status", lambda s: re.search(r"EXIT=\d+ FLAGS=\S*", s), 15)
    found = re.search(r"EXIT=(\d+) FLAGS=(\S*)", text)
    assert found and found.group(1) == code, text
    flags = found.group(2).split(",")
    assert "icanon" in flags and "echo" in flags, flags  # the terminal is back in line mode, echoing


def test_monitor_follows_plans_through_queue_and_history_and_quits_on_q(qserver_app, tmux):
    app = qserver_app
    ensure_env(app)
    qs = client(app)
    added = [
        qs.submit({"name": "count", "args": [["det1"]], "kwargs": {"num": 7, "delay": 0.4}}),
        qs.submit({"name": "count", "args": [["det2"]], "kwargs": {"num": 2}}),
        qs.submit({"name": "mv", "args": ["motor", "abc"]}),  # fails in the RunEngine
    ]
    slow, _, fails = (item["item_uid"] for item in added)
    try:
        tmux.start({"QSERVER_HTTP_SERVER_API_KEY": app.api_key})
        tmux.type(f"{TETHER} qserver monitor --port {app.port}" + AFTER)
        shown = tmux.wait_for("the queue", lambda s: "num=7 delay=0.4" in s and "manager idle" in s, 30)
        assert "env open" in shown and f"127.0.0.1:{app.port}" in shown
        assert '["det2"] num=2' in shown and '"motor" "abc"' in shown  # queued

        qs.queue_start()
        tmux.wait_for(
            "the running plan", lambda s: "elapsed" in running_panel(s) and "num=7" in running_panel(s), 30
        )

        tmux.tmux("resize-window", "-t", "t", "-x", "80", "-y", "30")
        tmux.wait_for(  # redrawn at the new size: the header's box is exactly 80 wide
            "a redraw at 80 columns",
            lambda s: any(line == "╭" + "─" * 78 + "╮" for line in s.splitlines()),
            10,
        )

        def finished(s: str) -> bool:
            return "manager idle" in s and "failed" in s and "completed" in s

        done = tmux.wait_for("history with exit statuses", finished, 60)
        assert "nothing running" in done
        assert max(len(line) for line in done.splitlines()) <= 80
        assert history_item(app, slow)["result"]["exit_status"] == "completed"
        assert history_item(app, fails)["result"]["exit_status"] == "failed"
        quit_and_check(tmux)
    finally:  # the failed item is back in the queue under a new uid: found by its tag
        tags = {item["meta"]["client_request_id"] for item in added}
        for item in qs.queue_get(reload=True).get("items", []):
            if (item.get("meta") or {}).get("client_request_id") in tags:
                remove_quietly(app, item["item_uid"])
        qs.close()


def test_monitor_over_zmq_shows_the_manager_and_its_history(qserver_app, tmux):
    app = qserver_app
    ensure_env(app)
    tmux.start({})
    tmux.type(f"{TETHER} qserver monitor --zmq {app.zmq_control} --zmq-info {app.zmq_info}" + AFTER)
    tmux.wait_for("the 0MQ door", lambda s: "(zmq" in s and "manager idle" in s and "env open" in s, 30)
    with client(app) as qs:
        result = qs.run({"name": "count", "args": [["det1"]], "kwargs": {"num": 3, "delay": 0.3}}, timeout=60)
    assert result.exit_status == "completed"
    tmux.wait_for(  # the history entry and the console lines the info socket published
        "the plan in history",
        lambda s: "num=3 delay=0.3" in s and "completed" in s and "queueserver.manager" in s,
        20,
    )
    quit_and_check(tmux)


@pytest.fixture
def ssh_master_closed(sshd, monkeypatch):
    """The monitor's OpenSSH master (and its forwards) ends with the test."""
    from tether.ssh import Ssh

    monkeypatch.setenv("TETHER_SSH_CONFIG", str(sshd.config))
    yield
    Ssh(sshd.url).close()


def test_monitor_through_an_ssh_host(qserver_app, sshd, ssh_master_closed, tmux):
    app = qserver_app
    ensure_env(app)
    tmux.start(
        {
            "QSERVER_HTTP_SERVER_API_KEY": app.api_key,
            "TETHER_SSH_CONFIG": str(sshd.config),
            "TETHER_SSH_PERSIST": "3",
        }
    )
    tmux.type(f"{TETHER} qserver monitor --host {sshd.url} --port {app.port}" + AFTER)
    shown = tmux.wait_for(
        "the server through the forward", lambda s: f"{sshd.url} port {app.port}" in s and "env open" in s, 30
    )
    assert "manager idle" in shown or "manager executing" in shown
    with client(app) as qs:  # the console's WebSocket through the forward shows what the server prints
        qs.run({"name": "count", "args": [["det2"]], "kwargs": {"num": 2, "delay": 0.2}}, timeout=60)
    tmux.wait_for("the plan in history", lambda s: "num=2 delay=0.2" in s and "completed" in s, 20)
    quit_and_check(tmux, "C-c", "130")  # interrupted: the terminal is restored all the same
