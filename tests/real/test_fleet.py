"""Fleets against the real OpenSSH server: several host names (ssh_config ``Host`` aliases of the
session's sshd, each its own ControlMaster) scanned, audited, asked for status and waited on in
one command; an unreachable host is listed with its error and makes the exit 4 while the others
are still reported. The hosts all are this machine, so each finds the session's real IGV."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tether.ssh import Ssh

from . import apps

pytestmark = pytest.mark.real

ALIASES = ("fleet-a", "fleet-b")


@pytest.fixture
def fleet_hosts(sshd, tmp_path):
    """An ssh_config naming the sshd twice (``fleet-a``, ``fleet-b``) beside the fixture's own
    settings, and a closed port on 127.0.0.1: the unreachable host."""
    config = tmp_path / "ssh_config"
    aliases = "".join(f"Host {a}\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n" for a in ALIASES)
    shared = sshd.config.read_text().replace("Host 127.0.0.1\n", f"Host 127.0.0.1 {' '.join(ALIASES)}\n", 1)
    config.write_text(aliases + shared)  # the key, known_hosts … for the aliases too
    dead = apps.free_port()  # nothing listens there: ssh's connect is refused at once
    env = {
        **os.environ,
        "TETHER_SSH_CONFIG": str(config),
        "TETHER_SSH_PERSIST": "3",
        "TETHER_STATE_DIR": str(tmp_path / "state"),
    }
    hosts = [f"ssh://{a}" for a in ALIASES]
    yield hosts, f"ssh://root@127.0.0.1:{dead}", env
    os.environ["TETHER_SSH_CONFIG"] = str(config)
    try:
        for h in hosts:
            Ssh(h).close()
    finally:
        del os.environ["TETHER_SSH_CONFIG"]


def tether(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args], capture_output=True, text=True, timeout=90, env=env
    )


def test_scan_of_hosts_lists_each_and_the_unreachable_one_with_exit_4(fleet_hosts, igv_app, tmp_path):
    hosts, dead, env = fleet_hosts
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(f"# the lab\n{hosts[1]}\n{dead}   # switched off\n")
    proc = tether("scan", "--app", "igv", "--host", hosts[0], "--hosts", str(hosts_file), "--json", env=env)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)
    assert all("host" in r for r in rows)
    for h in hosts:  # both reachable hosts reported, each with the real IGV
        mine = [r for r in rows if r["host"] == h and r.get("port") == igv_app.port]
        assert mine and mine[0]["confidence"] == "verified" and mine[0]["pid"] == igv_app.pid, rows
    (failed,) = [r for r in rows if r.get("error")]
    assert failed["host"] == dead and failed["error"]["exit_code"] == 4
    table = tether("scan", "--app", "igv", "--host", hosts[0], "--host", dead, "--host", hosts[1], env=env)
    assert table.returncode == 4
    assert "HOST" in table.stdout and "ERROR" in table.stdout and dead in table.stdout
    assert table.stdout.count("fleet-") >= 2


def test_status_audit_and_wait_over_hosts(fleet_hosts, igv_app):
    hosts, dead, env = fleet_hosts
    status = tether("igv", "status", "--host", hosts[0], "--host", hosts[1], "--json", env=env)
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert [(r["host"], r["port"], r["pid"]) for r in rows] == [(h, igv_app.port, igv_app.pid) for h in hosts]
    waited = tether("wait", "igv", "--host", hosts[0], "--host", dead, "--timeout", "3", "--json", env=env)
    assert waited.returncode == 4, waited.stdout + waited.stderr
    rows = json.loads(waited.stdout)
    assert rows[0]["host"] == hosts[0] and rows[0]["port"] == igv_app.port
    assert rows[1]["host"] == dead and rows[1]["error"]["type"] == "Timeout"
    no_env = {k: v for k, v in env.items() if k != "TETHER_SSH_CONFIG"}  # the option names it here
    config = env["TETHER_SSH_CONFIG"]
    audit = tether("audit", "--host", hosts[0], "--host", dead, "--ssh-config", config, "--json", env=no_env)
    rows = json.loads(audit.stdout)
    assert [r["host"] for r in rows if r.get("error")] == [dead]
    critical = [r for r in rows if r.get("severity") == "critical"]
    assert all(r["host"] == hosts[0] for r in critical)  # IGV's wildcard bind, read on that host
    assert audit.returncode == (7 if critical else 4), audit.stdout + audit.stderr  # a finding outranks
