"""Adapters are found through the entry-point group ``tether.adapters`` — the bundled ones too.

The core names no adapter: the bundled adapters are the entry points that tether's own
distribution declares (its ``pyproject.toml``), third-party ones come from other
distributions, through the same road (pytest's and pluggy's model).

- An adapter is **validated when loaded** (pluggy's ``_verify_hook``): a subclass of
  :class:`~tether.adapter.Adapter` whose ``name`` is the entry point's name, with a ``title``,
  ``default_ports`` of valid port numbers, ``settings`` of :class:`~tether.adapter.Setting`, and
  the contract's methods callable. One that fails to import, instantiate or validate does not
  break tether: it becomes an :class:`UnavailableAdapter` stub that ``tether doctor`` lists
  with the reason.
- ``TETHER_DISABLE_PLUGIN_AUTOLOAD=1`` keeps to the bundled adapters (like pytest's switch);
  ``TETHER_DISABLE_ADAPTERS=a,b`` blocks adapters by name (pluggy's ``set_blocked``).
- :func:`distribution` says which distribution (and version) each adapter came from.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from .adapter import Adapter, ProbeResult, Setting, Verdict
from .errors import NotFound

if TYPE_CHECKING:  # pragma: no cover
    from importlib.metadata import EntryPoint

GROUP = "tether.adapters"
#: tether's own distribution: its entry points are the bundled adapters
CORE_DISTRIBUTION = "tether"
CONTRACT = ("hints", "probe", "connect", "attach", "locate", "cli", "check", "extra_listeners",
            "version_hint", "banner")  # fmt: skip


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
        return ProbeResult(Verdict.UNKNOWN, detail=f"adapter unavailable: {self.reason}")

    def connect(self, endpoint, **options):
        raise NotFound(f"the {self.name} adapter is unavailable: {self.reason}")

    def check(self) -> list[str]:
        return [self.reason]


def _dist_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _is_bundled(ep: EntryPoint) -> bool:
    return (_dist_name(ep) or "").lower() == CORE_DISTRIBUTION


def validate(adapter: object, name: str) -> str | None:
    """What is wrong with ``adapter`` as the entry point ``name`` (``None``: it keeps the contract)."""
    if not isinstance(adapter, Adapter):
        return f"{type(adapter).__name__} is not a tether Adapter"
    if adapter.name != name:
        return f"its name {adapter.name!r} is not the entry point's name {name!r}"
    if not adapter.title or not isinstance(adapter.title, str):
        return "it has no title"
    ports = adapter.default_ports
    if not isinstance(ports, tuple) or not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
        return f"default_ports must be a tuple of port numbers, not {ports!r}"
    if not all(isinstance(s, Setting) for s in adapter.settings):
        return "settings must be tether.adapter.Setting objects"
    missing = [m for m in CONTRACT if not callable(getattr(adapter, m, None))]
    if missing:
        return f"it lacks the contract's methods: {', '.join(missing)}"
    if type(adapter).probe is Adapter.probe or type(adapter).connect is Adapter.connect:
        return "it does not implement probe() and connect()"
    return None


def _load(ep: EntryPoint) -> Adapter:
    try:
        adapter = ep.load()()
    except Exception as exc:  # a broken plugin must never break tether
        return UnavailableAdapter(
            ep.name, f"failed to load {ep.value}: {type(exc).__name__}: {exc}", ep.value
        )
    problem = validate(adapter, ep.name)
    if problem:
        return UnavailableAdapter(ep.name, f"{ep.value} breaks the adapter contract: {problem}", ep.value)
    return adapter


def _blocked() -> set[str]:
    return {n.strip() for n in os.environ.get("TETHER_DISABLE_ADAPTERS", "").split(",") if n.strip()}


@lru_cache(maxsize=1)
def _entry_points() -> tuple[EntryPoint, ...]:
    from importlib.metadata import entry_points

    return tuple(entry_points(group=GROUP))


@lru_cache(maxsize=1)
def adapters() -> tuple[Adapter, ...]:
    """All adapters, bundled first, in a stable order; broken ones as stubs; blocked ones left out."""
    eps = list(_entry_points())
    if os.environ.get("TETHER_DISABLE_PLUGIN_AUTOLOAD"):
        eps = [ep for ep in eps if _is_bundled(ep)]
    blocked = _blocked()
    seen: dict[str, Adapter] = {}
    for ep in sorted(eps, key=lambda e: (not _is_bundled(e), e.name)):
        if ep.name in seen or ep.name in blocked:
            continue
        seen[ep.name] = _load(ep)
    return tuple(seen.values())


def distribution(name: str) -> dict[str, str | bool | None]:
    """Where adapter ``name`` comes from: ``{"distribution", "version", "bundled"}``."""
    for ep in _entry_points():
        if ep.name == name:
            dist = getattr(ep, "dist", None)
            return {
                "distribution": _dist_name(ep),
                "version": dist.version if dist is not None else None,
                "bundled": _is_bundled(ep),
            }
    return {"distribution": None, "version": None, "bundled": False}


def get(name: str) -> Adapter:
    for adapter in adapters():
        if adapter.name == name:
            return adapter
    known = ", ".join(a.name for a in adapters()) or "none"
    why = " (blocked by $TETHER_DISABLE_ADAPTERS)" if name in _blocked() else ""
    raise NotFound(f"no adapter named {name!r}{why} (known: {known})")


def usable() -> tuple[Adapter, ...]:
    return tuple(a for a in adapters() if not isinstance(a, UnavailableAdapter))
