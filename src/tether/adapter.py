"""THE adapter API: everything an adapter needs from the core, in one module.

An adapter is a small class, registered in the entry-point group ``tether.adapters``::

    class IGVAdapter(Adapter):
        name, title, default_ports = "igv", "IGV", (60151,)
        def hints(self, listener): ...              # cheap evidence, no socket traffic
        def probe(self, host, port, timeout):       # safe, side-effect-free protocol check
            ...
        def connect(self, endpoint, **options):     # the adapter's client
            ...
        def cli(self):                              # a typer.Typer mounted as ``tether igv``
            ...

What this module gives an adapter: :class:`Adapter`, :class:`Hint`, :class:`ProbeResult`,
:class:`Verdict`, :class:`Setting` (settings the core resolves from flags, environment and
config file), :class:`Finding` (what its ``audit`` hook reports to ``tether audit``),
:func:`connect_failed`, :func:`raise_for_verdict`, :func:`is_loopback`, and
:class:`~tether.deadline.Deadline` / :class:`~tether.endpoint.Confidence` re-exported. The socket
table (``listener_pid``) is :mod:`tether.discovery`'s; transports are in :mod:`tether.transport`;
an adapter's ``cli.py`` declares its commands with :mod:`tether.cli.command`.
:func:`tether.testing.check_adapter` is the executable form of this contract.

Importing an adapter module must be cheap: heavy libraries (requests, selenium,
websocket) are imported inside the methods that need them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from .deadline import Deadline
from .endpoint import Confidence, Endpoint, Listener
from .errors import Busy, NotFound, Timeout, Unreachable, UsageError, WrongApp

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from .findings import Finding


def __getattr__(name: str) -> Any:
    # Finding (what ``audit`` returns) loads at first use: commands and scans never need it
    if name == "Finding":
        from .findings import Finding

        return Finding
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Verdict(str, Enum):
    """What a probe concluded. A ``str`` Enum: ``Verdict.BUSY == "busy"``."""

    VERIFIED = "verified"  # the protocol answered as this app
    BUSY = "busy"  # the port accepted, then closed or stayed silent: another client holds it
    NOT_ME = "not-me"  # something answered, and it is not this app
    UNREACHABLE = "unreachable"  # nothing accepted the connection (refused, unroutable)
    UNKNOWN = "unknown"  # inconclusive (e.g. a timeout where the app cannot be told from others)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Setting:
    """A setting an adapter declares; the core resolves it the same way for ``tether.connect``
    and the CLI: the flag (or keyword argument) first, then the environment variables named in
    ``env`` (the app's own, e.g. ``QSERVER_HTTP_SERVER_URI``), then ``TETHER_<APP>_<NAME>``, then
    ``[<app>] <name>`` in the config file, else ``default``.

    ``secret`` settings are never printed or logged (``-v`` output masks them).
    ``kind`` is ``str``, ``bool``, ``int``, ``float`` or ``path``: the CLI option's type.
    """

    name: str
    help: str
    env: tuple[str, ...] = ()
    secret: bool = False
    kind: str = "str"
    default: Any = None
    flag: str | None = None  # default: --<name with dashes>

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


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
    verdict: Verdict
    version: str | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: the endpoint's title when it is not the adapter's (one adapter, two doors: an HTTP server
    #: and the manager's own 0MQ socket)
    title: str | None = None


def connect_failed(exc: Unreachable) -> ProbeResult:
    """The verdict of a probe that could not even connect.

    A refusal means nothing listens there (``unreachable``); a connect that timed out says
    nothing about the app (a filtered or overloaded port), so it is ``unknown``, never absent.
    """
    if isinstance(exc, Timeout):
        return ProbeResult(Verdict.UNKNOWN, detail="connect timed out")
    return ProbeResult(Verdict.UNREACHABLE, detail=exc.message)


class Adapter:
    """Base class of app adapters. Subclasses set ``name``, ``title``, ``default_ports``."""

    name: str = ""
    title: str = ""
    default_ports: tuple[int, ...] = ()
    #: settings the core resolves for ``connect`` (flags > environment > config file)
    settings: tuple[Setting, ...] = ()
    #: short human description for ``tether doctor``
    description: str = ""
    #: ``tether audit``: the severity of the core's finding when this app's port is bound to a
    #: non-loopback address (``None``: no such generic finding; the adapter's ``audit`` may report
    #: its own), and the fix it names (``{port}`` is replaced by the port)
    exposure_severity: str | None = None
    exposure_fix: str = (
        "bind the app to 127.0.0.1, or block port {port} from other machines with a firewall rule"
    )

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
        """Safe, side-effect-free check of the live protocol within ``timeout`` seconds (one
        overall :class:`Deadline` for connect, send and every read).

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

    def locate(
        self, host: str | None, port: int | None, settings: dict[str, Any], timeout: float
    ) -> Endpoint | None:
        """A verified endpoint from the adapter's own settings (a URL with a path prefix), or
        ``None`` to let the core scan or probe ``host``/``port``. Default: ``None``.
        Must verify what it returns (``raise_for_verdict``), as the core does."""
        return None

    def attach(
        self, locate: Callable[[], Endpoint], *, deadline: Deadline | None = None, **options: Any
    ) -> Any:
        """The client for the endpoint ``locate()`` verifies: ``tether.connect``'s last step, and
        every command's (``Target.client``). The core hands over *when* to look: it never
        scans or probes first, so an adapter decides here what its app needs.

        ``locate`` scans (or probes an explicit address) each time it is called and raises the
        typed error when nothing verified answers (``Busy`` for a held app: retry it here if
        the app frees up quickly). ``deadline`` is the command's one budget, started before
        anything (the scan or probe included), or ``None``: the client's own deadlines.
        ``options`` are the resolved settings and the caller's client options. The default
        locates at once and gives the client what the lookup left of ``deadline`` as its
        ``timeout``. Override it where the app needs more: a short retry while a
        single-client slot frees up (Firefox), or a client that looks only at its first
        command, so bad input is refused before any connection (IGV's CLI).
        """
        endpoint = locate()
        if deadline is not None:
            options["timeout"] = deadline.remaining(0.25)
        return self.connect(endpoint, **options)

    def cli(self) -> typer.Typer | None:
        """The adapter's typer sub-app, mounted as ``tether <name>``."""
        return None

    # -- audit -------------------------------------------------------------------------
    def audit(self, endpoint: Endpoint) -> list[Finding]:
        """``tether audit``: what lets someone else drive the app at ``endpoint``, as findings.

        Called for every endpoint a scan finds: this adapter's own (``endpoint.app == self.name``)
        and those no adapter claims (``endpoint.app is None``, with their process's command
        line), so an app the adapter does not drive yet can still be reported; return ``[]`` for
        the rest. Read only the socket table, the process (command line, environment), the
        app's files, and requests that change nothing; never a secret's value in the evidence.
        A non-loopback bind is reported by the core when ``exposure_severity`` is set.
        Default: none.
        """
        return []

    # -- doctor ------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems that keep the adapter from working fully (missing optional tools). Default: none."""
        return []


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    """``host`` if it can name a machine (an IP address, or a name IDNA can encode), else
    :class:`UsageError`: ``exa..mple`` or a 64-character label is bad input, not a failed probe."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    try:
        if not host or any(c.isspace() or c in "/\\@?#" for c in host):
            raise UnicodeError("empty, or holds a space or a URL character")
        host.encode("idna")
    except UnicodeError as exc:
        reason = str(exc).split("(")[-1].rstrip(")") if "(" in str(exc) else str(exc)
        reason = reason.removeprefix("UnicodeError: ")
        raise UsageError(f"{host[:80]!r} is not a valid host name: {reason}") from None
    return host


def raise_for_verdict(res: ProbeResult, *, title: str, where: str, host: str, port: int) -> None:
    """Raise the typed error for a probe that did not verify ``title`` at ``where``; return if it did.

    busy -> :class:`Busy`; another app -> :class:`WrongApp`; nothing listening -> :class:`NotFound`;
    anything else -> :class:`Unreachable`. Adapters that verify addresses of their own (a URL
    with a path prefix) use it too, so every adapter says the same thing the same way.
    """
    if res.verdict == Verdict.VERIFIED:
        return
    if res.verdict == Verdict.BUSY:
        raise Busy(
            f"{title} at {where} is busy: {res.detail or 'another client holds it'}",
            hint="close the other client (or wait for it) and try again",
            host=host,
            port=port,
        )
    if res.verdict == Verdict.NOT_ME:
        raise WrongApp(
            f"{where} does not answer as {title}" + (f": {res.detail}" if res.detail else ""),
            host=host,
            port=port,
        )
    if res.verdict == Verdict.UNREACHABLE:
        raise NotFound(
            f"{title} not found: nothing accepts connections on {where}",
            looked_at=[where],
            hint=f"start {title}, or name its address (--port, --host)",
        )
    raise Unreachable(
        f"{title} at {where} did not answer the probe: {res.detail or 'no reply'}",
        host=host,
        port=port,
    )


__all__ = [
    "Adapter",
    "Confidence",
    "Deadline",
    "Finding",
    "Hint",
    "ProbeResult",
    "Setting",
    "Verdict",
    "check_host",
    "connect_failed",
    "is_loopback",
    "raise_for_verdict",
]
