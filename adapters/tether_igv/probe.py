"""IGV's adapter: hints (java running IGV's main class, prefs.properties), and the ``echo`` probe.

Never probe IGV with HTTP: every ``GET`` on its port raises IGV's window
(``mainFrame.toFront()``). The raw ``echo`` command changes nothing.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from tether.adapter import ProbeResult, Verdict, connect_failed
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
    """The IGV directory a process runs with: ``--igvDirectory DIR``, else ``~/igv``."""
    for i, arg in enumerate(cmdline):
        if arg == "--igvDirectory" and i + 1 < len(cmdline):
            return Path(cmdline[i + 1])
        if arg.startswith("--igvDirectory="):
            return Path(arg.split("=", 1)[1])
    return Path.home() / "igv"


def read_prefs(directory: Path) -> dict[str, str]:
    """``prefs.properties`` of an IGV directory as a dict (empty when unreadable)."""
    prefs: dict[str, str] = {}
    try:
        text = (directory / "prefs.properties").read_text(encoding="utf-8", errors="replace")
    except OSError:
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


def _dpkg_version(package: str = "igv") -> str | None:
    try:
        text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        if (
            re.search(rf"^Package: {re.escape(package)}$", stanza, re.MULTILINE)
            and "Status: install ok installed" in stanza
        ):
            m = re.search(r"^Version: (?:\d+:)?([^\s+~-]+)", stanza, re.MULTILINE)
            return m.group(1) if m else None
    return None


def version_from_install(cmdline: list[str]) -> str | None:
    """IGV's version from its jar (``resources/about.properties``), else from Debian's package."""
    jar = _jar_path(cmdline)
    if jar:
        try:
            with zipfile.ZipFile(jar) as zf:
                props = zf.read("resources/about.properties").decode("utf-8", "replace")
            m = re.search(r"^version=(.*)$", props, re.MULTILINE)
            if m and m.group(1).strip() not in _UNKNOWN_VERSIONS:
                return m.group(1).strip()
        except (OSError, KeyError, zipfile.BadZipFile):
            pass
        if jar.startswith("/usr/share/java/"):
            return _dpkg_version("igv")
    return None


def probe_igv(host: str, port: int, timeout: float) -> ProbeResult:
    """``echo`` → ``echo`` proves IGV; ``version`` adds its version where IGV knows it."""
    from tether.deadline import Deadline
    from tether.transport.line import LineConnection

    deadline = Deadline(timeout)
    try:
        conn = LineConnection.open(host, port, timeout, what="IGV")
    except Unreachable as exc:  # refused or timed out (Timeout is an Unreachable)
        return connect_failed(exc)
    with conn:
        try:
            conn.send_line("echo", deadline)
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
        version = None
        try:
            conn.send_line("version", Deadline(min(timeout, 0.5)))
            answer = conn.readline(Deadline(min(timeout, 0.5))) or ""
            if answer and not answer.upper().startswith(("UNKNOWN", "UNKOWN", "ERROR")):
                version = answer.strip() if answer.strip() not in _UNKNOWN_VERSIONS else None
        except TetherError:
            pass  # echo proved it; the version is a bonus
        return ProbeResult(Verdict.VERIFIED, version=version, detail="answered 'echo'")
