"""``tether audit`` against fake apps that record what they receive: the audit reports exposed and
unauthenticated control ports, and sends nothing beyond each app's probe and read-only requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether.adapter import Adapter, Hint, ProbeResult, Verdict
from tether.audit import audit, exposed_to
from tether.cli import run
from tether.discovery import Discovery
from tether.endpoint import Confidence, Endpoint, Listener
from tether.findings import SEVERITIES, Finding, severity_rank
from tether.testing import FakeServer
from tether_firefox.audit import audit as firefox_audit
from tether_igv.audit import audit as igv_audit
from tether_igv.testing import fake_igv
from tether_qserver.audit import audit as qserver_audit

KEYS = {"app", "host", "port", "pid", "severity", "finding", "evidence", "fix"}
GREETING = b'50:{"applicationType":"gecko","marionetteProtocol":3}'


# ----------------------------------------------------------------------------- fake apps
def fake_marionette() -> FakeServer:
    """Marionette: greets, then records whatever the client sends until it closes."""

    def handler(conn, server):
        conn.sendall(GREETING)
        conn.wait_closed(5)

    return FakeServer(handler)


def fake_httpserver(*, anonymous_scopes=(), providers=()) -> FakeServer:
    """The Bluesky HTTP server's unauthenticated surface: /openapi.json and /api/auth/scopes.
    Anything else answers 401, as the real server does without credentials."""
    paths = {"/api/status": {}, "/api/queue/item/add": {}}
    paths.update({f"/api/auth/provider/{p}/token": {} for p in providers})
    bodies = {
        "/openapi.json": {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}, "paths": paths},
        "/api/auth/scopes": {
            "roles": ["unauthenticated_public"] if anonymous_scopes else [],
            "scopes": list(anonymous_scopes),
        },
    }

    def handler(conn, server):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096, timeout=5)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1].decode()
        if path in bodies:
            body, status = json.dumps(bodies[path]).encode(), b"200 OK"
        else:
            body, status = b'{"detail":"Not enough permissions"}', b"401 Unauthorized"
        conn.sendall(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip

    return FakeServer(handler)


def requests_of(server: FakeServer) -> list[str]:
    """Each HTTP request the fake received, as its request line plus its header names."""
    out = []
    for raw in server.received:
        if not raw:
            continue
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        lines = head.split("\r\n")
        out.append(lines[0] + " | " + ",".join(sorted(h.split(":", 1)[0].lower() for h in lines[1:])))
    return out


@pytest.fixture
def sleeper():
    """A real process with a chosen environment (an RE Manager's, as psutil reads it); stopped by pid."""
    procs = []

    def start(env: dict[str, str]) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], env={"PATH": os.environ["PATH"], **env}
        )
        procs.append(proc)
        return proc.pid

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(5)


def listing(port: int, bind: str, **kw) -> Listener:
    return Listener(host="127.0.0.1", port=port, bind=bind, **kw)


def re_manager_cmd(control: str, info: str | None = None) -> list[str]:
    cmd = ["/venv/bin/python", "/venv/bin/start-re-manager", "--zmq-control-addr", control]
    return cmd + (["--zmq-info-addr", info] if info else [])


def probe_only(raw: bytes) -> bool:
    """What a probe may send a port a hint names as RE Manager's: nothing, a ZMTP greeting (the
    0MQ door's read-only ``status``), or, where the socket table shows another owner than the
    hint's (these fakes live in the test process), the HTTP door's ``GET /openapi.json`` without
    credentials. Never a command, never a key."""
    if raw == b"" or raw.startswith(b"\xff"):
        return True
    head = raw.decode("latin-1").lower()
    return head.startswith("get /openapi.json ") and "authorization" not in head and "cookie" not in head


def only(findings: list[Finding], port: int) -> list[Finding]:
    """The findings about one fake (the real machine's own apps may add others)."""
    return [f for f in findings if f.port == port]


# ----------------------------------------------------------------------------- the whole audit
def test_audit_finds_every_exposure_and_sends_nothing_but_probes_and_read_only_requests(sleeper):
    igv, marionette = fake_igv({}), fake_marionette()
    http = fake_httpserver(anonymous_scopes=["read:status"])
    zmq_control, zmq_info = (
        FakeServer(lambda c, s: c.wait_closed(5)),
        FakeServer(lambda c, s: c.wait_closed(5)),
    )
    manager_pid = sleeper({})
    cmd = re_manager_cmd(f"tcp://*:{zmq_control.port}", f"tcp://*:{zmq_info.port}")
    disc = Discovery(
        [
            listing(igv.port, "::", pid=os.getpid(), cmdline=["java", "org.broad.igv.ui.Main"]),
            listing(
                marionette.port, "0.0.0.0", pid=os.getpid(), process="firefox-esr",
                cmdline=["firefox-esr", "--marionette", "-remote-allow-system-access"],
            ),
            listing(http.port, "127.0.0.1", pid=os.getpid(), cmdline=["python", "start-bluesky-httpserver"]),
            listing(zmq_control.port, "0.0.0.0", pid=manager_pid, process="start-re-manage", cmdline=cmd),
            listing(zmq_info.port, "0.0.0.0", pid=manager_pid, process="start-re-manage", cmdline=cmd),
        ]
    )  # fmt: skip
    try:
        findings = audit(discovery=disc, timeout=2.0)
    finally:
        for server in (igv, marionette, http, zmq_control, zmq_info):
            server.close()

    igv_f = only(findings, igv.port)
    assert [f.severity for f in igv_f] == ["warning"]
    assert "bound to all interfaces (::)" in igv_f[0].evidence and "firewall" in igv_f[0].fix

    ff = {f.severity: f for f in only(findings, marionette.port)}
    assert set(ff) == {"critical", "warning"}  # exposed Marionette; the chrome context allowed
    assert "0.0.0.0" in ff["critical"].evidence and "-remote-allow-system-access" in ff["warning"].evidence

    web = {f.severity: f for f in only(findings, http.port)}
    assert set(web) == {"warning", "info"}  # anonymous (read-only) access; one shared key, no provider
    assert "read:status" in web["warning"].evidence and "provider" in web["info"].finding

    control = only(findings, zmq_control.port)
    assert [f.severity for f in control] == ["critical"] and control[0].pid == manager_pid
    assert control[0].app == "qserver"  # the queue server's own manager, though tether does not drive it
    assert f"tcp://*:{zmq_control.port}" in control[0].evidence
    info = only(findings, zmq_info.port)
    assert [f.severity for f in info] == ["warning"] and "unencrypted" in info[0].finding

    # What each app received: IGV its probe lines, Marionette nothing at all (the greeting is read,
    # no session opened), the HTTP server two GETs without credentials, 0MQ not even a connection.
    igv_lines = {line.split(" ")[0] for raw in igv.received for line in raw.decode().splitlines()}
    assert igv_lines <= {"echo", "version"} and "echo" in igv_lines
    assert marionette.connections >= 1 and all(raw == b"" for raw in marionette.received)
    reqs = requests_of(http)
    assert reqs and all(r.startswith(("GET /openapi.json ", "GET /api/auth/scopes ")) for r in reqs), reqs
    assert not any("authorization" in r or "cookie" in r for r in reqs)
    # the 0MQ control port gets the queue server's probe at most, and the info socket nothing at all
    assert all(probe_only(raw) for raw in zmq_control.received), zmq_control.received
    assert zmq_info.connections == 0

    ranks = [f.rank for f in findings]
    assert ranks == sorted(ranks, reverse=True)  # most severe first


def test_loopback_igv_and_loopback_re_manager_give_no_finding(sleeper):
    igv = fake_igv({})
    zmq = FakeServer(lambda c, s: c.wait_closed(5))
    pid = sleeper({})
    disc = Discovery(
        [
            listing(igv.port, "127.0.0.1", pid=os.getpid(), cmdline=["java", "org.broad.igv.ui.Main"]),
            listing(zmq.port, "127.0.0.1", pid=pid, cmdline=re_manager_cmd(f"tcp://127.0.0.1:{zmq.port}")),
        ]
    )
    with igv, zmq:
        findings = audit(discovery=disc)
    assert only(findings, igv.port) == [] and only(findings, zmq.port) == []
    assert all(probe_only(raw) for raw in zmq.received), zmq.received


def test_re_manager_with_a_curve_key_is_not_critical_and_the_key_is_never_shown(sleeper):
    secret = "rQ0z7k+Ls&x2s!GhA.R5NmlBeq8vW3[yJfKc8^!X"  # a z85 private key's shape
    zmq = FakeServer(lambda c, s: c.wait_closed(5))
    pid = sleeper({"QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER": secret})
    disc = Discovery([listing(zmq.port, "0.0.0.0", pid=pid, cmdline=re_manager_cmd(f"tcp://*:{zmq.port}"))])
    with zmq:
        findings = only(audit(discovery=disc), zmq.port)
    assert [f.severity for f in findings] == ["info"]
    assert "QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER is set" in findings[0].evidence
    assert secret not in json.dumps([f.to_dict() for f in findings])


def test_re_manager_on_the_default_address_is_critical(sleeper):
    """No --zmq-control-addr: the manager binds tcp://*:60615, its built-in default."""
    pid = sleeper({})
    ep = Endpoint(app=None, host="127.0.0.1", port=60615, bind="0.0.0.0", pid=pid,
                  cmdline=["python", "/venv/bin/start-re-manager", "--redis-addr", "x"])  # fmt: skip
    findings = qserver_audit(ep)
    assert [f.severity for f in findings] == ["critical"]
    assert "default control address tcp://*:60615" in findings[0].evidence


def test_re_manager_of_another_user_is_a_warning_not_a_guess(monkeypatch):
    import psutil

    import tether_qserver.audit as qa

    def denied(pid):
        raise psutil.AccessDenied(pid)

    monkeypatch.setattr(psutil, "Process", denied)  # what psutil does for another user's process
    ep = Endpoint(app=None, host="127.0.0.1", port=60615, bind="0.0.0.0", pid=1,
                  cmdline=["python", "/usr/bin/start-re-manager"])  # fmt: skip
    assert qa._environ(1) is None
    findings = qserver_audit(ep)
    assert [f.severity for f in findings] == ["warning"] and "cannot tell" in findings[0].finding


def test_http_server_with_a_provider_and_no_anonymous_access_gives_no_finding():
    http = fake_httpserver(providers=["toy"])
    ep = Endpoint(
        app="qserver", host="127.0.0.1", port=http.port, bind="127.0.0.1", confidence=Confidence.VERIFIED
    )
    with http:
        assert qserver_audit(ep) == []
    assert len(requests_of(http)) == 2


def test_http_server_granting_anonymous_write_scopes_is_critical():
    http = fake_httpserver(anonymous_scopes=["read:status", "write:queue:edit"], providers=["toy"])
    ep = Endpoint(
        app="qserver", host="127.0.0.1", port=http.port, bind="0.0.0.0", confidence=Confidence.VERIFIED
    )
    with http:
        findings = qserver_audit(ep)
    assert [f.severity for f in findings] == ["critical"]
    assert "write:queue:edit" in findings[0].evidence


def test_single_shared_key_is_a_warning_when_the_server_listens_beyond_loopback():
    http = fake_httpserver()
    ep = Endpoint(
        app="qserver", host="127.0.0.1", port=http.port, bind="0.0.0.0", confidence=Confidence.VERIFIED
    )
    with http:
        findings = qserver_audit(ep)
    assert [f.severity for f in findings] == ["warning"] and "all interfaces" in findings[0].evidence


# ----------------------------------------------------------------------------- Firefox, IGV
def test_firefox_on_the_well_known_port_is_reported_with_the_pref_it_came_from(tmp_path: Path):
    (tmp_path / "prefs.js").write_text('user_pref("marionette.port", 2829);\n')
    (tmp_path / "user.js").write_text(
        'user_pref("browser.startup.page", 0);\nuser_pref("marionette.port", 2828);\n'
    )
    ep = Endpoint(app="firefox", host="127.0.0.1", port=2828, bind="127.0.0.1",
                  cmdline=["firefox-esr", "--marionette", "--profile", str(tmp_path)])  # fmt: skip
    findings = firefox_audit(ep)
    assert [f.severity for f in findings] == ["info"]
    assert f"marionette.port = 2828 in {tmp_path / 'user.js'}" in findings[0].evidence


def test_firefox_as_tether_launches_it_gives_no_finding(tmp_path: Path):
    (tmp_path / "user.js").write_text('user_pref("marionette.port", 0);\n')
    ep = Endpoint(app="firefox", host="127.0.0.1", port=40123, bind="127.0.0.1",
                  cmdline=["firefox-esr", "--marionette", "--profile", str(tmp_path)])  # fmt: skip
    assert firefox_audit(ep) == []


def test_firefox_remote_agent_accepting_other_hosts_is_a_warning():
    ep = Endpoint(app="firefox", host="127.0.0.1", port=40123, bind="127.0.0.1",
                  cmdline=["firefox", "--marionette", "--remote-allow-hosts=example.org"])  # fmt: skip
    assert [f.severity for f in firefox_audit(ep)] == ["warning"]


def test_igv_answering_on_another_host_is_a_warning():
    ep = Endpoint(app="igv", host="192.0.2.7", port=60151, confidence=Confidence.VERIFIED)
    findings = igv_audit(ep)
    assert [f.severity for f in findings] == ["warning"] and "192.0.2.7:60151" in findings[0].evidence


def test_adapters_ignore_endpoints_that_are_not_theirs():
    ep = Endpoint(app="igv", host="127.0.0.1", port=60151, bind="0.0.0.0")
    assert firefox_audit(ep) == [] and qserver_audit(ep) == []
    assert igv_audit(Endpoint(app="firefox", host="127.0.0.1", port=2828, bind="0.0.0.0")) == []


# ----------------------------------------------------------------------------- the core
class Exposed(Adapter):
    name, title, default_ports = "exposed", "Exposed", ()
    exposure_severity = "critical"

    def hints(self, listener):
        return Hint("test", "process") if listener.process == "exposed-app" else None

    def probe(self, host, port, timeout):
        return ProbeResult(Verdict.VERIFIED)


class Broken(Exposed):
    name, exposure_severity, default_ports = "broken", None, ()

    def hints(self, listener):
        return Hint("test", "process") if listener.process == "broken-app" else None

    def audit(self, endpoint):
        if endpoint.app == self.name:
            raise RuntimeError("bug in the check")
        return []


@pytest.fixture
def adapters(monkeypatch):
    from tether import registry

    mine = {"exposed": Exposed(), "broken": Broken()}
    monkeypatch.setattr(registry, "usable", lambda: tuple(mine.values()))
    monkeypatch.setattr(registry, "get", lambda name: mine[name])
    return mine


def test_core_reports_a_non_loopback_bind_with_the_adapters_severity_and_fix(adapters):
    disc = Discovery(
        [
            listing(40001, "10.1.2.3", pid=os.getpid(), process="exposed-app"),
            listing(40002, "127.0.0.1", pid=os.getpid(), process="exposed-app"),
        ]
    )
    findings = audit(discovery=disc)
    assert [(f.port, f.severity) for f in findings] == [(40001, "critical")]
    assert "the address 10.1.2.3" in findings[0].evidence and "40001" in findings[0].fix


def test_a_failing_adapter_check_is_reported_not_swallowed(adapters):
    disc = Discovery([listing(40003, "127.0.0.1", pid=os.getpid(), process="broken-app")])
    findings = audit(discovery=disc)
    assert [(f.app, f.severity) for f in findings] == [("broken", "info")]
    assert "RuntimeError: bug in the check" in findings[0].evidence


def test_listeners_whose_owner_tether_cannot_see_are_reported_not_guessed(adapters):
    disc = Discovery([listing(40004, "0.0.0.0", pid=None, note="owner unknown")])
    findings = audit(discovery=disc)
    assert [(f.app, f.pid, f.severity) for f in findings] == [(None, None, "info")]
    assert "without an owner" in findings[0].evidence


def test_exposed_to_names_who_can_reach_a_bind():
    assert exposed_to("0.0.0.0") == "all interfaces (0.0.0.0)" and exposed_to("::").startswith(
        "all interfaces"
    )
    assert (
        exposed_to("127.0.0.1") is None
        and exposed_to("::1") is None
        and exposed_to("::ffff:127.0.0.1") is None
    )
    assert exposed_to("192.168.1.5") == "the address 192.168.1.5"


def test_finding_json_has_exactly_the_documented_keys_and_a_known_severity():
    f = Finding("igv", "127.0.0.1", 60151, 12, "warning", "x", "y", "z")
    assert set(f.to_dict()) == KEYS and f.at_least("info") and not f.at_least("critical")
    with pytest.raises(ValueError):
        Finding("igv", "127.0.0.1", 60151, 12, "severe", "x", "y", "z")
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2]


# ----------------------------------------------------------------------------- the CLI
def _fixed(monkeypatch, findings):
    import tether.audit

    monkeypatch.setattr(tether.audit, "audit", lambda hosts=None, **kw: list(findings))


WARN = Finding(
    "igv", "127.0.0.1", 60151, 7, "warning", "IGV [bold]exposed[/bold]", "bound to ::", "firewall [/]"
)
CRIT = Finding(
    None, "127.0.0.1", 60615, 8, "critical", "RE Manager exposed", "tcp://*:60615", "bind loopback"
)


@pytest.mark.parametrize(
    ("findings", "fail_on", "code"),
    [
        ([WARN], None, 0),  # default --fail-on critical
        ([WARN, CRIT], None, 7),
        ([WARN], "warning", 7),
        ([WARN], "info", 7),
        ([], "info", 0),
    ],
)
def test_exit_status_is_7_when_a_finding_reaches_fail_on(monkeypatch, capsys, findings, fail_on, code):
    _fixed(monkeypatch, findings)
    args = ["audit", "--json"] + (["--fail-on", fail_on] if fail_on else [])
    assert run(args) == code
    data = json.loads(capsys.readouterr().out)
    assert len(data) == len(findings) and all(set(d) == KEYS for d in data)


def test_bad_fail_on_is_refused_with_exit_2_before_any_scan(monkeypatch, capsys):
    called = []
    import tether.audit

    monkeypatch.setattr(tether.audit, "audit", lambda *a, **k: called.append(1) or [])
    assert run(["audit", "--fail-on", "severe"]) == 2
    assert not called and "--fail-on must be one of info, warning, critical" in capsys.readouterr().err


def test_table_prints_app_text_as_text_never_as_markup(monkeypatch, capsys):
    _fixed(monkeypatch, [WARN])
    assert run(["audit"]) == 0
    out = capsys.readouterr().out
    assert "IGV [bold]exposed[/bold]" in out and "firewall [/]" in out and "SEVERITY" in out


def test_help_documents_the_exit_status(capsys):
    assert run(["audit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--fail-on" in out and "7" in out


def test_audit_of_this_machine_finishes_quickly():
    started = time.monotonic()
    findings = audit(timeout=0.5)
    assert time.monotonic() - started < 15
    assert all(isinstance(f, Finding) for f in findings)


def test_another_host_is_audited_by_probing_its_default_ports_and_an_answer_is_exposure(
    adapters, monkeypatch
):
    monkeypatch.setattr(Exposed, "default_ports", (40005,))
    findings = audit(["192.0.2.9"])  # the Exposed adapter's probe answers without a socket
    assert [(f.app, f.host, f.port, f.severity) for f in findings] == [
        ("exposed", "192.0.2.9", 40005, "critical")
    ]
    assert "answered Exposed's probe at 192.0.2.9:40005 from this machine" in findings[0].evidence


def test_a_silent_http_server_cannot_stretch_the_audit_and_is_reported(monkeypatch):
    import tether_qserver.audit as qa

    monkeypatch.setattr(qa, "HTTP_BUDGET", 0.5)
    silent = FakeServer(lambda c, s: c.wait_closed(5))
    ep = Endpoint(
        app="qserver", host="127.0.0.1", port=silent.port, bind="127.0.0.1", confidence=Confidence.VERIFIED
    )
    started = time.monotonic()
    with silent:
        findings = qserver_audit(ep)
    assert time.monotonic() - started < 1.5
    assert [f.severity for f in findings] == ["info"] and "could not read" in findings[0].finding
