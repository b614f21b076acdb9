"""The Firefox adapter: its hints (which of a Firefox's listeners is Marionette, without touching a
socket) and ``attach(locate, **options)``, the last step of ``tether.connect("firefox")``."""

from __future__ import annotations

import pytest

import tether
import tether_firefox.client as client
from tether.endpoint import Endpoint, Listener
from tether.errors import Busy
from tether.testing import FakeServer
from tether_firefox.adapter import FirefoxAdapter
from tether_firefox.probe import PORT_FILE
from tether_firefox.testing import MARIONETTE_SESSION as SESSION
from tether_firefox.testing import marionette_handler


def firefox_listener(port: int, profile) -> Listener:
    cmd = [
        "/usr/lib/firefox-esr/firefox-esr",
        "--marionette",
        "--remote-debugging-port",
        "0",
        "--profile",
        str(profile),
    ]
    return Listener(host="127.0.0.1", port=port, bind="127.0.0.1", pid=42, process="firefox-esr", cmdline=cmd)


def test_the_port_in_marionette_active_port_is_hinted_by_file(tmp_path):
    (tmp_path / PORT_FILE).write_text("41234")
    hint = FirefoxAdapter().hints(firefox_listener(41234, tmp_path))
    assert hint is not None and hint.strength == "file"


def test_firefoxs_other_listener_is_not_taken_for_marionette(tmp_path):
    (tmp_path / PORT_FILE).write_text("41234")  # the Remote Agent (BiDi) listens on another port
    assert FirefoxAdapter().hints(firefox_listener(45678, tmp_path)) is None


def test_before_the_port_file_exists_the_process_is_the_hint(tmp_path):
    hint = FirefoxAdapter().hints(firefox_listener(45678, tmp_path))
    assert hint is not None and hint.strength == "process"


def test_a_non_firefox_process_on_another_port_is_not_hinted(tmp_path):
    other = Listener(
        host="127.0.0.1", port=45678, pid=7, process="python3", cmdline=["python3", "-m", "http.server"]
    )
    assert FirefoxAdapter().hints(other) is None


# ----------------------------------------------------------------------------- attach(locate, **options)
def test_connect_hands_the_command_deadline_to_the_client():
    with FakeServer(lambda conn, _server: marionette_handler(SESSION)(conn)) as server:
        ff = tether.connect("firefox", port=server.port, timeout=7.5)
        assert (ff.port, ff.timeout) == (server.port, 7.5)


def test_attach_retries_locate_while_the_session_slot_frees_up():
    endpoint = Endpoint(app="firefox", host="127.0.0.1", port=45678)
    calls = []

    def locate():
        calls.append(1)
        if len(calls) < 3:  # Firefox refuses for a moment right after a session ends
            raise Busy("busy", host="127.0.0.1", port=45678)
        return endpoint

    ff = FirefoxAdapter().attach(locate, timeout=4.0)
    assert (len(calls), ff.port, ff.timeout) == (3, 45678, 4.0)


def test_attach_names_the_holder_at_once_instead_of_retrying(monkeypatch):
    monkeypatch.setattr(client, "listener_pid", lambda port: 4242)
    monkeypatch.setattr(client, "likely_holder", lambda port, pid: "geckodriver (pid 99)")
    calls = []

    def locate():
        calls.append(1)
        raise Busy("busy", host="127.0.0.1", port=45678)

    with pytest.raises(Busy) as info:
        FirefoxAdapter().attach(locate, busy_wait=3.0)
    assert len(calls) == 1
    assert "geckodriver (pid 99)" in str(info.value)
