"""Fixtures every test package uses: the in-process CLI runner, a private state directory, and the
real apps of the session.

The real apps — one IGV, one Firefox, one queue server per test session — are defined here, once:
tests/real and tests/faults both use them (a copy imported into a test module would be a second
session fixture, and a second instance of each app for the rest of the run). Each is started on
free ports, waited for by probing, and stopped by pid in the fixture's finalizer (and, failing that,
at interpreter exit). Under ``CI=true`` or ``TETHER_REQUIRE_REAL=1`` an app that is missing or fails
to start is a test **failure**; elsewhere it is a skip that says what to install.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli("igv", "goto", …)`` runs ``tether igv goto …`` in-process and returns
    ``(exit code, stdout, stderr)`` of that run only."""
    from tether.cli import run

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """``TETHER_STATE_DIR`` (launch records, logs) in the test's own temporary directory."""
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


# ----------------------------------------------------------------------------- the session's real apps
def require_real() -> bool:
    return (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        or os.environ.get("TETHER_REQUIRE_REAL") == "1"
    )


def _unavailable(app: str, exc: Exception):
    msg = f"{app} is not available for the real-app tests: {exc}"
    if require_real():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


STARTUP_TIMES: dict[str, float] = {}


def _apps():
    from tests.real import apps  # the harness: imported when a real app is first wanted

    return apps


def _session_app(name: str, start, workdir):
    """Start one app for the whole session (its start time recorded), and stop it by pid after."""
    started = time.monotonic()
    try:
        app = start(workdir)
    except (_apps().AppMissing, _apps().AppFailed) as exc:
        _unavailable(name, exc)
    STARTUP_TIMES[name] = round(time.monotonic() - started, 2)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def igv_app(tmp_path_factory):
    yield from _session_app("IGV", _apps().start_igv, tmp_path_factory.mktemp("igv"))


@pytest.fixture(scope="session")
def firefox_app(tmp_path_factory):
    yield from _session_app("Firefox", _apps().start_firefox, tmp_path_factory.mktemp("firefox"))


@pytest.fixture(scope="session")
def qserver_app(tmp_path_factory):
    yield from _session_app("queue server", _apps().start_qserver, tmp_path_factory.mktemp("qserver"))


def pytest_terminal_summary(terminalreporter):
    if STARTUP_TIMES:
        terminalreporter.write_line(
            "real apps started in: " + ", ".join(f"{k} {v:.2f} s" for k, v in STARTUP_TIMES.items())
        )
