"""Session fixtures for the real apps: one IGV, one Firefox, one queue server per test session.

Each is started on free ports, waited for by probing, and stopped by pid in the fixture's
finalizer (and, failing that, at interpreter exit). Under ``CI=true`` or
``TETHER_REQUIRE_REAL=1`` an app that is missing or fails to start is a test **failure**;
elsewhere it is a skip that says what to install.
"""

from __future__ import annotations

import os
import time

import pytest

from . import apps

pytestmark = pytest.mark.real


def require_real() -> bool:
    return (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        or os.environ.get("TETHER_REQUIRE_REAL") == "1"
    )


def pytest_collection_modifyitems(session, config, items):
    """The geckodriver tests run first, before any other test starts a Firefox: one of them
    checks that a command with no port finds the busy, geckodriver-held Firefox, which is only
    what "no port" means while no free Firefox answers beside it."""
    first = [i for i in items if i.nodeid.startswith("tests/real/test_firefox_geckodriver.py")]
    if first:
        items[:] = first + [i for i in items if i not in first]


def _unavailable(app: str, exc: Exception):
    msg = f"{app} is not available for the real-app tests: {exc}"
    if require_real():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


STARTUP_TIMES: dict[str, float] = {}


def _session_app(name: str, start, workdir):
    """Start one app for the whole session (its start time recorded), and stop it by pid after."""
    started = time.monotonic()
    try:
        app = start(workdir)
    except (apps.AppMissing, apps.AppFailed) as exc:
        _unavailable(name, exc)
    STARTUP_TIMES[name] = round(time.monotonic() - started, 2)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def igv_app(tmp_path_factory):
    yield from _session_app("IGV", apps.start_igv, tmp_path_factory.mktemp("igv"))


@pytest.fixture(scope="session")
def firefox_app(tmp_path_factory):
    yield from _session_app("Firefox", apps.start_firefox, tmp_path_factory.mktemp("firefox"))


@pytest.fixture(scope="session")
def qserver_app(tmp_path_factory):
    yield from _session_app("queue server", apps.start_qserver, tmp_path_factory.mktemp("qserver"))


def pytest_terminal_summary(terminalreporter):
    if STARTUP_TIMES:
        terminalreporter.write_line(
            "real apps started in: " + ", ".join(f"{k} {v:.2f} s" for k, v in STARTUP_TIMES.items())
        )


@pytest.fixture
def bidi_firefox(tmp_path, monkeypatch):
    """A Firefox of the test's own, launched by tether with the Remote Agent (WebDriver BiDi: what
    console capture needs), quit after the test — killed by its process group if quitting fails."""
    import signal

    import psutil

    from tether_firefox import launch_firefox, quit_firefox

    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    rec = launch_firefox(headless=True, bidi=True, timeout=60)
    try:
        yield rec
    finally:
        try:
            quit_firefox(port=rec.port, timeout=10)
        finally:
            if psutil.pid_exists(rec.pid):
                os.killpg(rec.pid, signal.SIGKILL)
