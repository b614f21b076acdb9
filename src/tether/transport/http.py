"""JSON over HTTP with requests: one session, a base URL that may carry a path prefix,
one deadline per call, retries for reads only, and errors mapped to :mod:`tether.errors`.

**One deadline per call.** requests' ``timeout`` bounds each socket read, so a server that
sends a byte every half second (in its headers or its body) would never time out. Here every
call has one :class:`~tether.deadline.Deadline` covering connect, send, headers, body and the
retries of a read; a :class:`~tether.transport.tcp.Watchdog` shuts the socket down when it
passes, and the :class:`Timeout` states the deadline that applied.

**Bounded replies.** The body is streamed and counted: more than ``max_body`` bytes (64 MiB by
default) is a :class:`ProtocolError` before more is read, so memory stays near the cap.
Headers are bounded by http.client (100 lines of at most 64 KiB each); a server that breaks
that is a :class:`ProtocolError` too. Compressed bodies are not asked for (``Accept-Encoding:
identity``) and refused if sent anyway: a small compressed reply could expand without bound.

Every call sends a JSON body (``{}`` at least), GETs included: some HTTP APIs (the Bluesky
HTTP Server) read their parameters from the body of a GET.

Secrets (API keys, tokens) never reach a log line or an error message: the session
knows them (``secrets=``) and :meth:`HttpSession.redact` masks them, and the
``Authorization`` header is never logged at all.

``requests`` is imported when a session is created, not when this module is imported.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from ..deadline import Deadline
from ..errors import AuthError, HttpError, ProtocolError, TetherError, Timeout, Unreachable
from .tcp import Watchdog


def _log() -> Any:
    """This module's logger; logging is imported on first use (the probes' light GET, on every
    scan's path, does without it)."""
    import logging

    return logging.getLogger("tether.transport.http")


#: Statuses worth a second try when the call only reads (the server timed out or failed).
RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
REDACTED = "***"
_SENSITIVE_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
#: Default cap of a reply body, in bytes.
MAX_BODY = 64 * 1024 * 1024
_CHUNK = 64 * 1024
#: The watchdog of the call running in this thread: the connection classes below hand it
#: their sockets as they open or reuse them.
_current = threading.local()


def _watch_current(conn: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.watch(conn)


_adapter_cls: Any = None


def _deadline_adapter() -> Any:
    """A requests transport adapter whose connections let the current call's watchdog shut
    their socket at the deadline (built on first use: requests is imported lazily)."""
    global _adapter_cls
    if _adapter_cls is not None:
        return _adapter_cls
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class _Watched:
        def _new_conn(self):  # the raw socket, before TLS wraps it
            sock = super()._new_conn()  # type: ignore[misc]
            _watch_current(sock)
            return sock

        def request(self, *args, **kw):  # a kept-alive connection is reused without connecting
            _watch_current(self)
            return super().request(*args, **kw)  # type: ignore[misc]

    class _Conn(_Watched, HTTPConnection):
        pass

    class _SConn(_Watched, HTTPSConnection):
        pass

    class _Pool(HTTPConnectionPool):
        ConnectionCls = _Conn

    class _SPool(HTTPSConnectionPool):
        ConnectionCls = _SConn

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kw):
            super().init_poolmanager(*args, **kw)
            self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _SPool}

    _adapter_cls = DeadlineAdapter
    return _adapter_cls


def join_url(base: str, path: str) -> str:
    """``base`` (which may carry a path prefix) joined with ``path``: ``("http://h/p/", "/api/x")`` → ``http://h/p/api/x``."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def secret_forms(secret: str) -> set[str]:
    """Every form ``secret`` can take in output: as is, escaped the ways Python, JSON and URLs
    escape it (a key holding ``\\n`` shows up as ``\\\\n`` in a repr or a JSON error), and each of
    its lines on its own (a multi-line secret split by a log line or a header)."""
    import urllib.parse

    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    forms.update(part for part in secret.splitlines() if len(part) >= 4)
    return {f for f in forms if f}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret, in every form it can take, replaced by ``***``."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= secret_forms(secret)
    for form in sorted(forms, key=len, reverse=True):  # longest first: no half-masked secret
        text = text.replace(form, REDACTED)
    return text


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials replaced by ``***`` (the scheme is kept)."""
    out = {}
    for key, value in headers.items():
        if key.lower() in _SENSITIVE_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out[key] = f"{scheme} {REDACTED}".strip()
        else:
            out[key] = value
    return out


class HttpSession:
    """A requests session bound to one server.

    ``base_url``: ``http://host:port`` or ``https://host/prefix``; ``headers``: sent on every
    call (put credentials here and name them in ``secrets``); ``timeout``: default deadline in
    seconds per call; ``verify``: TLS verification (``True``, ``False`` or a CA bundle path);
    ``cert``: client certificate; ``retries``: extra attempts for *reads* on connection
    failures, timeouts and 408/5xx, with ``backoff`` seconds doubling between them. Writes are
    never retried: the server may have acted on the first attempt.
    ``auth_hint``: what a 401/403 error should tell the user (where credentials come from).
    ``max_body``: the largest reply body accepted, in bytes.

    >>> s = HttpSession("http://127.0.0.1:60610", headers={"Authorization": "ApiKey k"}, secrets=["k"])
    >>> s.call("GET", "/api/status", {"reload": True})                     # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        retries: int = 2,
        backoff: float = 0.2,
        secrets: Iterable[str] = (),
        auth_hint: str | None = None,
        what: str = "the server",
        max_body: int = MAX_BODY,
    ) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.auth_hint = auth_hint
        self.what = what
        self.max_body = max_body
        self._secrets = [s for s in secrets if s]
        self._session = requests.Session()
        adapter = _deadline_adapter()()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json", "Accept-Encoding": "identity"}
        )
        self._session.headers.update(dict(headers or {}))
        # Read proxy and CA settings from the environment once, not on every request
        # (requests' trust_env re-reads them, and ~/.netrc, per call).
        self._session.trust_env = False
        self._session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._session.verify = verify
        if cert is not None:
            self._session.cert = cert

    # -- secrets -------------------------------------------------------------------------
    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in every later log line and error."""
        if secret:
            self._secrets.append(secret)

    def redact(self, text: str) -> str:
        """``text`` with every secret this session knows replaced by ``***``."""
        return redact_text(text, self._secrets)

    def url(self, path: str) -> str:
        """The full URL of ``path`` under the base URL."""
        return join_url(self.base_url, path)

    # -- calls ---------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        read: bool | None = None,
        retries: int | None = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> Any:
        """Send ``body`` (``{}`` when None) as JSON and return the decoded JSON reply.

        ``form``: send these fields form-encoded instead (an OAuth2 password login); name the
        secret ones with :meth:`add_secret` first, as for any body. ``files``: a multipart upload
        (``{"field": (file name, content)}``, with ``form`` fields beside).

        ``timeout`` (default: the session's) is the one deadline of the whole call: connect,
        send, headers, body, and the retries of a read with their pauses.
        ``read`` marks the call safe to retry (default: GET is a read, anything else is not);
        ``retries`` overrides the session's count for this read.
        Raises :class:`AuthError` (401/403), :class:`Timeout` (no whole answer in time, or 408
        after retries), :class:`Unreachable` (refused/reset, 5xx after retries), :class:`HttpError`
        (other 4xx/5xx, with the server's ``detail``), :class:`ProtocolError` (not JSON, or
        larger than ``max_body``).
        """
        method = method.upper()
        is_read = (method == "GET") if read is None else read
        attempts = 1 + ((self.retries if retries is None else max(0, retries)) if is_read else 0)
        payload = json.dumps(dict(body or {}), ensure_ascii=False).encode("utf-8")
        send: dict[str, Any] = {"data": payload}
        if files is not None:  # requests writes the multipart body and its Content-Type
            send = {"data": dict(form or {}), "files": dict(files), "headers": {"Content-Type": None}}
        elif form is not None:
            from urllib.parse import urlencode

            send["data"] = urlencode(dict(form)).encode("ascii")
            send["headers"] = {"Content-Type": "application/x-www-form-urlencoded"}
        deadline = Deadline(timeout if timeout is not None else self.timeout)
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            # another try only when it can still finish: a pause and some time to answer
            last = attempt == attempts or deadline.remaining() < delay + 0.05
            try:
                status, data, text = self._send(method, path, send, deadline)
            except ProtocolError:
                raise  # the server answered, wrongly: asking again gets the same
            except (Timeout, Unreachable):
                if last or deadline.remaining() < delay + 0.05:
                    raise
                time.sleep(delay)
                delay *= 2
                continue
            if status in RETRYABLE_STATUSES and not last:
                _log().debug("%s %s -> %s, retrying (read)", method, path, status)
                time.sleep(delay)
                delay *= 2
                continue
            return self._decode(method, path, status, data, text)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """``call("GET", …)``: a read, retried on failures."""
        return self.call("GET", path, body, **kw)

    def post(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """``call("POST", …)``: a write, never retried."""
        return self.call("POST", path, body, **kw)

    def _timeout(self, method: str, path: str, deadline: Deadline) -> Timeout:
        return Timeout(
            f"{self.what} at {self.base_url} did not answer {method} {path} within {deadline.seconds:g} s"
            " (one deadline for connecting, sending and reading the whole reply)",
            deadline=deadline.seconds,
        )

    def _send(self, method: str, path: str, send: dict[str, Any], deadline: Deadline) -> tuple[int, Any, str]:
        """One attempt: ``(status, decoded JSON or None, body text)``, all within ``deadline``.
        ``send``: what requests sends (``data``, and ``files``/``headers`` for forms and uploads)."""
        import requests

        url = self.url(path)
        started = time.monotonic()
        if deadline.expired:
            raise self._timeout(method, path, deadline)
        watch = Watchdog(deadline)
        _current.watch = watch
        resp = None
        try:
            with watch:
                try:
                    left = deadline.remaining(0.001)
                    resp = self._session.request(method, url, timeout=(left, left), stream=True, **send)
                    body = self._read_body(method, path, resp, deadline)
                    if watch.fired:  # the watchdog's shutdown reads as an end: the reply was cut off
                        raise self._timeout(method, path, deadline)
                    if not body and not _empty_by_design(method, resp):
                        raise Unreachable(
                            f"{self.what} at {self.base_url} closed the connection before its reply to"
                            f" {method} {path} was complete (HTTP {resp.status_code} with no body)",
                            reason="cut off",
                        )
                except (ProtocolError, Timeout, Unreachable):
                    raise
                except requests.exceptions.SSLError as exc:
                    if watch.fired:
                        raise self._timeout(method, path, deadline) from exc
                    raise Unreachable(
                        f"TLS failed talking to {self.base_url}: {self.redact(str(exc))}",
                        hint="check the certificate, or pass a CA bundle (verify)",
                    ) from exc
                except (requests.exceptions.Timeout, TimeoutError) as exc:
                    raise self._timeout(method, path, deadline) from exc
                except Exception as exc:  # requests, urllib3, http.client and socket errors alike
                    if watch.fired or deadline.expired:
                        raise self._timeout(method, path, deadline) from exc
                    raise self._broken(method, path, exc) from exc
        finally:
            _current.watch = None
            if resp is not None:
                resp.close()
        log = _log()
        if log.isEnabledFor(10):  # logging.DEBUG
            log.debug(
                "%s %s body=%s headers=%s -> %s in %.1f ms",
                method,
                url,
                self.redact(_short(_shown(send), 300)),
                safe_headers(self._session.headers),
                resp.status_code,
                (time.monotonic() - started) * 1000,
            )
        # decoded first and the bytes dropped: the parser then holds the text and the values
        try:
            text, valid = body.decode("utf-8"), True
        except UnicodeDecodeError:  # JSON is UTF-8 (RFC 8259): this is no JSON reply
            text, valid = body.decode("utf-8", errors="replace"), False
        del body
        try:
            data = (json.loads(text) if text else {}) if valid else None
        except (ValueError, RecursionError):
            data = None
        return resp.status_code, data, text if data is None or resp.status_code >= 400 else ""

    def _read_body(self, method: str, path: str, resp: Any, deadline: Deadline) -> bytearray:
        """The whole body, counted as it streams in: never more than ``max_body`` bytes held."""
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise ProtocolError(
                f"{self.what} sent a {encoding!r}-encoded reply to {method} {path}, which was not asked for"
            )
        cap = self.max_body
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and len(declared) < 20 and int(declared) > cap:
            raise self._too_big(method, path)
        body = bytearray()
        read = resp.raw.read
        while True:
            chunk = read(min(_CHUNK, cap + 1 - len(body)), decode_content=False)
            if not chunk:
                return body
            body += chunk
            if len(body) > cap:
                raise self._too_big(method, path)

    def _too_big(self, method: str, path: str) -> ProtocolError:
        return ProtocolError(
            f"{self.what} sent a reply to {method} {path} larger than the limit of {_size(self.max_body)}",
            limit=self.max_body,
        )

    def _broken(self, method: str, path: str, exc: BaseException) -> Unreachable:
        """The tether error for a failed exchange that was not the deadline."""
        import http.client

        found = _find(exc, (http.client.HTTPException, ConnectionRefusedError, ConnectionResetError))
        if isinstance(found, http.client.LineTooLong) or "got more than" in str(found or ""):
            return ProtocolError(
                f"{self.what} sent HTTP headers beyond the limit (100 lines of at most 64 KiB)"
                f" answering {method} {path}"
            )
        if isinstance(found, ConnectionRefusedError):
            return Unreachable(
                f"cannot reach {self.what} at {self.base_url}: nothing accepts connections there",
                reason="refused",
            )
        if isinstance(found, ConnectionResetError):
            return Unreachable(
                f"{self.what} at {self.base_url} reset the connection during {method} {path}", reason="reset"
            )
        if isinstance(found, http.client.HTTPException):
            what = type(found).__name__
            if what == "RemoteDisconnected":
                return Unreachable(f"{self.what} at {self.base_url} closed the connection without answering")
            return ProtocolError(
                f"{self.what} at {self.base_url} did not answer {method} {path} with valid HTTP ({what})"
            )
        return Unreachable(
            f"cannot reach {self.what} at {self.base_url}: {_short(self.redact(_reason(exc)))}"
        )

    def _decode(self, method: str, path: str, status: int, data: Any, text: str) -> Any:
        detail = _detail(data, text)
        if status in (401, 403):
            raise AuthError(
                f"{self.what} refused the credentials (HTTP {status}): {self.redact(detail)}",
                hint=self.auth_hint,
                status=status,
            )
        if status == 408:
            raise Timeout(f"{self.what} timed out (HTTP 408): {self.redact(detail)}", status=status)
        if status >= 500:
            raise Unreachable(f"{self.what} failed (HTTP {status}): {self.redact(detail)}", status=status)
        if status >= 400:
            raise HttpError(
                f"{method} {path} was refused (HTTP {status})",
                status=status,
                app_message=self.redact(detail),
            )
        if data is None:
            raise ProtocolError(
                f"{method} {path} answered HTTP {status} with a body that is not JSON:"
                f" {self.redact(_short(text))!r}"
            )
        return data

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _empty_by_design(method: str, resp: Any) -> bool:
    """Whether an empty body is the whole reply: its headers said so (``Content-Length: 0``, a
    chunked body that ended at once) or its status or method has none. Otherwise the reply ended
    early: http.client reads a connection closed within the headers as their end, so a server that
    sent only its status line looks like an empty ``200``."""
    if method == "HEAD" or resp.status_code in (204, 304) or 100 <= resp.status_code < 200:
        return True
    headers = resp.headers
    return (
        headers.get("Content-Length", "").strip() == "0"
        or "chunked" in headers.get("Transfer-Encoding", "").lower()
    )


def _shown(send: dict[str, Any]) -> str:
    """A request body as ``-v`` shows it (a multipart upload: its fields and file names)."""
    if "files" in send:
        return f"form {send['data']} files {[name for name, _ in send['files'].values()]}"
    return send["data"].decode("utf-8", errors="replace")


def _detail(data: Any, text: str) -> str:
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)
    return _short(text)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _find(exc: BaseException, types: tuple[type, ...]) -> BaseException | None:
    """The first exception of ``types`` in ``exc``, its causes, contexts and arguments (requests
    wraps urllib3's errors, which wrap http.client's and the socket's)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types):
            return item
        todo.extend([item.__cause__, item.__context__, *item.args, getattr(item, "reason", None)])
    return None


def _reason(exc: BaseException) -> str:
    """A failure in words, without the library's wrapping (``HTTPConnectionPool(...): Max retries``)."""
    inner = _find(exc, (OSError,))
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror.lower()
    return str(exc)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactingFilter:
    """A logging filter that masks secrets in every record (install on handlers that print ``-v``;
    logging takes any object with a ``filter`` method, so this module need not import logging)."""

    def __init__(self, secrets: Callable[[], Iterable[str]] | Iterable[str]) -> None:
        self._secrets = secrets

    def filter(self, record: Any) -> bool:
        """Mask the secrets in ``record``; never drops it."""
        secrets = list(self._secrets() if callable(self._secrets) else self._secrets)
        if secrets:
            record.msg = redact_text(record.getMessage(), secrets)
            record.args = None
        return True


# -- the light GET of probes ------------------------------------------------------------------------
class LightReply(NamedTuple):
    """What :func:`light_get` read: the status, the headers (names lower-cased) and the body."""

    status: int
    headers: dict[str, str]
    body: bytes


#: the longest header section a probe reads (a server sending more is not the app looked for)
MAX_PROBE_HEAD = 64 * 1024


def light_get(
    host: str,
    port: int,
    path: str,
    deadline: Deadline | float,
    *,
    scheme: str = "http",
    max_body: int = MAX_BODY,
    accept: str = "application/json",
    what: str = "the server",
) -> LightReply:
    """``GET path`` for a probe: one ``deadline`` for connect, request, headers and body (a server
    trickling bytes cannot stretch it), at most ``max_body`` bytes of body, and no requests.

    Plain HTTP/1.1 is written and read over a socket (``Content-Length``, chunked, or up to the
    close ``Connection: close`` asks for): a scan probes dozens of ports and pays neither for
    requests nor for ``http.client``/``ssl`` (~25 ms of imports); ``scheme="https"`` uses
    ``http.client``. A peer whose first bytes are not ``HTTP/1.`` is told at once, without waiting
    for the end of headers that will never come.

    Raises :class:`Unreachable` (``reason`` ``refused`` or ``reset``; the peer closed early),
    :class:`Timeout` (no whole answer in time), :class:`ProtocolError` (not HTTP, with the peer's
    ``first_bytes``; a body over ``max_body``, with ``limit``).
    """
    if not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    where = f"{what} at {host}:{port}"
    try:
        if scheme == "https":
            return _light_https(host, port, path, deadline, max_body, accept, where)
        return _light_plain(host, port, path, deadline, max_body, accept, where)
    except TetherError:  # ours (they subclass OSError's kinds too): already said
        raise
    except ConnectionRefusedError as exc:
        raise Unreachable(f"nothing accepts connections at {host}:{port}", reason="refused") from exc
    except TimeoutError as exc:
        raise Timeout(
            f"no whole HTTP answer within {deadline.seconds:g} s", deadline=deadline.seconds
        ) from exc
    except ConnectionResetError as exc:
        raise Unreachable("the connection was reset before an HTTP answer", reason="reset") from exc
    except OSError as exc:  # said in words: errno text is for programmers
        raise Unreachable(f"HTTP probe failed: {exc.strerror or type(exc).__name__}") from exc


def _light_https(
    host: str, port: int, path: str, deadline: Deadline, max_body: int, accept: str, where: str
) -> LightReply:
    import http.client

    conn = http.client.HTTPSConnection(host, port, timeout=deadline.remaining(0.001))
    try:
        conn.request("GET", path, headers={"Accept": accept, "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(max_body + 1)
        headers = {k.lower(): v for k, v in resp.getheaders()}
    except (http.client.HTTPException, ValueError) as exc:
        raise ProtocolError(f"{where} is not an HTTP server ({type(exc).__name__})") from exc
    finally:
        conn.close()
    if len(body) > max_body:
        raise ProtocolError(f"{where} sent a body larger than {_size(max_body)}", limit=max_body)
    return LightReply(resp.status, headers, body)


def _light_plain(
    host: str, port: int, path: str, deadline: Deadline, max_body: int, accept: str, where: str
) -> LightReply:
    from .tcp import create_connection

    hostname = f"[{host}]" if ":" in host else host
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {hostname}:{port}\r\nAccept: {accept}\r\n"
        "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )

    def not_http(why: str, data: bytes) -> ProtocolError:
        return ProtocolError(f"{where} is not an HTTP server ({why})", first_bytes=bytes(data[:16]))

    def left() -> float:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    sock = create_connection(host, port, left())  # a numeric host skips the name lookup
    try:
        sock.settimeout(left())
        sock.sendall(request.encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            sock.settimeout(left())  # a server trickling bytes cannot stretch the deadline
            chunk = sock.recv(65536)
            if not chunk:
                raise not_http("closed before the end of the headers", data)
            data += chunk
            if not data.startswith(b"HTTP/1."[: len(data)]) and not (data[:1] == b"\xff" and len(data) < 10):
                raise not_http("BadStatusLine", data)  # at once (a 0MQ greeting is read whole first)
            if len(data) > MAX_PROBE_HEAD and b"\r\n\r\n" not in data:
                raise not_http("no end of headers", data)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise not_http("BadStatusLine", data)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise not_http("a malformed header", data)
            headers[name.strip().lower()] = value.strip()

        def more() -> bytes:
            sock.settimeout(left())
            chunk = sock.recv(65536)
            if not chunk:
                raise Unreachable(f"{where} closed the connection before the end of its reply")
            return chunk

        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(body, more, max_body, where)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise not_http("a malformed Content-Length", data)
            want = min(int(length), max_body + 1)  # one byte more tells "too large"
            while len(body) < want:
                body += more()
            body = body[:want]
        else:
            while len(body) <= max_body:
                sock.settimeout(left())
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        if len(body) > max_body:
            raise ProtocolError(f"{where} sent a body larger than {_size(max_body)}", limit=max_body)
        return LightReply(int(parts[1]), headers, body)
    finally:
        sock.close()


def _dechunk(data: bytes, more: Callable[[], bytes], max_body: int, where: str) -> bytes:
    """A chunked body (``data`` read so far, ``more()`` for the rest), at most ``max_body`` + 1 bytes."""
    out = b""
    while True:
        while b"\r\n" not in data:
            data += more()
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"{where} sent a malformed chunk") from None
        if size == 0 or len(out) > max_body:
            return out[: max_body + 1]  # one byte more tells "too large"
        while len(data) < size + 2:
            data += more()
        out += data[:size]
        data = data[size + 2 :]


__all__ = [
    "MAX_BODY",
    "RETRYABLE_STATUSES",
    "HttpError",
    "HttpSession",
    "LightReply",
    "RedactingFilter",
    "join_url",
    "light_get",
    "redact_text",
    "safe_headers",
]
