"""``scan()``, ``find()`` and ``connect()``: detect, verify, then hand over to the adapter's client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import config, registry
from .adapter import check_host, is_loopback, raise_for_verdict
from .discovery import Discovery, list_listeners, port_owner
from .endpoint import Confidence, Endpoint, Listener
from .errors import Busy, NotFound, TetherError, UsageError, WrongApp
from .identify import DEFAULT_TIMEOUT, claimed_elsewhere, gather, hints_for, identify, safe_probe

DEFAULT_HOST = "127.0.0.1"


def is_ssh(host: str | None) -> bool:
    """``True`` for an ``ssh://`` host (:mod:`tether.ssh` and :mod:`tether.remote`, which import
    hashlib and a thread pool, load only when one is named)."""
    return bool(host) and str(host).startswith("ssh://")


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
    host: str | Iterable[str] | None = None,
    ssh_config: str | None = None,
) -> list[Endpoint]:
    """Every app tether can identify on this machine's listening ports.

    ``apps`` limits the adapters asked; ``probe=False`` reports hints only (nothing is
    sent); ``include_unknown`` adds listeners no adapter claims; ``deep`` reads a banner
    (sending nothing) from every unclaimed listener. ``host``: one or several
    ``ssh://[USER@]HOST[:PORT]`` machines, scanned over OpenSSH in parallel (each row's
    ``host`` names its machine); the first machine that fails raises its error.

    >>> for ep in tether.scan():                                # doctest: +SKIP
    ...     print(ep.app, ep.port, ep.pid, ep.confidence)
    """
    if host is not None:
        eps, errors = scan_hosts(
            [host] if isinstance(host, str) else list(host),
            apps,
            probe=probe,
            include_unknown=include_unknown,
            deep=deep,
            timeout=timeout,
            ssh_config=ssh_config,
        )
        if errors:
            raise errors[0][1]
        return eps
    adapters = _adapters(apps)
    disc = discovery if discovery is not None else list_listeners()
    candidates = gather(disc.listeners, adapters)
    endpoints = identify(
        candidates, adapters, timeout=timeout, probe=probe, deep=deep, unknown=include_unknown
    )
    if not include_unknown:
        endpoints = [e for e in endpoints if e.app is not None]
    return sorted(endpoints, key=lambda e: (Confidence(e.confidence).rank, e.app or "~", e.port))


def scan_hosts(
    hosts: list[str],
    apps: Iterable[str] | None = None,
    *,
    ssh_config: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **kw: Any,
) -> tuple[list[Endpoint], list[tuple[str, TetherError]]]:
    """:func:`scan` of several machines in parallel (``ssh://`` URLs; ``localhost``/loopback is
    this machine): every endpoint found, and the error of each machine that failed."""
    local = [h for h in hosts if not is_ssh(h)]
    for h in local:
        if not is_loopback(h):
            raise UsageError(
                f"cannot list the ports of {h}: name it as ssh://[USER@]{h} to scan it over ssh",
                hint="tether reaches other machines through OpenSSH only",
            )
    eps: list[Endpoint] = scan(apps, timeout=timeout, **kw) if local else []
    from . import remote

    remote_eps, errors = remote.scan(
        [h for h in hosts if is_ssh(h)], _adapters(apps), timeout=timeout, ssh_config=ssh_config, **kw
    )
    return eps + sorted(
        remote_eps, key=lambda e: (e.host, Confidence(e.confidence).rank, e.app or "~", e.port)
    ), errors


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
    host = check_host(host or DEFAULT_HOST)
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range (1-65535)")
    owner = _owner(port, adapter) if is_loopback(host) else None
    if owner is not None:
        _refuse_if_claimed(adapter, owner, host, port)
    res = safe_probe(adapter, host, port, timeout)
    raise_for_verdict(res, title=adapter.title, where=f"{host}:{port}", host=host, port=port)
    version = res.version
    if version is None and owner is not None:
        try:
            version = adapter.version_hint(owner)
        except Exception:
            version = None
    return Endpoint(
        app=adapter.name,
        title=res.title or adapter.title,
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


def _refuse_if_claimed(adapter, owner: Listener, host: str, port: int) -> None:
    """:class:`WrongApp`, before any probe, when another adapter's process or file hint claims
    the port: probing it (an HTTP request to IGV's port raises IGV's window) is not harmless."""
    adapters = {a.name: a for a in (*registry.usable(), adapter)}.values()
    claimed = claimed_elsewhere(adapter, hints_for(owner, adapters))
    if claimed is not None:
        other, hint = claimed
        raise WrongApp(
            f"{host}:{port} is {other.title}'s ({hint.reason}), not {adapter.title}: not probed,"
            f" as {adapter.title}'s probe could disturb {other.title}",
            host=host,
            port=port,
            hint=f"use tether {other.name} …, or name {adapter.title}'s own port",
        )


def find(
    app: str,
    host: str | None = None,
    port: int | None = None,
    *,
    timeout: float = 2.0,
    ssh_config: str | None = None,
) -> Endpoint:
    """The single verified endpoint of ``app``.

    With ``port`` (and optionally ``host``) the scan is skipped but the probe is not.
    With ``host`` alone, the adapter's default ports on that host are probed.
    Otherwise this machine is scanned. An ``ssh://[USER@]HOST[:PORT]`` host is scanned over
    OpenSSH (``ssh_config``: an ssh_config file), and the endpoint returned is a local forward.
    """
    adapter = registry.get(app)
    if is_ssh(host):
        return _find_remote(adapter, str(host), port, timeout, ssh_config)
    if host is not None:
        check_host(host)
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
    return _pick(adapter, eps, {f"127.0.0.1:{p}" for p in adapter.default_ports})


def _pick(adapter, eps: list[Endpoint], looked: set[str], where: str = "") -> Endpoint:
    """The verified endpoint among a scan's ``eps`` (several: :func:`tether.choose.pick`'s rules),
    or the error that says why not."""
    verified = [e for e in eps if e.confidence == Confidence.VERIFIED]
    if len(verified) == 1:
        return verified[0]
    if len(verified) > 1:  # the one this user launched, else the only one this user owns, else exit 2
        from . import choose  # (launch records: only when several answer)

        return choose.pick(adapter.name, adapter.title, verified, where)
    busy = [e for e in eps if e.confidence == Confidence.BUSY]
    if busy:
        e = busy[0]
        raise Busy(
            f"{adapter.title} at {e.address} is busy: {e.detail}",
            hint="close the other client and try again",
            host=e.host,
            port=e.port,
        )
    looked = sorted(looked | {e.address for e in eps})
    hinted = [e for e in eps if e.confidence == Confidence.HINTED]
    extra = f"; hinted but not answering: {', '.join(e.address for e in hinted)}" if hinted else ""
    raise NotFound(
        f"{adapter.title} not found{where}: nothing answered as {adapter.title} "
        f"on {', '.join(looked)}{extra}",
        looked_at=looked,
        hint=f"start {adapter.title} (with its port enabled), or name the port with --port",
    )


def _find_remote(adapter, url: str, port: int | None, timeout: float, ssh_config: str | None) -> Endpoint:
    """:func:`find` on another machine: scan it over ssh (or take ``port``), forward, verify."""
    from . import remote

    connect = max(timeout, 2.0)
    if port is not None:
        if not 0 < port < 65536:
            raise UsageError(f"port {port} is out of range (1-65535)")
        return remote.through(
            adapter, url, "127.0.0.1", port, timeout=timeout, ssh_config=ssh_config, connect_timeout=connect
        )
    eps, errors = remote.scan(
        [url],
        (adapter,),
        timeout=min(timeout, DEFAULT_TIMEOUT),
        ssh_config=ssh_config,
        connect_timeout=connect,
    )
    if errors:
        raise errors[0][1]
    found = _pick(adapter, eps, {url} if not eps else set(), where=f" on {url}")
    return remote.through(
        adapter,
        url,
        found.extra.get("remote_host", "127.0.0.1"),
        found.port,
        timeout=timeout,
        ssh_config=ssh_config,
        connect_timeout=connect,
        found=found,
    )


def locate(
    app: str,
    host: str | None = None,
    port: int | None = None,
    *,
    settings: dict[str, Any] | None = None,
    probe_timeout: float = 2.0,
    ssh_config: str | None = None,
) -> Endpoint:
    """The verified endpoint of ``app``: from the adapter's own settings (a URL) when it has one
    and no ``host``/``port`` is given, else :func:`find`. The step ``connect`` and the CLI share."""
    adapter = registry.get(app)
    if host is None and port is None:
        endpoint = adapter.locate(host, port, settings or {}, probe_timeout)
        if endpoint is not None:
            return endpoint
    return find(app, host, port, timeout=probe_timeout, ssh_config=ssh_config)


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
    ``host="ssh://[USER@]HOST[:PORT]"`` finds the app on that machine over OpenSSH and connects
    through a forwarded port (``ssh_config=``: an ssh_config file, else ``$TETHER_SSH_CONFIG``).

    >>> igv = tether.connect("igv", timeout=30)                 # doctest: +SKIP
    >>> igv.goto("chr1:100,000-200,000")                         # doctest: +SKIP
    """
    adapter = registry.get(app)
    ssh_config = client_options.pop("ssh_config", None)
    options = config.resolve(app, adapter.settings, {"host": host, "port": port, **client_options})
    host, port = options.pop("host", None), options.pop("port", None)
    return adapter.attach(
        lambda: locate(app, host, port, settings=options, probe_timeout=probe_timeout, ssh_config=ssh_config),
        **options,
    )


__all__ = ["connect", "find", "locate", "scan", "scan_hosts", "verify"]
