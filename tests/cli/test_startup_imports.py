"""What each command path imports: the start-up of a one-shot command is what shell loops pay.

Each command runs in a fresh interpreter (``-X importtime``) against a fake app on a free port,
and must succeed; the test names what that path must not import. Never a timed assertion:
the modules are what keeps the time (benchmarks/cli.py measures it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tether.testing import FakeHTTP, FakeServer
from tether_firefox.testing import marionette_handler
from tether_igv.testing import fake_igv

#: never on a one-shot command's path: the entry-point machinery (tether reads entry_points.txt
#: itself), the thread pool of scans, and the heavy client libraries
NEVER = {"importlib.metadata", "requests", "urllib3", "selenium", "websocket"}
#: the standard library's HTTP client and TLS: the queue server's probe does without them
HTTP = {"http.client", "ssl", "_ssl"}


def _imports(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules ``tether ARGS`` imports (full dotted names); the command must exit 0."""
    code = f"import sys; from tether.cli import run; sys.exit(run({args!r}))"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _roots(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def _other_clis(mods: set[str], own: str) -> set[str]:
    return {m for m in mods if m.endswith(".cli") and m.startswith("tether_") and m != f"tether_{own}.cli"}


def test_help_imports_neither_discovery_nor_any_adapter_cli():
    mods = _imports(["--help"])
    assert "typer" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    # the root help needs the adapters' names, not the scan machinery nor their commands
    for mod in ("tether.api", "tether.identify", "psutil", "concurrent.futures"):
        assert mod not in mods, mod
    assert not {m for m in mods if m.startswith("tether_") and m.endswith(".cli")}


def test_import_tether_loads_no_scan_machinery():
    code = "import json, sys, tether; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    mods = set(json.loads(out))
    assert "tether" in mods and "tether.errors" in mods
    for mod in ("tether.api", "tether.identify", "tether.registry", "socket", "concurrent.futures"):
        assert mod not in mods, mod
    assert callable(__import__("tether").scan)  # and the API is still there, at first use


def test_igv_goto_with_a_port_imports_only_igvs_path():
    with fake_igv({}) as igv:
        mods = _imports(["igv", "goto", "chr1:100-200", "--port", str(igv.port)])
        assert any(b"goto chr1:100-200" in r for r in igv.received)  # it did go there
    assert "tether_igv.cli" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP  # the queue server's adapter is loaded, not http.client
    assert not _other_clis(mods, "igv")
    assert "concurrent.futures" not in mods  # one probe: no thread pool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG directories are Linux's")
def test_igv_goto_imports_neither_platformdirs_nor_logging_nor_the_idna_codec():
    """The config file and the state dir are found without platformdirs, the queue server's
    adapter (loaded for its hints) does not import logging, and a numeric host is connected to
    without a name lookup (which imports the idna codec)."""
    with fake_igv({}) as igv:
        mods = _imports(["igv", "goto", "chr1:100-200", "--port", str(igv.port)])
        assert any(b"goto chr1:100-200" in r for r in igv.received)
    for mod in ("platformdirs", "logging", "encodings.idna", "tempfile"):
        assert mod not in mods, mod


def test_firefox_title_with_a_port_imports_only_firefoxs_path():
    replies = {
        "WebDriver:NewSession": lambda p: {"sessionId": "s1", "capabilities": {"browserName": "firefox"}},
        "WebDriver:GetTitle": lambda p: {"value": "A page"},
        "WebDriver:DeleteSession": lambda p: {"value": None},
    }
    with FakeServer(lambda conn, _server: marionette_handler(replies)(conn)) as ff:
        mods = _imports(["firefox", "title", "--port", str(ff.port)])
    assert "tether_firefox.cli" in mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    assert not _other_clis(mods, "firefox")
    assert "concurrent.futures" not in mods


def test_qserver_status_with_a_port_imports_only_the_queue_servers_path():
    with FakeHTTP() as http:
        http.routes[("GET", "/openapi.json")] = lambda body: (
            200,
            {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}},
        )
        http.routes[("GET", "/api/status")] = lambda body: (200, {"manager_state": "idle"})
        port = http.url.rsplit(":", 1)[1]
        key = {"QSERVER_HTTP_SERVER_API_KEY": "k1"}
        mods = _imports(["qserver", "status", "--port", port, "--json"], key)
        assert any(path == "/api/status" for _, path, _, _ in http.requests)
    assert "tether_qserver.cli" in mods
    # requests is the client's own (and urllib3 imports importlib.metadata: the floor pays it too)
    assert not mods & {"selenium", "websocket"}
    assert not _other_clis(mods, "qserver")


def test_scan_imports_no_adapter_cli_and_no_http_client(listener):
    mods = _imports(["scan", "--json"])
    assert {"tether.api", "tether.identify", "tether.discovery"} <= mods
    assert not mods & NEVER, mods & NEVER
    assert not mods & HTTP, mods & HTTP
    assert not {m for m in mods if m.startswith("tether_") and m.endswith(".cli")}
    assert "tether_igv.client" not in mods and "tether_firefox.client" not in mods
    # the listing reads /proc itself, the config file is found without platformdirs, and getpass
    # (termios) is macOS's listing's only
    linux_only = ("psutil", "platformdirs") if sys.platform.startswith("linux") else ()
    for mod in (*linux_only, "getpass", "termios", "logging", "encodings.idna"):
        assert mod not in mods, mod


def test_the_scan_a_fleet_asks_each_host_for_needs_no_cli_framework(listener):
    """``tether scan --json --timeout T --app A …`` is what a fleet scan runs on every host over
    ssh: it takes a short path without typer, click or rich; anything else keeps typer's."""
    words = ["scan", "--json", "--timeout", "0.5", "--app", "igv", "-a", "firefox"]
    mods = _imports(words)
    assert not mods & {"typer", "click", "rich"}, mods & {"typer", "click", "rich"}
    assert "typer" in _imports([*words, "--parallel", "2"])  # an option of the fleet's own: typer


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--json"],
        ["scan", "--json", "--all", "--no-probe", "--timeout=0.5"],
        ["scan", "--json", "--deep", "-t", "0.5", "--app=igv"],
        ["scan", "--json", "--app", "nosuch"],  # an unknown app: exit 2, the same error object
        ["scan", "--json", "--timeout", "soon"],  # not a number: typer's usage error
        ["scan", "--json", "--app"],  # no value: typer's usage error
        ["scan", "-t=1", "--json"],
    ],
)
def test_the_short_scan_prints_and_exits_as_typer_does(args, listener):
    def tether(argv):
        code = f"import sys; from tether.cli import run; sys.exit(run({argv!r}))"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def rows(out: str) -> list[dict]:  # this test's listener, and the apps (other tests' come and go)
        return [r for r in json.loads(out) if r.get("app") or r.get("port") == listener.port]

    short = tether(args)
    long = tether([*args, "--parallel", "8"])  # a fleet option: the whole typer command, no host
    assert short[0] == long[0]
    assert short[1] == long[1] if short[0] != 0 else rows(short[1]) == rows(long[1])


def test_a_scan_verifies_a_0mq_manager_without_pyzmq_psutil_or_platformdirs():
    """RE Manager's control socket is asked for its status in plain ZMTP (pyzmq's import and
    context are most of a scan's time), its owner and environment are read from /proc."""
    import threading

    import zmq

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if router.poll(50):
                ident, empty, _ = router.recv_multipart()
                status = {"msg": "RE Manager v0.0.25", "manager_state": "idle"}
                router.send_multipart([ident, empty, json.dumps(status).encode()])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        code = "import json, sys, tether; print(json.dumps([e.to_dict() for e in tether.scan(['qserver'])]))"
        code += "; print(json.dumps(sorted(sys.modules)))"
        env = {**os.environ, "QSERVER_ZMQ_CONTROL_ADDRESS": f"tcp://127.0.0.1:{port}"}
        env.pop("QSERVER_ZMQ_PUBLIC_KEY", None)
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
    finally:
        stop.set()
        thread.join(2)
        router.close(linger=0)
        ctx.term()
    assert proc.returncode == 0, proc.stderr[-2000:]
    found, mods = (json.loads(line) for line in proc.stdout.splitlines()[-2:])
    assert any(
        e["port"] == port and e["confidence"] == "verified" and e["version"] == "0.0.25" for e in found
    )
    for mod in ("zmq", "psutil", "platformdirs", "concurrent.futures", "logging"):
        assert mod not in mods, mod


@pytest.fixture
def no_full_listing(monkeypatch):
    """Fail the test if the whole socket table of the machine is listed."""
    import psutil

    def refuse(*args, **kwargs):
        raise AssertionError("an explicit --port listed every socket of the machine")

    monkeypatch.setattr(psutil, "net_connections", refuse)
    monkeypatch.setattr("tether.discovery._snapshot", None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_an_explicit_port_names_its_owner_without_listing_every_socket(no_full_listing, capsys):
    from tether.cli import run

    with fake_igv({}) as igv:
        assert run(["igv", "status", "--port", str(igv.port), "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert any(r.startswith(b"echo") for r in igv.received)  # probed first, always
    assert shown["port"] == igv.port and shown["pid"] == os.getpid()  # this process holds the fake


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_port_owner_agrees_with_the_full_listing(listener):
    from tether import discovery

    listed = [li for li in discovery.list_listeners().listeners if li.port == listener.port]
    owner = discovery.port_owner(listener.port)
    assert listed and owner is not None
    assert (owner.pid, owner.bind, owner.process) == (listed[0].pid, listed[0].bind, listed[0].process)
    assert owner.cmdline == listed[0].cmdline


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_port_owner_is_none_where_nothing_listens():
    import socket

    from tether import discovery

    with socket.socket() as s:  # a port that was free a moment ago, bound but not listening
        s.bind(("127.0.0.1", 0))
        assert discovery.port_owner(s.getsockname()[1]) is None


def _tree(app) -> list:
    from tether.cli.app import _command_name

    return [_command_name(c) for c in app.registered_commands] + [
        (g.name, _tree(g.typer_instance)) for g in app.registered_groups
    ]


@pytest.mark.parametrize(
    "args,tree",
    [
        (["igv", "goto", "chr1:1-100", "--port", "5"], [("igv", ["goto"])]),
        (["qserver", "env", "open", "--wait"], [("qserver", [("env", ["open"])])]),
        (["scan", "--json"], ["scan"]),
    ],
)
def test_only_the_invoked_command_is_built(args, tree):
    from tether.cli.app import build_app, narrowed

    assert _tree(narrowed(build_app(args), args)) == tree


def test_help_and_typos_keep_every_command(capsys):
    from tether.cli import run
    from tether.cli.app import build_app, narrowed

    whole = build_app(["igv", "--help"])
    igv = next(g.typer_instance for g in whole.registered_groups if g.name == "igv")
    (kept,) = narrowed(whole, ["igv", "--help"]).registered_groups
    assert kept.typer_instance is igv  # every igv command kept
    assert run(["igv", "gotoo", "chr1:1-100"]) == 2
    assert "Did you mean 'goto'" in capsys.readouterr().err
    assert run(["igv", "--help"]) == 0
    out = capsys.readouterr().out
    assert "goto" in out and "snapshot" in out and "load" in out


def _gotos(port: int, replies: dict) -> list[bytes]:
    from tether.cli import run

    with fake_igv(replies) as igv:
        assert run(["igv", "goto", "chr1:1-100", "--port", str(port or igv.port)]) == 0
        igv.settle(2)
        return igv.received


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_an_igv_without_current_genome_path_is_not_asked_again_by_the_next_command(capsys):
    old = {"currentGenomePath": b"UNKOWN COMMAND\n"}
    first = b"".join(_gotos(0, old))
    second = b"".join(_gotos(0, old))  # another fake, same process (pid and start time): known
    assert b"currentGenomePath" in first and b"goto chr1:1-100" in first
    assert b"currentGenomePath" not in second and b"goto chr1:1-100" in second


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
def test_a_process_that_changed_is_asked_again(capsys):
    from tether import launched
    from tether_igv import client

    old = {"currentGenomePath": b"UNKOWN COMMAND\n"}
    _gotos(0, old)
    path = launched.state_dir() / "igv" / client._NO_GENOME_QUERY
    pid, start = path.read_text().split()
    path.write_text(f"{pid} {int(start) + 1}\n")  # the same pid, started at another time
    assert b"currentGenomePath" in b"".join(_gotos(0, old))
    # and an IGV that answers it is asked every time (its genome can change)
    path.unlink()
    new = {"currentGenomePath": b"/data/genome.fa\n"}
    assert b"currentGenomePath" in b"".join(_gotos(0, new))
    assert b"currentGenomePath" in b"".join(_gotos(0, new))


def test_a_one_shot_igv_command_goes_on_the_connection_its_probe_proved(capsys):
    from tether.cli import run

    old = {"currentGenomePath": b"UNKOWN COMMAND\n"}
    _gotos(0, old)  # learn that this "IGV process" lacks currentGenomePath
    with fake_igv(old) as igv:
        assert run(["igv", "goto", "chr1:1-100", "--port", str(igv.port)]) == 0
        assert igv.settle(2)
    # one connection: the probe's echo first (nothing is sent to an unproved port), then the command
    assert igv.received == [b"echo\nversion\ngoto chr1:1-100\n"]  # the fake runs no IGV install
    assert igv.client_closed == [True]


def test_a_probe_outside_a_command_closes_its_connection():
    from tether_igv.probe import keep_probe_connection, probe_igv

    with fake_igv({}) as igv:
        assert probe_igv("127.0.0.1", igv.port, 1.0).verdict == "verified"
        with keep_probe_connection() as kept:
            assert probe_igv("127.0.0.1", igv.port, 1.0).verdict == "verified"
            assert list(kept) == [("127.0.0.1", igv.port)]
        assert not kept  # what nobody took is closed when the block ends
        assert igv.settle(2) and igv.client_closed == [True, True]


def test_the_queue_servers_probe_reads_chunked_and_sized_bodies():
    from tether_qserver.probe import probe_openapi

    body = json.dumps({"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    for head, payload in (
        (b"Transfer-Encoding: chunked\r\n", chunked),
        (b"Content-Length: %d\r\n" % len(body), body),
        (b"", body),  # until the close
    ):

        def serve(conn, _server, head=head, payload=payload):
            conn.recv(4096, timeout=2)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head + b"\r\n" + payload)

        with FakeServer(serve) as srv:
            res = probe_openapi("127.0.0.1", srv.port, 1.0)
        assert res.verdict == "verified" and res.version == "0.0.14", (head, res)
    with FakeServer(lambda conn, _s: (conn.recv(4096, timeout=2), conn.sendall(b"SSH-2.0-x\r\n"))) as srv:
        assert probe_openapi("127.0.0.1", srv.port, 1.0).verdict == "not-me"


def test_a_one_shot_command_skips_the_version_query_when_the_install_names_it(monkeypatch, capsys):
    from tether.cli import run
    from tether_igv import probe

    asked = []
    monkeypatch.setattr(probe, "_installed_version", lambda port: asked.append(port) or "2.16.0")
    old = {"currentGenomePath": b"UNKOWN COMMAND\n"}
    _gotos(0, old)
    with fake_igv(old) as igv:
        assert run(["igv", "goto", "chr1:1-100", "--port", str(igv.port)]) == 0
        assert igv.settle(2)
    assert asked[-1] == igv.port
    assert igv.received == [b"echo\ngoto chr1:1-100\n"]  # proved by echo; the version from the install


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc socket tables are Linux's")
@pytest.mark.parametrize("guess", ["right", "wrong"])
def test_a_guess_at_the_owner_never_changes_the_answer(listener, guess, monkeypatch):
    from tether import discovery

    me = discovery.process_info(os.getpid())[1]
    prefer = (lambda cmd: cmd == me) if guess == "right" else (lambda cmd: False)
    monkeypatch.setattr(discovery, "_owners", {})
    monkeypatch.setattr(discovery, "_listening", None)
    owner = discovery.port_owner(listener.port, prefer=prefer)
    assert owner is not None and owner.pid == os.getpid() and owner.cmdline == me
