"""IGV's hint from ``~/igv/prefs.properties`` (PORT_NUMBER): asked for every listener of a scan, the
file is looked at once per scan, not once per listener — and again after a moment or a new HOME."""

from __future__ import annotations

import os

from tether_igv import adapter


def _prefs(home, port: int) -> None:
    (home / "igv").mkdir(parents=True, exist_ok=True)
    (home / "igv" / "prefs.properties").write_text(f"PORT_NUMBER={port}\n")


def test_the_prefs_port_is_looked_at_once_per_moment_and_again_after(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "_HOME_PREFS", [])
    one, two = tmp_path / "one", tmp_path / "two"
    _prefs(one, 61001)
    _prefs(two, 61002)
    monkeypatch.setenv("HOME", str(one))
    assert adapter.IGVAdapter._home_prefs_port() == 61001
    monkeypatch.setenv("HOME", str(two))
    assert adapter.IGVAdapter._home_prefs_port() == 61002  # another HOME: looked at at once
    _prefs(two, 61003)
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: stats.append(a) or real_stat(*a, **k))
    for _ in range(200):  # a scan's listeners
        assert adapter.IGVAdapter._home_prefs_port() == 61002
    assert stats == []
    monkeypatch.setattr(adapter, "_HOME_PREFS_FRESH", 0.0)  # the moment has passed
    assert adapter.IGVAdapter._home_prefs_port() == 61003
    (two / "igv" / "prefs.properties").unlink()
    assert adapter.IGVAdapter._home_prefs_port() is None
