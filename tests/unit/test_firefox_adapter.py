"""The Firefox adapter's hints: which of a Firefox's listeners is Marionette, without touching a socket."""

from __future__ import annotations

from tether.endpoint import Listener
from tether_firefox.adapter import FirefoxAdapter
from tether_firefox.probe import PORT_FILE


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
