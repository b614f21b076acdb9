"""Waiting for an app, and watching what the scan finds change: the loops scripts and CI jobs
otherwise write by hand with ``sleep``.

:func:`wait` returns the verified endpoint as soon as the app answers its probe (or raises
:class:`~tether.errors.Timeout` at the deadline); :class:`Watcher` turns successive scans into
events — an app ``appeared``, ``changed`` (went busy, verified again, another pid …) or is
``gone`` — and :func:`watch` yields them as they happen.

>>> ep = tether.watch.wait("firefox", timeout=30)          # doctest: +SKIP
>>> for event in tether.watch.watch(duration=60):          # doctest: +SKIP
...     print(event.kind, event.endpoint.app, event.endpoint.port)

Sits at the level of :mod:`tether.api` (it imports it); nothing below imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import api, config, registry
from .deadline import Deadline
from .endpoint import Endpoint
from .errors import NotFound, Timeout, Unreachable, UsageError, WrongApp

#: what "not ready yet" looks like while an app starts: nothing listens, the port is not
#: answering (or held by a starting client), or the app's port is not its protocol yet
NOT_READY = (NotFound, Unreachable, WrongApp)

#: seconds between two attempts of :func:`wait` (a loopback probe takes a few milliseconds)
WAIT_INTERVAL = 0.1


def wait(
    app: str,
    host: str | None = None,
    port: int | None = None,
    *,
    timeout: float = 30.0,
    interval: float = WAIT_INTERVAL,
    on_attempt: Callable[[int, Exception], None] | None = None,
    ssh_config: str | None = None,
) -> Endpoint:
    """Poll until ``app`` is verified (scan, or the probe of ``host``/``port``) and return its endpoint.

    Raises :class:`~tether.errors.Timeout` (exit 4) at the deadline, naming the last reason the
    app was not ready; bad input (an unknown app, a port out of range) and errors waiting cannot
    cure (authentication, several instances) are raised at once. ``on_attempt(n, error)`` is
    called after each failed attempt (progress for people). ``ssh_config``: the ssh_config
    file for an ``ssh://`` host (else ``$TETHER_SSH_CONFIG``).
    """
    try:
        adapter = registry.get(app)
    except NotFound as exc:
        raise UsageError(exc.message, hint="`tether doctor` lists the adapters") from exc
    if timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {timeout:g}")
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range (1-65535)")
    settings = config.resolve(app, adapter.settings, {"host": host, "port": port})
    host, port = settings.pop("host", None), settings.pop("port", None)
    deadline = Deadline(timeout)
    attempt, last = 0, None
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            return api.locate(
                app,
                host,
                port,
                settings=settings,
                probe_timeout=max(min(deadline.remaining(), 1.0), 0.05),
                ssh_config=ssh_config,
            )
        except NOT_READY as exc:
            last = exc
            if on_attempt is not None:
                on_attempt(attempt, exc)
        if deadline.expired:
            break
        time.sleep(max(0.0, min(interval - (time.monotonic() - started), deadline.remaining())))
        if deadline.expired:
            break
    where = f" on {host or '127.0.0.1'}:{port}" if port else ""
    raise Timeout(
        f"{adapter.title} was not ready{where} within {timeout:g} s "
        f"({attempt} attempt{'s' if attempt != 1 else ''}; last: {getattr(last, 'message', last)})",
        hint=f"start {adapter.title}, or wait longer with --timeout",
        host=host or api.DEFAULT_HOST,
        port=port,
    )


Key = tuple[str | None, str, int]


def _key(ep: Endpoint) -> Key:
    return (ep.app, ep.host, ep.port)


#: what makes an endpoint "changed" between two scans
_COMPARED = ("confidence", "version", "pid", "process", "title")


@dataclass
class Event:
    """One change the watcher saw: ``kind`` is ``appeared``, ``changed`` or ``gone``;
    ``before`` is the endpoint's previous state for ``changed``."""

    kind: str
    endpoint: Endpoint
    time: float = field(default_factory=time.time)
    before: Endpoint | None = None

    def to_dict(self) -> dict[str, Any]:
        """The NDJSON line of ``tether scan --watch --json``."""
        out: dict[str, Any] = {"event": self.kind, "endpoint": self.endpoint.to_dict(), "time": self.time}
        if self.before is not None:
            out["changes"] = {
                k: [str(getattr(self.before, k)), str(getattr(self.endpoint, k))]
                for k in _COMPARED
                if getattr(self.before, k) != getattr(self.endpoint, k)
            }
        return out


class Watcher:
    """Successive scans as events. ``poll()`` scans once and returns what changed since the last
    poll (the first poll reports every endpoint as ``appeared``); ``endpoints`` is the current state.

    ``scan`` is the scanning function; by default ``tether.api.scan(apps, **scan_options)``
    (``include_unknown``, ``probe``, ``deep``, ``timeout``).
    """

    def __init__(
        self,
        apps: Iterable[str] | None = None,
        *,
        scan: Callable[[], list[Endpoint]] | None = None,
        **scan_options: Any,
    ) -> None:
        apps = tuple(apps) if apps else None
        self._scan = scan or (lambda: api.scan(apps, **scan_options))
        self._seen: dict[Key, Endpoint] = {}

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._seen.values())

    def poll(self) -> list[Event]:
        now = {_key(ep): ep for ep in self._scan()}
        stamp = time.time()
        events = []
        for key, ep in now.items():
            old = self._seen.get(key)
            if old is None:
                events.append(Event("appeared", ep, stamp))
            elif any(getattr(old, k) != getattr(ep, k) for k in _COMPARED):
                events.append(Event("changed", ep, stamp, before=old))
        events += [Event("gone", ep, stamp) for key, ep in self._seen.items() if key not in now]
        self._seen = now
        return events


def watch(
    apps: Iterable[str] | None = None,
    *,
    interval: float = 1.0,
    duration: float | None = None,
    **options: Any,
) -> Iterator[Event]:
    """Scan every ``interval`` seconds (for ``duration`` seconds, or until the caller stops)
    and yield each change as an :class:`Event`; ``options`` go to :class:`Watcher`."""
    watcher = Watcher(apps, **options)
    for events in poll_every(watcher, interval=interval, duration=duration):
        yield from events


def poll_every(watcher: Watcher, *, interval: float, duration: float | None) -> Iterator[list[Event]]:
    """``watcher.poll()`` every ``interval`` seconds until ``duration`` ends; yields each poll's
    events (an empty list too, so a live display can refresh)."""
    if interval <= 0:
        raise UsageError(f"the interval must be positive, not {interval:g}")
    end = None if duration is None else time.monotonic() + duration
    while True:
        started = time.monotonic()
        yield watcher.poll()
        pause = interval - (time.monotonic() - started)
        if end is not None:
            if time.monotonic() >= end:
                return
            pause = min(pause, end - time.monotonic())
        if pause > 0:
            time.sleep(pause)
        if end is not None and time.monotonic() >= end:
            return


__all__ = ["Event", "Watcher", "poll_every", "wait", "watch"]
