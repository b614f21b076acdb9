"""`tether firefox …` end to end on real headless Firefox: launch, drive, state across commands, quit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tether-state")


def tether(*args: str, state: Path, timeout: float = 90, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "tether", "firefox", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TETHER_STATE_DIR": str(state)},
    )
    if check:
        assert proc.returncode == 0, f"tether firefox {' '.join(args)} -> {proc.returncode}\n{proc.stderr}"
    return proc


def launch_records(state: Path) -> list[dict]:
    """The Firefox launch records tether keeps under ``state`` (one file each, by port)."""
    return [json.loads(path.read_text()) for path in sorted((state / "firefox").glob("*.json"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


@pytest.fixture(scope="module")
def launched(state_dir):
    """A Firefox from `tether firefox launch --headless --bidi --system-access`; quit (or killed) after."""
    proc = tether("launch", "--headless", "--bidi", "--system-access", "--json", state=state_dir, timeout=90)
    info = json.loads(proc.stdout)
    try:
        yield info
    finally:
        tether("quit", "--port", str(info["port"]), state=state_dir, check=False)
        if psutil.pid_exists(info["pid"]):
            os.killpg(info["pid"], signal.SIGKILL)


def test_launch_records_what_it_started(launched, state_dir):
    assert launched["temp_profile"] is True and Path(launched["profile"]).is_dir()
    assert (Path(launched["profile"]) / "MarionetteActivePort").read_text().strip() == str(launched["port"])
    assert launched["bidi_port"] and launched["bidi_port"] != launched["port"]
    assert "firefox" in psutil.Process(launched["pid"]).name()
    assert [r["pid"] for r in launch_records(state_dir)] == [launched["pid"]]
    status = json.loads(tether("status", "--port", str(launched["port"]), "--json", state=state_dir).stdout)
    assert status["confidence"] == "verified" and status["pid"] == launched["pid"]


def test_cli_drives_a_page_and_state_survives_between_invocations(launched, site, state_dir, tmp_path):
    p = ["--port", str(launched["port"])]
    run = lambda *a: tether(*a, *p, state=state_dir)  # noqa: E731 — each call is its own session

    assert run("navigate", f"{site}/index.html").stdout.strip() == f"{site}/index.html"
    assert run("title").stdout.strip() == "Tether test page"  # the page outlived the navigate session
    assert run("find", "#greeting", "--text").stdout.strip() == "Hello tether"
    assert run("find", "li.item", "--all", "--text").stdout.split() == ["one", "two", "three"]
    assert run("find", "#next", "--attr", "href").stdout.strip() == "second.html"
    assert json.loads(run("type", "#name", "Grace", "--json").stdout)["value"] == "Grace"
    run("click", "#go")
    assert json.loads(run("find", "#out", "--json").stdout)["text"] == "Hi Grace"  # typed text survived too
    assert json.loads(
        run("eval", "return [arguments[0] + 1, document.title]", "--args", "[41]", "--json").stdout
    ) == [42, "Tether test page"]
    assert run("eval", "--async", "arguments[0](7 * 6)").stdout.strip() == "42"

    shot, pdf = tmp_path / "page.png", tmp_path / "page.pdf"
    run("screenshot", str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run("screenshot", str(tmp_path / "h1.png"), "--element", "#greeting")
    assert (tmp_path / "h1.png").stat().st_size < shot.stat().st_size
    run("pdf", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF-")

    run("click", "#next")
    assert run("url").stdout.strip() == f"{site}/second.html"
    run("back")
    assert run("title").stdout.strip() == "Tether test page"
    assert run("forward", "--json").stdout and run("title").stdout.strip() == "Second page"

    run("cookies", "set", "flavour", "oat")
    cookies = json.loads(run("cookies", "list", "--json").stdout)
    assert {"name": "flavour", "value": "oat"}.items() <= cookies[0].items()
    run("cookies", "delete", "flavour")
    assert json.loads(run("cookies", "list", "--json").stdout) == []

    rect = json.loads(run("call", "WebDriver:GetWindowRect", "--json").stdout)
    assert rect["width"] > 0 and rect["height"] > 0
    caps = json.loads(run("capabilities", "--json").stdout)
    assert caps["moz:processID"] == launched["pid"] and caps["moz:headless"] is True
    assert set(json.loads(run("timeouts", "--json").stdout)) == {"implicit", "pageLoad", "script"}


def test_windows_opened_in_one_command_are_there_in_the_next(launched, site, state_dir):
    p = ["--port", str(launched["port"])]
    run = lambda *a: tether(*a, *p, state=state_dir)  # noqa: E731
    before = json.loads(run("windows", "list", "--json").stdout)
    index = int(run("windows", "new", "--url", f"{site}/second.html").stdout)
    after = json.loads(run("windows", "list", "--json").stdout)
    assert len(after) == len(before) + 1
    assert after[index]["current"] is True and after[index]["title"] == "Second page"
    assert run("title").stdout.strip() == "Second page"  # the new tab stays selected for the next command
    run("windows", "switch", "0")
    assert json.loads(run("windows", "list", "--json").stdout)[0]["current"] is True
    assert run("title").stdout.strip() == after[0]["title"]
    assert json.loads(run("windows", "close", str(index), "--json").stdout) == {"open": len(before)}
    assert len(json.loads(run("windows", "list", "--json").stdout)) == len(before)
    missing = tether("windows", "switch", "99", *p, state=state_dir, check=False)
    assert missing.returncode == 2


def test_chrome_context_only_behind_the_flag_and_only_with_system_access(launched, firefox_app, state_dir):
    version = "return Services.appinfo.version"
    ok = tether("eval", version, "--chrome", "--port", str(launched["port"]), state=state_dir)
    assert json.loads(ok.stdout).startswith("153")
    plain = tether("eval", "return typeof Services", "--port", str(launched["port"]), state=state_dir)
    assert json.loads(plain.stdout) == "undefined"  # content context unless --chrome
    refused = tether(
        "eval", version, "--chrome", "--port", str(firefox_app.port), state=state_dir, check=False
    )
    assert refused.returncode == 1 and "-remote-allow-system-access" in refused.stderr


def test_cli_refusals_map_to_exit_codes(launched, site, state_dir):
    p = ["--port", str(launched["port"])]
    tether("navigate", f"{site}/second.html", *p, state=state_dir)
    missing = tether("find", "#missing", *p, state=state_dir, check=False)
    assert missing.returncode == 1 and "no such element" in missing.stderr
    late = tether("wait", "#never", "--timeout", "1", *p, state=state_dir, check=False)
    assert late.returncode == 4
    bad = tether("call", "WebDriver:GetTitle", "{not json", *p, state=state_dir, check=False)
    assert bad.returncode == 2


def test_wait_sees_content_that_arrives_later(launched, site, state_dir):
    p = ["--port", str(launched["port"])]
    tether("navigate", f"{site}/late.html", *p, state=state_dir)
    assert (
        tether("wait", "--title", "arrived", "--timeout", "5", *p, state=state_dir).stdout.strip()
        == "Late arrived"
    )


def test_logs_follow_prints_console_messages_and_uncaught_errors(launched, site, state_dir):
    tether("navigate", f"{site}/logs.html", "--port", str(launched["port"]), state=state_dir)
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tether",
            "firefox",
            "logs",
            "--follow",
            "--json",
            "--port",
            str(launched["port"]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TETHER_STATE_DIR": str(state_dir)},
    )
    entries: list[dict] = []
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            line = follow.stdout.readline()
            if not line:
                break
            entries.append(json.loads(line))
            kinds = {(e["type"], e["level"]) for e in entries}
            if {("console", "info"), ("javascript", "error")} <= kinds:
                break
    finally:
        follow.send_signal(signal.SIGINT)
        try:
            follow.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            follow.kill()
            follow.communicate()
    assert any(e["type"] == "console" and e["text"].startswith("tick ") for e in entries), entries
    assert any(e["type"] == "javascript" and "boom" in e["text"] for e in entries), entries
    assert all(e["url"].endswith("/logs.html") for e in entries)
    assert follow.returncode == 130
    # the BiDi session ended with the command: Marionette is free again
    tether("navigate", f"{site}/second.html", "--port", str(launched["port"]), state=state_dir)


def test_a_bidi_session_is_reported_busy_and_left_alive(launched, state_dir):
    from tether_firefox.bidi import BiDi

    port = ["--port", str(launched["port"])]
    with BiDi.open(launched["bidi_port"]) as holder:
        taken = tether("logs", "--for", "1", *port, state=state_dir, check=False)
        assert taken.returncode == 4 and "session is taken" in taken.stderr
        # Marionette would greet, and its connection closing would end the BiDi session: tether
        # must not even connect (nor may its scan probe).
        title = tether("title", *port, state=state_dir, check=False)
        assert title.returncode == 4 and "WebDriver BiDi" in title.stderr
        scan = json.loads(
            subprocess.run(
                [sys.executable, "-m", "tether", "scan", "--json"], capture_output=True, text=True, timeout=60
            ).stdout
        )
        assert [e["confidence"] for e in scan if e["port"] == launched["port"]] == ["busy"]
        assert holder.command("session.status")["ready"] is False  # the holder's session is still there
    assert tether("title", *port, state=state_dir).returncode == 0


def test_quit_refuses_a_firefox_tether_did_not_launch(firefox_app, state_dir):
    refused = tether("quit", "--port", str(firefox_app.port), state=state_dir, check=False)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert firefox_app.alive()


def test_launch_refuses_a_profile_a_running_firefox_uses(firefox_app, state_dir):
    refused = tether(
        "launch", "--headless", "--profile", str(firefox_app.profile), state=state_dir, check=False
    )
    assert refused.returncode == 2 and f"pid {firefox_app.pid}" in refused.stderr
    assert (firefox_app.profile / "MarionetteActivePort").read_text().strip() == str(firefox_app.port)


def test_quit_stops_what_launch_started(launched, state_dir):
    done = json.loads(tether("quit", "--port", str(launched["port"]), "--json", state=state_dir).stdout)
    assert done["stopped"] == "marionette" and done["profile_removed"] is True
    assert done["log"] is None and not Path(launched["log"]).exists()  # a clean quit leaves no log behind
    assert (
        not psutil.pid_exists(launched["pid"])
        or psutil.Process(launched["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    assert not Path(launched["profile"]).exists()
    assert launch_records(state_dir) == []
    gone = tether("title", "--port", str(launched["port"]), state=state_dir, check=False)
    assert gone.returncode == 3
