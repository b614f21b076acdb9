"""The pytest plugins are declared as pytest11 entry points — the core's shared part and one per
adapter, which owns its fixtures — and cost nothing to load: pytest loads them in every run of an
environment where tether is installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]

PLUGINS = {
    "tether": "tether.pytest_plugin",
    "tether_igv": "tether_igv.pytest_plugin",
    "tether_qserver": "tether_qserver.pytest_plugin",
    "tether_firefox": "tether_firefox.pytest_plugin",
}


def test_each_adapter_ships_its_own_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == PLUGINS


def test_the_core_imports_no_adapter_without_a_waiver():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["name"] == "The core never imports an adapter")
    assert not core.get("ignore_imports")


@pytest.mark.parametrize("module", PLUGINS.values())
def test_loading_a_plugin_imports_only_pytest(module):
    code = (
        "import json, sys, pytest; before = set(sys.modules); "
        f"import {module}; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert module in loaded
    package = module.rsplit(".", 1)[0]
    # the module, its package's __init__ (lazy: no adapter, no client) and tether's error tree
    assert loaded - {module, package} <= {"tether", "tether.errors", "tether.endpoint"}, loaded
