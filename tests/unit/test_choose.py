"""The choice rules of a shared machine (tether.choose), and the exit codes of unknown and disabled
adapters. The real apps' side (two real IGVs, a listener of another uid) is tests/real/test_choose.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tether import api, choose, errors, launched, registry
from tether.endpoint import Confidence, Endpoint


def _ep(port: int, pid: int | None, *, app: str = "igv", title: str = "IGV", **kw) -> Endpoint:
    return Endpoint(
        app=app, host="127.0.0.1", port=port, title=title, pid=pid, confidence=Confidence.VERIFIED, **kw
    )


@pytest.fixture
def child():
    """A process this test started (stopped by pid at the end)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_instance_this_user_launched_with_tether_wins(child, state_dir):
    rec = launched.new_record("igv", 60152, child.pid)
    rec.save()
    other, ours = _ep(60151, os.getpid()), _ep(60152, child.pid)
    chosen = choose.choose([other, ours])
    assert chosen is not None and chosen.endpoint is ours and chosen.rule == "launched"
    assert api._pick(registry.get("igv"), [other, ours], set()) is ours


def test_a_record_whose_pid_was_reused_does_not_count(child, state_dir):
    rec = launched.new_record("igv", 60152, child.pid)
    rec.create_time -= 3600  # the recorded process started an hour ago: this pid is another's now
    rec.save()
    assert not choose.launched_by_me(_ep(60152, child.pid))


def test_the_only_instance_this_user_owns_wins(monkeypatch):
    me, nobody = 4242, 4343
    monkeypatch.setattr(choose, "_my_uid", lambda: 1000)
    monkeypatch.setattr(choose, "owner_uid", lambda pid: {me: 1000, nobody: 65534}.get(pid))
    theirs, mine = _ep(60151, nobody), _ep(60152, me)
    chosen = choose.choose([theirs, mine])
    assert chosen is not None and chosen.endpoint is mine and chosen.rule == "mine"
    # an owner tether cannot see (pid unknown) is not this user's
    assert choose.choose([_ep(60151, None), mine]).endpoint is mine


def test_otherwise_exit_2_lists_each_with_its_exact_port_and_variable(monkeypatch):
    monkeypatch.setattr(choose, "_my_uid", lambda: 1000)
    monkeypatch.setattr(choose, "owner_uid", lambda pid: 1000)  # both this user's, neither launched
    a, b = _ep(60151, 11), _ep(60152, 12)
    with pytest.raises(errors.AmbiguousTarget) as info:
        api._pick(registry.get("igv"), [a, b], set())
    msg = str(info.value)
    assert info.value.exit_code == 2 and info.value.candidates == [a, b]
    assert "2 instances of IGV answer" in msg
    assert "IGV at 127.0.0.1:60151 (pid 11" in msg and "--port 60151 (or TETHER_IGV_PORT=60151)" in msg
    assert "--port 60152 (or TETHER_IGV_PORT=60152)" in msg


def test_the_ambiguity_names_each_candidate_by_its_own_title(monkeypatch):
    monkeypatch.setattr(choose, "owner_uid", lambda pid: None)
    http = _ep(60610, 21, app="qserver", title="Bluesky HTTP Server")
    manager = _ep(60615, 22, app="qserver", title="Bluesky RE Manager (0MQ)")
    with pytest.raises(errors.AmbiguousTarget) as info:
        choose.pick("qserver", "Bluesky HTTP Server", [http, manager])
    msg = str(info.value)
    assert "2 instances of qserver answer" in msg  # not "2 Bluesky HTTP Server instances"
    assert "Bluesky HTTP Server at 127.0.0.1:60610" in msg
    assert "Bluesky RE Manager (0MQ) at 127.0.0.1:60615" in msg and "TETHER_QSERVER_PORT=60615" in msg


def test_instances_on_another_machine_are_listed_with_their_host(monkeypatch):
    eps = [
        Endpoint(app="igv", host="ssh://lab1", port=p, title="IGV", pid=5, confidence=Confidence.VERIFIED)
        for p in (60151, 60152)
    ]
    with pytest.raises(errors.AmbiguousTarget, match=r"--host ssh://lab1 --port 60152"):
        choose.pick("igv", "IGV", eps, " on ssh://lab1")


# -- unknown and disabled adapters ------------------------------------------------------------------
@pytest.fixture
def fresh_registry():
    registry.adapters.cache_clear()
    yield
    registry.adapters.cache_clear()


def test_scan_and_wait_with_an_unknown_app_both_exit_2(cli, fresh_registry):
    code, _, err = cli("scan", "--app", "nosuch", "--timeout", "0.2")
    assert code == 2 and "no adapter named 'nosuch'" in err
    code, _, err = cli("wait", "nosuch", "--timeout", "0.2")
    assert code == 2 and "no adapter named 'nosuch'" in err


def test_a_disabled_adapters_command_says_it_is_disabled(cli, monkeypatch, fresh_registry):
    monkeypatch.setenv("TETHER_DISABLE_ADAPTERS", "qserver")
    code, out, err = cli("qserver", "status", "--json")
    assert code == 2, (out, err)
    assert "qserver adapter is disabled by $TETHER_DISABLE_ADAPTERS=qserver" in err + out
    assert "No such command" not in err + out and "unset TETHER_DISABLE_ADAPTERS" in err + out


def test_doctor_lists_disabled_adapters_and_which_setting(cli, monkeypatch, tmp_path, fresh_registry):
    config = tmp_path / "config.toml"
    config.write_text('[tether]\ndisable_adapters = ["qserver"]\n')
    monkeypatch.setenv("TETHER_CONFIG", str(config))
    monkeypatch.delenv("TETHER_DISABLE_ADAPTERS", raising=False)
    code, out, _ = cli("doctor", "--json", "--timeout", "0.2")
    assert code == 0
    rows = {a["adapter"]: a for a in json.loads(out)["adapters"]}
    assert rows["qserver"]["state"] == "disabled"
    assert rows["qserver"]["problems"] == [f"disabled by disable_adapters in [tether] of {config}"]
    assert rows["igv"]["state"] != "disabled"
    code, out, err = cli("qserver", "queue")
    assert code == 2 and "disable_adapters" in err and "TETHER_DISABLE_ADAPTERS= enables all" in err
    # the environment wins over the file, as for every setting: empty enables them all
    monkeypatch.setenv("TETHER_DISABLE_ADAPTERS", "")
    registry.adapters.cache_clear()
    assert "qserver" in [a.name for a in registry.adapters()]
