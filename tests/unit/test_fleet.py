"""Fleets (tether.fleet, the CLI's --host/--hosts/--parallel) without a network: the hosts file,
bounded parallelism, a failed host reported beside the others.
Real OpenSSH hosts: tests/real/test_fleet.py."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tether import fleet, remote
from tether.endpoint import Confidence, Endpoint
from tether.errors import Timeout, Unreachable, UsageError


def test_a_hosts_file_is_one_host_a_line_with_comments(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("# the beamline\nssh://lab1\n\n  ssh://me@lab2:2222   # the spare\nlocalhost\n")
    assert fleet.read_hosts(f) == ["ssh://lab1", "ssh://me@lab2:2222", "localhost"]
    assert fleet.hosts_from(["ssh://lab1", "ssh://lab3"], str(f)) == [
        "ssh://lab1",
        "ssh://lab3",
        "ssh://me@lab2:2222",
        "localhost",
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ssh://a ssh://b\n", "line 1 is not a host"),
        ("ssh://lab1\nroot:$6$secret:19000:0:99999:7:::\n", "line 2 is not a host"),
        ("# nothing\n\n", "names no host"),
    ],
)
def test_a_bad_hosts_file_is_refused(tmp_path, text, match):
    f = tmp_path / "hosts"
    f.write_text(text)
    with pytest.raises(UsageError, match=match) as info:
        fleet.read_hosts(f)
    assert "secret" not in str(info.value)  # a file of another kind: its lines are never echoed
    with pytest.raises(UsageError, match="cannot read the hosts file"):
        fleet.read_hosts(tmp_path / "missing")


def test_hosts_are_reached_in_parallel_but_at_most_parallel_at_once():
    lock, now, peak = threading.Lock(), [0], [0]

    def one(host: str) -> str:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.1)
        with lock:
            now[0] -= 1
        if host == "h3":
            raise Unreachable("h3: connection refused")
        return host.upper()

    hosts = [f"h{i}" for i in range(8)]
    started = time.monotonic()
    results = fleet.each(hosts, one, parallel=3)
    took = time.monotonic() - started
    assert peak[0] == 3 and took < 0.8  # 8 hosts, 3 at a time: 3 rounds of 0.1 s, not 8
    assert [r.host for r in results] == hosts  # in the order given
    assert [r.value for r in results if r.ok] == ["H0", "H1", "H2", "H4", "H5", "H6", "H7"]
    assert fleet.exit_code(results) == 4 and fleet.errors(results)[0][0] == "h3"
    with pytest.raises(UsageError, match="--parallel"):
        fleet.each(hosts, one, parallel=0)


def test_a_host_whose_ports_cannot_be_listed_is_refused_before_any_is_reached(monkeypatch):
    reached = []
    monkeypatch.setattr(remote, "scan_host", lambda url, *a, **k: reached.append(url) or [])
    with pytest.raises(UsageError, match="ssh://\\[USER@\\]lab9"):
        fleet.scan(["ssh://lab1", "lab9"])
    assert reached == []


def _fake_hosts(monkeypatch, down: dict[str, Exception]):
    def scan_host(url, adapters, **kw):
        if url in down:
            raise down[url]
        return [Endpoint(app="igv", title="IGV", host=url, port=60151, pid=7, confidence=Confidence.VERIFIED)]

    monkeypatch.setattr(remote, "scan_host", scan_host)


def test_scan_of_a_fleet_lists_every_host_and_exits_4_for_the_unreachable_one(cli, monkeypatch):
    _fake_hosts(
        monkeypatch, {"ssh://down": Unreachable("ssh: connect to host down port 22: Connection refused")}
    )
    code, out, _ = cli("scan", "--host", "ssh://up1", "--host", "ssh://down", "--host", "ssh://up2", "--json")
    assert code == 4
    rows = json.loads(out)
    assert [r["host"] for r in rows] == ["ssh://up1", "ssh://down", "ssh://up2"]
    assert rows[0]["app"] == "igv" and rows[2]["port"] == 60151
    assert rows[1]["error"]["type"] == "Unreachable" and rows[1]["error"]["exit_code"] == 4
    assert "Connection refused" in rows[1]["error"]["message"]
    code, out, _ = cli("scan", "--host", "ssh://up1", "--host", "ssh://down", "--host", "ssh://up2")
    assert code == 4
    assert "HOST" in out and "ERROR" in out and "ssh://up2" in out and "Unreachable" in out


def test_a_timed_out_host_costs_its_own_deadline_only(cli, monkeypatch, tmp_path):
    _fake_hosts(monkeypatch, {"ssh://silent": Timeout("ssh: silent host")})
    f = tmp_path / "hosts"
    f.write_text("ssh://silent\nssh://up\n")
    code, out, _ = cli("scan", "--hosts", str(f), "--json", "--parallel", "2")
    rows = json.loads(out)
    assert code == 4 and rows[0]["error"]["type"] == "Timeout" and rows[1]["app"] == "igv"


def test_one_failed_host_alone_is_its_error(cli, monkeypatch):
    _fake_hosts(monkeypatch, {"ssh://down": Unreachable("down")})
    code, _, err = cli("scan", "--host", "ssh://down")
    assert code == 4 and "down" in err


def test_the_mcp_scan_tool_takes_a_list_of_hosts():
    from tether.cli.app import build_app
    from tether.cli.mcp import build_tools

    scan = next(t for t in build_tools(build_app(None)) if t.name == "scan")
    params = {p.name: p for p in scan.params}
    assert params["host"].schema["type"] == "array" and params["host"].many
    assert params["parallel"].schema["type"] == "integer"
