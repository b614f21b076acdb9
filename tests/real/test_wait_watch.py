"""`tether wait` and `tether scan --watch` against real apps starting and stopping.

Firefox is started here in the background without waiting (the harness's profile and prefs, on a
port chosen up front), so the test sees the moment it becomes ready from the outside: its
Marionette greeting, read with a raw socket (tests/real/apps.py), never with tether.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from . import apps
from .conftest import require_real

pytestmark = pytest.mark.real


def tether_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tether", *args]


def spawn_firefox(workdir: Path, port: int) -> apps.Proc:
    """Headless Firefox with Marionette on ``port``, started and not waited for."""
    try:
        binary = apps.firefox_binary()
    except apps.AppMissing as exc:
        if require_real():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    profile = workdir / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    prefs = {**apps.FIREFOX_PREFS, "marionette.port": port}
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
    )
    return apps.spawn(
        "Firefox",
        [binary, "--headless", "--marionette", "--no-remote", "--profile", str(profile)],
        workdir / "firefox.log",
        env={"MOZ_CRASHREPORTER_DISABLE": "1"},
    )


def greeting_time(port: int, proc: apps.Proc, timeout: float = 60) -> float:
    """The monotonic time at which Marionette on ``port`` first greets a raw client."""

    def greets():
        return apps.marionette_greeting(port, timeout=1.0) is not None

    apps.wait_for("the Marionette greeting", greets, timeout, proc, interval=0.05)
    return time.monotonic()


def other_firefox_answers() -> bool:
    import tether

    return any(ep.verified or ep.confidence == "busy" for ep in tether.scan(["firefox"]))


@pytest.mark.parametrize("with_port", [True, False], ids=["port", "scan"])
def test_wait_firefox_returns_within_a_second_of_it_becoming_ready(tmp_path, with_port):
    if not with_port and other_firefox_answers():
        msg = "another Firefox already answers on this machine: `tether wait firefox` would find it"
        if require_real():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    port = apps.free_port()
    args = ["wait", "firefox", "--timeout", "60", "--json"] + (["--port", str(port)] if with_port else [])
    waiter = subprocess.Popen(tether_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    firefox = None
    try:
        time.sleep(0.5)  # the waiter is polling before Firefox exists
        assert waiter.poll() is None, waiter.communicate()
        firefox = spawn_firefox(tmp_path, port)
        ready = greeting_time(port, firefox)
        out, err = waiter.communicate(timeout=30)
        done = time.monotonic()
        assert waiter.returncode == 0, err
        assert json.loads(out)["port"] == port and json.loads(out)["confidence"] == "verified"
        assert done - ready < 1.0, f"tether wait returned {done - ready:.2f} s after Firefox was ready"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
        if firefox is not None:
            firefox.stop()


def test_wait_on_a_closed_port_exits_4_at_the_deadline():
    port = apps.free_port()
    started = time.monotonic()
    proc = subprocess.run(
        tether_cmd("wait", "igv", "--port", str(port), "--timeout", "2"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    took = time.monotonic() - started
    assert proc.returncode == 4, proc.stderr
    assert "IGV was not ready on 127.0.0.1:" in proc.stderr and "within 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert 2.0 <= took < 3.5, f"exited after {took:.2f} s"


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_event(lines: queue.Queue, port: int, kind: str, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=max(0.05, end - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        event = json.loads(line)  # every line is one JSON object
        assert set(event) >= {"event", "endpoint", "time"}
        if event["endpoint"]["port"] == port and event["event"] == kind:
            return event
    raise AssertionError(f"no {kind!r} event for port {port} within {timeout} s")


def test_scan_watch_json_prints_an_event_when_an_app_starts_and_when_it_stops(tmp_path):
    port = apps.free_port()
    watcher = subprocess.Popen(
        tether_cmd("scan", "--watch", "--json", "--app", "firefox", "--interval", "0.3", "--for", "120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(watcher.stdout, lines), daemon=True).start()
    firefox = None
    try:
        firefox = spawn_firefox(tmp_path, port)
        appeared = _next_event(lines, port, "appeared", 60)
        assert appeared["endpoint"]["app"] == "firefox" and appeared["endpoint"]["pid"] == firefox.pid
        firefox.stop()
        gone = _next_event(lines, port, "gone", 30)
        assert gone["endpoint"]["pid"] == firefox.pid and gone["time"] > appeared["time"]
        watcher.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop, exit 130, no traceback
        _, err = watcher.communicate(timeout=15)
        assert watcher.returncode == 130, err
        assert "Traceback" not in err
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
        if firefox is not None:
            firefox.stop()


def test_scan_watch_for_stops_by_itself():
    started = time.monotonic()
    proc = subprocess.run(
        tether_cmd("scan", "--watch", "--json", "--app", "igv", "--interval", "0.5", "--for", "1.5"),
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert 1.5 <= time.monotonic() - started < 6
    for line in proc.stdout.splitlines():
        assert json.loads(line)["event"] in ("appeared", "changed", "gone")
