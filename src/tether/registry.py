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
  ``TETHER_DISABLE_ADAPTERS=a,b`` (or ``disable_adapters`` in the config file's ``[tether]``
  table) blocks adapters by name (pluggy's ``set_blocked``); :func:`disabled` says which, and why.
- :func:`distribution` says which distribution (and version) each adapter came from.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from .adapter import Adapter, ProbeResult, Setting, Verdict
from .errors import NotFound, TetherError, UnknownApp

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


class _EntryPoint:
    """An entry point read straight from a distribution's ``entry_points.txt``: what
    ``importlib.metadata.EntryPoint`` gives tether (``name``, ``value``, ``load()``) and the
    distribution's name and version, without importing ``importlib.metadata`` (17-24 ms, on
    every command)."""

    __slots__ = ("dist_name", "dist_version", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist_name: str, dist_version: str | None) -> None:
        self.name, self.value, self.group = name, value, group
        self.dist_name, self.dist_version = dist_name, dist_version

    def load(self) -> object:
        from importlib import import_module

        module, _, attrs = self.value.partition(":")
        obj = import_module(module.strip())
        for attr in filter(None, attrs.split("[", 1)[0].strip().split(".")):
            obj = getattr(obj, attr)
        return obj

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def _dist_name(ep: EntryPoint | _EntryPoint) -> str | None:
    if isinstance(ep, _EntryPoint):
        return ep.dist_name
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _is_bundled(ep: EntryPoint) -> bool:
    return _normalized(_dist_name(ep) or "") == CORE_DISTRIBUTION


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


def disabled() -> dict[str, str]:
    """The adapters switched off, each with the setting that does it: ``$TETHER_DISABLE_ADAPTERS``
    (``a,b``), else ``disable_adapters`` in the config file's ``[tether]`` table (a list, or
    ``"a,b"``). The environment wins, as for every setting: ``TETHER_DISABLE_ADAPTERS=`` (empty)
    enables every adapter the file disables."""
    env = os.environ.get("TETHER_DISABLE_ADAPTERS")
    if env is not None:
        return {n: f"$TETHER_DISABLE_ADAPTERS={env}" for n in _names(env)}
    from . import config

    try:
        value = config.load().get("tether", {}).get("disable_adapters")
    except (AttributeError, TetherError):  # not a table, or a broken file: the commands say so
        return {}
    names = _names(value if isinstance(value, str) else ",".join(map(str, value or ())))
    where = f"disable_adapters in [tether] of {config.config_path()}"
    return {n: where for n in names}


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _blocked() -> set[str]:
    return set(disabled())


def _normalized(name: str) -> str:
    return "-".join(n for n in name.lower().replace("_", "-").replace(".", "-").split("-") if n)


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of ``[group]`` in an ``entry_points.txt`` (an INI file)."""
    out, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            inside = line == f"[{group}]"
            continue
        if inside and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def _read_entry_points(group: str) -> tuple[_EntryPoint, ...] | None:
    """The entry points of ``group`` as ``importlib.metadata.entry_points(group=...)`` finds them
    — every ``*.dist-info``/``*.egg-info`` directory on ``sys.path``, the first distribution of a
    name winning — read afresh on every call (no cache to go stale). ``None`` where only
    ``importlib.metadata`` knows the way: a zip or egg file on the path, or an import hook that
    provides distributions of its own."""
    import sys

    if any(
        getattr(finder, "find_distributions", None) is not None
        and getattr(finder, "__name__", "") != "PathFinder"
        for finder in sys.meta_path
    ):
        return None
    seen: set[str] = set()
    found: list[_EntryPoint] = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                names = sorted(e.name for e in it if e.name.endswith((".dist-info", ".egg-info")))
        except NotADirectoryError:
            return None  # a zip on sys.path
        except OSError:
            continue
        for dirname in names:
            stem = dirname.rsplit(".", 1)[0]
            dist, _, version = stem.partition("-")
            key = _normalized(dist)
            if key in seen:
                continue
            path = os.path.join(entry or ".", dirname)
            if not os.path.isdir(path):
                return None  # an egg-info file: let importlib.metadata read it
            seen.add(key)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if f"[{group}]" not in text:
                continue
            version = version.split("-", 1)[0] or None
            found.extend(_EntryPoint(n, v, group, dist, version) for n, v in _section(text, group))
    return tuple(found)


@lru_cache(maxsize=1)
def _entry_points() -> tuple[EntryPoint | _EntryPoint, ...]:
    found = _read_entry_points(GROUP)
    if found is not None:
        return found
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


def disabled_adapters() -> dict[str, str]:
    """The installed adapters that :func:`disabled` switches off, each with the setting that does
    it (a disabled name no installed adapter has is left out)."""
    off = disabled()
    if not off:
        return {}
    installed = {ep.name for ep in _entry_points()}
    return {name: why for name, why in off.items() if name in installed}


def distribution(name: str) -> dict[str, str | bool | None]:
    """Where adapter ``name`` comes from: ``{"distribution", "version", "bundled"}``."""
    for ep in _entry_points():
        if ep.name == name:
            if isinstance(ep, _EntryPoint):
                return {
                    "distribution": _dist_metadata_name(ep.dist_name),
                    "version": ep.dist_version,
                    "bundled": _is_bundled(ep),
                }
            dist = getattr(ep, "dist", None)
            return {
                "distribution": _dist_name(ep),
                "version": dist.version if dist is not None else None,
                "bundled": _is_bundled(ep),
            }
    return {"distribution": None, "version": None, "bundled": False}


def _dist_metadata_name(dist: str) -> str:
    """The distribution's own spelling of its name (``tether-redis``, not the directory's
    ``tether_redis``): ``tether doctor`` shows it; no command's path reads it."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import distribution as _distribution

        return _distribution(dist).metadata["Name"] or dist
    except (ImportError, PackageNotFoundError, KeyError):
        return dist


def get(name: str) -> Adapter:
    """The adapter ``name``; :class:`~tether.errors.UnknownApp` (exit 2) when there is none or it
    is disabled (the message says by which setting, and how to enable it)."""
    for adapter in adapters():
        if adapter.name == name:
            return adapter
    off = disabled().get(name)
    if off is not None:
        raise disabled_error(name, off)
    known = ", ".join(a.name for a in adapters()) or "none"
    raise UnknownApp(f"no adapter named {name!r} (known: {known})", hint="`tether doctor` lists the adapters")


def disabled_error(name: str, why: str) -> UnknownApp:
    """The error of a command of disabled adapter ``name`` (``why``: the setting that disables it)."""
    how = (
        "unset TETHER_DISABLE_ADAPTERS (or leave this name out of it)"
        if why.startswith("$")
        else "remove it from disable_adapters in the config file (TETHER_DISABLE_ADAPTERS= enables all)"
    )
    return UnknownApp(f"the {name} adapter is disabled by {why}", hint=f"to enable it, {how}")


def usable() -> tuple[Adapter, ...]:
    return tuple(a for a in adapters() if not isinstance(a, UnavailableAdapter))
