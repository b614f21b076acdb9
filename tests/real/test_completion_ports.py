"""`--port` completion in a real bash offers the ports where tether finds the app, here a real Firefox."""

from __future__ import annotations

import time

import pytest

from tests.cli.test_completion import bash_complete, tether_on_path

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    return tether_on_path(tmp_path_factory.mktemp("bin"))


def test_port_of_an_adapter_command_completes_to_the_running_firefox(firefox_app, bindir):
    started = time.monotonic()
    candidates = bash_complete("tether firefox title --port ", bindir)
    assert str(firefox_app.port) in candidates
    assert all(c.isdigit() for c in candidates)
    assert time.monotonic() - started < 5  # a completion must not keep the user waiting


def test_port_of_wait_completes_to_the_running_firefox(firefox_app, bindir):
    assert str(firefox_app.port) in bash_complete("tether wait firefox --port ", bindir)


def test_port_completion_filters_by_what_is_typed(firefox_app, bindir):
    prefix = str(firefox_app.port)[:2]
    candidates = bash_complete(f"tether wait firefox --port {prefix}", bindir)
    assert str(firefox_app.port) in candidates and all(c.startswith(prefix) for c in candidates)
