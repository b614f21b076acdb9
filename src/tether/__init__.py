"""tether: find the apps listening on this machine's ports, prove which app each is, and drive it.

>>> import tether
>>> for ep in tether.scan():                                    # doctest: +SKIP
...     print(ep.app, ep.port, ep.pid, ep.confidence)
>>> igv = tether.connect("igv")                                 # doctest: +SKIP
>>> igv.goto("chr1:100,000-200,000")                             # doctest: +SKIP

Importing tether is cheap: requests, selenium and websocket-client are imported only by
the adapter code that needs them, and ``connect``/``find``/``scan``/``verify`` load the
discovery machinery (sockets, thread pools, the registry) at first use — so that an
adapter's ``import tether`` and ``tether --help`` do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .endpoint import Endpoint, Listener
from .errors import (
    AmbiguousTarget,
    AuthError,
    Busy,
    Closed,
    CommandError,
    HandshakeRefused,
    HttpError,
    NotFound,
    ProtocolError,
    TetherError,
    Timeout,
    UnknownApp,
    Unreachable,
    UsageError,
    WrongApp,
)

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .api import connect, find, scan, verify

_API = ("connect", "find", "scan", "verify")


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext tether``: the line magics ``%tether``, ``%igv``, ``%firefox``, ``%qserver`` …"""
    from .ipython import load

    load(ipython)


__all__ = [
    "AmbiguousTarget",
    "AuthError",
    "Busy",
    "Closed",
    "CommandError",
    "Endpoint",
    "HandshakeRefused",
    "HttpError",
    "Listener",
    "NotFound",
    "ProtocolError",
    "TetherError",
    "Timeout",
    "UnknownApp",
    "Unreachable",
    "UsageError",
    "WrongApp",
    "__version__",
    "connect",
    "find",
    "scan",
    "verify",
]
