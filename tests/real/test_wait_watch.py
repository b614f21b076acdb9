"""`tether wait` and `tether scan --watch` against real apps starting and stopping.

Firefox is started here in the background without waiting (the harness's profile and prefs, on a
port chosen up front), so the test sees the moment it becomes ready from the outside: its
Marionette greeting, read with a raw socket (tests/real/apps.py), never with tether.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
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

ROOT = Path(__file__).resolve().parents[2]


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


def wait_for_firefox_launched_behind_it(workdir: Path, *, with_port: bool) -> dict:
    """Start `tether wait firefox` (with ``--port P``, or scanning), then Firefox on P half a second
    later; returns the waiter's exit code and output, and how long after Firefox's first greeting
    it returned (``lag``)."""
    port = apps.free_port()
    args = ["wait", "firefox", "--timeout", "60", "--json"] + (["--port", str(port)] if with_port else [])
    waiter = subprocess.Popen(tether_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    firefox = None
    try:
        time.sleep(0.5)  # the waiter is polling before Firefox exists
        waiting = waiter.poll() is None
        firefox = spawn_firefox(workdir, port)
        ready = greeting_time(port, firefox)
        out, err = waiter.communicate(timeout=30)
        done = time.monotonic()
        return {
            "waiting": waiting,
            "rc": waiter.returncode,
            "out": out,
            "err": err,
            "port": port,
            "lag": done - ready,
        }
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
        if firefox is not None:
            firefox.stop()


def check_waited(result: dict) -> None:
    assert result["waiting"], result
    assert result["rc"] == 0, result["err"]
    endpoint = json.loads(result["out"])
    assert endpoint["port"] == result["port"] and endpoint["confidence"] == "verified"
    assert result["lag"] < 1.0, f"tether wait returned {result['lag']:.2f} s after Firefox was ready"


def test_wait_firefox_on_its_port_returns_within_a_second_of_it_becoming_ready(tmp_path):
    check_waited(wait_for_firefox_launched_behind_it(tmp_path, with_port=True))


IN_NAMESPACE = """
import json, subprocess, sys
from pathlib import Path
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
from tests.real.test_wait_watch import wait_for_firefox_launched_behind_it
print(json.dumps(wait_for_firefox_launched_behind_it(Path(sys.argv[1]), with_port=False)))
"""


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) (util-linux)")
def test_wait_firefox_by_scanning_returns_within_a_second_of_it_becoming_ready(tmp_path):
    """Without --port, `tether wait firefox` scans: in a network namespace of its own, where the
    Firefox started behind it is the only one it can find (the session's Firefox, and anyone's
    on a shared machine, stay outside)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", IN_NAMESPACE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        msg = f"unshare -n is not permitted here: {proc.stderr.strip()}"
        if require_real():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    assert proc.returncode == 0, proc.stderr
    check_waited(json.loads(proc.stdout.strip().splitlines()[-1]))


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
