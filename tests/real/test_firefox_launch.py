"""`tether firefox launch --profile DIR --port N` on real Firefox ESR: the user's profile, a fixed port.

The profile is the user's: tether must keep what its ``user.js`` says, refuse a second Firefox
on it (naming the one that uses it, however that one was started), and leave the directory in
place when it quits. Every Firefox started here is killed by process group in a finalizer —
found by pid, and by its profile on the command line should ``launch`` itself have failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import psutil
import pytest

from . import apps
from .conftest import _unavailable
from .test_firefox_cli import launch_records, tether  # the one `tether firefox …` runner of the real tests

pytestmark = pytest.mark.real

CUSTOM = 'user_pref("tether.test.custom", "kept by launch");'


@pytest.fixture(scope="module")
def firefox_binary() -> str:
    try:
        return apps.firefox_binary()
    except apps.AppMissing as exc:
        _unavailable("Firefox", exc)


def firefoxes_using(profile: Path) -> list[psutil.Process]:
    """Firefox main processes whose command line names ``profile``."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if str(profile) in cmd and "-contentproc" not in cmd and "firefox" in (p.info["name"] or ""):
            found.append(p)
    return found


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (Firefox and its children), and wait for it."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=10)


def stopped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tether-state")


@pytest.fixture(scope="module")
def user_profile(tmp_path_factory) -> Path:
    """An existing profile directory (with a space in its path) whose user.js sets a pref of its own."""
    profile = tmp_path_factory.mktemp("launch") / "my profile"
    profile.mkdir()
    (profile / "user.js").write_text(CUSTOM + "\n")
    return profile


@pytest.fixture(scope="module")
def launched(firefox_binary, user_profile, state_dir):
    """`tether firefox launch --headless --port N --profile DIR --json`; killed after, whatever happened."""
    port = apps.free_port()
    info: dict = {}
    try:
        args = ["--headless", "--port", str(port), "--profile", str(user_profile), "--json"]
        proc = tether("launch", *args, state=state_dir)
        info = json.loads(proc.stdout)
        yield {**info, "asked_port": port}
    finally:
        pids = {p.pid for p in firefoxes_using(user_profile.resolve())}
        if info.get("pid"):
            pids.add(info["pid"])
        for pid in pids:
            kill_group(pid)


def test_launch_uses_the_port_and_the_profile_given(launched, user_profile, state_dir):
    assert launched["port"] == launched["asked_port"]
    assert launched["temp_profile"] is False
    assert Path(launched["profile"]) == user_profile.resolve()
    assert (user_profile / "MarionetteActivePort").read_text().strip() == str(launched["asked_port"])
    assert CUSTOM in (user_profile / "user.js").read_text().splitlines()  # tether added its pref beside it
    status = json.loads(tether("status", "--port", str(launched["port"]), "--json", state=state_dir).stdout)
    assert status["confidence"] == "verified"
    assert (status["port"], status["pid"]) == (launched["port"], launched["pid"])


def test_a_second_launch_on_the_profile_in_use_is_refused(launched, user_profile, state_dir):
    before = launch_records(state_dir)
    refused = tether("launch", "--headless", "--profile", str(user_profile), state=state_dir, check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"pid {launched['pid']}" in refused.stderr
    assert [p.pid for p in firefoxes_using(user_profile.resolve())] == [launched["pid"]]
    assert launch_records(state_dir) == before


def test_quit_stops_it_and_keeps_the_users_profile(launched, user_profile, state_dir):
    done = json.loads(tether("quit", "--port", str(launched["port"]), "--json", state=state_dir).stdout)
    assert (done["pid"], done["stopped"], done["profile_removed"]) == (launched["pid"], "marionette", False)
    assert stopped(launched["pid"])
    assert user_profile.is_dir()
    assert CUSTOM in (user_profile / "user.js").read_text().splitlines()
    assert not (user_profile / "MarionetteActivePort").exists()  # Firefox shut down cleanly
    assert launch_records(state_dir) == []


def test_an_out_of_range_port_starts_nothing(firefox_binary, tmp_path):
    profile = tmp_path / "untouched"
    profile.mkdir()
    (profile / "user.js").write_text(CUSTOM + "\n")
    refused = tether(
        "launch", "--headless", "--port", "70000", "--profile", str(profile), state=tmp_path, check=False
    )
    try:
        assert refused.returncode == 2, refused.stderr
        assert "70000" in refused.stderr
        assert not firefoxes_using(profile.resolve())
        assert (profile / "user.js").read_text() == CUSTOM + "\n"
        assert not (tmp_path / "firefox-launched.json").exists()
    finally:
        for p in firefoxes_using(profile.resolve()):
            kill_group(p.pid)


def test_launch_refuses_a_profile_a_firefox_opened_without_a_profile_flag(firefox_binary, tmp_path):
    """A Firefox that found its profile through the environment (or profiles.ini) shows no ``-profile``;
    its lock in the profile still names it, and tether must not touch that profile."""
    profile = tmp_path / "daily"
    profile.mkdir()
    (profile / "user.js").write_text(CUSTOM + "\n")
    holder = apps.spawn(
        "Firefox (XRE_PROFILE_PATH)",
        [firefox_binary, "--headless", "--no-remote"],
        tmp_path / "holder.log",
        env={"XRE_PROFILE_PATH": str(profile), "MOZ_CRASHREPORTER_DISABLE": "1"},
    )
    try:
        lock = profile / "lock"
        apps.wait_for("the profile lock", lambda: os.readlink(lock).endswith(f"+{holder.pid}"), 60, holder)
        assert str(profile) not in psutil.Process(holder.pid).cmdline()
        refused = tether("launch", "--headless", "--profile", str(profile), state=tmp_path, check=False)
        assert refused.returncode == 2, refused.stderr
        assert f"pid {holder.pid}" in refused.stderr
        assert (profile / "user.js").read_text() == CUSTOM + "\n"  # not a byte changed
        assert holder.alive()
    finally:
        holder.stop()
        for p in firefoxes_using(profile.resolve()):
            kill_group(p.pid)
