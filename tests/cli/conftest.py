"""CLI tests: ``tether …`` in-process (the ``cli`` fixture) against fakes, no real app."""

from __future__ import annotations

import pytest

from tether.testing import FakeServer


@pytest.fixture(autouse=True)
def private_state(state_dir):
    """No CLI test reads or writes the user's launch records."""
    return state_dir


@pytest.fixture
def listener():
    """A port that records any connection: a command refused for bad input must not even connect."""
    server = FakeServer(lambda conn, _server: conn.wait_closed(2))
    try:
        yield server
    finally:
        server.close()
