"""Credentials: where the API key comes from (never the key itself, which no message shows), what
an authentication failure should say, and logins (a provider's tokens, stored by :mod:`.auth` and
refreshed before they expire; the API keys and principals of the auth API)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.errors import AuthError, CommandError, UsageError

from . import auth

#: Where the key may come from, for the hint of an authentication failure.
KEY_SOURCES = (
    "--api-key-file FILE, $QSERVER_HTTP_SERVER_API_KEY, $QSERVER_HTTP_SERVER_API_KEYFILE, or api_key_file/"
    "api_key under [qserver] in tether's config file (--api-key works too but shows in the process list);"
    " or log in: tether qserver login"
)


def _read_key_file(path: str | os.PathLike[str]) -> str:
    try:
        key = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read the API key file {path}: {exc.strerror or exc}") from exc
    if not key:
        raise UsageError(f"the API key file {path} is empty")
    return key


def read_api_key(
    api_key: str | None = None, api_key_file: str | os.PathLike[str] | None = None
) -> tuple[str | None, str]:
    """The API key and a description of where it came from (never the key itself).

    ``api_key_file`` wins over ``api_key``. Both are settings the core resolves (flag, then
    ``$QSERVER_HTTP_SERVER_API_KEYFILE``/``$QSERVER_HTTP_SERVER_API_KEY``, then
    ``$TETHER_QSERVER_*``, then ``[qserver]`` in the config file).
    """
    if api_key_file:
        source = f"the file {api_key_file} ({_origin('api_key_file', api_key_file)})"
        return _sendable(_read_key_file(api_key_file), source), source
    if api_key:
        source = _origin("api_key", api_key)
        return _sendable(api_key.strip(), source), source
    return None, "nowhere"


#: the queue server's own variables for the settings (what its tools read too)
_ENV = {"api_key": "QSERVER_HTTP_SERVER_API_KEY", "api_key_file": "QSERVER_HTTP_SERVER_API_KEYFILE"}


def _origin(name: str, value: Any) -> str:
    """Where setting ``name``'s ``value`` came from, as the user set it: ``$QSERVER_HTTP_SERVER_API_KEY``,
    ``$TETHER_QSERVER_API_KEY``, the config file, or the flag (the resolver took the first that is set,
    the flag first: a flag equal to the variable is named as the variable, which holds it too)."""
    from tether import config

    for var in (_ENV[name], config.env_name("qserver", name)):
        if os.environ.get(var) is not None and os.environ[var] == str(value):
            return f"${var}"
    try:
        table = config.load().get("qserver", {})
    except Exception:  # a config file that does not load was said when the settings resolved
        table = {}
    if isinstance(table, dict) and table.get(name) is not None and str(table[name]) == str(value):
        return f"{name} under [qserver] in {config.config_path()}"
    return f"--{name.replace('_', '-')} (the {name} setting)"


def _sendable(key: str | None, source: str) -> str | None:
    """``key``, unless it holds a character an HTTP header cannot carry (a line break …): bad
    input, refused before anything is sent (and never printed)."""
    if key and any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise UsageError(
            f"the API key from {source} holds a control character (a line break?): it cannot be sent",
            hint="nothing was sent; check the key",
        )
    if key and not key.isascii():  # the HTTP server answers such a key with a 500, not a 401
        raise UsageError(
            f"the API key from {source} holds a non-ASCII character: it cannot be an API key",
            hint="nothing was sent; check the key",
        )
    return key


def auth_hint(source: str) -> str:
    """What an authentication failure should tell the user: where the key came from, or where to put one."""
    if source == "nowhere":
        return f"no API key was given: pass {KEY_SOURCES}"
    return f"the API key was read from {source}; check it, or give another with {KEY_SOURCES}"


class Logins:
    """The auth API's endpoints, mixed into the client (as docker-py mixes its API areas into
    ``APIClient``): they use the client's ``http``, ``base_url``, ``login_key`` and ``add_secret``."""

    _login: dict[str, Any] | None

    # -- logins (authentication providers) ----------------------------------------------------------
    def providers(self) -> list[str]:
        """The server's login providers that take a username and password (from its OpenAPI schema)."""
        paths = self.http.call("GET", "/openapi.json").get("paths", {})
        prefix, suffix = "/api/auth/provider/", "/token"
        return sorted(
            p[len(prefix) : -len(suffix)] for p in paths if p.startswith(prefix) and p.endswith(suffix)
        )

    def login(self, username: str, password: str, *, provider: str | None = None) -> dict:
        """Log in with ``provider`` (default: the server's only one); the tokens are stored
        (0600, see :mod:`.auth`) and used from now on by every client of this server."""
        if not username or not password:
            raise UsageError("a login needs a username and a password")
        if provider is None:
            found = self.providers()
            if len(found) != 1:
                if not found:
                    raise CommandError(f"{self.base_url} has no login providers: it takes an API key")
                raise UsageError(
                    f"this server has several login providers: pick one with --provider ({', '.join(found)})"
                )
            provider = found[0]
        from urllib.parse import quote_plus

        self.add_secret(password), self.add_secret(quote_plus(password))  # as typed, and as sent (a form)
        try:
            reply = self.http.call(
                "POST",
                f"/api/auth/provider/{provider}/token",
                form={"username": username, "password": password},
            )
        except AuthError as exc:
            exc.hint = f"check the username and the password for provider {provider!r}"
            raise
        except CommandError as exc:
            if getattr(exc, "detail", {}).get("status") == 404:
                exc.hint = (
                    f"no provider {provider!r} takes passwords here: {', '.join(self.providers()) or 'none'}"
                )
            raise
        self._use_login(auth.entry_from(reply, provider=provider, username=username))
        return {
            "username": username,
            "provider": provider,
            "expires_in": reply.get("expires_in"),
            "token_file": str(auth.token_file()),
        }

    def _use_login(self, entry: dict[str, Any] | None) -> None:
        self._login = entry
        if entry:
            self.add_secret(entry["access_token"]), self.add_secret(entry["refresh_token"])
            auth.save(self.login_key, entry)
            self.key_source = f"the login of {entry.get('username')} ({entry.get('provider')})"
        self.http = self._new_http()

    def refresh(self) -> dict:
        """New tokens for the stored login (done by itself before the access token expires)."""
        if not self._login:
            raise UsageError(f"not logged in to {self.base_url}: tether qserver login")
        try:
            reply = self.http.call(
                "POST", "/api/auth/session/refresh", {"refresh_token": self._login["refresh_token"]}
            )
        except AuthError as exc:
            exc.hint = "the login has expired or was revoked: log in again (tether qserver login)"
            raise
        self._use_login(
            auth.entry_from(reply, provider=self._login.get("provider"), username=self._login.get("username"))
        )
        return {"username": self._login.get("username"), "expires_in": reply.get("expires_in")}

    def logout(self) -> dict:
        """Revoke the login's session on the server and forget its tokens."""
        if not self._login:
            return {"logged_out": False, "msg": f"not logged in to {self.base_url}"}
        sid = auth.session_id(self._login["refresh_token"])
        try:
            if sid:
                self._call_auth("DELETE", f"/auth/session/revoke/{sid}")
            self._call_auth("POST", "/auth/logout")
        except AuthError:  # the session had expired already: nothing left to revoke
            pass
        finally:
            auth.forget(self.login_key)
            self._use_login(None)
        return {"logged_out": True, "session_revoked": bool(sid)}

    def _call_auth(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        if self._login and auth.expiring(self._login):
            self.refresh()
        return self.http.call(method, f"/api{path}", body)

    def whoami(self) -> dict:
        """Who the credentials in use belong to, with their roles and scopes."""
        return {**(self._call_auth("GET", "/auth/whoami") or {}), **self._call_auth("GET", "/auth/scopes")}

    def apikey_new(
        self,
        *,
        expires_in: int | None = None,
        scopes: list[str] | None = None,
        note: str | None = None,
        principal: str | None = None,
    ) -> dict:
        """A new API key (for ``principal``'s uuid: an admin's right); its ``secret`` is shown once."""
        body = {"expires_in": expires_in, "scopes": list(scopes or ["inherit"]), "note": note}
        reply = self._call_auth(
            "POST", f"/auth/principal/{principal}/apikey" if principal else "/auth/apikey", body
        )
        self.add_secret(reply.get("secret"))
        return reply

    def apikey_info(self) -> dict:
        """The API key in use: its first eight characters, scopes, expiry and note."""
        return self._call_auth("GET", "/auth/apikey")

    def apikey_delete(self, first_eight: str) -> dict:
        """Revoke the API key that starts with ``first_eight`` (its first eight characters)."""
        self.check_first_eight(first_eight)
        return self._call_auth("DELETE", f"/auth/apikey?first_eight={first_eight}")

    @staticmethod
    def check_first_eight(first_eight: str) -> None:
        """:class:`UsageError` unless ``first_eight`` is eight hex characters (how keys are named)."""
        if len(first_eight) != 8 or not all(c in "0123456789abcdef" for c in first_eight.lower()):
            raise UsageError(f"an API key is named by its first eight hex characters, not {first_eight!r}")

    def principals(self, uuid: str | None = None) -> Any:
        """Every principal (user or service) the server knows, or one (an admin's right)."""
        return self._call_auth("GET", f"/auth/principal/{uuid}" if uuid else "/auth/principal")
