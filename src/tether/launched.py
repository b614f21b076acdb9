"""Records of the apps tether started: where they live, whether they still run, how to stop them.

Every adapter that launches an app (IGV, Firefox) keeps one :class:`Record` per running instance,
so that a later ``tether`` process can find it, stop it, and clean up after it.

Layout (one JSON file per record, written atomically: temp file + ``os.replace``)::

    <state dir>/<app>/<key>.json        e.g. ~/.cache/tether/igv/60151.json
    <state dir>/<app>/<app>-<pid>-<ms>.log    the app's output (see new_log)

The state dir is ``$TETHER_STATE_DIR`` if set, else ``<user runtime dir>/tether`` when the user
runtime dir exists (Linux: ``$XDG_RUNTIME_DIR`` or ``/run/user/<uid>``, owned and private, as the
XDG spec asks), else ``<user cache dir>/tether`` (Linux: ``$XDG_CACHE_HOME`` or ``~/.cache``;
platformdirs elsewhere).

A record holds the pid *and* the process's start time (``create_time``): a pid alone can name
another program once ours has exited, so a record counts as alive only while both match, and a
process whose pid was reused is never signalled.

Public API:

- :func:`state_dir`, :func:`app_dir` — where records and logs live.
- :class:`Record` — ``app``, ``key``, ``pid``, ``create_time``, ``log``, ``started``, ``data``
  (the app's own fields); :meth:`Record.save`, :meth:`Record.remove`, :meth:`Record.cleanup`
  (the app's hook: what else to undo when its record is dropped), :meth:`Record.to_dict`.
  An adapter may subclass it to name its ``data`` fields (see :class:`DataField`).
- :func:`new_record` — a record for a process just started (reads its ``create_time``).
- :func:`load`, :func:`records`, :func:`find`, :func:`prune` — read, list, pick one, drop the dead.
- :func:`alive`, :func:`process_alive`, :func:`start_time`, :func:`wait_gone`, :func:`wait_process_gone`.
- :func:`stop`, :func:`stop_process` — SIGTERM the process group, wait up to ``grace``, SIGKILL.
- :func:`new_log`, :func:`prune_logs`, :func:`log_tail`, :data:`LOG_MAX_AGE`.

>>> rec = new_record("igv", 60151, proc.pid, log=str(log), genome="hg38")   # doctest: +SKIP
>>> rec.save()
>>> [r.key for r in prune("igv")]           # the records whose process still runs
['60151']
>>> stop(rec, grace=5.0); rec.remove()
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from tether.errors import UsageError

#: Logs older than this are removed by :func:`prune_logs` unless a live record still names them.
LOG_MAX_AGE = 7 * 24 * 3600.0
#: How close a process's start time must be to the recorded one (psutil rounds differently per OS).
_SAME_START = 1.0

R = TypeVar("R", bound="Record")
T = TypeVar("T")


def state_dir() -> Path:
    """tether's one state directory, for the core and every adapter (launch records, logs, an
    adapter's own small files such as the queue server's login tokens): ``$TETHER_STATE_DIR``
    (``~`` expanded), else ``<user runtime dir>/tether`` if the runtime dir exists, else
    ``<user cache dir>/tether``."""
    override = os.environ.get("TETHER_STATE_DIR")
    if override:
        return Path(override).expanduser()
    linux = _linux_state_dir()
    if linux is not None:
        return linux
    import platformdirs

    with warnings.catch_warnings():  # no $XDG_RUNTIME_DIR: platformdirs warns, names /tmp/runtime-<uid>
        warnings.simplefilter("ignore")
        runtime = Path(platformdirs.user_runtime_dir())
    return (runtime if runtime.is_dir() else Path(platformdirs.user_cache_dir())) / "tether"


def _linux_state_dir() -> Path | None:
    """:func:`state_dir` on Linux without importing platformdirs (~5 ms of every command): the
    XDG runtime dir (``$XDG_RUNTIME_DIR``, else ``/run/user/<uid>``) when it is what the XDG
    spec asks (a directory, not a symlink, ours, mode 0700), else ``$XDG_CACHE_HOME`` or
    ``~/.cache``. ``None`` where platformdirs decides (off Linux, Android)."""
    import stat
    import sys

    if not sys.platform.startswith("linux") or (
        os.environ.get("ANDROID_DATA") == "/data" and os.environ.get("ANDROID_ROOT") == "/system"
    ):
        return None  # (tether.config.xdg_dir's test: config and launched may not import each other)
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):
        cache = os.path.expanduser("~/.cache")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    for candidate in (runtime if os.path.isabs(runtime) else None, f"/run/user/{os.geteuid()}"):
        if candidate is None:
            continue
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o700:
            return Path(candidate) / "tether"
    return Path(cache) / "tether"


def app_dir(app: str) -> Path:
    """``<state dir>/<app>``, created private (0700) if missing."""
    path = state_dir() / app
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@dataclass
class Record:
    """A process tether started for ``app``, found again by ``key`` (a port, or another id)."""

    app: str
    key: str
    pid: int
    create_time: float | None
    log: str | None = None
    started: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return state_dir() / self.app / f"{self.key}.json"

    def save(self) -> None:
        """Write the record atomically: a reader sees the old file or the new one, never half of it."""
        directory = app_dir(self.app)
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{self.key}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(self), out, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def remove(self, *, keep_log: bool = False) -> None:
        """Forget the record (and delete its log unless ``keep_log``). Signals nothing."""
        self.path.unlink(missing_ok=True)
        if self.log and not keep_log:
            Path(self.log).unlink(missing_ok=True)

    def cleanup(self) -> None:
        """What the app leaves behind besides its process (a temp profile, an Xvfb). Called by
        :func:`prune` for a dead record; subclasses override it. The base record has nothing to undo."""

    def to_dict(self) -> dict[str, Any]:
        """The record flat, as ``launch --json`` prints it: the common fields and the app's ``data``."""
        common = {"pid": self.pid, "create_time": self.create_time, "log": self.log, "started": self.started}
        return {**common, **self.data}


class DataField(Generic[T]):
    """A read-only attribute that names one of a record's ``data`` fields, for typed subclasses.

    >>> class IGVRecord(Record):                      # doctest: +SKIP
    ...     genome: DataField[str | None] = DataField("genome")
    """

    def __init__(self, name: str, default: T | None = None) -> None:
        self.name, self.default = name, default

    @overload
    def __get__(self, obj: None, owner: type) -> DataField[T]: ...
    @overload
    def __get__(self, obj: Record, owner: type) -> T: ...
    def __get__(self, obj: Record | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.data.get(self.name, self.default)


def start_time(pid: int | None) -> float | None:
    """The start time psutil reports for ``pid``, or None when there is no such process."""
    if not pid:
        return None
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def new_record(
    app: str,
    key: int | str,
    pid: int,
    *,
    log: str | os.PathLike[str] | None = None,
    kind: type[R] = Record,
    **data: Any,
) -> R:
    """A record of ``pid`` (just started) with its ``create_time`` read now. Not saved yet."""
    return kind(
        app=app, key=str(key), pid=pid, create_time=start_time(pid), log=str(log) if log else None, data=data
    )


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own exited child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether ``pid`` runs (not a zombie) and is the process that started at ``create_time``.

    A record without a ``create_time`` cannot be told from a stranger, so it never counts as alive.
    """
    if not pid or create_time is None:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) >= _SAME_START:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(pid)
            return False
        return True
    except (psutil.Error, OSError):
        return False


def alive(record: Record) -> bool:
    """Whether the record's process still runs: the same pid *and* the same start time."""
    return process_alive(record.pid, record.create_time)


def wait_gone(record: Record, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the record's process to end; returns whether it did."""
    return wait_process_gone(record.pid, record.create_time, timeout)


def wait_process_gone(pid: int, create_time: float | None, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds until ``pid`` (started at ``create_time``) has ended."""
    end = time.monotonic() + timeout
    while process_alive(pid, create_time):
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal ``pid``'s process group when it leads one (tether starts apps with a new session,
    so their helpers die with them), else ``pid`` alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(pid: int | None, create_time: float | None, grace: float = 10.0) -> bool:
    """SIGTERM ``pid``'s process group, wait up to ``grace`` seconds, then SIGKILL it.

    Only while ``pid`` is still the process that started at ``create_time``: a reused pid is never
    signalled. Returns whether the process was running.
    """
    if not pid or not process_alive(pid, create_time):
        return False
    _signal_group(pid, signal.SIGTERM)
    if not wait_process_gone(pid, create_time, grace):
        if process_alive(pid, create_time):  # checked again just before the signal, not only at the start
            _signal_group(pid, signal.SIGKILL)
        wait_process_gone(pid, create_time, 5.0)
    _reap(pid)
    return True


def stop(record: Record, grace: float = 10.0) -> bool:
    """Stop the record's process (see :func:`stop_process`); returns whether it was running.

    The record itself is left as it is: :meth:`Record.remove` forgets it."""
    return stop_process(record.pid, record.create_time, grace)


def _read(path: Path, kind: type[R]) -> R | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return kind(**{k: v for k, v in raw.items() if k in Record.__dataclass_fields__})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def load(app: str, key: int | str, *, kind: type[R] = Record) -> R | None:  # type: ignore[assignment]
    """The record of ``app`` under ``key``, alive or not; None if there is none (or it is unreadable)."""
    return _read(state_dir() / app / f"{key}.json", kind)


def records(app: str, *, kind: type[R] = Record) -> list[R]:  # type: ignore[assignment]
    """Every record of ``app``, alive or not, sorted by key."""
    directory = state_dir() / app
    found = (_read(path, kind) for path in sorted(directory.glob("*.json")) if directory.is_dir())
    return [rec for rec in found if rec is not None]


def prune(app: str, *, kind: type[R] = Record) -> list[R]:  # type: ignore[assignment]
    """Drop ``app``'s records whose process is gone (running each one's :meth:`Record.cleanup`),
    remove its week-old logs, and return the records that are alive."""
    live = []
    for rec in records(app, kind=kind):
        if alive(rec):
            live.append(rec)
        else:
            rec.cleanup()
            rec.remove()
    prune_logs(app, keep={rec.log for rec in live if rec.log})
    return live


def find(app: str, key: int | str | None = None, *, what: str, kind: type[R] = Record) -> R | None:  # type: ignore[assignment]
    """The live record under ``key``, or the only live one when ``key`` is None.

    Several live records and no ``key`` is a :class:`UsageError` that lists them (``what`` names them
    in the message: "IGVs", "Firefoxes"); stale records are pruned on the way.
    """
    live = prune(app, kind=kind)
    if key is not None:
        return next((rec for rec in live if rec.key == str(key)), None)
    if len(live) > 1:
        listing = ", ".join(f"port {rec.key} (pid {rec.pid})" for rec in live)
        raise UsageError(f"tether launched {len(live)} {what}: {listing}", hint="name one with --port")
    return live[0] if live else None


def new_log(app: str) -> Path:
    """A fresh log path for an app about to be started: ``<app dir>/<app>-<our pid>-<ms>.log``."""
    return app_dir(app) / f"{app}-{os.getpid()}-{int(time.time() * 1000)}.log"


def prune_logs(app: str, keep: Iterable[str] = (), max_age: float = LOG_MAX_AGE) -> list[Path]:
    """Remove ``app``'s logs (see :func:`new_log`) older than ``max_age`` seconds, except those in
    ``keep`` (the logs of apps still running); returns what was removed."""
    keep = set(keep)
    cutoff = time.time() - max_age
    removed = []
    directory = state_dir() / app
    for log in sorted(directory.glob(f"{app}-*.log")) if directory.is_dir() else ():
        try:
            if str(log) not in keep and log.stat().st_mtime < cutoff:
                log.unlink()
                removed.append(log)
        except OSError:
            continue
    return removed


def log_tail(source: Record | str | os.PathLike[str] | None, lines: int = 10) -> str:
    """The last ``lines`` lines of a record's log (or of a log path); "" when there is none."""
    path = source.log if isinstance(source, Record) else source
    if not path:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


__all__ = [
    "LOG_MAX_AGE",
    "DataField",
    "Record",
    "alive",
    "app_dir",
    "find",
    "load",
    "log_tail",
    "new_log",
    "new_record",
    "process_alive",
    "prune",
    "prune_logs",
    "records",
    "start_time",
    "state_dir",
    "stop",
    "stop_process",
    "wait_gone",
    "wait_process_gone",
]
