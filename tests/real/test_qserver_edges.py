"""Issue 24's lines, as a new user types them, against the real queue server (the session's
``qserver_app``): a CSV of plans, negative limits, a lone detector, typed arguments, positions,
and the hints of the rough edges."""

from __future__ import annotations

import json
import time

import pytest

from tether.cli import run

from .test_qserver import ensure_env, history_item, queue_uid, queued_uids, remove_quietly
from .test_qserver_cli import KEY_VARS, tq

pytestmark = pytest.mark.real


@pytest.fixture
def key_env(monkeypatch, tmp_path, qserver_app):
    """The session's server, its key in $QSERVER_HTTP_SERVER_API_KEY alone, its environment open."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)
    ensure_env(qserver_app)
    return qserver_app


def _out(capsys):
    return json.loads(capsys.readouterr().out)


def test_a_csv_of_plans_is_checked_whole_then_added_at_the_front(key_env, capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("plan,detectors,num\ncount,det1,2\ncount,det1,abc\ncuont,det1,1\n")
    before = queue_uid(key_env)
    assert run(tq(key_env, "add", "--file", str(bad))) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "bad.csv:3: count: 'num' takes int | None, not 'abc'" in err and "bad.csv:4: unknown plan" in err
    assert queue_uid(key_env) == before  # nothing added, not even the good row

    good = tmp_path / "plans.csv"
    good.write_text(
        "plan,args,num,delay\n"
        "count,\"['det1', 'det2']\",2,\n"
        "scan,\"['det1'], 'motor', -1, 1\",3,\n"  # the server's own spreadsheet form of args
        "count,det1,,0.01\n"  # a lone detector, an empty cell
    )
    assert run(tq(key_env, "add", "--file", str(good), "--pos", "front", "--json")) == 0
    added = _out(capsys)
    try:
        assert [(i["name"], i["args"], i.get("kwargs")) for i in added] == [
            ("count", [["det1", "det2"]], {"num": 2}),
            ("scan", [["det1"], "motor", -1, 1], {"num": 3}),
            ("count", [["det1"]], {"delay": 0.01}),
        ]
        assert queued_uids(key_env)[:3] == [i["item_uid"] for i in added]
    finally:
        for item in added:
            remove_quietly(key_env, item["item_uid"])


def test_negative_limits_and_a_lone_detector_run_as_typed(key_env, capsys):
    assert run(tq(key_env, "run", "scan", "det1", "motor", "-1", "1", "num=3", "--json")) == 0
    result = _out(capsys)
    assert result["exit_status"] == "completed"
    item = history_item(key_env, result["item_uid"])
    assert item["args"] == [["det1"], "motor", -1, 1] and item["kwargs"] == {"num": 3}
    # add and its dry run agree on the lone detector: both send the one-item list
    assert run(tq(key_env, "add", "count", "det1", "--dry-run")) == 0
    assert _out(capsys)["item"]["args"] == [["det1"]]


def test_a_value_of_the_wrong_type_exits_2_naming_the_parameter(key_env, capsys):
    before = queue_uid(key_env)
    for cmd in ("add", "run"):
        assert run(tq(key_env, cmd, "count", "det1", "num=abc")) == 2
        assert "'num' takes int | None, not 'abc'" in capsys.readouterr().err
    assert queue_uid(key_env) == before


def test_move_0_to_back_moves_the_first_item(key_env, capsys):
    uids = []
    try:
        for num in (1, 2):
            assert run(tq(key_env, "add", "count", "det1", f"num={num}", "--pos", "front", "--json")) == 0
            uids.append(_out(capsys)[0]["item_uid"])
        assert queued_uids(key_env)[0] == uids[1]
        assert run(tq(key_env, "move", "0", "--to", "back")) == 0
        assert queued_uids(key_env)[-1] == uids[1]
    finally:
        for uid in uids:
            remove_quietly(key_env, uid)


def test_metadata_on_httpserver_0_0_14_points_to_zmq_which_answers(key_env, capsys):
    assert run(tq(key_env, "metadata")) == 1
    assert "--zmq tcp://HOST:60615" in " ".join(capsys.readouterr().err.split())
    assert run(["qserver", "metadata", "--zmq", key_env.zmq_control, "--json"]) == 0
    assert isinstance(_out(capsys), dict)


def test_a_wrong_key_from_the_variable_is_named_by_the_variable(key_env, monkeypatch, capsys):
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", "wrongkey123")
    assert run(tq(key_env, "queue")) == 5
    err = " ".join(capsys.readouterr().err.split())
    assert "read from $QSERVER_HTTP_SERVER_API_KEY" in err and "wrongkey123" not in err


def test_zmq_at_the_http_servers_port_is_the_wrong_app_at_once(key_env, capsys):
    start = time.monotonic()
    assert run(["qserver", "status", "--zmq", f"tcp://127.0.0.1:{key_env.port}", "-t", "20"]) == 6
    assert time.monotonic() - start < 10  # not the deadline's wait
    assert "not RE Manager" in capsys.readouterr().err


def test_run_with_the_environment_closed_says_how_to_open_it(key_env, capsys):
    assert run(tq(key_env, "env", "close", "--wait")) == 0
    try:
        capsys.readouterr()
        before = queue_uid(key_env)
        assert run(tq(key_env, "run", "count", "det1")) == 1
        assert "tether qserver env open --wait" in " ".join(capsys.readouterr().err.split())
        assert queue_uid(key_env) == before
    finally:
        ensure_env(key_env)


def test_an_xlsx_of_plans_goes_to_the_servers_spreadsheet_upload(key_env, capsys, tmp_path):
    """bluesky-httpserver 0.0.14 offers POST /api/queue/upload/spreadsheet with a default converter
    (no site function needed): plan names in column 1, args in column 2, keyword columns after."""
    import openpyxl

    book = openpyxl.Workbook()
    for row in (
        ("plan_name", "args", "num"),
        ("'count'", "['det1', 'det2']", 2),
        ("'count'", "['det1']", None),
    ):
        book.active.append(row)
    sheet = tmp_path / "plans.xlsx"
    book.save(sheet)
    before = queued_uids(key_env)
    assert run(tq(key_env, "add", "--file", str(sheet), "--dry-run")) == 2  # nothing to check here: said
    assert queued_uids(key_env) == before
    capsys.readouterr()
    assert run(tq(key_env, "add", "--file", str(sheet), "--json")) == 0
    items = _out(capsys)["items"]
    try:
        assert [(i["args"], i.get("kwargs")) for i in items] == [
            ([["det1", "det2"]], {"num": 2}),
            ([["det1"]], None),
        ]
        assert queued_uids(key_env) == before + [i["item_uid"] for i in items]
    finally:
        for item in items:
            remove_quietly(key_env, item["item_uid"])
    # RE Manager's own socket has no upload: refused before anything is sent
    assert run(["qserver", "add", "--file", str(sheet), "--zmq", key_env.zmq_control]) == 2
    assert "add --file PLANS.csv" in " ".join(capsys.readouterr().err.split())
    assert queued_uids(key_env) == before
