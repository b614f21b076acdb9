"""The files of the machine being looked at, as adapters' hints and version hints read them.

Hints read files an app wrote: Firefox's ``<profile>/MarionetteActivePort``, IGV's
``prefs.properties``, an install's ``application.ini``. A scan of this machine reads them here;
a scan of another machine over SSH (:mod:`tether.remote`) reads them *there*, through the same
adapter code: adapters call :func:`current` and never ``open`` such a file themselves.

>>> from tether import hostfiles
>>> text = hostfiles.current().read_text("/etc/hostname", limit=256)     # doctest: +SKIP
>>> with hostfiles.looking_at(other):            # what tether.remote does  # doctest: +SKIP
...     hints_for(listener, adapters)

A file that is missing, unreadable or larger than ``limit`` reads as ``None``: a hint source
never raises. Paths are the looked-at machine's (``str`` or ``PurePosixPath``); a process walk
or a socket lookup is always this machine's, so an adapter skips those when :attr:`Files.remote`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

#: The most a hint reads of one file unless it asks for more (prefs, ini and port files are tiny).
MAX_BYTES = 1 << 20


class Files:
    """This machine's files: the default of :func:`current`."""

    #: Whether the files are another machine's (then process walks and sockets here say nothing of it).
    remote = False
    #: Where the files are, for messages.
    where = "this machine"

    def read_text(self, path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> str | None:
        """The file's text (UTF-8, undecodable bytes replaced), or ``None``."""
        data = self.read_bytes(path, limit=limit)
        return None if data is None else data.decode("utf-8", "replace")

    def home(self) -> str:
        """The user's home directory (``$HOME``)."""
        return os.environ.get("HOME") or os.path.expanduser("~")

    def readlink(self, path: str | os.PathLike[str]) -> str | None:
        """Where the symbolic link ``path`` points (``/proc/PID/exe``), or ``None``."""
        try:
            return os.readlink(path)
        except OSError:
            return None

    def which(self, name: str) -> str | None:
        """The command ``name`` looked up on ``$PATH``, or ``None``."""
        import shutil

        return shutil.which(name)

    def realpath(self, path: str) -> str:
        """``path`` with its symbolic links resolved (as far as they resolve)."""
        return os.path.realpath(path)

    def behind(self, port: int) -> tuple[int, int | None, list[str]] | None:
        """For a local ``port`` forwarded from the machine looked at: the port there, and the pid
        and command line of its owner there (``None``, ``[]`` when unseen). ``None``: no forward
        (this machine: ``port`` is the app's own, its owner found the usual way)."""
        return None

    # -- what a client that has an app write a file there needs (IGV's snapshot over SSH) -------
    def read_bytes(self, path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> bytes | None:
        """The file's bytes (never cached), or ``None``: missing, unreadable, over ``limit``."""
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except OSError:
            return None
        return data if len(data) <= limit else None

    def temp_dir(self) -> str:
        """A new private directory (0700) for the app to write into; :meth:`remove` it after."""
        import tempfile

        return tempfile.mkdtemp(prefix="tether-")

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Remove a file, or an empty directory; nothing when it is gone already."""
        try:
            if os.path.isdir(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass


LOCAL = Files()
_MACHINES: dict[str, Files] = {}
_CURRENT: ContextVar[Files] = ContextVar("tether_hostfiles", default=LOCAL)


def current() -> Files:
    """The files of the machine being looked at: this machine's unless :func:`looking_at` says other."""
    return _CURRENT.get()


@contextmanager
def looking_at(files: Files) -> Iterator[Files]:
    """Within the block (this thread, this context), :func:`current` is ``files``."""
    token = _CURRENT.set(files)
    try:
        yield files
    finally:
        _CURRENT.reset(token)


def register(url: str, files: Files) -> None:
    """Name the files of the machine at ``url`` (an ``ssh://`` URL) for :func:`machine`: what
    :mod:`tether.remote` does when it hands out an endpoint forwarded from there."""
    _MACHINES[url] = files


def machine(url: str | None) -> Files | None:
    """The files of the machine at ``url`` (``None``: this one), if this process reached it."""
    return LOCAL if url is None else _MACHINES.get(url)


def within(files: Files, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` with :func:`current` set to ``files``: for work handed to another thread,
    which does not inherit the caller's context."""
    if files is LOCAL and _CURRENT.get() is LOCAL:
        return fn(*args)
    with looking_at(files):
        return fn(*args)


__all__ = ["LOCAL", "MAX_BYTES", "Files", "current", "looking_at", "machine", "register", "within"]
