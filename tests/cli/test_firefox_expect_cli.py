"""`tether firefox expect` and the auto-waiting actions' options: bad input exits 2 before any
connection (the checks the client makes run first), without a real Firefox."""

from __future__ import annotations

import time

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["expect"],
        ["expect", "#x"],
        ["expect", "#x", "--visible", "--hidden"],
        ["expect", "#x", "--enabled", "--disabled"],
        ["expect", "#x", "--checked", "--unchecked"],
        ["expect", "#x", "--text", "a", "--title", "t"],
        ["expect", "--title", "a", "--url", "b"],
        ["expect", "#x", "--attr", "=v"],
        ["expect", "#x", "--count", "-1"],
        ["expect", "a >>> ", "--visible"],
        ["press", "Enter", "--force"],
        ["screenshot", "out.png", "--force"],
        ["navigate", "no-such-page.html"],
        ["navigate", "localhost:8000/app"],
    ],
)
def test_bad_input_exits_2_before_connecting(cli, listener, argv):
    code, _, err = cli("firefox", *argv, "--port", str(listener.port))
    assert code == 2, err
    time.sleep(0.1)
    assert listener.connections == 0


def test_navigate_says_what_to_give_instead(cli, listener):
    code, _, err = cli("firefox", "navigate", "localhost:8000/app", "--port", str(listener.port))
    assert code == 2 and "http://localhost:8000/app" in err


def test_expect_and_force_are_in_the_help(cli):
    code, out, _ = cli("firefox", "expect", "--help")
    assert code == 0 and all(f in out for f in ("--text", "--count", "--hidden", "--title", "--url"))
    for command in ("click", "type", "hover", "drag", "scroll"):
        code, out, _ = cli("firefox", command, "--help")
        assert code == 0 and "--force" in out, command
