"""`tether qserver launch` and `shutdown` from nothing: real redis, RE Manager and HTTP server started
by tether on free ports, found by a scan, driven with the key it printed, stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.real

TETHER = str(Path(sys.executable).with_name("tether"))
KEY_VARS = ("QSERVER_HTTP_SERVER_API_KEY", "TETHER_QSERVER_API_KEY", "QSERVER_HTTP_SERVER_URI",
            "TETHER_QSERVER_URL", "QSERVER_ZMQ_CONTROL_ADDRESS", "QSERVER_ZMQ_INFO_ADDRESS")  # fmt: skip


def tether(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([TETHER, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def clean_env(tmp_path):
    """No queue-server variables; launch records in the test's own state directory."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["TETHER_STATE_DIR"] = str(tmp_path / "state")
    env["TETHER_CONFIG"] = str(tmp_path / "absent.toml")
    return env


def exported(stdout: str) -> dict[str, str]:
    lines = [line.removeprefix("export ") for line in stdout.splitlines() if line.startswith("export ")]
    return dict(line.split("=", 1) for line in lines)


def gone(*pids: int | None) -> bool:
    return not any(
        pid and psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


def stop_by_pid(record: dict) -> None:
    """The last line of defence: whatever a failed test left running, by the pids tether recorded."""
    for pid in (record.get("http_pid"), record.get("pid"), record.get("redis_pid")):
        try:
            if pid:
                os.killpg(pid, 9)
        except (ProcessLookupError, PermissionError):
            pass


def test_launch_from_nothing_scan_finds_it_the_key_works_and_shutdown_leaves_no_pid(clean_env):
    done = tether("qserver", "launch", env=clean_env)
    assert done.returncode == 0, done.stderr
    env_lines = exported(done.stdout)
    assert set(env_lines) == {"QSERVER_HTTP_SERVER_URI", "QSERVER_HTTP_SERVER_API_KEY"}
    key, url = env_lines["QSERVER_HTTP_SERVER_API_KEY"], env_lines["QSERVER_HTTP_SERVER_URI"]
    assert key.isalnum() and len(key) >= 32
    assert key not in done.stderr and "queue server ready" in done.stderr
    records = list((Path(clean_env["TETHER_STATE_DIR"]) / "qserver").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    try:
        saved = records[0].read_text() + "".join(
            Path(p).read_text(errors="replace") for p in Path(clean_env["TETHER_STATE_DIR"]).rglob("*.log")
        )
        assert key not in saved  # neither the record nor any log holds the key

        scan = json.loads(tether("scan", "--json", env=clean_env).stdout)
        port = int(url.rsplit(":", 1)[1])
        http = [e for e in scan if e["app"] == "qserver" and e["port"] == port]
        assert http and http[0]["confidence"] == "verified" and http[0]["pid"] == record["data"]["http_pid"]
        zmq_port = int(record["data"]["zmq_control"].rsplit(":", 1)[1])
        tree = {record["pid"], *(p.pid for p in psutil.Process(record["pid"]).children(recursive=True))}
        assert any(e["port"] == zmq_port and e["pid"] in tree for e in scan if e["app"] == "qserver")

        with_key = {**clean_env, **env_lines}
        status = tether("qserver", "status", "--json", env=with_key)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["manager"]["manager_state"] == "idle"
        plans = tether("qserver", "plans", "--json", env=with_key)
        assert plans.returncode == 0 and "count" in plans.stdout
        no_key = tether("qserver", "plans", env={**clean_env, "QSERVER_HTTP_SERVER_URI": url})
        assert no_key.returncode == 5
        # the other name clients read the key under works the same
        other = {**clean_env, "QSERVER_HTTP_SERVER_URI": url, "TETHER_QSERVER_API_KEY": key}
        assert tether("qserver", "plans", env=other).returncode == 0

        stop = tether("qserver", "shutdown", "--json", env=clean_env)
        assert stop.returncode == 0, stop.stderr
        assert json.loads(stop.stdout)["was_running"] is True
        assert gone(record["pid"], record["data"]["http_pid"], record["data"]["redis_pid"])
        assert not list((Path(clean_env["TETHER_STATE_DIR"]) / "qserver").glob("*.json"))
        assert not Path(record["data"]["workdir"]).exists()
        assert tether("qserver", "shutdown", env=clean_env).returncode == 3
    finally:
        stop_by_pid({"pid": record["pid"], **record["data"]})


def test_launch_zmq_only_on_a_chosen_port_with_a_profile_and_a_redis_of_ours(clean_env, tmp_path):
    from tether_qserver.launch import free_ports, sim_profile

    from . import apps

    redis_port, port = free_ports(2)
    redis_bin = apps.need_binary("redis-server", "redis-server")
    argv = [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    redis = apps.spawn("redis", argv, tmp_path / "redis.log")
    apps.wait_for("redis", lambda: apps._redis_ping(redis_port), 20, redis)

    profile = tmp_path / "profile"
    profile.mkdir()
    sim = sim_profile()
    for name in ("00-ophyd.py", "15-plans.py"):  # devices and plans of the simulated profile, copied
        if (sim / name).is_file():
            (profile / name).write_text((sim / name).read_text())
    assert list(profile.glob("*.py"))
    done = tether(
        "qserver", "launch", "--zmq-only", "--port", str(port), "--profile", str(profile),
        "--redis", f"127.0.0.1:{redis_port}", "--json", env=clean_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    try:
        assert record["url"] is None and record["http_pid"] is None and "api_key" not in record
        assert record["zmq_control"] == f"tcp://127.0.0.1:{port}" and record["exports"] is None
        assert record["profile"] == str(profile.resolve())
        assert record["redis"] == f"127.0.0.1:{redis_port}" and record["redis_pid"] is None
        zmq = {**clean_env, "QSERVER_ZMQ_CONTROL_ADDRESS": record["zmq_control"]}
        status = tether("qserver", "status", "--json", env=zmq)
        assert status.returncode == 0 and json.loads(status.stdout)["manager"]["manager_state"] == "idle"
        # the worker loads the profile when the environment opens; its plans are listed from then on
        opened = tether("qserver", "env", "open", "--wait", env=zmq)
        assert opened.returncode == 0, opened.stderr
        plans = tether("qserver", "plans", "--json", env=zmq)
        assert plans.returncode == 0 and "count" in json.loads(plans.stdout)
        stop = tether("qserver", "shutdown", "--port", str(port), env=clean_env)
        assert stop.returncode == 0, stop.stderr
        assert gone(record["pid"])
        assert redis.alive()  # a redis tether did not start is left running
    finally:
        stop_by_pid(record)
        redis.stop()
