"""The Firefox adapter against real headless Firefox ESR: Python API, attach, busy, Selenium, kills."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tether
from tether.errors import Busy, NotFound, Unreachable

from . import apps
from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real

TETHER = [sys.executable, "-m", "tether"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_python_api_drives_a_local_page(firefox_app, site, tmp_path):
    with tether.connect("firefox", port=firefox_app.port) as ff:
        assert ff.capabilities["moz:processID"] == firefox_app.pid
        ff.navigate(f"{site}/index.html")
        assert ff.title == "Tether test page"
        assert ff.find("#greeting").text == "Hello tether"
        assert [el.text for el in ff.find_all("li.item")] == ["one", "two", "three"]
        assert ff.find("//h1", by="xpath").attr("id") == "greeting"
        ff.type("#name", "Ada")
        ff.click("#go")
        assert ff.find("#out").text == "Hi Ada"
        assert ff.execute("return arguments[0] * 2 + document.querySelectorAll('li').length", [20]) == 43
        assert (
            ff.execute("setTimeout(() => arguments[1](arguments[0] + '!'), 50)", ["later"], async_=True)
            == "later!"
        )
        assert ff.execute("return document.getElementById('out')").text == "Hi Ada"

        viewport = ff.screenshot(tmp_path / "view.png")
        full = ff.screenshot(full=True)
        element = ff.screenshot(element="#greeting")
        assert (tmp_path / "view.png").read_bytes() == viewport
        vw, vh = png_size(viewport)
        _, fh = png_size(full)
        ew, eh = png_size(element)
        assert fh > vh >= 300  # the page is 3000 px tall: full covers it, the viewport does not
        assert ew < vw and eh < vh

        pdf = ff.pdf(tmp_path / "page.pdf")
        assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]

        ff.click("#next")
        assert ff.wait_for(title="Second").startswith("Second page")
        ff.back()
        assert ff.url.endswith("/index.html")
        ff.forward()
        assert ff.title == "Second page"


def test_errors_carry_firefox_message(firefox_app, site):
    from tether_firefox.marionette import JavascriptError, NoSuchElement, UnknownCommand

    with tether.connect("firefox", port=firefox_app.port, timeout=10) as ff:
        ff.navigate(f"{site}/second.html")
        with pytest.raises(NoSuchElement, match="#missing"):
            ff.find("#missing")
        with pytest.raises(JavascriptError, match="nope is not defined"):
            ff.execute("return nope.value")
        with pytest.raises(UnknownCommand):
            ff.call("WebDriver:NoSuchCommand")
        # the session still works after refusals
        assert ff.title == "Second page"


def test_explicit_wait_sees_late_content_and_times_out_cleanly(firefox_app, site):
    from tether_firefox.marionette import PageLoadTimeout

    with tether.connect("firefox", port=firefox_app.port) as ff:
        ff.navigate(f"{site}/late.html")
        assert ff.wait_for("#late", timeout=5).text == "arrived"
        started = time.monotonic()
        with pytest.raises(PageLoadTimeout) as info:
            ff.wait_for("#never", timeout=0.5)
        assert info.value.exit_code == 4
        assert time.monotonic() - started < 2


def test_chrome_context_needs_system_access(firefox_app):
    from tether_firefox.marionette import UnsupportedOperation

    with pytest.raises(UnsupportedOperation) as info:
        tether.connect("firefox", port=firefox_app.port, chrome=True).open()
    assert "-remote-allow-system-access" in str(info.value)
    with tether.connect("firefox", port=firefox_app.port) as ff:  # the refused session was deleted
        assert isinstance(ff.title, str)


def test_scan_finds_firefox_on_an_ephemeral_port(firefox_app):
    eps = [e for e in tether.scan(["firefox"]) if e.port == firefox_app.port]
    assert len(eps) == 1
    ep = eps[0]
    assert ep.confidence == "verified" and ep.pid == firefox_app.pid
    assert ep.version and ep.version.startswith("153")


@pytest.fixture(scope="module")
def firefox_2828(tmp_path_factory):
    """A second Firefox started by hand with --marionette on the default port 2828."""
    if not port_free(2828):
        pytest.skip("port 2828 is taken on this machine")
    app = apps.start_firefox(tmp_path_factory.mktemp("ff2828"), port=2828)
    try:
        yield app
    finally:
        app.stop()


def test_scan_finds_firefox_on_2828_beside_the_ephemeral_one(firefox_app, firefox_2828):
    found = {e.port: e for e in tether.scan(["firefox"]) if e.confidence == "verified"}
    assert found[2828].pid == firefox_2828.pid
    assert found[firefox_app.port].pid == firefox_app.pid
    with pytest.raises(tether.AmbiguousTarget) as info:  # two answer: tether will not guess
        tether.connect("firefox")
    assert {c.port for c in info.value.candidates} >= {2828, firefox_app.port}
    with tether.connect("firefox", port=2828) as ff:
        assert ff.capabilities["moz:processID"] == firefox_2828.pid


def test_quit_stops_a_firefox_tether_did_not_launch_only_with_force(firefox_2828, tmp_path):
    env = {**os.environ, "TETHER_STATE_DIR": str(tmp_path)}
    quit_cmd = [*TETHER, "firefox", "quit", "--port", "2828"]
    refused = subprocess.run(quit_cmd, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert firefox_2828.alive()
    forced = subprocess.run(
        [*quit_cmd, "--force", "--json"], capture_output=True, text=True, timeout=60, env=env
    )
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["pid"] == firefox_2828.pid
    firefox_2828.proc.popen.wait(30)  # Marionette:Quit: Firefox exits by itself
    assert not firefox_2828.alive()


def test_busy_while_another_client_holds_the_session(firefox_app, site):
    from tether_firefox import Firefox

    with Firefox("127.0.0.1", firefox_app.port) as holder:
        holder.navigate(f"{site}/second.html")
        started = time.monotonic()
        with pytest.raises(Busy) as info:
            Firefox.attach(port=firefox_app.port).open()
        assert time.monotonic() - started < 1.5  # the holder is visible: no pointless retrying
        assert "python" in str(info.value).lower() or "pid" in str(info.value)

        cli = subprocess.run(
            [*TETHER, "firefox", "title", "--port", str(firefox_app.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert cli.returncode == 4, cli.stderr
        assert "busy" in cli.stderr
        assert holder.title == "Second page"  # the holder keeps working
    with Firefox.attach(port=firefox_app.port) as ff:  # and once it is gone, the next client gets in
        assert ff.title == "Second page"


def test_selenium_driver_drives_the_same_firefox(firefox_app, site):
    from tether_firefox import selenium_driver

    driver = selenium_driver(port=firefox_app.port)
    try:
        assert driver.capabilities["moz:processID"] == firefox_app.pid
        driver.get(f"{site}/index.html")
        assert driver.title == "Tether test page"
        assert driver.find_element("css selector", "#greeting").text == "Hello tether"
        from tether_firefox import Firefox

        with pytest.raises(Busy, match="geckodriver"):  # Selenium holds the one session, and is named
            Firefox.attach(port=firefox_app.port).open()
    finally:
        driver.quit()
    with tether.connect("firefox", port=firefox_app.port) as ff:  # Firefox survived driver.quit()
        assert ff.title == "Tether test page"


def test_firefox_killed_mid_command_exits_4_without_hanging(tmp_path, site):
    app = apps.start_firefox(tmp_path / "victim")
    try:
        cmd = [
            *TETHER,
            "firefox",
            "eval",
            "--async",
            "setTimeout(arguments[0], 60000)",
            "--port",
            str(app.port),
            "--timeout",
            "90",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)  # the command is waiting on Firefox now
        assert proc.poll() is None
        os.killpg(app.pid, signal.SIGKILL)
        started = time.monotonic()
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 4, err
        assert time.monotonic() - started < 5
        assert "closed the connection" in err or "reset" in err
    finally:
        app.stop()
    with pytest.raises((NotFound, Unreachable)):
        tether.connect("firefox", port=app.port).open()


def test_example_smoke_test_passes_against_the_running_firefox(firefox_app):
    run = apps.run_example_test("firefox_smoke_test.py", firefox_app.port)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


def test_benchmark_runs_all_three_clients_on_one_firefox(firefox_app):
    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "firefox.py"
    run = subprocess.run(
        [sys.executable, str(bench), "--port", str(firefox_app.port), "-n", "20", "--rounds", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result["ms_per_call"]) == {"bare", "tether", "selenium"}
    assert all(ms > 0 for ms in result["ms_per_call"].values())
    assert result["selenium_vs_bare"] > 1  # HTTP to geckodriver, then Marionette: never faster than bare
