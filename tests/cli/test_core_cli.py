"""The core CLI: startup stays light, --version, scan/doctor output shapes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tether.cli import run

HEAVY = ("requests", "selenium", "websocket", "urllib3")


def _imported_modules(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    mods = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mods.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return mods


def test_import_tether_does_not_import_heavy_libraries():
    mods = _imported_modules("import tether")
    assert "tether" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)


@pytest.mark.parametrize("args", [["--help"], *([a, "--help"] for a in ("igv", "qserver", "firefox"))])
def test_help_does_not_import_heavy_libraries(args):
    # The root help mounts adapters as placeholders; each adapter's help imports its real CLI.
    mods = _imported_modules(f"from tether.cli import run; run({args!r})")
    assert "typer" in mods
    if args[0] != "--help":
        assert f"tether_{args[0]}" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_version(capsys):
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("tether ")


def test_help_lists_every_bundled_adapter_and_the_exit_codes(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("scan", "doctor", "igv", "qserver", "firefox", "Exit codes"):
        assert word in out


def test_scan_json_is_an_array_with_the_documented_keys(capsys, listener):
    assert run(["scan", "--json", "--all", "--no-probe"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list)
    assert listener.port in {entry.get("port") for entry in data}  # the loop below checks something
    for entry in data:
        assert {
            "app",
            "title",
            "version",
            "host",
            "port",
            "bind",
            "pid",
            "process",
            "confidence",
            "detail",
        } <= set(entry)
        assert entry["confidence"] in ("verified", "busy", "hinted", "unknown")


def test_doctor_json_reports_discovery_and_adapters(capsys):
    assert run(["doctor", "--json", "--timeout", "0.3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["discovery"]["permission"] in ("full", "partial", "denied")
    assert {"igv", "qserver", "firefox"} <= {a["adapter"] for a in report["adapters"]}
