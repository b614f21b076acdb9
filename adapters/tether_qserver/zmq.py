"""The queue server's second door: RE Manager's own 0MQ sockets, for managers with no HTTP server.

RE Manager binds a REP **control** socket (default ``tcp://*:60615``) and, when started with
``--zmq-publish-console ON``, a PUB **info** socket (default ``tcp://*:60625``). The HTTP server
is itself a 0MQ client of the control socket and its routes map one to one onto the control
methods, so the replies are the very payloads the HTTP API returns: :class:`ZmqDoor` takes the
client's HTTP-style calls (``GET /api/status``, ``POST /api/queue/item/add`` …) and sends the
matching method, and :class:`~tether_qserver.client.QueueServer` works unchanged over either door.
What the HTTP server adds is not there: no login (items added over 0MQ carry the user name and
group given here), no console buffer (follow the info socket instead), no ``reload`` cache flag
(the manager's status is always current), and ``reduced`` plan lists are the full descriptions.

Detection: the control socket is greeted (0MQ sends its ZMTP greeting on connect) **only** on
ports a hint names — a ``start-re-manager`` process's ``--zmq-control-addr`` (or its
``$QSERVER_ZMQ_CONTROL_ADDRESS_FOR_SERVER``), ``$QSERVER_ZMQ_CONTROL_ADDRESS``, or the default
60615 — and the probe sends ``status``, which changes nothing.
Wire facts: ``bluesky_queueserver/manager/manager.py`` (handler table, ``_status_handler``,
``_get_user_info_from_request``), ``start_manager.py`` (options and environment variables),
``output_streaming.py`` (topic ``QS_Console``, payload ``{"time", "msg"}``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from tether.adapter import Hint, ProbeResult, Verdict, is_loopback
from tether.deadline import Deadline
from tether.errors import Timeout, Unreachable, UsageError

TITLE = "Bluesky RE Manager (0MQ)"
WHAT = "RE Manager's 0MQ control socket"
CONTROL_PORT = 60615
INFO_PORT = 60625
CONSOLE_TOPIC = b"QS_Console"
INFO_TOPIC = b"QS_Info"
#: the longest a single request waits: RE Manager answers every method at once (long operations
#: only start), and the HTTP server itself gives it 2 s (``default_zmq_request_timeout_recv``)
REQUEST_TIMEOUT = 5.0
#: who the manager records as the submitter of items added over 0MQ (the HTTP server puts the login)
USER = "tether"
USER_GROUP = "primary"
_MANAGER_MARKS = ("start-re-manager", "bluesky_queueserver.manager.start_manager")
_VERSION = re.compile(r"RE Manager v(\S+)")

#: ``/api`` path -> (0MQ method, parameters the path implies)
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    path: (method, fixed)
    for path, method, fixed in (
        ("/api/", "ping", {}),
        ("/api/ping", "ping", {}),
        ("/api/status", "status", {}),
        ("/api/config/get", "config_get", {}),
        ("/api/queue/get", "queue_get", {}),
        ("/api/queue/start", "queue_start", {}),
        ("/api/queue/stop", "queue_stop", {}),
        ("/api/queue/stop/cancel", "queue_stop_cancel", {}),
        ("/api/queue/clear", "queue_clear", {}),
        ("/api/queue/autostart", "queue_autostart", {}),
        ("/api/queue/mode/set", "queue_mode_set", {}),
        ("/api/queue/item/add", "queue_item_add", {}),
        ("/api/queue/item/add/batch", "queue_item_add_batch", {}),
        ("/api/queue/item/get", "queue_item_get", {}),
        ("/api/queue/item/update", "queue_item_update", {}),
        ("/api/queue/item/remove", "queue_item_remove", {}),
        ("/api/queue/item/remove/batch", "queue_item_remove_batch", {}),
        ("/api/queue/item/move", "queue_item_move", {}),
        ("/api/queue/item/move/batch", "queue_item_move_batch", {}),
        ("/api/queue/item/execute", "queue_item_execute", {}),
        ("/api/history/get", "history_get", {}),
        ("/api/history/clear", "history_clear", {}),
        ("/api/environment/open", "environment_open", {}),
        ("/api/environment/close", "environment_close", {}),
        ("/api/environment/destroy", "environment_destroy", {}),
        ("/api/environment/update", "environment_update", {}),
        ("/api/re/pause", "re_pause", {}),
        ("/api/re/resume", "re_resume", {}),
        ("/api/re/stop", "re_stop", {}),
        ("/api/re/abort", "re_abort", {}),
        ("/api/re/halt", "re_halt", {}),
        ("/api/re/runs", "re_runs", {}),
        ("/api/re/runs/active", "re_runs", {"option": "active"}),
        ("/api/re/runs/open", "re_runs", {"option": "open"}),
        ("/api/re/runs/closed", "re_runs", {"option": "closed"}),
        ("/api/re/metadata", "re_metadata", {}),
        ("/api/plans/allowed", "plans_allowed", {}),
        ("/api/devices/allowed", "devices_allowed", {}),
        ("/api/plans/existing", "plans_existing", {}),
        ("/api/devices/existing", "devices_existing", {}),
        ("/api/permissions/reload", "permissions_reload", {}),
        ("/api/permissions/get", "permissions_get", {}),
        ("/api/permissions/set", "permissions_set", {}),
        ("/api/script/upload", "script_upload", {}),
        ("/api/function/execute", "function_execute", {}),
        ("/api/task/status", "task_status", {}),
        ("/api/task/result", "task_result", {}),
        ("/api/lock", "lock", {}),
        ("/api/unlock", "unlock", {}),
        ("/api/lock/info", "lock_info", {}),
        ("/api/kernel/interrupt", "kernel_interrupt", {}),
        ("/api/manager/stop", "manager_stop", {}),
        ("/api/test/manager/kill", "manager_kill", {}),
    )
}
#: methods whose request names the submitter (the manager refuses them without ``user``/``user_group``)
WITH_USER = frozenset(
    {"queue_item_add", "queue_item_add_batch", "queue_item_update", "queue_item_execute", "function_execute"}
)
WITH_GROUP = frozenset({"plans_allowed", "devices_allowed"})
#: HTTP-client flags with no meaning to the manager, which refuses unknown parameters
CLIENT_ONLY = ("reload", "reduced")
#: what only the HTTP server offers, and what to do instead
_NO_BUFFER = "RE Manager keeps no console buffer: follow it live (tether qserver console --follow)"
HTTP_ONLY = {
    "/api/console_output": _NO_BUFFER,
    "/api/console_output/uid": _NO_BUFFER,
    "/api/console_output_update": _NO_BUFFER,
    "/api/auth": "logins and API keys belong to the HTTP server; RE Manager's 0MQ socket has no users",
    "/api/queue/upload/spreadsheet": "the spreadsheet upload is the HTTP server's (its converter); RE"
    " Manager's 0MQ socket has none: tether qserver add --file PLANS.csv reads it here and adds its rows",
}


# -- where the manager listens (hints) -----------------------------------------------------------
def is_manager_process(cmdline: list[str]) -> bool:
    """A ``start-re-manager`` process (its manager and worker children carry the same command line)."""
    head = "\x00".join(cmdline[:3])  # asked for every listener of a scan: one string to search
    return any(mark in head for mark in _MANAGER_MARKS)


def _option(cmdline: list[str], name: str) -> str | None:
    for i, part in enumerate(cmdline):
        if part == name and i + 1 < len(cmdline):
            return cmdline[i + 1]
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


def _environ(pid: int | None) -> Mapping[str, str]:
    if not pid:
        return {}
    from tether.discovery import process_environ

    return process_environ(pid)


@lru_cache(maxsize=64)  # asked for every listener of a scan (hundreds), mostly of one address
def _port_of(address: str | None) -> int | None:
    m = re.match(r"^tcp://[^:]+:(\d+)$", (address or "").strip().replace("[", "").replace("]", ""))
    return int(m.group(1)) if m else None


def manager_addresses(cmdline: list[str], pid: int | None = None) -> tuple[str, str]:
    """A ``start-re-manager`` process's control and info addresses, as it binds them: its options,
    else its environment (``QSERVER_ZMQ_*_ADDRESS_FOR_SERVER``), else the defaults."""
    env = _environ(pid) if pid else {}
    control = (
        _option(cmdline, "--zmq-control-addr")
        or _option(cmdline, "--zmq-addr")  # the deprecated spelling
        or env.get("QSERVER_ZMQ_CONTROL_ADDRESS_FOR_SERVER")
        or f"tcp://*:{CONTROL_PORT}"
    )
    info = (
        _option(cmdline, "--zmq-info-addr")
        or _option(cmdline, "--zmq-publish-console-addr")
        or env.get("QSERVER_ZMQ_INFO_ADDRESS_FOR_SERVER")
        or f"tcp://*:{INFO_PORT}"
    )
    return control, info


def control_hint(listener: Any) -> Hint | None:
    """The evidence that ``listener`` is a RE Manager's control socket, or ``None``: a
    ``start-re-manager`` process listening on its control port, the port named by
    ``$QSERVER_ZMQ_CONTROL_ADDRESS``, or the default 60615. Only such ports are ever greeted."""
    hint = None
    if listener.port == CONTROL_PORT:
        hint = Hint(f"RE Manager's default 0MQ control port {CONTROL_PORT}", "port")
    if listener.port == _port_of(os.environ.get("QSERVER_ZMQ_CONTROL_ADDRESS")):
        hint = Hint("the port $QSERVER_ZMQ_CONTROL_ADDRESS names", "port").stronger(hint)
    if is_manager_process(listener.cmdline or []):
        control, _ = manager_addresses(listener.cmdline, listener.pid)
        if _port_of(control) == listener.port:
            return Hint("process start-re-manager, its 0MQ control address", "process").stronger(hint)
        return None  # the manager's info socket, or another of its ports: never greeted
    return hint


def _owner(port: int) -> tuple[int | None, str | None, list[str]]:
    """pid, name and command line of this machine's listener on ``port`` (from the socket table)."""
    from tether.discovery import port_owner

    try:
        owner = port_owner(port)  # a scan's own listing when one was just taken; /proc on Linux
    except Exception:
        return None, None, []
    if owner is None or owner.pid is None:
        return None, None, []
    return owner.pid, owner.process, list(owner.cmdline)


def speaks_zmq(host: str, port: int) -> bool:
    """Whether the probe of ``host:port`` is the 0MQ one: a hint names the port as a control socket.

    The same evidence as :func:`control_hint`, read again from the socket table: a
    ``start-re-manager`` process on its control port, else the default port or the one
    ``$QSERVER_ZMQ_CONTROL_ADDRESS`` names, unless the HTTP server itself listens there.
    """
    from tether.endpoint import Listener

    from .probe import is_httpserver_process

    pid, name, cmdline = _owner(port) if is_loopback(host) else (None, None, [])
    if is_httpserver_process(cmdline):
        return False
    return control_hint(Listener(host=host, port=port, pid=pid, process=name, cmdline=cmdline)) is not None


# -- the probe -----------------------------------------------------------------------------------------
def _connect(host: str, port: int, deadline: Deadline) -> Any:
    """A TCP connection first: a refused port is told at once (0MQ would retry in silence).
    The connected socket, or the verdict when there is none."""
    from tether.transport.tcp import create_connection

    try:
        return create_connection(host, port, deadline.remaining(0.05))
    except ConnectionRefusedError as exc:
        return ProbeResult(Verdict.UNREACHABLE, detail=f"connection refused ({exc})", title=TITLE)
    except OSError as exc:
        return ProbeResult(Verdict.UNKNOWN, detail=f"TCP connect failed: {exc}", title=TITLE)


def _ask_status(address: str, deadline: Deadline, public_key: str | None, sock: Any) -> ProbeResult:
    """Send ``status`` (read-only); the verdict on the reply. Transport errors are raised, typed.

    ``sock``: the TCP connection :func:`_connect` made. Without encryption the request goes on it
    in plain ZMTP (no pyzmq: its import and context cost a scan ~15 ms); with a public key, pyzmq
    does the CURVE handshake on a connection of its own."""
    from tether.transport.zmq import ZmqRequester, request_plain

    if public_key is None:
        try:
            reply = request_plain(sock, {"method": "status"}, deadline, what=WHAT, address=address)
        finally:
            sock.close()
    else:
        sock.close()
        with ZmqRequester(address, public_key=public_key, timeout=deadline.remaining(0.05), what=WHAT) as rq:
            reply = rq.request({"method": "status"})
    msg = reply.get("msg") if isinstance(reply, dict) else None
    version = _VERSION.match(msg) if isinstance(msg, str) else None
    if version is None or "manager_state" not in reply:
        return ProbeResult(Verdict.NOT_ME, detail="a 0MQ reply, but not RE Manager's status", title=TITLE)
    return ProbeResult(
        Verdict.VERIFIED,
        version=version.group(1),
        detail=f"0MQ status answered (manager {reply.get('manager_state')})",
        extra={"door": "zmq", "zmq_control": address},
        title=TITLE,
    )


def probe_zmq(host: str, port: int, timeout: float, *, public_key: str | None = None) -> ProbeResult:
    """Ask the control socket for ``status`` (read-only) and check it answers as RE Manager."""
    from tether.errors import AuthError

    deadline = Deadline(timeout)
    sock = _connect(host, port, deadline)
    if isinstance(sock, ProbeResult):
        return sock
    address = f"tcp://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        return _ask_status(address, deadline, public_key, sock)
    except (UsageError, AuthError) as exc:  # a bad key, an encrypted socket: it may well be RE Manager
        return ProbeResult(Verdict.UNKNOWN, detail=exc.message, title=TITLE)
    except Timeout:
        return ProbeResult(Verdict.UNKNOWN, detail="no 0MQ reply to status within the deadline", title=TITLE)
    except Unreachable as exc:
        return ProbeResult(Verdict.NOT_ME, detail=f"not RE Manager's 0MQ socket ({exc.message})")


#: how long a 0MQ socket may take to greet: libzmq's I/O thread sends the signature as soon as it
#: accepts, whatever the program does (a manager busy in Python greets all the same); 2 s leaves
#: room for a loaded machine, and is still far short of a deadline
GREETING_WAIT = 2.0


def _check_greets(sock: Any, deadline: Deadline, address: str, host: str, port: int) -> None:
    """:class:`WrongApp` at once when the peer is not a 0MQ socket: its first bytes are not ZMTP's
    signature, or it stays silent (where a 0MQ socket greets unasked) and this machine's socket
    table shows another program than RE Manager on the port. Silence from a manager (frozen), or
    from a host whose owner cannot be read, is left to the deadline."""
    import socket

    from tether.errors import WrongApp

    try:
        sock.settimeout(min(GREETING_WAIT, deadline.remaining(0.001)))
        first = sock.recv(10, socket.MSG_PEEK)  # peeked: the handshake reads it again
    except TimeoutError:
        first = None
    except OSError:
        return  # a reset: the handshake says so, typed
    if first and first[:1] != b"\xff":
        raise WrongApp(
            f"{address} is not a 0MQ socket: it greets with {first[:10]!r}, not ZMTP's signature",
            hint=f"RE Manager's control port is {CONTROL_PORT} by default; the HTTP server takes --url",
            host=host,
            port=port,
        )
    if first is None:
        pid, name, cmdline = _owner(port) if is_loopback(host) else (None, None, [])
        if pid is not None and not is_manager_process(cmdline):
            raise WrongApp(
                f"{address} is {name} (pid {pid}), not RE Manager: it sent no 0MQ greeting,"
                f" which a 0MQ socket sends at once",
                hint=f"RE Manager's control port is {CONTROL_PORT} by default; the HTTP server takes --url",
                host=host,
                port=port,
            )


def verify_zmq(address: str, timeout: float, *, public_key: str | None = None, info: str | None = None):
    """The verified endpoint of the control socket at ``address`` (``--zmq``), or the typed error:
    :class:`AuthError` for an encryption mismatch, :class:`Timeout` for silence, :class:`WrongApp`
    for another protocol, :class:`NotFound` when nothing listens."""
    from tether.adapter import Confidence, raise_for_verdict
    from tether.endpoint import Endpoint
    from tether.errors import ProtocolError, WrongApp
    from tether.transport.zmq import check_public_key, client_address, parse_address

    host, port = parse_address(address)
    address = client_address(address)
    if public_key:
        check_public_key(public_key)
    deadline = Deadline(timeout)
    res = _connect(host, port, deadline)
    if not isinstance(res, ProbeResult):
        try:
            _check_greets(res, deadline, address, host, port)
            res = _ask_status(address, deadline, public_key, res)
        except ProtocolError as exc:
            raise WrongApp(
                f"{address} does not answer as {TITLE}: {exc.message}", host=host, port=port
            ) from exc
        except Timeout as exc:
            exc.hint = "is start-re-manager running there? " + (
                "Check the public key (--zmq-public-key)"
                if public_key
                else "Is it encrypted (--zmq-public-key)?"
            )
            raise
    raise_for_verdict(res, title=TITLE, where=address, host=host, port=port)
    pid, name, cmdline = _owner(port) if is_loopback(host) else (None, None, [])
    info = info or info_address(host, port)
    return Endpoint(
        app="qserver",
        title=TITLE,
        version=res.version,
        host=host,
        port=port,
        pid=pid,
        process=name,
        confidence=Confidence.VERIFIED,
        detail=res.detail,
        cmdline=cmdline,
        extra={**res.extra, **({"zmq_info": info} if info else {})},
    )


# -- which door ------------------------------------------------------------------------------------------
def locate(settings: Mapping[str, Any], timeout: float):
    """The verified endpoint of the door the settings name, else of the one a scan finds:

    ``--zmq`` -> RE Manager's socket; ``--url`` -> the HTTP server (a URL also wins over
    ``$QSERVER_ZMQ_CONTROL_ADDRESS``, often set for the HTTP server's own sake); nothing named ->
    :func:`prefer_http`.
    """
    from .probe import verify_url

    url, control = settings.get("url"), settings.get("zmq")
    if control and not (url and control == os.environ.get("QSERVER_ZMQ_CONTROL_ADDRESS")):
        info = settings.get("zmq_info")
        return verify_zmq(control, timeout, public_key=settings.get("zmq_public_key"), info=info)
    if url:
        return verify_url(url, timeout)
    global _given_key
    _given_key = settings.get("zmq_public_key")  # --zmq-public-key without --zmq: the scan's probes use it
    try:
        return prefer_http(timeout)
    finally:
        _given_key = None


def prefer_http(timeout: float):
    """The single verified HTTP server (of several: the one :func:`tether.choose.choose` picks,
    this user's), else the single (or chosen) verified 0MQ control socket; ``None``
    when neither is single (the core then scans again and says what it found, or that nothing
    answered). The HTTP server wins when both answer: it carries logins and the console buffer."""
    import tether
    from tether.choose import choose

    verified = [e for e in tether.scan(["qserver"], timeout=min(timeout, 1.0)) if e.verified]
    http = [e for e in verified if e.extra.get("door") != "zmq"]
    zmq = [e for e in verified if e.extra.get("door") == "zmq"]
    door = http or zmq
    if len(door) == 1:
        return door[0]
    # several servers of one door: the one this user launched, else the only one this user owns
    chosen = choose(door) if door else None
    return chosen.endpoint if chosen is not None else None


#: the public key a command was given (``--zmq-public-key``) while it looks for the manager
_given_key: str | None = None


def scan_key() -> str | None:
    """The public key a scan's probe uses: the one the command was given while it looks for the
    manager (:func:`locate`), else the environment's or the config file's (a probe has no flags)."""
    if _given_key:
        return _given_key
    from tether import config

    from .settings import SETTINGS

    return config.resolve("qserver", SETTINGS, {}).get("zmq_public_key")


def info_address(host: str, port: int) -> str | None:
    """The info address of the ``start-re-manager`` on this machine's ``port``, as a client
    connects to it (``*`` becomes ``host``), when the socket table shows that process."""
    pid, _, cmdline = _owner(port) if is_loopback(host) else (None, None, [])
    if not is_manager_process(cmdline):
        return None
    _, info = manager_addresses(cmdline, pid)
    return re.sub(r"^tcp://(\*|0\.0\.0\.0)(?=:)", f"tcp://{host}", info)


def fronted_manager(port: int) -> str | None:
    """The control address the HTTP server on this machine's ``port`` talks to, where its
    environment can be read (``$QSERVER_ZMQ_CONTROL_ADDRESS``, else the default)."""
    pid = _owner(port)[0]
    if pid is None:
        return None
    env = _environ(pid)
    if not env:
        return None
    return env.get("QSERVER_ZMQ_CONTROL_ADDRESS") or f"tcp://localhost:{CONTROL_PORT}"


# -- the door ------------------------------------------------------------------------------------------
class ZmqDoor:
    """The client's transport over RE Manager's control socket: ``call(method, path, body)`` as
    :class:`~tether.transport.http.HttpSession` has it, sent as the matching 0MQ method.

    ``info``: the info socket's address (console output); ``user``/``user_group``: the
    submitter the manager records for items added through this door.
    """

    door = "zmq"

    def __init__(
        self,
        control: str,
        *,
        public_key: str | None = None,
        info: str | None = None,
        timeout: float = 10.0,
        user: str = USER,
        user_group: str = USER_GROUP,
    ) -> None:
        from tether.transport.zmq import ZmqRequester, parse_address

        self.requester = ZmqRequester(control, public_key=public_key, timeout=timeout, what=WHAT)
        self.control = self.requester.address
        host, _ = parse_address(control)
        self.info = info or f"tcp://{f'[{host}]' if ':' in host else host}:{INFO_PORT}"
        parse_address(self.info)
        self.timeout = timeout
        self.user, self.user_group = user, user_group
        self.encrypted = bool(public_key)

    def message(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The 0MQ request for the HTTP call ``path`` with ``body`` (:class:`UsageError` when RE
        Manager has no such method: nothing is sent)."""
        if path not in METHODS:
            why = next((w for p, w in HTTP_ONLY.items() if path == p or path.startswith(p + "/")), None)
            raise UsageError(
                f"{path.removeprefix('/api')} is not available over RE Manager's 0MQ socket"
                + (f": {why}" if why else ""),
                hint=None if why else "it needs the HTTP server (--url)",
            )
        method, fixed = METHODS[path]
        params = {k: v for k, v in dict(body or {}).items() if k not in CLIENT_ONLY}
        params.update(fixed)
        if method in WITH_USER:
            params.setdefault("user", self.user)
            params.setdefault("user_group", self.user_group)
        elif method in WITH_GROUP:
            params.setdefault("user_group", self.user_group)
        return {"method": method, "params": params}

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> Any:
        """Send the 0MQ request for ``path``; the manager's reply (its refusals are ``success: false``,
        as over HTTP), within ``timeout`` and at most :data:`REQUEST_TIMEOUT` s. Never resent: a lost
        reply is a :class:`Timeout`, the caller decides."""
        msg = self.message(path, body)
        try:
            return self.requester.request(msg, timeout=min(timeout or self.timeout, REQUEST_TIMEOUT))
        except Timeout as exc:
            exc.hint = exc.hint or (
                "is start-re-manager running? check the public key (--zmq-public-key)"
                if self.encrypted
                else "is start-re-manager running? an encrypted control socket needs --zmq-public-key"
            )
            raise

    def add_secret(self, secret: str) -> None:
        """Nothing to mask on this door (no API key travels; a lock key is a request parameter, and
        the client masks it in its own output)."""

    def close(self) -> None:
        """Close the socket and terminate the 0MQ context."""
        self.requester.close()


# -- console over the info socket ------------------------------------------------------------------------
#: RE Manager (0.0.24 and later) publishes its status under QS_Info at least once a second while
#: it publishes at all: this long without a message means console publishing is off
INFO_SILENCE = 5.0


def follow_console(info: str, *, duration: float | None = None, expect_info: bool = True) -> Iterator[str]:
    """Console text from RE Manager's info socket (topic ``QS_Console``), for ``duration`` s (None:
    forever). The socket is subscribed before this returns, so nothing published after is missed.

    ``expect_info``: raise :class:`Unreachable` when nothing at all (not even the QS_Info status
    heartbeat) arrives for :data:`INFO_SILENCE` s: the manager does not publish there.
    """
    from tether.transport.zmq import ZmqSubscriber

    sub = ZmqSubscriber(info, b"QS_", what="RE Manager's 0MQ info socket")
    return _console(sub, info, Deadline(duration) if duration is not None else None, expect_info)


def _console(sub: Any, info: str, deadline: Deadline | None, expect_info: bool) -> Iterator[str]:
    import json

    last_heard = time.monotonic()
    try:
        while deadline is None or not deadline.expired:
            wait = 1.0 if deadline is None else max(0.01, min(1.0, deadline.remaining()))
            try:
                topic, payload = sub.recv(wait)
            except Timeout:
                if expect_info and time.monotonic() - last_heard > INFO_SILENCE:
                    raise Unreachable(
                        f"RE Manager publishes nothing on {info}"
                        f" (no status heartbeat for {INFO_SILENCE:g} s)",
                        hint="start it with --zmq-publish-console ON, or name its info address: --zmq-info "
                        "tcp://HOST:PORT ($QSERVER_ZMQ_INFO_ADDRESS)",
                    ) from None
                continue
            last_heard = time.monotonic()
            if topic != CONSOLE_TOPIC:
                continue
            try:
                msg = json.loads(payload).get("msg")
            except (ValueError, AttributeError):
                import logging  # here: every command loads this module with the adapter

                log = logging.getLogger("tether.qserver.zmq")
                log.debug("a console message that is not JSON was skipped")
                continue
            if isinstance(msg, str):
                yield msg
    finally:
        sub.close()
