"""What discovery finds (:class:`Listener`) and what identification concludes (:class:`Endpoint`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Confidence(str, Enum):
    """How sure tether is that an endpoint is the app it names, strongest first.

    A ``str`` Enum: it compares equal to, and serialises as, its value (``"verified"`` …).
    """

    VERIFIED = "verified"  # the protocol answered as the app
    BUSY = "busy"  # the app's port accepted, then closed or stayed silent: another client holds it
    HINTED = "hinted"  # evidence (port, process, files) but no protocol answer
    UNKNOWN = "unknown"  # no adapter claims it

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """0 for the strongest (verified) … 3 for unknown: the order scans list endpoints in."""
        return list(Confidence).index(self)


LOOPBACK_V4 = "127.0.0.1"
LOOPBACK_V6 = "::1"
WILDCARDS = {"0.0.0.0": LOOPBACK_V4, "::": LOOPBACK_V6, "": LOOPBACK_V4, "*": LOOPBACK_V4}


def bind_scope(bind: str) -> str:
    """``local`` for loopback binds, ``public`` for wildcard binds, else ``address``."""
    if bind in WILDCARDS:
        return "public"
    if bind.startswith("127.") or bind == LOOPBACK_V6 or bind == "localhost":
        return "local"
    return "address"


def connect_host(bind: str) -> str:
    """The address to connect to for a listener bound to ``bind`` (wildcards map to loopback).

    ``::`` maps to ``127.0.0.1``: a dual-stack wildcard socket accepts v4-mapped
    connections, and apps such as Marionette bind IPv4 only.
    """
    if bind in ("0.0.0.0", "::", "", "*"):
        return LOOPBACK_V4
    if bind.startswith("::ffff:"):
        return bind[len("::ffff:") :]
    return bind


@dataclass
class Listener:
    """A listening TCP socket, with its owning process when we could see it."""

    host: str  # the address to connect to
    port: int
    bind: str = ""  # the address as bound (0.0.0.0, ::, 127.0.0.1 …)
    family: str = "ipv4"
    pid: int | None = None
    process: str | None = None
    cmdline: list[str] = field(default_factory=list)
    username: str | None = None
    #: how we came to know it: ``listing`` (socket table), ``default-port`` (an adapter's
    #: default, tried even when unlisted), ``file`` (a file the app writes), ``explicit``.
    source: str = "listing"
    note: str | None = None  # e.g. why pid is unknown

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Endpoint:
    """An app found on a port, and how sure we are it is that app."""

    app: str | None
    host: str
    port: int
    title: str | None = None
    version: str | None = None
    bind: str = ""
    pid: int | None = None
    process: str | None = None
    confidence: Confidence = Confidence.UNKNOWN
    detail: str = ""
    cmdline: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.confidence == Confidence.VERIFIED

    @property
    def address(self) -> str:
        if self.host.startswith("ssh://"):  # a port on another machine, as a scan over ssh lists it
            return f"{self.host} port {self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape scripts rely on (``tether scan --json``)."""
        return {
            "app": self.app,
            "title": self.title,
            "version": self.version,
            "host": self.host,
            "port": self.port,
            "bind": self.bind,
            "scope": bind_scope(self.bind) if self.bind else None,
            "pid": self.pid,
            "process": self.process,
            "confidence": str(self.confidence),
            "detail": self.detail,
            "cmdline": self.cmdline,
            **({"extra": self.extra} if self.extra else {}),
        }
