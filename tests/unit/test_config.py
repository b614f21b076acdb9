from __future__ import annotations

import pytest

from tether import config
from tether.errors import UsageError


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[qserver]\nurl = "http://127.0.0.1:1"\napi_key_file = "/k"\n')
    monkeypatch.setenv("TETHER_CONFIG", str(path))
    assert config.get("qserver", "url") == "http://127.0.0.1:1"
    monkeypatch.setenv("TETHER_QSERVER_URL", "http://127.0.0.1:2")
    assert config.get("qserver", "url") == "http://127.0.0.1:2"
    assert config.get("qserver", "missing", "d") == "d"
    assert config.get("nosection", "x") is None


def test_no_file_is_an_empty_config(tmp_path, monkeypatch):
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    assert config.load() == {}


def test_a_broken_file_is_a_usage_error(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text("[qserver\n")
    monkeypatch.setenv("TETHER_CONFIG", str(path))
    with pytest.raises(UsageError, match="not valid TOML"):
        config.load()
