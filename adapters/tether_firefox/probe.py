"""Firefox's adapter: hints (firefox -marionette, <profile>/MarionetteActivePort) and the greeting probe.

The probe reads Marionette's greeting and nothing else: it never opens a session, which
would take the single session slot. Firefox closes a new connection at once, with no
greeting, while another client holds the session: that is reported as busy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from tether import hostfiles
from tether.adapter import ProbeResult, Verdict, connect_failed
from tether.errors import ProtocolError, TetherError, Timeout, Unreachable

DEFAULT_PORT = 2828
PORT_FILE = "MarionetteActivePort"
BIDI_FILE = "WebDriverBiDiServer.json"
FIREFOX_NAMES = ("firefox", "firefox-esr", "firefox-bin", "firefox.exe", "firefox-esr-bin")


def is_firefox(name: str | None, cmdline: list[str]) -> bool:
    """Whether a process (its name or its executable) is Firefox."""
    exe = os.path.basename(cmdline[0]) if cmdline else ""
    return (name or "").lower() in FIREFOX_NAMES or exe.lower() in FIREFOX_NAMES


def has_marionette(cmdline: list[str]) -> bool:
    """Whether Firefox was started with ``-marionette``."""
    return any(a in ("-marionette", "--marionette") for a in cmdline)


def profile_dir(cmdline: list[str]) -> Path | None:
    """The profile a Firefox process runs with (``-profile DIR`` / ``--profile DIR``)."""
    for i, arg in enumerate(cmdline):
        if arg in ("-profile", "--profile") and i + 1 < len(cmdline):
            return Path(cmdline[i + 1])
        if arg.startswith("--profile="):
            return Path(arg.split("=", 1)[1])
    return None


def active_port(profile: Path) -> int | None:
    """The port in ``<profile>/MarionetteActivePort`` (can be stale after a crash: verify by probing),
    read on the machine being looked at (:mod:`tether.hostfiles`: over SSH for a remote scan)."""
    text = (hostfiles.current().read_text(profile / PORT_FILE, limit=64) or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def bidi_port_of(profile: str | Path) -> int | None:
    """The WebDriver BiDi port Firefox wrote to ``<profile>/WebDriverBiDiServer.json``."""
    try:
        data = json.loads(hostfiles.current().read_text(Path(profile) / BIDI_FILE, limit=65536) or "")
        return int(data["ws_port"])
    except (ValueError, KeyError, TypeError):
        return None


def bidi_client(port: int) -> str | None:
    """A client connected to the WebDriver BiDi port of the Firefox whose Marionette is on ``port``.

    Firefox has one WebDriver session for BiDi and Marionette, and while a BiDi client holds
    it, Marionette still greets new connections — and ends that session when such a connection
    closes, even one that only read the greeting. So before touching Marionette, look for one.
    """
    files = hostfiles.current()
    if files.remote:
        return _bidi_client_there(files, port)
    from tether.discovery import listener_pid, process_info

    # the scan's socket snapshot, or that port's sockets alone (Firefox's processes looked at first)
    owner = listener_pid(port, prefer=lambda cmd: is_firefox(None, cmd) and "-contentproc" not in cmd)
    profile = profile_dir(process_info(owner)[1]) if owner else None
    bidi = bidi_port_of(profile) if profile else None
    if bidi is None:
        return None
    import psutil

    from tether.discovery import tcp_connections

    try:
        conns = tcp_connections()
    except (psutil.Error, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr[1] == bidi and c.pid != owner:
            try:
                return f"{psutil.Process(c.pid).name()} (pid {c.pid}) over WebDriver BiDi" if c.pid else None
            except psutil.Error:
                return f"pid {c.pid} over WebDriver BiDi"
    return None


def _bidi_client_there(files: hostfiles.Files, port: int) -> str | None:
    """:func:`bidi_client` for a Firefox on another machine, ``port`` a local forward to its
    Marionette: its profile's BiDi port, and an established connection to it in that machine's
    ``/proc/net/tcp*`` (read afresh: a connection comes and goes)."""
    behind = files.behind(port)
    profile = profile_dir(behind[2]) if behind else None
    bidi = bidi_port_of(profile) if profile else None
    if bidi is None:
        return None
    from tether.discovery import TCP_ESTABLISHED, proc_net_tcp

    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = (files.read_bytes(table, limit=64 << 20) or b"").decode("ascii", "replace")
        if any(port == bidi for _, port, _ in proc_net_tcp(text, TCP_ESTABLISHED)):
            return f"a client on {files.where} over WebDriver BiDi (port {bidi})"
    return None


def listener_name(host: str, port: int) -> tuple[str, bool] | None:
    """``("name (pid N)", is Firefox)`` for the local process listening on ``port``; ``None``
    when that cannot be seen (a remote host, another user's process, no permission)."""
    import psutil

    from tether.adapter import is_loopback
    from tether.discovery import listener_pid

    if not is_loopback(host) or (pid := listener_pid(port)) is None:
        return None
    try:
        proc = psutil.Process(pid)
        name, cmdline = proc.name(), proc.cmdline()
    except psutil.Error:
        return None
    return f"{name} (pid {pid})", is_firefox(name, cmdline)


def firefox_processes():
    """(pid, name, cmdline) of running Firefox main processes started with Marionette."""
    from tether.discovery import processes

    def candidate(cmd: list[str]) -> bool:  # what the command line alone can tell
        return (
            bool(cmd) and (has_marionette(cmd) or profile_dir(cmd) is not None) and "-contentproc" not in cmd
        )

    for pid, name, cmd in processes(candidate):
        if is_firefox(name, cmd):
            yield pid, name, cmd


def check_greeting(value) -> ProbeResult:
    """Verified only for Marionette's greeting: ``applicationType`` gecko, ``marionetteProtocol`` 3."""
    if not isinstance(value, dict):
        return ProbeResult(Verdict.NOT_ME, detail="the first frame is not a greeting object")
    if value.get("applicationType") != "gecko":
        return ProbeResult(
            Verdict.NOT_ME,
            detail=f"greets as applicationType={value.get('applicationType')!r}, not Marionette",
        )
    if value.get("marionetteProtocol") != 3:
        return ProbeResult(
            Verdict.NOT_ME,
            detail=f"Marionette protocol {value.get('marionetteProtocol')!r} is not supported (need 3)",
        )
    return ProbeResult(Verdict.VERIFIED, detail="Marionette greeting (protocol 3)")


def probe_marionette(host: str, port: int, timeout: float) -> ProbeResult:
    """Read the greeting, never open a session; busy when a client holds the session."""
    from tether.deadline import Deadline
    from tether.transport.framed import FramedConnection

    holder = bidi_client(port)
    if holder is not None:  # connecting now would end that client's session
        return ProbeResult(
            Verdict.BUSY, detail=f"{holder} holds the WebDriver session; not probed, so as not to end it"
        )
    deadline = Deadline(timeout)  # the connect and the greeting share it
    try:
        conn = FramedConnection.open(host, port, deadline, what="Firefox Marionette", max_frame=4096)
    except Unreachable as exc:  # refused or timed out (Timeout is an Unreachable)
        return connect_failed(exc)
    with conn:
        try:
            greeting = conn.read_frame(deadline)
        except Timeout:
            owner = listener_name(host, port)
            if owner is not None and not owner[1]:  # a silent web server is not a busy Firefox
                return ProbeResult(
                    Verdict.NOT_ME,
                    detail=f"{owner[0]} accepted but sent no Marionette greeting within {timeout:g} s",
                )
            # Firefox refuses a second client by closing at once; silence is a Firefox that
            # cannot answer (stopped, or hung), not one busy with another client
            return ProbeResult(Verdict.UNKNOWN, detail=_not_answering(port, timeout))
        except ProtocolError as exc:
            return ProbeResult(Verdict.NOT_ME, detail=f"not Marionette framing ({exc.message})")
        except TetherError as exc:
            return ProbeResult(
                Verdict.BUSY,
                detail=f"closed without a greeting ({exc.message}): another client holds the session",
            )
        if greeting is None:
            return ProbeResult(
                Verdict.BUSY, detail="closed without a greeting: another client holds the Marionette session"
            )
        return check_greeting(greeting)


def _not_answering(port: int, timeout: float) -> str:
    from tether.discovery import listener_pid

    why = f"accepted but sent no Marionette greeting within {timeout:g} s"
    pid = listener_pid(port)
    if pid is None:
        return why + ": Firefox is not responding"
    try:
        import psutil

        if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
            return why + f": its process (pid {pid}) is stopped; resume it with kill -CONT {pid}"
    except (ImportError, psutil.Error):
        pass
    return why + f": Firefox (pid {pid}) is not responding (hung?)"


def firefox_version(cmdline: list[str], pid: int | None = None) -> str | None:
    """Firefox's version from ``application.ini`` beside its binary (no process spawned), on the
    machine being looked at (:mod:`tether.hostfiles`).

    The binary is the process's executable where we may read it, else ``cmdline[0]``
    looked up on PATH when it is a bare name (``firefox-esr …`` after a wrapper's exec).
    """
    files = hostfiles.current()
    exe = files.readlink(f"/proc/{pid}/exe") if pid else None
    if exe is None:
        if not cmdline:
            return None
        exe = cmdline[0] if "/" in cmdline[0] else (files.which(cmdline[0]) or cmdline[0])
        exe = files.realpath(exe)
    folder = PurePosixPath(exe).parent if files.remote else Path(exe).parent
    for ini in (folder / "application.ini", folder / "browser" / "application.ini"):
        version = _ini_value(ini, "App", "Version")
        if version is not None:
            return version
    return None


def _ini_value(path: Path, section: str, key: str) -> str | None:
    """``[section] key=value`` of an INI file as configparser reads it (names case-insensitive,
    ``=`` or ``:``, values stripped), without importing configparser (every verified Firefox
    endpoint reads its version so). ``None`` when the file, the section or the key is missing."""
    text = hostfiles.current().read_text(path, limit=1 << 20)
    if text is None:
        return None
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1] == section
            continue
        if inside:
            cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
            if cut > 0 and line[:cut].strip().lower() == key.lower():
                return line[cut + 1 :].strip()
    return None
