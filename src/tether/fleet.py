"""Many machines at once: ``scan``, ``audit``, ``status`` and ``wait`` over a list of hosts.

Labs and beamlines run their apps on many machines. ``--host`` repeated (or ``--hosts FILE``: one
host a line, ``#`` comments) names them; each is reached in its own thread, at most ``parallel``
at a time, with its own deadline (an ``ssh://`` host: its own ControlMaster, its connect timeout
and the scan's), so one silent machine costs its own deadline, not the others'. The result is one
:class:`HostResult` per host, in the order given: what it answered, or its error. A host that
failed is reported beside the others, never instead of them; :func:`exit_code` makes the
command's exit status the first failed host's (an unreachable host: 4).

A host is ``ssh://[USER@]HOST[:PORT]`` (scanned over OpenSSH, :mod:`tether.remote`), or this
machine by a loopback name (``localhost``, ``127.0.0.1``); ``status`` and ``wait`` also take a
plain name, whose default ports they probe from here (``audit`` likewise).

>>> for r in tether.fleet.scan(["ssh://lab1", "ssh://lab2"]):        # doctest: +SKIP
...     print(r.host, r.error or [e.port for e in r.value])

Sits above :mod:`tether.audit` and :mod:`tether.watch` (it calls them per host); only the CLI imports it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .endpoint import Confidence, Endpoint
from .errors import TetherError, UsageError

# tether.api (the registry, discovery, identify) loads when a fleet is reached, not when the CLI
# imports this module for its defaults: `tether --help` stays light

#: hosts reached at once unless ``--parallel`` says otherwise (each ssh host is one ssh process)
DEFAULT_PARALLEL = 16
#: the most ``--parallel`` may ask for: one thread and one ssh client per host at most
MAX_PARALLEL = 256
#: the most hosts a ``--hosts`` file may name (a file of the wrong kind is refused, not read on)
MAX_HOSTS = 4096
#: a line of a ``--hosts`` file: ``ssh://[USER@]HOST[:PORT]`` or a host name or address
_HOST = re.compile(r"^(ssh://)?([A-Za-z0-9._-]+@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?/?$")


@dataclass
class HostResult:
    """What one host answered (``value``: a list of endpoints or findings, or an endpoint), or
    the error that stopped it there (``error``)."""

    host: str
    value: Any = None
    error: TetherError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def error_row(self) -> dict[str, Any]:
        """The row a failed host adds to a JSON listing: ``host``, ``error`` (the message, the
        exit code, the kind), every other key of an endpoint ``null``."""
        assert self.error is not None
        return {
            "host": self.host,
            "app": None,
            "title": None,
            "version": None,
            "port": None,
            "pid": None,
            "confidence": None,
            "error": {
                "type": type(self.error).__name__,
                "message": self.error.message,
                "exit_code": self.error.exit_code,
                **({"hint": self.error.hint} if self.error.hint else {}),
            },
        }


def read_hosts(path: str | os.PathLike[str]) -> list[str]:
    """The hosts a ``--hosts`` file names: one a line, blank lines and ``#`` comments skipped
    (a comment may follow a host). :class:`UsageError` when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(1 << 20)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the hosts file {os.fspath(path)}: {exc}") from exc
    hosts = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _HOST.match(line):  # the line itself is not echoed: the file may be anything
            raise UsageError(
                f"{os.fspath(path)} line {number} is not a host",
                hint="write each host as ssh://[USER@]HOST[:PORT] (or a host name) on its own line",
            )
        hosts.append(line)
        if len(hosts) > MAX_HOSTS:
            raise UsageError(f"{os.fspath(path)} names more than {MAX_HOSTS} hosts")
    if not hosts:
        raise UsageError(f"the hosts file {os.fspath(path)} names no host")
    return hosts


def hosts_from(given: Iterable[str] | None, hosts_file: str | None) -> list[str]:
    """The hosts of ``--host`` (repeated) and ``--hosts FILE``, in order, each once."""
    hosts = list(given or ())
    if hosts_file:
        hosts += read_hosts(hosts_file)
    for h in hosts:
        if not h.strip():
            raise UsageError("an empty --host")
    return list(dict.fromkeys(h.strip() for h in hosts))


def check_parallel(parallel: int) -> int:
    if not 1 <= parallel <= MAX_PARALLEL:
        raise UsageError(f"--parallel must be 1-{MAX_PARALLEL}, not {parallel}")
    return parallel


def each(
    hosts: Sequence[str], fn: Callable[[str], Any], *, parallel: int = DEFAULT_PARALLEL
) -> list[HostResult]:
    """``fn(host)`` for every host, ``parallel`` at a time; one :class:`HostResult` per host, in
    order. A :class:`TetherError` is that host's result; anything else is a bug and propagates."""
    check_parallel(parallel)

    def one(host: str) -> HostResult:
        try:
            return HostResult(host, fn(host))
        except TetherError as exc:
            return HostResult(host, error=exc)

    if len(hosts) <= 1:
        return [one(h) for h in hosts]
    from concurrent.futures import ThreadPoolExecutor  # (imports logging: only for a fleet)

    with ThreadPoolExecutor(max_workers=min(parallel, len(hosts)), thread_name_prefix="tether-host") as pool:
        return list(pool.map(one, hosts))


def _check_scannable(hosts: Sequence[str]) -> None:
    """Refuse, before anything is sent, a host whose ports cannot be listed from here."""
    from .adapter import is_loopback
    from .api import is_ssh

    for h in hosts:
        if is_ssh(h):
            from .ssh import SshHost

            SshHost.parse(h)
        elif not is_loopback(h):
            raise UsageError(
                f"cannot list the ports of {h}: name it as ssh://[USER@]{h} to scan it over ssh",
                hint="tether reaches other machines through OpenSSH only",
            )


def scan(
    hosts: Sequence[str],
    apps: Iterable[str] | None = None,
    *,
    parallel: int = DEFAULT_PARALLEL,
    ssh_config: str | None = None,
    timeout: float = 1.0,
    **options: Any,
) -> list[HostResult]:
    """:func:`tether.scan` of each host (``value``: its endpoints, each with ``host`` set to the
    host as named). ``options``: ``probe``, ``include_unknown``, ``deep``."""
    from . import api

    hosts = list(dict.fromkeys(hosts))
    _check_scannable(hosts)
    apps = list(apps) if apps else None
    adapters = api._adapters(apps)  # an unknown app is refused before any host is reached

    def one(host: str) -> list[Endpoint]:
        if api.is_ssh(host):
            from . import remote

            found = remote.scan_host(host, adapters, timeout=timeout, ssh_config=ssh_config, **options)
            rank = lambda e: (Confidence(e.confidence).rank, e.app or "~", e.port)  # noqa: E731
            return sorted(found, key=rank)
        return api.scan(apps, timeout=timeout, **options)

    return each(hosts, one, parallel=parallel)


def status(
    app: str,
    hosts: Sequence[str],
    port: int | None = None,
    *,
    parallel: int = DEFAULT_PARALLEL,
    settings: dict[str, Any] | None = None,
    probe_timeout: float = 2.0,
    ssh_config: str | None = None,
) -> list[HostResult]:
    """The instance of ``app`` each host runs (``value``: its verified endpoint, ``host`` and
    ``port`` as on that host — not an ssh forward's)."""
    from . import api

    hosts = list(dict.fromkeys(hosts))
    api._adapters([app])

    def one(host: str) -> Endpoint:
        ep = api.locate(
            app, host, port, settings=settings, probe_timeout=probe_timeout, ssh_config=ssh_config
        )
        return on_host(ep, host)

    return each(hosts, one, parallel=parallel)


def wait(
    app: str,
    hosts: Sequence[str],
    port: int | None = None,
    *,
    timeout: float = 30.0,
    parallel: int = DEFAULT_PARALLEL,
    ssh_config: str | None = None,
) -> list[HostResult]:
    """:func:`tether.watch.wait` on each host, each with its own ``timeout`` (``value``: the
    endpoint once the app answers there)."""
    from . import api, watch

    hosts = list(dict.fromkeys(hosts))

    def one(host: str) -> Endpoint:
        return on_host(watch.wait(app, host, port, timeout=timeout, ssh_config=ssh_config), host)

    if timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {timeout:g}")
    api._adapters([app])
    return each(hosts, one, parallel=parallel)


def audit(
    hosts: Sequence[str],
    *,
    apps: Iterable[str] | None = None,
    timeout: float = 1.0,
    parallel: int = DEFAULT_PARALLEL,
    ssh_config: str | None = None,
) -> list[HostResult]:
    """:func:`tether.audit.audit` of each host (``value``: its findings)."""
    from . import api
    from .audit import audit as audit_one

    hosts = list(dict.fromkeys(hosts))
    apps = list(apps) if apps else None
    api._adapters(apps)
    return each(
        hosts, lambda h: audit_one([h], apps=apps, timeout=timeout, ssh_config=ssh_config), parallel=parallel
    )


def on_host(ep: Endpoint, host: str) -> Endpoint:
    """``ep`` as seen on ``host``: an endpoint reached through an ssh forward names the host and
    its own port there (the forward is this process's, gone when it ends)."""
    from dataclasses import replace

    from .api import is_ssh

    if is_ssh(host) and ep.extra.get("remote_port"):
        return replace(ep, host=host, port=int(ep.extra["remote_port"]))
    return ep


def endpoints(results: Sequence[HostResult]) -> list[Endpoint]:
    """Every endpoint the hosts that answered gave, in host order."""
    out: list[Endpoint] = []
    for r in results:
        if r.error is None:
            out.extend(r.value if isinstance(r.value, list) else [r.value])
    return out


def errors(results: Sequence[HostResult]) -> list[tuple[str, TetherError]]:
    return [(r.host, r.error) for r in results if r.error is not None]


def exit_code(results: Sequence[HostResult]) -> int:
    """0 when every host answered, else the first failed host's code (an unreachable one: 4)."""
    return next((r.error.exit_code for r in results if r.error is not None), 0)


__all__ = [
    "DEFAULT_PARALLEL",
    "HostResult",
    "audit",
    "check_parallel",
    "each",
    "endpoints",
    "errors",
    "exit_code",
    "hosts_from",
    "on_host",
    "read_hosts",
    "scan",
    "status",
    "wait",
]
