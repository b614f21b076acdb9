"""Fault tests run ``tether`` in-process (the ``cli`` fixture of tests/conftest.py) against the
hostile fakes of :mod:`tether.testing`, with a private state directory."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def private_state(state_dir):
    """No fault test reads or writes the user's launch records."""
    return state_dir


#: every fault-matrix cell run in this session: (cell, exit code, seconds, deadline, expected)
RESULTS: list[tuple[str, int, float, float, int]] = []


def record(cell: str, code: int, seconds: float, deadline: float, expected: int) -> None:
    """Note one cell's outcome for the table printed at the end of the run."""
    RESULTS.append((cell, code, round(seconds, 2), deadline, expected))


def pytest_terminal_summary(terminalreporter):
    """The fault matrix as a table (and as markdown in $TETHER_FAULT_TABLE when set)."""
    if not RESULTS:
        return
    rows = ["| cell | exit code | expected | time (s) | deadline (s) |", "|---|---|---|---|---|"]
    rows += [f"| {c} | {code} | {exp} | {t:.2f} | {d:g} |" for c, code, t, d, exp in RESULTS]
    terminalreporter.write_sep("-", "fault matrix")
    for line in rows:
        terminalreporter.write_line(line)
    path = os.environ.get("TETHER_FAULT_TABLE")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(rows) + "\n")
