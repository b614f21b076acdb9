"""``QueueServer``: the Bluesky HTTP Server's API, one method per endpoint, plus submit-and-track.

>>> qs = tether.connect("qserver", api_key=key)                      # doctest: +SKIP
>>> qs.ensure_environment()                                          # doctest: +SKIP
>>> result = qs.run({"name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 3}})  # doctest: +SKIP
>>> result.exit_status, result.run_uids                              # doctest: +SKIP
('completed', ['21be7faf-…'])

Wire facts this client relies on (read in bluesky-httpserver's routers): every endpoint takes a
JSON body, GETs included; a refusal is HTTP 200 with ``success: false`` and ``msg``;
``GET /api/status`` is served from a 0.4 s cache unless the body is ``{"reload": true}``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import (
    AuthError,
    CommandError,
    ProtocolError,
    TetherError,
    Timeout,
    Unreachable,
    UsageError,
)

from . import auth
from .plan import normalize_item, validate_item

DEFAULT_TIMEOUT = 10.0
MAX_CALL_TIMEOUT = 30.0
FINAL_OK = ("completed", "stopped")
#: The status fields ``tether qserver status`` and the environment commands report.
STATUS_KEYS = (
    "msg", "manager_state", "worker_environment_exists", "worker_environment_state", "re_state",
    "items_in_queue", "items_in_history", "running_item_uid", "queue_autostart_enabled",
    "queue_stop_pending", "pause_pending", "plan_queue_mode", "lock",
)  # fmt: skip
#: Endpoints that take ``lock_key`` (the environment's and the queue's writes).
LOCKABLE = frozenset(
    {
        "/environment/open",
        "/environment/close",
        "/environment/destroy",
        "/queue/item/add",
        "/queue/item/execute",
        "/queue/item/add/batch",
        "/queue/item/update",
        "/queue/mode/set",
        "/queue/autostart",
        "/history/clear",
        "/environment/update",
        "/script/upload",
        "/function/execute",
        "/permissions/reload",
        "/permissions/set",
        "/kernel/interrupt",
        "/re/pause",
        "/queue/item/remove",
        "/queue/item/remove/batch",
        "/queue/item/move",
        "/queue/item/move/batch",
        "/queue/clear",
        "/queue/start",
        "/queue/stop",
        "/queue/stop/cancel",
        "/re/resume",
        "/re/stop",
        "/re/abort",
        "/re/halt",
    }
)


# -- credentials --------------------------------------------------------------------------------
#: Where the key may come from, for the hint of an authentication failure.
KEY_SOURCES = (
    "--api-key-file FILE, $QSERVER_HTTP_SERVER_API_KEY, $QSERVER_HTTP_SERVER_API_KEYFILE, or api_key_file/"
    "api_key under [qserver] in tether's config file (--api-key works too but shows in the process list);"
    " or log in: tether qserver login"
)


def _read_key_file(path: str | os.PathLike[str]) -> str:
    try:
        key = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read the API key file {path}: {exc.strerror or exc}") from exc
    if not key:
        raise UsageError(f"the API key file {path} is empty")
    return key


def read_api_key(
    api_key: str | None = None, api_key_file: str | os.PathLike[str] | None = None
) -> tuple[str | None, str]:
    """The API key and a description of where it came from (never the key itself).

    ``api_key_file`` wins over ``api_key``. Both are settings the core resolves (flag, then
    ``$QSERVER_HTTP_SERVER_API_KEYFILE``/``$QSERVER_HTTP_SERVER_API_KEY``, then
    ``$TETHER_QSERVER_*``, then ``[qserver]`` in the config file).
    """
    if api_key_file:
        source = f"the file {api_key_file} (the api_key_file setting)"
        return _sendable(_read_key_file(api_key_file), source), source
    if api_key:
        return _sendable(api_key.strip(), "the api_key setting"), "the api_key setting"
    return None, "nowhere"


def _sendable(key: str | None, source: str) -> str | None:
    """``key``, unless it holds a character an HTTP header cannot carry (a line break …): bad
    input, refused before anything is sent (and never printed)."""
    if key and any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise UsageError(
            f"the API key from {source} holds a control character (a line break?): it cannot be sent",
            hint="nothing was sent; check the key",
        )
    if key and not key.isascii():  # the HTTP server answers such a key with a 500, not a 401
        raise UsageError(
            f"the API key from {source} holds a non-ASCII character: it cannot be an API key",
            hint="nothing was sent; check the key",
        )
    return key


def auth_hint(source: str) -> str:
    """What an authentication failure should tell the user: where the key came from, or where to put one."""
    if source == "nowhere":
        return f"no API key was given: pass {KEY_SOURCES}"
    return f"the API key was read from {source}; check it, or give another with {KEY_SOURCES}"


def item_add_body(
    item: Mapping[str, Any],
    *,
    pos: str | int | None = None,
    before_uid: str | None = None,
    after_uid: str | None = None,
    tag: bool = True,
) -> dict[str, Any]:
    """The exact body of ``POST /api/queue/item/add``; ``tag`` adds ``meta.client_request_id``."""
    item = normalize_item(item)
    if tag:
        meta = dict(item.get("meta") or {})
        meta.setdefault("client_request_id", f"tether-{uuid.uuid4()}")
        item["meta"] = meta
    body: dict[str, Any] = {"item": item}
    for key, value in (("pos", pos), ("before_uid", before_uid), ("after_uid", after_uid)):
        if value is not None:
            body[key] = value
    return body


# -- input checks (refused before anything is sent) ------------------------------------------------
def queue_mode(loop: bool | None = None, ignore_failures: bool | None = None, default: bool = False) -> Any:
    """The ``mode`` of ``/queue/mode/set``: ``"default"``, or the switches given."""
    mode: Any = (
        "default"
        if default
        else {k: v for k, v in (("loop", loop), ("ignore_failures", ignore_failures)) if v is not None}
    )
    if not mode or (default and (loop is not None or ignore_failures is not None)):
        raise UsageError(
            "queue mode: give --loop/--no-loop, --ignore-failures/--no-ignore-failures or --default"
        )
    return mode


def batch_destination(
    pos_dest: Any = None, before_uid: str | None = None, after_uid: str | None = None
) -> None:
    """Several items move to the front, the back, or before/after one uid: exactly one of them."""
    if sum(x is not None for x in (pos_dest, before_uid, after_uid)) != 1:
        raise UsageError("move needs exactly one destination: --to front|back, --before or --after")
    if pos_dest not in (None, "front", "back"):
        raise UsageError(f"several items move to the front or the back, not to {pos_dest!r}")


def api_path(method: str, path: str) -> tuple[str, str]:
    """``method`` upper-cased (GET/POST/DELETE/PUT) and ``path`` under ``/api`` (``/queue/get``)."""
    method = method.upper()
    if method not in ("GET", "POST", "DELETE", "PUT"):
        raise UsageError(f"the method must be GET, POST, DELETE or PUT, not {method!r}")
    path = "/" + path.strip().lstrip("/")
    path = path[4:] if path.startswith("/api/") else path
    if not path.strip("/") or any(c.isspace() for c in path):
        raise UsageError(f"not an API path: {path!r}")
    return method, path


# -- results ------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """How a queue item ended: ``exit_status`` completed | stopped | failed | aborted | halted | unknown."""

    item_uid: str
    name: str
    exit_status: str
    run_uids: list[str] = field(default_factory=list)
    scan_ids: list[int] = field(default_factory=list)
    msg: str = ""
    traceback: str = ""
    time_start: float | None = None
    time_stop: float | None = None
    client_request_id: str | None = None
    #: after a failure the server pushes the item back to the queue front under a new uid
    requeued_uid: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_status in FINAL_OK

    @property
    def duration(self) -> float | None:
        if self.time_start is None or self.time_stop is None:
            return None
        return self.time_stop - self.time_start

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data, with ``ok`` and ``duration``."""
        return {**asdict(self), "ok": self.ok, "duration": self.duration}

    def summary(self) -> dict[str, Any]:
        """What people read: the fields that say something, and the duration in seconds."""
        shown = ("name", "item_uid", "exit_status", "run_uids", "scan_ids", "msg", "requeued_uid")
        out = {k: v for k, v in self.to_dict().items() if k in shown and v not in (None, "", [])}
        if self.duration is not None:
            out["duration"] = f"{self.duration:.2f} s"
        return out

    def notes(self) -> list[str]:
        """Remarks on a plan that did not end well: the traceback's tail, where the server put it back."""
        out = []
        if not self.ok and self.traceback:
            out.append("traceback (last lines):\n" + "\n".join(self.traceback.rstrip().splitlines()[-8:]))
        if not self.ok and self.requeued_uid:
            out.append(f"the server put the plan back at the queue's front as {self.requeued_uid}")
        return out

    def _repr_html_(self) -> str:
        """A table of the result's fields in a notebook, and a failed plan's traceback tail."""
        from html import escape

        rows = [("ok", self.ok), *self.summary().items()]
        html = _html_table(["field", "value"], [[k, v] for k, v in rows])
        if not self.ok and self.traceback:
            tail = "\n".join(self.traceback.rstrip().splitlines()[-8:])
            html += f"<pre>{escape(tail)}</pre>"
        return html

    @classmethod
    def from_history(cls, item: Mapping[str, Any]) -> RunResult:
        res = item.get("result") or {}
        return cls(
            item_uid=item.get("item_uid", ""),
            name=item.get("name", ""),
            exit_status=res.get("exit_status") or "unknown",
            run_uids=list(res.get("run_uids") or []),
            scan_ids=list(res.get("scan_ids") or []),
            msg=res.get("msg") or "",
            traceback=res.get("traceback") or "",
            time_start=res.get("time_start"),
            time_stop=res.get("time_stop"),
            client_request_id=(item.get("meta") or {}).get("client_request_id"),
        )


class RunResults(list):
    """The results of the plans that ran, in order (what :meth:`QueueServer.run_queue` returns):
    a list of :class:`RunResult`, shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        heads = ["plan", "item uid", "exit status", "scan ids", "duration", "message"]
        return _html_table(
            heads,
            [
                [r.name, r.item_uid, r.exit_status, r.scan_ids, r.summary().get("duration"), r.msg]
                for r in self
            ],
        )


def _html_table(heads: list[str], rows: list[list[Any]]) -> str:
    """An HTML table, every cell escaped: plan names, messages and tracebacks are the server's text,
    never markup."""
    from html import escape

    def cell(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        return escape("" if value is None else str(value))

    left = ' style="text-align:left"'
    head = "".join(f"<th{left}>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td{left}>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class ItemFailed(CommandError):
    """A plan ended failed, aborted or halted. ``result`` is its :class:`RunResult`."""

    def __init__(self, result: RunResult) -> None:
        msg = f"{result.name} ({result.item_uid}) ended {result.exit_status}"
        super().__init__(msg, app_message=result.msg or None, result=result.to_dict())
        self.result = result


# -- reply shapes: replies are data from outside, checked before use ---------------------------------
_ITEMS, _BY_NAME, _PLANS = "a list of objects", "an object of objects", "plans by name"
#: what a successful reply to ``/api<path>`` must hold: key -> (expected, required)
REPLY_SHAPES: dict[str, dict[str, tuple[Any, bool]]] = {
    "/status": {"manager_state": (str, True)},
    "/queue/get": {"items": (_ITEMS, True), "running_item": (dict, False)},
    "/history/get": {"items": (_ITEMS, True)},
    "/queue/item/add/batch": {"items": (_ITEMS, True)},
    "/plans/allowed": {"plans_allowed": (_PLANS, True)},
    "/plans/existing": {"plans_existing": (_PLANS, True)},
    "/devices/allowed": {"devices_allowed": (dict, True)},
    "/devices/existing": {"devices_existing": (dict, True)},
    "/lock/info": {"lock_info": (dict, True)},
    "/console_output": {"text": (str, True)},
    **{p: {"item": (dict, True)} for p in ("/queue/item/add", "/queue/item/update", "/queue/item/get")},
    **{p: {"item": (dict, True)} for p in ("/queue/item/remove", "/queue/item/move")},
}
_NAMES = {str: "a string", dict: "an object", list: "a list", _PLANS: "plan descriptions by name"}


def check_reply(path: str, reply: Any) -> dict:
    """``reply`` if it has the shape :data:`REPLY_SHAPES` gives for ``path``, else :class:`ProtocolError`
    naming what was expected (a reply is data from outside: never trusted to be what we think)."""
    if not isinstance(reply, dict):
        raise ProtocolError(
            f"the queue server answered {path.lstrip('/')} with {_kind(reply)},"
            " where a JSON object was expected"
        )
    if reply.get("success") is False:
        return reply
    for key, (expected, required) in REPLY_SHAPES.get(path, {}).items():
        if key not in reply or (reply[key] is None and not required):
            if required:
                raise ProtocolError(f"the queue server's reply to {path.lstrip('/')} has no {key!r}")
            continue
        value = reply[key]
        if expected == _ITEMS:
            ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        elif expected in (_BY_NAME, _PLANS):
            ok = isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
            if ok and expected == _PLANS:
                ok = all(_plan_ok(v) for v in value.values())
        else:
            ok = isinstance(value, expected)
        if not ok:
            raise ProtocolError(
                f"the queue server's reply to {path.lstrip('/')} has {key!r} as {_kind(value)},"
                f" where {_NAMES.get(expected, expected)} was expected"
            )
    return reply


def _plan_ok(plan: dict) -> bool:
    """A plan description: ``parameters`` (when given) a list of objects, each with a string
    ``name`` and, when given, an object ``kind``."""
    params = plan.get("parameters", [])
    return isinstance(params, list) and all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("kind", {}), dict)
        for p in params
    )


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


# -- the client ---------------------------------------------------------------------------------
class QueueServer:
    """A client of the Bluesky HTTP Server (``base_url`` may carry a path prefix).

    ``api_key``: sent as ``Authorization: ApiKey <key>``, never logged (see
    :func:`read_api_key`); ``timeout``: deadline per HTTP call; ``verify``/``cert``: TLS;
    ``lock_key``: the key of a lock set with :meth:`lock`, sent with the writes it guards.
    Use :meth:`from_endpoint` (what ``tether.connect("qserver")`` calls) or :meth:`from_url`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        key_source: str = "the api_key argument",
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        retries: int = 2,
        lock_key: str | None = None,
        login: dict[str, Any] | None = None,
        transport: Any = None,
        login_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: what the stored login is filed under: the URL, or for a forward from an ssh:// host that
        #: host and the server's address there (a forward's local port changes; another app may get it)
        self.login_key = login_key or self.base_url
        self.timeout = timeout
        self._api_key = api_key or None
        self._secrets: list[str] = [api_key] if api_key else []
        self._login = None if api_key else login
        if self._login:
            self._secrets += [self._login["access_token"], self._login["refresh_token"]]
            key_source = f"the login of {self._login.get('username')} ({self._login.get('provider')})"
        self.key_source = key_source if api_key or self._login else "nowhere"
        self._http_options = {"timeout": timeout, "verify": verify, "cert": cert, "retries": retries}
        # ``transport``: another door with HttpSession's call() (RE Manager's 0MQ socket, zmq.ZmqDoor)
        self._transport = transport
        self.http = transport or self._new_http()
        self._verify = verify
        self._lock_key: str | None = None
        self.lock_key = lock_key
        self._lists: dict[str, tuple[str | None, Any]] = {}
        self._status_for_lists: tuple[float, dict] | None = None

    @classmethod
    def from_endpoint(
        cls,
        endpoint: Any,
        *,
        url: str | None = None,
        api_key: str | None = None,
        api_key_file: str | None = None,
        insecure: bool = False,
        ca_bundle: str | None = None,
        timeout: float | None = None,
        zmq: str | None = None,
        zmq_public_key: str | None = None,
        zmq_info: str | None = None,
        **options: Any,
    ) -> QueueServer:
        """A client for a verified endpoint, from the adapter's settings: ``api_key``/``api_key_file``
        (:func:`read_api_key`), ``lock_key``, ``insecure``/``ca_bundle`` (TLS), ``timeout`` (the
        command deadline: each call gets at most 30 s of it); ``url`` is the one ``endpoint`` was
        verified from (kept in ``endpoint.extra``), else the endpoint's host and port are used."""
        base_url = endpoint.extra.get("base_url")
        if not base_url:
            host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
            base_url = f"http://{host}:{endpoint.port}"
        key, source = read_api_key(api_key, api_key_file)
        if endpoint.extra.get("ssh"):
            there = f"{endpoint.extra.get('remote_host', '127.0.0.1')}:{endpoint.extra.get('remote_port')}"
            options.setdefault("login_key", f"{endpoint.extra['ssh']} {there}")
        login_key = options.get("login_key") or base_url.rstrip("/")
        options.setdefault("login", None if key else auth.load(login_key))
        if timeout is not None:
            options["timeout"] = min(timeout, MAX_CALL_TIMEOUT)
        if endpoint.extra.get("door") == "zmq":  # RE Manager's own socket: see zmq.py
            from .zmq import ZmqDoor

            control = endpoint.extra["zmq_control"]
            info = zmq_info or endpoint.extra.get("zmq_info")
            door = ZmqDoor(
                control, public_key=zmq_public_key, info=info, timeout=options.get("timeout", 10.0)
            )
            return cls(control, timeout=door.timeout, transport=door, lock_key=options.get("lock_key"))
        options.setdefault("verify", False if insecure else (ca_bundle or True))
        return cls(base_url, api_key=key, key_source=source, **options)

    @classmethod
    def from_url(cls, url: str, *, probe_timeout: float = 2.0, **options: Any) -> QueueServer:
        """A client for the server at ``url`` (may carry https and a path prefix), after the probe
        proves it is the Bluesky HTTP Server; the other settings resolve as ``tether.connect``'s."""
        from tether import config

        from .probe import verify_url
        from .settings import SETTINGS

        endpoint = verify_url(url, probe_timeout)
        settings = config.resolve("qserver", SETTINGS, {"url": url, **options})
        settings.pop("host", None), settings.pop("port", None)
        return cls.from_endpoint(endpoint, **settings)

    # -- plumbing ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> dict:
        """Call ``/api<path>`` and return the reply; ``success: false`` raises :class:`CommandError`.

        With :attr:`lock_key` set, writes to locked parts carry it.
        """
        body = dict(body or {})
        if self.lock_key and path in LOCKABLE:
            body.setdefault("lock_key", self.lock_key)
        if self._login and auth.expiring(self._login):
            self.refresh()
        try:
            reply = self.http.call(method, f"/api{path}", body, timeout=timeout, retries=retries)
        except Timeout as exc:
            if exc.detail.get("status") == 408 and not exc.hint:
                exc.hint = "the HTTP server answers but RE Manager does not: is start-re-manager running?"
            raise
        reply = check_reply(path, reply)
        if reply.get("success") is False:
            msg = str(reply.get("msg") or "the request was refused")
            raise CommandError(f"the queue server refused {path.lstrip('/')}: {msg}", app_message=msg)
        return reply

    def _get(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> dict:
        return self.request("GET", path, body, **kw)

    def _post(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> dict:
        return self.request("POST", path, body, **kw)

    @staticmethod
    def _opt(**kw: Any) -> dict[str, Any]:
        return {k: v for k, v in kw.items() if v is not None}

    def _new_http(self) -> Any:
        """An HTTP session with the current credentials (a new login replaces the old session)."""
        from tether.transport.http import HttpSession

        if getattr(self, "_transport", None) is not None:
            return self._transport  # the 0MQ door has no HTTP credentials to renew
        if getattr(self, "http", None) is not None:
            self.http.close()
        return HttpSession(
            self.base_url,
            headers=self.auth_headers(),
            secrets=self._secrets,
            auth_hint=auth_hint(self.key_source),
            what="the Bluesky HTTP Server",
            **self._http_options,
        )

    @property
    def lock_key(self) -> str | None:
        """The lock key sent with writes to a locked queue/environment (masked in ``-v`` output)."""
        return self._lock_key

    @lock_key.setter
    def lock_key(self, key: str | None) -> None:
        self._lock_key = key or None
        if key:
            self.add_secret(key)

    def add_secret(self, secret: str | None) -> None:
        """Mask ``secret`` in every later log line, error and ``-v`` output."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self.http.add_secret(secret)

    @property
    def secrets(self) -> list[str]:
        """Every secret this client holds (API key, lock keys, tokens): what ``-v`` must mask."""
        return list(self._secrets)

    @property
    def door(self) -> str:
        """``"http"`` (the HTTP server) or ``"zmq"`` (RE Manager's own 0MQ control socket)."""
        return getattr(self.http, "door", "http")

    @property
    def api_key(self) -> str | None:
        """The key in use (for the stream module's WebSocket header). Never print it."""
        return self._api_key

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header (an API key, else a login's token); never print it."""
        if self._api_key:
            return {"Authorization": f"ApiKey {self._api_key}"}
        if self._login:
            return {"Authorization": f"Bearer {self._login['access_token']}"}
        return {}

    # -- status and environment -------------------------------------------------------------------
    def status(
        self, *, reload: bool = False, timeout: float | None = None, retries: int | None = None
    ) -> dict:
        """RE Manager's status dict. ``reload=True`` skips the server's 0.4 s cache."""
        return self._get("/status", {"reload": True} if reload else {}, timeout=timeout, retries=retries)

    def environment_open(self) -> dict:
        """Start opening the worker environment (returns at once; see :meth:`ensure_environment`)."""
        return self._post("/environment/open")

    def environment_close(self) -> dict:
        """Start closing the worker environment (see :meth:`close_environment` to wait)."""
        return self._post("/environment/close")

    def environment_destroy(self) -> dict:
        """Kill the worker environment (for a worker that no longer answers)."""
        return self._post("/environment/destroy")

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, *, interval: float = 0.1) -> dict:
        """Poll status (uncached) until ``predicate(status)``; :class:`Timeout` otherwise."""
        end = time.monotonic() + timeout
        while True:
            st = self.status(reload=True)
            if predicate(st):
                return st
            if time.monotonic() >= end:
                raise Timeout(
                    f"the queue server did not reach the expected state within {timeout:g} s"
                    f" (manager_state {st.get('manager_state')})"
                )
            time.sleep(interval)

    def ensure_environment(self, timeout: float = 60.0) -> dict:
        """Open the environment unless it exists, wait, and check ``worker_environment_exists``.

        A failed open returns the manager to idle without an environment: that raises
        :class:`CommandError` whose ``console_tail`` detail holds the last console lines.
        """
        settled = ("idle", "executing_queue", "paused")
        st = self.status(reload=True)
        if st.get("manager_state") not in settled:  # opening, closing or starting: let it finish
            st = self.wait_for(lambda s: s.get("manager_state") in settled, timeout)
        if st.get("worker_environment_exists"):
            return st
        self.environment_open()
        st = self.wait_for(lambda s: s.get("manager_state") in settled, timeout)
        if not st.get("worker_environment_exists"):
            tail = self.console_text(40) if self.door == "http" else ""  # 0MQ: the manager keeps none
            raise CommandError(
                "the environment did not open (worker_environment_exists is false)",
                app_message=tail.strip()[-2000:] or None,
                hint="the console tail above says why; fix the startup code or install what it needs",
                console_tail=tail,
            )
        return st

    def close_environment(self, timeout: float = 60.0) -> dict:
        """Close the environment (if open) and wait for it to be gone."""
        st = self.status(reload=True)
        if st.get("worker_environment_exists"):
            self.environment_close()
        return self.wait_for(
            lambda s: not s.get("worker_environment_exists") and s.get("manager_state") == "idle", timeout
        )

    def summary(self, status: Mapping[str, Any] | None = None) -> dict:
        """The status fields people read (:data:`STATUS_KEYS`), from ``status`` or a fresh one."""
        st = status if status is not None else self.status(reload=True)
        return {k: st.get(k) for k in STATUS_KEYS}

    def environment(self, action: str, *, wait: bool = False, timeout: float = 60.0) -> dict:
        """``open``, ``close`` or ``destroy`` the environment; with ``wait``, wait until it is done
        (``open`` checks it exists: :meth:`ensure_environment`) and return :meth:`summary`."""
        if action not in ("open", "close", "destroy"):
            raise UsageError(f"the environment can be opened, closed or destroyed, not {action!r}")
        if action == "open" and wait:
            return self.summary(self.ensure_environment(timeout=timeout))
        reply = getattr(self, f"environment_{action}")()
        if not wait:
            return reply
        gone = self.wait_for(
            lambda s: not s.get("worker_environment_exists") and s.get("manager_state") == "idle", timeout
        )
        return self.summary(gone)

    # -- queue --------------------------------------------------------------------------------------
    def queue_get(self, *, reload: bool = False) -> dict:
        """``{"items": [...], "running_item": {...}, "plan_queue_uid": ...}`` (``reload``: skip the
        server's status-keyed cache)."""
        return self._get("/queue/get", {"reload": True} if reload else {})

    def item_add(
        self,
        item: Mapping[str, Any],
        *,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Add one item (``pos`` "front"/"back"/index, or ``before_uid``/``after_uid``); returns the
        server's item, with its new ``item_uid``."""
        body = item_add_body(item, pos=pos, before_uid=before_uid, after_uid=after_uid, tag=False)
        return self._post("/queue/item/add", body)["item"]

    def item_add_batch(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> list[dict]:
        """Add several items, all or nothing."""
        body = self._opt(
            items=[normalize_item(i) for i in items], pos=pos, before_uid=before_uid, after_uid=after_uid
        )
        reply = check_reply(
            "/queue/item/add/batch", self.http.call("POST", "/api/queue/item/add/batch", body)
        )
        if not reply.get("success", True):
            errors = [r.get("msg") for r in reply.get("results", []) if not r.get("success")]
            msg = reply.get("msg") or "; ".join(e for e in errors if e) or "the batch was refused"
            raise CommandError(f"the queue server refused the batch: {msg}", app_message=msg)
        return reply["items"]

    def item_update(self, item: Mapping[str, Any], *, replace: bool | None = None) -> dict:
        """Change a queued item (``item`` carries its ``item_uid``); ``replace`` gives it a new uid."""
        if "item_uid" not in item:
            raise UsageError("item_update needs the item's item_uid")
        body = self._opt(item={**normalize_item(item), "item_uid": item["item_uid"]}, replace=replace)
        return self._post("/queue/item/update", body)["item"]

    def item_get(self, *, uid: str | None = None, pos: str | int | None = None) -> dict:
        """One queued item, by ``uid`` or ``pos``."""
        return self._get("/queue/item/get", self._opt(uid=uid, pos=pos))["item"]

    def item_remove(self, *, uid: str | None = None, pos: str | int | None = None) -> dict:
        """Remove one item (by ``uid`` or ``pos``; default the back of the queue)."""
        return self._post("/queue/item/remove", self._opt(uid=uid, pos=pos))["item"]

    def item_move(
        self,
        *,
        uid: str | None = None,
        pos: str | int | None = None,
        pos_dest: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Move one item (by ``uid`` or ``pos``) to ``pos_dest``, or before/after another uid."""
        if (uid is None) == (pos is None):
            raise UsageError("move needs exactly one of uid or pos")
        if sum(x is not None for x in (pos_dest, before_uid, after_uid)) != 1:
            raise UsageError("move needs exactly one destination: pos_dest, before_uid or after_uid")
        body = self._opt(uid=uid, pos=pos, pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid)
        return self._post("/queue/item/move", body)["item"]

    def queue_clear(self) -> dict:
        """Remove every queued item (the running one is not touched)."""
        return self._post("/queue/clear")

    def queue_start(self) -> dict:
        """Start the queue. A "busy" refusal while the queue is already executing counts as success."""
        try:
            return self._post("/queue/start")
        except CommandError as exc:
            if "busy" in (exc.app_message or "").lower():
                st = self.status(reload=True)
                if st.get("manager_state") in ("executing_queue", "starting_queue"):
                    return {"success": True, "msg": "the queue is already running"}
            raise

    def queue_stop(self) -> dict:
        """Ask the queue to stop after the running item."""
        return self._post("/queue/stop")

    def queue_stop_cancel(self) -> dict:
        """Cancel a pending :meth:`queue_stop`."""
        return self._post("/queue/stop/cancel")

    def queue_autostart(self, enable: bool) -> dict:
        """Start the queue by itself whenever it has items and the environment is open."""
        return self._post("/queue/autostart", {"enable": bool(enable)})

    # -- RunEngine ----------------------------------------------------------------------------------
    def re_pause(self, option: str = "deferred") -> dict:
        """Pause the running plan: ``deferred`` (at the next checkpoint) or ``immediate``."""
        if option not in ("deferred", "immediate"):
            raise UsageError("pause option must be deferred or immediate")
        return self._post("/re/pause", {"option": option})

    def re_resume(self) -> dict:
        """Resume the paused plan."""
        return self._post("/re/resume")

    def re_stop(self) -> dict:
        """End the paused plan as ``stopped`` (counts as success)."""
        return self._post("/re/stop")

    def re_abort(self) -> dict:
        """End the paused plan as ``aborted``."""
        return self._post("/re/abort")

    def re_halt(self) -> dict:
        """End the paused plan as ``halted``, without cleanup."""
        return self._post("/re/halt")

    # -- history ------------------------------------------------------------------------------------
    def history_get(self, *, reload: bool = False) -> dict:
        """``{"items": [...], "plan_history_uid": ...}``; each item has ``result``.

        The server answers from a cache keyed by its own status, which may be 0.4 s old;
        ``reload=True`` makes it refresh that first.
        """
        return self._get("/history/get", {"reload": True} if reload else {})

    def history_clear(self, *, size: int | None = None, item_uid: str | None = None) -> dict:
        """Clear the history (or keep the last ``size`` items, or drop up to ``item_uid``)."""
        return self._post("/history/clear", self._opt(size=size, item_uid=item_uid))

    def find_in_history(
        self, item_uid: str, *, history_uid: str | None = None, wait: float = 1.0
    ) -> RunResult | None:
        """The result of ``item_uid`` if it is in history (read fresh, not from the server's cache).

        ``history_uid``: the ``plan_history_uid`` a status just reported; while the reply's
        uid is not that one, history is asked again, for up to ``wait`` seconds.
        """
        end = time.monotonic() + wait
        while True:
            reply = self.history_get(reload=True)
            for item in reversed(reply.get("items", [])):
                if item.get("item_uid") == item_uid:
                    return RunResult.from_history(item)
            if history_uid is None or reply.get("plan_history_uid") == history_uid or time.monotonic() >= end:
                return None
            time.sleep(0.02)

    # -- plans and devices (cached by the status *_uid fields) ---------------------------------------
    def _cached(self, kind: str, path: str, key: str, body: dict, status: Mapping[str, Any] | None) -> Any:
        uid = (status or self.status()).get(f"{key}_uid")
        hit = self._lists.get(kind)
        if hit is not None and uid is not None and hit[0] == uid:
            return hit[1]
        reply = self._get(path, body)
        self._lists[kind] = (reply.get(f"{key}_uid", uid), reply.get(key) or {})
        return self._lists[kind][1]

    def plans_allowed(self, *, reduced: bool = False, status: Mapping[str, Any] | None = None) -> dict:
        """Plans the user may run, by name (``reduced`` drops annotations, keeps types and defaults)."""
        return self._cached(
            f"plans_allowed:{reduced}",
            "/plans/allowed",
            "plans_allowed",
            {"reduced": reduced} if reduced else {},
            status,
        )

    def devices_allowed(self, *, status: Mapping[str, Any] | None = None) -> dict:
        """Devices the user may use, by name (cached until ``devices_allowed_uid`` changes)."""
        return self._cached("devices_allowed", "/devices/allowed", "devices_allowed", {}, status)

    def plans_existing(self, *, reduced: bool = False) -> dict:
        """Every plan the environment defines, by name."""
        return self._get("/plans/existing", {"reduced": reduced} if reduced else {})["plans_existing"]

    def devices_existing(self) -> dict:
        """Every device the environment defines, by name."""
        return self._get("/devices/existing")["devices_existing"]

    def plan_info(self, name: str, *, existing: bool = False) -> dict:
        """One plan's description and parameters (:class:`UsageError` naming the choices if unknown)."""
        plans = self.plans_existing(reduced=True) if existing else self.plans_allowed(reduced=True)
        if name not in plans:
            validate_item({"item_type": "plan", "name": name}, plans, [])
        return plans[name]

    #: How long a status read for validation is reused: the allowed lists change only when the
    #: environment opens or permissions reload, and the server validates again anyway.
    LIST_STATUS_TTL = 2.0

    def _recent_status(self) -> dict:
        now = time.monotonic()
        if self._status_for_lists is None or now - self._status_for_lists[0] > self.LIST_STATUS_TTL:
            self._status_for_lists = (now, self.status())
        return self._status_for_lists[1]

    def validate(self, item: Mapping[str, Any], *, status: Mapping[str, Any] | None = None) -> dict:
        """The normalized item, or :class:`UsageError` naming what is wrong (nothing is sent)."""
        item = normalize_item(item)
        st = status or self._recent_status()
        validate_item(item, self.plans_allowed(status=st), self.devices_allowed(status=st))
        return item

    # -- locks --------------------------------------------------------------------------------------
    def lock(
        self, lock_key: str, *, environment: bool = False, queue: bool = False, note: str | None = None
    ) -> dict:
        """Lock the environment and/or the queue: others then need ``lock_key`` to change them."""
        if not (environment or queue):
            raise UsageError("lock the environment, the queue, or both")
        self.add_secret(lock_key)
        return self._post(
            "/lock", self._opt(lock_key=lock_key, environment=environment, queue=queue, note=note)
        )

    def unlock(self, lock_key: str) -> dict:
        """Remove the lock set with ``lock_key`` (or the emergency key)."""
        self.add_secret(lock_key)
        return self._post("/unlock", {"lock_key": lock_key})

    def lock_info(self, lock_key: str | None = None) -> dict:
        """The lock state (``environment``, ``queue``, ``note``, ``user``…); checks ``lock_key`` if given."""
        if lock_key:
            self.add_secret(lock_key)
        return self._get("/lock/info", self._opt(lock_key=lock_key))["lock_info"]

    # -- console ------------------------------------------------------------------------------------
    def console_text(self, nlines: int = 200) -> str:
        """The last ``nlines`` (at most 2000) of RE Manager's console."""
        return self._get("/console_output", {"nlines": max(1, min(int(nlines), 2000))}).get("text", "")

    def console_output_update(self, last_msg_uid: str = "ALL") -> dict:
        """New console messages since ``last_msg_uid`` (``"ALL"``: the whole buffer)."""
        return self._get("/console_output_update", {"last_msg_uid": last_msg_uid})

    # -- submit and track ---------------------------------------------------------------------------
    def submit(
        self,
        item: Mapping[str, Any],
        *,
        validate: bool = True,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Validate, tag with ``meta.client_request_id``, and add; returns the server's item.

        Adds are never resent blindly: when the reply is lost (timeout, broken connection),
        the queue is searched for the tag, and the item found there is returned.
        """
        if validate:
            item = self.validate(item)
        body = item_add_body(item, pos=pos, before_uid=before_uid, after_uid=after_uid)
        try:
            return self._post("/queue/item/add", body)["item"]
        except (Timeout, Unreachable) as exc:
            if isinstance(exc, AuthError):
                raise
            landed = self._find_tagged(body["item"]["meta"]["client_request_id"])
            if landed is not None:
                return landed
            raise type(exc)(
                f"{exc.message}; the item is not in the queue, so it was not added",
                hint="check that the queue server runs, then add it again",
            ) from exc

    def add(
        self,
        items: list[Mapping[str, Any]],
        *,
        validate: bool = True,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> list[dict]:
        """Add ``items`` (all validated before the first is sent; several go as one batch)."""
        if validate:
            st = self.status()
            items = [self.validate(i, status=st) for i in items]
        where = {"pos": pos, "before_uid": before_uid, "after_uid": after_uid}
        if len(items) == 1:
            return [self.submit(items[0], validate=False, **where)]
        return self.item_add_batch(items, **where)

    @staticmethod
    def progress_text(st: Mapping[str, Any]) -> str:
        """A status in a few words, for a progress line."""
        return (
            f"manager {st.get('manager_state')}, RE {st.get('re_state')}, "
            f"{st.get('items_in_queue')} queued, {st.get('items_in_history')} in history"
        )

    def _find_tagged(self, request_id: str) -> dict | None:
        try:
            reply = self.queue_get(reload=True)
        except (Timeout, Unreachable):
            return None
        items = [*reply.get("items", []), reply.get("running_item") or {}]
        return next((i for i in items if (i.get("meta") or {}).get("client_request_id") == request_id), None)

    def wait_for_item(
        self,
        item_uid: str,
        *,
        timeout: float = 600.0,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        lost_after: float = 10.0,
    ) -> RunResult:
        """Follow ``item_uid`` from the queue to history and return its :class:`RunResult`.

        Uses ``/api/status/ws`` (falling back to polling), rereading history when
        ``plan_history_uid`` changes. Raises :class:`Timeout` after ``timeout`` s and
        :class:`Unreachable` when RE Manager stops answering for ``lost_after`` s.
        """
        from .stream import track_item

        return track_item(
            self, item_uid, timeout=timeout, on_status=on_status, transport=transport, lost_after=lost_after
        )

    def item_execute(self, item: Mapping[str, Any], *, tag: bool = True) -> dict:
        """Run ``item`` now, bypassing the queue (the manager must be idle, the environment open);
        returns the started item. It never enters the queue, not even when it fails."""
        return self._post("/queue/item/execute", item_add_body(item, tag=tag))["item"]

    def start(
        self,
        item: Mapping[str, Any],
        *,
        queue: bool = False,
        open_env: bool = False,
        validate: bool = True,
        timeout: float = 120.0,
    ) -> dict:
        """Start ``item`` and return it at once: executed now (default), or (``queue``) added to
        the back of the queue, which is started unless it runs. A queue that cannot start takes
        the item back out: a run that does not start leaves nothing behind."""
        if validate:
            item = self.validate(item)
        if open_env:
            self.ensure_environment(timeout=timeout)
        if not queue:
            return self.item_execute(item)
        added = self.submit(item, validate=False)
        try:
            if self.status(reload=True).get("manager_state") == "idle":
                self.queue_start()
        except TetherError as exc:
            raise self._take_back(added["item_uid"], exc) from exc
        return added

    def _take_back(self, uid: str, why: TetherError) -> TetherError:
        """Remove ``uid`` from the queue again; ``why`` says what became of it."""
        try:
            self.item_remove(uid=uid)
            why.message += f"; item {uid} was removed from the queue again"
        except TetherError as exc:
            why.message += f"; item {uid} is still queued (removing it failed: {exc.message})"
        return why

    def run(
        self,
        item: Mapping[str, Any],
        *,
        queue: bool = False,
        open_env: bool = False,
        timeout: float = 600.0,
        validate: bool = True,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        raise_on_failure: bool = False,
    ) -> RunResult:
        """Run ``item`` and wait for its :class:`RunResult`.

        Default: executed now (``/queue/item/execute``), the queue neither started nor changed;
        a run that cannot start (manager busy, environment closed) adds nothing. ``queue=True``:
        through the queue, behind what is queued (:meth:`run_queue` reports those too).
        ``raise_on_failure`` raises :class:`ItemFailed` for failed/aborted/halted."""
        if queue:
            return self.run_queue(
                item, open_env=open_env, timeout=timeout, validate=validate, on_status=on_status,
                transport=transport, raise_on_failure=raise_on_failure,
            )[-1]  # fmt: skip
        from .stream import check_transport

        check_transport(transport)  # before anything is sent
        started = self.start(item, open_env=open_env, validate=validate, timeout=min(timeout, 120.0))
        return self._result(started, timeout, on_status, transport, raise_on_failure)

    def run_queue(
        self,
        item: Mapping[str, Any],
        *,
        open_env: bool = False,
        timeout: float = 600.0,
        validate: bool = True,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        raise_on_failure: bool = False,
    ) -> RunResults:
        """Add ``item`` to the back of the queue, start the queue (unless it runs) and wait for
        ``item``; the results of every item that ran meanwhile, ``item``'s last (a list). When the queue
        stops before reaching ``item`` (one ahead failed), ``item`` is taken back out and the
        :class:`CommandError` names what ran (``ran``)."""
        from .stream import check_transport

        check_transport(transport)
        before = {i.get("item_uid") for i in self.history_get(reload=True).get("items", [])}
        added = self.start(
            item, queue=True, open_env=open_env, validate=validate, timeout=min(timeout, 120.0)
        )
        try:
            mine = self._result(added, timeout, on_status, transport, raise_on_failure=False)
        except CommandError as exc:
            if exc.detail.get("item_uid") != added["item_uid"]:
                raise
            ran = self._ran_since(before)
            failed = [r for r in ran if not r.ok]
            if failed:
                exc.message = f"the queue stopped after {failed[-1].name} ({failed[-1].item_uid}) ended "
                exc.message += f"{failed[-1].exit_status}, before reaching {added['name']}"
            exc.detail["ran"] = [r.to_dict() for r in ran]
            raise self._take_back(added["item_uid"], exc) from None
        ran = [r for r in self._ran_since(before) if r.item_uid != mine.item_uid]
        if raise_on_failure and not mine.ok:
            raise ItemFailed(mine)
        return RunResults([*ran, mine])

    def _ran_since(self, before: set) -> list[RunResult]:
        items = self.history_get(reload=True).get("items", [])
        return [RunResult.from_history(i) for i in items if i.get("item_uid") not in before]

    def _result(
        self,
        started: Mapping[str, Any],
        timeout: float,
        on_status: Callable[[dict], None] | None,
        transport: str,
        raise_on_failure: bool,
    ) -> RunResult:
        uid = started["item_uid"]
        result = self.wait_for_item(uid, timeout=timeout, on_status=on_status, transport=transport)
        result.client_request_id = (started.get("meta") or {}).get("client_request_id")
        if not result.ok:
            result.requeued_uid = self._requeued_uid(result.client_request_id, uid)
            if raise_on_failure:
                raise ItemFailed(result)
        return result

    def _requeued_uid(self, request_id: str | None, old_uid: str) -> str | None:
        if not request_id:
            return None
        try:
            items = self.queue_get(reload=True).get("items", [])
        except (CommandError, Unreachable, AuthError):
            return None
        for it in items:
            if (it.get("meta") or {}).get("client_request_id") == request_id and it.get(
                "item_uid"
            ) != old_uid:
                return it["item_uid"]
        return None

    # -- the rest of the API ------------------------------------------------------------------------
    def ping(self) -> dict:
        """RE Manager's answer to a ping (its status, in fact) through the HTTP server."""
        return self._get("/ping")

    def config_get(self) -> dict:
        """RE Manager's configuration (``{"config": {...}}``: addresses, startup profile …)."""
        return self._get("/config/get")

    def queue_mode_set(
        self, *, loop: bool | None = None, ignore_failures: bool | None = None, default: bool = False
    ) -> dict:
        """Change the queue mode: ``loop`` (finished items go to the back), ``ignore_failures``
        (go on past a failed plan), or ``default`` (both off)."""
        mode = queue_mode(loop, ignore_failures, default)
        return self._post("/queue/mode/set", {"mode": mode})

    def queue_upload(self, name: str, content: bytes, *, data_type: str | None = None) -> dict:
        """Add the plans of a spreadsheet (``name`` ends .xlsx or .csv) to the queue: the server
        converts it (its default converter, or a site's); each item's result is in ``results``."""
        form = {"data_type": data_type} if data_type else {}
        files = {"spreadsheet": (name, content)}
        reply = self.http.call("POST", "/api/queue/upload/spreadsheet", form=form, files=files)
        if not reply.get("success", True):
            errors = [r.get("msg") for r in reply.get("results", []) if not r.get("success")]
            msg = reply.get("msg") or "; ".join(e for e in errors if e) or "the spreadsheet was refused"
            raise CommandError(f"the queue server refused the spreadsheet: {msg}", app_message=msg)
        return reply

    def item_remove_batch(self, uids: list[str], *, ignore_missing: bool = False) -> dict:
        """Remove several items by uid, all or nothing (``ignore_missing``: skip unknown uids)."""
        return self._post("/queue/item/remove/batch", {"uids": list(uids), "ignore_missing": ignore_missing})

    def item_move_batch(
        self,
        uids: list[str],
        *,
        pos_dest: str | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
        reorder: bool | None = None,
    ) -> dict:
        """Move several items (by uid) to ``pos_dest`` (front/back) or before/after another uid."""
        batch_destination(pos_dest, before_uid, after_uid)
        body = self._opt(uids=list(uids), pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid)
        return self._post("/queue/item/move/batch", {**body, **self._opt(reorder=reorder)})

    def environment_update(self, *, run_in_background: bool | None = None) -> dict:
        """Reload the environment's lists of plans and devices from the worker (a task: ``task_uid``)."""
        return self._post("/environment/update", self._opt(run_in_background=run_in_background))

    def function_execute(
        self,
        name: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        run_in_background: bool = False,
    ) -> dict:
        """Run function ``name`` (one the startup code defines and the permissions allow) in the
        worker; returns ``task_uid`` (see :meth:`wait_for_task`)."""
        item = normalize_item({"name": name, "args": list(args), "kwargs": dict(kwargs or {})})
        item["item_type"] = "function"
        return self._post("/function/execute", {"item": item, "run_in_background": run_in_background})

    def script_upload(
        self,
        script: str,
        *,
        update_lists: bool = True,
        update_re: bool = False,
        run_in_background: bool = False,
    ) -> dict:
        """Run Python ``script`` in the worker (``update_lists``: its plans and devices become
        usable); returns ``task_uid`` (see :meth:`wait_for_task`)."""
        body = {"script": script, "update_lists": update_lists, "update_re": update_re}
        return self._post("/script/upload", {**body, "run_in_background": run_in_background})

    def task_status(self, task_uid: str | list[str]) -> dict:
        """``running``, ``completed`` or ``not_found`` (a dict by uid for a list of uids)."""
        return self._get("/task/status", {"task_uid": task_uid})

    def task_result(self, task_uid: str) -> dict:
        """The task's status and ``result`` (``success``, ``msg``, ``return_value``, ``traceback``)."""
        return self._get("/task/result", {"task_uid": task_uid})

    def wait_for_task(self, task_uid: str, timeout: float = 60.0, *, interval: float = 0.1) -> dict:
        """Poll :meth:`task_result` until the task is no longer running; a task that failed
        raises :class:`CommandError` with its message (``traceback`` in the detail)."""
        end = time.monotonic() + timeout
        while True:
            reply = self.task_result(task_uid)
            if reply.get("status") == "not_found":
                raise CommandError(f"RE Manager knows no task {task_uid}")
            if reply.get("status") != "running":
                result = reply.get("result") or {}
                if result.get("success") is False:
                    msg = result.get("msg") or "the task failed"
                    raise CommandError(
                        f"task {task_uid} failed: {msg}", app_message=msg, traceback=result.get("traceback")
                    )
                return reply
            if time.monotonic() >= end:
                raise Timeout(f"task {task_uid} did not finish within {timeout:g} s", task_uid=task_uid)
            time.sleep(interval)

    def permissions_get(self) -> dict:
        """The user group permissions in use (``user_group_permissions``)."""
        return self._get("/permissions/get")

    def permissions_set(self, permissions: Mapping[str, Any]) -> dict:
        """Replace the user group permissions (a dict with ``user_groups``, as in the YAML file)."""
        perms = (
            permissions.get("user_group_permissions", permissions)
            if isinstance(permissions, Mapping)
            else None
        )
        if not isinstance(perms, Mapping) or not isinstance(perms.get("user_groups"), Mapping):
            raise UsageError(
                "permissions must be a mapping with a 'user_groups' mapping (as in the YAML file)"
            )
        return self._post("/permissions/set", {"user_group_permissions": dict(perms)})

    def permissions_reload(
        self, *, restore_plans_devices: bool | None = None, restore_permissions: bool | None = None
    ) -> dict:
        """Reload the permissions (and, if asked, the lists of plans and devices) from disk."""
        body = self._opt(restore_plans_devices=restore_plans_devices, restore_permissions=restore_permissions)
        return self._post("/permissions/reload", body)

    def kernel_interrupt(
        self, *, interrupt_task: bool | None = None, interrupt_plan: bool | None = None
    ) -> dict:
        """Interrupt the worker's IPython kernel (only for a worker started as an IPython kernel)."""
        return self._post(
            "/kernel/interrupt", self._opt(interrupt_task=interrupt_task, interrupt_plan=interrupt_plan)
        )

    def manager_stop(self, *, safe: bool = True) -> dict:
        """Stop RE Manager for good (``safe=False``: even while the environment is open)."""
        return self._post("/manager/stop", {"option": "safe_on" if safe else "safe_off"})

    def manager_kill(self) -> dict:
        """The server's test endpoint: kill RE Manager's process (its watchdog restarts it). A killed
        manager never answers: the server's timeout is the expected reply."""
        try:
            return self._post("/test/manager/kill", timeout=min(self.timeout, 5.0))
        except Timeout:
            return {
                "success": True,
                "msg": "RE Manager did not answer, as a killed one does; its watchdog restarts it",
            }

    def re_runs(self, option: str = "active") -> dict:
        """The RunEngine's runs: ``active`` (all), ``open`` or ``closed`` (``run_list``)."""
        if option not in ("active", "open", "closed"):
            raise UsageError(f"runs are active, open or closed, not {option!r}")
        return self._get(f"/re/runs/{option}")

    def re_metadata(self) -> dict:
        """The RunEngine's metadata (``RE.md``); newer servers only."""
        return self._get("/re/metadata")

    def console_uid(self) -> str:
        """The uid of the console buffer's state (it changes with each new message)."""
        return self._get("/console_output/uid").get("console_output_uid", "")

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Any endpoint: ``method`` GET/POST/DELETE/PUT, ``path`` under ``/api`` (``/queue/get``);
        the reply as the server sent it (a ``success: false`` reply is returned, not raised)."""
        method, path = api_path(method, path)
        body = dict(body or {})
        if self.lock_key and path in LOCKABLE:
            body.setdefault("lock_key", self.lock_key)
        return self.http.call(method, f"/api{path}", body)

    # -- logins (authentication providers) ----------------------------------------------------------
    def providers(self) -> list[str]:
        """The server's login providers that take a username and password (from its OpenAPI schema)."""
        paths = self.http.call("GET", "/openapi.json").get("paths", {})
        prefix, suffix = "/api/auth/provider/", "/token"
        return sorted(
            p[len(prefix) : -len(suffix)] for p in paths if p.startswith(prefix) and p.endswith(suffix)
        )

    def login(self, username: str, password: str, *, provider: str | None = None) -> dict:
        """Log in with ``provider`` (default: the server's only one); the tokens are stored
        (0600, see :mod:`.auth`) and used from now on by every client of this server."""
        if not username or not password:
            raise UsageError("a login needs a username and a password")
        if provider is None:
            found = self.providers()
            if len(found) != 1:
                if not found:
                    raise CommandError(f"{self.base_url} has no login providers: it takes an API key")
                raise UsageError(
                    f"this server has several login providers: pick one with --provider ({', '.join(found)})"
                )
            provider = found[0]
        from urllib.parse import quote_plus

        self.add_secret(password), self.add_secret(quote_plus(password))  # as typed, and as sent (a form)
        try:
            reply = self.http.call(
                "POST",
                f"/api/auth/provider/{provider}/token",
                form={"username": username, "password": password},
            )
        except AuthError as exc:
            exc.hint = f"check the username and the password for provider {provider!r}"
            raise
        except CommandError as exc:
            if getattr(exc, "detail", {}).get("status") == 404:
                exc.hint = (
                    f"no provider {provider!r} takes passwords here: {', '.join(self.providers()) or 'none'}"
                )
            raise
        self._use_login(auth.entry_from(reply, provider=provider, username=username))
        return {
            "username": username,
            "provider": provider,
            "expires_in": reply.get("expires_in"),
            "token_file": str(auth.token_file()),
        }

    def _use_login(self, entry: dict[str, Any] | None) -> None:
        self._login = entry
        if entry:
            self.add_secret(entry["access_token"]), self.add_secret(entry["refresh_token"])
            auth.save(self.login_key, entry)
            self.key_source = f"the login of {entry.get('username')} ({entry.get('provider')})"
        self.http = self._new_http()

    def refresh(self) -> dict:
        """New tokens for the stored login (done by itself before the access token expires)."""
        if not self._login:
            raise UsageError(f"not logged in to {self.base_url}: tether qserver login")
        try:
            reply = self.http.call(
                "POST", "/api/auth/session/refresh", {"refresh_token": self._login["refresh_token"]}
            )
        except AuthError as exc:
            exc.hint = "the login has expired or was revoked: log in again (tether qserver login)"
            raise
        self._use_login(
            auth.entry_from(reply, provider=self._login.get("provider"), username=self._login.get("username"))
        )
        return {"username": self._login.get("username"), "expires_in": reply.get("expires_in")}

    def logout(self) -> dict:
        """Revoke the login's session on the server and forget its tokens."""
        if not self._login:
            return {"logged_out": False, "msg": f"not logged in to {self.base_url}"}
        sid = auth.session_id(self._login["refresh_token"])
        try:
            if sid:
                self._call_auth("DELETE", f"/auth/session/revoke/{sid}")
            self._call_auth("POST", "/auth/logout")
        except AuthError:  # the session had expired already: nothing left to revoke
            pass
        finally:
            auth.forget(self.login_key)
            self._use_login(None)
        return {"logged_out": True, "session_revoked": bool(sid)}

    def _call_auth(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        if self._login and auth.expiring(self._login):
            self.refresh()
        return self.http.call(method, f"/api{path}", body)

    def whoami(self) -> dict:
        """Who the credentials in use belong to, with their roles and scopes."""
        return {**(self._call_auth("GET", "/auth/whoami") or {}), **self._call_auth("GET", "/auth/scopes")}

    def apikey_new(
        self,
        *,
        expires_in: int | None = None,
        scopes: list[str] | None = None,
        note: str | None = None,
        principal: str | None = None,
    ) -> dict:
        """A new API key (for ``principal``'s uuid: an admin's right); its ``secret`` is shown once."""
        body = {"expires_in": expires_in, "scopes": list(scopes or ["inherit"]), "note": note}
        reply = self._call_auth(
            "POST", f"/auth/principal/{principal}/apikey" if principal else "/auth/apikey", body
        )
        self.add_secret(reply.get("secret"))
        return reply

    def apikey_info(self) -> dict:
        """The API key in use: its first eight characters, scopes, expiry and note."""
        return self._call_auth("GET", "/auth/apikey")

    def apikey_delete(self, first_eight: str) -> dict:
        """Revoke the API key that starts with ``first_eight`` (its first eight characters)."""
        self.check_first_eight(first_eight)
        return self._call_auth("DELETE", f"/auth/apikey?first_eight={first_eight}")

    @staticmethod
    def check_first_eight(first_eight: str) -> None:
        """:class:`UsageError` unless ``first_eight`` is eight hex characters (how keys are named)."""
        if len(first_eight) != 8 or not all(c in "0123456789abcdef" for c in first_eight.lower()):
            raise UsageError(f"an API key is named by its first eight hex characters, not {first_eight!r}")

    def principals(self, uuid: str | None = None) -> Any:
        """Every principal (user or service) the server knows, or one (an admin's right)."""
        return self._call_auth("GET", f"/auth/principal/{uuid}" if uuid else "/auth/principal")

    # -- lifetime -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self) -> QueueServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QueueServer({self.base_url!r}, api key from {self.key_source})"
