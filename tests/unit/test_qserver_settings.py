"""The queue server's settings resolve the same way for ``tether.connect`` and the CLI, and every
client is verified before it is used."""

from __future__ import annotations

import json

import pytest

import tether
from tether.cli import run
from tether.errors import UsageError, WrongApp
from tether_qserver.client import QueueServer

from .test_qserver_transport import SECRET, fake  # noqa: F401 (the fixture)

OPENAPI = {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}}
QUEUE = {"success": True, "items": [], "running_item": {}, "plan_queue_uid": "q1"}
VARS = ("QSERVER_HTTP_SERVER_URI", "QSERVER_HTTP_SERVER_API_KEY", "QSERVER_HTTP_SERVER_API_KEYFILE",
        "QSERVER_LOCK_KEY", "TETHER_QSERVER_URL", "TETHER_QSERVER_API_KEY")  # fmt: skip


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


@pytest.fixture
def beamline(fake):  # noqa: F811
    """The Bluesky HTTP Server behind the path prefix /beamline."""
    fake.routes[("GET", "/beamline/openapi.json")] = lambda body: (200, OPENAPI)
    fake.routes[("GET", "/beamline/api/queue/get")] = lambda body: (200, QUEUE)
    return fake


def _authorization(server) -> str:
    return next(h for m, p, h, _ in server.requests if p == "/beamline/api/queue/get")["Authorization"]


def test_connect_honours_the_url_and_key_in_the_config_file(clean, beamline, monkeypatch):
    cfg = clean / "config.toml"
    cfg.write_text(f'[qserver]\nurl = "{beamline.url}/beamline"\napi_key = "{SECRET}"\n')
    monkeypatch.setenv("TETHER_CONFIG", str(cfg))
    with tether.connect("qserver") as qs:
        assert qs.base_url == beamline.url + "/beamline"
        assert qs.queue_get()["plan_queue_uid"] == "q1"
    assert _authorization(beamline) == f"ApiKey {SECRET}"
    assert beamline.requests[0][1] == "/beamline/openapi.json"  # verified first


def test_the_apps_own_environment_variables_name_the_server_and_key(clean, beamline, monkeypatch, capsys):
    monkeypatch.setenv("QSERVER_HTTP_SERVER_URI", beamline.url + "/beamline")
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", SECRET)
    assert run(["qserver", "queue", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan_queue_uid"] == "q1"
    assert _authorization(beamline) == f"ApiKey {SECRET}"


def test_an_api_key_file_wins_over_an_api_key(clean, beamline, monkeypatch):
    key_file = clean / "key"
    key_file.write_text("fromthefile1\n")
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", SECRET)
    with tether.connect("qserver", url=beamline.url + "/beamline", api_key_file=str(key_file)) as qs:
        qs.queue_get()
        assert "fromthefile1" in qs.secrets
    assert _authorization(beamline) == "ApiKey fromthefile1"


def test_from_url_verifies_before_it_returns(clean, fake):  # noqa: F811
    fake.routes[("GET", "/other/openapi.json")] = lambda body: (200, {"info": {"title": "Something else"}})
    with pytest.raises(WrongApp):
        QueueServer.from_url(fake.url + "/other", api_key=SECRET)
    assert [p for _, p, _, _ in fake.requests] == ["/other/openapi.json"]
    with pytest.raises(UsageError):
        QueueServer.from_url("ftp://nowhere", api_key=SECRET)


def test_verbose_output_masks_the_api_key_and_the_lock_key(clean, beamline, monkeypatch, capsys):
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", SECRET)
    monkeypatch.setenv("QSERVER_LOCK_KEY", "lockkey777")
    beamline.routes[("POST", "/beamline/api/queue/clear")] = lambda body: (200, {"success": True, "msg": ""})
    args = ["qserver", "clear", "--url", beamline.url + "/beamline", "-v"]
    assert run(args) == 0
    err = capsys.readouterr().err
    assert "POST" in err and "***" in err
    assert SECRET not in err and "lockkey777" not in err
    body = json.loads(next(b for _, p, _, b in beamline.requests if p.endswith("/queue/clear")))
    assert body["lock_key"] == "lockkey777"  # the lock_key setting reached the client


def test_client_secrets_name_every_key_it_holds(fake):  # noqa: F811
    with QueueServer(fake.url, api_key=SECRET, lock_key="lk1") as qs:
        qs.add_secret("token-abc")
        assert set(qs.secrets) == {SECRET, "lk1", "token-abc"}


def test_a_zeromq_port_is_named_and_the_http_port_pointed_to(capsys):
    """RE Manager's 0MQ sockets greet each connection with ZMTP's signature; nothing is sent back."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f")
            conn.settimeout(2)
            try:
                received.append(conn.recv(1024))
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert run(["qserver", "queue", "--port", str(port)]) == 6
        err = " ".join(capsys.readouterr().err.split())
        assert "ZeroMQ socket" in err and "60610" in err and "tether scan" in err
    finally:
        thread.join(3)
        listener.close()
    assert received and all(b"/api/" not in r for r in received)  # the probe only, never a command
