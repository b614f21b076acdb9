"""`tether qserver` without a server: help, light imports, dry runs and input errors (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tether.cli import run

HEAVY = ("requests", "websocket", "urllib3", "selenium")


def test_help_lists_every_command(capsys):
    assert run(["qserver", "--help"]) == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"^[│|]? ?([a-z][\w-]*)  ", out, re.MULTILINE))  # the first column only
    commands = "status env add run queue remove move clear start stop pause resume abort halt history"
    for word in (commands + " plans devices console lock unlock").split():
        assert word in listed, word  # "lock" by its own row, not inside "unlock"
    more = "item function script task permissions kernel manager runs metadata config ping call"
    more += " login logout whoami apikey principals"
    for word in more.split():
        assert word in listed, word


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["queue", "mode"], "queue mode: give"),
        (["item", "get"], "its uid or --pos"),
        (["item", "update", "u1", "[bad"], "not a plan name"),
        (["function", "execute", "1bad"], "not a plan name"),
        (["script", "upload", "/nonexistent/s.py"], "cannot read the file"),
        (["permissions", "set", "/nonexistent/p.yaml"], "cannot read the file"),
        (["runs", "--open", "--closed"], "not both"),
        (["history", "clear", "--size", "1", "--uid", "x"], "not both"),
        (["move"], "name the item to move"),
        (["move", "a", "b", "--to", "1"], "front or the back"),
        (["remove", "a", "--pos", "1"], "not both"),
        (["call", "FETCH", "/status"], "GET, POST, DELETE or PUT"),
        (["call", "GET", "/status", "[1"], "neither JSON"),
        (["call", "GET", "/status", "[1]"], "JSON object"),
        (["apikey", "delete", "xyz"], "first eight hex characters"),
        (["login", "--username", "u", "--password-stdin"], "no password given"),
    ],
)
def test_bad_input_to_the_api_commands_exits_2_before_any_connection(args, words, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("\n"))  # an empty password
    assert run(["qserver", *args, "--port", "9"]) == 2
    assert words in " ".join(capsys.readouterr().err.split())


def test_qserver_help_does_not_import_heavy_libraries():
    code = "from tether.cli import run; run(['qserver', 'run', '--help'])"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    mods = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "tether_qserver" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_plan_syntax_is_documented_in_the_help(capsys):
    assert run(["qserver", "add", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())  # unwrap rich's help panels
    assert "det1,det2" in out and "@file.yaml" in out and "one-item list" in out


def test_dry_run_without_the_check_prints_the_exact_body_and_needs_no_server(capsys):
    # --port 9: nothing listens there; a dry run with --no-validate must not even probe it
    argv = ["qserver", "add", "count", "det1,det2", "num=3", "--pos", "front", "--dry-run", "--port", "9"]
    assert run([*argv, "--no-validate"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["pos"] == "front"
    assert body["item"]["args"] == [["det1", "det2"]] and body["item"]["kwargs"] == {"num": 3}
    # checked (as add and run check it) unless told not to: that needs the server's lists
    assert run(argv) == 3


def test_dry_run_of_a_yaml_file_prints_every_item(tmp_path, capsys):
    f = tmp_path / "plans.yaml"
    f.write_text("- {name: count, args: [[det1]]}\n- {name: count, args: [[det2]], kwargs: {num: 2}}\n")
    assert run(["qserver", "add", f"@{f}", "--dry-run", "--no-validate"]) == 0
    assert [i["args"] for i in json.loads(capsys.readouterr().out)["items"]] == [[["det1"]], [["det2"]]]


@pytest.mark.parametrize(
    "plan",
    [
        ["count", "[det1"],
        ["count", "num=1", "det1,"],
        ["@/nonexistent.yaml"],
        ['{"name": "count", "bad": 1}'],
    ],
)
def test_malformed_plans_exit_2_before_any_connection(plan, capsys):
    assert run(["qserver", "add", *plan, "--port", "9"]) == 2
    assert "error" in capsys.readouterr().err


def test_unknown_transport_exits_2_before_any_connection(capsys):
    assert run(["qserver", "run", "count", "det1,", "--transport", "carrier-pigeon", "--port", "9"]) == 2
    assert "transport must be one of" in capsys.readouterr().err


def test_bad_position_exits_2(capsys):
    assert run(["qserver", "add", "count", "det1,", "--pos", "middle", "--dry-run"]) == 2
    assert "--pos must be front, back or an integer" in capsys.readouterr().err


def test_unreachable_server_exits_3_or_4_without_a_traceback(capsys):
    code = run(["qserver", "queue", "--port", "9"])
    err = capsys.readouterr().err
    assert code in (3, 4) and "Traceback" not in err
