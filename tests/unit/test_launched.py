"""tether.launched on real short-lived processes: records, pid reuse, stopping process groups, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tether import launched
from tether.errors import UsageError


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def spawn():
    """Start processes in their own session (as launchers do); every one is killed after the test."""
    started: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def test_state_dir_is_the_override_or_a_tether_dir_from_platformdirs(state, monkeypatch):
    assert launched.state_dir() == state
    assert launched.app_dir("igv") == state / "igv" and (state / "igv").is_dir()
    monkeypatch.delenv("TETHER_STATE_DIR")
    assert launched.state_dir().name == "tether"


def test_a_record_round_trips_with_its_app_fields(spawn, state):
    proc = spawn("sleep", "30")
    rec = launched.new_record("igv", 61234, proc.pid, log=state / "x.log", genome="hg38", xvfb_pid=None)
    rec.save()
    assert rec.path == state / "igv" / "61234.json"
    assert rec.create_time == psutil.Process(proc.pid).create_time()
    assert launched.load("igv", 61234) == rec
    assert launched.records("igv") == [rec]
    assert launched.load("igv", 1) is None and launched.records("firefox") == []
    assert rec.to_dict()["genome"] == "hg38" and rec.to_dict()["pid"] == proc.pid
    rec.remove()
    assert launched.load("igv", 61234) is None


def test_save_is_atomic_and_leaves_no_temp_file(spawn, state):
    proc = spawn("sleep", "30")
    rec = launched.new_record("igv", 1, proc.pid)
    rec.save()
    before = os.stat(rec.path).st_ino
    rec.data["genome"] = "hg19"
    rec.save()
    assert os.stat(rec.path).st_ino != before  # replaced by a new file, not rewritten in place
    assert [p.name for p in (state / "igv").iterdir()] == ["1.json"]
    assert json.loads(rec.path.read_text())["data"] == {"genome": "hg19"}


def test_a_subclass_names_its_data_fields():
    class Kind(launched.Record):
        genome = launched.DataField[str]("genome", "hg38")

    assert Kind(app="a", key="1", pid=1, create_time=None).genome == "hg38"
    assert Kind(app="a", key="1", pid=1, create_time=None, data={"genome": "x"}).genome == "x"


def test_a_reused_pid_is_not_alive_and_never_signalled(spawn):
    proc = spawn("sleep", "30")
    real = launched.new_record("igv", 1, proc.pid)
    reused = launched.Record(app="igv", key="1", pid=proc.pid, create_time=real.create_time - 100)
    assert launched.alive(real) and not launched.alive(reused)
    assert launched.stop(reused, grace=0.1) is False
    time.sleep(0.2)
    assert proc.poll() is None  # untouched
    unknown = launched.Record(app="igv", key="1", pid=proc.pid, create_time=None)
    assert not launched.alive(unknown) and launched.stop(unknown) is False and proc.poll() is None


def test_stop_terms_the_group_then_kills_what_ignores_term_within_the_grace(spawn):
    # A leader and its child, both ignoring SIGTERM: only the group SIGKILL ends them.
    script = "trap '' TERM; sleep 30 & wait"
    proc = spawn("sh", "-c", script)
    time.sleep(0.3)
    child = psutil.Process(proc.pid).children()[0].pid
    rec = launched.new_record("x", 1, proc.pid)
    started = time.monotonic()
    assert launched.stop(rec, grace=0.5) is True
    assert 0.5 <= time.monotonic() - started < 5  # TERM was ignored for the whole grace, then KILL
    assert gone(proc.pid) and gone(child)


def test_stop_ends_a_well_behaved_process_with_term(spawn):
    proc = spawn("sleep", "30")
    started = time.monotonic()
    assert launched.stop(launched.new_record("x", 1, proc.pid), grace=5.0) is True
    assert time.monotonic() - started < 2  # TERM was enough: no wait for the grace
    assert gone(proc.pid)
    assert launched.stop(launched.new_record("x", 1, proc.pid)) is False  # already gone


def test_prune_drops_dead_records_runs_their_cleanup_and_keeps_live_ones(spawn, state, tmp_path):
    cleaned = []

    class Kind(launched.Record):
        def cleanup(self) -> None:
            cleaned.append(self.key)

    live = spawn("sleep", "30")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_rec = launched.new_record("app", 2, dead.pid, kind=Kind)
    dead.wait()
    launched.new_record("app", 1, live.pid).save()
    dead_rec.save()
    assert [r.key for r in launched.prune("app", kind=Kind)] == ["1"]
    assert cleaned == ["2"]
    assert [p.name for p in (state / "app").glob("*.json")] == ["1.json"]


def test_find_picks_by_key_and_refuses_to_guess_between_several(spawn):
    a, b = spawn("sleep", "30"), spawn("sleep", "30")
    launched.new_record("app", 4003, a.pid).save()
    assert launched.find("app", what="apps").pid == a.pid
    launched.new_record("app", 4004, b.pid).save()
    assert launched.find("app", 4004, what="apps").pid == b.pid
    assert launched.find("app", 9999, what="apps") is None
    with pytest.raises(UsageError, match="tether launched 2 apps: port 4003"):
        launched.find("app", what="apps")


def test_week_old_logs_are_pruned_but_not_a_running_apps_or_other_files(state):
    directory = launched.app_dir("app")
    old, recent, running, other = (
        directory / n for n in ("app-1-1.log", "app-2-2.log", "app-3-3.log", "notes.log")
    )
    for path in (old, recent, running, other):
        path.write_text("output")
    week_ago = time.time() - launched.LOG_MAX_AGE - 60
    for path in (old, running, other):
        os.utime(path, (week_ago, week_ago))
    assert launched.prune_logs("app", keep={str(running)}) == [old]
    assert not old.exists() and recent.exists() and running.exists() and other.exists()
    assert launched.new_log("app").parent == directory


def test_log_tail_gives_the_last_lines_of_a_records_log(tmp_path):
    log = tmp_path / "out.log"
    log.write_text("".join(f"line {i}\n" for i in range(20)))
    rec = launched.Record(app="a", key="1", pid=1, create_time=None, log=str(log))
    assert launched.log_tail(rec, 3) == "line 17\nline 18\nline 19"
    assert launched.log_tail(tmp_path / "missing.log") == ""
    assert launched.log_tail(launched.Record(app="a", key="1", pid=1, create_time=None)) == ""


def test_remove_deletes_the_log_unless_kept(state):
    log = launched.new_log("a")
    log.write_text("x")
    rec = launched.Record(app="a", key="1", pid=1, create_time=None, log=str(log))
    rec.save()
    rec.remove(keep_log=True)
    assert not rec.path.exists() and log.exists()
    rec.remove()
    assert not log.exists()


def test_one_state_dir_for_the_core_and_the_adapters(monkeypatch, tmp_path):
    """The queue server's login tokens live in the same state dir as launch records (one
    function decides it), and ``~`` in ``$TETHER_STATE_DIR`` is expanded for both."""
    from tether_qserver import auth

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TETHER_STATE_DIR", "~/state")
    assert launched.state_dir() == tmp_path / "state"
    assert auth.token_file() == tmp_path / "state" / "qserver-tokens.json"
    monkeypatch.delenv("TETHER_STATE_DIR")
    assert auth.token_file().parent == launched.state_dir()
