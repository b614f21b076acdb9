"""Fixtures every test package uses: the in-process CLI runner and a private state directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli("igv", "goto", …)`` runs ``tether igv goto …`` in-process and returns
    ``(exit code, stdout, stderr)`` of that run only."""
    from tether.cli import run

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """``TETHER_STATE_DIR`` (launch records, logs) in the test's own temporary directory."""
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"
