"""`--host ssh://…` against a real OpenSSH server (Debian's openssh-server) on a loopback port.

The sshd runs in the foreground (``-D``) on a free 127.0.0.1 port with a throwaway host key, an
authorized key made for the test, ``StrictModes no`` and ``UsePAM no``, and logs at DEBUG to a
file, where the forwarded channels show (``server_request_direct_tcpip … target … port N``).
The client side is named only through ``$TETHER_SSH_CONFIG``: that file's IdentityFile and
UserKnownHostsFile. The sshd (tests/real/conftest.py, one per session) is stopped by pid at the end.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tether.ssh import Ssh, wait_gone

from . import apps
from .conftest import Sshd

pytestmark = pytest.mark.real


@pytest.fixture
def ssh_env(sshd, monkeypatch, tmp_path):
    monkeypatch.setenv("TETHER_SSH_CONFIG", str(sshd.config))
    monkeypatch.setenv("TETHER_SSH_PERSIST", "3")  # idle seconds before the ControlMaster exits
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    yield sshd
    Ssh(sshd.url).close()


def tether(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def forwarded_to(sshd: Sshd, port: int) -> bool:
    return f"target 127.0.0.1 port {port}" in sshd.log_text()


@pytest.mark.parametrize("how", ["tether on the host", "ss and /proc"])
def test_scan_over_ssh_lists_the_real_apps(ssh_env, igv_app, firefox_app, qserver_app, how):
    env = {"TETHER_SSH_REMOTE_TETHER": "1" if how == "tether on the host" else "0"}
    proc = tether("scan", "--host", ssh_env.url, "--json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)
    by_port = {(r["app"], r["port"]): r for r in rows}
    for app, fixture in (("igv", igv_app), ("firefox", firefox_app), ("qserver", qserver_app)):
        row = by_port.get((app, fixture.port))
        assert row is not None, f"{app} on port {fixture.port} missing over ssh ({how}): {rows}"
        assert row["confidence"] == "verified" and row["pid"] == fixture.pid
        assert row["host"] == ssh_env.url  # each row names its host
    if how == "tether on the host":
        assert by_port[("igv", igv_app.port)]["extra"]["via"] == "tether on the host"
    else:  # probed here, through forwards: the server saw the channels
        for fixture in (igv_app, firefox_app, qserver_app):
            assert forwarded_to(ssh_env, fixture.port), fixture


def test_commands_through_the_forward(ssh_env, igv_app, firefox_app, qserver_app):
    host = ("--host", ssh_env.url)
    nav = tether(
        "firefox",
        "navigate",
        "data:text/html,<title>over ssh</title>",
        *host,
        "--port",
        str(firefox_app.port),
    )
    assert nav.returncode == 0, nav.stderr
    title = tether("firefox", "title", *host, "--port", str(firefox_app.port), "--json")
    assert title.returncode == 0, title.stderr
    assert json.loads(title.stdout) == {"title": "over ssh"}
    goto = tether("igv", "goto", "chr1:2,000-3,000", *host, "--port", str(igv_app.port), "--json")
    assert goto.returncode == 0, goto.stderr
    assert json.loads(goto.stdout)["reply"] == "OK"
    status = tether(
        "qserver", "status", *host, "--port", str(qserver_app.port), "--json",
        env={"QSERVER_HTTP_SERVER_API_KEY": qserver_app.api_key},
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["extra"]["ssh"] == ssh_env.url and data["extra"]["remote_port"] == qserver_app.port
    assert data["manager"]["manager_state"], data
    for fixture in (igv_app, firefox_app, qserver_app):
        assert forwarded_to(ssh_env, fixture.port), f"no forwarded channel to {fixture.port} in the sshd log"


def _tether_without(hidden: list[Path], *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``tether ARGS`` run where ``hidden`` are empty directories: in a mount namespace of its own
    with a tmpfs over each, as on a laptop that has none of the host's files. The sshd, and the
    apps, still see the real ones."""
    script = (
        'for d in "$@"; do [ "$d" = -- ] && break; mount -t tmpfs tmpfs "$d" || exit 97; shift; done; '
        'shift; exec "$@"'
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         *map(str, hidden), "--", sys.executable, "-m", "tether", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_fallback_reads_the_apps_files_on_the_host(ssh_env, igv_app, firefox_app):
    """Without tether on the host, Firefox's MarionetteActivePort and IGV's prefs.properties are
    read there, over ssh: the local tether runs where the profile and the IGV directory are empty."""
    hidden = [firefox_app.profile, igv_app.igv_dir]
    apps_ = ("--app", "firefox", "--app", "igv")
    here = _tether_without(hidden, "scan", "--json", *apps_)
    assert here.returncode == 0, here.stdout + here.stderr  # the control: this side lacks the files
    local = {r["port"]: r for r in json.loads(here.stdout)}
    assert "MarionetteActivePort" not in local.get(firefox_app.port, {}).get("detail", "")
    assert "prefs.properties" not in local[igv_app.port]["detail"], local[igv_app.port]
    proc = _tether_without(
        hidden, "scan", "--host", ssh_env.url, "--json", *apps_, env={"TETHER_SSH_REMOTE_TETHER": "0"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["port"]: r for r in json.loads(proc.stdout)}
    ff, igv = rows[firefox_app.port], rows[igv_app.port]
    assert ff["confidence"] == "verified" and igv["confidence"] == "verified"
    assert f"{firefox_app.profile}/MarionetteActivePort" in ff["detail"], ff
    assert "prefs.properties" in igv["detail"], igv
    assert ff["version"] and ff["version"][0].isdigit(), ff  # application.ini, found by /proc/PID/exe there


def test_an_igv_snapshot_over_ssh_arrives_here(ssh_env, igv_app, tmp_path):
    """IGV writes the snapshot on its machine (a private temporary directory there); tether copies
    it to the path named here and removes it there."""
    before = {p for p in Path("/tmp").glob("tmp.*") if p.is_dir()}
    out = tmp_path / "here" / "view.png"
    out.parent.mkdir()
    proc = tether("igv", "snapshot", str(out), "--host", ssh_env.url, "--port", str(igv_app.port), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"file": str(out), "bytes": out.stat().st_size}
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    left = {p for p in Path("/tmp").glob("tmp.*") if p.is_dir()} - before
    assert not [p for p in left if (p / "view.png").exists()], left
    assert forwarded_to(ssh_env, igv_app.port)


@pytest.mark.parametrize("how", ["tether on the host", "ss and /proc"])
def test_a_webdriver_bidi_session_on_the_host_is_left_alone(ssh_env, bidi_firefox, how):
    """Marionette ends a BiDi client's session when a connection that only read its greeting
    closes: over ssh too, the scan and a command must see the client there and not connect."""
    from tether_firefox.bidi import BiDi

    env = {"TETHER_SSH_REMOTE_TETHER": "1" if how == "tether on the host" else "0"}
    port = str(bidi_firefox.port)
    with BiDi.open(bidi_firefox.bidi_port) as holder:
        scan = tether("scan", "--host", ssh_env.url, "--json", "--app", "firefox", env=env)
        assert scan.returncode == 0, scan.stdout + scan.stderr
        rows = [r for r in json.loads(scan.stdout) if r["port"] == bidi_firefox.port]
        assert [r["confidence"] for r in rows] == ["busy"], rows
        title = tether("firefox", "title", "--host", ssh_env.url, "--port", port, env=env)
        assert title.returncode == 4 and "WebDriver BiDi" in title.stderr, title.stdout + title.stderr
        assert holder.command("session.status")["ready"] is False  # the holder's session is still there
    title = tether("firefox", "title", "--host", ssh_env.url, "--port", port, "--json", env=env)
    assert title.returncode == 0, title.stderr


def test_the_host_files_reader(ssh_env, tmp_path):
    """What hints read through: a file's text and bytes, a name that needs quoting, the limit,
    a missing file or a directory (None), the host's $HOME, a temporary directory made and removed."""
    files = Ssh(ssh_env.url).files()
    odd = tmp_path / "it's a $name; with `quotes`"
    odd.write_text("PORT_NUMBER=60151\n")
    assert files.read_text(odd) == "PORT_NUMBER=60151\n"
    assert files.read_text(odd, limit=5) is None
    assert files.read_text(tmp_path / "missing") is None and files.read_text(tmp_path) is None
    blob = bytes(range(256)) * 64
    (tmp_path / "blob").write_bytes(blob)
    assert files.read_bytes(tmp_path / "blob") == blob
    assert files.home() == "/root"  # the ssh user's, as sshd set it
    assert files.readlink("/proc/self/exe") and files.which("sh")
    made = files.temp_dir()
    assert Path(made).is_dir() and oct(Path(made).stat().st_mode & 0o777) == "0o700"
    files.remove(made)
    assert not Path(made).exists()


def test_no_port_finds_the_app_by_scanning_the_host(ssh_env, igv_app):
    # several IGVs may run on this shared machine: ask for ours by its port, found through the scan
    proc = tether("igv", "status", "--host", ssh_env.url, "--json")
    if proc.returncode == 2:  # ambiguous: more than one IGV on the host, each listed
        assert str(igv_app.port) in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["extra"]["remote_port"] == igv_app.port


def test_python_api_over_ssh(ssh_env, igv_app):
    import tether as t

    eps = t.scan(["igv"], host=ssh_env.url)
    assert any(e.port == igv_app.port and e.verified for e in eps)
    igv = t.connect("igv", host=ssh_env.url, port=igv_app.port)
    assert igv.echo("over-ssh") == "over-ssh"


def test_the_master_is_reused_then_gone_after_the_idle_time(ssh_env, igv_app):
    ssh = Ssh(ssh_env.url)
    first = tether("igv", "echo", "--host", ssh_env.url, "--port", str(igv_app.port))
    assert first.returncode == 0, first.stderr
    pid = ssh.master_pid()
    assert pid is not None
    again = tether("igv", "echo", "--host", ssh_env.url, "--port", str(igv_app.port))
    assert again.returncode == 0 and ssh.master_pid() == pid  # one ControlMaster per host, reused
    assert ssh_env.log_text().count("Accepted publickey") >= 1
    assert wait_gone(pid, 3 + 5), "the ControlMaster outlived its ControlPersist idle time"
    assert ssh.master_pid() is None and not ssh.control.exists()


def test_a_wrong_key_exits_5(ssh_env, igv_app):
    proc = tether(
        "igv", "echo", "--host", ssh_env.url, "--port", str(igv_app.port),
        "--ssh-config", str(ssh_env.dir / "wrong_config"),
    )  # fmt: skip
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "Permission denied" in proc.stderr and "Traceback" not in proc.stderr
    scan = tether(
        "scan", "--host", ssh_env.url, "--json", env={"TETHER_SSH_CONFIG": str(ssh_env.dir / "wrong_config")}
    )
    assert scan.returncode == 5 and json.loads(scan.stdout)["error"] == "AuthError"


def test_an_unknown_host_key_exits_5_at_once(ssh_env, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        ssh_env.config.read_text().replace(
            str(ssh_env.dir / "known_hosts"), str(tmp_path / "empty_known_hosts")
        )
    )
    started = time.monotonic()
    proc = tether("scan", "--host", ssh_env.url, "--ssh-config", str(config))
    assert proc.returncode == 5 and "Host key verification failed" in proc.stderr
    assert time.monotonic() - started < 10


def test_a_host_that_does_not_answer_exits_4_within_the_deadline(ssh_env):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts (the kernel's backlog) and never says a word
    stop = threading.Event()
    try:
        started = time.monotonic()
        proc = tether(
            "igv", "echo", "--host", f"ssh://root@127.0.0.1:{silent.getsockname()[1]}", "--timeout", "3"
        )
        took = time.monotonic() - started
    finally:
        stop.set()
        silent.close()
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "did not answer" in proc.stderr
    assert took < 3 + 3, f"took {took:.1f} s for a 3 s deadline"  # + interpreter start-up


def test_a_refused_port_exits_4(ssh_env):
    port = apps.free_port()
    proc = tether("scan", "--host", f"ssh://root@127.0.0.1:{port}", "--host", ssh_env.url, "--json")
    assert proc.returncode == 4  # one host failed: the other's rows are printed, the exit code says so
    assert f"127.0.0.1:{port}" in proc.stderr and "Connection refused" in proc.stderr
    rows = json.loads(proc.stdout)  # the failed host is a row too, with its error (a fleet's listing)
    (failed,) = [r for r in rows if r.get("error")]
    assert failed["host"] == f"ssh://root@127.0.0.1:{port}" and failed["error"]["exit_code"] == 4
    assert all(r["host"] == ssh_env.url for r in rows if not r.get("error"))


def test_parallel_commands_from_cold_share_one_master(ssh_env, igv_app):
    import psutil

    ssh = Ssh(ssh_env.url)
    ssh.close()
    assert ssh.master_pid() is None
    argv = [sys.executable, "-m", "tether", "igv", "echo", "--host", ssh_env.url, "--port", str(igv_app.port)]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "echo"
    ssh_procs = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and f"ControlPath={ssh.control}" in p.info["cmdline"]
    ]
    assert [p.pid for p in ssh_procs] == [ssh.master_pid()], [p.info["cmdline"] for p in ssh_procs]


def test_an_mcp_tool_reaches_a_remote_app_only_when_its_host_is_named(ssh_env, igv_app):
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "tether", "mcp"], env=dict(os.environ))

    async def go():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            goto = await client.call_tool(
                "igv_goto", {"loci": ["chr2:1-500"], "host": ssh_env.url, "port": igv_app.port}
            )
            snap = await client.call_tool("igv_snapshot", {"host": ssh_env.url, "port": igv_app.port})
            return goto, snap

    before = ssh_env.log_text().count(f"target 127.0.0.1 port {igv_app.port}")
    result, snap = anyio.run(go)
    assert not result.is_error, result.content[0].text
    assert json.loads(result.content[0].text)["reply"] == "OK"
    assert ssh_env.log_text().count(f"target 127.0.0.1 port {igv_app.port}") > before
    # IGV's snapshot on the host comes back as the tool's image
    assert not snap.is_error, snap.content[0].text
    image = snap.content[1]
    assert image.type == "image" and image.mime_type == "image/png"
    assert base64.b64decode(image.data).startswith(b"\x89PNG\r\n\x1a\n")
