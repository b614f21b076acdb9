"""Scans and connections on another machine, over OpenSSH (:mod:`tether.ssh`).

``scan``: the host's own ``tether scan --json`` when tether is installed there (set
``$TETHER_SSH_REMOTE_TETHER=0`` to skip it), else its listening sockets and processes read with
standard tools, hinted by the adapters here, and each hinted port probed here through an SSH
forward. Rows name their host (``host`` is the ``ssh://`` URL, ``port`` the remote port).

``through``/``verify``: the chosen remote port is forwarded to a local one and probed there —
no command goes to a port whose app was not verified — and the endpoint handed to the adapter's
client is that forward (``extra`` keeps the ``ssh`` URL and the remote address).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .adapter import Adapter, raise_for_verdict
from .endpoint import Confidence, Endpoint, Listener
from .errors import TetherError
from .hostfiles import looking_at, register
from .identify import Candidate, gather, identify, safe_probe
from .ssh import Ssh, SshFiles, SshHost


def _use_remote_tether() -> bool:
    return os.environ.get("TETHER_SSH_REMOTE_TETHER", "1").lower() not in ("0", "no", "false")


def _candidates(listeners: list[Listener], adapters: tuple[Adapter, ...]) -> list[Candidate]:
    """Each remote listener with the adapters' hints (port, process, command line, and the files
    they read — the host's, through :mod:`tether.hostfiles`), plus the ports those files name. An
    adapter's default ports only when the listing said nothing (denied): a listed host's unlisted
    port is closed, and each probe here costs a forward."""
    candidates = gather(listeners, adapters, defaults=not listeners)
    if listeners:  # a port a file names that the host does not list is closed: no forward for it
        listed = {li.port for li in listeners}
        candidates = [c for c in candidates if c.listener.port in listed]
    return candidates


def _as_remote(ep: Endpoint, target: SshHost, remote: Listener) -> Endpoint:
    return replace(
        ep,
        host=target.url,
        port=remote.port,
        bind=remote.bind,
        pid=remote.pid,
        process=remote.process,
        cmdline=remote.cmdline,
        extra={**ep.extra, "ssh": target.url, "remote_host": remote.host},
    )


def scan_host(
    url: str,
    adapters: tuple[Adapter, ...],
    *,
    probe: bool = True,
    include_unknown: bool = False,
    deep: bool = False,
    timeout: float = 1.0,
    ssh_config: str | None = None,
    connect_timeout: float = 5.0,
) -> list[Endpoint]:
    """Every app tether identifies on the machine at ``url`` (``ssh://[USER@]HOST[:PORT]``)."""
    ssh = Ssh(url, config=ssh_config, timeout=connect_timeout)
    target = ssh.target
    names = {a.name for a in adapters}
    if _use_remote_tether():
        args = ["--timeout", f"{timeout:g}"] + [w for a in sorted(names) for w in ("--app", a)]
        args += ["--all"] * include_unknown + ["--no-probe"] * (not probe) + ["--deep"] * deep
        rows = ssh.remote_tether(args, timeout=timeout * 4 + 5)
        if rows is not None:
            out = []
            for row in rows:
                if not isinstance(row, dict) or (row.get("app") not in names and row.get("app") is not None):
                    continue
                fields = {
                    k: row.get(k) for k in ("app", "title", "version", "bind", "pid", "process", "detail")
                }
                remote = Listener(host=str(row.get("host") or "127.0.0.1"), port=int(row["port"]))
                ep = Endpoint(
                    port=remote.port,
                    host=remote.host,
                    confidence=Confidence(row.get("confidence") or "unknown"),
                    cmdline=list(row.get("cmdline") or []),
                    extra={**(row.get("extra") or {}), "via": "tether on the host"},
                    **{k: v for k, v in fields.items() if v is not None},
                )
                out.append(
                    replace(
                        ep, host=target.url, extra={**ep.extra, "ssh": target.url, "remote_host": remote.host}
                    )
                )
            return out
    listeners, method = ssh.listeners(timeout=timeout)
    files = ssh.files()
    with looking_at(files):  # hints and version hints read the host's files, over ssh
        return _fallback(ssh, files, listeners, method, adapters, probe, include_unknown, timeout)


def _fallback(
    ssh: Ssh,
    files: SshFiles,
    listeners: list[Listener],
    method: str,
    adapters: tuple[Adapter, ...],
    probe: bool,
    include_unknown: bool,
    timeout: float,
) -> list[Endpoint]:
    """The apps among the host's ``listeners`` (read with standard tools), each hinted port
    probed here through a forward."""
    target = ssh.target
    candidates = _candidates(listeners, adapters)
    hinted = [c for c in candidates if c.hints]
    found: list[Endpoint] = []
    if probe and hinted:
        # each hinted port is probed here, through a forward of the one ControlMaster
        with ThreadPoolExecutor(max_workers=min(8, len(hinted))) as pool:
            locals_ = list(pool.map(lambda c: ssh.forward(c.listener.host, c.listener.port), hinted))
        shadows, by_port = [], {}
        for c, port in zip(hinted, locals_, strict=True):
            files.note_forward(port, c.listener.port, c.listener.pid, c.listener.cmdline)
            shadows.append(
                Candidate(replace(c.listener, host="127.0.0.1", port=port, source="listing"), c.hints)
            )
            by_port[port] = c.listener
        for ep in identify(shadows, adapters, timeout=timeout, probe=True, deep=False):
            remote = by_port[ep.port]
            if ep.app is None and remote.source != "listing":
                continue
            found.append(_as_remote(ep, target, remote))
    elif hinted:
        for ep in identify(hinted, adapters, timeout=timeout, probe=False):
            found.append(
                _as_remote(ep, target, next(c.listener for c in hinted if c.listener.port == ep.port))
            )
    if include_unknown:
        for c in candidates:
            if not c.hints and c.listener.source == "listing":
                found.append(
                    Endpoint(
                        app=None,
                        host=target.url,
                        port=c.listener.port,
                        bind=c.listener.bind,
                        pid=c.listener.pid,
                        process=c.listener.process,
                        cmdline=c.listener.cmdline,
                        detail=f"listed with {method} on the host",
                        extra={"ssh": target.url, "remote_host": c.listener.host},
                    )
                )
    return found


def scan(
    hosts: Iterable[str],
    adapters: tuple[Adapter, ...],
    **kw,
) -> tuple[list[Endpoint], list[tuple[str, TetherError]]]:
    """:func:`scan_host` on several hosts in parallel: the endpoints, and each host's error."""
    hosts = list(dict.fromkeys(hosts))
    results: list[Endpoint] = []
    errors: list[tuple[str, TetherError]] = []

    def one(url: str):
        try:
            return scan_host(url, adapters, **kw), None
        except TetherError as exc:
            return [], exc

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(hosts)))) as pool:
        for url, (eps, err) in zip(hosts, pool.map(one, hosts), strict=True):
            results.extend(eps)
            if err is not None:
                errors.append((url, err))
    return results, errors


def through(
    adapter: Adapter,
    url: str,
    remote_host: str,
    remote_port: int,
    *,
    timeout: float,
    ssh_config: str | None = None,
    connect_timeout: float = 5.0,
    found: Endpoint | None = None,
) -> Endpoint:
    """Forward ``remote_host:remote_port`` of the machine at ``url`` and verify ``adapter``'s app
    there through the forward; the endpoint returned is the forward, for the adapter's client."""
    ssh = Ssh(url, config=ssh_config, timeout=connect_timeout)
    local = ssh.forward(remote_host, remote_port)
    files = ssh.files()
    files.note_forward(local, remote_port, found.pid if found else None, found.cmdline if found else ())
    # the probe, and the client's later checks, look at the host's files and sockets, not ours
    register(ssh.target.url, files)
    with looking_at(files):
        res = safe_probe(adapter, "127.0.0.1", local, timeout)
    raise_for_verdict(
        res,
        title=adapter.title,
        where=f"{ssh.target} port {remote_port}",
        host=ssh.target.url,
        port=remote_port,
    )
    return Endpoint(
        app=adapter.name,
        title=adapter.title,
        version=res.version or (found.version if found else None),
        host="127.0.0.1",
        port=local,
        bind=found.bind if found else "",
        pid=found.pid if found else None,
        process=found.process if found else None,
        confidence=Confidence.VERIFIED,
        detail=f"{res.detail}; through ssh {ssh.target} (remote port {remote_port})".lstrip("; "),
        cmdline=found.cmdline if found else [],
        extra={
            **dict(res.extra),
            "ssh": ssh.target.url,
            "remote_host": remote_host,
            "remote_port": remote_port,
        },
    )


__all__ = ["scan", "scan_host", "through"]
