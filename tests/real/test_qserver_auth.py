"""Logins against a real HTTP server with the dictionary ("toy") authenticator configured, in
front of the session's RE Manager: tokens stored 0600, refreshed, revoked; API keys made, used, deleted."""

from __future__ import annotations

import io
import json
import os
import stat
import time
import urllib.request

import pytest

from tether.cli import run

from . import apps
from .test_qserver_cli import KEY_VARS

pytestmark = pytest.mark.real

USER, PASSWORD = "alice", "alicepw" + "x7q2"
CONFIG = f"""
authentication:
  providers:
    - provider: toy
      authenticator: bluesky_httpserver.authenticators:DictionaryAuthenticator
      args:
        users_to_passwords:
          {USER}: {PASSWORD}
api_access:
  policy: bluesky_httpserver.authorization:DictionaryAPIAccessControl
  args:
    users:
      {USER}:
        roles: [admin, expert]
"""
ACCESS_TOKEN_AGE = 12  # seconds: short, so that a test sees the token refreshed


@pytest.fixture(scope="module")
def login_server(qserver_app, tmp_path_factory):
    """A second HTTP server, with a login provider, for the same RE Manager."""
    workdir = tmp_path_factory.mktemp("qserver-login")
    (workdir / "config.yml").write_text(CONFIG)
    (port,) = apps.free_ports(1)
    env = {
        "QSERVER_HTTP_SERVER_CONFIG": str(workdir / "config.yml"),
        "QSERVER_HTTP_SERVER_DATABASE_URI": f"sqlite:///{workdir / 'auth.sqlite'}",
        "QSERVER_HTTP_SERVER_ACCESS_TOKEN_MAX_AGE": str(ACCESS_TOKEN_AGE),
        "QSERVER_ZMQ_CONTROL_ADDRESS": qserver_app.zmq_control,
        "QSERVER_ZMQ_INFO_ADDRESS": qserver_app.zmq_info,
    }
    argv = [apps.venv_bin("start-bluesky-httpserver"), "--host", "127.0.0.1", "--port", str(port)]
    proc = apps.spawn("HTTP server with logins", argv, workdir / "httpserver.log", env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=2) as resp:
            return "/api/auth/provider/toy/token" in json.load(resp)["paths"]

    try:
        apps.wait_for("the HTTP server with a login provider", ready, 60, proc)
        yield url
    finally:
        proc.stop(grace=5)


@pytest.fixture
def env(monkeypatch, tmp_path, login_server):
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "qserver-tokens.json"


def tq(url: str, *args: str) -> list[str]:
    return ["qserver", *args, "--url", url]


def login(monkeypatch, url: str, password: str = PASSWORD, *extra: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run(tq(url, "login", "--username", USER, "--password-stdin", *extra))


def test_login_works_with_commands_refreshes_and_logout_revokes(login_server, env, monkeypatch, capfd):
    assert login(monkeypatch, login_server) == 0
    captured = capfd.readouterr()
    assert f"logged in as {USER} (toy)" in captured.out
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    stored = json.loads(env.read_text())[login_server]
    for secret in (stored["access_token"], stored["refresh_token"], PASSWORD):
        assert secret not in captured.out + captured.err

    assert run(tq(login_server, "queue", "--json", "-v")) == 0  # the token works, -v masks it
    captured = capfd.readouterr()
    assert "items" in json.loads(captured.out) and "Bearer ***" in captured.err
    assert stored["access_token"] not in captured.err and stored["refresh_token"] not in captured.err
    assert run(tq(login_server, "whoami", "--json")) == 0
    who = json.loads(capfd.readouterr().out)
    assert any(i["id"] == USER for i in who["identities"]) and "admin" in who["roles"]

    time.sleep(ACCESS_TOKEN_AGE - 10 + 1)  # within the refresh margin: the next command refreshes first
    assert run(tq(login_server, "status", "--json")) == 0
    assert json.loads(capfd.readouterr().out)["manager"]["msg"].startswith("RE Manager")
    refreshed = json.loads(env.read_text())[login_server]
    assert refreshed["access_token"] != stored["access_token"]

    assert run(tq(login_server, "logout", "--json")) == 0
    assert json.loads(capfd.readouterr().out) == {"logged_out": True, "session_revoked": True}
    assert login_server not in json.loads(env.read_text())
    revoked = urllib.request.Request(
        f"{login_server}/api/auth/session/refresh",
        data=json.dumps({"refresh_token": refreshed["refresh_token"]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(revoked, timeout=5)
    assert err.value.code == 401  # the session is gone on the server too
    assert run(tq(login_server, "queue")) == 5  # logged out: no credentials left


def test_a_wrong_password_exits_5_and_is_never_printed(login_server, env, monkeypatch, capfd):
    wrong = "notit" + "9q8w7e"
    assert login(monkeypatch, login_server, wrong) == 5
    captured = capfd.readouterr()
    assert wrong not in captured.out + captured.err
    assert "Incorrect username or password" in captured.err and "toy" in captured.err
    assert not env.exists() or login_server not in json.loads(env.read_text())
    assert login(monkeypatch, login_server, wrong, "-v") == 5
    captured = capfd.readouterr()
    assert wrong not in captured.out + captured.err and "***" in captured.err
    odd = "a b&c=d%" + wrong  # sent form-encoded: masked in that form too
    assert login(monkeypatch, login_server, odd, "-v") == 5
    captured = capfd.readouterr()
    assert "9q8w7e" not in captured.out + captured.err
    assert (
        login(monkeypatch, login_server, PASSWORD, "--provider", "nosuch") == 1
    )  # refused: no such provider
    assert "toy" in " ".join(capfd.readouterr().err.split())
    assert not env.exists() or login_server not in json.loads(env.read_text())


def test_an_api_key_created_used_and_deleted(login_server, env, monkeypatch, capfd):
    assert login(monkeypatch, login_server) == 0
    capfd.readouterr()
    assert (
        run(tq(login_server, "apikey", "new", "--note", "tether test", "--expires-in", "600", "--json")) == 0
    )
    key = json.loads(capfd.readouterr().out)
    secret, first_eight = key["secret"], key["first_eight"]
    assert secret.startswith(first_eight) and key["note"] == "tether test"
    try:
        monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", secret)
        assert run(tq(login_server, "queue", "--json")) == 0  # the key works on its own
        assert "items" in json.loads(capfd.readouterr().out)
        assert run(tq(login_server, "apikey", "info", "--json")) == 0
        info = json.loads(capfd.readouterr().out)
        assert info["first_eight"] == first_eight and secret not in json.dumps(info)
    finally:
        monkeypatch.delenv("QSERVER_HTTP_SERVER_API_KEY")
        assert run(tq(login_server, "apikey", "delete", first_eight)) == 0
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", secret)
    capfd.readouterr()
    assert run(tq(login_server, "queue")) == 5  # deleted: refused
    assert secret not in capfd.readouterr().err
    monkeypatch.delenv("QSERVER_HTTP_SERVER_API_KEY")
    assert run(tq(login_server, "principals", "--json")) == 0
    known = json.loads(capfd.readouterr().out)
    mine = next(p for p in known if any(i["id"] == USER for i in p["identities"]))
    assert run(tq(login_server, "principals", mine["uuid"], "--json")) == 0
    assert json.loads(capfd.readouterr().out)["uuid"] == mine["uuid"]
    assert run(tq(login_server, "apikey", "new", "--principal", mine["uuid"], "--json")) == 0
    made = json.loads(capfd.readouterr().out)
    assert made["secret"].startswith(made["first_eight"])
    assert run(tq(login_server, "apikey", "delete", made["first_eight"])) == 0
    assert run(tq(login_server, "logout")) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["apikey", "delete", "xyz"],
        ["apikey", "delete", "0123456789"],
        ["login", "--username", USER, "--provider", "nosuch", "--password-stdin"],
    ],
)
def test_bad_login_and_apikey_input_exits_2_or_is_refused_and_changes_nothing(
    login_server, env, monkeypatch, args
):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # an empty password
    assert run(tq(login_server, *args)) == 2
    assert not env.exists()


def test_a_login_over_ssh_outlives_its_forward(login_server, env, monkeypatch, capfd, sshd):
    """Logged in through an ssh:// host, the tokens are filed under that host and the server's
    address there, not under the forward's local port: a new forward (another local port, once
    the ControlMaster has gone) still finds them, and no local server on the old port gets them."""
    from tether.ssh import Ssh

    monkeypatch.setenv("TETHER_SSH_CONFIG", str(sshd.config))
    port = login_server.rsplit(":", 1)[1]
    there = ["--host", sshd.url, "--port", port]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    try:
        assert run(["qserver", "login", "--username", USER, "--password-stdin", *there]) == 0
        assert list(json.loads(env.read_text())) == [f"{sshd.url} 127.0.0.1:{port}"]
        Ssh(sshd.url).close()  # the master and its forwards are gone: the next command makes new ones
        capfd.readouterr()
        assert run(["qserver", "whoami", "--json", *there]) == 0
        assert any(i["id"] == USER for i in json.loads(capfd.readouterr().out)["identities"])
        assert run(["qserver", "logout", "--json", *there]) == 0
        assert json.loads(env.read_text()) == {}
    finally:
        Ssh(sshd.url).close()
