"""The pytest plugin is declared as a pytest11 entry point and costs nothing to load: pytest loads
it in every run of an environment where tether is installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_the_plugin_is_a_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"tether": "tether.pytest_plugin"}


def test_loading_the_plugin_imports_no_adapter_and_no_heavy_library():
    code = "import json, sys, tether.pytest_plugin; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert "tether.pytest_plugin" in loaded
    assert not {
        m for m in loaded if m.startswith(("tether_", "tether.cli", "requests", "selenium", "websocket"))
    }
