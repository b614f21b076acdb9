"""The Bluesky HTTP Server's adapter: hints (uvicorn/bluesky_httpserver processes) and the OpenAPI probe.

``GET /openapi.json`` needs no API key, changes nothing, and names the server
(``info.title == "Bluesky HTTP Server"``) and its version. The GET is the core's light one
(:func:`tether.transport.http.light_get`: plain HTTP/1.1 over a socket, one deadline, a size
cap), so that a scan — and every other adapter's command, which loads this module with the
adapter — pays neither for requests nor for ``http.client``/``ssl`` (~25 ms of imports).
"""

from __future__ import annotations

import json
import re

from tether.adapter import ProbeResult, Verdict

DEFAULT_PORT = 60610
TITLE = "Bluesky HTTP Server"
# (tether_qserver.httpserver: the server as `tether qserver launch` starts it, its key kept out of its log)
_PROCESS_MARKS = (
    "bluesky_httpserver",
    "bluesky-httpserver",
    "start-bluesky-httpserver",
    "tether_qserver.httpserver",
)
MAX_SCHEMA = 8 * 1024 * 1024
#: What a ZeroMQ socket sends first (ZMTP 3 signature): RE Manager's own ports answer so.
ZMTP_SIGNATURE = (b"\xff", b"\x7f")
ZMQ_DETAIL = (
    "this port is a ZeroMQ socket (RE Manager's control port: 60615 by default), not its HTTP server; "
    "tether drives RE Manager through bluesky-httpserver (port 60610 by default; `tether scan` finds it)"
)


def is_httpserver_process(cmdline: list[str]) -> bool:
    joined = " ".join(cmdline)
    return any(m in joined for m in _PROCESS_MARKS)


def probe_openapi(
    host: str, port: int, timeout: float, *, prefix: str = "", scheme: str = "http"
) -> ProbeResult:
    """``GET <prefix>/openapi.json`` within ``timeout`` seconds in all (connect, headers and body:
    a server trickling bytes cannot stretch it), reading at most ``MAX_SCHEMA`` bytes; the core's
    light GET (:func:`tether.transport.http.light_get`) does the HTTP."""
    from tether.errors import ProtocolError, Timeout, Unreachable
    from tether.transport.http import light_get

    path = f"{prefix.rstrip('/')}/openapi.json"
    try:
        status, _, body = light_get(host, port, path, timeout, scheme=scheme, max_body=MAX_SCHEMA)
    except ProtocolError as exc:
        if _is_zmtp(exc.detail.get("first_bytes", b"")):
            return ProbeResult(Verdict.NOT_ME, detail=ZMQ_DETAIL)
        if "limit" in exc.detail:
            return ProbeResult(Verdict.NOT_ME, detail=f"/openapi.json is larger than {MAX_SCHEMA} bytes")
        return ProbeResult(Verdict.NOT_ME, detail=exc.message)
    except Timeout:
        return ProbeResult(Verdict.UNKNOWN, detail=f"no whole HTTP answer within {timeout:g} s")
    except Unreachable as exc:
        if exc.detail.get("reason") == "refused":
            return ProbeResult(Verdict.UNREACHABLE, detail="connection refused")
        return ProbeResult(Verdict.UNKNOWN, detail=exc.message)
    if status != 200:
        return ProbeResult(Verdict.NOT_ME, detail=f"GET /openapi.json answered HTTP {status}")
    info = _leading_info(body)
    if info is None:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            return ProbeResult(Verdict.NOT_ME, detail="/openapi.json is not JSON")
        info = doc.get("info") if isinstance(doc, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    if title != TITLE:
        return ProbeResult(Verdict.NOT_ME, detail=f"an HTTP API titled {str(title)[:80]!r}, not {TITLE!r}")
    return ProbeResult(
        Verdict.VERIFIED, version=str(info.get("version") or "")[:80] or None, detail="OpenAPI title matches"
    )


def _is_zmtp(first: bytes) -> bool:
    """Whether a peer's first bytes are ZMTP's signature: a ZeroMQ socket greets every connection
    at once (the byte 0xff, eight more, then 0x7f), where an HTTP server answers the request."""
    return len(first) >= 10 and first[:1] == ZMTP_SIGNATURE[0] and first[9:10] == ZMTP_SIGNATURE[1]


#: how FastAPI's schema begins: ``{"openapi":"3.1.0","info":`` (then the info object); compiled
#: at the first probe (``re`` caches it), not when every command loads the adapter
_LEADING_INFO = r'\{\s*"openapi"\s*:\s*"[^"\\]{0,40}"\s*,\s*"info"\s*:\s*'


def _leading_info(body: bytes) -> dict | None:
    """The top-level ``info`` object of a schema that begins as FastAPI writes it, decoded
    alone (the whole schema — tens of kB, ~0.5 ms — is not); ``None`` for any other shape,
    which the caller decodes whole."""
    head = body[:200].decode("utf-8", "replace")
    m = re.match(_LEADING_INFO, head)
    if m is None:
        return None
    try:
        info, _ = json.JSONDecoder().raw_decode(body.decode("utf-8", "replace"), m.end())
    except (ValueError, RecursionError):
        return None
    return info if isinstance(info, dict) else None


def parse_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path prefix)`` of a server URL, or :class:`UsageError`: only
    ``http``/``https`` with a host, a port in range, and nothing that cannot name a machine."""
    from urllib.parse import urlsplit

    from tether.adapter import check_host
    from tether.errors import UsageError

    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
    except ValueError:  # "Invalid IPv6 URL", a port out of range …
        host, port, parts = None, 0, None
    if not host or parts is None or parts.scheme not in ("http", "https") or not port:
        raise UsageError(f"--url must look like http://host:port or https://host/prefix, not {url[:200]!r}")
    check_host(host)
    return parts.scheme, host, port, parts.path


def verify_url(url: str, timeout: float):
    """The verified endpoint behind ``url`` (which may carry a path prefix), or the typed error.

    Probes ``<prefix>/openapi.json``: tether never sends a command to an unverified server.
    The endpoint's ``extra["base_url"]`` keeps the scheme and the prefix for the client.
    """
    from tether.adapter import Confidence, raise_for_verdict
    from tether.endpoint import Endpoint

    scheme, host, port, prefix = parse_url(url)
    res = probe_openapi(host, port, timeout, prefix=prefix, scheme=scheme)
    raise_for_verdict(res, title=TITLE, where=url, host=host, port=port)
    return Endpoint(
        app="qserver",
        title=TITLE,
        version=res.version,
        host=host,
        port=port,
        confidence=Confidence.VERIFIED,
        detail=res.detail,
        extra={"base_url": url.rstrip("/")},
    )
