"""IGV's adapter: hints (java running IGV's main class, prefs.properties), and the ``echo`` probe.

Never probe IGV with HTTP: every ``GET`` on its port raises IGV's window
(``mainFrame.toFront()``). The raw ``echo`` command changes nothing.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tether import hostfiles
from tether.adapter import ProbeResult, Verdict, connect_failed, is_loopback
from tether.endpoint import Listener
from tether.errors import TetherError, Timeout, Unreachable

DEFAULT_PORT = 60151
MAIN_CLASSES = ("org.igv.ui.Main", "org.broad.igv.ui.Main")
_UNKNOWN_VERSIONS = {"", "user", "unknown"}


def is_igv_process(listener: Listener) -> bool:
    cmd = listener.cmdline
    if not cmd:
        return False
    joined = " ".join(cmd)
    return any(m in cmd or m in joined for m in MAIN_CLASSES) or bool(
        re.search(r"(^|/)igv[^/ ]*\.jar", joined)
    )


def igv_directory(cmdline: list[str]) -> Path:
    """The IGV directory a process runs with: ``--igvDirectory DIR``, else ``~/igv`` (the home of
    the machine being looked at: :mod:`tether.hostfiles`)."""
    for i, arg in enumerate(cmdline):
        if arg == "--igvDirectory" and i + 1 < len(cmdline):
            return Path(cmdline[i + 1])
        if arg.startswith("--igvDirectory="):
            return Path(arg.split("=", 1)[1])
    return Path(hostfiles.current().home()) / "igv"


def read_prefs(directory: Path) -> dict[str, str]:
    """``prefs.properties`` of an IGV directory as a dict (empty when unreadable), read on the
    machine being looked at (over SSH for a remote scan)."""
    prefs: dict[str, str] = {}
    text = hostfiles.current().read_text(directory / "prefs.properties", limit=1 << 20)
    if text is None:
        return prefs
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        prefs[key.strip()] = value.strip().replace("\\:", ":").replace("\\\\", "\\")
    return prefs


def configured_port(cmdline: list[str]) -> int | None:
    """The batch port an IGV process was told to use: ``-p/--port N``, else ``PORT_NUMBER``."""
    for i, arg in enumerate(cmdline):
        if arg in ("-p", "--port") and i + 1 < len(cmdline) and cmdline[i + 1].isdigit():
            return int(cmdline[i + 1])
        if arg.startswith("--port=") and arg[7:].isdigit():
            return int(arg[7:])
    value = read_prefs(igv_directory(cmdline)).get("PORT_NUMBER", "")
    return int(value) if value.isdigit() else None


def _jar_path(cmdline: list[str]) -> str | None:
    for i, arg in enumerate(cmdline):
        if arg in ("-cp", "-classpath", "--class-path", "-jar") and i + 1 < len(cmdline):
            for part in cmdline[i + 1].split(os.pathsep):
                if re.search(r"igv[^/]*\.jar$", part):
                    return part
    return None


DPKG_STATUS = "/var/lib/dpkg/status"
#: the last answers of :func:`_dpkg_version`, by package: (the status file's identity, version)
_DPKG_SEEN: dict[str, tuple[tuple, str | None]] = {}


def _dpkg_version(package: str = "igv") -> str | None:
    """The version of Debian's installed ``package``, from dpkg's status file: the package's
    stanza is found by its ``Package:`` line in the bytes, and only that stanza decoded (the
    file is hundreds of kB: decoding it all cost each IGV probe ~2 ms). Read again only when
    the file changes (inode, size, mtime): a scan a second need not re-read it. On another
    machine (an SSH scan) the host's file, read once per scan by its files object."""
    files = hostfiles.current()
    key: tuple | None = None
    if files.remote:
        data = files.read_bytes(DPKG_STATUS, limit=64 << 20)
        if data is None:
            return None
    else:
        try:
            with open(DPKG_STATUS, "rb") as f:
                st = os.fstat(f.fileno())
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
                seen = _DPKG_SEEN.get(package)
                if seen is not None and seen[0] == key:
                    return seen[1]
                data = f.read()
        except OSError:
            return None
    version = None
    needle = f"Package: {package}\n".encode()
    at = data.find(needle)
    while at >= 0:
        if at == 0 or data[at - 1 : at] == b"\n":
            start = data.rfind(b"\n\n", 0, at)
            end = data.find(b"\n\n", at)
            raw = data[start + 2 if start >= 0 else 0 : end if end >= 0 else len(data)]
            stanza = raw.decode("utf-8", errors="replace")
            if "Status: install ok installed" in stanza:
                m = re.search(r"^Version: (?:\d+:)?([^\s+~-]+)", stanza, re.MULTILINE)
                version = m.group(1) if m else None
                break
        at = data.find(needle, at + 1)
    if key is not None:
        _DPKG_SEEN[package] = (key, version)
    return version


class _NotPlainZip(Exception):
    """A zip the quick reader does not handle (zip64, a prefix): zipfile reads it."""


def _zip_member(path: str, name: str) -> bytes | None:
    """Member ``name`` of the zip (jar) at ``path``, found in the central directory by its name
    alone (zipfile parses every entry: ~20 ms for IGV's jar, on every command and scan);
    ``None`` when it is not there. Raises :class:`_NotPlainZip` for what zipfile must read."""
    import struct
    import zlib

    key = name.encode()
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        tail_len = min(size, 65536 + 22)
        f.seek(size - tail_len)
        tail = f.read()
        eocd = tail.rfind(b"PK\x05\x06")
        if eocd < 0 or len(tail) < eocd + 22:
            raise _NotPlainZip()
        cd_size, cd_offset = struct.unpack_from("<II", tail, eocd + 12)
        if cd_offset == 0xFFFFFFFF or cd_offset + cd_size != size - tail_len + eocd:
            raise _NotPlainZip()  # zip64, or data before the zip
        f.seek(cd_offset)
        cd = f.read(cd_size)
        at = cd.find(key)
        while at >= 0:
            hdr = at - 46
            if hdr >= 0 and cd[hdr : hdr + 4] == b"PK\x01\x02":
                (method,) = struct.unpack_from("<H", cd, hdr + 10)
                comp, _uncomp, name_len = struct.unpack_from("<IIH", cd, hdr + 20)
                (local,) = struct.unpack_from("<I", cd, hdr + 42)
                if name_len == len(key):
                    f.seek(local)
                    head = f.read(30)
                    if head[:4] != b"PK\x03\x04" or method not in (0, 8):
                        raise _NotPlainZip()
                    n, e = struct.unpack_from("<HH", head, 26)
                    f.seek(local + 30 + n + e)
                    data = f.read(comp)
                    return data if method == 0 else zlib.decompressobj(-15).decompress(data)
            at = cd.find(key, at + 1)
    return None


#: the last :func:`_about_properties` answers, by jar path: (the jar's identity, text)
_ABOUT_SEEN: dict[str, tuple[tuple, str | None]] = {}


def _about_properties(jar: str) -> str | None:
    """The text of ``resources/about.properties`` in IGV's jar, or ``None``; read again only
    when the jar changes (inode, size, mtime), so a scan a second does not re-read its index."""
    try:
        st = os.stat(jar)
    except OSError:
        return None
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    seen = _ABOUT_SEEN.get(jar)
    if seen is not None and seen[0] == key:
        return seen[1]
    text = _read_about_properties(jar)
    _ABOUT_SEEN[jar] = (key, text)
    return text


def _read_about_properties(jar: str) -> str | None:
    import struct
    import zlib

    try:
        raw = _zip_member(jar, "resources/about.properties")
    except (OSError, zlib.error, struct.error):
        return None
    except _NotPlainZip:
        import zipfile

        try:
            with zipfile.ZipFile(jar) as zf:
                raw = zf.read("resources/about.properties")
        except (OSError, KeyError, zipfile.BadZipFile):
            return None
    return raw.decode("utf-8", "replace") if raw is not None else None


def version_from_install(cmdline: list[str]) -> str | None:
    """IGV's version from its jar (``resources/about.properties``), else from Debian's package."""
    jar = _jar_path(cmdline)
    if jar:
        # the jar is read here only when it is this machine's (a zip is not read over SSH)
        props = None if hostfiles.current().remote else _about_properties(jar)
        m = re.search(r"^version=(.*)$", props, re.MULTILINE) if props else None
        if m and m.group(1).strip() not in _UNKNOWN_VERSIONS:
            return m.group(1).strip()
        if jar.startswith("/usr/share/java/"):
            return _dpkg_version("igv")
    return None


def _installed_version(port: int) -> str | None:
    """The version of the IGV install behind local ``port`` (its owner's jar, or Debian's
    package), when the owner can be seen and runs IGV; ``None`` otherwise."""
    from tether.discovery import port_owner

    def java_igv(cmdline: list[str]) -> bool:
        return is_igv_process(Listener(host="127.0.0.1", port=port, cmdline=cmdline))

    try:
        owner = port_owner(port, prefer=java_igv)
    except Exception:
        return None
    if owner is None or not is_igv_process(owner):
        return None
    return version_from_install(owner.cmdline)


class _Kept(threading.local):
    """Where :func:`keep_probe_connection` asks the probe to leave its connection (per thread)."""

    slot: dict | None = None


_KEPT = _Kept()


@contextmanager
def keep_probe_connection() -> Iterator[dict]:
    """Within this block, a probe of IGV *in this thread* that proves IGV leaves its connection
    open in the yielded dict (``(host, port) -> LineConnection``) instead of closing it.

    IGV serves one connection at a time and each new one costs a round trip through its
    command thread: the client of a one-shot command (``tether igv goto --port P``) sends its
    command on the very connection the probe's ``echo`` was answered on — IGV is proved to
    serve it, as the client's own ``echo`` would prove. A scan's probes run in other threads
    and close theirs as always. Connections left in the dict are closed when the block ends."""
    kept: dict = {}
    outer, _KEPT.slot = _KEPT.slot, kept
    try:
        yield kept
    finally:
        _KEPT.slot = outer
        for conn in kept.values():
            conn.close()
        kept.clear()


def probe_igv(host: str, port: int, timeout: float) -> ProbeResult:
    """``echo`` → ``echo`` proves IGV; ``version`` adds its version where IGV knows it."""
    from tether.deadline import Deadline
    from tether.transport.line import LineConnection

    deadline = Deadline(timeout)
    slot = _KEPT.slot
    try:  # TCP_QUICKACK: IGV writes its reply without TCP_NODELAY (measured.md's delayed-ACK trap)
        conn = LineConnection.open(host, port, deadline, what="IGV", quickack=True)
    except Unreachable as exc:  # refused or timed out (Timeout is an Unreachable)
        return connect_failed(exc)
    keep = False
    try:
        try:
            conn.send_line("echo", deadline)
            # while IGV's command thread answers (milliseconds), find the version of a local IGV's
            # install (its jar, or Debian's status file): local reads only, used only if IGV answers
            local = is_loopback(host) and sys.platform.startswith("linux")
            installed = _installed_version(port) if local else None
            reply = conn.readline(deadline)
        except Timeout:
            if conn.pending:  # IGV never speaks unasked, nor without a newline
                return ProbeResult(Verdict.NOT_ME, detail=f"sent {conn.pending[:40]!r} and no line")
            return ProbeResult(
                Verdict.BUSY,
                detail="connected but silent: another client holds IGV's port, or IGV is busy with a command",
            )
        except TetherError as exc:
            return ProbeResult(Verdict.UNKNOWN, detail=exc.message)
        if reply is None:
            return ProbeResult(Verdict.UNKNOWN, detail="the connection closed without a reply")
        if reply != "echo":
            return ProbeResult(Verdict.NOT_ME, detail=f"answered {reply[:60]!r} to 'echo'")
        # each command costs a pass through IGV's command thread: the version of a local IGV is
        # what its install says (the about.properties IGV reads), found without asking
        version = installed if not conn.pending else None
        keep = slot is not None and version is not None
        if version is None:
            try:
                conn.send_line("version", Deadline(min(timeout, 0.5)))
                answer = conn.readline(Deadline(min(timeout, 0.5))) or ""
                if answer and not answer.upper().startswith(("UNKNOWN", "UNKOWN", "ERROR")):
                    version = answer.strip() if answer.strip() not in _UNKNOWN_VERSIONS else None
                keep = slot is not None and answer != "" and not conn.pending
            except TetherError:
                pass  # echo proved it; the version is a bonus
        if keep and slot is not None:
            old = slot.pop((host, port), None)
            if old is not None:
                old.close()
            slot[(host, port)] = conn
        return ProbeResult(Verdict.VERIFIED, version=version, detail="answered 'echo'")
    finally:
        if not keep:
            conn.close()
