"""`tether firefox navigate URL --har FILE` without a real Firefox: bad input exits 2 before any
connection; a Firefox without WebDriver BiDi is "not found" (3) for the network, saying why."""

from __future__ import annotations

import time

from tether.testing import FakeServer
from tether_firefox.testing import MARIONETTE_SESSION, marionette_handler


def test_har_into_a_missing_directory_exits_2_before_connecting(cli, listener, tmp_path):
    code, _, err = cli(
        "firefox", "navigate", "http://127.0.0.1:1/", "--har", str(tmp_path / "no" / "x.har"),
        "--port", str(listener.port),
    )  # fmt: skip
    assert code == 2 and "no directory" in err
    time.sleep(0.1)
    assert listener.connections == 0


def test_har_from_a_firefox_without_bidi_exits_3_and_says_so(cli, tmp_path):
    received: list = []
    handler = marionette_handler(MARIONETTE_SESSION, received)  # its NewSession offers no webSocketUrl
    with FakeServer(lambda conn, _server: handler(conn)) as server:
        code, _, err = cli(
            "firefox", "navigate", "http://127.0.0.1:1/", "--har", str(tmp_path / "x.har"),
            "--port", str(server.port),
        )  # fmt: skip
    assert code == 3, err
    assert "WebDriver BiDi" in err and "--bidi" in err
    assert not (tmp_path / "x.har").exists()
    new_session = next(c for c in received if c[2] == "WebDriver:NewSession")
    assert new_session[3]["webSocketUrl"] is True  # it asked for the session's BiDi endpoint
    assert not any(c[2] == "WebDriver:Navigate" for c in received)  # nothing loaded unrecorded


def test_navigate_help_names_the_har_option(cli):
    code, out, _ = cli("firefox", "navigate", "--help")
    assert code == 0 and "--har" in out and "HAR 1.2" in out
