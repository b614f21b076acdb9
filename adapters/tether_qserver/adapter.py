"""The QServerAdapter class: the entry point tether loads (group ``tether.adapters``).

Detection (hints and the probe) lives in :mod:`.probe`, and for RE Manager's own 0MQ control
socket in :mod:`.zmq`; the client and commands load lazily. One adapter, two doors: ``tether scan``
lists both as ``qserver`` (titles "Bluesky HTTP Server" and "Bluesky RE Manager (0MQ)"), and the
same commands drive either; the HTTP server is preferred when both answer (it carries logins).
"""

from __future__ import annotations

from tether.adapter import Adapter, Hint, ProbeResult, is_loopback
from tether.endpoint import Listener

from . import zmq
from .probe import DEFAULT_PORT, is_httpserver_process, probe_openapi
from .settings import SETTINGS


class QServerAdapter(Adapter):
    name = "qserver"
    title = "Bluesky HTTP Server"
    default_ports = (DEFAULT_PORT, zmq.CONTROL_PORT)
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
        return hint or zmq.control_hint(listener)

    #: the public key a command was given (``configured``), else a probe reads the environment's
    public_key: str | None = None

    def configured(self, settings):
        """With ``--zmq-public-key`` (or its variable), a copy whose probe of a named port uses that
        key: an encrypted manager at ``--port P`` is then verified, not left unknown."""
        key = settings.get("zmq_public_key")
        if not key:
            return self
        copy = type(self)()
        copy.public_key = key
        return copy

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:
        """``GET /openapi.json``; on a port a hint names as RE Manager's control socket, the 0MQ
        ``status`` instead (never a 0MQ greeting elsewhere)."""
        if zmq.speaks_zmq(host, port):
            res = zmq.probe_zmq(host, port, timeout, public_key=self.public_key or zmq.scan_key())
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
        """The door the settings name (verified), else the one a scan finds, the HTTP server first
        (:func:`.zmq.locate`); ``None`` lets the core probe ``host``/``port`` or say what it found."""
        return zmq.locate(settings, timeout) if host is None and port is None else None

    def connect(self, endpoint, **options):
        """A :class:`~tether_qserver.client.QueueServer` for ``endpoint``; the settings become its
        options (key, lock key, TLS), ``timeout`` the deadline of each call (at most 30 s)."""
        from .client import QueueServer

        return QueueServer.from_endpoint(endpoint, **options)

    def audit(self, endpoint):
        from .audit import audit

        return audit(endpoint)

    def cli(self):
        from .cli import cmd

        return cmd.app
