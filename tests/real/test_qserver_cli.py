"""`tether qserver …` against the real queue server: exit codes, output, and secrets kept out of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tether.cli import run

from .test_qserver import COUNT, client, ensure_env, history_item, queue_uid, queued_uids, remove_quietly

pytestmark = pytest.mark.real

KEY_VARS = (
    "QSERVER_HTTP_SERVER_API_KEY",
    "QSERVER_HTTP_SERVER_API_KEYFILE",
    "TETHER_QSERVER_API_KEY",
    "TETHER_QSERVER_API_KEY_FILE",
    "QSERVER_HTTP_SERVER_URI",
    "TETHER_QSERVER_URL",
)
TETHER = str(Path(sys.executable).with_name("tether"))


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No API key anywhere: not in the environment, not in a config file."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture
def key_env(no_key, monkeypatch, qserver_app):
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)
    ensure_env(qserver_app)
    return qserver_app


def tq(app, *args: str) -> list[str]:
    return ["qserver", *args, "--port", str(app.port)]


def test_run_completes_and_history_shows_it(key_env, capsys):
    assert run(tq(key_env, "run", "count", "det1,det2", "num=3", "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["exit_status"] == "completed" and result["run_uids"]
    assert run(tq(key_env, "history", "--json", "--last", "5")) == 0
    items = json.loads(capsys.readouterr().out)
    mine = [i for i in items if i["item_uid"] == result["item_uid"]]
    assert mine and mine[0]["result"]["exit_status"] == "completed"
    assert mine[0]["args"] == [["det1", "det2"]] and mine[0]["kwargs"] == {"num": 3}


def test_env_open_wait_reports_an_open_environment(key_env, capsys):
    assert run(tq(key_env, "env", "open", "--wait", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["worker_environment_exists"] is True


def test_failed_plan_exits_1_with_the_servers_message_and_the_queue_stays(key_env, capsys):
    before = queued_uids(key_env)
    code = run(tq(key_env, "run", "mv", "motor", '"abc"'))
    err = capsys.readouterr().err
    assert code == 1
    assert "failed" in err and "Plan failed" in err
    assert queued_uids(key_env) == before


def test_failed_plan_through_the_queue_says_where_the_server_put_it(key_env, capsys):
    code = run(tq(key_env, "run", "--queue", "mv", "motor", '"abc"'))
    err = capsys.readouterr().err
    queued = key_env.request("GET", "/queue/get")["items"]
    requeued = [i["item_uid"] for i in queued if i["name"] == "mv" and i.get("args") == ["motor", "abc"]]
    try:
        assert code == 1
        assert "failed" in err and "Plan failed" in err
        assert requeued and f"put the plan back at the queue's front as {requeued[0]}" in " ".join(
            err.split()
        )
    finally:
        for uid in requeued:
            remove_quietly(key_env, uid)


def test_run_with_two_items_queued_runs_only_its_plan(key_env, capsys):
    queued = []
    try:
        for _ in range(2):
            assert run(tq(key_env, "add", "count", "det1,", "--json")) == 0
            queued.append(json.loads(capsys.readouterr().out)[0]["item_uid"])
        before = queued_uids(key_env)
        assert run(tq(key_env, "run", "count", "det2,", "num=2", "--json")) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["exit_status"] == "completed"
        assert history_item(key_env, result["item_uid"])["args"] == [["det2"]]
        assert queued_uids(key_env) == before and set(queued) <= set(before)
        assert all(history_item(key_env, uid) is None for uid in queued)
    finally:
        for uid in queued:
            remove_quietly(key_env, uid)


def test_run_queue_reports_every_item_that_ran(key_env, capsys):
    assert run(tq(key_env, "add", "count", "det1,", "--json")) == 0
    ahead = json.loads(capsys.readouterr().out)[0]["item_uid"]
    assert run(tq(key_env, "run", "--queue", "count", "det2,", "--json")) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran[0]["item_uid"] == ahead and len(ran) == 2
    assert [r["exit_status"] for r in ran] == ["completed", "completed"]
    assert run(tq(key_env, "run", "--queue", "count", "det2,")) == 0
    assert "EXIT STATUS" in capsys.readouterr().out


def test_a_run_that_cannot_start_leaves_the_queue_as_it_was(key_env, capsys):
    assert run(tq(key_env, "add", "count", "det1,", "--json")) == 0
    queued = json.loads(capsys.readouterr().out)[0]["item_uid"]
    try:
        assert run(tq(key_env, "env", "close", "--wait")) == 0
        before = queued_uids(key_env)
        assert run(tq(key_env, "run", "count", "det2,", "--no-validate")) == 1
        assert "environment" in capsys.readouterr().err.lower()
        assert queued_uids(key_env) == before
        assert run(tq(key_env, "run", "--queue", "count", "det2,", "--no-validate")) == 1
        assert "removed from the queue again" in " ".join(capsys.readouterr().err.split())
        assert queued_uids(key_env) == before
    finally:
        remove_quietly(key_env, queued)
        ensure_env(key_env)


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (["cuont", "det1,"], ["unknown plan", "count"]),
        (["count", "det1,", "nmu=3"], ["no parameter", "num"]),
        (["count", "det1,det9"], ["unknown device", "det9"]),
        (["count", "[det1"], ["neither JSON nor a Python literal"]),
        (["{'name': 'count', 'args': [['det1']]"], ["neither JSON nor a Python literal"]),
    ],
)
def test_bad_plans_exit_2_and_leave_the_queue_unchanged(key_env, capsys, plan, words):
    before = queue_uid(key_env)
    assert run(tq(key_env, "add", *plan)) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err
    assert queue_uid(key_env) == before


def test_dry_run_prints_the_body_and_sends_nothing(key_env, capsys):
    before = queue_uid(key_env)
    assert run(tq(key_env, "add", "count", '["det1","det2"]', "num=3", "--dry-run")) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["item"]["args"] == [["det1", "det2"]] and body["item"]["kwargs"] == {"num": 3}
    assert body["item"]["meta"]["client_request_id"].startswith("tether-")
    assert queue_uid(key_env) == before


def test_add_queue_remove_round_trip(key_env, capsys):
    assert run(tq(key_env, "add", "count", "det1,", "num=2", "--json")) == 0
    uid = json.loads(capsys.readouterr().out)[0]["item_uid"]
    try:
        assert run(tq(key_env, "queue", "--json")) == 0
        assert uid in [i["item_uid"] for i in json.loads(capsys.readouterr().out)["items"]]
        assert run(tq(key_env, "queue")) == 0
        assert uid in capsys.readouterr().out
        assert run(tq(key_env, "remove", uid)) == 0
        assert uid not in [i["item_uid"] for i in key_env.request("GET", "/queue/get")["items"]]
    finally:
        remove_quietly(key_env, uid)


def test_plans_and_devices_list_what_the_server_allows(key_env, capsys):
    assert run(tq(key_env, "plans", "count")) == 0
    out = capsys.readouterr().out
    assert "detectors" in out and "num" in out
    assert run(tq(key_env, "devices", "--json")) == 0
    assert {"det1", "det2", "motor"} <= set(json.loads(capsys.readouterr().out))
    assert run(tq(key_env, "plans", "--existing", "--json")) == 0
    assert "count" in json.loads(capsys.readouterr().out)
    assert run(tq(key_env, "devices", "--existing", "--json")) == 0
    assert "det1" in json.loads(capsys.readouterr().out)


def test_wrong_key_exits_5_and_never_prints_the_key(no_key, qserver_app, capfd, tmp_path):
    bad = "notthekey987654"
    key_file = tmp_path / "key"
    key_file.write_text(bad + "\n")
    assert run(tq(qserver_app, "queue", "--api-key-file", str(key_file), "-v")) == 5
    out = capfd.readouterr()
    assert bad not in out.out + out.err
    assert "Invalid API key" in out.err and str(key_file) in out.err
    assert "GET" in out.err and "***" in out.err  # -v logged the request, with the key masked
    assert run(tq(qserver_app, "status", "--api-key", bad, "--json", "-v")) == 5
    out = capfd.readouterr()
    assert bad not in out.out + out.err
    assert run(tq(qserver_app, "queue", "--api-key", bad)) == 5  # -v ended with its command
    assert "tether.transport.http" not in capfd.readouterr().err


def test_no_key_exits_5_with_a_hint_naming_the_key_sources(no_key, qserver_app, capsys):
    assert run(tq(qserver_app, "queue")) == 5
    err = capsys.readouterr().err
    assert "no API key" in err and "--api-key-file" in err and "QSERVER_HTTP_SERVER_API_KEY" in err


def test_key_from_the_config_file(no_key, qserver_app, monkeypatch, tmp_path, capsys):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[qserver]\napi_key = "{qserver_app.api_key}"\n')
    monkeypatch.setenv("TETHER_CONFIG", str(cfg))
    assert run(tq(qserver_app, "queue", "--json")) == 0
    assert "items" in json.loads(capsys.readouterr().out)


def test_url_option_with_the_servers_address(key_env, capsys):
    assert run(["qserver", "queue", "--json", "--url", key_env.url]) == 0
    assert "items" in json.loads(capsys.readouterr().out)


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [TETHER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _env(app) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["QSERVER_HTTP_SERVER_API_KEY"] = app.api_key
    env["TETHER_CONFIG"] = "/nonexistent/tether.toml"
    return env


class Follower:
    """A ``tether qserver … --follow`` process whose stdout lines are collected as they come."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.proc = _spawn(args, env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate("".join(self.lines)):
                return True
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        return predicate("".join(self.lines))

    def finish(self) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode, self.proc.stderr.read()


@pytest.mark.parametrize("transport", ["ws", "poll"])
def test_console_follow_prints_the_plans_output(key_env, transport):
    args = tq(key_env, "console", "--follow", "--lines", "1", "--for", "12", "--transport", transport)
    follower = Follower(args, _env(key_env))
    assert follower.wait_for(bool), "the follower printed the console's last line once connected"
    with client(key_env) as qs:
        result = qs.run(COUNT, timeout=60)
    assert follower.wait_for(lambda text: result.run_uids[0] in text)
    code, err = follower.finish()
    assert code == 0, err
    assert "count" in "".join(follower.lines)


def test_run_wait_gives_a_clear_error_when_re_manager_stops(key_env):
    long_count = ["count", "det1,", "num=400", "delay=0.05"]
    proc = _spawn(tq(key_env, "run", *long_count, "--timeout", "60"), _env(key_env))
    try:
        with client(key_env) as qs:
            qs.wait_for(lambda s: s["re_state"] == "running", 30)
        stopped_at = time.monotonic()
        key_env.stop_manager()
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
        key_env.start_manager()
    assert proc.returncode == 4, err
    assert "RE Manager stopped answering" in err
    assert "Traceback" not in err + out
    assert elapsed < 40
    ensure_env(key_env)
    with client(key_env) as qs:
        for item in qs.queue_get()["items"]:
            if item.get("kwargs", {}).get("num") == 400:
                remove_quietly(key_env, item["item_uid"])


def test_example_submits_plans_from_yaml_and_csv(key_env, tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "qserver_submit_plans.py"
    yaml_file = tmp_path / "plans.yaml"
    yaml_file.write_text(
        "- {name: count, args: [[det1]], kwargs: {num: 2}}\n"
        "- {name: count, args: [[det1, det2]], kwargs: {num: 1}}\n"
    )
    csv_file = tmp_path / "plans.csv"
    csv_file.write_text('name,args,kwargs\ncount,"[[""det2""]]","{""num"": 2}"\n')
    for plans in (yaml_file, csv_file):
        proc = subprocess.run(
            [sys.executable, str(example), str(plans), "--url", key_env.url],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(key_env),
        )
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(lines) == (2 if plans == yaml_file else 1)
        for line in lines:
            assert line["exit_status"] == "completed"
            assert history_item(key_env, line["item_uid"])["result"]["exit_status"] == "completed"


def test_run_no_wait_returns_the_started_item(key_env, capsys):
    assert run(tq(key_env, "run", "count", "det1,", "num=2", "--no-wait", "--json")) == 0
    uid = json.loads(capsys.readouterr().out)["item_uid"]
    with client(key_env) as qs:
        assert qs.wait_for_item(uid, timeout=60).exit_status == "completed"


def test_status_follow_streams_each_change_while_a_plan_runs(key_env):
    follower = Follower(tq(key_env, "status", "--follow", "--for", "10", "--json"), _env(key_env))
    assert follower.wait_for(bool), "the follower printed the current state once connected"
    with client(key_env) as qs:
        result = qs.run(COUNT, timeout=60)
    code, err = follower.finish()
    assert code == 0, err
    states = [json.loads(line) for line in follower.lines]
    assert any(s["running_item_uid"] == result.item_uid for s in states)
    assert states[-1]["manager_state"] == "idle" and states[-1]["running_item_uid"] is None


def test_status_shows_the_endpoint_and_the_managers_state(key_env, capsys):
    assert run(tq(key_env, "status", "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["port"] == key_env.port and report["pid"] == key_env.pid and report["confidence"] == "verified"
    )
    assert report["manager"]["worker_environment_exists"] is True
    assert report["manager"]["msg"].startswith("RE Manager")


def test_status_without_a_key_still_shows_the_endpoint(no_key, qserver_app, capsys):
    assert run(tq(qserver_app, "status")) == 0
    captured = capsys.readouterr()
    assert str(qserver_app.port) in captured.out and "no API key" in captured.err


def test_a_locked_queue_takes_writes_only_with_the_lock_key(key_env, capsys):
    assert run(tq(key_env, "lock", "--key", "tetherclikey", "--queue", "--note", "cli test")) == 0
    capsys.readouterr()
    uid = None
    try:
        before = queue_uid(key_env)
        assert run(tq(key_env, "add", "count", "det1,")) == 1
        assert "locked" in capsys.readouterr().err.lower()
        assert queue_uid(key_env) == before
        assert run(tq(key_env, "add", "count", "det1,", "--lock-key", "tetherclikey", "--json", "-v")) == 0
        captured = capsys.readouterr()
        uid = json.loads(captured.out)[0]["item_uid"]
        assert "lock_key" in captured.err and "tetherclikey" not in captured.err  # -v masks it
        assert run(tq(key_env, "remove", uid, "--lock-key", "tetherclikey")) == 0
        uid = None
    finally:
        assert run(tq(key_env, "unlock", "--key", "tetherclikey")) == 0
        remove_quietly(key_env, uid)
    capsys.readouterr()
    assert run(tq(key_env, "lock", "--info", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["queue"] is False
