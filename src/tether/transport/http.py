"""JSON over HTTP with requests: one session, a base URL that may carry a path prefix,
a deadline on every call, retries for reads only, and errors mapped to :mod:`tether.errors`.

Every call sends a JSON body (``{}`` at least), GETs included: some HTTP APIs (the Bluesky
HTTP Server) read their parameters from the body of a GET.

Secrets (API keys, tokens) never reach a log line or an error message: the session
knows them (``secrets=``) and :meth:`HttpSession.redact` masks them, and the
``Authorization`` header is never logged at all.

``requests`` is imported when a session is created, not when this module is imported.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import AuthError, HttpError, ProtocolError, Timeout, Unreachable

log = logging.getLogger("tether.transport.http")

#: Statuses worth a second try when the call only reads (the server timed out or failed).
RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
REDACTED = "***"
_SENSITIVE_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}


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
    ) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.auth_hint = auth_hint
        self.what = what
        self._secrets = [s for s in secrets if s]
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
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

        ``read`` marks the call safe to retry (default: GET is a read, anything else is not);
        ``retries`` overrides the session's count for this read.
        Raises :class:`AuthError` (401/403), :class:`Timeout` (no answer in time, or 408 after
        retries), :class:`Unreachable` (refused/reset, 5xx after retries), :class:`HttpError`
        (other 4xx/5xx, with the server's ``detail``), :class:`ProtocolError` (not JSON).
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
        deadline = timeout if timeout is not None else self.timeout
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                resp = self._send(method, path, send, deadline)
            except (Timeout, Unreachable):
                if last:
                    raise
                time.sleep(delay)
                delay *= 2
                continue
            if resp.status_code in RETRYABLE_STATUSES and not last:
                log.debug("%s %s -> %s, retrying (read)", method, path, resp.status_code)
                time.sleep(delay)
                delay *= 2
                continue
            return self._decode(method, path, resp)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """``call("GET", …)``: a read, retried on failures."""
        return self.call("GET", path, body, **kw)

    def post(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """``call("POST", …)``: a write, never retried."""
        return self.call("POST", path, body, **kw)

    def _send(self, method: str, path: str, send: dict[str, Any], timeout: float):
        import requests

        url = self.url(path)
        started = time.monotonic()
        try:
            resp = self._session.request(method, url, timeout=timeout, **send)
        except requests.exceptions.Timeout as exc:
            log.debug("%s %s timed out after %.3f s", method, url, timeout)
            raise Timeout(
                f"{self.what} at {self.base_url} did not answer {method} {path} within {timeout:g} s"
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise Unreachable(
                f"TLS failed talking to {self.base_url}: {self.redact(str(exc))}",
                hint="check the certificate, or pass a CA bundle (verify)",
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise Unreachable(
                f"cannot reach {self.what} at {self.base_url}: {_short(self.redact(str(exc)))}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise Unreachable(f"{method} {path} failed: {_short(self.redact(str(exc)))}") from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s body=%s headers=%s -> %s in %.1f ms",
                method,
                url,
                self.redact(_short(_shown(send), 300)),
                safe_headers(self._session.headers),
                resp.status_code,
                (time.monotonic() - started) * 1000,
            )
        return resp

    def _decode(self, method: str, path: str, resp) -> Any:
        status = resp.status_code
        # JSON is UTF-8 (RFC 8259): decode it directly; requests' .text would first guess
        # the charset, which costs more than the request on a fast local server.
        text = resp.content.decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = None
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
                f"{method} {path} answered HTTP {status} with a body that is not JSON: {_short(text)!r}"
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


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record (install on handlers that print ``-v``)."""

    def __init__(self, secrets: Callable[[], Iterable[str]] | Iterable[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the secrets in ``record``; never drops it."""
        secrets = list(self._secrets() if callable(self._secrets) else self._secrets)
        if secrets:
            record.msg = redact_text(record.getMessage(), secrets)
            record.args = None
        return True


__all__ = [
    "RETRYABLE_STATUSES",
    "HttpError",
    "HttpSession",
    "RedactingFilter",
    "join_url",
    "redact_text",
    "safe_headers",
]
