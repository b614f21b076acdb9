"""Start a queue server from nothing — redis, RE Manager, the HTTP server — remember it, stop it again.

:func:`launch` starts, each on a free loopback port unless told one:

- ``redis-server`` (a private one, no persistence, its files in the launch's own directory), unless
  ``redis=HOST:PORT`` names one to use;
- ``start-re-manager`` with a unique ``--redis-name-prefix`` (RE Manager keeps its queue and history
  in redis: a shared redis must not mix two managers' queues), its console published on the info
  socket (``--zmq-publish-console ON``: ``console --follow`` over 0MQ needs it), and the built-in
  simulated startup profile (``det1``, ``motor`` …) unless ``profile=DIR`` names a collection;
- bluesky-httpserver in front of it (not with ``zmq_only``), with a new API key in its environment
  (``QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY``: the server reads that one; never on a command line,
  where the process list would show it), run as ``python -m tether_qserver.httpserver``: the
  server's own start logs its settings, key included, and that wrapper masks it.

It waits until the manager answers ``status`` (through the HTTP server with the key, or on its 0MQ
socket) and records what it started with :mod:`tether.launched` (app ``"qserver"``, keyed by the
HTTP port, or the 0MQ control port with ``zmq_only``): each process's pid and start time, the
ports, addresses and logs — not the API key, which is returned once (:attr:`Launched.api_key`, not
saved) for the caller to hand on. A port taken between choosing and binding ("address already in
use" in a log) starts everything again on new ports, up to three times.

The key's two names: the HTTP server reads ``QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY``; tether, the
client, ``QSERVER_HTTP_SERVER_API_KEY`` (or ``TETHER_QSERVER_API_KEY``); bluesky-queueserver-api
0.0.13 reads only ``QSERVER_HTTP_SERVER_URI`` and takes the key in code (``set_authorization_key``).
:func:`exports` gives the shell lines that point clients at a launched server.

>>> inst = launch()                                            # doctest: +SKIP
>>> inst.url, inst.api_key
>>> stop_launched(inst.port)
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tether import launched
from tether.errors import NotFound, TetherError, Timeout, Unreachable, UsageError
from tether.launched import DataField

APP = "qserver"
READY_TIMEOUT = 90.0
ATTEMPTS = 3
#: the package's startup profile with simulated devices, which RE Manager loads without --startup-*
SIM_PROFILE = "profile_collection_sim"
PERMISSIONS = "user_group_permissions.yaml"
EXISTING = "existing_plans_and_devices.yaml"


class Launched(launched.Record):
    """A queue server tether started: RE Manager (the record's ``pid``), its HTTP server and redis."""

    port = DataField[int]("port")  # the HTTP server's, or the 0MQ control port with zmq_only
    host = DataField[str]("host", "127.0.0.1")
    url = DataField[str | None]("url")
    zmq_control = DataField[str]("zmq_control")
    zmq_info = DataField[str]("zmq_info")
    redis = DataField[str]("redis")  # HOST:PORT
    http_pid = DataField[int | None]("http_pid")
    redis_pid = DataField[int | None]("redis_pid")  # None: a redis tether did not start
    workdir = DataField[str]("workdir")
    profile = DataField[str | None]("profile")

    #: the API key of a server just launched (never saved with the record; None once loaded again)
    api_key: str | None = None

    @property
    def zmq_only(self) -> bool:
        return self.url is None

    def alive(self) -> bool:
        return launched.alive(self)

    def stop(self, timeout: float = 10.0, *, keep_log: bool = False) -> bool:
        """Stop the HTTP server, RE Manager (with its worker: the process group) and our redis, each
        by pid and start time; remove the launch's directory and forget the record (its logs too,
        unless ``keep_log``). Returns whether RE Manager was still running.

        The three are stopped at once, each in a thread (SIGTERM, up to ``timeout``, SIGKILL): each
        takes its own ~2 s to exit, and one after the other would add them up."""
        import threading

        result: dict[str, bool] = {}
        threads = [
            threading.Thread(target=lambda: result.setdefault("manager", launched.stop(self, timeout))),
            threading.Thread(
                target=launched.stop_process, args=(self.http_pid, self.data.get("http_create_time"), timeout)
            ),
            threading.Thread(
                target=launched.stop_process,
                args=(self.redis_pid, self.data.get("redis_create_time"), timeout),
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.cleanup()
        self.remove(keep_log=keep_log)
        return result.get("manager", False)

    def cleanup(self) -> None:
        """Stop what outlived RE Manager (the HTTP server, our redis) and remove the launch's directory."""
        launched.stop_process(self.http_pid, self.data.get("http_create_time"), 5.0)
        launched.stop_process(self.redis_pid, self.data.get("redis_create_time"), 5.0)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def remove(self, *, keep_log: bool = False) -> None:
        super().remove(keep_log=keep_log)
        if not keep_log:
            for log in self.logs()[1:]:
                Path(log).unlink(missing_ok=True)

    def logs(self) -> list[str]:
        """RE Manager's log, then the HTTP server's and redis's (those that exist)."""
        return [p for p in (self.log, self.data.get("http_log"), self.data.get("redis_log")) if p]

    def to_dict(self, *, with_key: bool = False) -> dict[str, Any]:
        out = super().to_dict()
        if with_key and self.api_key:
            out["api_key"] = self.api_key
        return out


def exports(rec: Launched) -> list[str]:
    """Shell lines that point tether (and bluesky-queueserver-api's URL) at ``rec``: the HTTP
    server's URL and key, or the manager's 0MQ addresses with ``zmq_only``."""
    if rec.zmq_only:
        return [
            f"export QSERVER_ZMQ_CONTROL_ADDRESS={rec.zmq_control}",
            f"export QSERVER_ZMQ_INFO_ADDRESS={rec.zmq_info}",
        ]
    lines = [f"export QSERVER_HTTP_SERVER_URI={rec.url}"]
    if rec.api_key:
        lines.append(f"export QSERVER_HTTP_SERVER_API_KEY={rec.api_key}")
    return lines


# -- finding the programs -------------------------------------------------------------------------------
def program(name: str, package: str) -> str:
    """``name`` next to this Python (a venv's bin) or on PATH; :class:`NotFound` naming the package."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    raise NotFound(
        f"{name} is not installed",
        looked_at=[str(here), "PATH"],
        hint=f"install it: {package}",
    )


def sim_profile() -> Path | None:
    """The simulated profile collection bluesky-queueserver ships (None if it is not importable)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("bluesky_queueserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SIM_PROFILE
    return path if path.is_dir() else None


def profile_args(profile: str | os.PathLike[str] | None) -> list[str]:
    """RE Manager's options for a startup profile collection directory (checked before anything starts).

    A collection without its own ``user_group_permissions.yaml`` gets the simulated profile's
    (everything allowed to the ``primary`` group); the plans and devices list is kept in the
    collection and refreshed each time the environment opens."""
    if profile is None:
        return []
    path = Path(profile).expanduser()
    if not path.is_dir():
        raise UsageError(f"--profile {profile}: no such directory")
    if not any(p.suffix in (".py", ".ipy") for p in path.iterdir()):
        raise UsageError(f"--profile {profile}: no startup files (*.py, *.ipy) in it")
    path = path.resolve()
    args = ["--startup-dir", str(path), "--update-existing-plans-devices", "ENVIRONMENT_OPEN"]
    if not (path / EXISTING).is_file():
        args += ["--existing-plans-devices", str(path / EXISTING)]
    permissions = path / PERMISSIONS
    if not permissions.is_file():
        sim = sim_profile()
        if sim is None or not (sim / PERMISSIONS).is_file():
            raise UsageError(
                f"--profile {profile} has no {PERMISSIONS}, and bluesky-queueserver's default is not found",
                hint=f"put a {PERMISSIONS} in the directory",
            )
        permissions = sim / PERMISSIONS
    return [*args, "--user-group-permissions", str(permissions)]


def parse_redis(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) of a redis to use; :class:`UsageError` otherwise."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536 or any(c in address for c in " /\r\n\0"):
        raise UsageError(f"--redis must be HOST:PORT, not {address!r}")
    return host or "127.0.0.1", int(port)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports the OS calls free now (all held open together, so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


# -- starting ---------------------------------------------------------------------------------------------
def _spawn(argv: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # its own process group: stop() ends its helpers (the RE worker) too
        )


def _redis_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.settimeout(1.0)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def launch(
    *,
    port: int | None = None,
    zmq_only: bool = False,
    profile: str | os.PathLike[str] | None = None,
    redis: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> Launched:
    """Start redis (unless ``redis``), RE Manager and (unless ``zmq_only``) the HTTP server; wait until
    the manager answers; return the saved record with :attr:`Launched.api_key` set (HTTP only).

    ``port``: the HTTP server's port (with ``zmq_only``, the control socket's); others are free ports.
    On any failure everything started is stopped again before the error is raised (logs kept)."""
    manager_extra = profile_args(profile)  # bad input is refused before anything starts
    redis_at = parse_redis(redis) if redis else None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"--port must be 1-65535, not {port}")
    if port is not None and port_taken(port):
        raise UsageError(f"port {port} is in use", hint="leave --port out: tether picks a free one")
    if redis_at and not _redis_ping(*redis_at):
        raise Unreachable(f"no redis answers PING at {redis}", hint="leave --redis out: tether starts one")
    bins = {
        "manager": program("start-re-manager", "pip install bluesky-queueserver"),
        # run by tether_qserver.httpserver (its key kept out of its log), from this Python: checked here
        "http": None if zmq_only else program("start-bluesky-httpserver", "pip install bluesky-httpserver"),
        "redis": None if redis_at else program("redis-server", "apt-get install redis-server"),
    }
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _launch_once(bins, port, zmq_only, profile, manager_extra, redis_at, timeout)
        except _PortTaken:
            if attempt == ATTEMPTS:
                raise Unreachable(
                    f"the ports chosen were taken by another program {ATTEMPTS} times in a row"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _PortTaken(Exception):
    """A port chosen free was bound by someone else before our server could bind it."""


def _collision(logs: list[str]) -> bool:
    """Whether a log says a port we chose was taken before our server bound it."""
    for log in logs:
        try:
            text = Path(log).read_text(errors="replace").lower()
        except OSError:
            continue
        if "address already in use" in text or "errno 98" in text:
            return True
    return False


def _launch_once(
    bins: dict[str, str | None],
    port: int | None,
    zmq_only: bool,
    profile: str | os.PathLike[str] | None,
    manager_extra: list[str],
    redis_at: tuple[str, int] | None,
    timeout: float,
) -> Launched:
    redis_port, control, info, http_port = free_ports(4)
    if port is not None:
        control, http_port = (port, http_port) if zmq_only else (control, port)
    workdir = Path(tempfile.mkdtemp(prefix="qserver-", dir=launched.app_dir(APP)))
    stamp = f"{os.getpid()}-{int(time.time() * 1000)}"
    logs = {
        name: launched.app_dir(APP) / f"qserver-{stamp}-{name}.log" for name in ("manager", "http", "redis")
    }
    started: dict[str, subprocess.Popen] = {}
    key = secrets.token_hex(16)  # the HTTP server accepts only letters and digits
    rec: Launched | None = None
    try:
        if redis_at is None:
            started["redis"] = _spawn(
                [bins["redis"] or "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                logs["redis"],
                cwd=workdir,
            )  # fmt: skip
            redis_at = ("127.0.0.1", redis_port)
            _wait_redis(started["redis"], redis_at, logs["redis"])  # a manager started first retries slowly
        zmq_control, zmq_info = f"tcp://127.0.0.1:{control}", f"tcp://127.0.0.1:{info}"
        started["manager"] = _spawn(
            [bins["manager"] or "start-re-manager",
             "--redis-addr", f"{redis_at[0]}:{redis_at[1]}",
             "--redis-name-prefix", f"tether_{secrets.token_hex(4)}",
             "--zmq-control-addr", zmq_control,
             "--zmq-info-addr", zmq_info,
             "--zmq-publish-console", "ON",
             *manager_extra],
            logs["manager"],
            cwd=workdir,
        )  # fmt: skip
        if not zmq_only:
            started["http"] = _spawn(
                [
                    sys.executable,
                    "-m",
                    "tether_qserver.httpserver",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(http_port),
                ],
                logs["http"],
                env={
                    "QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY": key,
                    "QSERVER_ZMQ_CONTROL_ADDRESS": zmq_control,
                    "QSERVER_ZMQ_INFO_ADDRESS": zmq_info,
                },
                cwd=workdir,
            )
        pid_of = {name: proc.pid for name, proc in started.items()}
        rec = launched.new_record(
            APP,
            control if zmq_only else http_port,
            pid_of["manager"],
            log=logs["manager"],
            kind=Launched,
            port=control if zmq_only else http_port,
            host="127.0.0.1",
            url=None if zmq_only else f"http://127.0.0.1:{http_port}",
            zmq_control=zmq_control,
            zmq_info=zmq_info,
            redis=f"{redis_at[0]}:{redis_at[1]}",
            http_pid=pid_of.get("http"),
            http_create_time=launched.start_time(pid_of.get("http")),
            http_log=None if zmq_only else str(logs["http"]),
            redis_pid=pid_of.get("redis"),
            redis_create_time=launched.start_time(pid_of.get("redis")),
            redis_log=str(logs["redis"]) if "redis" in started else None,
            workdir=str(workdir),
            profile=str(Path(profile).expanduser().resolve()) if profile else None,
        )
        rec.api_key = None if zmq_only else key
        rec.save()
        wait_ready(rec, started, timeout)
        return rec
    except BaseException as exc:
        collided = _collision([str(p) for p in logs.values()]) and not isinstance(exc, KeyboardInterrupt)
        if rec is not None:
            rec.stop(timeout=5.0, keep_log=not collided)
        else:
            for proc in started.values():
                launched.stop_process(proc.pid, launched.start_time(proc.pid), 5.0)
            shutil.rmtree(workdir, ignore_errors=True)
            if collided:
                for log in logs.values():
                    log.unlink(missing_ok=True)
        if collided:
            raise _PortTaken() from exc
        raise


def _wait_redis(proc: subprocess.Popen, at: tuple[str, int], log: Path, timeout: float = 20.0) -> None:
    """Wait until our redis answers PING (about 0.1 s); :class:`Unreachable` if it exits or never does."""
    end = time.monotonic() + timeout
    while not _redis_ping(*at):
        if proc.poll() is not None or time.monotonic() > end:
            tail = launched.log_tail(log, 5).replace("\n", " | ")
            raise Unreachable(f"redis did not start: {tail or 'no output'}", hint=f"see {log}")
        time.sleep(0.02)


def wait_ready(rec: Launched, procs: dict[str, subprocess.Popen], timeout: float = READY_TIMEOUT) -> None:
    """Wait until RE Manager says ``idle`` (through the HTTP server with the key, or on its 0MQ
    socket); :class:`Unreachable` with the log's tail when a process exits first, else :class:`Timeout`."""
    from .client import QueueServer

    end = time.monotonic() + timeout
    if rec.zmq_only:
        from .zmq import ZmqDoor

        door = ZmqDoor(rec.zmq_control, info=rec.zmq_info, timeout=2.0)
        qs = QueueServer(rec.zmq_control, timeout=2.0, transport=door)
    else:
        qs = QueueServer(rec.url or "", api_key=rec.api_key, timeout=2.0, retries=0)
    last: Exception | None = None
    names = {"manager": "RE Manager", "http": "the HTTP server", "redis": "redis"}
    logs = {"manager": rec.log, "http": rec.data.get("http_log"), "redis": rec.data.get("redis_log")}
    try:
        while time.monotonic() < end:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    tail = launched.log_tail(logs[name], 8).replace("\n", " | ")
                    raise Unreachable(
                        f"{names[name]} exited during start-up ({proc.returncode}): {tail or 'no output'}",
                        hint=f"see {logs[name]}",
                    )
            try:
                if qs.status(reload=True, timeout=2.0, retries=0).get("manager_state") == "idle":
                    return
            except TetherError as exc:
                last = exc
            time.sleep(0.1)
    finally:
        qs.close()
    raise Timeout(
        f"the queue server did not become ready within {timeout:g} s ({last})",
        hint=f"RE Manager's log: {rec.log}",
    )


# -- finding and stopping -------------------------------------------------------------------------------
def records(*, live_only: bool = True) -> list[Launched]:
    """Every queue server tether launched (by default only live ones; stale records are cleaned up)."""
    return launched.prune(APP, kind=Launched) if live_only else launched.records(APP, kind=Launched)


def stop_launched(port: int | None = None, timeout: float = 10.0) -> tuple[Launched, bool]:
    """Stop the queue server tether launched on ``port`` (or the only one), by pid: its HTTP server,
    RE Manager and redis. Returns its record and whether RE Manager was still running (a dead one
    is only cleaned up). Several launched and no ``port``: :class:`UsageError`; none: :class:`NotFound`."""
    found = records(live_only=False)
    if port is not None:
        found = [r for r in found if r.port == port]
    elif len(found) > 1:
        raise UsageError(
            f"tether launched {len(found)} queue servers; name one with --port",
            hint=", ".join(f"port {r.port} (pid {r.pid})" for r in found),
        )
    if not found:
        raise NotFound(
            "no queue server launched by tether" + (f" on port {port}" if port else ""),
            looked_at=[str(launched.state_dir() / APP)],
        )
    return found[0], found[0].stop(timeout)
