"""Adapters are found through the entry-point group ``tether.adapters`` — the bundled ones too.

An adapter that fails to import or to instantiate does not break tether: it becomes an
:class:`UnavailableAdapter` stub that ``tether doctor`` lists with the reason.
``TETHER_DISABLE_PLUGIN_AUTOLOAD=1`` keeps to the bundled adapters (like pytest's switch).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from .adapter import UNKNOWN, Adapter, ProbeResult
from .errors import NotFound

GROUP = "tether.adapters"
BUNDLED = ("tether_igv", "tether_qserver", "tether_firefox")


class UnavailableAdapter(Adapter):
    """Stands in for an adapter that could not be loaded; says why."""

    def __init__(self, name: str, reason: str, target: str = "") -> None:
        self.name = name
        self.title = name
        self.reason = reason
        self.target = target
        self.default_ports = ()

    def hints(self, listener):
        return None

    def probe(self, host, port, timeout) -> ProbeResult:
        return ProbeResult(UNKNOWN, detail=f"adapter unavailable: {self.reason}")

    def connect(self, endpoint, **options):
        raise NotFound(f"the {self.name} adapter is unavailable: {self.reason}")

    def check(self) -> list[str]:
        return [self.reason]


def _is_bundled(ep: EntryPoint) -> bool:
    return ep.value.split(".", 1)[0].split(":", 1)[0] in BUNDLED


def _load(ep: EntryPoint) -> Adapter:
    try:
        cls = ep.load()
        adapter = cls()
        if not isinstance(adapter, Adapter) or not adapter.name:
            return UnavailableAdapter(ep.name, f"{ep.value} is not a tether Adapter", ep.value)
        return adapter
    except Exception as exc:  # a broken plugin must never break tether
        return UnavailableAdapter(
            ep.name, f"failed to load {ep.value}: {type(exc).__name__}: {exc}", ep.value
        )


@lru_cache(maxsize=1)
def adapters() -> tuple[Adapter, ...]:
    """All adapters, bundled first, in a stable order; broken ones as stubs."""
    eps = list(entry_points(group=GROUP))
    if os.environ.get("TETHER_DISABLE_PLUGIN_AUTOLOAD"):
        eps = [ep for ep in eps if _is_bundled(ep)]
    seen: dict[str, Adapter] = {}
    for ep in sorted(eps, key=lambda e: (not _is_bundled(e), e.name)):
        if ep.name in seen:
            continue
        seen[ep.name] = _load(ep)
    return tuple(seen.values())


def get(name: str) -> Adapter:
    for adapter in adapters():
        if adapter.name == name:
            return adapter
    known = ", ".join(a.name for a in adapters()) or "none"
    raise NotFound(f"no adapter named {name!r} (known: {known})")


def usable() -> tuple[Adapter, ...]:
    return tuple(a for a in adapters() if not isinstance(a, UnavailableAdapter))
