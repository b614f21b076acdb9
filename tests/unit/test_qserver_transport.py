"""The HTTP and WebSocket transports and the queue server client against in-process fake servers:
the faults the real server cannot be made to produce on demand (5xx, 408, garbage, silence,
refused WebSocket handshakes), retries for reads only, and secrets kept out of errors and logs."""

from __future__ import annotations

import json
import logging
import time

import pytest

from tether.deadline import Deadline
from tether.errors import AuthError, CommandError, ProtocolError, Timeout, Unreachable
from tether.testing import FakeHTTP, FakeWebSocket
from tether.transport.http import HttpError, HttpSession, join_url, safe_headers
from tether_qserver.client import QueueServer
from tether_qserver.stream import StatusFeed, follow_console

SECRET = "s3cretkey42"


@pytest.fixture
def fake():
    server = FakeHTTP()
    yield server
    server.close()


def session(fake, **kw) -> HttpSession:
    kw.setdefault("backoff", 0.01)
    return HttpSession(fake.url, headers={"Authorization": f"ApiKey {SECRET}"}, secrets=[SECRET], **kw)


def test_every_call_sends_a_json_body_even_a_get(fake):
    fake.routes[("GET", "/api/status")] = lambda body: (200, {"echo": json.loads(body)})
    with session(fake) as s:
        assert s.get("/api/status") == {"echo": {}}
        assert s.get("/api/status", {"reload": True}) == {"echo": {"reload": True}}
    method, _, headers, _ = fake.requests[0]
    assert method == "GET" and headers["Content-Type"] == "application/json"


def test_base_url_keeps_its_path_prefix(fake):
    fake.routes[("GET", "/beamline/api/status")] = lambda body: (200, {"ok": 1})
    assert join_url("https://h/prefix/", "/api/x") == "https://h/prefix/api/x"
    with HttpSession(fake.url + "/beamline/") as s:
        assert s.get("/api/status") == {"ok": 1}


def test_reads_are_retried_on_503_and_408_but_writes_never(fake):
    answers = iter([(503, {"detail": "busy"}), (408, {"detail": "Request timeout"}), (200, {"ok": True})])
    fake.routes[("GET", "/api/queue/get")] = lambda body: next(answers)
    fake.routes[("POST", "/api/queue/item/add")] = lambda body: (503, {"detail": "busy"})
    with session(fake, retries=2) as s:
        assert s.get("/api/queue/get") == {"ok": True}
        with pytest.raises(Unreachable):
            s.post("/api/queue/item/add", {"item": {}})
    assert fake.count("GET", "/api/queue/get") == 3
    assert fake.count("POST", "/api/queue/item/add") == 1


def test_408_after_the_last_retry_is_a_timeout(fake):
    fake.routes[("GET", "/api/status")] = lambda body: (
        408,
        {"detail": "Request timeout: ZMQ communication error"},
    )
    with session(fake, retries=1) as s, pytest.raises(Timeout) as err:
        s.get("/api/status")
    assert "ZMQ" in str(err.value) and err.value.exit_code == 4


def test_auth_failure_carries_the_hint_and_never_the_key(fake, caplog):
    fake.routes[("GET", "/api/status")] = lambda body: (401, {"detail": f"Invalid API key {SECRET}"})
    caplog.set_level(logging.DEBUG, logger="tether.transport.http")
    hint = "the key came from $QSERVER_HTTP_SERVER_API_KEY"
    with session(fake, auth_hint=hint) as s, pytest.raises(AuthError) as err:
        s.get("/api/status")
    assert err.value.exit_code == 5 and "QSERVER_HTTP_SERVER_API_KEY" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in json.dumps(err.value.to_dict())
    assert "GET" in caplog.text and SECRET not in caplog.text
    assert safe_headers({"Authorization": f"ApiKey {SECRET}"}) == {"Authorization": "ApiKey ***"}


def test_4xx_detail_becomes_the_apps_message(fake):
    fake.routes[("POST", "/api/queue/item/move")] = lambda body: (400, {"detail": "unexpected keyword 'x'"})
    with session(fake) as s, pytest.raises(HttpError) as err:
        s.post("/api/queue/item/move", {"x": 1})
    assert err.value.status == 400 and err.value.app_message == "unexpected keyword 'x'"
    assert isinstance(err.value, CommandError)


def test_a_body_that_is_not_json_is_a_protocol_error(fake):
    fake.routes[("GET", "/api/status")] = lambda body: (200, b"<html>proxy login</html>")
    with session(fake) as s, pytest.raises(ProtocolError):
        s.get("/api/status")


def test_a_silent_server_times_out_by_the_deadline(fake):
    fake.routes[("GET", "/api/status")] = lambda body: (time.sleep(1.5), (200, {}))[1]
    started = time.monotonic()
    with session(fake, retries=0) as s, pytest.raises(Timeout):
        s.get("/api/status", timeout=0.3)
    assert time.monotonic() - started < 1.2


def test_nothing_listening_is_unreachable():
    with HttpSession("http://127.0.0.1:9", retries=0) as s, pytest.raises(Unreachable) as err:
        s.get("/api/status")
    assert not isinstance(err.value, Timeout)


# -- the client's semantics ------------------------------------------------------------------
STATUS = {"msg": "RE Manager v0.0.25", "manager_state": "executing_queue", "plan_history_uid": "h1"}


def test_success_false_is_a_command_error_with_the_servers_msg(fake):
    fake.routes[("POST", "/api/queue/item/remove")] = lambda body: (
        200,
        {"success": False, "msg": "Item not found"},
    )
    with QueueServer(fake.url, api_key=SECRET) as qs, pytest.raises(CommandError) as err:
        qs.item_remove(uid="nope")
    assert err.value.app_message == "Item not found"


def test_queue_start_while_the_queue_runs_counts_as_started(fake):
    fake.routes[("POST", "/api/queue/start")] = lambda body: (
        200,
        {"success": False, "msg": "RE Manager is busy."},
    )
    fake.routes[("GET", "/api/status")] = lambda body: (200, STATUS)
    with QueueServer(fake.url, api_key=SECRET) as qs:
        assert qs.queue_start()["success"] is True
        fake.routes[("GET", "/api/status")] = lambda body: (200, {**STATUS, "manager_state": "idle"})
        with pytest.raises(CommandError):
            qs.queue_start()


def test_without_websockets_status_and_console_fall_back_to_polling(fake):
    fake.routes[("GET", "/api/status")] = lambda body: (200, STATUS)
    updates = iter(
        [
            {"success": True, "last_msg_uid": "u1", "console_output_msgs": [{"time": 1, "msg": "old\n"}]},
            {
                "success": True,
                "last_msg_uid": "u2",
                "console_output_msgs": [{"time": 2, "msg": "new line\n"}],
            },
        ]
    )
    fake.routes[("GET", "/api/console_output_update")] = lambda body: (
        200,
        next(updates, {"success": True, "last_msg_uid": "u2", "console_output_msgs": []}),
    )
    with QueueServer(fake.url, api_key=SECRET) as qs:
        with StatusFeed(qs, "auto") as feed:
            assert feed.next(2)["plan_history_uid"] == "h1"
            assert feed.mode == "poll"
        got = list(follow_console(qs, transport="auto", duration=0.5, interval=0.05))
    assert got == ["new line\n"]  # only what came after following began
    assert fake.count("GET", "/api/status/ws") == 1 and fake.count("GET", "/api/console_output/ws") == 1
    bodies = [json.loads(b) for m, p, _, b in fake.requests if p == "/api/console_output_update"]
    assert bodies[0] == {"last_msg_uid": "ALL"} and bodies[1] == {"last_msg_uid": "u1"}


# -- WebSockets ---------------------------------------------------------------------------------


@pytest.fixture
def wsfake():
    """A WebSocket server: ``/silent`` sends nothing, ``/close`` closes with 4001, else echoes
    JSON; ``/forbidden`` refuses the handshake with 403, ``/missing`` with 404."""

    def handler(ws):
        if ws.path == "/close":
            ws.close(4001, "go away")
            return
        if ws.path == "/silent":
            time.sleep(1)
            return
        for message in ws:
            ws.send(json.dumps({"echo": json.loads(message)}))

    with FakeWebSocket(handler, refuse={"/forbidden": 403, "/missing": 404}) as server:
        yield server


def test_ws_json_round_trip_with_headers_and_no_origin(wsfake):
    from tether.transport.ws import WsConnection

    with WsConnection.open(
        wsfake.url + "/echo", headers={"X-Test": "1"}, suppress_origin=True, deadline=Deadline(5)
    ) as ws:
        ws.send_json({"id": 1, "method": "session.status"}, Deadline(2))
        assert ws.recv_json(Deadline(2)) == {"echo": {"id": 1, "method": "session.status"}}
    first = wsfake.requests[0]
    assert first.header("X-Test") == "1" and first.header("Origin") is None
    with WsConnection.open(wsfake.url + "/echo", deadline=Deadline(5)) as ws:
        pass
    assert wsfake.requests[1].header("Origin")


def test_ws_receive_times_out_by_its_deadline_and_a_close_is_reported(wsfake):
    from tether.transport.ws import Closed, WsConnection

    with WsConnection.open(wsfake.url + "/silent", deadline=Deadline(5)) as ws:
        started = time.monotonic()
        with pytest.raises(Timeout):
            ws.recv(Deadline(0.3))
        assert time.monotonic() - started < 1.0
    with WsConnection.open(wsfake.url + "/close", deadline=Deadline(5)) as ws, pytest.raises(Closed) as err:
        ws.recv(Deadline(2))
    assert err.value.code == 4001 and "go away" in str(err.value)


def test_ws_refused_handshakes_map_to_auth_and_handshake_errors(wsfake):
    from tether.transport.ws import HandshakeRefused, WsConnection

    with pytest.raises(AuthError):
        WsConnection.open(
            wsfake.url + "/forbidden",
            headers={"Authorization": f"ApiKey {SECRET}"},
            secrets=[SECRET],
            deadline=Deadline(5),
        )
    with pytest.raises(HandshakeRefused) as err:
        WsConnection.open(wsfake.url + "/missing", deadline=Deadline(5))
    assert err.value.status == 404
    with pytest.raises(Unreachable):
        WsConnection.open("ws://127.0.0.1:9/x", deadline=Deadline(1))


def test_a_lost_add_reply_is_resolved_by_the_request_tag_not_by_resending(fake):
    queued: list = []

    def slow_add(body):
        queued.append({**json.loads(body)["item"], "item_uid": "u-1"})
        time.sleep(0.6)  # the reply arrives after the client's deadline
        return 200, {"success": True, "item": queued[-1]}

    fake.routes[("GET", "/api/status")] = lambda body: (200, STATUS)
    fake.routes[("POST", "/api/queue/item/add")] = slow_add
    fake.routes[("GET", "/api/queue/get")] = lambda body: (200, {"success": True, "items": queued})
    with QueueServer(fake.url, api_key=SECRET, timeout=0.3) as qs:
        item = qs.submit({"name": "count", "args": [["det1"]]}, validate=False)
        assert item["item_uid"] == "u-1"
        queued.clear()
        fake.routes[("GET", "/api/queue/get")] = lambda body: (200, {"success": True, "items": []})
        with pytest.raises(Timeout) as err:
            qs.submit({"name": "count", "args": [["det1"]]}, validate=False)
    assert "not added" in str(err.value)
    assert fake.count("POST", "/api/queue/item/add") == 2  # once per submit: never resent


def test_an_environment_that_fails_to_open_shows_the_console_tail(fake):
    states = iter([{**STATUS, "manager_state": "idle", "worker_environment_exists": False}])
    idle = {**STATUS, "manager_state": "idle", "worker_environment_exists": False}
    fake.routes[("GET", "/api/status")] = lambda body: (200, next(states, idle))
    fake.routes[("POST", "/api/environment/open")] = lambda body: (200, {"success": True, "msg": ""})
    tail = "ModuleNotFoundError: No module named 'matplotlib'\n"
    fake.routes[("GET", "/api/console_output")] = lambda body: (200, {"success": True, "text": tail})
    with QueueServer(fake.url, api_key=SECRET) as qs, pytest.raises(CommandError) as err:
        qs.ensure_environment(timeout=2)
    assert "worker_environment_exists is false" in str(err.value)
    assert "matplotlib" in err.value.app_message
    assert fake.count("POST", "/api/environment/open") == 1


def test_a_manager_that_does_not_answer_is_a_timeout_naming_re_manager(fake):
    timeout_reply = {"detail": "Request timeout: ZMQ communication error: timeout occurred"}
    fake.routes[("GET", "/api/status")] = lambda body: (408, timeout_reply)
    with QueueServer(fake.url, api_key=SECRET, retries=1) as qs, pytest.raises(Timeout) as err:
        qs.status()
    assert "start-re-manager" in (err.value.hint or "") and err.value.exit_code == 4
    assert fake.count("GET", "/api/status") == 2


def test_cli_talks_to_a_server_behind_a_path_prefix_after_verifying_it(fake, capsys, monkeypatch):
    from tether.cli import run

    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", SECRET)
    openapi = {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}}
    fake.routes[("GET", "/beamline/openapi.json")] = lambda body: (200, openapi)
    queue = {"success": True, "items": [], "running_item": {}, "plan_queue_uid": "q1"}
    fake.routes[("GET", "/beamline/api/queue/get")] = lambda body: (200, queue)
    assert run(["qserver", "queue", "--json", "--url", fake.url + "/beamline"]) == 0
    assert json.loads(capsys.readouterr().out)["plan_queue_uid"] == "q1"
    headers = next(h for m, p, h, _ in fake.requests if p == "/beamline/api/queue/get")
    assert headers["Authorization"] == f"ApiKey {SECRET}"
    # a server that is not the Bluesky HTTP Server is never sent a command
    fake.routes[("GET", "/other/openapi.json")] = lambda body: (200, {"info": {"title": "Something else"}})
    assert run(["qserver", "queue", "--url", fake.url + "/other"]) == 6
    assert not [p for _, p, _, _ in fake.requests if p.startswith("/other/api")]


def test_console_follow_reconnects_when_the_server_closes_the_socket():
    connections: list = []

    def handler(ws):
        connections.append(ws)
        if len(connections) == 1:
            ws.close(1001, "going away")
            return
        ws.send(json.dumps({"time": 1.0, "msg": "after the reconnect\n"}))
        time.sleep(1)

    with (
        FakeWebSocket(handler) as server,
        QueueServer(f"http://127.0.0.1:{server.port}", api_key=SECRET) as qs,
    ):
        got = []
        for msg in follow_console(qs, transport="ws", duration=3):
            got.append(msg)
            break
    assert got == ["after the reconnect\n"] and len(connections) == 2
    assert connections[0].request.header("Authorization") == f"ApiKey {SECRET}"


def test_a_form_body_is_form_encoded_and_its_secret_masked_in_every_form(fake, caplog):
    from urllib.parse import quote_plus

    fake.routes[("POST", "/token")] = lambda body: (200, {"ok": True})
    password = "p w&d=1"
    with session(fake) as s, caplog.at_level(logging.DEBUG, logger="tether.transport"):
        s.add_secret(password), s.add_secret(quote_plus(password))
        assert s.call("POST", "/token", form={"username": "u", "password": password}) == {"ok": True}
    _, _, headers, raw = fake.requests[-1]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert raw == b"username=u&password=" + quote_plus(password).encode()
    assert password not in caplog.text and quote_plus(password) not in caplog.text


def test_a_multipart_upload_carries_the_file_and_the_fields(fake):
    fake.routes[("POST", "/upload")] = lambda body: (200, {"ok": True})
    with session(fake) as s:
        s.call(
            "POST", "/upload", form={"data_type": "x"}, files={"spreadsheet": ("plans.csv", b"a,b\n1,2\n")}
        )
    _, _, headers, raw = fake.requests[-1]
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="plans.csv"' in raw and b"a,b\n1,2\n" in raw and b'name="data_type"' in raw
