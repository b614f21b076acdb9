"""tether's configuration: a TOML file plus ``TETHER_*`` environment variables (which win).

The file is ``$TETHER_CONFIG`` or ``<user config dir>/tether/config.toml``
(``~/.config/tether/config.toml`` on Linux), with one table per adapter::

    [qserver]
    url = "http://127.0.0.1:60610"
    api_key_file = "~/.config/tether/qserver.key"

``get("qserver", "url")`` reads ``TETHER_QSERVER_URL`` first, then the file.
Secrets may live in the file; tether never prints them.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import UsageError


def config_path() -> Path:
    env = os.environ.get("TETHER_CONFIG")
    if env:
        return Path(env).expanduser()
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
