"""Logins to the HTTP server's authentication providers: the tokens, kept in tether's one state
directory (:func:`tether.launched.state_dir`: ``$TETHER_STATE_DIR``, else the user's private
runtime dir, else the cache dir) in one file, readable by its owner only (0600), one entry per
server URL. Nothing here prints a token."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

#: Refresh an access token this many seconds before it expires.
EARLY = 10.0


def token_file() -> Path:
    from tether.launched import state_dir

    return state_dir() / "qserver-tokens.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(token_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, Any]) -> None:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load(base_url: str) -> dict[str, Any] | None:
    """The stored login for ``base_url`` (tokens, provider, username, ``expires_at``), if any."""
    entry = _read().get(base_url)
    return entry if isinstance(entry, dict) and entry.get("refresh_token") else None


def save(base_url: str, entry: dict[str, Any]) -> None:
    data = _read()
    data[base_url] = entry
    _write(data)


def forget(base_url: str) -> bool:
    """Drop the login for ``base_url``; whether there was one."""
    data = _read()
    if data.pop(base_url, None) is None:
        return False
    _write(data)
    return True


def entry_from(reply: dict[str, Any], **who: Any) -> dict[str, Any]:
    """What is stored of a token reply (``/provider/<name>/token`` or ``/session/refresh``)."""
    return {
        **who,
        "access_token": reply["access_token"],
        "refresh_token": reply["refresh_token"],
        "expires_at": time.time() + float(reply.get("expires_in") or 0),
    }


def expiring(entry: dict[str, Any]) -> bool:
    return time.time() > float(entry.get("expires_at") or 0) - EARLY


def session_id(refresh_token: str) -> str | None:
    """The session a refresh token belongs to (its JWT payload's ``sid``), to revoke it."""
    try:
        payload = refresh_token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return data.get("sid") if isinstance(data, dict) else None
