"""What the page requests, and control over it: WebDriver BiDi's ``network`` module in the session
that drives (``ff.route``, ``ff.block``, ``ff.expect_response``, ``ff.record_har``).

The :class:`Network` holds its own WebSocket to the session's BiDi endpoint (the
``webSocketUrl`` Marionette's ``NewSession`` returns for ``{"webSocketUrl": true}`` when Firefox
runs its Remote Agent), beside the console's: Firefox accepts several connections to one
session, and sends every event the session subscribed to down each of them (measured on ESR
153). A daemon thread reads it: it answers intercepted requests at once (a page load waits on
them while the Marionette command that caused it is still running), keeps the requests and
responses it saw, and hands replies to the thread that sent the command.

Wire facts (Firefox ESR 153, ``remote/webdriver-bidi/modules/root/network.sys.mjs``):

- ``network.addIntercept {"phases": ["beforeRequestSent"]}`` (no ``urlPatterns``: every request)
  blocks each request until ``network.continueRequest``, ``network.provideResponse`` or
  ``network.failRequest`` names it; the ``beforeRequestSent`` event then says ``isBlocked`` and
  lists the ``intercepts`` that caught it. Intercepts belong to the session and end with it.
  BiDi's URL patterns are not globs (each URL part matches whole or not at all), so tether
  intercepts every request while a route exists and matches the glob itself.
- A failed request gets ``network.fetchError`` (``errorText`` ``NS_ERROR_ABORT`` for
  ``failRequest``); a fulfilled one the usual ``responseStarted``/``responseCompleted``.
- Events cost: every subscribed network event is one message per request, built and sent by
  Firefox while the request waits; a page load of 30 routed scripts took 1.6x Selenium 4's
  (which subscribes to ``beforeRequestSent`` alone) with all four subscribed, 0.97x with one.
  So routes subscribe to ``beforeRequestSent`` only; waits, HAR and traces to all four.
- Bodies: ``network.addDataCollector {"dataTypes": ["response"], "maxEncodedDataSize": N}``
  keeps each response body up to N bytes; ``network.getData {"dataType": "response",
  "request": id}`` returns ``{"bytes": {"type": "string"|"base64", "value": …}}`` afterwards.
- ``request.timings`` are absolute milliseconds (``timeOrigin`` 0), 0 for a phase that did
  not happen (a fulfilled request has only ``requestTime``).

Every parser here raises only :mod:`tether.errors` (``ProtocolError``) on a malformed message,
and what it keeps is capped (header count and length, URL length).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.deadline import Deadline
from tether.errors import Closed, ProtocolError, TetherError, Timeout, Unreachable, UsageError
from tether.transport.ws import WsConnection

log = logging.getLogger("tether.firefox")

#: the events a :class:`Network` subscribes to
EVENTS = [
    "network.beforeRequestSent",
    "network.responseStarted",
    "network.responseCompleted",
    "network.fetchError",
]
#: one BiDi message at most (a getData reply carries a whole body, base64 grows it by a third)
MAX_MESSAGE = 64 * 1024 * 1024
#: what a request or response keeps: headers (count, and bytes of each value) and the URL
MAX_HEADERS = 256
MAX_HEADER_VALUE = 16 * 1024
MAX_URL = 64 * 1024
#: requests kept per session (the oldest go first); a HAR of a long session is capped alike
MAX_REQUESTS = 5000
#: a fulfilled body (route(file=…), body=…) at most
MAX_ROUTE_BODY = 32 * 1024 * 1024


# ----------------------------------------------------------------------------- URL globs
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of a URL glob: ``**`` any text, ``*`` any text without ``/``,
    ``{a,b}`` either, every other character itself. The glob matches the whole URL, so
    ``**/api/*`` matches ``http://127.0.0.1:8000/api/items?page=2``.

    >>> bool(glob_regex("**/api/*").fullmatch("http://h:1/api/items"))
    True
    """
    if not isinstance(pattern, str) or not pattern:
        raise UsageError(f"a URL pattern must be a non-empty glob (**/api/*), not {pattern!r}")
    out, i, depth = [], 0, 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise UsageError(f"URL pattern {pattern!r}: a {{ is not closed")
    return re.compile("".join(out), re.DOTALL)


Pattern = str | re.Pattern[str] | Callable[[str], bool]


def url_matcher(pattern: Pattern) -> Callable[[str], bool]:
    """A predicate on URLs: a glob (see :func:`glob_regex`), a compiled regex (searched), or a
    function of the URL."""
    if isinstance(pattern, re.Pattern):
        return lambda url: pattern.search(url) is not None
    if callable(pattern):
        return lambda url: bool(pattern(url))
    regex = glob_regex(pattern)
    return lambda url: regex.fullmatch(url) is not None


# ----------------------------------------------------------------------------- parsing
def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"BiDi {what} is not an object: {str(value)[:80]!r}")
    return value


def _text(value: Any, what: str, *, cap: int = MAX_URL, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ProtocolError(f"BiDi {what} is not a string: {str(value)[:80]!r}")
    return value[:cap]


def _num(value: Any, default: float = 0.0) -> float:
    """A number Firefox sends, or ``default`` when it sent none (or something else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        return default
    return number if math.isfinite(number) else default  # json.loads reads Infinity and NaN


def parse_headers(value: Any) -> list[tuple[str, str]]:
    """BiDi's ``[{"name": …, "value": {"type": "string"|"base64", "value": …}}]`` as (name, text)
    pairs, at most :data:`MAX_HEADERS`, each value cut at :data:`MAX_HEADER_VALUE` characters."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"BiDi headers are not a list: {str(value)[:80]!r}")
    out = []
    for item in value[:MAX_HEADERS]:
        item = _obj(item, "header")
        name = _text(item.get("name"), "header name", cap=1024)
        raw = _obj(item.get("value"), "header value")
        text = _text(raw.get("value"), "header value", cap=MAX_HEADER_VALUE * 2, default="")
        if raw.get("type") == "base64":
            try:
                text = base64.b64decode(text, validate=False).decode("latin-1")
            except ValueError as exc:
                raise ProtocolError(f"BiDi header {name!r} is not base64") from exc
        out.append((name, text[:MAX_HEADER_VALUE]))
    return out


@dataclass
class Response:
    """A response as Firefox reported it (``network.responseStarted``/``responseCompleted``)."""

    url: str
    status: int
    status_text: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    mime_type: str = ""
    protocol: str = ""
    from_cache: bool = False
    headers_size: int = -1
    body_size: int = -1
    bytes_received: int = 0
    content_size: int = -1

    def header(self, name: str) -> str | None:
        """The first header ``name`` (case-insensitive), or ``None``."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


@dataclass
class Request:
    """One request the page made (a redirect's next hop is a request of its own), with its
    response once it came, or the ``failure`` (Firefox's error text) when it failed."""

    id: str
    url: str
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    context: str | None = None
    navigation: str | None = None
    redirect_count: int = 0
    resource_type: str = ""
    headers_size: int = -1
    body_size: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    started: float = 0.0  # epoch ms, Firefox's clock
    ended: float | None = None  # epoch ms: response completed or failed
    response: Response | None = None
    failure: str | None = None
    routed: str | None = None  # "fulfilled", "blocked" when a route answered it

    def header(self, name: str) -> str | None:
        """The first request header ``name`` (case-insensitive), or ``None``."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def finished(self) -> bool:
        return self.ended is not None

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    def to_dict(self) -> dict[str, Any]:
        r = self.response
        return {
            "url": self.url,
            "method": self.method,
            "status": r.status if r else None,
            "type": self.resource_type,
            "failure": self.failure,
            "routed": self.routed,
            "started": self.started,
            "duration_ms": None if self.ended is None else round(self.ended - self.started, 1),
        }


@dataclass(frozen=True)
class NetEvent:
    """One parsed network event: ``method`` (``network.beforeRequestSent`` …), the request's
    fields, and the response's (``None`` before the response)."""

    method: str
    request: Request
    blocked: bool
    intercepts: tuple[str, ...]
    timestamp: float
    response: Response | None
    error_text: str | None


def parse_response(value: Any) -> Response:
    """``params.response`` of a response event."""
    r = _obj(value, "response")
    status = r.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status < 1000:
        raise ProtocolError(f"BiDi response status is not an HTTP status: {str(status)[:40]!r}")
    content = r.get("content") if isinstance(r.get("content"), dict) else {}
    return Response(
        url=_text(r.get("url"), "response url"),
        status=status,
        status_text=_text(r.get("statusText"), "status text", cap=1024, default=""),
        headers=parse_headers(r.get("headers")),
        mime_type=_text(r.get("mimeType"), "mime type", cap=1024, default=""),
        protocol=_text(r.get("protocol"), "protocol", cap=64, default=""),
        from_cache=r.get("fromCache") is True,
        headers_size=int(_num(r.get("headersSize"), -1)),
        body_size=int(_num(r.get("bodySize"), -1)),
        bytes_received=int(_num(r.get("bytesReceived"), 0)),
        content_size=int(_num(content.get("size"), -1)),
    )


def parse_event(msg: Any) -> NetEvent | None:
    """A network event from a BiDi message, or ``None`` for any other message (a reply, a
    console event). Raises :class:`~tether.errors.ProtocolError` for a malformed network event."""
    if not isinstance(msg, dict) or msg.get("type") != "event":
        return None
    method = msg.get("method")
    if method not in EVENTS:
        return None
    p = _obj(msg.get("params"), f"{method} params")
    r = _obj(p.get("request"), "request")
    timings_raw = r.get("timings") if isinstance(r.get("timings"), dict) else {}
    timings = {str(k)[:64]: _num(v) for k, v in list(timings_raw.items())[:32]}
    context, navigation = p.get("context"), p.get("navigation")
    intercepts = p.get("intercepts") if isinstance(p.get("intercepts"), list) else []
    request = Request(
        id=_text(r.get("request"), "request id", cap=256),
        url=_text(r.get("url"), "request url"),
        method=_text(r.get("method"), "request method", cap=64, default="GET"),
        headers=parse_headers(r.get("headers")),
        context=context if isinstance(context, str) else None,
        navigation=navigation if isinstance(navigation, str) else None,
        redirect_count=int(_num(p.get("redirectCount"), 0)),
        resource_type=_text(r.get("destination"), "destination", cap=64, default="")
        or _text(r.get("initiatorType"), "initiator type", cap=64, default=""),
        headers_size=int(_num(r.get("headersSize"), -1)),
        body_size=int(_num(r.get("bodySize"), 0)),
        timings=timings,
        started=_num(timings.get("requestTime")) or _num(p.get("timestamp")),
    )
    response = None
    if method in ("network.responseStarted", "network.responseCompleted"):
        response = parse_response(p.get("response"))
    error = None
    if method == "network.fetchError":
        error = _text(p.get("errorText"), "errorText", cap=1024, default="failed")
    return NetEvent(
        method=method,
        request=request,
        blocked=p.get("isBlocked") is True,
        intercepts=tuple(i for i in intercepts if isinstance(i, str)),
        timestamp=_num(p.get("timestamp")),
        response=response,
        error_text=error,
    )


def decode_bytes(value: Any) -> bytes:
    """BiDi's ``network.BytesValue`` (``{"type": "string"|"base64", "value": …}``) as bytes."""
    v = _obj(value, "bytes value")
    text = _text(v.get("value"), "bytes value", cap=MAX_MESSAGE)
    if v.get("type") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ProtocolError("a BiDi base64 value is not base64") from exc
    if v.get("type") == "string":
        return text.encode("utf-8", errors="replace")
    raise ProtocolError(f"a BiDi bytes value of unknown type {str(v.get('type'))[:40]!r}")


# ----------------------------------------------------------------------------- routes
@dataclass
class Route:
    """What to do with requests whose URL matches: fulfil (``status``, ``headers``, ``body``) or
    fail them (``block``)."""

    pattern: Pattern
    matches: Callable[[str], bool]
    block: bool = False
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    hits: int = 0

    def command(self, request_id: str) -> tuple[str, dict[str, Any]]:
        """The BiDi command that answers request ``request_id``."""
        if self.block:
            return "network.failRequest", {"request": request_id}
        try:
            body: dict[str, str] = {"type": "string", "value": self.body.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"type": "base64", "value": base64.b64encode(self.body).decode("ascii")}
        import http

        try:
            reason = http.HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        headers = [{"name": k, "value": {"type": "string", "value": v}} for k, v in self.headers]
        params = {"request": request_id, "statusCode": self.status, "reasonPhrase": reason}
        return "network.provideResponse", {**params, "headers": headers, "body": body}


def _checked_header(name: Any, value: Any) -> tuple[str, str]:
    if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise UsageError(f"{name!r} is not an HTTP header name")
    value = str(value)
    if "\r" in value or "\n" in value or "\0" in value:
        raise UsageError(f"header {name}: a value may not hold a line break")
    return name, value


def make_route(
    pattern: Pattern,
    *,
    status: int = 200,
    body: str | bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    file: str | Path | None = None,
    block: bool = False,
) -> Route:
    """A checked :class:`Route` (every argument refused with :class:`UsageError` before anything
    is sent): one of ``body``, ``json_body``, ``file`` at most; ``Content-Type`` from the JSON
    or the file's name unless ``headers`` set it."""
    matches = url_matcher(pattern)
    if block:
        return Route(pattern, matches, block=True)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise UsageError(f"a route's status must be an HTTP status (100-599), not {status!r}")
    given = [x is not None for x in (body, json_body, file)]
    if sum(given) > 1:
        raise UsageError("a route answers with one of body=, json=, file=")
    checked = [_checked_header(k, v) for k, v in (headers or {}).items()]
    content_type = None
    data = b""
    if json_body is not None:
        try:
            data = json.dumps(json_body).encode()
        except (TypeError, ValueError) as exc:
            raise UsageError(f"json= is not JSON-serialisable: {exc}") from exc
        content_type = "application/json"
    elif file is not None:
        path = Path(file)
        try:
            if path.stat().st_size > MAX_ROUTE_BODY:
                raise UsageError(f"{path}: larger than {MAX_ROUTE_BODY} bytes, too big to serve")
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        import mimetypes

        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    elif body is not None:
        data = body.encode() if isinstance(body, str) else bytes(body)
        content_type = "text/plain; charset=utf-8" if isinstance(body, str) else "application/octet-stream"
    if len(data) > MAX_ROUTE_BODY:
        raise UsageError(f"a route's body is larger than {MAX_ROUTE_BODY} bytes")
    if content_type and not any(k.lower() == "content-type" for k, _ in checked):
        checked.append(("Content-Type", content_type))
    return Route(pattern, matches, status=status, headers=checked, body=data)


# ----------------------------------------------------------------------------- waits
class Expectation:
    """What :meth:`Network.expect_request`/``expect_response`` saw: ``value`` after the block."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._value: Request | None = None
        self._seen = threading.Event()

    def _offer(self, request: Request) -> None:
        if not self._seen.is_set():
            self._value = request
            self._seen.set()

    @property
    def value(self) -> Request:
        """The request (with its ``response``) seen while the block ran."""
        if self._value is None:
            raise UsageError(f"{self.what} is read after the with-block that waits for it")
        return self._value


# ----------------------------------------------------------------------------- the session
class Network:
    """The network of one WebDriver session, over its own BiDi WebSocket ``url``
    (``ws://…/session/<id>``). Open it before the page requests what you want to see."""

    def __init__(self, ws: Any, *, timeout: float = 10.0, body_cap: int = 1024 * 1024) -> None:
        self.ws = ws  # a WsConnection (or a fake with send_json, recv_json, closed, abort)
        self.url = getattr(ws, "url", "")
        self.timeout = timeout
        self.body_cap = body_cap
        self.requests: list[Request] = []  # oldest first, redirect hops each their own
        self._by_id: dict[str, Request] = {}
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._replies: dict[int, list[Any]] = {}
        self._reply_ready = threading.Condition(self._lock)
        self._routes: list[Route] = []
        self._intercept: str | None = None
        self._collector: str | None = None
        self._listeners: list[Callable[[str, Request], None]] = []
        self._active = 0
        self.console: list[dict[str, Any]] | None = None  # log entries, once collect_console() ran
        self.last_activity = time.monotonic()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tether-firefox-network", daemon=True)
        self._subscribed: set[str] = set()
        self._thread.start()

    def subscribe(self, events: list[str]) -> None:
        """Subscribe the session to those of ``events`` it is not subscribed to yet. Only what is
        used: routes need ``beforeRequestSent`` alone, and each further event costs Firefox a
        message per request (a load of 30 routed scripts: 1.6x slower with all four, measured)."""
        with self._lock:
            missing = [e for e in events if e not in self._subscribed]
            self._subscribed.update(missing)
        if missing:
            try:
                self.command("session.subscribe", {"events": missing})
            except BaseException:
                with self._lock:
                    self._subscribed.difference_update(missing)
                raise

    @classmethod
    def open(cls, url: str, *, timeout: float = 10.0, body_cap: int = 1024 * 1024) -> Network:
        """Connect to the session's BiDi endpoint ``url`` and subscribe to its network events."""
        ws = WsConnection.open(
            url,
            deadline=Deadline(timeout),
            suppress_origin=True,
            what="Firefox WebDriver BiDi",
            max_message=MAX_MESSAGE,
        )
        return cls(ws, timeout=timeout, body_cap=body_cap)

    # -- the wire ---------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any]) -> int:
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
            self._replies[msg_id] = []
        with self._send_lock:
            self.ws.send_json({"id": msg_id, "method": method, "params": params}, Deadline(5.0))
        return msg_id

    def command(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Run one BiDi command and return its result (:class:`BiDiError` when Firefox refuses)."""
        from .bidi import BiDiError

        if self._closed.is_set():
            raise Unreachable("the BiDi connection of this session is closed")
        deadline = Deadline(timeout or self.timeout)
        msg_id = self._send(method, params or {})
        with self._reply_ready:
            while not self._replies.get(msg_id):
                if self._closed.is_set():
                    self._replies.pop(msg_id, None)
                    raise Unreachable(f"the BiDi connection closed before Firefox answered {method}")
                left = deadline.remaining()
                if left <= 0:
                    self._replies.pop(msg_id, None)
                    raise Timeout(f"Firefox did not answer {method} within {deadline.seconds:g} s")
                self._reply_ready.wait(min(left, 0.5))
            msg = self._replies.pop(msg_id)[0]
        if msg.get("type") == "error":
            code = str(msg.get("error") or "unknown error")[:200]
            text = str(msg.get("message") or "")[:2000]
            raise BiDiError(f"{method}: {code}: {text}", code=code, app_message=text)
        result = msg.get("result")
        return result if isinstance(result, dict) else {}

    def _answer(self, method: str, params: dict[str, Any]) -> None:
        """Send a command from the reader thread, without waiting for its reply (logged if refused)."""
        try:
            msg_id = self._send(method, params)
        except TetherError as exc:
            log.warning("could not send %s: %s", method, exc)
            return
        with self._lock:
            self._replies.pop(msg_id, None)  # the reader drops replies nobody waits for

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                try:
                    # a long read: a sender's socket timeout (5 s) must never outlast the read's
                    # own deadline, whose watchdog would cut the connection
                    msg = self.ws.recv_json(Deadline(3600))
                except Timeout:
                    continue
                except ProtocolError as exc:
                    log.warning("a BiDi message was refused: %s", exc)
                    if self.ws.closed:
                        return
                    continue
                self._dispatch(msg)
        except (Closed, Unreachable, OSError):
            return
        except Exception:  # never a traceback from a daemon thread; the waiters get Unreachable
            log.exception("the BiDi network reader stopped")
        finally:
            self._closed.set()
            with self._reply_ready:
                self._reply_ready.notify_all()

    def _dispatch(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        if msg.get("type") in ("success", "error"):
            msg_id = msg.get("id")
            with self._reply_ready:
                if isinstance(msg_id, int) and msg_id in self._replies:
                    self._replies[msg_id].append(msg)
                    self._reply_ready.notify_all()
                elif msg.get("type") == "error":
                    log.warning("Firefox refused a network command: %s", str(msg.get("message"))[:300])
            return
        if msg.get("method") == "log.entryAdded" and self.console is not None:
            from .bidi import log_entry

            params = msg.get("params")
            if isinstance(params, dict):
                try:
                    entry = log_entry(params)
                except (AttributeError, TypeError):  # a malformed entry is dropped, never raised here
                    return
                with self._lock:
                    self.console.append(entry)
                    del self.console[:-MAX_REQUESTS]
            return
        try:
            event = parse_event(msg)
        except ProtocolError as exc:
            log.warning("a network event was refused: %s", exc)
            return
        if event is not None:
            self._on_event(event)

    def _on_event(self, ev: NetEvent) -> None:
        req_id = ev.request.id
        with self._lock:
            known = self._by_id.get(req_id)
            if ev.method == "network.beforeRequestSent":
                if known is not None and known.redirect_count == ev.request.redirect_count:
                    req = known  # the same hop again (after an auth challenge): keep one entry
                else:
                    req = ev.request
                    self._by_id[req_id] = req
                    self.requests.append(req)
                    if len(self.requests) > MAX_REQUESTS:
                        old = self.requests.pop(0)
                        if self._by_id.get(old.id) is old:
                            del self._by_id[old.id]
                    self._active += 1
            elif known is None:
                return  # began before this connection subscribed
            else:
                req = known
                req.timings = ev.request.timings or req.timings
                if ev.request.headers_size >= 0:
                    req.headers_size = ev.request.headers_size
                if ev.request.headers:
                    req.headers = ev.request.headers  # the headers as sent (with those Firefox adds)
            if ev.response is not None:
                req.response = ev.response
            ended = ev.method in ("network.responseCompleted", "network.fetchError")
            if ended and req.ended is None:
                req.ended = ev.timestamp or time.time() * 1000
                req.failure = ev.error_text
                self._active = max(self._active - 1, 0)
            self.last_activity = time.monotonic()
            route = None
            if ev.blocked and self._intercept in ev.intercepts:
                route = next((r for r in reversed(self._routes) if r.matches(req.url)), None)
                if route is not None:
                    route.hits += 1
                    req.routed = "blocked" if route.block else "fulfilled"
            listeners = list(self._listeners)
        if ev.blocked and self._intercept in ev.intercepts:
            if route is None:
                self._answer("network.continueRequest", {"request": req_id})
            else:
                self._answer(*route.command(req_id))
        kind = {"network.beforeRequestSent": "request", "network.responseCompleted": "response"}.get(
            ev.method, "failed" if ev.method == "network.fetchError" else ""
        )
        if kind:
            for listener in listeners:
                try:
                    listener(kind, req)
                except Exception:  # a failing listener must not stop the reader
                    log.exception("a network listener failed")

    # -- routes -----------------------------------------------------------------------------
    def add_route(self, route: Route) -> None:
        """Answer matching requests with ``route`` (the newest matching route wins)."""
        self.subscribe(["network.beforeRequestSent"])
        with self._lock:
            self._routes.append(route)
            need = self._intercept is None
        if need:
            result = self.command("network.addIntercept", {"phases": ["beforeRequestSent"]})
            intercept = result.get("intercept")
            if not isinstance(intercept, str):
                raise ProtocolError("Firefox answered network.addIntercept without an intercept id")
            with self._lock:
                self._intercept = intercept

    def remove_routes(self, pattern: Pattern | None = None) -> int:
        """Drop the routes added with ``pattern`` (every route when ``None``); the intercept goes
        with the last. Returns how many were dropped."""
        with self._lock:
            keep = [r for r in self._routes if pattern is not None and r.pattern != pattern]
            dropped = len(self._routes) - len(keep)
            self._routes = keep
            intercept = self._intercept if not keep else None
            if intercept is not None:
                self._intercept = None
        if intercept is not None and not self._closed.is_set():
            with contextlib.suppress(TetherError):  # gone with the session already
                self.command("network.removeIntercept", {"intercept": intercept})
        return dropped

    @property
    def routes(self) -> list[Route]:
        with self._lock:
            return list(self._routes)

    # -- bodies -----------------------------------------------------------------------------
    def collect_bodies(self) -> None:
        """Keep response bodies (up to ``body_cap`` bytes each) for :meth:`body`, from now on."""
        if self._collector is None:
            result = self.command(
                "network.addDataCollector", {"dataTypes": ["response"], "maxEncodedDataSize": self.body_cap}
            )
            self._collector = result.get("collector") if isinstance(result.get("collector"), str) else None

    def collect_console(self) -> None:
        """Keep the console messages and uncaught errors (``log.entryAdded``) in :attr:`console`."""
        if self.console is None:
            self.console = []
            self.subscribe(["log.entryAdded"])

    def console_snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.console or [])

    def body(self, request: Request, *, timeout: float = 5.0) -> bytes | None:
        """The response body of ``request`` when collected (see :meth:`collect_bodies`), else ``None``."""
        if self._collector is None or request.response is None or self._closed.is_set():
            return None
        try:
            result = self.command(
                "network.getData", {"dataType": "response", "request": request.id}, timeout=timeout
            )
        except TetherError:  # not collected (too big, a redirect, gone with its page)
            return None
        return decode_bytes(result.get("bytes"))

    # -- listening and waiting --------------------------------------------------------------
    def listen(self, listener: Callable[[str, Request], None]) -> Callable[[], None]:
        """Call ``listener(kind, request)`` for each ``request``, ``response`` and ``failed``;
        returns the function that stops it."""
        self.subscribe(EVENTS)
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    @contextlib.contextmanager
    def expect(
        self, kind: str, pattern: Pattern, *, status: int | None = None, timeout: float = 10.0
    ) -> Iterator[Expectation]:
        """Wait, at the end of the block, for a ``kind`` (``request`` or ``response``) whose URL
        matches ``pattern`` (and, for a response, ``status``), seen while the block ran."""
        matches = url_matcher(pattern)
        what = f"a {kind} matching {pattern!r}" + (f" with status {status}" if status is not None else "")
        exp = Expectation(what)

        def offer(seen: str, req: Request) -> None:
            if seen != kind or not matches(req.url):
                return
            if status is not None and (req.response is None or req.response.status != status):
                return
            exp._offer(req)

        stop = self.listen(offer)
        deadline = Deadline(timeout)
        try:
            yield exp
            while not exp._seen.wait(min(max(deadline.remaining(), 0), 0.25)):
                if self._closed.is_set():
                    raise Unreachable(f"the BiDi connection closed while waiting for {what}")
                if deadline.expired:
                    raise Timeout(f"waited {timeout:g} s for {what}")
        finally:
            stop()

    def wait_for_idle(self, *, idle: float = 0.5, timeout: float = 10.0) -> None:
        """Return once no request has been in flight for ``idle`` seconds; :class:`Timeout`
        (naming what is still loading) after ``timeout`` s. Requests that began before the
        network events were first subscribed to (by a wait, a HAR, a trace) are not seen."""
        self.subscribe(EVENTS)
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                quiet = self._active == 0 and time.monotonic() - self.last_activity >= idle
                pending = [r.url for r in self.requests if r.ended is None]
            if quiet:
                return
            if time.monotonic() >= end:
                shown = ", ".join(u[:120] for u in pending[:5]) or "none in flight, but traffic kept coming"
                raise Timeout(f"the network was not idle for {idle:g} s within {timeout:g} s: {shown}")
            time.sleep(0.05)

    def snapshot(self) -> list[Request]:
        """The requests seen so far, oldest first (since the events were subscribed to)."""
        with self._lock:
            return list(self.requests)

    # -- lifetime ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop listening and close the WebSocket (intercepts end with the session)."""
        self._closed.set()
        # a shutdown, not a closing handshake: the reader thread is inside a read of this socket
        self.ws.abort()
        self._thread.join(timeout=2.0)


# ----------------------------------------------------------------------------- on the client
class NetworkMethods:
    """The network half of :class:`~tether_firefox.client.Firefox` (a base class of it): routes,
    waits and HAR over the session's own WebDriver BiDi endpoint.

    The session must carry ``webSocketUrl`` (Firefox running its Remote Agent: ``tether firefox
    launch --bidi``), which ``tether.connect("firefox", bidi=True)`` asks for; a client whose
    session is not open yet asks for it when one of these is called first.

    >>> ff.route("**/api/items", json=[{"name": "mocked"}])            # doctest: +SKIP
    >>> ff.block("**/*.png")                                           # doctest: +SKIP
    >>> with ff.expect_response("**/api/items", status=200) as resp:   # doctest: +SKIP
    ...     ff.navigate(url)
    >>> resp.value.response.status                                      # doctest: +SKIP
    200
    """

    _network: Network | None = None
    _m: Any
    capabilities: dict[str, Any]
    timeout: float

    def ask_capabilities(self, **capabilities: Any) -> None:  # pragma: no cover - the client's
        raise NotImplementedError

    def open(self) -> Any:  # pragma: no cover - the client's
        raise NotImplementedError

    @property
    def network(self) -> Network:
        """The session's :class:`Network` (opened on first use)."""
        if self._network is not None and not self._network.closed:
            return self._network
        if self._m is None:  # not open yet: ask for the BiDi endpoint of the session to come
            self.ask_capabilities(webSocketUrl=True)
            self.open()
        url = self.capabilities.get("webSocketUrl")
        if not isinstance(url, str):
            from tether.errors import NotFound

            raise NotFound(
                "this session has no WebDriver BiDi endpoint: routes, request waits and HAR need it",
                hint="Firefox must run its Remote Agent (`tether firefox launch --bidi`), and the "
                'session must ask for it: tether.connect("firefox", bidi=True)',
            )
        self._network = Network.open(url, timeout=min(self.timeout, 10.0))
        return self._network

    def _close_network(self) -> None:
        net, self._network = self._network, None
        if net is not None:
            net.close()

    def route(
        self,
        pattern: Pattern,
        *,
        status: int = 200,
        body: str | bytes | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        file: str | Path | None = None,
    ) -> Route:
        """Answer every request whose URL matches ``pattern`` (a glob such as ``**/api/*``, a
        compiled regex, or a function of the URL) with this response instead of the server's:
        ``status``, ``headers`` and one of ``body`` (text or bytes), ``json`` (serialised, with
        ``Content-Type: application/json``) or ``file`` (its bytes, typed by its name). The
        newest matching route wins; routes end with the session (or :meth:`unroute`)."""
        route = make_route(pattern, status=status, body=body, json_body=json, headers=headers, file=file)
        self.network.add_route(route)
        return route

    def block(self, pattern: Pattern) -> Route:
        """Fail every request whose URL matches ``pattern`` (the page sees a network error)."""
        route = make_route(pattern, block=True)
        self.network.add_route(route)
        return route

    def unroute(self, pattern: Pattern | None = None) -> int:
        """Drop the routes and blocks added with ``pattern`` (all of them when ``None``)."""
        if self._network is None:
            return 0
        return self._network.remove_routes(pattern)

    def expect_request(self, pattern: Pattern, *, timeout: float = 10.0) -> Any:
        """A context manager: at the end of the block, wait (within ``timeout`` s) for a request
        matching ``pattern`` made while the block ran; ``.value`` is the :class:`Request`.

        >>> with ff.expect_request("**/api/save") as seen:     # doctest: +SKIP
        ...     ff.click("#save")
        >>> seen.value.method                                  # doctest: +SKIP
        'POST'
        """
        return self.network.expect("request", pattern, timeout=timeout)

    def expect_response(self, pattern: Pattern, *, status: int | None = None, timeout: float = 10.0) -> Any:
        """Like :meth:`expect_request`, for a completed response (with ``status``, when given);
        ``.value`` is the :class:`Request`, its ``response`` set."""
        return self.network.expect("response", pattern, status=status, timeout=timeout)

    def wait_for_network_idle(self, *, idle: float = 0.5, timeout: float = 10.0) -> None:
        """Wait until no request has been in flight for ``idle`` s (:class:`~tether.errors.Timeout`,
        exit 4, naming what still loads, after ``timeout`` s). Counts requests since the
        session's network was first used."""
        self.network.wait_for_idle(idle=idle, timeout=timeout)

    @contextlib.contextmanager
    def record_har(self, path: str | Path, *, bodies: bool = True) -> Iterator[Any]:
        """Record the requests made during the block and write them to ``path`` as HAR 1.2
        (bodies of text responses up to 1 MiB each, unless ``bodies=False``), also when the
        block raises.

        >>> with ff.record_har("run.har"):                       # doctest: +SKIP
        ...     ff.navigate("http://127.0.0.1:8000/")
        """
        from .har import HarRecorder

        version = str(self.capabilities.get("browserVersion") or "")
        recorder = HarRecorder(self.network, bodies=bodies, browser_version=version)
        try:
            yield recorder
        finally:
            recorder.save(path)


__all__ = [
    "Expectation",
    "NetEvent",
    "Network",
    "NetworkMethods",
    "Request",
    "Response",
    "Route",
    "decode_bytes",
    "glob_regex",
    "make_route",
    "parse_event",
    "parse_headers",
    "url_matcher",
]
