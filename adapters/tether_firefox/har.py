"""HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from the requests a
:class:`~tether_firefox.network.Network` saw: what ``ff.record_har(path)``, ``tether firefox
navigate URL --har FILE`` and pytest's ``--tether-har`` write.

Timings come from BiDi's ``request.timings`` (absolute milliseconds, 0 for a phase that did not
happen, which HAR writes as -1). A failed request (blocked, refused, aborted) has ``status`` 0
and Firefox's error text in ``_error``, as Firefox's own devtools export it; a route's answer is
marked ``_tether_routed``. Bodies of text responses (``text/*``, JSON, JavaScript, XML, SVG)
are included up to the collector's cap; binary bodies are left out (``content.size`` stays).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from .network import Request

CREATOR = {"name": "tether", "version": "0"}
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "image/svg+xml")


def is_text(mime: str) -> bool:
    """Whether a body of this MIME type is text a HAR should carry."""
    mime = mime.split(";")[0].strip().lower()
    return mime.startswith(TEXT_TYPES) or mime.endswith(("+json", "+xml"))


def _iso(ms: float) -> str:
    try:
        when = datetime.fromtimestamp(ms / 1000, timezone.utc) if ms > 0 else None
    except (OverflowError, ValueError, OSError):  # a time Firefox could not have meant
        when = None
    when = when or datetime.now(timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _query(url: str) -> list[dict[str, str]]:
    try:
        query = urlsplit(url).query
    except ValueError:  # not a URL urllib can split ("http://[bad"): no query string then
        return []
    return [{"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)]


def _span(t: dict[str, float], start: str, end: str) -> float:
    a, b = t.get(start, 0.0), t.get(end, 0.0)
    return round(b - a, 3) if a > 0 and b >= a else -1


def timings(req: Request) -> tuple[dict[str, float], float]:
    """HAR ``timings`` of one request, and its total ``time`` (ms)."""
    t = req.timings
    out = {
        "blocked": _span(t, "requestTime", "fetchStart") if t.get("fetchStart") else -1,
        "dns": _span(t, "dnsStart", "dnsEnd"),
        "connect": _span(t, "connectStart", "connectEnd"),
        "ssl": _span(t, "tlsStart", "tlsEnd"),
        "send": 0.0,
        "wait": _span(t, "requestStart", "responseStart"),
        "receive": _span(t, "responseStart", "responseEnd"),
    }
    if out["wait"] < 0 and out["receive"] < 0:  # a fulfilled or cached response: one span, start to end
        total = round(req.ended - req.started, 3) if req.ended and req.started else 0.0
        out["wait"] = max(total, 0.0)
        out["receive"] = 0.0
    total = sum(v for k, v in out.items() if v > 0 and k != "ssl")  # HAR: ssl is inside connect
    return out, round(total, 3)


def _headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs]


def _http_version(protocol: str) -> str:
    return protocol.upper() if protocol else "HTTP/1.1"


def entry(req: Request, body: bytes | None = None) -> dict[str, Any]:
    """One HAR entry."""
    query = _query(req.url)
    times, total = timings(req)
    r = req.response
    response: dict[str, Any] = {
        "status": 0,
        "statusText": "",
        "httpVersion": "",
        "cookies": [],
        "headers": [],
        "content": {"size": 0, "mimeType": "x-unknown"},
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
    }
    if r is not None:
        content: dict[str, Any] = {
            # Firefox ESR 153 reports content.size 0: the body's length when read, else its size on the wire
            "size": r.content_size if r.content_size > 0 else len(body) if body else max(r.body_size, 0),
            "mimeType": r.mime_type or r.header("content-type") or "x-unknown",
        }
        if body is not None and is_text(content["mimeType"]):
            content["text"] = body.decode("utf-8", errors="replace")
        response = {
            "status": r.status,
            "statusText": r.status_text,
            "httpVersion": _http_version(r.protocol),
            "cookies": [],
            "headers": _headers(r.headers),
            "content": content,
            "redirectURL": r.header("location") or "",
            "headersSize": r.headers_size,
            "bodySize": r.body_size,
        }
    out: dict[str, Any] = {
        "startedDateTime": _iso(req.started),
        "time": total,
        "request": {
            "method": req.method,
            "url": req.url,
            "httpVersion": _http_version(r.protocol if r else ""),
            "cookies": [],
            "headers": _headers(req.headers),
            "queryString": query,
            "headersSize": req.headers_size,
            "bodySize": req.body_size,
        },
        "response": response,
        "cache": {},
        "timings": times,
    }
    if req.resource_type:
        out["_resourceType"] = req.resource_type
    if req.failure:
        out["_error"] = req.failure
    if req.routed:
        out["_tether_routed"] = req.routed
    if not req.finished:
        out["_pending"] = True
    return out


def har(
    requests: Iterable[Request],
    body_of: Callable[[Request], bytes | None] | None = None,
    *,
    browser_version: str = "",
) -> dict[str, Any]:
    """The HAR document (``{"log": …}``) of ``requests``, bodies from ``body_of`` (text ones only)."""
    entries = []
    for req in requests:
        body = None
        r = req.response
        if body_of is not None and r is not None and is_text(r.mime_type or r.header("content-type") or ""):
            body = body_of(req)
        entries.append(entry(req, body))
    return {
        "log": {
            "version": "1.2",
            "creator": CREATOR,
            "browser": {"name": "Firefox", "version": browser_version},
            "pages": [],
            "entries": entries,
        }
    }


def write(path: str | Path, document: dict[str, Any]) -> Path:
    """Write a HAR document (atomically: a reader never sees half of it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


class HarRecorder:
    """The requests a :class:`~tether_firefox.network.Network` sees from now until :meth:`stop`,
    written as HAR by :meth:`save` (``ff.record_har`` is the context manager around it)."""

    def __init__(self, network: Any, *, bodies: bool = True, browser_version: str = "") -> None:
        self.network = network
        self.bodies = bodies
        self.browser_version = browser_version
        if bodies:
            network.collect_bodies()
        self._seen: list[Request] = []
        self._ids: set[int] = set()
        self._stop = network.listen(self._take)

    def _take(self, kind: str, req: Request) -> None:
        if kind == "request" and id(req) not in self._ids:
            self._ids.add(id(req))
            self._seen.append(req)

    @property
    def requests(self) -> list[Request]:
        return list(self._seen)

    def stop(self) -> None:
        self._stop()

    def document(self, *, settle: float = 2.0) -> dict[str, Any]:
        """The HAR document, after waiting up to ``settle`` s for requests still in flight."""
        import time

        end = time.monotonic() + settle
        while any(not r.finished for r in self._seen) and time.monotonic() < end and not self.network.closed:
            time.sleep(0.05)
        body_of = self.network.body if self.bodies else None
        return har(self._seen, body_of, browser_version=self.browser_version)

    def save(self, path: str | Path, *, settle: float = 2.0) -> Path:
        """Stop recording and write the HAR file."""
        self.stop()
        return write(path, self.document(settle=settle))


__all__ = ["HarRecorder", "entry", "har", "is_text", "timings", "write"]
