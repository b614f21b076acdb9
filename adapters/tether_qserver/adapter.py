"""The QServerAdapter class: the entry point tether loads (group ``tether.adapters``).

Detection (hints and the probe) lives in :mod:`.probe`; the client and commands load lazily.
"""

from __future__ import annotations

from tether.adapter import Adapter, Hint, ProbeResult
from tether.endpoint import Listener

from .probe import DEFAULT_PORT, is_httpserver_process, probe_openapi, verify_url
from .settings import SETTINGS


class QServerAdapter(Adapter):
    name = "qserver"
    title = "Bluesky HTTP Server"
    default_ports = (DEFAULT_PORT,)
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
        return hint

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:
        return probe_openapi(host, port, timeout)

    def locate(self, host, port, settings, timeout):
        """The server the ``url`` setting names (verified), or ``None`` to scan/probe host and port."""
        url = settings.get("url")
        return verify_url(url, timeout) if url and host is None and port is None else None

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
