"""`tether firefox …` without a real Firefox: bad input exits 2 before any connection, and
not-found / busy / wrong-app / refused map to their exit codes (fake servers stand in)."""

from __future__ import annotations

import json
import time

import pytest

from tether.testing import FakeServer, close_at_once
from tether_firefox.testing import MARIONETTE_SESSION, marionette_frame, marionette_handler


def test_help_lists_the_commands(cli):
    code, out, _ = cli("firefox", "--help")
    assert code == 0
    commands = ("launch", "quit", "navigate", "screenshot", "pdf", "eval", "wait", "logs", "windows")
    assert all(name in out for name in commands)


@pytest.mark.parametrize(
    "argv",
    [
        ["call", "WebDriver:GetTitle", "{not json"],
        ["call", "WebDriver:GetTitle", "[1, 2]"],
        ["call", "GetTitle"],
        ["eval", "return 1", "--args", '{"a": 1}'],
        ["eval", "@/no/such/script.js"],
        ["screenshot", "out.png", "--full", "--element", "h1"],
        ["wait"],
        ["wait", "#x", "--title", "t"],
        ["press", "Contrl+k"],
        ["press", "Enter", "Bogus"],
        ["press"],
        ["scroll"],
        ["scroll", "--by", "x"],
        ["scroll", "--by", "1,2,3"],
        ["alert", "bogus"],
        ["alert", "send"],
        ["alert", "accept", "extra"],
        ["screenshot", "out.png", "--frame", "0"],
        ["window", "--size", "-5x10"],
        ["window", "--size", "1024"],
        ["window", "--position", "a,b"],
        ["window", "--maximize", "--minimize"],
        ["window", "--fullscreen", "--size", "800x600"],
    ],
)
def test_bad_input_exits_2_before_connecting(cli, listener, argv):
    code, _, err = cli("firefox", *argv, "--port", str(listener.port))
    assert code == 2, err
    time.sleep(0.1)
    assert listener.connections == 0


def test_nothing_listening_exits_3(cli):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    code, _, err = cli("firefox", "title", "--port", str(free))
    assert code == 3
    assert "not found" in err.lower()


def test_closed_without_greeting_exits_4_as_busy(cli):
    with FakeServer(close_at_once) as server:
        started = time.monotonic()
        code, _, err = cli("firefox", "title", "--port", str(server.port), "--timeout", "5")
    assert code == 4
    assert "busy" in err
    assert time.monotonic() - started < 6


def devtools(conn, _server) -> None:
    """Firefox's DevTools server: the same framing, another greeting."""
    conn.sendall(marionette_frame({"from": "root", "applicationType": "browser", "traits": {}}))
    conn.wait_closed(2)


def test_another_app_on_the_port_exits_6(cli):
    with FakeServer(devtools) as server:
        code, _, err = cli("firefox", "title", "--port", str(server.port))
    assert code == 6, err


def test_title_and_json_against_a_marionette_double(cli):
    title = {**MARIONETTE_SESSION, "WebDriver:GetTitle": lambda p: {"value": "Fake page"}}
    with FakeServer(lambda conn, _server: marionette_handler(title)(conn)) as server:
        code, out, _ = cli("firefox", "title", "--port", str(server.port))
        assert (code, out.strip()) == (0, "Fake page")
        code, out, _ = cli("firefox", "title", "--port", str(server.port), "--json")
        assert json.loads(out) == {"title": "Fake page"}


def test_refusal_from_firefox_exits_1_with_its_message(cli):
    refuse = {
        **MARIONETTE_SESSION,
        "WebDriver:FindElement": lambda p: {"error": "no such element", "message": f"no {p['value']}"},
    }
    with FakeServer(lambda conn, _server: marionette_handler(refuse)(conn)) as server:
        code, _, err = cli("firefox", "find", "#nope", "--port", str(server.port))
    assert code == 1
    assert "no #nope" in err


def test_quit_refuses_without_a_launch_record(cli, listener):
    code, _, err = cli("firefox", "quit", "--port", str(listener.port))
    assert code == 2
    assert "--force" in err
    assert listener.connections == 0


def test_launch_with_a_missing_binary_exits_3(cli):
    code, _, err = cli("firefox", "launch", "--headless", "--binary", "/no/such/firefox")
    assert code == 3
    assert "/no/such/firefox" in err


def test_logs_without_a_bidi_firefox_exits_3(cli, monkeypatch):
    import tether_firefox.launch as launch

    monkeypatch.setattr(launch, "firefox_processes", lambda: iter(()))
    code, _, err = cli("firefox", "logs", "--for", "1")
    assert code == 3
    assert "--bidi" in err


def test_launch_port_is_the_marionette_port_and_a_bad_one_exits_2(cli):
    # (a missing binary: were --port lost, this exits 3 instead of starting a Firefox)
    code, _, err = cli("firefox", "launch", "--headless", "--port", "70000", "--binary", "/no/such/firefox")
    assert code == 2, err
    assert "70000" in err


def test_every_command_takes_the_shared_options_once(cli):
    code, out, _ = cli("firefox", "navigate", "--help")
    assert code == 0
    assert all(opt in out for opt in ("--host", "--port", "--timeout", "--json", "--verbose"))
    code, out, _ = cli("firefox", "launch", "--help")
    assert code == 0
    assert "Marionette port" in out and "--host" not in out
