"""``scan()``, ``find()`` and ``connect()``: detect, verify, then hand over to the adapter's client."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from . import registry
from .adapter import BUSY, NOT_ME, UNREACHABLE, VERIFIED, ProbeResult
from .discovery import Discovery, list_listeners
from .endpoint import Endpoint, Listener
from .errors import AmbiguousTarget, Busy, NotFound, Unreachable, UsageError, WrongApp
from .probe import DEFAULT_TIMEOUT, gather, identify, safe_probe

DEFAULT_HOST = "127.0.0.1"


def _adapters(apps: Iterable[str] | None):
    if apps is None:
        return registry.usable()
    return tuple(registry.get(a) for a in apps)


def scan(
    apps: Iterable[str] | None = None,
    *,
    probe: bool = True,
    include_unknown: bool = False,
    deep: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    discovery: Discovery | None = None,
) -> list[Endpoint]:
    """Every app tether can identify on this machine's listening ports.

    ``apps`` limits the adapters asked; ``probe=False`` reports hints only (nothing is
    sent); ``include_unknown`` adds listeners no adapter claims; ``deep`` reads a banner
    (sending nothing) from every unclaimed listener.

    >>> for ep in tether.scan():                                # doctest: +SKIP
    ...     print(ep.app, ep.port, ep.pid, ep.confidence)
    """
    adapters = _adapters(apps)
    disc = discovery if discovery is not None else list_listeners()
    candidates = gather(disc.listeners, adapters)
    endpoints = identify(candidates, adapters, timeout=timeout, probe=probe, deep=deep)
    if not include_unknown:
        endpoints = [e for e in endpoints if e.app is not None]
    order = {"verified": 0, "busy": 1, "hinted": 2, "unknown": 3}
    return sorted(endpoints, key=lambda e: (order.get(e.confidence, 9), e.app or "~", e.port))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _owner(port: int) -> Listener | None:
    """The local listener on ``port`` (for its pid), if the socket table shows one."""
    try:
        for item in list_listeners().listeners:
            if item.port == port:
                return item
    except Exception:
        return None
    return None


def raise_for_verdict(res: ProbeResult, *, title: str, where: str, host: str, port: int) -> None:
    """Raise the typed error for a probe that did not verify ``title`` at ``where``; return if it did.

    busy -> :class:`Busy`; another app -> :class:`WrongApp`; nothing listening -> :class:`NotFound`;
    anything else -> :class:`Unreachable`. Adapters that verify addresses of their own (a URL
    with a path prefix) use it too, so every adapter says the same thing the same way.
    """
    if res.verdict == VERIFIED:
        return
    if res.verdict == BUSY:
        raise Busy(
            f"{title} at {where} is busy: {res.detail or 'another client holds it'}",
            hint="close the other client (or wait for it) and try again",
            host=host,
            port=port,
        )
    if res.verdict == NOT_ME:
        raise WrongApp(
            f"{where} does not answer as {title}" + (f": {res.detail}" if res.detail else ""),
            host=host,
            port=port,
        )
    if res.verdict == UNREACHABLE:
        raise NotFound(
            f"{title} not found: nothing accepts connections on {where}",
            looked_at=[where],
            hint=f"start {title}, or name its address (--port, --host)",
        )
    raise Unreachable(
        f"{title} at {where} did not answer the probe: {res.detail or 'no reply'}",
        host=host,
        port=port,
    )


def verify(app: str, host: str | None, port: int, *, timeout: float = 2.0) -> Endpoint:
    """Probe one address for ``app`` and return its verified endpoint, or raise.

    Raises :class:`NotFound` (nothing listens), :class:`Busy` (another client holds it),
    :class:`WrongApp` (something else answers), :class:`Unreachable`/:class:`Timeout`.
    """
    adapter = registry.get(app)
    host = host or DEFAULT_HOST
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range (1-65535)")
    res = safe_probe(adapter, host, port, timeout)
    raise_for_verdict(res, title=adapter.title, where=f"{host}:{port}", host=host, port=port)
    owner = _owner(port) if is_loopback(host) else None
    version = res.version
    if version is None and owner is not None:
        try:
            version = adapter.version_hint(owner)
        except Exception:
            version = None
    return Endpoint(
        app=adapter.name,
        title=adapter.title,
        version=version,
        host=host,
        port=port,
        bind=owner.bind if owner else "",
        pid=owner.pid if owner else None,
        process=owner.process if owner else None,
        confidence="verified",
        detail=res.detail,
        cmdline=owner.cmdline if owner else [],
        extra=dict(res.extra),
    )


def find(app: str, host: str | None = None, port: int | None = None, *, timeout: float = 2.0) -> Endpoint:
    """The single verified endpoint of ``app``.

    With ``port`` (and optionally ``host``) the scan is skipped but the probe is not.
    With ``host`` alone, the adapter's default ports on that host are probed.
    Otherwise this machine is scanned.
    """
    adapter = registry.get(app)
    if port is not None:
        return verify(app, host, port, timeout=timeout)
    if host is not None and not is_loopback(host):
        for p in adapter.default_ports:
            try:
                return verify(app, host, p, timeout=timeout)
            except NotFound:
                continue
        ports = ", ".join(map(str, adapter.default_ports))
        raise NotFound(
            f"{adapter.title} not found on {host} (default ports {ports})",
            looked_at=[f"{host}:{p}" for p in adapter.default_ports],
            hint="name the port with --port",
        )
    eps = scan([app], timeout=min(timeout, DEFAULT_TIMEOUT))
    verified = [e for e in eps if e.confidence == "verified"]
    if len(verified) == 1:
        return verified[0]
    if len(verified) > 1:
        listing = ", ".join(f"{e.address} (pid {e.pid})" for e in verified)
        raise AmbiguousTarget(
            f"{len(verified)} {adapter.title} instances answer: {listing}",
            candidates=verified,
            hint="pick one with --port",
        )
    busy = [e for e in eps if e.confidence == "busy"]
    if busy:
        e = busy[0]
        raise Busy(
            f"{adapter.title} at {e.address} is busy: {e.detail}",
            hint="close the other client and try again",
            host=e.host,
            port=e.port,
        )
    looked = sorted({f"127.0.0.1:{p}" for p in adapter.default_ports} | {e.address for e in eps})
    hinted = [e for e in eps if e.confidence == "hinted"]
    extra = f"; hinted but not answering: {', '.join(e.address for e in hinted)}" if hinted else ""
    raise NotFound(
        f"{adapter.title} not found: nothing answered as {adapter.title} on {', '.join(looked)}{extra}",
        looked_at=looked,
        hint=f"start {adapter.title} (with its port enabled), or name the port with --port",
    )


def connect(
    app: str, host: str | None = None, port: int | None = None, *, timeout: float = 2.0, **options: Any
) -> Any:
    """Find ``app`` (or verify the given address) and return the adapter's client.

    >>> igv = tether.connect("igv")                             # doctest: +SKIP
    >>> igv.goto("chr1:100,000-200,000")                         # doctest: +SKIP
    """
    return registry.get(app).attach(host, port, timeout=timeout, **options)


__all__ = ["connect", "find", "is_loopback", "raise_for_verdict", "scan", "verify"]
