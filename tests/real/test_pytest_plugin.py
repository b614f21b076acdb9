"""tether's pytest plugin used by a separate test project (a temporary directory with its own test
module), run with pytest in a subprocess against the real apps: the three fixtures, a fresh Firefox
tab per test, a deliberately failing Firefox test whose screenshot and page source are found under
the artifacts directory, apps launched for a session and stopped after it, and qserver's skip."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from . import apps
from .conftest import require_real

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]

PROJECT = """
import json, os
from pathlib import Path

OUT = Path(os.environ["PROJECT_OUT"])
SEEN = {}


def test_firefox_shows_a_page(firefox):
    SEEN["tab"] = firefox.window
    firefox.navigate("data:text/html,<title>hello</title><p id=x>hi</p>")
    assert firefox.title == "hello" and firefox.find("#x").text == "hi"


def test_each_test_gets_a_fresh_tab(firefox):
    assert firefox.url == "about:blank"
    assert firefox.window != SEEN["tab"] and SEEN["tab"] not in firefox.windows()


def test_a_deliberately_failing_page(firefox):
    firefox.navigate("data:text/html,<title>broken page</title><h1>MARKER-4711</h1>")
    assert firefox.title == "the title we wanted"


def test_igv_goes_to_a_locus(igv):
    igv.goto("chr1:1,001-2,000")


def test_qserver_reports_its_status(qserver):
    assert qserver.status()["manager_state"] == "idle"


def test_record_pids(tether_firefox_endpoint, tether_igv_endpoint):
    (OUT / "pids.json").write_text(json.dumps([tether_firefox_endpoint.pid, tether_igv_endpoint.pid]))
"""


PLUGINS = ("tether.pytest_plugin", "tether_igv.pytest_plugin", "tether_qserver.pytest_plugin",
           "tether_firefox.pytest_plugin")  # fmt: skip


def plugin_args() -> list[str]:
    """``-p`` for each plugin whose entry point is not installed (pip install -e .) to load it."""
    installed = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return [arg for plugin in PLUGINS if plugin not in installed for arg in ("-p", plugin)]


def run_project(
    project: Path, *args: str, env: dict | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    return subprocess.run(
        # its own --basetemp: a run in the shared one would rotate this session's directories
        [
            sys.executable,
            "-m",
            "pytest",
            *plugin_args(),
            "-p",
            "no:cacheprovider",
            "-rA",
            "--basetemp",
            str(project.parent / "basetemp"),
            *args,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PROJECT_OUT": str(project), **(env or {})},
    )


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: not this repository's config
    (project / "test_with_tether.py").write_text(textwrap.dedent(PROJECT))
    return project


def test_a_project_uses_the_three_fixtures_and_keeps_a_failing_tests_artifacts(
    tmp_path, firefox_app, igv_app, qserver_app
):
    project = make_project(tmp_path)
    artifacts = tmp_path / "artifacts"
    proc = run_project(
        project,
        "--tether-firefox-port", str(firefox_app.port),
        "--tether-igv-port", str(igv_app.port),
        "--tether-qserver-url", qserver_app.url,
        "--tether-artifacts", str(artifacts),
        "--junitxml", str(tmp_path / "report.xml"), "-o", "junit_family=xunit1",  # xunit2 has no properties
        env={"QSERVER_HTTP_SERVER_API_KEY": qserver_app.api_key},
    )  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 5 passed" in out, out
    assert "FAILED test_with_tether.py::test_a_deliberately_failing_page" in out

    failed = artifacts / "test_with_tether.py_test_a_deliberately_failing_page"
    screenshot, source = failed / "screenshot.png", failed / "page.html"
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 500
    assert "MARKER-4711" in source.read_text()
    assert sorted(p.name for p in artifacts.iterdir()) == [failed.name]  # passing tests leave nothing
    # the paths are in the report: the failure's section, the summary, and the JUnit XML
    assert f"screenshot: {screenshot}" in out and f"page source: {source}" in out
    props = {
        p.get("name"): p.get("value")
        for case in ET.parse(tmp_path / "report.xml").iter("testcase")
        if case.get("name") == "test_a_deliberately_failing_page"
        for p in case.iter("property")
    }
    assert props == {"tether screenshot": str(screenshot), "tether page source": str(source)}
    # the apps were attached to, not launched: they are the harness's and still run
    assert firefox_app.alive() and igv_app.alive()


IGV_FAILING = """
def test_igv_view_is_snapshotted_on_failure(igv):
    igv.goto("chr2:1-5,000")
    assert False, "deliberate"
"""


def test_a_failing_igv_test_leaves_a_snapshot_in_the_default_folder_it_prints(tmp_path, igv_app):
    project = make_project(tmp_path)
    (project / "test_with_tether.py").write_text(textwrap.dedent(IGV_FAILING))
    proc = run_project(project, "--tether-igv-port", str(igv_app.port))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    artifacts = tmp_path / "basetemp" / "tether-artifacts"  # in pytest's temporary directory
    snapshot = artifacts / "test_with_tether.py_test_igv_view_is_snapshotted_on_failure" / "igv.png"
    assert snapshot.read_bytes().startswith(b"\x89PNG"), proc.stdout
    assert f"in {artifacts}" in proc.stdout and f"IGV snapshot: {snapshot}" in proc.stdout


def test_apps_launched_for_a_session_are_stopped_after_it(tmp_path, igv_app):
    project = make_project(tmp_path)
    proc = run_project(
        project,
        "--tether-launch",
        "--tether-igv-genome", str(igv_app.genome),
        "-k", "fresh_tab or shows_a_page or igv_goes or record_pids",
        "--tether-js-errors=fail",  # the Firefox it launches runs BiDi: the console is collected
        env={"TETHER_IGV_STATE_DIR": str(tmp_path / "igv-state")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    firefox_pid, igv_pid = json.loads((project / "pids.json").read_text())
    assert firefox_pid not in (None, 0) and igv_pid not in (None, 0)
    for pid in (firefox_pid, igv_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid


def test_qserver_is_skipped_with_a_reason_when_none_answers(tmp_path):
    project = make_project(tmp_path)
    closed = f"http://127.0.0.1:{apps.free_port()}"
    proc = run_project(project, "--tether-qserver-url", closed, "-k", "qserver")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert f"the Bluesky HTTP server at {closed} does not answer" in proc.stdout


ATTACHING = """
import json, os
from pathlib import Path


def test_firefox_is_the_running_one(firefox, tether_firefox_endpoint):
    firefox.navigate("data:text/html,<title>attached</title>")
    assert firefox.title == "attached"
    Path(os.environ["PROJECT_OUT"], "pid").write_text(str(tether_firefox_endpoint.pid))


def test_qserver(qserver):
    pass
"""

IN_NAMESPACE = """
import json, subprocess, sys
from pathlib import Path
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
from tests.real import apps
from tests.real.test_pytest_plugin import run_project
workdir, project = Path(sys.argv[1]), Path(sys.argv[2])
firefox = apps.start_firefox(workdir)
try:
    proc = run_project(project, "-rs")
    print(json.dumps({"pid": firefox.pid, "rc": proc.returncode, "out": proc.stdout + proc.stderr,
                      "alive_after": firefox.alive()}))
finally:
    firefox.stop()
"""


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) (util-linux)")
def test_fixtures_attach_to_the_one_app_running_and_leave_it_running(tmp_path):
    """No option given: `firefox` attaches to the one Firefox tether verifies (in a network namespace
    of its own, so no other Firefox can be found), and does not stop it; `qserver` skips, saying why."""
    project = make_project(tmp_path)
    (project / "test_with_tether.py").write_text(textwrap.dedent(ATTACHING))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", IN_NAMESPACE, str(tmp_path / "ff"), str(project)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        msg = f"unshare -n is not permitted here: {proc.stderr.strip()}"
        if require_real():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, result["out"]
    assert "1 passed, 1 skipped" in result["out"], result["out"]
    assert "no Bluesky HTTP server is verified on this machine" in result["out"]
    assert int((project / "pid").read_text()) == result["pid"]  # attached to it, not a launched one
    assert result["alive_after"]  # and left running


JS_ERRORS = """
import pytest


@pytest.mark.tether_js_errors("ignore")
def test_a_page_expected_to_throw(firefox):
    firefox.navigate("data:text/html,<script>throw new Error('EXPECTED-7')</script>")


def test_a_page_that_throws(firefox):
    firefox.navigate("data:text/html,<title>throws</title><script>throw new Error('JS-BOOM-815')</script>")
    assert firefox.title == "throws"


def test_an_error_thrown_after_the_last_command(firefox):
    firefox.navigate("data:text/html,<title>late</title>")
    firefox.execute("setTimeout(() => { throw new TypeError('LATE-ONE-42') }, 0)")


def test_a_clean_page(firefox):
    firefox.navigate("data:text/html,<title>clean</title><script>console.log('all fine')</script>")
    assert firefox.title == "clean"
    def logged():  # the entry comes asynchronously, a few ms after the page loaded
        return [m["text"] for m in firefox.console_messages() if m["type"] == "console"]

    firefox.wait_until(logged, timeout=5)
    assert logged() == ["all fine"]  # the session collects the console (of every tab: OTHER-TAB's errors too)
"""


@pytest.fixture
def noisy_bidi_firefox(bidi_firefox):
    """The test's own BiDi Firefox (conftest) whose first tab throws an error every 20 ms: another
    tab's errors are never a test's."""
    import tether

    with tether.connect("firefox", port=bidi_firefox.port) as ff:
        ff.navigate("data:text/html,<script>setInterval(() => { throw new Error('OTHER-TAB') }, 20)</script>")
    return bidi_firefox


def test_js_errors_fail_a_test_whose_page_threw_with_the_message_and_pass_when_off(
    tmp_path, noisy_bidi_firefox
):
    project = make_project(tmp_path)
    (project / "test_with_tether.py").write_text(textwrap.dedent(JS_ERRORS))
    port = str(noisy_bidi_firefox.port)

    failing = run_project(project, "--tether-firefox-port", port, "--tether-js-errors=fail")
    out = failing.stdout
    assert failing.returncode == 1, out + failing.stderr
    assert "2 failed, 2 passed" in out, out
    assert "FAILED test_with_tether.py::test_a_page_that_throws" in out
    assert "1 uncaught JavaScript error in the page: Error: JS-BOOM-815" in out  # the failure's message
    assert "FAILED test_with_tether.py::test_an_error_thrown_after_the_last_command" in out
    assert "TypeError: LATE-ONE-42" in out
    assert "tether JavaScript errors" in out  # the failure's report has its own section
    assert "OTHER-TAB" not in out  # the first tab's errors are not the tests'
    assert "EXPECTED-7" not in out  # the test's own marker says ignore

    ignored = run_project(project, "--tether-firefox-port", port, "-k", "throws or last_command")
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    assert "2 passed" in ignored.stdout and "JS-BOOM-815" not in ignored.stdout

    (project / "pytest.ini").write_text("[pytest]\ntether_js_errors = warn\n")
    warned = run_project(project, "--tether-firefox-port", port)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "4 passed, 2 warnings" in warned.stdout, warned.stdout
    assert (
        "JavaScriptErrorWarning: 1 uncaught JavaScript error in the page: Error: JS-BOOM-815" in warned.stdout
    )


def test_js_errors_need_a_firefox_running_bidi(tmp_path, firefox_app):
    project = make_project(tmp_path)
    proc = run_project(project, "--tether-firefox-port", str(firefox_app.port), "--tether-js-errors=fail",
                       "-k", "shows_a_page")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 error" in proc.stdout
    assert "--tether-js-errors=fail needs a Firefox running WebDriver BiDi" in proc.stdout


def test_a_bad_js_errors_setting_in_the_ini_file_stops_the_run(tmp_path):
    project = make_project(tmp_path)
    (project / "pytest.ini").write_text("[pytest]\ntether_js_errors = sometimes\n")
    proc = run_project(project)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert "tether_js_errors = 'sometimes'" in proc.stderr
