"""Fresh browser contexts over WebDriver BiDi: a user context (its own cookies, storage and cache)
and a tab in it, which the Marionette session of a :class:`~tether_firefox.client.Firefox` drives.

Firefox gives a BiDi session's tabs and Marionette's window handles the same ids, so a tab that
``browsingContext.create`` opens in a user context is a window Marionette switches to. Two of
Marionette's commands ignore the user context and would reach the default one: its cookie
commands (they read and write the default cookie jar) and ``WebDriver:NewWindow`` (it opens the
tab in the default context). While a session drives a user context, the client sends those
through BiDi instead (``storage.*Cookie*`` and ``browsingContext.create``), with the functions
here. Every reply is checked: a malformed one raises :class:`~tether.errors.ProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tether.errors import ProtocolError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .bidi import BiDi

SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def _field(reply: Any, key: str, method: str) -> str:
    value = reply.get(key) if isinstance(reply, dict) else None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"Firefox answered {method} without a {key}: {str(reply)[:120]!r}")
    return value


def create_user_context(bidi: BiDi) -> str:
    """A new user context's id."""
    return _field(bidi.command("browser.createUserContext"), "userContext", "browser.createUserContext")


def create_tab(bidi: BiDi, user_context: str, kind: str = "tab") -> str:
    """A new tab (or ``kind="window"``) in ``user_context``; its id is its Marionette window handle."""
    if kind not in ("tab", "window"):
        raise UsageError(f"a new window is a 'tab' or a 'window', not {kind!r}")
    reply = bidi.command("browsingContext.create", {"type": kind, "userContext": user_context})
    return _field(reply, "context", "browsingContext.create")


def remove_user_context(bidi: BiDi, user_context: str) -> None:
    """Close the user context's tabs and drop its cookies, storage and cache."""
    bidi.command("browser.removeUserContext", {"userContext": user_context})


def _host(url: str) -> str:
    host = urlsplit(url).hostname if isinstance(url, str) else None
    if not host:
        raise UsageError(
            f"the current page ({url}) has no host: cookies belong to an http(s) page",
            hint="navigate to the site first",
        )
    return host


def _visible(cookie: dict[str, Any], host: str, path: str) -> bool:
    """Would a page at ``host`` and ``path`` see ``cookie`` (RFC 6265 domain and path match)?"""
    domain = str(cookie.get("domain") or "").lstrip(".").lower()
    if not domain or not (host == domain or host.endswith("." + domain)):
        return False
    prefix = str(cookie.get("path") or "/")
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def from_bidi(cookie: Any) -> dict[str, Any]:
    """A BiDi ``network.Cookie`` in the shape Marionette's ``WebDriver:GetCookies`` gives."""
    if not isinstance(cookie, dict) or not isinstance(cookie.get("name"), str):
        raise ProtocolError(f"a cookie without a name in Firefox's answer: {str(cookie)[:120]!r}")
    raw = cookie.get("value")
    value: Any = raw
    if isinstance(raw, dict):
        value = raw.get("value")
        if raw.get("type") == "base64" and isinstance(value, str):
            try:
                value = base64.b64decode(value).decode("utf-8", "replace")
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(f"cookie {cookie['name']!r} has a bad base64 value") from exc
    if not isinstance(value, str):
        raise ProtocolError(f"cookie {cookie['name']!r} has no string value: {str(raw)[:80]!r}")
    out: dict[str, Any] = {
        "name": cookie["name"],
        "value": value,
        "path": cookie.get("path") if isinstance(cookie.get("path"), str) else "/",
        "domain": cookie.get("domain") if isinstance(cookie.get("domain"), str) else "",
        "secure": cookie.get("secure") is True,
        "httpOnly": cookie.get("httpOnly") is True,
    }
    same_site = cookie.get("sameSite")
    if isinstance(same_site, str) and same_site.lower() in SAME_SITE:
        out["sameSite"] = SAME_SITE[same_site.lower()]
    if isinstance(cookie.get("expiry"), int) and not isinstance(cookie.get("expiry"), bool):
        out["expiry"] = cookie["expiry"]
    return out


def _partition(user_context: str) -> dict[str, str]:
    return {"type": "storageKey", "userContext": user_context}


def _all(bidi: BiDi, user_context: str) -> list[dict[str, Any]]:
    reply = bidi.command("storage.getCookies", {"partition": _partition(user_context)})
    cookies = reply.get("cookies") if isinstance(reply, dict) else None
    if not isinstance(cookies, list):
        raise ProtocolError(f"Firefox answered storage.getCookies without cookies: {str(reply)[:120]!r}")
    return [from_bidi(c) for c in cookies]


def cookies(bidi: BiDi, user_context: str, url: str) -> list[dict[str, Any]]:
    """The user context's cookies the page at ``url`` sees."""
    host = _host(url).lower()
    path = urlsplit(url).path or "/"
    return [c for c in _all(bidi, user_context) if _visible(c, host, path)]


def add_cookie(bidi: BiDi, user_context: str, url: str, name: str, value: str, **fields: Any) -> None:
    """Set a cookie in the user context for the page at ``url`` (Marionette's ``AddCookie`` fields)."""
    cookie: dict[str, Any] = {
        "name": name,
        "value": {"type": "string", "value": str(value)},
        "domain": fields.pop("domain", None) or _host(url),
        "path": fields.pop("path", None) or "/",
    }
    for key in ("secure", "httpOnly"):
        if key in fields:
            cookie[key] = bool(fields.pop(key))
    if "sameSite" in fields:
        cookie["sameSite"] = str(fields.pop("sameSite")).lower()
    if "expiry" in fields:
        cookie["expiry"] = int(fields.pop("expiry"))
    fields.pop("session", None)
    if fields:
        raise UsageError(f"unknown cookie field(s): {', '.join(sorted(fields))}")
    bidi.command("storage.setCookie", {"cookie": cookie, "partition": _partition(user_context)})


def delete_cookies(bidi: BiDi, user_context: str, url: str, name: str | None = None) -> int:
    """Delete the page's cookie ``name`` (every cookie the page sees when None); how many went."""
    gone = [c for c in cookies(bidi, user_context, url) if name is None or c["name"] == name]
    for c in gone:
        bidi.command(
            "storage.deleteCookies",
            {
                "filter": {"name": c["name"], "domain": c["domain"], "path": c["path"]},
                "partition": _partition(user_context),
            },
        )
    return len(gone)


__all__ = [
    "add_cookie",
    "cookies",
    "create_tab",
    "create_user_context",
    "delete_cookies",
    "from_bidi",
    "remove_user_context",
]
