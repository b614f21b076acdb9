"""tether's configuration: a TOML file plus ``TETHER_*`` environment variables (which win).

The file is ``$TETHER_CONFIG`` or ``<user config dir>/tether/config.toml``
(``~/.config/tether/config.toml`` on Linux), with one table per adapter::

    [qserver]
    url = "http://127.0.0.1:60610"
    api_key_file = "~/.config/tether/qserver.key"

``get("qserver", "url")`` reads ``TETHER_QSERVER_URL`` first, then the file.
Secrets may live in the file; tether never prints them.

:func:`resolve` is the one settings resolver (docker's ``from_env`` idea): each adapter declares
its settings (:class:`tether.adapter.Setting`) and ``tether.connect`` and the CLI both resolve
them here, in the same order: given (flag or keyword) > the app's own environment variables >
``TETHER_<APP>_<NAME>`` > ``[<app>] <name>`` in the file > the setting's default.
Every adapter also has ``host`` and ``port`` settings, resolved the same way.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import UsageError


def xdg_dir(variable: str, default: str) -> str | None:
    """The XDG base directory ``$variable`` (when it is an absolute path), else ``default``
    (``~/...``, expanded): what platformdirs gives on Linux, without importing it (~5 ms of
    every command). ``None`` off Linux and on Android, where platformdirs decides."""
    if not sys.platform.startswith("linux") or (
        os.environ.get("ANDROID_DATA") == "/data" and os.environ.get("ANDROID_ROOT") == "/system"
    ):
        return None
    value = os.environ.get(variable, "")
    return value if os.path.isabs(value) else os.path.expanduser(default)


def config_path() -> Path:
    env = os.environ.get("TETHER_CONFIG")
    if env:
        return Path(env).expanduser()
    base = xdg_dir("XDG_CONFIG_HOME", "~/.config")
    if base is not None:
        return Path(base) / "tether" / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir("tether")) / "config.toml"


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"the config file {path} is not valid TOML: {exc}") from exc


def load() -> dict[str, Any]:
    """The whole config file as a dict ({} when there is none)."""
    path = config_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    return _load(path, mtime)


def env_name(section: str, key: str) -> str:
    return f"TETHER_{section}_{key}".upper().replace("-", "_")


def get(section: str, key: str, default: Any = None) -> Any:
    """``TETHER_<SECTION>_<KEY>`` if set, else ``[section] key`` from the file, else ``default``."""
    value = os.environ.get(env_name(section, key))
    if value is not None:
        return value
    table = load().get(section, {})
    return table.get(key, default) if isinstance(table, dict) else default


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(section: str, setting: Any, value: Any, source: str) -> Any:
    kind = getattr(setting, "kind", "str")
    try:
        if kind == "bool" and isinstance(value, str):
            low = value.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(value)
            return low in _TRUE
        if kind == "bool":
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "path":
            return str(Path(str(value)).expanduser())
        return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError) as exc:
        shown = "(hidden)" if getattr(setting, "secret", False) else repr(value)
        raise UsageError(
            f"{section} setting {setting.name} from {source} is not a valid {kind}: {shown}"
        ) from exc


class _Builtin:
    """The settings every adapter has: where its app listens."""

    def __init__(self, name: str, kind: str, help: str) -> None:
        self.name, self.kind, self.help = name, kind, help
        self.env: tuple[str, ...] = ()
        self.secret = False
        self.default = None


BUILTIN = (
    _Builtin("host", "str", "Host of the app (default: this machine)."),
    _Builtin("port", "int", "Port of the app."),
)


def resolve(section: str, settings: Any, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve ``settings`` (an adapter's declared settings, plus host and port) for app ``section``.

    ``given`` holds what the caller passed (flags, keyword arguments); a ``None`` there means
    "not given". Returns every setting with a value (``None`` ones omitted), plus any given key
    that is not a declared setting (client options pass through untouched).

    >>> resolve("qserver", adapter.settings, {"timeout": 5})      # doctest: +SKIP
    {'url': 'http://127.0.0.1:60610', 'timeout': 5}
    """
    given = dict(given or {})
    out: dict[str, Any] = {}
    for setting in (*BUILTIN, *settings):
        value = given.pop(setting.name, None)
        source = "the command line"
        if value is None:
            for var in (*setting.env, env_name(section, setting.name)):
                if os.environ.get(var) is not None:
                    value, source = os.environ[var], f"${var}"
                    break
        if value is None:
            table = load().get(section, {})
            if isinstance(table, dict) and table.get(setting.name) is not None:
                value, source = table[setting.name], f"[{section}] {setting.name} in {config_path()}"
        if value is None:
            value = setting.default
        if value is not None:
            out[setting.name] = _convert(section, setting, value, source)
    out.update({k: v for k, v in given.items() if v is not None})
    return out
