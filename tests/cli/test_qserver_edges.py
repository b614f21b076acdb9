"""`tether qserver` where new users meet it (issue 24): negative numbers, a lone detector, typed
arguments, plans from a file, positions that look like uids, and the hints of the rough edges —
against a fake HTTP server that records what reached it (nothing, for what is refused)."""

from __future__ import annotations

import json

import pytest

from tether.cli import run
from tether.testing import FakeHTTP


def _param(name: str, kind: int, annotation: str | None = None, default: str | None = None) -> dict:
    p: dict = {"name": name, "kind": {"name": "", "value": kind}}
    if annotation:
        p["annotation"] = {"type": annotation}
    if default is not None:
        p["default"] = default
    return p


#: as bluesky-queueserver 0.0.25's simulated profile describes them (plans/allowed, full form)
PLANS = {
    "count": {
        "name": "count",
        "parameters": [
            _param("detectors", 1, "collections.abc.Sequence[__READABLE__]"),
            _param("num", 1, "int | None", "1"),
            _param("delay", 1, "float | collections.abc.Iterable[float]", "0.0"),
            _param("md", 3, "dict[str, typing.Any] | None", "None"),
        ],
    },
    "scan": {
        "name": "scan",
        "parameters": [
            _param("detectors", 1, "collections.abc.Sequence[__READABLE__]"),
            _param("args", 2, "__MOVABLE__ | typing.Any"),
            _param("num", 3, "int | None", "None"),
        ],
    },
}
DEVICES = {"det1": {}, "motor": {}}
CLOSED = "Failed to start execution of the item: RE Worker environment does not exist."
ADDS = ("/api/queue/item/add", "/api/queue/item/add/batch")


def _uid(item: dict, n: int) -> dict:
    return {**item, "item_uid": f"u{n}"}


@pytest.fixture
def server(monkeypatch):
    """A fake Bluesky HTTP Server with the allowed lists; adds and moves answer as the real one."""
    with FakeHTTP() as http:
        ok = {"success": True, "msg": ""}
        routes = {
            ("GET", "/openapi.json"): lambda b: (200, {"info": {"title": "Bluesky HTTP Server"}}),
            ("GET", "/api/status"): lambda b: (200, {"manager_state": "idle", "plans_allowed_uid": "p"}),
            ("GET", "/api/plans/allowed"): lambda b: (200, {**ok, "plans_allowed": PLANS}),
            ("GET", "/api/devices/allowed"): lambda b: (200, {**ok, "devices_allowed": DEVICES}),
            ("POST", "/api/queue/item/add"): lambda b: (200, {**ok, "item": _uid(json.loads(b)["item"], 1)}),
            ("POST", "/api/queue/item/add/batch"): lambda b: (
                200,
                {**ok, "items": [_uid(i, n) for n, i in enumerate(json.loads(b)["items"])]},
            ),
            ("POST", "/api/queue/item/move"): lambda b: (200, {**ok, "item": _uid({"name": "count"}, 1)}),
            ("POST", "/api/queue/item/execute"): lambda b: (
                200,
                {"success": False, "msg": CLOSED},
            ),
        }  # fmt: skip
        http.routes.update(routes)
        monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", "k3y")
        monkeypatch.setenv("QSERVER_HTTP_SERVER_URI", http.url)
        yield http


def _bodies(http: FakeHTTP, path: str) -> list[dict]:
    return [json.loads(body) for method, p, _, body in http.requests if p == path]


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_negative_numbers_are_values_and_a_lone_detector_a_one_item_list(server, capsys):
    assert run(["qserver", "add", "scan", "det1", "motor", "-1", "1", "num=10"]) == 0
    assert _bodies(server, "/api/queue/item/add")[-1]["item"]["args"] == [["det1"], "motor", -1, 1]
    # the same line as a dry run prints the same item, and run sends it the same way
    capsys.readouterr()
    assert run(["qserver", "add", "count", "det1", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["item"]["args"] == [["det1"]]
    assert run(["qserver", "run", "count", "det1"]) == 1  # refused: the environment is closed
    assert _bodies(server, "/api/queue/item/execute")[-1]["item"]["args"] == [["det1"]]


def test_a_closed_environment_says_how_to_open_it(server, capsys):
    assert run(["qserver", "run", "count", "det1,"]) == 1
    assert "tether qserver env open --wait" in _err(capsys)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["add", "count", "det1,", "num=abc"], "count: 'num' takes int | None, not 'abc'"),
        (["run", "count", "det1,", "num=abc"], "count: 'num' takes int | None, not 'abc'"),
        (["add", "count", "det1,", "num=abc", "--dry-run"], "'num' takes int | None"),
        (["add", "count", "det1", "--dyr-run"], "no such option: --dyr-run"),
        (["add", "count", "det1", "-x"], "no such option: -x"),
    ],
)
def test_bad_arguments_exit_2_naming_the_parameter_and_nothing_is_added(server, capsys, argv, words):
    assert run(["qserver", *argv]) == 2
    assert words in _err(capsys)
    assert not any(p in ADDS or p.endswith("/execute") for _, p, _, _ in server.requests)


def test_a_csv_of_plans_is_added_all_at_once_with_the_pos_given(server, tmp_path, capsys):
    f = tmp_path / "plans.csv"
    rows = ["plan,args,num,delay", "count,\"['det1']\",3,", "", "scan,\"['det1'], 'motor', -1, 1\",5,"]
    f.write_text("\n".join([*rows, "count,det1,,0.1"]) + "\n")
    assert run(["qserver", "add", "--file", str(f), "--pos", "front", "--json"]) == 0
    body = _bodies(server, "/api/queue/item/add/batch")[-1]
    assert body["pos"] == "front"
    assert [(i["name"], i.get("args"), i.get("kwargs")) for i in body["items"]] == [
        ("count", [["det1"]], {"num": 3}),
        ("scan", [["det1"], "motor", -1, 1], {"num": 5}),
        ("count", [["det1"]], {"delay": 0.1}),  # a lone detector, empty cells left out
    ]


def test_a_bad_row_names_its_file_and_line_and_nothing_is_added(server, tmp_path, capsys):
    f = tmp_path / "plans.csv"
    f.write_text("plan,detectors,num\ncount,det1,3\ncuont,det1,1\ncount,det1,abc\n")
    assert run(["qserver", "add", "--file", str(f)]) == 2
    err = _err(capsys)
    assert "plans.csv:3: unknown plan 'cuont'" in err and "plans.csv:4:" in err and "'num'" in err
    assert not any(p in ADDS for _, p, _, _ in server.requests)
    assert run(["qserver", "add", "--file", str(f), "--dry-run"]) == 2  # the dry run checks the same
    y = tmp_path / "plans.yaml"
    y.write_text("- count det1 num=2\n- name: count\n  args: [[det1]]\n  kwargs: {num: x}\n")
    assert run(["qserver", "add", "--file", str(y)]) == 2
    assert "plans.yaml:2: count: 'num' takes int | None, not 'x'" in _err(capsys)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("num\n3\n", "plans.csv:1: no 'plan' column"),
        ("plan,num\ncount,[1\n", "plans.csv:2: cannot read '[1'"),
        ('plan,args\ncount,"[det1, ("\n', "plans.csv:2: cannot read the args"),
        ("plan,num\n", "holds no plans"),
        ("plan,num\ncount,1,2\n", "plans.csv:2: 3 cells"),
    ],
)
def test_a_csv_that_cannot_be_read_exits_2_before_connecting(tmp_path, capsys, text, words):
    f = tmp_path / "plans.csv"
    f.write_text(text)
    assert run(["qserver", "add", "--file", str(f), "--port", "9"]) == 2
    assert words in _err(capsys)


def test_move_0_to_front_is_a_position_not_a_uid(server):
    assert run(["qserver", "move", "0", "--to", "front"]) == 0
    assert _bodies(server, "/api/queue/item/move")[-1] == {"pos": 0, "pos_dest": "front"}


def test_the_key_hint_names_the_variable_the_key_came_from(server, capsys):
    server.routes[("GET", "/api/queue/get")] = lambda b: (401, {"detail": "Invalid API key"})
    assert run(["qserver", "queue"]) == 5
    err = _err(capsys)
    assert "read from $QSERVER_HTTP_SERVER_API_KEY" in err and "api_key setting" not in err


def test_metadata_on_a_server_without_the_route_says_zmq_works(server, capsys):
    assert run(["qserver", "metadata"]) == 1
    assert "--zmq tcp://HOST:60615" in _err(capsys)


def test_help_lists_the_commands_in_panels(capsys):
    assert run(["qserver", "--help"]) == 0
    out = capsys.readouterr().out
    heads = [p for p in ("Queue", "Run", "Environment", "History", "Admin", "Login") if f"─ {p} ─" in out]
    assert heads == ["Queue", "Run", "Environment", "History", "Admin", "Login"]
    assert out.index("─ Queue ─") < out.index("│ add ") < out.index("─ Run ─") < out.index("│ run ")


def test_an_xlsx_goes_to_the_servers_upload_which_has_no_dry_run_nor_pos(server, tmp_path, capsys):
    sheet = tmp_path / "plans.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really a workbook")
    server.routes[("POST", "/api/queue/upload/spreadsheet")] = lambda b: (
        200,
        {
            "success": True,
            "msg": "",
            "items": [_uid({"name": "count", "args": [["det1"]]}, 1)],
            "results": [],
        },
    )
    for extra in (["--dry-run"], ["--pos", "front"]):
        assert run(["qserver", "add", "--file", str(sheet), *extra]) == 2
        assert "save it as .csv" in _err(capsys)
    assert not server.count("POST", "/api/queue/upload/spreadsheet")
    assert run(["qserver", "add", "--file", str(sheet), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"][0]["item_uid"] == "u1"
    assert server.count("POST", "/api/queue/upload/spreadsheet") == 1
