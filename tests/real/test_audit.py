"""`tether audit` against the real apps: IGV (as Debian's build binds it, and held to loopback),
RE Managers with their 0MQ control socket on every interface, on loopback and encrypted, HTTP
servers with anonymous access and with only a provider, and Firefox as `tether firefox launch`
starts it, with and without the chrome context.

Every extra app started here is stopped by pid (its process group) in a finalizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import psutil
import pytest

from tether.cli import run

from . import apps
from .conftest import _unavailable

pytestmark = pytest.mark.real


# ----------------------------------------------------------------------------- helpers
def bind_of(port: int) -> str | None:
    """The address the socket table shows ``port`` listening on (what `ss -tlnp` prints)."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr[1] == port:
            return conn.laddr[0]
    return None


def wait_listening(port: int, proc: apps.Proc, timeout: float = 60) -> str:
    """Wait until ``port`` listens, watching the socket table only (nothing is sent to it)."""
    return apps.wait_for(f"port {port} to listen", lambda: bind_of(port), timeout, proc, 0.2)


def audit_json(capsys, *args: str) -> tuple[int, list[dict]]:
    """`tether audit --json ARGS`: its exit status and its findings."""
    capsys.readouterr()
    code = run(["audit", "--json", "--timeout", "2", *args])
    assert code in (0, 7), capsys.readouterr()  # findings or none; never an error
    return code, json.loads(capsys.readouterr().out)


def about(findings: list[dict], port: int) -> list[dict]:
    return [f for f in findings if f["port"] == port]


# ----------------------------------------------------------------------------- IGV
# IGV has no bind-address setting (CommandListener: `new ServerSocket(port)`, every interface).
# The only way to a real IGV bound to loopback is to rewrite its bind() call: this shim, preloaded,
# turns a wildcard bind of the one port named in $TETHER_LOOPBACK_PORT into a loopback bind.
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    const char *want = getenv("TETHER_LOOPBACK_PORT");
    int port = want ? atoi(want) : -1;
    if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (ntohs(a.sin6_port) == port && IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
            memset(&a.sin6_addr, 0, sizeof a.sin6_addr);  /* ::ffff:127.0.0.1, reachable as 127.0.0.1 */
            a.sin6_addr.s6_addr[10] = 0xff; a.sin6_addr.s6_addr[11] = 0xff;
            a.sin6_addr.s6_addr[12] = 127; a.sin6_addr.s6_addr[15] = 1;
            return real(fd, (struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (ntohs(a.sin_port) == port && a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real(fd, (struct sockaddr *)&a, sizeof a);
        }
    }
    return real(fd, addr, len);
}
"""


def test_igv_as_debian_builds_it_gets_a_warning_naming_its_bind(igv_app, capsys):
    bind = bind_of(igv_app.port)
    assert bind in ("::", "0.0.0.0"), f"IGV's batch port is bound to {bind!r}: not every interface?"
    _, findings = audit_json(capsys)
    mine = about(findings, igv_app.port)
    assert [(f["app"], f["severity"], f["pid"]) for f in mine] == [("igv", "warning", igv_app.pid)]
    assert f"bound to all interfaces ({bind})" in mine[0]["evidence"]
    assert "firewall" in mine[0]["fix"] and "PORT_ENABLED=FALSE" in mine[0]["fix"]
    assert apps.line_query(igv_app.port, "echo") == "echo"  # still answering: the audit changed nothing


@pytest.fixture(scope="module")
def loopback_igv(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        _unavailable("a C compiler (for the loopback-bind shim)", RuntimeError("cc not found (Debian gcc)"))
    work = tmp_path_factory.mktemp("igv-loopback")
    (work / "shim.c").write_text(SHIM)
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", str(work / "shim.so"), str(work / "shim.c"), "-ldl"], check=True
    )
    port = apps.free_port()
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "TETHER_LOOPBACK_PORT")}
    os.environ.update(LD_PRELOAD=str(work / "shim.so"), TETHER_LOOPBACK_PORT=str(port))
    try:
        app = apps.start_igv(work, port=port)
    except (apps.AppMissing, apps.AppFailed) as exc:
        _unavailable("IGV", exc)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield app
    finally:
        app.stop()


def test_igv_bound_to_loopback_gets_no_finding(loopback_igv, capsys):
    bind = bind_of(loopback_igv.port)
    assert bind in ("127.0.0.1", "::ffff:127.0.0.1", "::1"), bind
    _, findings = audit_json(capsys)
    assert about(findings, loopback_igv.port) == []
    capsys.readouterr()
    assert run(["scan", "--json"]) == 0  # and the scan does find it: the audit saw it and found nothing
    assert any(
        e["port"] == loopback_igv.port and e["app"] == "igv" for e in json.loads(capsys.readouterr().out)
    )


# ----------------------------------------------------------------------------- RE Manager (0MQ)
def zmq_keys() -> tuple[str, str]:
    out = subprocess.run(
        [apps.venv_bin("qserver-zmq-keys")], capture_output=True, text=True, check=True
    ).stdout
    private = re.search(r"Private key \(RE Manager\):\s+(\S{40})", out).group(1)
    public = re.search(r"Public key \(CLI client or HTTP server\):\s+(\S{40})", out).group(1)
    return private, public


@pytest.fixture(scope="module")
def re_managers(qserver_app, tmp_path_factory):
    """Three RE Managers on the queue server's redis: control on tcp://* (no key), on
    tcp://127.0.0.1, and on tcp://* with a CURVE key. Each one's info socket stays on loopback."""
    work = tmp_path_factory.mktemp("re-managers")
    private, _ = zmq_keys()
    ports = apps.free_ports(6)
    specs = {
        "open": (f"tcp://*:{ports[0]}", ports[1], {}),
        "loopback": (f"tcp://127.0.0.1:{ports[2]}", ports[3], {}),
        "encrypted": (f"tcp://*:{ports[4]}", ports[5], {"QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER": private}),
    }
    started: dict[str, tuple[apps.Proc, int]] = {}
    try:
        for name, (control, info, env) in specs.items():
            argv = [
                apps.venv_bin("start-re-manager"),
                "--redis-addr", f"127.0.0.1:{qserver_app.redis_port}",
                "--redis-name-prefix", f"tether_audit_{name}_{os.getpid()}",
                "--zmq-control-addr", control,
                "--zmq-info-addr", f"tcp://127.0.0.1:{info}",
            ]  # fmt: skip
            proc = apps.spawn(f"RE Manager ({name})", argv, work / f"{name}.log", env=env, cwd=work)
            started[name] = (proc, int(control.rsplit(":", 1)[1]))
        for proc, port in started.values():
            wait_listening(port, proc)
        yield {name: (proc, port, private) for name, (proc, port) in started.items()}
    finally:
        for proc, _ in started.values():
            proc.stop(grace=10)


def test_re_manager_control_socket_on_every_interface_without_a_key_is_critical(re_managers, capsys):
    proc, port, _ = re_managers["open"]
    assert bind_of(port) == "0.0.0.0"
    code, findings = audit_json(capsys)
    mine = about(findings, port)
    assert [f["severity"] for f in mine] == ["critical"]
    assert f"tcp://*:{port}" in mine[0]["evidence"] and "0.0.0.0" in mine[0]["evidence"]
    assert code == 7  # the default --fail-on critical
    assert mine[0]["pid"] in [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children())]


def test_re_manager_on_loopback_gives_no_finding(re_managers, capsys):
    _, port, _ = re_managers["loopback"]
    assert bind_of(port) == "127.0.0.1"
    _, findings = audit_json(capsys)
    assert about(findings, port) == []


def test_re_manager_with_encryption_is_not_critical_and_its_key_is_never_printed(re_managers, capsys):
    _, port, private = re_managers["encrypted"]
    assert bind_of(port) == "0.0.0.0"
    _, findings = audit_json(capsys, "--fail-on", "info")
    mine = about(findings, port)
    assert [f["severity"] for f in mine] == ["info"]
    assert "QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER is set" in mine[0]["evidence"]
    assert private not in json.dumps(findings)
    capsys.readouterr()
    run(["audit"])
    out = capsys.readouterr()
    assert private not in out.out + out.err


# ----------------------------------------------------------------------------- the HTTP server
ANONYMOUS = "authentication:\n  allow_anonymous_access: True\n"
PROVIDER_ONLY = """\
authentication:
  allow_anonymous_access: False
  providers:
    - provider: toy
      authenticator: bluesky_httpserver.authenticators:DictionaryAuthenticator
      args:
        users_to_passwords:
          alice: alice_password
"""


def _openapi_ok(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2) as resp:
        return resp.status == 200


@pytest.fixture(scope="module")
def http_servers(qserver_app, tmp_path_factory):
    """Two more HTTP servers in front of the queue server's RE Manager: anonymous access on,
    and a provider only (no anonymous access)."""
    work = tmp_path_factory.mktemp("httpservers")
    started = {}
    try:
        for name, config in (("anonymous", ANONYMOUS), ("provider", PROVIDER_ONLY)):
            d = work / name
            d.mkdir()
            (d / "config.yml").write_text(config)
            port = apps.free_port()
            proc = apps.spawn(
                f"HTTP server ({name})",
                [apps.venv_bin("start-bluesky-httpserver"), "--host", "127.0.0.1", "--port", str(port),
                 "--config_path", str(d / "config.yml")],
                d / "httpserver.log",
                env={"QSERVER_ZMQ_CONTROL_ADDRESS": qserver_app.zmq_control,
                     "QSERVER_ZMQ_INFO_ADDRESS": qserver_app.zmq_info},
                cwd=d,
            )  # fmt: skip
            started[name] = (proc, port)
        for proc, port in started.values():
            apps.wait_for(f"HTTP server on {port}", lambda port=port: _openapi_ok(port), 60, proc, 0.25)
        yield {name: port for name, (_, port) in started.items()}
    finally:
        for proc, _ in started.values():
            proc.stop(grace=10)


def test_http_server_with_anonymous_access_gets_a_finding(http_servers, capsys):
    _, findings = audit_json(capsys)
    mine = about(findings, http_servers["anonymous"])
    anonymous = [f for f in mine if "anonymous" in f["finding"]]
    assert [f["severity"] for f in anonymous] == ["warning"]
    assert "read:status" in anonymous[0]["evidence"] and "unauthenticated_public" in anonymous[0]["evidence"]


def test_http_server_with_only_a_provider_gets_none(http_servers, capsys):
    _, findings = audit_json(capsys)
    assert about(findings, http_servers["provider"]) == []


def test_http_server_on_a_single_shared_key_is_reported(qserver_app, capsys):
    _, findings = audit_json(capsys)
    mine = about(findings, qserver_app.port)
    assert [f["severity"] for f in mine] == ["info"] and "single-user API key" in mine[0]["finding"]
    assert qserver_app.api_key not in json.dumps(findings)


# ----------------------------------------------------------------------------- Firefox
def _stop_firefox(pid: int) -> None:
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=5)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)


@pytest.fixture
def launched_firefox(tmp_path, monkeypatch):
    """`tether firefox launch`'s library function, with its records kept under tmp_path."""
    from tether_firefox.launch import launch

    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    started = []

    def start(**kw):
        try:
            rec = launch(headless=True, **kw)
        except Exception as exc:
            _unavailable("Firefox", exc)
        started.append(rec)
        return rec

    yield start
    for rec in started:
        _stop_firefox(rec.pid)
        if rec.temp_profile:
            shutil.rmtree(rec.profile, ignore_errors=True)


def test_firefox_as_tether_launches_it_gets_no_finding(launched_firefox, capsys):
    rec = launched_firefox()
    assert bind_of(rec.port) == "127.0.0.1"
    _, findings = audit_json(capsys)
    assert about(findings, rec.port) == []
    capsys.readouterr()
    assert run(["scan", "--json"]) == 0
    assert any(e["port"] == rec.port and e["app"] == "firefox" for e in json.loads(capsys.readouterr().out))


def test_firefox_with_the_chrome_context_allowed_gets_a_warning(launched_firefox, capsys):
    rec = launched_firefox(system_access=True)
    started = time.monotonic()
    _, findings = audit_json(capsys)
    elapsed = time.monotonic() - started
    mine = about(findings, rec.port)
    assert [(f["app"], f["severity"], f["pid"]) for f in mine] == [("firefox", "warning", rec.pid)]
    assert "-remote-allow-system-access" in mine[0]["evidence"]
    assert elapsed < 20
    assert apps.marionette_greeting(rec.port) is not None  # no session left open: Firefox is free
