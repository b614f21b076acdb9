"""Which instance a command means when several answer: the choice rules of a shared machine.

On a machine others use too, ``tether igv goto …`` may find several verified IGVs. A command
(every adapter command through ``Target``, ``tether.connect``, ``tether wait``) then takes, in
this order:

1. the one **this user launched with tether**: a launch record of :mod:`tether.launched` (this
   user's state dir) whose pid *and* start time match the listening process — a pid alone may
   name another program once ours has exited;
2. else the **only one owned by this user** (the uid of the listening process);
3. else none: :func:`pick` raises :class:`~tether.errors.AmbiguousTarget` (exit 2) listing each
   candidate by its own title (qserver's two doors are "Bluesky HTTP Server" and
   "Bluesky RE Manager (0MQ)"), its owner, and the exact ``--port`` and ``TETHER_<APP>_PORT``
   that name it.

Endpoints on another machine (``ssh://`` hosts) carry no launch record of ours and a uid of that
machine: the rules do not apply there, and several answers are listed for the user to pick.

>>> choose(tether.scan(["igv"]))             # doctest: +SKIP
Choice(endpoint=Endpoint(app='igv', port=60151, ...), rule='launched')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import launched
from .endpoint import Endpoint
from .errors import AmbiguousTarget

#: why a candidate was chosen: launched by this user with tether, or the only one this user owns
RULES = ("launched", "mine")


@dataclass(frozen=True)
class Choice:
    """The endpoint the rules picked and the rule that picked it (``launched`` or ``mine``)."""

    endpoint: Endpoint
    rule: str


def owner_uid(pid: int | None) -> int | None:
    """The uid of process ``pid`` (``None`` when unknown: gone, or not ours to see). On Linux the
    owner of ``/proc/<pid>``, without importing psutil."""
    if not pid:
        return None
    if sys.platform.startswith("linux"):
        try:
            return os.stat(f"/proc/{pid}").st_uid
        except OSError:
            return None
    try:
        import psutil

        return psutil.Process(pid).uids().real
    except Exception:  # gone, denied, or no uids on this OS (Windows)
        return None


def owner_name(uid: int | None) -> str | None:
    """The login name of ``uid`` (its number when the password database has none)."""
    if uid is None:
        return None
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _local(ep: Endpoint) -> bool:
    return not ep.host.startswith("ssh://") and "ssh" not in ep.extra


def launched_by_me(ep: Endpoint) -> bool:
    """Whether this user launched ``ep``'s process with tether: a launch record of ``ep.app``
    names its pid, and the process started when the record says (a reused pid is not ours)."""
    if not ep.pid or not ep.app or not _local(ep):
        return False
    return any(rec.pid == ep.pid and launched.alive(rec) for rec in launched.records(ep.app))


def mine(ep: Endpoint) -> bool:
    """Whether ``ep``'s listening process belongs to this user (an unknown owner does not)."""
    return _local(ep) and ep.pid is not None and owner_uid(ep.pid) == _my_uid()


def _my_uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None


def choose(endpoints: Sequence[Endpoint]) -> Choice | None:
    """The one of several verified ``endpoints`` the rules pick, or ``None`` when they pick none
    (an empty or single list is the caller's business: one needs no rule)."""
    ours = [e for e in endpoints if launched_by_me(e)]
    if len(ours) == 1:
        return Choice(ours[0], "launched")
    owned = [e for e in endpoints if mine(e)]
    if len(owned) == 1:
        return Choice(owned[0], "mine")
    return None


def describe(ep: Endpoint) -> str:
    """One candidate as the ambiguity message lists it: its own title, address, pid and owner."""
    who = [f"pid {ep.pid}"] if ep.pid else []
    if _local(ep):
        user = owner_name(owner_uid(ep.pid))
        if user is not None:
            who.append(f"user {user}")
        if launched_by_me(ep):
            who.append("launched by you with tether")
    return f"{ep.title or ep.app} at {ep.address}" + (f" ({', '.join(who)})" if who else "")


def how_to_name(ep: Endpoint) -> str:
    """The exact option, and environment variable, that name ``ep``: ``--port 60152`` (and
    ``--host`` for another machine) or ``TETHER_IGV_PORT=60152``."""
    port = ep.port
    host = ""
    if not _local(ep):
        host = f"--host {ep.extra.get('ssh') or ep.host} "
    elif ep.host not in ("127.0.0.1", "localhost", "::1"):
        host = f"--host {ep.host} "
    env = f"TETHER_{(ep.app or '').upper().replace('-', '_')}_PORT={port}"
    return f"{host}--port {port} (or {env})"


def pick(app: str, title: str, endpoints: Sequence[Endpoint], where: str = "") -> Endpoint:
    """The endpoint the rules pick among several verified ``endpoints`` of adapter ``app``
    (``title``), else :class:`~tether.errors.AmbiguousTarget` (exit 2): each candidate by its own
    title, with the exact ``--port`` and ``TETHER_<APP>_PORT`` that name it."""
    if len(endpoints) == 1:
        return endpoints[0]
    chosen = choose(endpoints)
    if chosen is not None:
        return chosen.endpoint
    listing = "; ".join(f"{describe(e)}: {how_to_name(e)}" for e in endpoints)
    local = [e for e in endpoints if _local(e)]
    why = (
        " and tether cannot tell which you mean (none launched by you with tether, and not exactly"
        " one of them is yours)"
        if local
        else ""
    )
    if any(e.title not in (None, title) for e in endpoints):
        title = app  # the adapter's doors differ (qserver's HTTP server and RE Manager): its name
    raise AmbiguousTarget(
        f"{len(endpoints)} instances of {title} answer{where}{why}: {listing}",
        candidates=list(endpoints),
        hint="name one with --port (or set the TETHER_<APP>_PORT shown)",
    )


__all__ = [
    "RULES",
    "Choice",
    "choose",
    "describe",
    "how_to_name",
    "launched_by_me",
    "mine",
    "owner_uid",
    "pick",
]
