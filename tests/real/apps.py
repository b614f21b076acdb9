"""Start the real apps for tests — IGV under Xvfb, headless Firefox with Marionette, and
redis + RE Manager + the Bluesky HTTP server — each on free ports, each waited for by
probing its own protocol, each stopped by pid (its whole process group) even when a test fails.

This module deliberately does not use tether to start or wait for the apps: the tests must
see what tether finds, not what it launched. Raw sockets and urllib only.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

IGV_JAR = "/usr/share/java/igv.jar"
IGV_MAIN = "org.broad.igv.ui.Main"
TINY_GENOME = {"chr1": 50_000, "chr2": 20_000}

_started: list[Proc] = []


class AppMissing(RuntimeError):
    """An app (or its package) is not installed on this machine."""


class AppFailed(RuntimeError):
    """An app was started but did not become ready; the message carries its log tail."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: all are held bound until every one is chosen.

    Binding and closing one socket at a time can hand back the same port twice (CI once gave the
    HTTP server the RE Manager's 0MQ control port). Another process can still take a port in the
    window before the app binds it; callers that start several listeners retry on that.
    """
    held = []
    try:
        for _ in range(count):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def venv_bin(name: str) -> str:
    """A console script of the test environment (the venv running pytest), else PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise AppMissing(f"{name} is not installed (pip install -e '.[test]')")
    return found


def need_binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise AppMissing(f"{name} is not installed (Debian package {package})")
    return found


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Proc:
    """A started process, in its own session so that stopping it stops its children too."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Children that outlived the leader (same process group) go too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self in _started:
            _started.remove(self)


def spawn(
    name: str, argv: list[str], log: Path, *, env: dict | None = None, cwd: Path | None = None, **kw
) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            **kw,
        )
    proc = Proc(name, popen, log)
    _started.append(proc)
    return proc


@atexit.register
def _stop_everything() -> None:  # the last line of defence if a fixture's finalizer never ran
    for proc in list(reversed(_started)):
        proc.stop(grace=2.0)


def wait_for(what: str, check, timeout: float, proc: Proc | None = None, interval: float = 0.1):
    """Call ``check()`` until it returns a truthy value; fail with the process's log tail."""
    end = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < end:
        if proc is not None and not proc.alive():
            raise AppFailed(
                f"{proc.name} exited (code {proc.popen.returncode}) before {what}:\n{log_tail(proc.log)}"
            )
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not ready yet
            last_exc = exc
        time.sleep(interval)
    tail = log_tail(proc.log) if proc else ""
    raise AppFailed(f"timed out after {timeout:g} s waiting for {what} (last error: {last_exc})\n{tail}")


def line_query(port: int, command: str, timeout: float = 2.0) -> str:
    """One raw line command on a fresh connection (IGV's port); returns the reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(command.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()


# --------------------------------------------------------------------------- Xvfb
@dataclass
class Display:
    proc: Proc
    number: int

    @property
    def name(self) -> str:
        return f":{self.number}"

    def stop(self) -> None:
        self.proc.stop()


def start_xvfb(workdir: Path) -> Display:
    xvfb = need_binary("Xvfb", "xvfb")
    read_fd, write_fd = os.pipe()
    proc = spawn(
        "Xvfb",
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        workdir / "xvfb.log",
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    try:
        deadline = time.monotonic() + 15
        data = b""
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_fd)
    if not data.strip().isdigit():
        proc.stop()
        raise AppFailed(f"Xvfb did not report a display:\n{log_tail(proc.log)}")
    return Display(proc, int(data.strip()))


# --------------------------------------------------------------------------- IGV
def write_tiny_genome(directory: Path) -> Path:
    """An indexed FASTA (chr1 50,000 bp, chr2 20,000 bp, 60 bases a line) and its .fai."""
    directory.mkdir(parents=True, exist_ok=True)
    fasta, fai = directory / "tiny.fa", directory / "tiny.fa.fai"
    rng = __import__("random").Random(7)
    offset, fasta_parts, fai_lines = 0, [], []
    for name, length in TINY_GENOME.items():
        header = f">{name}\n"
        offset += len(header)
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        lines = [seq[i : i + 60] for i in range(0, length, 60)]
        body = "\n".join(lines) + "\n"
        fai_lines.append(f"{name}\t{length}\t{offset}\t60\t61\n")
        fasta_parts.append(header + body)
        offset += len(body)
    fasta.write_text("".join(fasta_parts))
    fai.write_text("".join(fai_lines))
    return fasta


@dataclass
class IGVApp:
    host: str
    port: int
    pid: int
    igv_dir: Path
    genome: Path
    workdir: Path
    display: Display | None
    proc: Proc = field(repr=False)
    log: Path = field(default=Path(), repr=False)

    def alive(self) -> bool:
        return self.proc.alive()

    def stop(self) -> None:
        self.proc.stop()
        if self.display is not None:
            self.display.stop()


def write_igv_prefs(igv_dir: Path, genome: Path, port: int) -> None:
    """Preferences for a dialog-free offline start (no download, no update check, no first-run dialog)."""
    igv_dir.mkdir(parents=True, exist_ok=True)
    genomes_tsv = genome.parent / "genomes.tsv"
    genomes_tsv.touch()
    (igv_dir / "prefs.properties").write_text(
        f"IGV.genome.sequence.dir={genomes_tsv}\n"
        "SHOW_GENOME_SERVER_WARNING=FALSE\n"
        f"DEFAULT_GENOME_KEY={genome}\n"
        "PORT_ENABLED=TRUE\n"
        f"PORT_NUMBER={port}\n"
    )


def start_igv(
    workdir: Path, *, port: int | None = None, display: Display | None = None, timeout: float = 60
) -> IGVApp:
    """IGV (Debian's package) on a free port under its own Xvfb, ready when ``goto`` answers ``OK``."""
    java = need_binary("java", "default-jre")
    if not Path(IGV_JAR).exists():
        raise AppMissing(f"{IGV_JAR} is missing (Debian package igv)")
    workdir.mkdir(parents=True, exist_ok=True)
    genome = write_tiny_genome(workdir / "genome")
    port = port or free_port()
    igv_dir = workdir / "igvdir"
    write_igv_prefs(igv_dir, genome, port)
    own_display = display is None
    display = display or start_xvfb(workdir)
    try:
        proc = spawn(
            "IGV",
            [java, "-Xmx512m", "-cp", IGV_JAR, IGV_MAIN, "--igvDirectory", str(igv_dir)],
            workdir / "igv.log",
            env={"DISPLAY": display.name},
            cwd=workdir,
        )
        wait_for(
            "IGV to answer echo", lambda: line_query(port, "echo") == "echo", timeout, proc, interval=0.25
        )
        wait_for(
            "IGV to load its genome (goto OK)",
            lambda: line_query(port, "goto chr1:1-100", 10) == "OK",
            timeout,
            proc,
        )
    except BaseException:
        if own_display:
            display.stop()
        raise
    return IGVApp(
        "127.0.0.1",
        port,
        proc.pid,
        igv_dir,
        genome,
        workdir,
        display if own_display else None,
        proc,
        proc.log,
    )


# --------------------------------------------------------------------------- Firefox
FIREFOX_PREFS = {
    "marionette.port": 0,
    "browser.startup.page": 0,  # about:blank, from which data: URLs may be opened
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
}


def firefox_binary() -> str:
    for name in ("firefox-esr", "firefox"):
        if found := shutil.which(name):
            return found
    raise AppMissing("Firefox is not installed (Debian package firefox-esr)")


def marionette_greeting(port: int, timeout: float = 2.0) -> dict | None:
    """The Marionette greeting on a fresh connection, or None when closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while (
            b":" not in data or len(data) < int(data.split(b":", 1)[0] or 0) + len(data.split(b":", 1)[0]) + 1
        ):
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
        length, rest = data.split(b":", 1)
        return json.loads(rest[: int(length)])


def marionette_roundtrip(port: int, commands: list[tuple[str, dict]], timeout: float = 30.0) -> list:
    """Run Marionette commands on one fresh connection; return the replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        buf = b""

        def frame():
            nonlocal buf
            while True:
                if b":" in buf:
                    length, rest = buf.split(b":", 1)
                    if len(rest) >= int(length):
                        buf = rest[int(length) :]
                        return json.loads(rest[: int(length)])
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("Marionette closed the connection")
                buf += chunk

        frame()  # greeting
        replies = []
        for i, (name, params) in enumerate(commands, 1):
            body = json.dumps([0, i, name, params]).encode()
            s.sendall(str(len(body)).encode() + b":" + body)
            replies.append(frame())
        return replies


@dataclass
class FirefoxApp:
    host: str
    port: int
    pid: int
    profile: Path
    binary: str
    proc: Proc = field(repr=False)
    log: Path = field(default=Path(), repr=False)

    def alive(self) -> bool:
        return self.proc.alive()

    def stop(self) -> None:
        self.proc.stop(grace=10)


def start_firefox(
    workdir: Path,
    *,
    port: int = 0,
    args: tuple[str, ...] = (),
    prefs: dict | None = None,
    timeout: float = 60,
) -> FirefoxApp:
    """Headless Firefox with Marionette as geckodriver starts it (``marionette.port`` 0 unless ``port``).

    Ready when a session can be opened (the port opens ~0.35 s in, sessions are accepted ~2 s in);
    the probe session is deleted again, so the browser is free for the tests.
    """
    binary = firefox_binary()
    profile = workdir / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    all_prefs = {**FIREFOX_PREFS, "marionette.port": port, **(prefs or {})}
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in all_prefs.items())
    )
    proc = spawn(
        "Firefox",
        [binary, "--headless", "--marionette", "--no-remote", "--profile", str(profile), *args],
        workdir / "firefox.log",
        env={"MOZ_CRASHREPORTER_DISABLE": "1"},
    )
    port_file = profile / "MarionetteActivePort"

    def active_port():
        text = port_file.read_text().strip()
        return int(text) if text.isdigit() else None

    try:
        real_port = wait_for("MarionetteActivePort", active_port, timeout, proc)

        def session_ok():
            replies = marionette_roundtrip(
                real_port, [("WebDriver:NewSession", {}), ("WebDriver:DeleteSession", {})]
            )
            return replies[0][2] is None

        wait_for("a Marionette session", session_ok, timeout, proc, interval=0.25)
        wait_for(
            "the greeting after the probe session",
            lambda: marionette_greeting(real_port) is not None,
            15,
            proc,
            0.1,
        )
    except BaseException:
        proc.stop()
        raise
    return FirefoxApp("127.0.0.1", real_port, proc.pid, profile, binary, proc, proc.log)


# --------------------------------------------------------------------------- Bluesky queue server
@dataclass
class QServerApp:
    host: str
    port: int
    pid: int  # the HTTP server's
    api_key: str
    url: str
    redis_port: int
    zmq_control: str
    zmq_info: str
    workdir: Path
    redis: Proc = field(repr=False)
    manager: Proc = field(repr=False)
    http: Proc = field(repr=False)
    manager_argv: list[str] = field(default_factory=list, repr=False)

    @property
    def manager_pid(self) -> int:
        return self.manager.pid

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> dict:
        """A raw API call (urllib), for tests to check state behind tether's back."""
        req = urllib.request.Request(
            f"{self.url}/api{path}",
            data=json.dumps(body or {}).encode(),
            method=method,
            headers={"Authorization": f"ApiKey {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def status(self) -> dict:
        return self.request("GET", "/status", {"reload": True})

    def stop_manager(self) -> None:
        self.manager.stop(grace=10)

    def start_manager(self, timeout: float = 60) -> None:
        self.manager = spawn(
            "RE Manager", self.manager_argv, self.workdir / "re-manager.log", cwd=self.workdir
        )
        wait_for(
            "RE Manager behind the HTTP server",
            lambda: self.status().get("manager_state"),
            timeout,
            self.manager,
            0.25,
        )

    def alive(self) -> bool:
        return self.http.alive() and self.manager.alive() and self.redis.alive()

    def stop(self) -> None:
        for proc in (self.http, self.manager, self.redis):
            proc.stop(grace=10)


def start_qserver(workdir: Path, *, timeout: float = 90, attempts: int = 3) -> QServerApp:
    """redis-server + RE Manager (simulated profile, console published) + the HTTP server with an API key.

    Four listeners on ports chosen up front: if one was taken in the meantime ("address already
    in use" in a log), everything is stopped and started again on new ports, up to ``attempts``.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start_qserver_once(workdir / f"try{attempt}" if attempt > 1 else workdir, timeout)
        except AppFailed as exc:
            if attempt == attempts or not _port_collision(str(exc)):
                raise
    raise AssertionError("unreachable")


def _port_collision(log: str) -> bool:
    return "address already in use" in log.lower() or "Errno 98" in log


def _start_qserver_once(workdir: Path, timeout: float) -> QServerApp:
    redis_bin = need_binary("redis-server", "redis-server")
    manager_bin, http_bin = venv_bin("start-re-manager"), venv_bin("start-bluesky-httpserver")
    workdir.mkdir(parents=True, exist_ok=True)
    redis_port, control, info, http_port = free_ports(4)
    api_key = "tether" + secrets.token_hex(8)  # must be alphanumeric
    redis = spawn(
        "redis",
        [
            redis_bin,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        workdir / "redis.log",
    )
    procs = [redis]
    try:
        wait_for("redis", lambda: _redis_ping(redis_port), 20, redis)
        zmq_control, zmq_info = f"tcp://127.0.0.1:{control}", f"tcp://127.0.0.1:{info}"
        manager_argv = [
            manager_bin,
            "--redis-addr", f"127.0.0.1:{redis_port}",
            "--redis-name-prefix", f"tether_{secrets.token_hex(4)}",
            "--zmq-control-addr", zmq_control,
            "--zmq-info-addr", zmq_info,
            "--zmq-publish-console", "ON",
        ]  # fmt: skip
        manager = spawn("RE Manager", manager_argv, workdir / "re-manager.log", cwd=workdir)
        procs.append(manager)
        http = spawn(
            "HTTP server",
            [http_bin, "--host", "127.0.0.1", "--port", str(http_port)],
            workdir / "httpserver.log",
            env={
                "QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY": api_key,
                "QSERVER_ZMQ_CONTROL_ADDRESS": zmq_control,
                "QSERVER_ZMQ_INFO_ADDRESS": zmq_info,
            },
            cwd=workdir,
        )
        procs.append(http)
        app = QServerApp(
            "127.0.0.1", http_port, http.pid, api_key, f"http://127.0.0.1:{http_port}", redis_port,
            zmq_control, zmq_info, workdir, redis, manager, http, manager_argv,
        )  # fmt: skip

        def ready():
            if not manager.alive():
                raise AppFailed(f"RE Manager exited:\n{log_tail(manager.log)}")
            return app.status().get("manager_state") == "idle"

        wait_for("the HTTP server and RE Manager (status idle)", ready, timeout, http, 0.25)
        return app
    except BaseException:
        for proc in reversed(procs):
            proc.stop(grace=5)
        raise


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def run_example_test(name: str, firefox_port: int, timeout: float = 120) -> subprocess.CompletedProcess:
    """``pytest examples/<name>`` in a subprocess, pointed at the Firefox on ``firefox_port``
    (the examples are the web-test team's own test modules: they must pass as written)."""
    example = Path(__file__).resolve().parents[2] / "examples" / name
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TETHER_FIREFOX_PORT": str(firefox_port)},
    )
