"""Other machines, through the system's OpenSSH client — never a relay of tether's own.

``--host ssh://[USER@]HOST[:PORT]`` names a machine reached with ``ssh``: the user's
``~/.ssh/config``, agent and keys apply, and ``$TETHER_SSH_CONFIG`` (or ``--ssh-config FILE``)
names another ssh_config file, passed with ``-F``. OpenSSH runs with ``BatchMode=yes``, so an
unknown host key or a missing key fails at once; tether never asks for nor stores a password.

One ControlMaster connection per host carries everything: the remote listing (:meth:`Ssh.run`)
and the port forwards (:meth:`Ssh.forward`, ``ssh -O forward -L``), reused by later commands
(a forward is remembered beside the control socket with the master's pid) and closed by
OpenSSH itself after ``ControlPersist`` seconds without a client (``$TETHER_SSH_PERSIST``,
default 60). Errors map to tether's: host unreachable or silent -> :class:`Unreachable` /
:class:`Timeout` (exit 4), authentication or host key -> :class:`AuthError` (exit 5).

What the remote machine listens on comes from ``tether scan --json`` there when tether is
installed, else from standard tools: ``ss -Htlnp`` (or ``/proc/net/tcp*``) and ``/proc/PID``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .endpoint import Listener, connect_host
from .errors import AuthError, TetherError, Timeout, Unreachable, UsageError
from .hostfiles import MAX_BYTES, Files

SCHEME = "ssh://"
DEFAULT_PERSIST = 60.0  # seconds an idle ControlMaster stays up

_URL = re.compile(
    r"^ssh://(?:(?P<user>[^@/:\s]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^@/:\s\[\]]+)(?::(?P<port>\d+))?/?$"
)

#: what OpenSSH says (on stderr, exit 255) when the key, the user or the host key is refused
AUTH_MARKS = (
    "Permission denied",
    "Host key verification failed",
    "No more authentication methods",
    "Too many authentication failures",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "no matching host key type",
)


def is_ssh(host: str | None) -> bool:
    """``True`` when ``host`` is an ``ssh://`` URL."""
    return bool(host) and str(host).startswith(SCHEME)


@dataclass(frozen=True)
class SshHost:
    """``ssh://[USER@]HOST[:PORT]``, parsed."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> SshHost:
        m = _URL.match(url.strip())
        if not m:
            raise UsageError(f"{url!r} is not an ssh:// address", hint="write it as ssh://[USER@]HOST[:PORT]")
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 0 < port < 65536:
            raise UsageError(f"{url!r}: port {port} is out of range (1-65535)")
        host = m["host"].strip("[]")
        if host.startswith("-"):
            raise UsageError(f"{url!r}: a host may not start with '-'")
        return cls(host, m["user"], port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return SCHEME + (f"{self.user}@" if self.user else "") + host + (f":{self.port}" if self.port else "")

    def __str__(self) -> str:
        return self.url


def config_file(given: str | None = None) -> str | None:
    """The ssh_config file to pass with ``-F``: ``given``, else ``$TETHER_SSH_CONFIG``, else none
    (OpenSSH reads ``~/.ssh/config`` itself)."""
    path = given or os.environ.get("TETHER_SSH_CONFIG") or None
    if path and not Path(path).expanduser().is_file():
        raise UsageError(
            f"the ssh config file {path} does not exist", hint="check --ssh-config / $TETHER_SSH_CONFIG"
        )
    return str(Path(path).expanduser()) if path else None


def persist_seconds() -> float:
    text = os.environ.get("TETHER_SSH_PERSIST")
    try:
        return max(float(text), 1.0) if text else DEFAULT_PERSIST
    except ValueError:
        raise UsageError(f"$TETHER_SSH_PERSIST={text!r} is not a number of seconds") from None


def control_dir() -> Path:
    """Where the control sockets live: private to this user (0700), short enough for a socket path."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    path = base / f"tether-ssh-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    path.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise AuthError(f"{path} belongs to another user: tether will not put its ssh control sockets there")
    return path


def failure(target: SshHost, stderr: str) -> TetherError:
    """The tether error for a failed ``ssh`` (exit 255): what OpenSSH said, mapped to an exit code."""
    said = " ".join(line.strip() for line in stderr.strip().splitlines() if line.strip())[-400:]
    if any(mark in stderr for mark in AUTH_MARKS):
        hint = (
            "add the host's key to known_hosts (e.g. ssh once by hand, or ssh-keyscan)"
            if "Host key" in stderr or "IDENTIFICATION" in stderr
            else "load the key into ssh-agent or name it with IdentityFile in your ssh config"
        )
        return AuthError(f"ssh to {target} was refused: {said}", hint=hint, host=target.url)
    if "timed out" in stderr or "Timeout" in stderr:
        return Timeout(f"ssh to {target} did not answer in time: {said}", host=target.url)
    return Unreachable(f"cannot reach {target} over ssh: {said or 'ssh failed'}", host=target.url)


class Ssh:
    """OpenSSH to one host through one ControlMaster (started on first use, reused, closed idle).

    ``timeout``: the budget of one ssh step (connection, handshake, a command); ``config``: an
    ssh_config file for ``-F``; ``persist``: ControlPersist seconds.
    """

    def __init__(
        self,
        target: SshHost | str,
        *,
        config: str | None = None,
        timeout: float = 5.0,
        persist: float | None = None,
    ) -> None:
        self.target = target if isinstance(target, SshHost) else SshHost.parse(target)
        self.config = config_file(config)
        self.timeout = max(float(timeout), 1.0)
        self.persist = persist if persist is not None else persist_seconds()
        exe = shutil.which("ssh")
        if exe is None:
            raise UsageError("the OpenSSH client (ssh) is not installed", hint="install openssh-client")
        self.exe = exe
        key = hashlib.sha256(f"{self.target.url}|{self.config or ''}".encode()).hexdigest()[:20]
        self.control = control_dir() / key
        self.home: str | None = None  # the remote user's $HOME, once a listing said it

    # -- the ssh command line ----------------------------------------------------------------
    def argv(self, *extra: str, command: str | None = None) -> list[str]:
        t = self.target
        args = [self.exe]
        if self.config:
            args += ["-F", self.config]
        args += [
            "-o", "BatchMode=yes",  # never a password or host-key prompt: fail at once
            "-o", f"ConnectTimeout={math.ceil(self.timeout)}",  # connection and handshake
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={self.control}",
            "-o", f"ControlPersist={math.ceil(self.persist)}",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        if t.port:
            args += ["-p", str(t.port)]
        if t.user:
            args += ["-l", t.user]
        return [*args, *extra, "--", t.host, *([command] if command else [])]

    def _call(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise Timeout(
                f"ssh to {self.target} did not finish within {timeout:g} s", host=self.target.url
            ) from exc
        except OSError as exc:
            raise Unreachable(f"cannot run ssh: {exc}") from exc

    # -- the master -----------------------------------------------------------------------------
    def master_pid(self) -> int | None:
        """The running ControlMaster's pid (``ssh -O check``), or ``None``."""
        if not self.control.exists():
            return None
        res = self._call(self.argv("-O", "check"), self.timeout)
        m = re.search(r"pid=(\d+)", res.stderr)
        return int(m.group(1)) if res.returncode == 0 and m else None

    def connect(self) -> int:
        """Start the ControlMaster unless it runs; return its pid. Raises on failure (4, 5).

        Starts are serialised per host (a lock file beside the control socket): two masters
        racing for one socket would leave the loser as a plain background connection that no
        ControlPersist ever closes.
        """
        pid = self.master_pid()
        if pid is not None:
            return pid
        with _locked(self.control.parent / f"{self.control.name}.lock", self.timeout + 5):
            pid = self.master_pid()
            if pid is not None:  # another process started it meanwhile
                return pid
            self._forget_forwards()  # those of an earlier master, gone with it
            self.control.unlink(missing_ok=True)  # a stale socket would make ssh run without a master
            # -f: into the background once authenticated (its stdio then goes to /dev/null); -N: no command
            res = self._call(self.argv("-M", "-f", "-N"), self.timeout + 2)
            if res.returncode != 0:
                raise failure(self.target, res.stderr)
            pid = self.master_pid()
        if pid is None:
            raise Unreachable(
                f"ssh to {self.target}: the control connection did not stay up", host=self.target.url
            )
        return pid

    def close(self) -> None:
        """Ask the ControlMaster to exit now (``ssh -O exit``)."""
        if self.control.exists():
            self._call(self.argv("-O", "exit"), self.timeout)
        self._forget_forwards()

    def _forget_forwards(self) -> None:
        for state in self.control.parent.glob(self.control.name + ".fwd-*"):
            state.unlink(missing_ok=True)

    # -- commands and forwards -------------------------------------------------------------
    def run(self, script: str, *, timeout: float | None = None) -> str:
        """Run a POSIX shell ``script`` on the host (through the master); return its stdout.

        One ssh process, one round trip: no ``-O check`` first. ``ControlMaster=auto`` uses the
        running master, or makes this very command the master (authenticated once, then kept by
        ``ControlPersist`` in the background with its stdio on /dev/null) — a cold host costs one
        connection and one session, not a master start, two checks and a session. Two processes
        racing from cold: the loser runs as a plain connection that ends with its command (only a
        ``-N`` master, which :meth:`connect` serialises, could outlive its command)."""
        budget = timeout if timeout is not None else self.timeout
        res = self._call(self.argv("-T", command="sh -c " + _quote(script)), budget + self.timeout)
        if res.returncode == 255:
            raise failure(self.target, res.stderr)
        return res.stdout

    def forward(self, remote_host: str, remote_port: int) -> int:
        """A local port on 127.0.0.1 forwarded to ``remote_host:remote_port`` as the host sees it
        (``ssh -O forward -L``); an earlier forward of the same master is reused."""
        pid = self.connect()
        state = self.control.parent / f"{self.control.name}.fwd-{_safe(remote_host)}-{remote_port}"
        try:
            have_pid, have_port = (int(x) for x in state.read_text().split())
            if have_pid == pid and _taken("127.0.0.1", have_port):
                return have_port
        except (OSError, ValueError):
            pass
        last = ""
        for _ in range(3):  # a free port can be taken before ssh binds it: pick another
            local = _free_port()
            target = f"[{remote_host}]" if ":" in remote_host else remote_host
            res = self._call(
                self.argv("-O", "forward", "-L", f"127.0.0.1:{local}:{target}:{remote_port}"), self.timeout
            )
            if res.returncode == 0:
                state.write_text(f"{pid} {local}\n")
                return local
            last = res.stderr
            if "forwarding failed" not in last.lower() and "bind" not in last.lower():
                break
        raise Unreachable(
            f"ssh to {self.target}: cannot forward a local port to {remote_host}:{remote_port}: "
            + last.strip(),
            host=self.target.url,
        )

    # -- what the host listens on ------------------------------------------------------------
    def remote_tether(self, args: list[str], *, timeout: float) -> list[dict[str, Any]] | None:
        """``tether scan --json ARGS`` on the host, or ``None`` when tether is not installed there."""
        words = " ".join(_quote(a) for a in args)
        out = self.run(
            "command -v tether >/dev/null 2>&1 || { echo '#none'; exit 0; }; echo '#tether'; "
            f"exec tether scan --json {words}",
            timeout=timeout + 5,
        )
        head, _, body = out.partition("\n")
        if head.strip() != "#tether":
            return None
        try:
            rows = json.loads(body)
        except ValueError as exc:
            raise Unreachable(f"tether on {self.target} printed no scan: {body.strip()[:200]}") from exc
        return rows if isinstance(rows, list) else None

    def listeners(self, *, timeout: float) -> tuple[list[Listener], str]:
        """The host's listening TCP sockets with their processes, from standard tools; and how."""
        out = self.run(LISTING_SCRIPT, timeout=timeout + 5)
        m = re.search(r"^#home (/[^\n]*)$", out, re.MULTILINE)
        self.home = m.group(1) if m else None
        return parse_listing(out)

    def files(self) -> SshFiles:
        """The host's files, read through the master (for adapters' hints: :mod:`tether.hostfiles`)."""
        return SshFiles(self)


# A POSIX sh script: sections the parser below reads. ss gives the owning pids when allowed;
# without ss, /proc/net/tcp* and the socket inodes under /proc/PID/fd give them.
LISTING_SCRIPT = r"""
export LC_ALL=C
printf '#home %s\n' "$HOME"
pids=""
if command -v ss >/dev/null 2>&1; then
  echo '#ss'
  ss -Htlnp 2>/dev/null
  pids=$(ss -Htlnp 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
else
  echo '#procnet'
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == "0A" {print $2, $10}'
  echo '#inodes'
  find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h %l\n' 2>/dev/null
  pids=$(find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h\n' 2>/dev/null | cut -d/ -f3 | sort -u)
fi
for p in $pids; do
  [ -r /proc/$p/cmdline ] || continue
  printf '#pid %s %s %s\n' "$p" "$(stat -c %U /proc/$p 2>/dev/null)" "$(cat /proc/$p/comm 2>/dev/null)"
  tr '\000' '\037' < /proc/$p/cmdline; echo
done
echo '#end'
"""


class SshFiles(Files):
    """The files of the host at the other end of ``ssh``, each read once (``head -c``, through the
    ControlMaster) and kept for the life of this object: one scan. Missing, unreadable, a
    directory, over the limit, or ssh failing: ``None`` — a hint source never raises."""

    remote = True

    def __init__(self, ssh: Ssh) -> None:
        self.ssh = ssh
        self.where = str(ssh.target)
        self._seen: dict[tuple[str, str, int], str | None] = {}
        #: local forward port -> (remote port, owner pid there, its command line)
        self._forwards: dict[int, tuple[int, int | None, list[str]]] = {}
        import threading

        self._lock = threading.Lock()

    def _ask(self, kind: str, arg: str, limit: int, script: str) -> str | None:
        key = (kind, arg, limit)
        with self._lock:
            if key in self._seen:
                return self._seen[key]
        try:
            out = self.ssh.run(script)
        except TetherError:
            out = ""
        head, sep, body = out.partition("\n")
        value = body if sep and head == "#y" else None
        if value is not None and kind != "read":
            value = value.rstrip("\n") or None
        with self._lock:
            self._seen[key] = value
        return value

    def read_text(self, path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> str | None:
        name = os.fspath(path)
        text = self._ask(
            "read",
            name,
            limit,
            f'f={_quote(name)}; if [ -f "$f" ] && [ -r "$f" ]; then echo \'#y\'; '
            f"head -c {limit + 1} -- \"$f\"; else echo '#n'; fi",
        )
        return text if text is not None and len(text.encode("utf-8", "replace")) <= limit else None

    def note_forward(self, local: int, remote_port: int, pid: int | None = None, cmdline=()) -> None:
        """Remember that ``local`` leads to ``remote_port`` there (owned by ``pid``, when known)."""
        self._forwards[local] = (remote_port, pid, list(cmdline))

    def behind(self, port: int) -> tuple[int, int | None, list[str]] | None:
        got = self._forwards.get(port)
        if got is None or got[1] is not None:
            return got
        try:  # a port named by hand: the host's listing says whose it is (once)
            listeners, _ = self.ssh.listeners(timeout=self.ssh.timeout)
        except TetherError:
            return got
        owner = next((li for li in listeners if li.port == got[0] and li.pid), None)
        if owner is not None:
            got = self._forwards[port] = (got[0], owner.pid, list(owner.cmdline))
        return got

    def _value(self, kind: str, arg: str, expr: str) -> str | None:
        """What the shell command ``expr`` prints on the host (cached), ``None`` if it fails."""
        return self._ask(kind, arg, 0, f"t=$({expr}) && echo '#y' && printf '%s\\n' \"$t\"")

    def home(self) -> str:
        if self.ssh.home is None:
            self.ssh.home = self._value("home", "", 'printf %s "$HOME"') or "/"
        return self.ssh.home

    def readlink(self, path: str | os.PathLike[str]) -> str | None:
        name = os.fspath(path)
        return self._value("link", name, f"readlink -- {_quote(name)}")

    def which(self, name: str) -> str | None:
        return self._value("which", name, f"command -v -- {_quote(name)}")

    def read_bytes(self, path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> bytes | None:
        import base64
        import binascii

        name = os.fspath(path)
        try:  # base64: ssh's output is read as text
            out = self.ssh.run(
                f'f={_quote(name)}; if [ -f "$f" ] && [ -r "$f" ]; then echo \'#y\'; '
                f"head -c {limit + 1} -- \"$f\" | base64; else echo '#n'; fi",
                timeout=self.ssh.timeout + limit / 5e6,
            )
        except TetherError:
            return None
        head, _, body = out.partition("\n")
        if head != "#y":
            return None
        try:
            data = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            return None
        return data if len(data) <= limit else None

    def temp_dir(self) -> str:
        made = self._value("mktemp", str(time.monotonic()), "mktemp -d")
        if not made:
            raise Unreachable(f"ssh to {self.where}: cannot make a temporary directory there")
        return made

    def remove(self, path: str | os.PathLike[str]) -> None:
        name = _quote(os.fspath(path))
        with contextlib.suppress(TetherError):
            self.ssh.run(f"if [ -d {name} ]; then rmdir -- {name}; else rm -f -- {name}; fi; true")

    def realpath(self, path: str) -> str:
        return self._value("real", path, f"readlink -f -- {_quote(path)}") or path


def parse_listing(text: str) -> tuple[list[Listener], str]:
    """Listeners from :data:`LISTING_SCRIPT`'s output (``ss`` or ``/proc/net``), with processes."""
    section, method = "", "none"
    rows: list[tuple[str, int, int | None]] = []  # (bind, port, pid)
    sockets: list[tuple[str, int, str]] = []  # /proc/net: (bind, port, inode)
    inode_pid: dict[str, int] = {}
    procs: dict[int, tuple[str | None, str | None, list[str]]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#pid "):
            parts = line.split(" ", 3)
            pid = int(parts[1]) if parts[1].isdigit() else None
            user = parts[2] if len(parts) > 2 and parts[2] else None
            name = parts[3] if len(parts) > 3 and parts[3] else None
            cmdline = lines[i].split("\x1f") if i < len(lines) else []
            i += 1
            if pid is not None:
                procs[pid] = (user, name, [a for a in cmdline if a])
            continue
        if line.startswith("#"):
            section = line[1:].strip()
            method = {"ss": "ss -Htlnp", "procnet": "/proc/net/tcp"}.get(section, method)
            continue
        if section == "ss":
            fields = line.split()
            if len(fields) < 4 or fields[0] != "LISTEN":
                continue
            bind, _, port = fields[3].rpartition(":")
            m = re.search(r"pid=(\d+)", line)
            if port.isdigit():
                rows.append((_bind(bind), int(port), int(m.group(1)) if m else None))
        elif section == "procnet":
            fields = line.split()
            if len(fields) == 2:
                addr, _, port = fields[0].partition(":")
                sockets.append((_hex_address(addr), int(port, 16), fields[1]))
        elif section == "inodes":
            fields = line.split()
            if len(fields) == 2 and fields[1].startswith("socket:["):
                pid = fields[0].split("/")[2]
                if pid.isdigit():
                    inode_pid.setdefault(fields[1][8:-1], int(pid))
    rows += [(bind, port, inode_pid.get(inode)) for bind, port, inode in sockets]
    seen: set[tuple[str, int]] = set()
    out = []
    for bind, port, pid in rows:
        if (bind, port) in seen:
            continue
        seen.add((bind, port))
        user, name, cmdline = procs.get(pid, (None, None, [])) if pid else (None, None, [])
        out.append(
            Listener(
                host=connect_host(bind),
                port=port,
                bind=bind,
                family="ipv6" if ":" in bind else "ipv4",
                pid=pid,
                process=name,
                cmdline=cmdline,
                username=user,
                note=None if pid else "owner unknown on the remote host (another user's process)",
            )
        )
    return out, method


def _bind(text: str) -> str:
    if text == "*":  # ss's name for a dual-stack wildcard socket (what psutil shows as ::)
        return "::"
    text = text.strip("[]")
    if "%" in text:  # 127.0.0.1%lo: an interface suffix
        text = text.split("%", 1)[0]
    return text


def _hex_address(text: str) -> str:
    """/proc/net/tcp's little-endian hex address as text."""
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (POSIX ``flock``), waited for up to ``timeout``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no ControlMaster off POSIX either
        yield
        return
    with open(path, "a") as handle:
        end = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > end:
                    raise Timeout(
                        f"another tether has been starting ssh to this host for {timeout:g} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z.]", "_", text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _taken(host: str, port: int) -> bool:
    """Something listens on ``host:port`` (tried by binding it: connecting would reach the app)."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until process ``pid`` has exited (for tests and ``close``); ``True`` if it did."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        time.sleep(0.1)
    return False


__all__ = ["SCHEME", "Ssh", "SshHost", "config_file", "failure", "is_ssh", "parse_listing"]
