"""``tether audit``: who else — another machine, another local user — could drive the apps found here.

The audit scans as ``tether scan --all`` does (each adapter's safe probe on the listeners it
hints at, nothing else sent), then collects findings:

- the core's own: an app bound to a non-loopback address (severity from the adapter's
  ``exposure_severity``), and listeners whose owner tether cannot see (another user's process,
  or no permission) — reported as such, never guessed at;
- each adapter's ``audit(endpoint)`` hook, for its own endpoints and the unclaimed ones (an
  adapter may recognise an app it does not drive yet by its process, e.g. a RE Manager).

Nothing here changes an app's state: the evidence comes from the socket table, the process's
command line and environment, the app's own files, and read-only requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from . import registry
from .adapter import Adapter, is_loopback
from .api import is_ssh, scan, verify
from .discovery import Discovery, list_listeners
from .endpoint import WILDCARDS, Confidence, Endpoint, connect_host
from .errors import TetherError
from .findings import INFO, SEVERITIES, Finding, severity_rank

DEFAULT_TIMEOUT = 1.0
WORKERS = 16


def exposed_to(bind: str) -> str | None:
    """Who beyond this machine can reach a socket bound to ``bind``: ``all interfaces``,
    ``address X``, or ``None`` for a loopback bind (or an unknown one)."""
    if not bind:
        return None
    if bind in WILDCARDS:
        return f"all interfaces ({bind})"
    host = connect_host(bind)
    if is_loopback(host):
        return None
    return f"the address {bind}"


def _exposure(adapter: Adapter, ep: Endpoint, *, remote: bool) -> Finding | None:
    if not adapter.exposure_severity:
        return None
    if remote:
        evidence = f"it answered {adapter.title}'s probe at {ep.address} from this machine"
    else:
        where = exposed_to(ep.bind)
        if where is None:
            return None
        evidence = f"the socket table shows port {ep.port} bound to {where}"
    return Finding.about(
        ep,
        adapter.exposure_severity,
        f"{adapter.title} listens beyond this machine: anyone who reaches port {ep.port} can drive it",
        evidence,
        adapter.exposure_fix.replace("{port}", str(ep.port)),
    )


def _unattributed(ep: Endpoint) -> Finding:
    what = f"{ep.title} answering" if ep.title and ep.confidence == Confidence.VERIFIED else "a listener"
    return Finding.about(
        ep,
        INFO,
        f"{what} on port {ep.port} whose owner tether cannot see",
        f"the socket table lists {ep.bind or ep.host}:{ep.port} without an owner "
        "(another user's process, or no permission to see it)",
        "run `tether audit` as that user or as root to attribute it",
    )


def _adapter_findings(adapter: Adapter, ep: Endpoint) -> list[Finding]:
    try:
        found = adapter.audit(ep)
    except Exception as exc:  # one adapter's bug must not hide the other findings
        return [
            Finding.about(
                ep,
                INFO,
                f"the {adapter.name} adapter could not audit this endpoint",
                f"{type(exc).__name__}: {exc}",
                "report it to the adapter's authors",
            )
        ]
    return [f for f in found or () if isinstance(f, Finding)]


def _remote_endpoints(host: str, adapters: tuple[Adapter, ...], timeout: float) -> list[Endpoint]:
    """Each adapter's default ports on ``host``, probed (no socket table to read there)."""
    out = []
    for adapter in adapters:
        for port in adapter.default_ports:
            try:
                out.append(verify(adapter.name, host, port, timeout=timeout))
            except TetherError:
                continue
    return out


def audit(
    hosts: Iterable[str] | None = None,
    *,
    apps: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    discovery: Discovery | None = None,
    ssh_config: str | None = None,
) -> list[Finding]:
    """The findings about every app found on this machine (or on ``hosts``), most severe first.

    ``hosts``: audit these hosts instead: a loopback name audits this machine (socket table
    and processes); an ``ssh://`` host has its socket table read over ssh (the apps bound beyond
    its loopback); another host has its adapters' default ports probed from here, and an app
    that answers there is reachable from another machine by definition.

    >>> for f in tether.audit.audit():                           # doctest: +SKIP
    ...     print(f.severity, f.app, f.port, f.finding)
    """
    adapters = tuple(registry.usable()) if apps is None else tuple(registry.get(a) for a in apps)
    targets = list(hosts or ["127.0.0.1"])
    findings: list[Finding] = []
    for host in targets:
        remote = not is_loopback(host)
        if is_ssh(host):  # that machine's own socket table, read over ssh: its binds are evidence
            findings.extend(_ssh_findings(host, adapters, timeout, ssh_config))
            continue
        if remote:
            endpoints = _remote_endpoints(host, adapters, timeout)
        else:
            disc = discovery if discovery is not None else list_listeners()
            endpoints = scan(
                [a.name for a in adapters], include_unknown=True, timeout=timeout, discovery=disc
            )
        if endpoints:  # adapters' checks may read files or send a read-only request: in parallel
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(endpoints))) as pool:
                checks = pool.map(
                    _endpoint_findings, endpoints, [adapters] * len(endpoints), [remote] * len(endpoints)
                )
                for found in checks:
                    findings.extend(found)
    return sort_findings(dedupe(findings))


def _ssh_findings(
    url: str, adapters: tuple[Adapter, ...], timeout: float, ssh_config: str | None = None
) -> list[Finding]:
    """The core's findings about the apps on the machine at ``url`` (``ssh://``), from its socket
    table: an app bound beyond that machine's loopback. The adapters' own hooks read this
    machine's processes and files, not that one's: they are not run there."""
    out = []
    for ep in scan([a.name for a in adapters], host=url, timeout=timeout, ssh_config=ssh_config):
        own = next((a for a in adapters if a.name == ep.app), None)
        if own is not None and ep.confidence in (Confidence.VERIFIED, Confidence.BUSY):
            found = _exposure(own, ep, remote=False)
            if found is not None:
                out.append(found)
    return out


def _endpoint_findings(ep: Endpoint, adapters: tuple[Adapter, ...], remote: bool) -> list[Finding]:
    out: list[Finding] = []
    own = next((a for a in adapters if a.name == ep.app), None)
    if own is not None and ep.confidence in (Confidence.VERIFIED, Confidence.BUSY):
        found = _exposure(own, ep, remote=remote)
        if found is not None:
            out.append(found)
    if not remote and ep.pid is None and ep.bind:
        out.append(_unattributed(ep))
    for adapter in adapters:
        if ep.app in (None, adapter.name):
            out.extend(_adapter_findings(adapter, ep))
    return out


def dedupe(findings: list[Finding]) -> list[Finding]:
    """The same finding reported twice (a listener seen on IPv4 and IPv6) once."""
    seen, out = set(), []
    for f in findings:
        key = (f.app, f.host, f.port, f.severity, f.finding)  # a socket two processes share: once
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by app and port."""
    return sorted(findings, key=lambda f: (-f.rank, f.app or "~", f.port or 0, f.finding))


def worst(findings: Iterable[Finding]) -> str | None:
    """The highest severity among ``findings`` (``None`` when there are none)."""
    ranks = [f.rank for f in findings]
    return SEVERITIES[max(ranks)] if ranks else None


__all__ = ["SEVERITIES", "Finding", "audit", "exposed_to", "severity_rank", "sort_findings", "worst"]
