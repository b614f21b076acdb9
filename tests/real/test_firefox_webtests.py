"""What real web tests need, on real headless Firefox ESR with pages served locally: elements found
below elements and inside shadow roots, element state, dialogs, frames, keys and mouse, windows."""

from __future__ import annotations

import json

import pytest

import tether

from .test_firefox_cli import tether as run_tether
from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


@pytest.fixture
def ff(firefox_app):
    with tether.connect("firefox", port=firefox_app.port, timeout=15) as session:
        yield session


def cli(firefox_app, tmp_path, *args: str, check: bool = True):
    """``tether firefox ARGS --port <the session Firefox>``."""
    return run_tether(*args, "--port", str(firefox_app.port), state=tmp_path / "state", check=check)


# ----------------------------------------------------------------------------- elements
def test_find_below_an_element_and_every_match_below_it(ff, site):
    ff.navigate(f"{site}/widgets.html")
    items = ff.find_all("#list li")
    assert [li.find("b.bold").text for li in items] == ["A", "B"]
    assert [b.text for b in ff.find("#list").find_all(".bold")] == ["A", "B"]
    assert ff.find("#list").find("./li[2]/b", by="xpath").text == "B"
    assert ff.find("#list").find_all("i") == []


def test_element_state_and_css(ff, site):
    ff.navigate(f"{site}/widgets.html")
    assert ff.find("#agree").is_selected() and not ff.find("#r1").is_selected()
    assert ff.find("#r2").is_selected()
    assert not ff.find("#off").is_enabled() and ff.find("#agree").is_enabled()
    assert not ff.find("#hidden").is_displayed() and ff.find("#red").is_displayed()
    assert ff.find("#red").css_value("color") == "rgb(255, 0, 0)"


def test_shadow_roots_and_piercing_selectors(ff, site):
    from tether_firefox.client import ShadowRoot
    from tether_firefox.marionette import NoSuchShadowRoot

    ff.navigate(f"{site}/widgets.html")
    root = ff.find("#card").shadow_root
    assert isinstance(root, ShadowRoot)
    assert root.find(".title").text == "Card title"
    assert [p.text for p in root.find_all("p")] == ["Card title"]
    assert ff.find("my-card >>> my-inner >>> .deep").text == "deep text"
    assert [e.text for e in ff.find_all("my-card >>> button.ok")] == ["OK"]
    ff.click("#card >>> button.ok")
    assert ff.find("#card >>> button.ok").text == "clicked"
    assert isinstance(ff.execute("return arguments[0].shadowRoot", [ff.find("#card")]), ShadowRoot)
    with pytest.raises(NoSuchShadowRoot):
        _ = ff.find("#red").shadow_root


def test_get_cookie_and_a_typed_error_for_a_bad_cookie_domain(ff, site):
    from tether_firefox.marionette import InvalidCookieDomain

    ff.navigate(f"{site}/widgets.html")
    assert ff.get_cookie("flavour")["value"] == "chocolate"
    assert ff.get_cookie("nope") is None
    with pytest.raises(InvalidCookieDomain) as info:
        ff.add_cookie("x", "1", domain="example.org")
    assert info.value.exit_code == 1


# ----------------------------------------------------------------------------- dialogs
def test_dialogs_from_python_are_left_open_until_answered(ff, site):
    from tether_firefox.marionette import NoSuchAlert, UnexpectedAlertOpen

    ff.navigate(f"{site}/dialogs.html")
    assert ff.dialog() is None
    ff.click("#c")
    assert (ff.dialog().type, ff.dialog().text) == ("confirm", "sure?")
    with pytest.raises(UnexpectedAlertOpen, match="a confirm dialog is open: sure"):
        _ = ff.title  # refused, and the dialog stays open
    ff.alert.accept()
    assert ff.find("#out").text == "yes"
    ff.click("#p")
    prompt = ff.alert
    assert (prompt.type, prompt.text) == ("prompt", "name?")
    prompt.send("Grace")
    prompt.accept()
    assert ff.find("#out").text == "Grace"
    with pytest.raises(NoSuchAlert):
        _ = ff.alert


def test_cli_reports_a_dialog_a_click_opened_and_answers_it_on_request(firefox_app, site, tmp_path):
    cli(firefox_app, tmp_path, "navigate", f"{site}/dialogs.html")
    done = cli(firefox_app, tmp_path, "click", "#a")
    assert done.stdout.strip() == "clicked #a; an alert dialog is open: hello alert"
    assert cli(firefox_app, tmp_path, "alert").stdout.strip() == "hello alert"
    assert "accepted the alert" in cli(firefox_app, tmp_path, "alert", "accept").stdout

    opened = json.loads(cli(firefox_app, tmp_path, "click", "#c", "--json").stdout)
    assert opened == {"clicked": "#c", "dialog": {"type": "confirm", "text": "sure?"}}
    refused = cli(firefox_app, tmp_path, "title", check=False)
    assert refused.returncode == 1 and "a confirm dialog is open: sure?" in refused.stderr
    assert "alert accept" in refused.stderr  # the hint says how to answer it
    cli(firefox_app, tmp_path, "alert", "accept")  # the confirm survived the refused command
    assert cli(firefox_app, tmp_path, "find", "#out", "--text").stdout.strip() == "yes"

    cli(firefox_app, tmp_path, "click", "#c")
    cli(firefox_app, tmp_path, "alert", "dismiss")
    assert cli(firefox_app, tmp_path, "find", "#out", "--text").stdout.strip() == "no"

    cli(firefox_app, tmp_path, "click", "#p")
    cli(firefox_app, tmp_path, "alert", "send", "Ada Lovelace")
    assert cli(firefox_app, tmp_path, "find", "#out", "--text").stdout.strip() == "Ada Lovelace"

    none = cli(firefox_app, tmp_path, "alert", check=False)
    assert none.returncode == 1 and "no dialog is open" in none.stderr


@pytest.mark.parametrize("argv", [["alert", "bogus"], ["alert", "send"], ["alert", "accept", "x"]])
def test_bad_alert_actions_exit_2(firefox_app, tmp_path, argv):
    assert cli(firefox_app, tmp_path, *argv, check=False).returncode == 2


# ----------------------------------------------------------------------------- frames and shadow DOM
def test_frames_from_python(ff, site):
    ff.navigate(f"{site}/frames.html")
    with ff.frame("#outer"):
        assert ff.find("#where").text == "outer frame"
        with ff.frame("iframe.inner"):
            ff.click("#deep")
            assert ff.find("#deep").text == "pressed"
    assert ff.find("h1").text == "top"  # back in the top-level document
    with ff.frame(0, 0):  # indexes work too
        assert ff.find("#deep").text == "pressed"


def test_cli_reaches_a_nested_frame_and_a_shadow_root(firefox_app, site, tmp_path):
    cli(firefox_app, tmp_path, "navigate", f"{site}/frames.html")
    cli(firefox_app, tmp_path, "click", "#deep", "--frame", "#outer", "--frame", "iframe.inner")
    found = cli(firefox_app, tmp_path, "find", "#deep", "--frame", "0", "--frame", "0", "--text")
    assert found.stdout.strip() == "pressed"
    assert cli(
        firefox_app, tmp_path, "eval", "return document.title", "--frame", "#outer"
    ).stdout.strip() == ('"Frame 1"')
    shot = tmp_path / "deep.png"
    cli(firefox_app, tmp_path, "screenshot", str(shot), "--element", "#deep", "--frame", "0", "--frame", "0")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli(firefox_app, tmp_path, "find", "#deep", check=False).returncode == 1  # not in the top document

    cli(firefox_app, tmp_path, "navigate", f"{site}/widgets.html")
    cli(firefox_app, tmp_path, "click", "my-card >>> button.ok")
    assert cli(firefox_app, tmp_path, "find", "#card >>> button.ok", "--text").stdout.strip() == "clicked"


def test_find_attr_absent_prints_nothing_and_eval_describes_an_element(firefox_app, site, tmp_path):
    cli(firefox_app, tmp_path, "navigate", f"{site}/widgets.html")
    absent = cli(firefox_app, tmp_path, "find", "#red", "--attr", "data-nope")
    assert absent.stdout == ""
    assert json.loads(cli(firefox_app, tmp_path, "find", "#red", "--attr", "data-nope", "--json").stdout) == {
        "tag": "p",
        "text": "red",
        "data-nope": None,
    }
    described = json.loads(cli(firefox_app, tmp_path, "eval", "return document.querySelector('#off')").stdout)
    assert described == {"element": "button#off", "tag": "button", "text": "off"}


# ----------------------------------------------------------------------------- keys and mouse
def test_keys_hover_drag_and_scroll_from_python(ff, site):
    ff.navigate(f"{site}/input.html")
    ff.find("#field").click()
    ff.actions().press("Control+a").type("new text").perform()
    assert ff.find("#field").prop("value") == "new text"
    ff.press("Control+k")
    assert ff.find("#keys").text == "shortcut Control+k"  # the page's own shortcut handler saw it

    ff.drag("#handle", "#slot")  # mouse events: press, move, release
    assert ff.find("#moved").text == "moved by mouse"
    assert ff.execute("return document.querySelector('#handle').parentElement.id") == "slot"
    ff.drag("#card", "#bin")  # draggable="true": the HTML5 drag events
    assert ff.find("#dropped").text == "dropped card"
    assert ff.execute("return document.querySelector('#card').parentElement.id") == "bin"

    assert not ff.find("#menu-item").is_displayed()
    ff.hover("#menu-title")
    assert ff.find("#menu-item").is_displayed()  # a :hover menu opened

    ff.scroll("#far")
    assert ff.execute("return arguments[0].getBoundingClientRect().top < innerHeight", [ff.find("#far")])
    before = ff.execute("return scrollY")
    ff.scroll(dy=-200)
    assert ff.execute("return scrollY") == before - 200


def test_cli_keys_hover_drag_and_scroll(firefox_app, site, tmp_path):
    cli(firefox_app, tmp_path, "navigate", f"{site}/input.html")
    cli(firefox_app, tmp_path, "drag", "#handle", "#slot")
    assert cli(firefox_app, tmp_path, "find", "#moved", "--text").stdout.strip() == "moved by mouse"
    cli(firefox_app, tmp_path, "drag", "#card", "#bin")
    assert cli(firefox_app, tmp_path, "find", "#dropped", "--text").stdout.strip() == "dropped card"
    cli(firefox_app, tmp_path, "click", "#field")
    cli(firefox_app, tmp_path, "press", "Control+a", "Delete")
    cli(firefox_app, tmp_path, "press", "--text", "typed", "Tab")
    value = cli(firefox_app, tmp_path, "eval", "return document.querySelector('#field').value")
    assert json.loads(value.stdout) == "typed"
    cli(firefox_app, tmp_path, "press", "Control+k")
    assert cli(firefox_app, tmp_path, "find", "#keys", "--text").stdout.strip() == "shortcut Control+k"
    where = json.loads(cli(firefox_app, tmp_path, "scroll", "--by", "0,300", "--json").stdout)
    assert where == {"x": 0, "y": 300}
    # (after the scroll: a hover menu closing above the fold moves the page by its height, scroll anchoring)
    cli(firefox_app, tmp_path, "scroll", "--by", "0,-300")
    assert cli(firefox_app, tmp_path, "hover", "#menu-title").stdout.strip() == "hovering over #menu-title"
    assert cli(firefox_app, tmp_path, "find", "#menu-item", "--text").stdout.strip() == "Settings"
    unknown = cli(firefox_app, tmp_path, "press", "Contrl+k", check=False)
    assert unknown.returncode == 2 and "unknown key 'Contrl'" in unknown.stderr


# ----------------------------------------------------------------------------- the window
def test_window_resized_and_moved_from_the_cli_and_python(firefox_app, tmp_path):
    rect = json.loads(cli(firefox_app, tmp_path, "window", "--size", "1000x700", "--json").stdout)
    assert (rect["width"], rect["height"]) == (1000, 700)
    assert cli(firefox_app, tmp_path, "eval", "return outerWidth").stdout.strip() == "1000"
    assert cli(firefox_app, tmp_path, "window", "--position", "10,20").stdout.strip() == "1000x700 at 10,20"
    assert cli(firefox_app, tmp_path, "window", "--size", "0x700", check=False).returncode == 2
    with tether.connect("firefox", port=firefox_app.port) as ff:
        assert ff.set_window_rect(width=1200, height=800)["width"] == 1200
        assert ff.window_rect()["height"] == 800
        assert ff.execute("return outerHeight") == 800


# ----------------------------------------------------------------------------- launch options, downloads
@pytest.mark.parametrize(
    "argv",
    [
        ["--pref", "novalue"],
        ["--pref", "a.b=[1]"],
        ["--pref", "=3"],
        ["--window-size", "-1x500"],
        ["--window-size", "big"],
        ["--proxy", "ftp://127.0.0.1:21"],
        ["--proxy", "http://nohost"],
    ],
)
def test_bad_launch_options_exit_2_before_anything_starts(tmp_path, argv):
    # a missing binary: were the option not checked first, this would exit 3 (and start nothing either way)
    done = run_tether(
        "launch", "--headless", "--binary", "/no/such/firefox", *argv, state=tmp_path, check=False
    )
    assert done.returncode == 2, done.stderr


def test_launch_options_and_a_headless_download(site, tmp_path, monkeypatch):
    import os
    import signal

    import psutil

    state, downloads = tmp_path / "state", tmp_path / "downloads"
    launched = run_tether(
        "launch", "--headless", "--system-access", "--json",
        "--pref", "tether.test.count=42", "--pref", "tether.test.name=hello world",
        "--window-size", "800x600", "--download-dir", str(downloads), "--accept-insecure-certs",
        "--proxy", "http://127.0.0.1:9",
        state=state,
    )  # fmt: skip
    info = json.loads(launched.stdout)
    port = str(info["port"])
    try:
        assert info["download_dir"] == str(downloads) and info["accept_insecure_certs"] is True

        def ff(*args: str, check: bool = True):
            return run_tether(*args, "--port", port, state=state, check=check)

        prefs = ff(
            "eval", "--chrome",
            "const p = Services.prefs;"
            "return [p.getIntPref('tether.test.count'), p.getStringPref('tether.test.name'),"
            " p.getStringPref('network.proxy.http'), p.getIntPref('network.proxy.type')]",
        )  # fmt: skip
        assert json.loads(prefs.stdout) == [42, "hello world", "127.0.0.1", 1]
        assert json.loads(ff("eval", "return [outerWidth, outerHeight]").stdout) == [800, 600]
        assert json.loads(ff("capabilities", "--json").stdout)["acceptInsecureCerts"] is True
        # the Python API gets the launch record's options too, not only the CLI
        monkeypatch.setenv("TETHER_STATE_DIR", str(state))
        with tether.connect("firefox", port=int(port)) as session:
            assert session.capabilities["acceptInsecureCerts"] is True

        assert "no downloads" in ff("downloads").stdout
        ff("navigate", f"{site}/download.html")  # localhost is never sent through the proxy
        ff("click", "#get")
        files = json.loads(ff("downloads", "--wait", "--timeout", "20", "--json").stdout)
        expected = len(("tether download test\n" * 1000).encode())
        assert files == [{"name": "report.bin", "bytes": expected, "complete": True}]
        assert (downloads / "report.bin").read_text().startswith("tether download test")
    finally:
        run_tether("quit", "--port", port, state=state, check=False)
        if psutil.pid_exists(info["pid"]):
            os.killpg(info["pid"], signal.SIGKILL)


def test_downloads_without_a_download_dir_is_not_found(tmp_path):
    done = run_tether("downloads", state=tmp_path, check=False)
    assert done.returncode == 3 and "--download-dir" in done.stderr


# ----------------------------------------------------------------------------- console messages while driving
def test_a_session_collects_the_console_and_errors_its_own_click_caused(bidi_firefox, site):
    seen: list[dict] = []
    with tether.connect("firefox", port=bidi_firefox.port, console=seen.append) as ff:
        ff.navigate(f"{site}/console.html")
        assert ff.console_messages() == []
        ff.click("#go")
        ff.wait_until(lambda: ff.js_errors(), timeout=5, what="the uncaught error")
        messages = ff.console_messages()
        assert [(m["type"], m["level"], m["text"]) for m in messages] == [
            ("console", "warn", "about to fail"),
            ("javascript", "error", "Error: kaboom"),
        ]
        assert messages[1]["url"] == f"{site}/console.html"
        assert [e["text"] for e in ff.js_errors()] == ["Error: kaboom"]
        assert seen == messages  # the callback got each one as it came
    with tether.connect("firefox", port=bidi_firefox.port) as ff:  # the session ended cleanly: free again
        assert ff.title == "Console"


def test_console_collection_needs_webdriver_bidi(firefox_app):
    from tether.errors import NotFound, UsageError

    with pytest.raises(NotFound, match="no WebDriver BiDi") as info:
        tether.connect("firefox", port=firefox_app.port, console=True).open()
    assert info.value.exit_code == 3
    # the refused session was deleted: the next one opens
    with (
        tether.connect("firefox", port=firefox_app.port) as ff,
        pytest.raises(UsageError, match="console=True"),
    ):
        ff.console_messages()


# ----------------------------------------------------------------------------- the example web test
def test_the_example_web_test_passes_against_the_running_firefox(firefox_app):
    from .apps import run_example_test

    run = run_example_test("firefox_web_test.py", firefox_app.port)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout
