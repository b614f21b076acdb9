"""Every endpoint of the HTTP server's core API through `tether qserver …`, against the real server."""

from __future__ import annotations

import json
import time

import pytest

from tether.cli import run

from .test_qserver import ensure_env, history_item, queued_uids, remove_quietly
from .test_qserver_cli import KEY_VARS, tq

pytestmark = pytest.mark.real


@pytest.fixture
def app(monkeypatch, tmp_path, qserver_app):
    """The session's server, its key in the environment only, the environment open."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)
    ensure_env(qserver_app)
    return qserver_app


def out(capsys, *args, app, code: int = 0):
    """Run ``tether qserver ARGS --json`` and return its parsed output (asserting the exit code)."""
    got = run(tq(app, *args, "--json"))
    captured = capsys.readouterr()
    assert got == code, captured.err + captured.out
    return json.loads(captured.out) if captured.out.strip() else None


def add(capsys, app, *plan: str) -> str:
    return out(capsys, "add", *plan, app=app)[0]["item_uid"]


def test_ping_config_runs_and_console_uid(app, capsys):
    assert out(capsys, "ping", app=app)["msg"].startswith("RE Manager")
    assert "config" in out(capsys, "config", app=app)
    assert "run_list" in out(capsys, "runs", app=app)
    assert "run_list" in out(capsys, "runs", "--closed", app=app)
    assert run(tq(app, "runs", "--open")) == 0
    assert "no runs" in capsys.readouterr().out  # nothing runs between tests
    assert isinstance(out(capsys, "console", "--uid", app=app), str)


def test_metadata_on_a_server_without_it_exits_1_naming_the_endpoint(app, capsys):
    code = run(tq(app, "metadata"))
    err = capsys.readouterr().err
    if code == 0:  # a newer server
        return
    assert code == 1 and ("404" in err or "Not Found" in err)


def test_item_get_and_update_in_place(app, capsys):
    uid = add(capsys, app, "count", "det1,", "num=1")
    try:
        assert out(capsys, "item", "get", uid, app=app)["kwargs"] == {"num": 1}
        last = len(queued_uids(app)) - 1
        assert out(capsys, "item", "get", "--pos", str(last), app=app)["item_uid"] == uid
        updated = out(capsys, "item", "update", uid, "count", "det2,", "num=2", app=app)
        assert updated["item_uid"] == uid
        item = out(capsys, "item", "get", uid, app=app)
        assert item["kwargs"] == {"num": 2} and item["args"] == [["det2"]]
    finally:
        remove_quietly(app, uid)


def test_batch_remove_batch_move_and_move_by_position(app, capsys):
    uids = [add(capsys, app, "count", "det1,") for _ in range(3)]
    try:
        out(capsys, "move", uids[2], uids[1], "--to", "front", app=app)
        assert queued_uids(app)[:2] == [uids[2], uids[1]]
        out(capsys, "move", "--pos", "0", "--to", "back", app=app)
        assert queued_uids(app)[-1] == uids[2]
        out(capsys, "remove", uids[0], uids[1], app=app)
        assert not {uids[0], uids[1]} & set(queued_uids(app))
    finally:
        for uid in uids:
            remove_quietly(app, uid)


def test_function_execute_and_task_result(app, capsys):
    done = out(capsys, "function", "execute", "function_sleep", "time=0.1", "--wait", app=app)
    assert done["status"] == "completed" and done["result"]["success"] is True
    started = out(capsys, "function", "execute", "function_sleep", "time=0.1", app=app)
    uid = started["task_uid"]
    assert out(capsys, "task", "result", uid, "--wait", app=app)["status"] == "completed"
    assert out(capsys, "task", "status", uid, app=app)["status"] == "completed"
    assert out(capsys, "task", "result", uid, app=app)["result"]["success"] is True


def test_an_uploaded_script_defines_a_device_a_plan_then_uses(app, capsys, tmp_path):
    script = tmp_path / "det9.py"
    script.write_text(
        "from ophyd.sim import SynGauss, motor\ndet9 = SynGauss('det9', motor, 'motor', center=0, Imax=1)\n"
    )
    done = out(capsys, "script", "upload", str(script), "--wait", app=app)
    assert done["status"] == "completed"
    assert "det9" in out(capsys, "devices", app=app)
    result = out(capsys, "run", "count", "det9,", app=app)
    assert result["exit_status"] == "completed"
    assert history_item(app, result["item_uid"])["args"] == [["det9"]]


def test_env_update_and_permissions_get_set_reload(app, capsys, tmp_path):
    assert out(capsys, "env", "update", "--wait", app=app)["status"] == "completed"
    perms = out(capsys, "permissions", "get", app=app)["user_group_permissions"]
    assert "user_groups" in perms
    f = tmp_path / "perms.json"
    f.write_text(json.dumps(perms))
    assert out(capsys, "permissions", "set", str(f), app=app)["success"] is True
    assert out(capsys, "permissions", "reload", "--from-file", app=app)["success"] is True
    assert out(capsys, "permissions", "get", app=app)["user_group_permissions"]["user_groups"]


def test_queue_mode_ignore_failures_goes_on_past_a_failing_plan(app, capsys):
    try:
        assert out(capsys, "queue", "mode", "--ignore-failures", app=app)["ignore_failures"] is True
        failing = add(capsys, app, "mv", "motor", '"abc"')
        ran = out(capsys, "run", "--queue", "count", "det1,", app=app)
        assert [r["exit_status"] for r in ran] == ["failed", "completed"] and ran[0]["item_uid"] == failing
        assert not [i for i in app.request("GET", "/queue/get")["items"] if i["name"] == "mv"]
    finally:
        assert out(capsys, "queue", "mode", "--default", app=app) == {
            "loop": False,
            "ignore_failures": False,
        }
    assert out(capsys, "status", app=app)["manager"]["plan_queue_mode"] == {
        "loop": False,
        "ignore_failures": False,
    }


def test_a_spreadsheet_of_plans_is_added_to_the_queue(app, capsys, tmp_path):
    sheet = tmp_path / "plans.csv"
    sheet.write_text("plan_name,args,num\n'count',\"['det1', 'det2']\",2\n'count',\"['det1']\",\n")
    before = queued_uids(app)
    added = out(capsys, "queue", "upload", str(sheet), app=app)
    uids = [i["item_uid"] for i in added["items"]]
    try:
        assert [i["args"] for i in added["items"]] == [[["det1", "det2"]], [["det1"]]]
        assert added["items"][0]["kwargs"] == {"num": 2}
        assert queued_uids(app) == before + uids
    finally:
        for uid in uids:
            remove_quietly(app, uid)
    bad = tmp_path / "plans.txt"
    bad.write_text("not a spreadsheet")
    assert run(tq(app, "queue", "upload", str(bad))) == 1
    assert "spreadsheet" in capsys.readouterr().err and queued_uids(app) == before


def test_history_clear_keeps_the_last_items(app, capsys):
    out(capsys, "run", "count", "det1,", app=app)
    size = len(out(capsys, "history", app=app))
    assert size >= 1
    out(capsys, "history", "clear", "--size", str(size - 1), app=app)
    assert len(out(capsys, "history", app=app)) == size - 1


def test_re_managers_0mq_port_is_recognised_and_driven_through_its_own_door(app, capsys):
    # Once only an HTTP-door error (exit 6, naming port 60610); now the 0MQ door drives it.
    zmq_port = app.zmq_control.rsplit(":", 1)[1]
    assert run(["qserver", "status", "--port", zmq_port, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["title"] == "Bluesky RE Manager (0MQ)" and status["extra"]["door"] == "zmq"
    assert status["manager"]["manager_state"] == "idle"
    assert run(["qserver", "queue", "--port", zmq_port, "--json"]) == 0
    assert "items" in json.loads(capsys.readouterr().out)


def test_kernel_interrupt_is_refused_by_a_worker_that_is_no_kernel(app, capsys):
    assert run(tq(app, "kernel", "interrupt")) == 1
    assert "kernel" in capsys.readouterr().err.lower()


def test_call_reaches_any_endpoint(app, capsys):
    assert out(capsys, "call", "GET", "/status", app=app)["msg"].startswith("RE Manager")
    assert "items" in out(capsys, "call", "get", "api/queue/get", '{"reload": true}', app=app)
    assert out(capsys, "call", "GET", "/test/server/sleep", '{"time": 0.1}', app=app)["success"] is True
    assert "run_list" in out(capsys, "call", "POST", "/re/runs", '{"option": "closed"}', app=app)
    refused = out(capsys, "call", "POST", "/queue/item/remove", '{"uid": "nope"}', app=app)
    assert refused["success"] is False  # printed as the server sent it


def test_manager_kill_kills_re_manager_and_its_watchdog_starts_it_again(app, capsys):
    before = app.request("GET", "/status")["plan_queue_uid"]
    assert out(capsys, "manager", "kill", app=app)["success"] is True
    deadline = time.monotonic() + 60
    while run(tq(app, "ping")) != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    capsys.readouterr()
    assert out(capsys, "ping", app=app)["msg"].startswith("RE Manager")
    assert app.request("GET", "/status")["plan_queue_uid"] != before  # a new manager process answers
    ensure_env(app)


def test_manager_stop_stops_re_manager(app, capsys):
    try:
        assert out(capsys, "manager", "stop", app=app)["success"] is True
        deadline = time.monotonic() + 30
        while app.manager.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not app.manager.alive()
    finally:
        app.start_manager()
        ensure_env(app)
    assert out(capsys, "ping", app=app)["msg"].startswith("RE Manager")


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "mode"],
        ["queue", "mode", "--loop", "--default"],
        ["item", "get"],
        ["item", "get", "someuid", "--pos", "1"],
        ["item", "update", "someuid", "cuont", "det1,"],
        ["item", "update", "someuid", "count", "det9x,"],
        ["function", "execute", "1bad"],
        ["script", "upload", "/nonexistent/script.py"],
        ["queue", "upload", "/nonexistent/plans.xlsx"],
        ["permissions", "set", "/nonexistent/perms.yaml"],
        ["permissions", "set", "@LIST"],
        ["runs", "--open", "--closed"],
        ["history", "clear", "--size", "1", "--uid", "x"],
        ["history", "clear", "--size", "-1"],
        ["move"],
        ["move", "a", "b", "--to", "1"],
        ["move", "--pos", "1", "--to", "middle"],
        ["remove", "a", "--pos", "1"],
        ["call", "FETCH", "/status"],
        ["call", "GET", "/status", "[1"],
        ["call", "GET", "/status", "[1]"],
        ["call", "GET", "two words"],
    ],
)
def test_bad_input_exits_2_and_changes_nothing(app, capsys, tmp_path, args):
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    args = [str(listed) if a == "@LIST" else a for a in args]
    before = (
        app.request("GET", "/queue/get")["plan_queue_uid"],
        len(app.request("GET", "/history/get")["items"]),
    )
    assert run(tq(app, *args)) == 2
    assert "Traceback" not in capsys.readouterr().err
    after = (
        app.request("GET", "/queue/get")["plan_queue_uid"],
        len(app.request("GET", "/history/get")["items"]),
    )
    assert after == before
