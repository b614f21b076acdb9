"""The QServerAdapter class: the entry point tether loads (group ``tether.adapters``).

Detection (hints and the probe) lives in :mod:`.probe`, and for RE Manager's own 0MQ control
socket in :mod:`.zmq`; the client and commands load lazily. One adapter, two doors: ``tether scan``
lists both as ``qserver`` (titles "Bluesky HTTP Server" and "Bluesky RE Manager (0MQ)"), and the
same commands drive either; the HTTP server is preferred when both answer (it carries logins).
"""

from __future__ import annotations

import os

from tether.adapter import Adapter, Hint, ProbeResult, is_loopback
from tether.endpoint import Listener

from .probe import DEFAULT_PORT, is_httpserver_process, probe_openapi, verify_url
from .settings import SETTINGS
from .zmq import CONTROL_PORT, control_hint


class QServerAdapter(Adapter):
    name = "qserver"
    title = "Bluesky HTTP Server"
    default_ports = (DEFAULT_PORT, CONTROL_PORT)
    description = "Submit, run and track Bluesky Queue Server plans over its HTTP server."
    settings = SETTINGS

    def hints(self, listener: Listener) -> Hint | None:
        hint = (
            Hint(f"the HTTP server's default port {DEFAULT_PORT}", "port")
            if listener.port == DEFAULT_PORT
            else None
        )
        if is_httpserver_process(listener.cmdline):
            hint = Hint("process runs bluesky_httpserver", "process").stronger(hint)
        return hint or control_hint(listener)

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:
        """``GET /openapi.json``; on a port a hint names as RE Manager's control socket, the 0MQ
        ``status`` instead (never a 0MQ greeting elsewhere)."""
        from . import zmq

        if zmq.speaks_zmq(host, port):
            res = zmq.probe_zmq(host, port, timeout, public_key=_zmq_key())
            info = zmq.info_address(host, port) if res.verdict == "verified" else None
            if info:
                res.extra["zmq_info"] = info
            return res
        res = probe_openapi(host, port, timeout)
        if res.verdict == "verified" and is_loopback(host):
            fronts = zmq.fronted_manager(port)
            if fronts:
                res.extra["fronts"] = fronts
                res.detail += f"; fronts RE Manager at {fronts}"
        return res

    def locate(self, host, port, settings, timeout):
        """The door the settings name (verified), else the one a scan finds, the HTTP server first;
        ``None`` lets the core scan or probe ``host``/``port`` (and say what it found)."""
        if host is not None or port is not None:
            return None
        from . import zmq

        url, control = settings.get("url"), settings.get("zmq")
        if control and not (url and control == os.environ.get("QSERVER_ZMQ_CONTROL_ADDRESS")):
            key, info = settings.get("zmq_public_key"), settings.get("zmq_info")
            return zmq.verify_zmq(control, timeout, public_key=key, info=info)
        if url:
            return verify_url(url, timeout)
        return _prefer_http(timeout)

    def connect(self, endpoint, **options):
        """A :class:`~tether_qserver.client.QueueServer` for ``endpoint``; the settings become its
        options (key, lock key, TLS), ``timeout`` the deadline of each call (at most 30 s)."""
        from .client import QueueServer

        return QueueServer.from_endpoint(endpoint, **options)

    def cli(self):
        from .cli import cmd

        return cmd.app


def _zmq_key() -> str | None:
    """The public key a scan's 0MQ probe uses: the environment or the config file's (a probe has no flags)."""
    from tether import config

    return config.resolve("qserver", SETTINGS, {}).get("zmq_public_key")


def _prefer_http(timeout: float):
    """The single verified HTTP server, else the single verified 0MQ control socket; ``None``
    when neither is single (the core then says what it found, or that nothing answered)."""
    import tether

    verified = [e for e in tether.scan(["qserver"], timeout=min(timeout, 1.0)) if e.verified]
    http = [e for e in verified if e.extra.get("door") != "zmq"]
    zmq = [e for e in verified if e.extra.get("door") == "zmq"]
    if len(http) == 1:
        return http[0]
    if not http and len(zmq) == 1:
        return zmq[0]
    return None
