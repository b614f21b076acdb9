"""The config file and the state dir on Linux, found without importing platformdirs (~5 ms of every
command): the same places platformdirs names, by the XDG base directory spec."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

from tether import config, launched

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rules are Linux's")


@pytest.mark.parametrize("xdg", [None, "absolute", "relative"])
def test_the_config_file_is_where_platformdirs_puts_it(xdg, monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("TETHER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg") if xdg == "absolute" else "cfg")
    expected = {
        None: tmp_path / "home/.config",
        "absolute": tmp_path / "cfg",
        "relative": tmp_path / "home/.config",
    }
    assert config.config_path() == expected[xdg] / "tether" / "config.toml"
    # platformdirs 3 took a relative $XDG_CONFIG_HOME as it was; the spec says ignore it
    if xdg != "relative":
        assert config.config_path() == Path(platformdirs.user_config_dir("tether")) / "config.toml"


def test_the_state_dir_is_a_private_runtime_dir_else_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TETHER_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    os.chmod(runtime, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert launched.state_dir() == runtime / "tether"
    os.chmod(runtime, 0o755)  # not private: the spec says do not use it
    fallback = launched.state_dir()
    assert fallback in (tmp_path / "cache" / "tether", Path(f"/run/user/{os.geteuid()}/tether"))
    link = tmp_path / "link"
    os.chmod(runtime, 0o700)
    link.symlink_to(runtime)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(link))
    assert launched.state_dir() == fallback  # a symlink is not the directory the spec asks for
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/run")
    assert launched.state_dir() == fallback
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "override"))
    assert launched.state_dir() == tmp_path / "override"


def test_the_state_dir_is_platformdirs_own_where_the_runtime_dir_is_standard(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("TETHER_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    run_user = Path(f"/run/user/{os.geteuid()}")
    if run_user.is_dir():
        pytest.skip("this machine has a /run/user dir: platformdirs' answer depends on its parents")
    # no runtime dir: both fall back to the cache dir (platformdirs' tmp fallback does not exist)
    with warnings.catch_warnings():  # platformdirs warns that $XDG_RUNTIME_DIR is not set
        warnings.simplefilter("ignore")
        runtime = Path(platformdirs.user_runtime_dir())
    if runtime.is_dir():
        pytest.skip(f"{runtime} exists here: platformdirs would use it")
    assert launched.state_dir() == Path(platformdirs.user_cache_dir()) / "tether"
