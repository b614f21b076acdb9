"""Unit tests: the core and the adapters' logic against fakes (``tether.testing``), no real app."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_state(state_dir):
    """No unit test reads or writes the user's launch records."""
    return state_dir
