"""A Firefox command ends by its --timeout, opening and closing the session included (issue 9, item 2)."""

from __future__ import annotations

import time

from tether.testing import FakeServer
from tether_firefox.testing import (
    MARIONETTE_GREETING,
    MARIONETTE_SESSION,
    marionette_frame,
    marionette_handler,
    read_marionette_command,
)


def _greets_then_silent(conn, server):
    conn.sendall(marionette_frame(MARIONETTE_GREETING))
    conn.wait_closed(40)


def _freezes_on(name: str):
    """A Marionette that opens the session, then never answers ``name`` (a frozen Firefox)."""

    def handler(conn, server):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        while (cmd := read_marionette_command(conn)) is not None:
            _, msg_id, cmd_name, params = cmd
            if cmd_name == name:
                conn.wait_closed(40)
                return
            value = (
                MARIONETTE_SESSION[cmd_name](params) if cmd_name in MARIONETTE_SESSION else {"value": None}
            )
            conn.sendall(marionette_frame([1, msg_id, None, value]))

    return handler


def test_opening_the_session_honours_the_command_deadline(cli):
    with FakeServer(_greets_then_silent) as srv:
        start = time.monotonic()
        code, _, err = cli("firefox", "title", "--port", str(srv.port), "--timeout", "2")
        took = time.monotonic() - start
    assert code == 4, err
    assert took < 3.0, took  # 30 s before: NewSession always waited 30 s
    assert "within 2 s" in err and "Traceback" not in err


def test_a_firefox_frozen_mid_command_is_left_at_the_deadline_without_waiting_to_close(cli):
    with FakeServer(_freezes_on("WebDriver:Navigate")) as srv:
        start = time.monotonic()
        code, _out, err = cli(
            "firefox", "navigate", "https://example.org/", "--port", str(srv.port), "-t", "2"
        )
        took = time.monotonic() - start
        sent = [c for c in srv.received[0].split(b":") if b"DeleteSession" in c]
    assert code == 4, err
    assert took < 3.0, took  # 2 s + 5 s margin + 2 s more to close before
    assert "within 2 s" in err
    assert not sent  # no DeleteSession after a call that timed out: closing the socket ends it


def test_a_healthy_session_still_ends_with_delete_session(cli):
    received: list = []
    handler = marionette_handler(
        {**MARIONETTE_SESSION, "WebDriver:GetTitle": lambda p: {"value": "A title"}}, received
    )
    with FakeServer(lambda c, _: handler(c)) as srv:
        code, out, err = cli("firefox", "title", "--port", str(srv.port), "-t", "5")
    assert code == 0, err
    assert "A title" in out
    assert [c[2] for c in received] == [
        "WebDriver:NewSession",
        "WebDriver:GetTitle",
        "WebDriver:DeleteSession",
    ]


def test_a_silent_marionette_port_is_not_called_busy_with_another_client(cli, monkeypatch):
    import tether_firefox.probe

    # the owner of the port cannot be told (as for a Firefox that froze): no "web server" excuse
    monkeypatch.setattr(tether_firefox.probe, "listener_name", lambda host, port: None)
    with FakeServer(lambda conn, server: conn.wait_closed(10)) as srv:
        code, _, err = cli("firefox", "title", "--port", str(srv.port), "-t", "1")
    assert code == 4
    assert "another client" not in err and "no Marionette greeting within 1 s" in err
