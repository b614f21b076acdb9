"""Bad input exits 2 (refused before sending), bad replies exit 4 naming what was expected, and a
port another app's evidence claims is not probed (issue 9, items 4, 6-10)."""

from __future__ import annotations

import pytest

from tether.testing import FakeHTTP, FakeServer, http_response, read_lines, replying
from tether_igv.testing import fake_igv

OPENAPI = {"info": {"title": "Bluesky HTTP Server", "version": "0.0.1"}}
STATUS = {
    "manager_state": "idle",
    "re_state": "idle",
    "items_in_queue": 0,
    "items_in_history": 0,
    "worker_environment_exists": True,
    "plan_queue_uid": "q1",
    "plan_history_uid": "h1",
    "plans_allowed_uid": "p1",
    "devices_allowed_uid": "d1",
}
KEY = "s3cret-key"


@pytest.fixture
def listener():
    server = FakeServer(lambda conn, _server: conn.wait_closed(3))
    try:
        yield server
    finally:
        server.close()


def _clean(code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert KEY not in out + err


def test_a_plan_argument_nested_a_thousand_deep_is_bad_input(cli):
    deep = "[" * 1000 + "]" * 1000
    for argv in (["count", f"x={deep}"], ["count", deep], [f'{{"name": "count", "args": {deep}}}']):
        code, out, err = cli("qserver", "add", "--dry-run", *argv)
        _clean(code, out, err)
        assert code == 2, (argv[-1][:20], err)


@pytest.mark.parametrize("locus", ["chr1:" + "1" * 4301, "chr1:1-" + "9" * 4301, "chr1:" + "1" * 40])
def test_a_coordinate_of_thousands_of_digits_is_bad_input(cli, listener, locus):
    code, out, err = cli("igv", "goto", locus, "--port", str(listener.port))
    _clean(code, out, err)
    assert code == 2 and len(err) < 400, err


def test_a_snapshot_under_an_unknown_user_is_bad_input(cli, listener):
    code, out, err = cli("igv", "snapshot", "~nosuchuser-tether/x.png", "--port", str(listener.port))
    _clean(code, out, err)
    assert code == 2 and "no such user" in err


def test_a_genome_path_too_long_for_the_file_system_is_bad_input(cli, listener):
    long = "/tmp/" + "a" * 300 + "/" + "b" * 300
    code, out, err = cli("igv", "genome", long, "--port", str(listener.port))
    _clean(code, out, err)
    assert code == 2 and "too long" in err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999", "http://[::1", "http://[::1]:70000/x", "ftp://h:1"]
)
def test_a_malformed_url_is_bad_input(cli, url):
    code, out, err = cli("qserver", "status", "--url", url)
    _clean(code, out, err)
    assert code == 2, err


def test_a_url_where_nothing_listens_is_not_found_never_success(cli, monkeypatch):
    monkeypatch.delenv("QSERVER_HTTP_SERVER_API_KEY", raising=False)
    code, out, err = cli("qserver", "status", "--url", "http://127.0.0.1:1")
    _clean(code, out, err)
    assert code == 3


def test_igv_batch_splits_lines_only_where_igv_does(cli, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text(
        "echo a\u2028exit\necho b\x85exit\recho c\x0bexit\r\necho d\x1cexit\n", encoding="utf-8"
    )
    with fake_igv({}) as igv:
        code, out, err = cli("igv", "batch", str(script), "--port", str(igv.port), "--json")
        sent = b"".join(igv.received).decode("utf-8").split("\n")
    _clean(code, out, err)
    assert code == 0, err
    assert "exit" not in sent  # str.splitlines() made IGV run "exit" (the real IGV quit)
    assert sum(1 for line in sent if line.startswith(("echo a", "echo b", "echo c", "echo d"))) == 4


# -- replies of the wrong shape: ProtocolError (exit 4) naming what was expected ---------------------
def _qserver(routes: dict) -> FakeHTTP:
    fake = FakeHTTP()
    fake.routes[("GET", "/openapi.json")] = lambda body: (200, OPENAPI)
    for key, value in routes.items():
        fake.routes[key] = (lambda v: lambda body: (200, v))(value)
    return fake


SHAPES = [
    ("status is a list", {("GET", "/api/status"): [1, 2]}, ["status"], 4, "JSON object"),
    (
        "queue items null",
        {("GET", "/api/status"): STATUS, ("GET", "/api/queue/get"): {"items": None}},
        ["queue"],
        4,
        "'items'",
    ),
    (
        "item/add answers {}",
        {
            ("GET", "/api/status"): STATUS,
            ("POST", "/api/queue/item/add"): {},
            ("GET", "/api/queue/get"): {"items": [], "running_item": {}},
        },
        ["add", "count", "--no-validate"],
        4,
        "'item'",
    ),
    (
        "msg is a number",
        {("GET", "/api/status"): STATUS, ("POST", "/api/queue/item/add"): {"success": False, "msg": 5}},
        ["add", "count", "--no-validate"],
        1,
        "5",
    ),
    (
        "parameters null",
        {
            ("GET", "/api/status"): STATUS,
            ("GET", "/api/plans/allowed"): {"plans_allowed": {"count": {"parameters": None}}},
        },
        ["plans", "count"],
        4,
        "plans_allowed",
    ),
    (
        "history items a string",
        {("GET", "/api/status"): STATUS, ("GET", "/api/history/get"): {"items": "x"}},
        ["history"],
        4,
        "a list of objects",
    ),
]


@pytest.mark.parametrize("name, routes, argv, expected, says", SHAPES, ids=[s[0] for s in SHAPES])
def test_a_reply_of_the_wrong_shape_is_a_protocol_error(cli, monkeypatch, name, routes, argv, expected, says):
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", KEY)
    with _qserver(routes) as fake:
        code, out, err = cli("qserver", *argv, "--url", fake.url, "-t", "2")
    _clean(code, out, err)
    assert code == expected, err
    assert says in err


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'{"info": [1]}', b'{"info": {"title": {"a": 1}}}', b"\xff\xfe\x00", b"<html>"]
)
def test_a_probe_answer_that_is_not_the_app_is_wrong_app(cli, body):
    with FakeServer(replying(http_response(200, body))) as srv:
        code, out, err = cli("qserver", "status", "--url", f"http://127.0.0.1:{srv.port}", "-t", "2")
    _clean(code, out, err)
    assert code == 6, err


def test_a_marionette_session_reply_of_the_wrong_shape_is_a_protocol_error(cli):
    from tether_firefox.testing import MARIONETTE_SESSION, marionette_handler

    handler = marionette_handler(
        {**MARIONETTE_SESSION, "WebDriver:NewSession": lambda p: ["not", "a", "session"]}
    )
    with FakeServer(lambda c, _: handler(c)) as srv:
        code, out, err = cli("firefox", "title", "--port", str(srv.port), "-t", "3")
    _clean(code, out, err)
    assert code == 4 and "session" in err


# -- a port another adapter's evidence claims gets no probe from this one (item 10) -------------------
def test_a_port_hinted_as_igv_gets_no_http_probe(cli, monkeypatch, listener):
    import tether.api
    from tether.endpoint import Listener

    igv = Listener(
        host="127.0.0.1",
        port=listener.port,
        pid=4242,
        process="java",
        cmdline=["java", "-Xmx8g", "-jar", "/opt/IGV_2.19/lib/igv.jar", "org.broad.igv.ui.Main"],
    )
    monkeypatch.setattr(
        tether.api, "_owner", lambda port, adapter=None: igv if port == listener.port else None
    )
    code, out, err = cli("qserver", "status", "--port", str(listener.port), "-t", "2")
    listener.settle(1)
    _clean(code, out, err)
    assert code == 6 and "IGV" in err, err
    assert listener.connections == 0  # not even a connection: GET /openapi.json raises IGV's window


# -- diagnoses in plain words (item 9) ----------------------------------------------------------------
def _igv_then(after_echo):
    """A fake IGV that answers the probe's echo, then treats any other line with ``after_echo``."""

    def handler(conn, server):
        for line in read_lines(conn, timeout=5):
            if line.startswith(b"echo"):
                conn.sendall((line[5:] or b"echo") + b"\n")
                continue
            after_echo(conn)
            return

    return FakeServer(handler)


def _endless(conn):
    try:
        while True:
            conn.sendall(b"x" * 65536)
    except OSError:
        return


def test_an_endless_line_after_the_igv_probe_is_not_reported_as_igv_exiting(cli):
    with _igv_then(_endless) as igv:
        code, out, err = cli("igv", "goto", "chr1:1-100", "--port", str(igv.port), "-t", "3")
    _clean(code, out, err)
    assert code == 4
    assert "exited" not in err and "1048576 bytes" in err


def test_a_reset_connection_is_said_in_words_not_errno(cli, monkeypatch):
    import socket
    import struct

    def reset(conn, server):
        conn.recv(65536)
        conn.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", KEY)
    with FakeServer(reset) as srv:
        code, out, err = cli("qserver", "status", "--url", f"http://127.0.0.1:{srv.port}", "-t", "2")
    _clean(code, out, err)
    assert code == 4 and "Errno" not in err and "reset" in err


@pytest.mark.parametrize("host", ["exa..mple", "a" * 70 + ".org", "bad host"])
def test_a_host_name_that_cannot_exist_is_bad_input_not_idna_text(cli, host):
    code, out, err = cli("igv", "goto", "chr1", "--host", host, "-t", "2")
    _clean(code, out, err)
    assert code == 2 and "idna" not in err and "not a valid host name" in err


def test_a_scan_runs_no_probe_of_an_adapter_whose_port_hint_another_adapters_process_outranks():
    from tether.adapter import Adapter, Hint, ProbeResult, Verdict
    from tether.endpoint import Listener
    from tether.identify import gather, identify

    class Fake(Adapter):
        default_ports = ()

        def __init__(self, name, strength, verdict):
            self.name, self.title, self.strength, self.verdict = name, name.upper(), strength, verdict
            self.probed: list[int] = []

        def hints(self, li):
            return Hint(f"{self.name} evidence", self.strength)

        def probe(self, host, port, timeout):
            self.probed.append(port)
            return ProbeResult(self.verdict)

    igv = Fake("igv", "process", Verdict.UNKNOWN)  # IGV busy with a long command: no answer yet
    http = Fake("http", "port", Verdict.NOT_ME)  # its probe would raise IGV's window
    li = Listener(host="127.0.0.1", port=60151, pid=1, cmdline=["java", "igv.jar"])
    for order in ((igv, http), (http, igv)):
        igv.probed.clear(), http.probed.clear()
        found = identify(gather([li], order), order, timeout=0.5)
        assert http.probed == [] and igv.probed == [60151]
        assert [e.app for e in found] == ["igv"]


def test_run_reports_a_frozen_http_server_within_lost_after_not_after_each_calls_full_deadline():
    import time

    from tether.errors import Unreachable
    from tether_qserver.client import QueueServer
    from tether_qserver.stream import track_item

    frozen = {"/api/status": lambda conn: conn.wait_closed(30) and False}
    from tether.testing import http_routes

    with FakeServer(http_routes(frozen)) as srv:
        qs = QueueServer(f"http://127.0.0.1:{srv.port}", api_key=KEY, timeout=30)
        start = time.monotonic()
        with pytest.raises(Unreachable) as err:
            track_item(qs, "uid-1", timeout=600, transport="poll", lost_after=1.5)
        took = time.monotonic() - start
        qs.http.close()
    assert took < 4, took  # 23 s and more before: each poll waited the client's whole deadline
    assert "stopped answering" in err.value.message
