"""``Timeouts``: every time limit of a Firefox client in one value (seconds throughout).

Before, :class:`~tether_firefox.client.Firefox` took seven separate time settings — ``timeout``,
``page_load_timeout``, ``script_timeout``, ``implicit_wait``, ``connect_timeout``, ``busy_wait``
and the module's ``MARGIN`` — each documented in a different place. They are now the fields of
one frozen value:

>>> from tether_firefox import Firefox, Timeouts
>>> ff = Firefox(port=2828, timeouts=Timeouts(command=10, expect=2))       # doctest: +SKIP
>>> ff.timing.command, ff.timing.page_load                                  # doctest: +SKIP
(10, None)

The old keywords still work (``Firefox(timeout=10, page_load_timeout=60)``) and set the same
fields: ``timeout`` -> ``command``, ``page_load_timeout`` -> ``page_load``, ``script_timeout`` ->
``script``, ``implicit_wait`` -> ``implicit``, ``connect_timeout`` -> ``connect``, ``busy_wait``
stays. ``tether.connect("firefox", timeout=…)`` and every CLI command's ``--timeout`` set
``command``. The running deadline of a CLI command (``budget``) is not a setting: it is the
``--timeout`` already counting down, and it caps each of these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tether.errors import UsageError

#: the old keyword of each field (``Firefox(page_load_timeout=…)`` …)
LEGACY = {
    "timeout": "command",
    "page_load_timeout": "page_load",
    "script_timeout": "script",
    "implicit_wait": "implicit",
    "connect_timeout": "connect",
    "busy_wait": "busy_wait",
}

#: Firefox's own session timeouts, in the milliseconds ``WebDriver:SetTimeouts`` names them by
SESSION_KEYS = {"page_load": "pageLoad", "script": "script", "implicit": "implicit"}


@dataclass(frozen=True)
class Timeouts:
    """Every time limit of a :class:`~tether_firefox.client.Firefox`, in seconds.

    - ``command``: the deadline of each command Firefox answers at once; also how long an element
      action (``click``, ``type``, ``hover`` …) waits for its element to become actionable.
    - ``expect``: how long ``expect`` retries before it fails (Playwright's default, 5 s).
    - ``page_load``, ``script``, ``implicit``: Firefox's own session timeouts (page loads, scripts,
      the implicit wait of element searches) asked for at ``NewSession``; ``None`` keeps
      Firefox's (300 s, 30 s, 0).
    - ``margin``: how much longer than those the client waits for Firefox's answer (Firefox
      reports its own timeout first, with its own message).
    - ``connect``: opening the TCP connection and reading Marionette's greeting.
    - ``busy_wait``: how long to retry while Firefox refuses a new client because a session just
      ended (it frees the slot a moment later).
    """

    command: float = 30.0
    expect: float = 5.0
    page_load: float | None = None
    script: float | None = None
    implicit: float | None = None
    margin: float = 5.0
    connect: float = 5.0
    busy_wait: float = 3.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in SESSION_KEYS:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError(f"Firefox timeout {f.name} must be a number of seconds, not {value!r}")
            least = 0.0 if f.name in ("busy_wait", "implicit", "margin") else 0.001
            if value < least:
                raise UsageError(
                    f"Firefox timeout {f.name} must be {'>= 0' if least == 0 else '> 0'}, not {value!r}"
                )

    @classmethod
    def of(cls, value: Timeouts | Mapping[str, Any] | float | None = None, **legacy: Any) -> Timeouts:
        """A ``Timeouts`` from what a caller gives: one already made, a mapping of its fields, a
        number (``command``) or nothing (the defaults); then the old keywords that are not None
        (``timeout=``, ``page_load_timeout=`` …, see :data:`LEGACY`) on top."""
        if value is None:
            base = cls()
        elif isinstance(value, Timeouts):
            base = value
        elif isinstance(value, Mapping):
            unknown = set(value) - {f.name for f in fields(cls)}
            if unknown:
                raise UsageError(f"unknown Firefox timeouts: {', '.join(sorted(unknown))}")
            base = cls(**value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            base = cls(command=value)
        else:
            raise UsageError(f"timeouts must be a Timeouts, a mapping or seconds, not {value!r}")
        changes = {}
        for old, new in LEGACY.items():
            given = legacy.pop(old, None)
            if given is not None:
                changes[new] = given
        if legacy:
            raise TypeError(f"unexpected keyword arguments: {', '.join(legacy)}")
        return replace(base, **changes) if changes else base

    def with_(self, **changes: Any) -> Timeouts:
        """A copy with some fields changed (``ff.timing.with_(command=5)``)."""
        return replace(self, **changes)

    def session(self) -> dict[str, int]:
        """Firefox's session timeouts asked for at ``NewSession``, in milliseconds (only those set)."""
        return {wire: int(getattr(self, name) * 1000) for name, wire in SESSION_KEYS.items()
                if getattr(self, name) is not None}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["LEGACY", "Timeouts"]
