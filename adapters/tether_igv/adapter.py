"""The IGVAdapter class: the entry point tether loads (group ``tether.adapters``).

Detection (hints and the probe) lives in :mod:`.probe`; the client and commands load lazily.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tether import hostfiles
from tether.adapter import Adapter, Hint, ProbeResult
from tether.endpoint import Listener

from .probe import DEFAULT_PORT, configured_port, is_igv_process, probe_igv, read_prefs, version_from_install

#: the last ``~/igv/prefs.properties`` read: [(path, inode, size, mtime), PORT_NUMBER, checked at]
_HOME_PREFS: list[Any] = []
#: how long an answer of :meth:`IGVAdapter._home_prefs_port` stands without a new ``stat``: a
#: scan asks once per listener (hundreds, within milliseconds)
_HOME_PREFS_FRESH = 0.25


def _after_exit(*args: Any, **kwargs: Any) -> Any:
    from .launch import after_exit

    return after_exit(*args, **kwargs)


def _with_exit_hook(options: dict) -> dict:
    # Quitting an IGV tether launched also ends its Xvfb and forgets its record; that is the
    # launch layer's work (launch -> client, never back), so the client gets it as a hook —
    # one that imports the launch layer only when IGV is told to exit (not for every goto).
    return {"on_exit": _after_exit, **options}


class IGVAdapter(Adapter):
    name = "igv"
    title = "IGV"
    default_ports = (DEFAULT_PORT,)
    description = "Drive IGV (Integrative Genomics Viewer) over its batch-command port."

    def hints(self, listener: Listener) -> Hint | None:
        hint = None
        if listener.port == DEFAULT_PORT:
            hint = Hint(f"IGV's default port {DEFAULT_PORT}", "port")
        if is_igv_process(listener):
            hint = Hint("java process running IGV", "process").stronger(hint)
            if configured_port(listener.cmdline) == listener.port:
                hint = Hint("the port IGV was configured with (prefs.properties / --port)", "file").stronger(
                    hint
                )
        elif listener.port == self._home_prefs_port():
            hint = Hint("PORT_NUMBER in ~/igv/prefs.properties", "file").stronger(hint)
        return hint

    @staticmethod
    def _home_prefs_port() -> int | None:
        """``PORT_NUMBER`` of ``~/igv/prefs.properties``. Asked for every listener of a scan
        (hundreds): the file is parsed again only when it changes (path, inode, size, mtime)."""
        files = hostfiles.current()
        if files.remote:  # another machine's home (an SSH scan): its files object keeps what it read
            value = read_prefs(Path(files.home()) / "igv").get("PORT_NUMBER", "")
            return int(value) if value.isdigit() else None
        home = files.home()
        now = time.monotonic()
        if _HOME_PREFS and _HOME_PREFS[0][0] == home and now - _HOME_PREFS[2] <= _HOME_PREFS_FRESH:
            return _HOME_PREFS[1]  # (the key's first item is HOME: a changed HOME is looked at again)
        directory = os.path.join(home, "igv")
        try:
            st = os.stat(os.path.join(directory, "prefs.properties"))
        except OSError:
            _HOME_PREFS[:] = [(home, None), None, now]
            return None
        key = (home, st.st_ino, st.st_size, st.st_mtime_ns)
        if _HOME_PREFS and _HOME_PREFS[0] == key:
            _HOME_PREFS[2] = now
            return _HOME_PREFS[1]
        value = read_prefs(Path(directory)).get("PORT_NUMBER", "")
        port = int(value) if value.isdigit() else None
        _HOME_PREFS[:] = [key, port, now]
        return port

    def extra_listeners(self, listeners):
        port = self._home_prefs_port()
        if port and port != DEFAULT_PORT and all(item.port != port for item in listeners):
            yield Listener(
                host="127.0.0.1", port=port, source="file", note="PORT_NUMBER in ~/igv/prefs.properties"
            )

    def probe(self, host: str, port: int, timeout: float) -> ProbeResult:
        return probe_igv(host, port, timeout)

    def version_hint(self, listener: Listener) -> str | None:
        return version_from_install(listener.cmdline) if listener.cmdline else None

    def attach(self, locate, *, deadline=None, deferred: bool = False, **options):
        """The client; ``deferred=True`` (the CLI) finds IGV only at its first command, so a bad
        argument is refused before any scan or connection: the lookup's probe and the commands
        then share ``deadline`` (the command's). ``timeout`` is the command deadline."""
        if not deferred:
            return super().attach(locate, deadline=deadline, **options)
        from .client import IGVClient

        if deadline is not None:
            options.setdefault("timeout", deadline.seconds)
            options["budget"] = deadline
        return IGVClient.deferred(locate, **_with_exit_hook(options))

    def connect(self, endpoint, **options):
        from .client import IGVClient

        return IGVClient.from_endpoint(endpoint, **_with_exit_hook(options))

    def audit(self, endpoint):
        from .audit import audit

        return audit(endpoint)

    def cli(self):
        from .cli import app

        return app
