"""`tether qserver …` against a real RE Manager with **no** HTTP server, over its 0MQ sockets: found by
`tether scan`, driven by the same commands with the same `--json` shapes as over HTTP, encrypted
control sockets, a manager killed mid-run, and a scan that greets no port a hint does not name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version

import psutil
import pytest

from tether.cli import run
from tether.testing import FakeServer

from . import re_manager
from .conftest import _unavailable
from .test_qserver import ensure_env, remove_quietly

pytestmark = pytest.mark.real

ZMQ_VARS = ("QSERVER_ZMQ_CONTROL_ADDRESS", "QSERVER_ZMQ_PUBLIC_KEY", "QSERVER_ZMQ_INFO_ADDRESS",
            "TETHER_QSERVER_ZMQ", "TETHER_QSERVER_ZMQ_PUBLIC_KEY", "TETHER_QSERVER_ZMQ_INFO",
            "QSERVER_HTTP_SERVER_URI", "TETHER_QSERVER_URL", "QSERVER_HTTP_SERVER_API_KEY")  # fmt: skip
TITLE = "Bluesky RE Manager (0MQ)"
ZMTP_SIGNATURE = b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"
CLI = [sys.executable, "-c", "import sys; from tether.cli import main; main(sys.argv[1:])"]


def _manager(tmp_path_factory, name: str, **kw):
    try:
        app = re_manager.start_re_manager(tmp_path_factory.mktemp(name), **kw)
    except (re_manager.apps.AppMissing, re_manager.apps.AppFailed) as exc:
        _unavailable("RE Manager (0MQ, no HTTP server)", exc)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    yield from _manager(tmp_path_factory, "re-manager")


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory):
    yield from _manager(tmp_path_factory, "re-manager-curve", encrypted=True)


@pytest.fixture
def doomed(tmp_path_factory):
    """A manager of its own, for a test that kills it."""
    yield from _manager(tmp_path_factory, "re-manager-doomed")


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for var in ZMQ_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))


def tz(app, *args: str) -> list[str]:
    return ["qserver", *args, "--zmq", app.control]


def out_json(capsys):
    return json.loads(capsys.readouterr().out)


def _listens(pid: int, port: int) -> bool:
    return any(c.laddr and c.laddr[1] == port for c in psutil.Process(pid).net_connections("tcp"))


# -- detection ---------------------------------------------------------------------------------------
def test_scan_lists_the_manager_verified_with_its_pid_port_and_version(manager, capsys):
    assert run(["scan", "--json"]) == 0
    found = out_json(capsys)
    mine = [e for e in found if e["port"] == manager.control_port]
    assert len(mine) == 1, found
    ep = mine[0]
    assert ep["app"] == "qserver" and ep["title"] == TITLE and ep["confidence"] == "verified"
    assert ep["version"] == version("bluesky-queueserver")
    # the manager process that owns the socket: start-re-manager's child, or itself
    assert ep["pid"] in (manager.pid, *(c.pid for c in psutil.Process(manager.pid).children(recursive=True)))
    assert _listens(ep["pid"], manager.control_port)
    assert ep["extra"] == {"door": "zmq", "zmq_control": manager.control, "zmq_info": manager.info}
    assert not [e for e in found if e["port"] == manager.info_port and e["app"] == "qserver"]


def test_a_scan_never_greets_a_port_no_hint_names(manager, capsys):
    def record(conn, server):
        conn.recv(64, timeout=2.0)

    with FakeServer(record) as other:
        assert run(["scan", "--json"]) == 0
        other.settle(2.0)
    found = out_json(capsys)
    assert any(e["port"] == manager.control_port and e["confidence"] == "verified" for e in found)
    assert not any(ZMTP_SIGNATURE[:1] in data for data in other.received)
    assert other.connections == 0  # nothing hints at it: not even a connect


def test_the_scan_shows_both_doors_and_which_http_server_fronts_which_manager(qserver_app, capsys):
    assert run(["scan", "--json"]) == 0
    found = {e["port"]: e for e in out_json(capsys)}
    http, manager_port = found[qserver_app.port], int(qserver_app.zmq_control.rsplit(":", 1)[1])
    assert http["title"] == "Bluesky HTTP Server" and http["confidence"] == "verified"
    assert http["extra"]["fronts"] == qserver_app.zmq_control
    assert found[manager_port]["title"] == TITLE and found[manager_port]["confidence"] == "verified"
    assert _listens(found[manager_port]["pid"], manager_port)


# -- the commands, over 0MQ ------------------------------------------------------------------------------
def test_status_over_0mq_reports_the_manager(manager, capsys):
    assert run(tz(manager, "status", "--json")) == 0
    out = out_json(capsys)
    assert out["title"] == TITLE and out["port"] == manager.control_port
    assert out["manager"]["msg"].startswith("RE Manager v") and out["manager"]["manager_state"] == "idle"


def test_a_plan_runs_to_completion_over_0mq_with_the_console_followed(manager, capsys, tmp_path):
    assert run(tz(manager, "env", "open", "--wait", "--json")) == 0
    assert out_json(capsys)["worker_environment_exists"] is True

    assert run(tz(manager, "add", "count", "det1,det2", "num=2", "--json")) == 0
    added = out_json(capsys)[0]
    assert added["item_uid"] and added["user"] == "tether" and added["kwargs"] == {"num": 2}
    assert run(tz(manager, "queue", "--json")) == 0
    assert [i["item_uid"] for i in out_json(capsys)["items"]] == [added["item_uid"]]

    console_out = tmp_path / "console.jsonl"
    with open(console_out, "w") as sink:
        follower = subprocess.Popen(
            [*CLI, *tz(manager, "console", "--follow", "--for", "20", "--json")], stdout=sink, stderr=sink
        )
    try:
        time.sleep(2.0)  # subscribed before the plan starts
        started = time.monotonic()
        assert run(tz(manager, "run", "count", "det1,", "num=3", "--json", "--timeout", "60")) == 0
        took = time.monotonic() - started
        result = out_json(capsys)
    finally:
        time.sleep(1.0)
        follower.send_signal(signal.SIGINT)
        follower.wait(10)
    assert result["exit_status"] == "completed" and result["run_uids"] and took < 30
    lines = [json.loads(line)["msg"] for line in console_out.read_text().splitlines() if line.startswith("{")]
    text = "".join(lines)
    assert result["item_uid"] in text and "Starting a plan 'count'" in text, console_out.read_text()[-2000:]

    assert run(tz(manager, "history", "--json")) == 0
    history = {i["item_uid"]: i for i in out_json(capsys)}
    assert history[result["item_uid"]]["result"]["run_uids"] == result["run_uids"]
    # `run` executes its own plan now (item execute): the item queued before it was not touched
    assert added["item_uid"] not in history
    assert run(tz(manager, "queue", "--json")) == 0
    assert [i["item_uid"] for i in out_json(capsys)["items"]] == [added["item_uid"]]
    assert run(tz(manager, "remove", added["item_uid"], "--json")) == 0
    capsys.readouterr()

    assert run(tz(manager, "env", "close", "--wait", "--json")) == 0
    assert out_json(capsys)["worker_environment_exists"] is False


def test_the_json_shapes_match_the_http_doors(manager, qserver_app, monkeypatch, capsys):
    """The same commands' --json output, key for key, over the HTTP server and over 0MQ."""
    ensure_env(qserver_app)
    assert run(tz(manager, "env", "open", "--wait")) == 0
    capsys.readouterr()
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)
    http = ["--port", str(qserver_app.port)]

    def both(*args: str) -> tuple:
        assert run(["qserver", *args, "--json", *http]) == 0
        over_http = out_json(capsys)
        assert run(["qserver", *args, "--json", "--zmq", manager.control]) == 0
        return over_http, out_json(capsys)

    def keys(value):
        if isinstance(value, dict):
            return {k: keys(v) for k, v in value.items() if k not in ("extra", "cmdline", "meta")}
        if isinstance(value, list):
            return [keys(value[0])] if value else []
        return type(value).__name__ if value is not None else None

    h, z = both("status")
    assert set(h) == set(z) and set(h["manager"]) == set(z["manager"])
    h, z = both("add", "count", "det1,", "num=1")
    assert keys(h) == keys(z)
    try:
        h_q, z_q = both("queue")
        assert set(h_q) == set(z_q) and keys(h_q["items"][-1]) == keys(z_q["items"][-1])
        h_r, z_r = both("run", "count", "det1,", "num=1")
        assert keys(h_r) == keys(z_r) and h_r["exit_status"] == z_r["exit_status"] == "completed"
        h_h, z_h = both("history", "--last", "1")
        assert keys(h_h) == keys(z_h)
    finally:  # `run` leaves the queue as it was: take back what `add` queued on either door
        remove_quietly(qserver_app, h[0]["item_uid"])
        assert run(tz(manager, "remove", z[0]["item_uid"])) == 0
    assert run(tz(manager, "env", "close", "--wait")) == 0


# -- encryption ------------------------------------------------------------------------------------------
def test_an_encrypted_manager_needs_its_public_key(encrypted, capsys, monkeypatch):
    assert run([*tz(encrypted, "status", "--json"), "--zmq-public-key", encrypted.public_key]) == 0
    assert out_json(capsys)["manager"]["manager_state"] == "idle"

    started = time.monotonic()
    code = run(tz(encrypted, "status"))
    err = capsys.readouterr().err
    assert code == 5 and time.monotonic() - started < 5
    assert "encrypted (CURVE) and no public key was given" in err and "--zmq-public-key" in err

    wrong, _ = re_manager.make_keys()
    assert run([*tz(encrypted, "queue"), "--zmq-public-key", wrong]) == 5
    assert "the public key is not the server's" in capsys.readouterr().err
    assert encrypted.public_key not in err

    assert run(["scan", "--json"]) == 0  # without the key: hinted, not verified
    ep = next(e for e in out_json(capsys) if e["port"] == encrypted.control_port)
    assert ep["confidence"] == "hinted" and ep["title"] == TITLE and "no public key" in ep["detail"]
    monkeypatch.setenv("QSERVER_ZMQ_PUBLIC_KEY", encrypted.public_key)
    assert run(["scan", "--json"]) == 0
    ep = next(e for e in out_json(capsys) if e["port"] == encrypted.control_port)
    assert ep["confidence"] == "verified"


def test_a_named_port_is_probed_with_the_given_public_key(encrypted, capsys):
    # no --zmq: the probe finds out the port is RE Manager's, and needs the key to verify it
    port = ["qserver", "status", "--json", "--port", str(encrypted.control_port)]
    assert run([*port, "--zmq-public-key", encrypted.public_key]) == 0
    assert out_json(capsys)["manager"]["manager_state"] == "idle"
    assert run(port) == 4  # without the key the probe cannot verify it (the scan's probe has no key either)
    failed = out_json(capsys)
    assert "no public key" in failed["message"] and failed["message"].startswith(TITLE)


# -- failures --------------------------------------------------------------------------------------------
def test_a_manager_killed_mid_run_exits_4_within_the_deadline(doomed, capsys):
    assert run(tz(doomed, "env", "open", "--wait")) == 0
    capsys.readouterr()
    runner = subprocess.Popen(
        [*CLI, *tz(doomed, "run", "count", "det1,", "num=200", "delay=0.1", "--timeout", "90")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while doomed.request("status").get("re_state") != "running":
            assert time.monotonic() < deadline and runner.poll() is None, "the plan never started"
            time.sleep(0.2)
        os.killpg(doomed.manager.pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = runner.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 4, err
    assert took < 20, took  # RE Manager is declared lost after 10 s of silence, far inside --timeout 90
    assert "RE Manager stopped answering" in err and "Traceback" not in err
