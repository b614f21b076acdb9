"""Fault tests run ``tether`` in-process (the ``cli`` fixture of tests/conftest.py) against the
hostile fakes of :mod:`tether.testing`, with a private state directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_state(state_dir):
    """No fault test reads or writes the user's launch records."""
    return state_dir
