"""Listening TCP sockets and the processes that own them, via psutil.

Linux and Windows: one system-wide ``psutil.net_connections("tcp")`` (psutil's per-process
call re-parses the whole socket table for every pid on Linux). macOS: the system-wide call
needs root, so iterate over the current user's processes and ask each one
(psutil's own "which process listens on port N" recipe). Sockets owned by other users come
back without a pid; they are still listed, with a note saying why.
"""

from __future__ import annotations

import getpass
import sys
import time
from dataclasses import dataclass, field

from .endpoint import Listener, connect_host

#: Permission state of the last listing: ``full`` (every socket attributed),
#: ``partial`` (some sockets without an owner: other users' processes), ``denied`` (no listing).
FULL, PARTIAL, DENIED = "full", "partial", "denied"


@dataclass
class Discovery:
    listeners: list[Listener]
    permission: str = FULL
    method: str = ""
    notes: list[str] = field(default_factory=list)


def _psutil():
    import psutil

    return psutil


def _process_info(psutil, pid: int, cache: dict) -> tuple[str | None, list[str], str | None]:
    if pid in cache:
        return cache[pid]
    name, cmdline, user = None, [], None
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            try:
                name = proc.name()
            except psutil.Error:
                pass
            try:
                cmdline = proc.cmdline()
            except psutil.Error:
                pass
            try:
                user = proc.username()
            except (psutil.Error, KeyError):
                pass
    except psutil.Error:
        pass
    cache[pid] = (name, cmdline, user)
    return cache[pid]


def _listener(psutil, conn, pid: int | None, cache: dict) -> Listener | None:
    if conn.status != psutil.CONN_LISTEN or not conn.laddr:
        return None
    bind, port = conn.laddr[0], conn.laddr[1]
    import socket as _s

    family = "ipv6" if conn.family == _s.AF_INET6 else "ipv4"
    name, cmdline, user = _process_info(psutil, pid, cache) if pid else (None, [], None)
    note = None if pid else "owner unknown (another user's process, or no permission)"
    return Listener(
        host=connect_host(bind),
        port=port,
        bind=bind,
        family=family,
        pid=pid,
        process=name,
        cmdline=list(cmdline),
        username=user,
        note=note,
    )


def dedupe(listeners: list[Listener]) -> list[Listener]:
    """One row per (pid, port): a dual-stack app shows up on IPv4 and IPv6, a wildcard bind wins.

    Without a pid, rows are kept per (bind, port): two unknown owners on the same port
    (SO_REUSEPORT) are rare, and a row per address says more than a merged one.
    """
    order = {"0.0.0.0": 0, "::": 1}
    best: dict[tuple, Listener] = {}
    for item in listeners:
        key = (item.pid, item.port) if item.pid is not None else (None, item.port, item.bind)
        have = best.get(key)
        if have is None:
            best[key] = item
            continue
        # Prefer the wildcard bind, then IPv4 (the address clients will use).
        rank = (order.get(item.bind, 2), item.family != "ipv4")
        have_rank = (order.get(have.bind, 2), have.family != "ipv4")
        if rank < have_rank:
            best[key] = item
    # A pid-less duplicate of an attributed (port) is the same socket seen twice: drop it.
    attributed = {(li.port, li.bind) for li in best.values() if li.pid is not None}
    return sorted(
        (li for li in best.values() if li.pid is not None or (li.port, li.bind) not in attributed),
        key=lambda li: (li.port, li.pid or 0),
    )


_snapshot: tuple[float, list] | None = None


def tcp_connections(max_age: float = 0.5) -> list:
    """``psutil.net_connections("tcp")`` (every state), reused for ``max_age`` seconds.

    The system-wide table costs ~10-20 ms of CPU; a scan lists it once, and probes that need
    it again within the same scan (who else is connected to this app?) reuse that snapshot.
    Raises what psutil raises (``AccessDenied`` where the system-wide call needs root).
    """
    global _snapshot
    now = time.monotonic()
    if _snapshot is not None and now - _snapshot[0] <= max_age:
        return _snapshot[1]
    conns = _psutil().net_connections(kind="tcp")
    _snapshot = (time.monotonic(), conns)
    return conns


def _proc_address(text: str, family: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (hex, in 32-bit host-order words) as text."""
    import socket as _s

    raw = bytes.fromhex(text)
    if family == "ipv4":
        return _s.inet_ntop(_s.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return _s.inet_ntop(_s.AF_INET6, words)


def _listening_sockets(port: int) -> list[tuple[int, str, str]] | None:
    """``(inode, bind, family)`` of every socket listening on TCP ``port`` (Linux: from
    ``/proc/net/tcp`` and ``tcp6``, no process walked); ``None`` where there is no such table."""
    found = []
    needle = f":{port:04X} "
    seen_table = False
    for family, table in (("ipv4", "/proc/net/tcp"), ("ipv6", "/proc/net/tcp6")):
        try:
            with open(table, encoding="ascii") as f:
                text = f.read()
        except OSError:
            continue
        seen_table = True
        if needle not in text:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if len(fields) < 10 or fields[3] != "0A" or not fields[1].endswith(needle[:-1]):
                continue
            inode = int(fields[9])
            if inode:
                found.append((inode, _proc_address(fields[1].split(":")[0], family), family))
    return found if seen_table else None


def _pid_holding(inodes: set[int]) -> int | None:
    """The process holding one of the socket ``inodes`` (Linux: ``/proc/<pid>/fd``), newest
    process first, stopping at the first found — then up its parents while they hold it too,
    so that a server that forks workers sharing its socket is named by its first process."""
    import os

    targets = {f"socket:[{i}]" for i in inodes}

    def holds(pid: int) -> bool:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or another user's (no permission)
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                    return True
            except OSError:
                continue
        return False

    try:
        pids = sorted((int(n) for n in os.listdir("/proc") if n.isdigit()), reverse=True)
    except OSError:
        return None
    me = os.getpid()
    found = next((pid for pid in pids if pid != me and holds(pid)), None)
    if found is None and holds(me):
        found = me
    while found is not None:
        try:
            with open(f"/proc/{found}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if ppid <= 1 or not holds(ppid):
            break
        found = ppid
    return found


def port_owner(port: int) -> Listener | None:
    """The local listener on TCP ``port`` and its owning process, without listing every socket of
    the machine (what a command given ``--port`` needs to name the app's pid): on Linux, the
    port's listening sockets from ``/proc/net/tcp{,6}``, then only the process holding one of
    them. ``None`` when nothing listens there; a listener with no pid when its owner cannot
    be seen. Elsewhere, the full listing."""
    sockets = _listening_sockets(port) if sys.platform.startswith("linux") else None
    if sockets is None:
        return next((li for li in list_listeners().listeners if li.port == port), None)
    if not sockets:
        return None
    pid = _pid_holding({inode for inode, _, _ in sockets})
    order = {"0.0.0.0": 0, "::": 1}
    _, bind, family = min(sockets, key=lambda s: (order.get(s[1], 2), s[2] != "ipv4"))
    if pid is None:
        return Listener(
            host=connect_host(bind),
            port=port,
            bind=bind,
            family=family,
            note="owner unknown (another user's process, or no permission)",
        )
    psutil = _psutil()
    name, cmdline, user = _process_info(psutil, pid, {})
    return Listener(
        host=connect_host(bind),
        port=port,
        bind=bind,
        family=family,
        pid=pid,
        process=name,
        cmdline=list(cmdline),
        username=user,
    )


def listener_pid(port: int) -> int | None:
    """The pid of the process listening on ``port`` on this machine, when it can be seen (from
    the scan's socket snapshot when one was just taken, else from :func:`port_owner`); ``None``
    when it cannot (permissions)."""
    if _snapshot is None or time.monotonic() - _snapshot[0] > 0.5:
        try:
            owner = port_owner(port)
        except Exception:
            return None
        return owner.pid if owner is not None else None
    psutil = _psutil()
    try:
        conns = tcp_connections()
    except (psutil.Error, OSError):
        return None
    return next(
        (c.pid for c in conns if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == port), None
    )


def _system_wide(psutil) -> Discovery:
    global _snapshot
    conns = psutil.net_connections(kind="tcp")
    _snapshot = (time.monotonic(), conns)
    cache: dict = {}
    found = [li for c in conns if (li := _listener(psutil, c, c.pid, cache))]
    unowned = sum(1 for li in found if li.pid is None)
    notes = []
    if unowned:
        notes.append(f"{unowned} listening socket(s) belong to processes we may not inspect (pid unknown)")
    return Discovery(dedupe(found), PARTIAL if unowned else FULL, "psutil.net_connections", notes)


def _per_process(psutil) -> Discovery:
    """macOS: ask the current user's processes one by one (the system-wide call needs root)."""
    try:
        me = getpass.getuser()
    except Exception:  # no passwd entry
        me = None
    found: list[Listener] = []
    skipped = 0
    cache: dict = {}
    for proc in psutil.process_iter(["pid", "name", "username"]):
        try:
            if me and proc.info.get("username") not in (me, None):
                skipped += 1
                continue
            conns = proc.net_connections(kind="tcp")
        except psutil.Error:  # AccessDenied races (#1901), zombies, OSError 102 (#1512)
            skipped += 1
            continue
        except OSError:
            skipped += 1
            continue
        for conn in conns:
            if (li := _listener(psutil, conn, proc.info["pid"], cache)) is not None:
                found.append(li)
    notes = []
    if skipped:
        notes.append(f"{skipped} process(es) of other users or without permission were not inspected")
    return Discovery(dedupe(found), PARTIAL if skipped else FULL, "per-process (current user)", notes)


def list_listeners(platform: str | None = None) -> Discovery:
    """Every listening TCP socket we can see, IPv4 and IPv6, deduplicated, with owning processes."""
    platform = platform or sys.platform
    try:
        psutil = _psutil()
    except ImportError:  # pragma: no cover - psutil is a dependency
        return Discovery([], DENIED, "none", ["psutil is not installed: only default ports are tried"])
    try:
        if platform == "darwin":
            return _per_process(psutil)
        return _system_wide(psutil)
    except psutil.AccessDenied:
        # e.g. macOS system-wide without root, or a hardened /proc (psutil #1155)
        if platform != "darwin":
            try:
                disc = _per_process(psutil)
                disc.notes.insert(0, "the system-wide socket table was denied; listed per process")
                return disc
            except psutil.Error:
                pass
        return Discovery(
            [], DENIED, "none", ["listing sockets was denied: only default and hinted ports are tried"]
        )
    except (OSError, psutil.Error) as exc:
        return Discovery(
            [], DENIED, "none", [f"listing sockets failed ({exc}): only default and hinted ports are tried"]
        )
