"""Plan text people type, and the check against the server's allowed lists (shapes copied from
bluesky-queueserver 0.0.25's simulated profile)."""

from __future__ import annotations

import io
import json

import pytest

from tether.errors import UsageError
from tether_qserver.client import item_add_body
from tether_qserver.plan import parse_item, parse_items, parse_value, validate_item


def _p(name: str, kind: int, annotation: str | None = None, default: str | None = None) -> dict:
    param: dict = {"name": name, "kind": {"name": "", "value": kind}}
    if annotation:
        param["annotation"] = {"type": annotation}
    if default is not None:
        param["default"] = default
    return param


PLANS = {
    "count": {
        "name": "count",
        "parameters": [
            _p("detectors", 1, "collections.abc.Sequence[__READABLE__]"),
            _p("num", 1, "int | None", "1"),
            _p("delay", 1, "float", "0.0"),
            _p("per_shot", 3, None, "None"),
            _p("md", 3, "dict | None", "None"),
        ],
    },
    "mv": {
        "name": "mv",
        "parameters": [
            _p("args", 2, "__MOVABLE__ | typing.Any"),
            _p("group", 3, None, "None"),
            _p("kwargs", 4),
        ],
    },
}
DEVICES = ["det1", "det2", "motor"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ("True", True),
        ("None", None),
        ('"a,b"', "a,b"),
        ("det1", "det1"),
        ("det1,det2", ["det1", "det2"]),
        ("det1,", ["det1"]),
        ('["det1","det2"]', ["det1", "det2"]),
        ("['det1', 'det2']", ["det1", "det2"]),
        ("1,2.5", [1, 2.5]),
        ("{'a': (1, 2)}", {"a": (1, 2)}),
    ],
)
def test_shorthand_values_read_as_documented(text, value):
    assert parse_value(text) == value


def test_list_shorthand_and_json_list_send_the_same_item():
    a = parse_item(["count", '["det1","det2"]', "num=3"])
    b = parse_item(["count", "det1,det2", "num=3"])
    assert a == b == {"item_type": "plan", "name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 3}}


def test_whole_item_as_json_or_python_literal():
    j = parse_item(['{"name": "count", "args": [["det1"]], "kwargs": {"md": {"ok": true}}}'])
    p = parse_item(["{'name': 'count', 'args': [('det1',)], 'kwargs': {'md': {'ok': True}}}"])
    assert j == p and j["kwargs"]["md"] == {"ok": True}


def test_items_from_yaml_json_and_stdin(tmp_path):
    y = tmp_path / "plans.yaml"
    y.write_text("- name: count\n  args: [[det1]]\n- {name: mv, args: [motor, 1]}\n")
    j = tmp_path / "plan.json"
    j.write_text(json.dumps({"name": "count", "args": [["det2"]]}))
    assert [i["name"] for i in parse_items([f"@{y}"])] == ["count", "mv"]
    assert parse_items([f"@{j}"])[0]["args"] == [["det2"]]
    assert parse_items(["@-"], stdin_text='[{"name": "count", "args": [["det1"]]}]')[0]["name"] == "count"


@pytest.mark.parametrize(
    "tokens",
    [
        [],
        ["count", "[det1"],
        ["{'name': 'count'"],
        ["count", "num=1", "det1,"],
        ["count", "num=1", "num=2"],
        ["not-a-name"],
        ['{"name": "count", "argz": []}'],
        ['{"args": []}'],
        ["@/nonexistent/plans.yaml"],
    ],
)
def test_malformed_plan_text_is_a_usage_error(tokens):
    with pytest.raises(UsageError):
        parse_items(tokens)


def test_dry_run_body_is_the_exact_add_request():
    body = item_add_body(parse_item(["count", "det1,", "num=2"]), pos="front")
    assert body["pos"] == "front"
    assert body["item"]["meta"]["client_request_id"].startswith("tether-")
    assert body["item"]["args"] == [["det1"]]


def test_valid_items_pass():
    validate_item(parse_item(["count", "det1,det2", "num=3"]), PLANS, DEVICES)
    validate_item(parse_item(["count", "det1.val,", "md={'a': 1}"]), PLANS, DEVICES)  # a component
    validate_item(parse_item(["mv", "motor", "1", "group=g", "anything=1"]), PLANS, DEVICES)  # **kwargs


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        (["cuont", "det1,"], ["unknown plan 'cuont'", "did you mean count"]),
        (["count", "det1,", "nmu=3"], ["no parameter 'nmu'", "did you mean num"]),
        (["count", "num=3"], ["needs detectors"]),
        (["count", "det9,"], ["unknown device 'det9'"]),
        (["count", "det9"], ["unknown device 'det9'"]),  # a lone name is checked as the list it becomes
        (["count", "det1,", "num=abc"], ["'num' takes int | None, not 'abc'"]),
        (["count", "det1,", "num=2.5"], ["'num'", "2.5"]),
        (["count", "det1,", "delay=fast"], ["'delay' takes float"]),
        (["count", "det1,", "md=3"], ["'md' takes dict | None"]),
        (["count", "det1,", "1", "0.1", "5"], ["at most 3 positional"]),
        (["count", "det1,", "2", "num=3"], ["'num' given both"]),
    ],
)
def test_invalid_items_are_refused_with_the_reason(tokens, words):
    with pytest.raises(UsageError) as err:
        validate_item(parse_item(tokens), PLANS, DEVICES)
    text = str(err.value)
    for word in words:
        assert word in text


def test_a_lone_device_where_a_list_is_expected_becomes_a_one_item_list():
    for tokens in (["count", "det1"], ["count", "detectors=det1"]):
        item = validate_item(parse_item(tokens), PLANS, DEVICES)
        assert (item.get("args") or [item["kwargs"]["detectors"]])[0] == ["det1"], item
    # where a device or anything is taken (mv's *args), a name stays a name
    assert validate_item(parse_item(["mv", "motor", "1"]), PLANS, DEVICES)["args"] == ["motor", 1]


@pytest.mark.parametrize(
    ("annotation", "good", "bad"),
    [
        ("int | None", [3, None, 3.0], ["3", 2.5, True, [1]]),
        ("typing.Optional[float]", [1, 2.5, None], ["x", [1.0]]),
        ("typing.Union[int, str]", [1, "a"], [2.5, None]),
        ("typing.List[float]", [[1, 2.5], []], [3, ["x"]]),
        ("float | collections.abc.Iterable[float]", [0.1, [0.1, 0.2]], ["x", {"a": 1}]),
        ("dict[str, typing.Any] | None", [{"a": 1}, None], [3, "x"]),
        ("bool", [True], [1, "yes"]),
    ],
)
def test_argument_types_are_read_from_the_annotations(annotation, good, bad):
    plans = {"p": {"name": "p", "parameters": [_p("x", 1, annotation)]}}
    for value in good:
        validate_item({"name": "p", "args": [value]}, plans, DEVICES)
    for value in bad:
        with pytest.raises(UsageError, match="'x' takes"):
            validate_item({"name": "p", "args": [value]}, plans, DEVICES)


@pytest.mark.parametrize(
    "annotation",
    ["typing.Any", "__MOVABLE__ | typing.Any", "tuple[__MOVABLE__ | typing.Any, list[typing.Any]]",
     "typing.List[Motors]", "collections.abc.Hashable | None", "SomeEnum", "int | SiteType"],
)  # fmt: skip
def test_annotations_not_understood_whole_are_left_to_the_server(annotation):
    plans = {"p": {"name": "p", "parameters": [_p("x", 2, annotation)]}}
    validate_item({"name": "p", "args": ["motor", [1, 2], "abc", 3]}, plans, DEVICES)


@pytest.mark.parametrize(
    "param",
    [
        {"name": "x", "kind": {"name": "", "value": "a"}},
        {"name": "x", "kind": "a"},
        {"name": "x", "kind": {"value": 9}},
        {"name": "x", "kind": {"value": None}},
    ],
)
def test_malformed_plan_descriptions_are_the_servers_fault_not_a_crash(param):
    from tether.errors import ProtocolError

    with pytest.raises(ProtocolError, match="none of Python's parameter kinds"):
        validate_item({"name": "p", "args": [1]}, {"p": {"name": "p", "parameters": [param]}}, DEVICES)
    # an annotation that is not an object is no annotation (never an AttributeError)
    odd = {"p": {"name": "p", "parameters": [{"name": "x", "kind": {"value": 1}, "annotation": "int"}]}}
    validate_item({"name": "p", "args": ["abc"]}, odd, DEVICES)


def test_an_empty_plan_list_says_to_open_the_environment():
    with pytest.raises(UsageError) as err:
        validate_item(parse_item(["count", "det1,"]), {}, [])
    assert "env open" in (err.value.hint or "")


def test_stdin_is_read_when_no_text_is_given(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("- {name: count, args: [[det1]]}\n"))
    assert parse_items(["@-"])[0]["args"] == [["det1"]]


def test_a_file_of_plans_names_where_each_item_starts(tmp_path):
    from tether_qserver.plan import read_plan_file

    j = tmp_path / "plans.json"
    j.write_text('[\n  {"name": "count", "args": [["det1"]]},\n\n  "count det1, num=2"\n]\n')
    assert [(w, i["name"], i.get("kwargs")) for w, i in read_plan_file(str(j))] == [
        ("plans.json:2", "count", None),
        ("plans.json:4", "count", {"num": 2}),
    ]
    c = tmp_path / "plans.csv"
    c.write_text('plan,args,md\n"count",det1,"{\'a\': 1}"\n,,\n\'count\',"[\'det1\']",\n')
    assert [(w, i) for w, i in read_plan_file(str(c))] == [
        ("plans.csv:2", {"item_type": "plan", "name": "count", "args": ["det1"], "kwargs": {"md": {"a": 1}}}),
        ("plans.csv:4", {"item_type": "plan", "name": "count", "args": [["det1"]]}),
    ]
    for bad, words in (("x.txt", "takes a .csv, .yaml, .json"), ("-", "takes a .csv")):
        with pytest.raises(UsageError, match=words):
            read_plan_file(bad)
    y = tmp_path / "plans.yaml"
    y.write_text("- {name: count, args: [[det1]]}\n- {nmae: count}\n")
    with pytest.raises(UsageError, match=r"plans.yaml:2 has unknown field"):
        read_plan_file(str(y))
