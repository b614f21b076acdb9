"""``scan()``, ``find()`` and ``connect()``: detect, verify, then hand over to the adapter's client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import config, registry
from .adapter import is_loopback, raise_for_verdict
from .discovery import Discovery, list_listeners, port_owner
from .endpoint import Confidence, Endpoint, Listener
from .errors import AmbiguousTarget, Busy, NotFound, UsageError
from .identify import DEFAULT_TIMEOUT, gather, identify, safe_probe

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
    endpoints = identify(
        candidates, adapters, timeout=timeout, probe=probe, deep=deep, unknown=include_unknown
    )
    if not include_unknown:
        endpoints = [e for e in endpoints if e.app is not None]
    return sorted(endpoints, key=lambda e: (Confidence(e.confidence).rank, e.app or "~", e.port))


def _owner(port: int, adapter: Any = None) -> Listener | None:
    """The local listener on ``port`` (for its pid), if the socket table shows one: that port's
    sockets and their owner only, not every socket of the machine — the processes ``adapter``
    recognises by their command line looked at first."""

    def likely(cmdline: list[str]) -> bool:
        try:
            hint = adapter.hints(Listener(host=DEFAULT_HOST, port=port, cmdline=cmdline))
        except Exception:
            return False
        return hint is not None and hint.strength != "port"

    try:
        return port_owner(port, prefer=likely if adapter is not None else None)
    except Exception:
        return None


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
    owner = _owner(port, adapter) if is_loopback(host) else None
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
        confidence=Confidence.VERIFIED,
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
    verified = [e for e in eps if e.confidence == Confidence.VERIFIED]
    if len(verified) == 1:
        return verified[0]
    if len(verified) > 1:
        listing = ", ".join(f"{e.address} (pid {e.pid})" for e in verified)
        raise AmbiguousTarget(
            f"{len(verified)} {adapter.title} instances answer: {listing}",
            candidates=verified,
            hint="pick one with --port",
        )
    busy = [e for e in eps if e.confidence == Confidence.BUSY]
    if busy:
        e = busy[0]
        raise Busy(
            f"{adapter.title} at {e.address} is busy: {e.detail}",
            hint="close the other client and try again",
            host=e.host,
            port=e.port,
        )
    looked = sorted({f"127.0.0.1:{p}" for p in adapter.default_ports} | {e.address for e in eps})
    hinted = [e for e in eps if e.confidence == Confidence.HINTED]
    extra = f"; hinted but not answering: {', '.join(e.address for e in hinted)}" if hinted else ""
    raise NotFound(
        f"{adapter.title} not found: nothing answered as {adapter.title} on {', '.join(looked)}{extra}",
        looked_at=looked,
        hint=f"start {adapter.title} (with its port enabled), or name the port with --port",
    )


def locate(
    app: str,
    host: str | None = None,
    port: int | None = None,
    *,
    settings: dict[str, Any] | None = None,
    probe_timeout: float = 2.0,
) -> Endpoint:
    """The verified endpoint of ``app``: from the adapter's own settings (a URL) when it has one
    and no ``host``/``port`` is given, else :func:`find`. The step ``connect`` and the CLI share."""
    adapter = registry.get(app)
    if host is None and port is None:
        endpoint = adapter.locate(host, port, settings or {}, probe_timeout)
        if endpoint is not None:
            return endpoint
    return find(app, host, port, timeout=probe_timeout)


def connect(
    app: str,
    host: str | None = None,
    port: int | None = None,
    *,
    probe_timeout: float = 2.0,
    **client_options: Any,
) -> Any:
    """Find ``app`` (or verify the given address) and return the adapter's client.

    ``probe_timeout`` bounds discovery (the scan or the probe); ``client_options`` go to the
    client — ``timeout`` is the command deadline, and the adapter's settings (an API key, a
    URL …) are resolved as the CLI resolves them: given here, else the environment, else the
    config file. The probe always runs first: no command goes to a port not verified.

    >>> igv = tether.connect("igv", timeout=30)                 # doctest: +SKIP
    >>> igv.goto("chr1:100,000-200,000")                         # doctest: +SKIP
    """
    adapter = registry.get(app)
    options = config.resolve(app, adapter.settings, {"host": host, "port": port, **client_options})
    host, port = options.pop("host", None), options.pop("port", None)
    return adapter.attach(
        lambda: locate(app, host, port, settings=options, probe_timeout=probe_timeout), **options
    )


__all__ = ["connect", "find", "locate", "scan", "verify"]
