"""Listening TCP sockets and the processes that own them, via psutil.

Linux and Windows: one system-wide ``psutil.net_connections("tcp")`` (psutil's per-process
call re-parses the whole socket table for every pid on Linux). macOS: the system-wide call
needs root, so iterate over the current user's processes and ask each one
(psutil's own "which process listens on port N" recipe). Sockets owned by other users come
back without a pid; they are still listed, with a note saying why.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
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
    return _listener_of(bind, port, family, pid, _process_info(psutil, pid, cache) if pid else None)


UNKNOWN_OWNER = "owner unknown (another user's process, or no permission)"


def _listener_of(
    bind: str, port: int, family: str, pid: int | None, info: tuple[str | None, list[str], str | None] | None
) -> Listener:
    """A :class:`Listener` for a socket bound to ``bind``:``port``, owned by ``pid`` (whose name,
    command line and user are ``info``), or of an owner nobody can see."""
    name, cmdline, user = info if pid and info else (None, [], None)
    return Listener(
        host=connect_host(bind),
        port=port,
        bind=bind,
        family=family,
        pid=pid or None,
        process=name,
        cmdline=list(cmdline),
        username=user,
        note=None if pid else UNKNOWN_OWNER,
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


#: TCP states as /proc/net/tcp writes them
TCP_ESTABLISHED, TCP_LISTEN = "01", "0A"


def proc_net_tcp(text: str, state: str) -> Iterator[tuple[str, int, int]]:
    """``(local address in hex, local port, inode)`` of the rows of a ``/proc/net/tcp`` or
    ``tcp6`` table in ``state`` (:data:`TCP_LISTEN`, :data:`TCP_ESTABLISHED`); only those rows
    are decoded. The text may be another machine's (read over SSH): a malformed row is skipped."""
    for line in text.splitlines()[1:]:
        fields = line.split()
        # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if len(fields) < 10 or fields[3] != state:
            continue
        address, _, hexport = fields[1].partition(":")
        try:
            yield address, int(hexport, 16), int(fields[9])
        except ValueError:
            continue


def _sock_diag_listening() -> list[tuple[int, str, int, str]] | None:
    """``(inode, bind, port, family)`` of every listening TCP socket, from the kernel's
    ``sock_diag`` netlink interface (what ``ss`` uses): the kernel filters the listening
    sockets, where ``/proc/net/tcp`` makes it write out every connection of the machine
    (tens of milliseconds on a busy one). ``None`` when netlink is not available."""
    import socket as _s
    import struct

    netlink = getattr(_s, "AF_NETLINK", None)
    if netlink is None:
        return None
    found: list[tuple[int, str, int, str]] = []
    try:
        sock = _s.socket(netlink, _s.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    except OSError:
        return None
    with sock:
        sock.settimeout(1.0)
        for seq, (family, name) in enumerate(((_s.AF_INET, "ipv4"), (_s.AF_INET6, "ipv6")), 1):
            # inet_diag_req_v2: family, protocol (TCP), ext, pad, states (1 << TCP_LISTEN), an empty id
            body = struct.pack("=BBBBI", family, 6, 0, 0, 1 << 10) + bytes(48)
            # nlmsghdr: length, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, pid
            sock.send(struct.pack("=LHHLL", 16 + len(body), 20, 0x301, seq, 0) + body)
            done = False
            while not done:
                data = sock.recv(65536)
                if not data:
                    return None
                offset = 0
                while offset + 16 <= len(data):
                    length, kind, _, _, _ = struct.unpack_from("=LHHLL", data, offset)
                    if length < 16:
                        return None
                    if kind == 3:  # NLMSG_DONE
                        done = True
                        break
                    if kind == 2:  # NLMSG_ERROR
                        return None
                    if kind == 20 and length >= 16 + 72:
                        base = offset + 16
                        fam, state = data[base], data[base + 1]
                        (port,) = struct.unpack_from("!H", data, base + 4)
                        src = data[base + 8 : base + 24]
                        (inode,) = struct.unpack_from("=I", data, base + 68)
                        if state == 10 and inode:
                            raw = src[:4] if fam == _s.AF_INET else src
                            found.append((inode, _s.inet_ntop(fam, raw), port, name))
                    offset += (length + 3) & ~3
    return found


def _listen_table(port: int | None = None) -> list[tuple[int, str, int, str]] | None:
    """``(inode, bind, port, family)`` of the sockets listening on TCP ``port`` (every port when
    ``None``): from ``sock_diag`` netlink, else ``/proc/net/tcp`` and ``tcp6`` (only the
    listening rows decoded) — no process walked; ``None`` where there is neither."""
    try:
        listening = _sock_diag_listening()
    except (OSError, ValueError, IndexError):
        listening = None
    if listening is not None:
        return [row for row in listening if port is None or row[2] == port]
    found = []
    needle = f":{port:04X} " if port is not None else None
    seen_table = False
    for family, table in (("ipv4", "/proc/net/tcp"), ("ipv6", "/proc/net/tcp6")):
        try:
            with open(table, encoding="ascii") as f:
                text = f.read()
        except OSError:
            continue
        seen_table = True
        if needle is not None and needle not in text:
            continue
        for address, number, inode in proc_net_tcp(text, TCP_LISTEN):
            if port is not None and number != port:
                continue
            if inode:
                found.append((inode, _proc_address(address, family), number, family))
    return found if seen_table else None


def _listening_sockets(port: int) -> list[tuple[int, str, str]] | None:
    """``(inode, bind, family)`` of every socket listening on TCP ``port`` (Linux)."""
    table = _listen_table(port)
    return None if table is None else [(inode, bind, family) for inode, bind, _, family in table]


def _socket_holders(inodes: set[int]) -> dict[int, list[int]]:
    """Socket inode -> the pids holding it (every process walked, as psutil does: a server
    that forks workers sharing its socket is listed once per process)."""
    targets = {f"socket:[{i}]": i for i in inodes}
    holders: dict[int, list[int]] = {}
    try:
        pids = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
    except OSError:
        return holders
    readlink, flags = os.readlink, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    for pid in pids:
        try:  # each link read relative to the open fd directory: /proc/<pid> is not looked up again
            fd_dir = os.open(f"/proc/{pid}/fd", flags)
        except OSError:  # gone, or another user's (no permission)
            continue
        try:
            fds = os.listdir(fd_dir)
            for fd in fds:
                try:
                    inode = targets.get(readlink(fd, dir_fd=fd_dir))
                except OSError:
                    continue
                if inode is not None and pid not in holders.setdefault(inode, []):
                    holders[inode].append(pid)
        except OSError:
            continue
        finally:
            os.close(fd_dir)
    return holders


_listening: tuple[float, dict[int, Listener]] | None = None  # the last listing: port -> its owner


def _linux_listing() -> Discovery | None:
    """:func:`_system_wide` from ``/proc`` itself: the listening rows of the socket tables, the
    pids holding those sockets, and each owner's name, command line and user — what
    ``psutil.net_connections`` and ``psutil.Process`` give, without decoding every connection
    of the machine nor importing psutil. ``None`` where ``/proc`` has no socket tables."""
    global _listening
    table = _listen_table()
    if table is None:
        return None
    holders = _socket_holders({inode for inode, _, _, _ in table})
    info: dict[int, tuple[str | None, list[str], str | None]] = {}
    found = []
    for inode, bind, port, family in table:
        for pid in holders.get(inode) or [None]:
            if pid is not None and pid not in info:
                info[pid] = _linux_process_info(pid)
            found.append(_listener_of(bind, port, family, pid, info.get(pid) if pid is not None else None))
    listeners = dedupe(found)
    # the first owner of each port, as port_owner would name it (listeners are sorted by port, pid)
    _listening = (time.monotonic(), {li.port: li for li in reversed(listeners) if li.pid is not None})
    unowned = sum(1 for li in found if li.pid is None)
    notes = []
    if unowned:
        notes.append(f"{unowned} listening socket(s) belong to processes we may not inspect (pid unknown)")
    return Discovery(listeners, PARTIAL if unowned else FULL, "/proc/net/tcp", notes)


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _pid_holding(inodes: set[int], prefer: Callable[[list[str]], bool] | None = None) -> int | None:
    """The process holding one of the socket ``inodes`` (Linux: ``/proc/<pid>/fd``), newest
    process first, stopping at the first found — then up its parents while they run the same
    program and hold it too, so that a server that forks workers sharing its socket is named
    by its first process.
    ``prefer``: processes whose command line it accepts are looked at first (their sockets
    alone, not every descriptor of every process: the likely owner is found in a few reads)."""
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
    found = None
    if prefer is not None:  # newest first, the likely ones only, until one holds it
        tried = set()
        for pid in pids:
            cmdline = _linux_cmdline(pid)
            if cmdline and prefer(cmdline):
                tried.add(pid)
                if holds(pid):
                    found = pid
                    break
        pids = [pid for pid in pids if pid not in tried] if found is None else []
    if found is None:
        found = next((pid for pid in pids if pid != me and holds(pid)), None)
    if found is None and holds(me):
        found = me
    while found is not None:
        try:
            with open(f"/proc/{found}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if ppid <= 1 or _exe(ppid) != _exe(found) or not holds(ppid):
            break  # a parent running another program (a shell, a test harness) is not a fork of it
        found = ppid
    return found


def _read_proc(path: str) -> bytes:
    """The whole of a small ``/proc`` file, with plain ``os`` calls: a scan reads hundreds of
    them, and ``open()``'s text layers cost three times the read itself. Raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 65536)
        if len(data) == 65536:  # a long command line or environment: read to the end
            chunks = [data]
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data
    finally:
        os.close(fd)


def _linux_process_info(pid: int, *, user: bool = True) -> tuple[str | None, list[str], str | None]:
    """What :func:`_process_info` gives — psutil's ``name()``, ``cmdline()`` and ``username()``,
    by psutil's own rules — read from ``/proc/<pid>`` without importing psutil (~10 ms)."""
    name, cmdline, username = None, [], None
    try:
        stat = _read_proc(f"/proc/{pid}/stat").decode("utf-8", "surrogateescape")
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
    except (OSError, ValueError):
        return None, [], None
    cmdline = _linux_cmdline(pid) or []
    if len(name) >= 15 and cmdline:  # the kernel truncates names to 15 characters
        extended = os.path.basename(cmdline[0])
        if extended.startswith(name):
            name = extended
    if not user:
        return name, cmdline, None
    try:
        status = _read_proc(f"/proc/{pid}/status").decode("utf-8", "replace")
        uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
        import pwd

        try:
            username = pwd.getpwuid(uid).pw_name
        except KeyError:
            username = str(uid)
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return name, cmdline, username


_owners: dict[int, tuple[float, Listener | None]] = {}


def processes(
    wanted: Callable[[list[str]], bool] | None = None,
) -> list[tuple[int, str | None, list[str]]]:
    """``(pid, name, cmdline)`` of every process we may read (only those whose command line
    ``wanted`` accepts, when given), as psutil names them; on Linux read from ``/proc``
    directly — the command line first, the name only for the processes kept (psutil's
    ``process_iter`` costs several times more, and a scan's hints ask for it)."""
    if not sys.platform.startswith("linux"):
        psutil = _psutil()
        out = []
        for proc in psutil.process_iter(["pid", "name", "cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if wanted is None or wanted(cmdline):
                out.append((proc.info["pid"], proc.info.get("name"), cmdline))
        return out
    try:
        pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []
    out = []
    for pid in sorted(pids):
        if wanted is not None:
            cmdline = _linux_cmdline(pid)
            if cmdline is None or not wanted(cmdline):
                continue
        name, cmdline, _ = _linux_process_info(pid, user=False)
        if name is not None:
            out.append((pid, name, cmdline))
    return out


def _linux_cmdline(pid: int) -> list[str] | None:
    """``/proc/<pid>/cmdline`` split as psutil splits it; ``None`` when it cannot be read."""
    try:
        data = _read_proc(f"/proc/{pid}/cmdline").decode("utf-8", "surrogateescape")
    except OSError:
        return None
    if not data:
        return []
    sep = "\x00" if data.endswith("\x00") else " "
    if data.endswith(sep):
        data = data[:-1]
    cmdline = data.split(sep)
    if sep == "\x00" and len(cmdline) == 1 and " " in data:  # a process that rewrote its title
        cmdline = data.split(" ")
    return cmdline


def process_info(pid: int) -> tuple[str | None, list[str], str | None]:
    """``(name, cmdline, username)`` of process ``pid`` as psutil names them (``None``/``[]``
    where it cannot be read); on Linux read from ``/proc`` without importing psutil."""
    if sys.platform.startswith("linux"):
        return _linux_process_info(pid)
    return _process_info(_psutil(), pid, {})


def process_environ(pid: int) -> dict[str, str]:
    """The environment process ``pid`` started with (``{}`` when it cannot be read: gone, or
    another user's); on Linux read from ``/proc/<pid>/environ`` without importing psutil."""
    have = _environs.get(pid)
    if have is not None and time.monotonic() - have[0] <= 0.5:
        return dict(have[1])  # a scan asks once per socket of the process (a manager has several)
    env: dict[str, str] = {}
    if not sys.platform.startswith("linux"):
        try:
            env = dict(_psutil().Process(pid).environ())
        except Exception:
            pass
    else:
        try:
            data = _read_proc(f"/proc/{pid}/environ")
        except OSError:
            data = b""
        for entry in data.decode("utf-8", "surrogateescape").split("\x00"):
            key, sep, value = entry.partition("=")
            if sep and key:
                env[key] = value
    _environs[pid] = (time.monotonic(), env)
    return dict(env)


_environs: dict[int, tuple[float, dict[str, str]]] = {}


def port_owner(
    port: int, max_age: float = 0.5, *, prefer: Callable[[list[str]], bool] | None = None
) -> Listener | None:
    """The local listener on TCP ``port`` and its owning process, without listing every socket of
    the machine (what a command given ``--port`` needs to name the app's pid): on Linux, the
    port's listening sockets from ``/proc/net/tcp{,6}``, then only the process holding one of
    them. ``None`` when nothing listens there; a listener with no pid when its owner cannot
    be seen. Elsewhere, the full listing. Reused for ``max_age`` seconds (a probe and the
    endpoint it verifies ask for the same port's owner), as :func:`tcp_connections` is.
    ``prefer``: a guess at the owner's command line (the app's), looked at first."""
    have = _owners.get(port)
    if have is not None and time.monotonic() - have[0] <= max_age:
        return have[1]
    listed = _listening
    if listed is not None and time.monotonic() - listed[0] <= max_age and port in listed[1]:
        return listed[1][port]  # the scan that just listed every socket named it
    owner = _port_owner(port, prefer)
    _owners[port] = (time.monotonic(), owner)
    return owner


def _port_owner(port: int, prefer: Callable[[list[str]], bool] | None = None) -> Listener | None:
    sockets = _listening_sockets(port) if sys.platform.startswith("linux") else None
    if sockets is None:
        return next((li for li in list_listeners().listeners if li.port == port), None)
    if not sockets:
        return None
    pid = _pid_holding({inode for inode, _, _ in sockets}, prefer)
    order = {"0.0.0.0": 0, "::": 1}
    _, bind, family = min(sockets, key=lambda s: (order.get(s[1], 2), s[2] != "ipv4"))
    return _listener_of(bind, port, family, pid, _linux_process_info(pid) if pid is not None else None)


def listener_pid(port: int, *, prefer: Callable[[list[str]], bool] | None = None) -> int | None:
    """The pid of the process listening on ``port`` on this machine, when it can be seen (from
    the scan's socket snapshot when one was just taken, else from :func:`port_owner`); ``None``
    when it cannot (permissions)."""
    if _listening is not None and time.monotonic() - _listening[0] <= 0.5 and port in _listening[1]:
        return _listening[1][port].pid
    if _snapshot is None or time.monotonic() - _snapshot[0] > 0.5:
        try:
            owner = port_owner(port, prefer=prefer)
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
        import getpass  # here: it imports termios, and only macOS's listing needs it

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
    """Every listening TCP socket we can see, IPv4 and IPv6, deduplicated, with owning processes.

    On Linux (``platform`` not named) read from ``/proc`` directly; psutil otherwise, and
    where ``/proc`` has no socket tables."""
    if platform is None and sys.platform.startswith("linux"):
        try:
            disc = _linux_listing()
        except OSError:
            disc = None
        if disc is not None:
            return disc
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
