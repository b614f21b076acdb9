"""``tether audit`` for the Bluesky Queue Server: the HTTP server's authentication, and the RE
Manager's 0MQ sockets.

**HTTP server** (this adapter's endpoints), read through two unauthenticated, read-only
requests — never a guessed credential:

- ``GET /api/auth/scopes`` with no credentials answers the anonymous principal's roles and
  scopes (``bluesky_httpserver/authentication.py``: ``get_current_principal`` gives them only
  when ``allow_anonymous_access`` is on; else both are empty). Anonymous scopes → a warning
  (read-only scopes) or critical (any other scope: anyone can change the queue);
- ``GET /openapi.json`` (the probe's request) lists ``/api/auth/provider/<name>/…`` routes
  for every authentication provider (``app.py``). None → the server runs on one shared
  single-user API key (``QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY``): info, warning when the
  server listens beyond loopback.

**RE Manager** (not driven by tether yet; recognised among the unclaimed listeners by its
``start-re-manager`` command line): its 0MQ control socket (``--zmq-control-addr``, else
``$QSERVER_ZMQ_CONTROL_ADDRESS_FOR_SERVER``, else the config file, else ``tcp://*:60615``)
bound beyond loopback without a CURVE key (``$QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER``, the
deprecated ``$QSERVER_ZMQ_PRIVATE_KEY``, or ``network: zmq_private_key`` in the config file)
→ critical: anyone who reaches it can start plans that move hardware. With a key → info (the
manager authenticates no client: any client holding the public key is served). The info (PUB)
socket is never encrypted: published beyond loopback → warning. Evidence comes from the socket
table and the process's command line and environment (psutil); nothing is sent to 0MQ, and a
key's value is never read into a finding.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import replace
from pathlib import Path

from tether.adapter import Finding, is_loopback
from tether.deadline import Deadline
from tether.endpoint import Endpoint, bind_scope, connect_host

from .probe import MAX_SCHEMA

CONTROL_DEFAULT_PORT, INFO_DEFAULT_PORT = 60615, 60625
HTTP_BUDGET = 3.0  # seconds for both unauthenticated reads of one HTTP server
APP = "qserver"  # the RE Manager is the queue server's own: its findings carry this adapter's name
KEY_VARS = ("QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER", "QSERVER_ZMQ_PRIVATE_KEY")
_PROVIDER_ROUTE = re.compile(r"^/api/auth/provider/([^/]+)/")


# ----------------------------------------------------------------------------- shared
def _exposed(endpoint: Endpoint) -> str | None:
    """Beyond loopback: ``all interfaces (…)``, ``the address …``, or the remote host probed."""
    bind = endpoint.bind
    if not bind:
        return None if is_loopback(endpoint.host) else f"{endpoint.host} (probed from this machine)"
    if bind_scope(bind) == "public":
        return f"all interfaces ({bind})"
    return None if is_loopback(connect_host(bind)) else f"the address {bind}"


# ----------------------------------------------------------------------------- HTTP server
def _get_json(host: str, port: int, path: str, timeout: float) -> tuple[int, object] | None:
    """A GET without credentials; (status, parsed JSON or None), None when nothing answered."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(MAX_SCHEMA)
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    try:
        return resp.status, json.loads(body)
    except ValueError:
        return resp.status, None


def http_findings(endpoint: Endpoint, budget: float | None = None) -> list[Finding]:
    """The two unauthenticated reads, within one overall ``budget`` (seconds)."""
    deadline = Deadline(HTTP_BUDGET if budget is None else budget)
    out: list[Finding] = []
    exposed = _exposed(endpoint)
    where = f"bound to {exposed}" if exposed else "on loopback"
    scopes = _get_json(endpoint.host, endpoint.port, "/api/auth/scopes", deadline.remaining(0.05))
    if scopes is not None and scopes[0] == 200 and isinstance(scopes[1], dict):
        granted = [str(s) for s in scopes[1].get("scopes") or []]
        roles = [str(r) for r in scopes[1].get("roles") or []]
        if granted:
            writes = [s for s in granted if not s.startswith("read:")]
            out.append(
                Finding.about(
                    endpoint,
                    "critical" if writes else "warning",
                    "the HTTP server allows anonymous access: anyone who reaches it can "
                    + ("change the queue and run plans" if writes else "read the queue server's state"),
                    f"GET /api/auth/scopes without credentials answered roles {roles}, scopes {granted} "
                    f"(server {where})",
                    "set `allow_anonymous_access: False` in the server's config file (authentication "
                    "section), unset QSERVER_HTTP_SERVER_ALLOW_ANONYMOUS_ACCESS, and drop --public",
                )
            )
    schema = (
        None
        if deadline.expired
        else _get_json(endpoint.host, endpoint.port, "/openapi.json", deadline.remaining(0.05))
    )
    if schema is not None and schema[0] == 200 and isinstance(schema[1], dict):
        paths = schema[1].get("paths") or {}
        providers = sorted({m.group(1) for p in paths if (m := _PROVIDER_ROUTE.match(p))})
        if not providers:
            out.append(
                Finding.about(
                    endpoint,
                    "warning" if exposed else "info",
                    "the HTTP server has no authentication provider: one shared single-user API key "
                    "gives full control, and every holder of it is the same user",
                    f"GET /openapi.json lists no /api/auth/provider/… route (server {where})",
                    "configure an authentication provider (`authentication: providers:` in the config "
                    "file) so that each user logs in as themselves; until then keep "
                    "QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY out of shared shells and files",
                )
            )
    if scopes is None and schema is None:
        out.append(
            Finding.about(
                endpoint,
                "info",
                "tether could not read the HTTP server's authentication settings",
                f"neither GET /api/auth/scopes nor GET /openapi.json answered within {deadline.seconds:g} s",
                "run `tether audit` again when the server is less busy",
            )
        )
    return out


# ----------------------------------------------------------------------------- RE Manager
def is_re_manager(cmdline: list[str]) -> bool:
    return any(Path(a).name == "start-re-manager" for a in cmdline[:3])


def _option(cmdline: list[str], *names: str) -> str | None:
    for i, arg in enumerate(cmdline):
        for name in names:
            if arg == name and i + 1 < len(cmdline):
                return cmdline[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _environ(pid: int | None) -> dict[str, str] | None:
    """The process's environment, or None when it cannot be read (another user's process)."""
    if pid is None:
        return None
    try:
        import psutil

        return psutil.Process(pid).environ()
    except Exception:
        return None


def _config_text(cmdline: list[str], env: dict[str, str] | None) -> tuple[str, str] | None:
    """The RE Manager's config (``--config``, else ``$QSERVER_CONFIG``): (its text, its path)."""
    path = _option(cmdline, "--config") or (env or {}).get("QSERVER_CONFIG")
    if not path:
        return None
    p = Path(path)
    files = sorted(p.glob("*.y*ml")) if p.is_dir() else [p]
    texts = []
    for f in files:
        try:
            texts.append(f.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return "\n".join(texts), str(p)


def _config_value(config: tuple[str, str] | None, key: str) -> str | None:
    if config is None:
        return None
    m = re.search(rf"^\s*{key}\s*:\s*['\"]?([^'\"#\s]+)", config[0], re.MULTILINE)
    return m.group(1) if m else None


def _port_of(address: str | None, default: int) -> int:
    m = re.search(r":(\d+)\s*$", address or "")
    return int(m.group(1)) if m else default


def re_manager_findings(endpoint: Endpoint) -> list[Finding]:
    cmd = endpoint.cmdline
    env = _environ(endpoint.pid)
    config = _config_text(cmd, env)
    control = (
        _option(cmd, "--zmq-control-addr", "--zmq-addr")
        or (env or {}).get("QSERVER_ZMQ_CONTROL_ADDRESS_FOR_SERVER")
        or _config_value(config, "zmq_control_addr")
    )
    info = (
        _option(cmd, "--zmq-info-addr", "--zmq-publish-console-addr")
        or (env or {}).get("QSERVER_ZMQ_INFO_ADDRESS_FOR_SERVER")
        or _config_value(config, "zmq_info_addr")
    )
    exposed = _exposed(endpoint)
    if exposed is None:
        return []
    if endpoint.port == _port_of(control, CONTROL_DEFAULT_PORT):
        return [_control_finding(endpoint, exposed, control, env, config)]
    if endpoint.port == _port_of(info, INFO_DEFAULT_PORT):
        return [
            Finding.about(
                endpoint,
                "warning",
                "the RE Manager publishes its console output beyond this machine, unencrypted: anyone "
                "who reaches the port reads plans, parameters and errors",
                f"the socket table shows its 0MQ info socket, port {endpoint.port}, bound to {exposed}"
                + (
                    f"; info address {info}"
                    if info
                    else f"; the default info address tcp://*:{INFO_DEFAULT_PORT}"
                ),
                f"start it with --zmq-info-addr tcp://127.0.0.1:{endpoint.port} (or turn "
                "--zmq-publish-console OFF); the info socket has no encryption",
            )
        ]
    return []


def _control_finding(
    endpoint: Endpoint, exposed: str, control: str | None, env: dict[str, str] | None, config
) -> Finding:
    evidence = (
        f"the socket table shows its 0MQ control socket, port {endpoint.port}, bound to {exposed}; "
        + (
            f"control address {control}"
            if control
            else f"the default control address tcp://*:{CONTROL_DEFAULT_PORT}"
        )
    )
    key_var = next((v for v in KEY_VARS if (env or {}).get(v)), None)
    in_config = _config_value(config, "zmq_private_key") is not None
    fix_bind = (
        f"bind it to loopback (--zmq-control-addr tcp://127.0.0.1:{endpoint.port}; the HTTP server "
        "and local clients still reach it)"
    )
    if key_var or in_config:
        where = (
            f"${key_var} is set in its environment" if key_var else f"zmq_private_key is set in {config[1]}"
        )
        return Finding.about(
            endpoint,
            "info",
            "the RE Manager's 0MQ control socket is reachable from other machines, encrypted (CURVE) but "
            "with no client authentication: any client holding the server's public key can run plans",
            f"{evidence}; {where} (value not read)",
            fix_bind
            + ", or keep the public key to the clients that need it and filter the port with a firewall",
        )
    if env is None and not in_config:
        return Finding.about(
            endpoint,
            "warning",
            "the RE Manager's 0MQ control socket is reachable from other machines; tether cannot tell "
            "whether it is encrypted",
            f"{evidence}; its environment is unreadable (another user's process), no key in its config",
            fix_bind + ", or run `tether audit` as that user or as root",
        )
    return Finding.about(
        endpoint,
        "critical",
        "the RE Manager's 0MQ control socket is reachable from other machines, unencrypted: anyone "
        "who reaches it can start plans that move hardware, or stop the manager",
        f"{evidence}; no {' / '.join(KEY_VARS)} in its environment"
        + (f", no zmq_private_key in {config[1]}" if config else ""),
        fix_bind + "; or turn encryption on: set QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER to a private key "
        "from `qserver-zmq-keys` (clients then need the public key)",
    )


def audit(endpoint: Endpoint) -> list[Finding]:
    if endpoint.app in (None, APP) and is_re_manager(endpoint.cmdline):
        return [replace(f, app=APP) for f in re_manager_findings(endpoint)]
    if endpoint.app == APP and endpoint.confidence in ("verified", "busy"):
        return http_findings(endpoint)
    return []
