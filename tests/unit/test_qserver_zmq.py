"""RE Manager's 0MQ door without a manager: the 0MQ transport against in-process pyzmq fakes (silence,
oversized and garbled replies, CURVE), the mapping of the client's HTTP calls onto manager methods,
and detection that greets only the ports a hint names."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import zmq

import tether
from tether.discovery import Discovery
from tether.endpoint import Listener
from tether.errors import AuthError, ProtocolError, Timeout, UsageError
from tether.testing import FakeServer
from tether.transport.zmq import ZmqRequester, ZmqSubscriber, check_public_key, parse_address
from tether_qserver import zmq as door
from tether_qserver.client import QueueServer

#: the first bytes of every ZMTP 3 greeting (signature, then the version)
ZMTP_SIGNATURE = b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"
STATUS = {"msg": "RE Manager v0.0.25", "manager_state": "idle", "plan_history_uid": "h1"}


class FakeManager:
    """A ROUTER socket on a free port answering like RE Manager's control socket.

    ``answer(msg) -> reply | None`` (None: stay silent); ``requests`` records every request.
    ``curve_secret``: serve CURVE with this secret key.
    """

    def __init__(self, answer, *, curve_secret: bytes | None = None) -> None:
        self.answer = answer
        self.requests: list[dict] = []
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve_secret:
            self.sock.setsockopt(zmq.CURVE_SERVER, 1)
            self.sock.setsockopt(zmq.CURVE_SECRETKEY, curve_secret)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.sock.poll(50):
                continue
            ident, empty, payload = self.sock.recv_multipart()
            msg = json.loads(payload)
            self.requests.append(msg)
            reply = self.answer(msg)
            if reply is not None:
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.sock.send_multipart([ident, empty, data])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close(linger=0)
        self.ctx.term()


@pytest.fixture
def manager():
    servers: list[FakeManager] = []

    def make(answer, **kw) -> FakeManager:
        servers.append(FakeManager(answer, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


# -- the transport ---------------------------------------------------------------------------------
def test_a_request_returns_the_decoded_reply(manager):
    fake = manager(lambda m: {"echo": m})
    with ZmqRequester(fake.address, timeout=2) as rq:
        assert rq.request({"method": "status"}) == {"echo": {"method": "status"}}
        assert rq.request({"method": "ping"}) == {"echo": {"method": "ping"}}
        assert rq.sockets_opened == 1  # a healthy socket is kept


def test_a_silent_peer_times_out_by_the_deadline_and_the_next_request_gets_a_fresh_socket(manager):
    calls = []

    def first_silent(msg):
        calls.append(msg)
        return None if len(calls) == 1 else {"n": len(calls)}

    fake = manager(first_silent)
    with ZmqRequester(fake.address, timeout=0.5) as rq:
        started = time.monotonic()
        with pytest.raises(Timeout) as info:
            rq.request({"method": "status"})
        assert time.monotonic() - started < 0.9
        assert info.value.exit_code == 4 and "within 0.5 s" in info.value.message
        assert rq.request({"method": "status"}) == {"n": 2}  # a stuck REQ socket would refuse to send
        assert rq.sockets_opened == 2


def test_nothing_listening_is_a_timeout_not_a_hang():
    with FakeServer(lambda conn, server: None) as gone:
        port = gone.port
    with ZmqRequester(f"tcp://127.0.0.1:{port}", timeout=0.3) as rq:
        started = time.monotonic()
        with pytest.raises(Timeout):
            rq.request({"method": "status"})
        assert time.monotonic() - started < 0.7


def test_a_reply_over_the_size_cap_is_never_read(manager):
    fake = manager(lambda m: {"blob": "x" * 100_000})
    rq = ZmqRequester(fake.address, timeout=0.5, max_reply=10_000)
    with rq, pytest.raises(Timeout) as info:
        rq.request({"method": "status"})
    assert "10000 bytes" in info.value.message


def test_a_reply_that_is_not_json_is_a_protocol_error(manager):
    fake = manager(lambda m: b"\x00not json")
    with ZmqRequester(fake.address, timeout=1) as rq, pytest.raises(ProtocolError):
        rq.request({"method": "status"})


@pytest.mark.parametrize("address", ["60615", "http://127.0.0.1:60615", "tcp://host", "tcp://h:70000", ""])
def test_a_bad_address_is_refused_before_anything_is_sent(address):
    with pytest.raises(UsageError):
        ZmqRequester(address)


def test_a_bad_public_key_is_refused_and_never_echoed():
    with pytest.raises(UsageError) as info:
        ZmqRequester("tcp://127.0.0.1:60615", public_key="not-a-key-secretish")
    assert "not-a-key-secretish" not in str(info.value) and info.value.exit_code == 2
    public, _ = zmq.curve_keypair()
    assert check_public_key(public.decode()) == public.decode()


def test_addresses_with_wildcards_connect_to_this_machine():
    assert parse_address("tcp://*:60615") == ("127.0.0.1", 60615)
    assert parse_address("tcp://[::1]:60615") == ("::1", 60615)


def test_close_terminates_the_context_and_leaves_no_thread(manager):
    fake = manager(lambda m: {"ok": 1})
    before = _threads()
    rq = ZmqRequester(fake.address, timeout=1)
    rq.request({"method": "status"})
    assert _threads() > before  # 0MQ's I/O and reaper threads
    rq.close()
    assert rq._ctx is None and _threads() == before
    sub = ZmqSubscriber(fake.address, b"QS_")
    sub.close()
    assert _threads() == before


def test_curve_works_with_the_servers_public_key_and_says_at_once_when_the_key_does_not_fit(manager):
    public, secret = zmq.curve_keypair()
    fake = manager(lambda m: {"ok": True}, curve_secret=secret)
    with ZmqRequester(fake.address, public_key=public.decode(), timeout=2) as rq:
        assert rq.request({"method": "status"}) == {"ok": True}
    other, _ = zmq.curve_keypair()
    for key, said in ((None, "no public key was given"), (other.decode(), "not the server's")):
        rq = ZmqRequester(fake.address, public_key=key, timeout=3)
        started = time.monotonic()
        with rq, pytest.raises(AuthError, match=said) as info:
            rq.request({"method": "status"})
        assert time.monotonic() - started < 1.5 and info.value.exit_code == 5  # not a wait for the deadline
        assert "--zmq-public-key" in info.value.hint
    plain = manager(lambda m: {"ok": True})
    rq = ZmqRequester(plain.address, public_key=public.decode(), timeout=3)
    with rq, pytest.raises(AuthError, match="not encrypted"):
        rq.request({"method": "status"})
    assert fake.requests == [{"method": "status"}] and plain.requests == []  # the others never got through


def test_a_peer_that_is_not_0mq_is_a_protocol_error_not_a_wait():
    def http(conn, server):
        conn.recv(64, timeout=1.0)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    with FakeServer(http) as other:
        rq = ZmqRequester(f"tcp://127.0.0.1:{other.port}", timeout=3)
        started = time.monotonic()
        with rq, pytest.raises(ProtocolError, match="does not speak 0MQ"):
            rq.request({"method": "status"})
        assert time.monotonic() - started < 1.5


# -- one request in plain ZMTP (the probe's, without pyzmq) ---------------------------------------------
def _plain(port: int, message, timeout: float = 1.0, **kw):
    from tether.deadline import Deadline
    from tether.transport.tcp import create_connection
    from tether.transport.zmq import request_plain

    deadline = Deadline(timeout)
    with create_connection("127.0.0.1", port, timeout) as sock:
        return request_plain(sock, message, deadline, what="RE Manager", **kw)


def test_a_plain_zmtp_request_is_answered_by_a_router_and_by_a_rep_socket(manager):
    big = {"method": "status", "pad": "p" * 400}  # over 255 bytes each way: the long frame form
    fake = manager(lambda m: {"echo": m, "blob": "b" * 70_000})
    assert _plain(fake.port, big) == {"echo": big, "blob": "b" * 70_000}
    assert fake.requests == [big]
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")

    def serve():
        if rep.poll(3000):
            rep.send_json({"got": rep.recv_json()})

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert _plain(port, {"method": "status"}) == {"got": {"method": "status"}}
    finally:
        thread.join(3)
        rep.close(linger=0)
        ctx.term()


def test_a_plain_request_to_an_encrypted_socket_says_so_at_once_and_sends_nothing(manager):
    _, secret = zmq.curve_keypair()
    fake = manager(lambda m: {"ok": True}, curve_secret=secret)
    started = time.monotonic()
    with pytest.raises(AuthError, match="no public key was given") as info:
        _plain(fake.port, {"method": "status"}, timeout=3)
    assert time.monotonic() - started < 1.5 and info.value.exit_code == 5
    assert fake.requests == []


def test_a_plain_request_to_a_peer_that_is_not_0mq_is_a_protocol_error_not_a_wait():
    def http(conn, server):
        conn.recv(64, timeout=1.0)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    with FakeServer(http) as other:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="does not speak 0MQ"):
            _plain(other.port, {"method": "status"}, timeout=3)
        assert time.monotonic() - started < 1.5


def test_a_plain_request_to_a_socket_that_answers_no_requests_fails_at_the_handshake():
    from tether.errors import Unreachable

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        started = time.monotonic()
        # libzmq hangs up on a REQ peer, or its READY names PUB first (a race): never a reply
        with pytest.raises(Unreachable, match=r"PUB socket|closed the connection during the 0MQ"):
            _plain(port, {"method": "status"}, timeout=3)
        assert time.monotonic() - started < 1.5
    finally:
        pub.close(linger=0)
        ctx.term()


def test_a_plain_reply_over_the_cap_or_not_json_or_late_is_an_error(manager):
    with pytest.raises(ProtocolError, match="cap"):
        _plain(manager(lambda m: {"blob": "x" * 100_000}).port, {"method": "status"}, max_reply=10_000)
    with pytest.raises(ProtocolError, match="not JSON"):
        _plain(manager(lambda m: b"\x00not json").port, {"method": "status"})
    silent = manager(lambda m: None)
    started = time.monotonic()
    with pytest.raises(Timeout):
        _plain(silent.port, {"method": "status"}, timeout=0.4)
    assert time.monotonic() - started < 0.9 and silent.requests == [{"method": "status"}]


# -- the door: HTTP-style calls as manager methods ----------------------------------------------------
def test_the_door_maps_paths_to_methods_and_drops_client_only_flags():
    d = door.ZmqDoor("tcp://127.0.0.1:60615")
    try:
        assert d.message("/api/status", {"reload": True}) == {"method": "status", "params": {}}
        assert d.message("/api/plans/allowed", {"reduced": True}) == {
            "method": "plans_allowed",
            "params": {"user_group": "primary"},
        }
        add = d.message("/api/queue/item/add", {"item": {"name": "count"}, "lock_key": "k"})
        assert add == {
            "method": "queue_item_add",
            "params": {"item": {"name": "count"}, "lock_key": "k", "user": "tether", "user_group": "primary"},
        }
        assert d.message("/api/re/runs/active") == {"method": "re_runs", "params": {"option": "active"}}
        assert d.info == "tcp://127.0.0.1:60625"
    finally:
        d.close()


@pytest.mark.parametrize("path", ["/api/console_output", "/api/console_output_update", "/api/auth/whoami"])
def test_what_only_the_http_server_offers_is_refused_before_sending(path):
    d = door.ZmqDoor("tcp://127.0.0.1:60615")
    try:
        with pytest.raises(UsageError) as info:
            d.call("GET", path, {})
        assert "0MQ" in info.value.message
        assert d.requester.sockets_opened == 0
    finally:
        d.close()


def test_the_client_adds_and_reads_over_the_door(manager):
    def answer(msg):
        if msg["method"] == "queue_item_add":
            return {
                "success": True,
                "msg": "",
                "qsize": 1,
                "item": {**msg["params"]["item"], "item_uid": "u1"},
            }
        if msg["method"] == "queue_get":
            return {"success": True, "items": [], "running_item": {}, "plan_queue_uid": "q"}
        if msg["method"] == "queue_start":
            return {"success": False, "msg": "environment is not open"}
        return STATUS

    fake = manager(answer)
    with QueueServer(fake.address, transport=door.ZmqDoor(fake.address, timeout=2)) as qs:
        assert qs.door == "zmq"
        added = qs.submit({"name": "count", "args": [["det1"]]}, validate=False)
        assert added["item_uid"] == "u1" and added["meta"]["client_request_id"].startswith("tether-")
        assert qs.queue_get(reload=True)["plan_queue_uid"] == "q"
        with pytest.raises(tether.CommandError, match="environment is not open"):
            qs.queue_start()
    sent = fake.requests[0]
    assert sent["method"] == "queue_item_add" and sent["params"]["user"] == "tether"
    assert fake.requests[1] == {"method": "queue_get", "params": {}}


def test_a_silent_manager_makes_the_client_raise_a_timeout_with_the_key_hint(manager):
    fake = manager(lambda m: None)
    qs = QueueServer(fake.address, transport=door.ZmqDoor(fake.address, timeout=0.3))
    with qs, pytest.raises(Timeout) as info:
        qs.status()
    assert "--zmq-public-key" in info.value.hint


def test_console_comes_from_the_info_socket():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        lines = door.follow_console(f"tcp://127.0.0.1:{port}", duration=3.0)
        time.sleep(0.3)  # the subscription reaches the PUB socket (0MQ's slow joiner)
        pub.send_multipart([b"QS_Info", json.dumps({"time": 1, "msg": {"status": STATUS}}).encode()])
        pub.send_multipart([b"QS_Console", json.dumps({"time": 1, "msg": "hello\n"}).encode()])
        assert next(lines) == "hello\n"
        lines.close()
    finally:
        pub.close(linger=0)
        ctx.term()


def test_console_says_when_the_manager_publishes_nothing(monkeypatch):
    monkeypatch.setattr(door, "INFO_SILENCE", 0.3)
    with FakeServer(lambda conn, server: None) as nothing:
        lines = door.follow_console(f"tcp://127.0.0.1:{nothing.port}", duration=5.0)
        started = time.monotonic()
        with pytest.raises(tether.Unreachable, match="publishes nothing") as info:
            next(lines)
    assert time.monotonic() - started < 2.5 and "--zmq-publish-console ON" in info.value.hint


# -- detection -------------------------------------------------------------------------------------
MANAGER_CMD = ["/venv/bin/python", "/venv/bin/start-re-manager", "--zmq-control-addr", "tcp://127.0.0.1:{c}",
               "--zmq-info-addr", "tcp://127.0.0.1:{i}"]  # fmt: skip


def _manager_listener(port: int, control: int, info: int) -> Listener:
    cmd = [p.format(c=control, i=info) for p in MANAGER_CMD]
    return Listener(host="127.0.0.1", port=port, pid=999_999, process="start-re-manage", cmdline=cmd)


def test_hints_name_the_managers_control_port_only(monkeypatch):
    monkeypatch.delenv("QSERVER_ZMQ_CONTROL_ADDRESS", raising=False)
    assert door.control_hint(_manager_listener(5001, 5001, 5002)).strength == "process"
    assert door.control_hint(_manager_listener(5002, 5001, 5002)) is None  # its info socket
    assert door.control_hint(Listener(host="127.0.0.1", port=60615)).strength == "port"
    assert door.control_hint(Listener(host="127.0.0.1", port=5003)) is None
    monkeypatch.setenv("QSERVER_ZMQ_CONTROL_ADDRESS", "tcp://localhost:5003")
    assert door.control_hint(Listener(host="127.0.0.1", port=5003)) is not None


def _recording() -> FakeServer:
    def record(conn, server):
        conn.recv(64, timeout=1.0)

    return FakeServer(record)


def test_a_scan_never_greets_a_port_no_hint_names(monkeypatch, manager):
    """An unclaimed listener, and a manager's non-control port: never sent a 0MQ greeting (nor
    anything else), while the port a hint names in the same scan is greeted and verified."""
    monkeypatch.delenv("QSERVER_ZMQ_PUBLIC_KEY", raising=False)
    fake_manager = manager(lambda m: STATUS)
    monkeypatch.setenv("QSERVER_ZMQ_CONTROL_ADDRESS", fake_manager.address)
    with _recording() as plain, _recording() as info_port:
        listing = [
            Listener(
                host="127.0.0.1", port=plain.port, pid=os.getpid(), process="python", cmdline=["python"]
            ),
            _manager_listener(info_port.port, 1, info_port.port),
            Listener(host="127.0.0.1", port=fake_manager.port, pid=os.getpid(), process="python"),
        ]
        found = tether.scan(["qserver"], discovery=Discovery(listing), include_unknown=True, deep=True)
        plain.settle(1.0), info_port.settle(1.0)
        received = plain.received + info_port.received
    assert received and all(data == b"" for data in received), received  # --deep reads, sends nothing
    verified = [e for e in found if e.port == fake_manager.port]
    assert verified and verified[0].confidence == "verified"
    assert verified[0].title == "Bluesky RE Manager (0MQ)" and verified[0].version == "0.0.25"
    assert fake_manager.requests == [{"method": "status"}]


def test_the_probe_greets_a_hinted_port_and_calls_anything_else_not_me(monkeypatch):
    with _recording() as other:
        monkeypatch.setenv("QSERVER_ZMQ_CONTROL_ADDRESS", f"tcp://127.0.0.1:{other.port}")
        res = tether.registry.get("qserver").probe("127.0.0.1", other.port, 0.5)
        other.settle(1.0)
    # one connection: the connect tells a refused port, then the greeting goes on it (plain ZMTP)
    assert len(other.received) == 1 and other.received[0].startswith(ZMTP_SIGNATURE)
    assert res.verdict in ("not-me", "unknown")


def test_zmq_names_the_door_and_wins_over_a_scan(monkeypatch, manager, tmp_path, capsys):
    from tether.cli import run

    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    fake = manager(lambda m: {**STATUS, "items_in_queue": 0} if m["method"] == "status" else None)
    assert run(["qserver", "status", "--zmq", fake.address, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["title"] == "Bluesky RE Manager (0MQ)" and out["extra"]["door"] == "zmq"
    assert out["manager"]["manager_state"] == "idle"
    assert run(["qserver", "status", "--zmq", "localhost:1"]) == 2


def _endpoint(port: int, door_name: str | None):
    from tether.endpoint import Confidence, Endpoint

    extra = {"door": "zmq", "zmq_control": f"tcp://127.0.0.1:{port}"} if door_name == "zmq" else {}
    return Endpoint(app="qserver", host="127.0.0.1", port=port, confidence=Confidence.VERIFIED, extra=extra)


@pytest.mark.parametrize(
    ("found", "picked"),
    [
        ([("zmq", 60615), ("http", 60610)], 60610),  # both doors: HTTP (it carries logins)
        ([("zmq", 60615)], 60615),  # only the manager: 0MQ
        ([("http", 60610), ("http", 60611), ("zmq", 60615)], None),  # two HTTP servers: the core says so
        ([("zmq", 60615), ("zmq", 60616)], None),
        ([], None),
    ],
)
def test_with_nothing_named_the_http_door_is_preferred(monkeypatch, found, picked):

    endpoints = [_endpoint(port, kind) for kind, port in found]
    monkeypatch.setattr(tether, "scan", lambda apps, timeout: endpoints)
    got = tether.registry.get("qserver").locate(None, None, {}, 1.0)
    assert (got.port if got else None) == picked


def test_a_named_door_wins_and_the_zmq_variable_yields_to_a_named_url(monkeypatch):
    from tether_qserver import probe

    calls = []
    monkeypatch.setattr(probe, "verify_url", lambda url, timeout: calls.append(("http", url)))
    monkeypatch.setattr(door, "verify_zmq", lambda addr, timeout, **kw: calls.append(("zmq", addr)))
    locate = tether.registry.get("qserver").locate
    monkeypatch.setenv("QSERVER_ZMQ_CONTROL_ADDRESS", "tcp://127.0.0.1:60615")
    locate(None, None, {"url": "http://h:60610", "zmq": "tcp://127.0.0.1:60615"}, 1.0)  # from the variable
    locate(None, None, {"url": "http://h:60610", "zmq": "tcp://127.0.0.1:5000"}, 1.0)  # --zmq
    locate(None, None, {"zmq": "tcp://127.0.0.1:60615"}, 1.0)  # the variable alone
    assert calls == [
        ("http", "http://h:60610"),
        ("zmq", "tcp://127.0.0.1:5000"),
        ("zmq", "tcp://127.0.0.1:60615"),
    ]
    assert locate(None, 60615, {"zmq": "tcp://127.0.0.1:5000"}, 1.0) is None  # --port: the core probes it


def test_verbose_shows_the_0mq_requests_with_the_lock_key_masked(monkeypatch, manager, tmp_path, capsys):
    from tether.cli import run

    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    fake = manager(lambda m: STATUS if m["method"] == "status" else {"success": True, "msg": ""})
    assert run(["qserver", "clear", "--zmq", fake.address, "-v", "--lock-key", "sekrit123"]) == 0
    err = capsys.readouterr().err
    assert '{"method": "queue_clear", "params": {"lock_key": "***"}}' in err and "sekrit123" not in err
    assert fake.requests[-1] == {"method": "queue_clear", "params": {"lock_key": "sekrit123"}}


def test_console_without_follow_over_0mq_says_why_and_sends_nothing(monkeypatch, manager, tmp_path, capsys):
    from tether.cli import run

    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    fake = manager(lambda m: STATUS)
    assert run(["qserver", "console", "--zmq", fake.address]) == 2
    assert "console --follow" in capsys.readouterr().err
    assert [r["method"] for r in fake.requests] == ["status"]  # the probe only


def test_a_public_key_given_without_zmq_is_the_one_the_scans_probes_use(monkeypatch):
    """``--zmq-public-key K`` alone: the manager is looked for by a scan, whose probes have no
    flags; they read the key the command was given (they said "no public key was given")."""
    seen = []
    monkeypatch.delenv("QSERVER_ZMQ_PUBLIC_KEY", raising=False)
    monkeypatch.setattr(tether, "scan", lambda apps, timeout: seen.append(door.scan_key()) or [])
    locate = tether.registry.get("qserver").locate
    assert locate(None, None, {"zmq_public_key": "K" * 40}, 1.0) is None
    assert seen == ["K" * 40]
    assert door.scan_key() is None  # only while that command looks
