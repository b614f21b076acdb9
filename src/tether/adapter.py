"""The Adapter contract: what an app adapter gives the core.

An adapter is a small class, registered in the entry-point group ``tether.adapters``::

    class IGVAdapter(Adapter):
        name, title, default_ports = "igv", "IGV", (60151,)
        def hints(self, listener): ...          # cheap evidence, no socket traffic
        def probe(self, host, port, timeout):   # safe, side-effect-free protocol check
            ...
        def connect(self, endpoint, **options): # the adapter's client
            ...
        def cli(self):                          # a typer.Typer mounted as ``tether igv``
            ...

Importing an adapter module must be cheap: heavy libraries (requests, selenium,
websocket) are imported inside the methods that need them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .endpoint import Endpoint, Listener
from .errors import Timeout, Unreachable

if TYPE_CHECKING:  # pragma: no cover
    import typer

# Probe verdicts.
VERIFIED = "verified"  # the protocol answered as this app
BUSY = "busy"  # the port accepted, then closed or stayed silent: another client holds it
NOT_ME = "not-me"  # something answered, and it is not this app
UNREACHABLE = "unreachable"  # nothing accepted the connection (refused, unroutable)
UNKNOWN = "unknown"  # inconclusive (e.g. a timeout where the app cannot be told from others)


@dataclass
class Hint:
    """Cheap evidence that a listener may be this adapter's app.

    ``strength``: ``port`` (default port only), ``process`` (process name/command line),
    ``file`` (a file the app writes names this port). Several reasons may add up.
    """

    reason: str
    strength: str = "port"

    _ORDER: ClassVar[dict[str, int]] = {"port": 0, "process": 1, "file": 2}

    def stronger(self, other: Hint | None) -> Hint:
        if other is None:
            return self
        mine, theirs = self._ORDER.get(self.strength, 0), self._ORDER.get(other.strength, 0)
        best = self if mine >= theirs else other
        reasons = "; ".join(r for r in (other.reason, self.reason) if r)
        return Hint(reason=reasons, strength=best.strength)


@dataclass
class ProbeResult:
    verdict: str
    version: str | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def connect_failed(exc: Unreachable) -> ProbeResult:
    """The verdict of a probe that could not even connect.

    A refusal means nothing listens there (``unreachable``); a connect that timed out says
    nothing about the app (a filtered or overloaded port), so it is ``unknown``, never absent.
    """
    if isinstance(exc, Timeout):
        return ProbeResult(UNKNOWN, detail="connect timed out")
    return ProbeResult(UNREACHABLE, detail=exc.message)


class Adapter:
    """Base class of app adapters. Subclasses set ``name``, ``title``, ``default_ports``."""

    name: str = ""
    title: str = ""
    default_ports: tuple[int, ...] = ()
    #: short human description for ``tether doctor``
    description: str = ""

    # -- detection ---------------------------------------------------------------------
    def hints(self, listener: Listener) -> Hint | None:
        """Evidence from the port, the owning process and files the app writes. No I/O on the socket."""
        if listener.port in self.default_ports:
            return Hint(f"default port {listener.port}", "port")
        return None

    def extra_listeners(self, listeners: list[Listener]) -> Iterable[Listener]:
        """Listeners the socket table may not show (ports named in files the app writes).

        Called once per scan with what discovery found; yield ``Listener`` objects with
        ``source="file"``. Default: none.
        """
        return ()

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:  # pragma: no cover
        """Safe, side-effect-free check of the live protocol within ``timeout`` seconds.

        Must never raise: map every failure to a verdict.
        """
        raise NotImplementedError

    def version_hint(self, listener: Listener) -> str | None:
        """The app's version from its process (binary, jar) when the protocol does not tell it."""
        return None

    def banner(self, data: bytes) -> ProbeResult | None:
        """Match the bytes an app sends unasked on connect (nmap's NULL probe). Default: no match."""
        return None

    # -- use ---------------------------------------------------------------------------
    def connect(self, endpoint: Endpoint, **options: Any) -> Any:  # pragma: no cover
        """Return the adapter's client for a verified endpoint."""
        raise NotImplementedError

    def attach(self, host: str | None, port: int | None, *, timeout: float = 2.0, **options: Any) -> Any:
        """Find the app (or verify ``host``/``port``) and return its client: ``tether.connect``'s work.

        ``timeout`` bounds the scan and the probe. Override it where the app needs more than
        that, e.g. a short retry while a single-client slot frees up after another client left.
        """
        from .api import find

        return self.connect(find(self.name, host, port, timeout=timeout), **options)

    def cli(self) -> typer.Typer | None:
        """The adapter's typer sub-app, mounted as ``tether <name>``."""
        return None

    # -- doctor ------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems that keep the adapter from working fully (missing optional tools). Default: none."""
        return []
