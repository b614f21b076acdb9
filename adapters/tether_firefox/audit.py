"""``tether audit`` for Firefox: what lets someone else drive a Marionette-enabled browser.

Marionette gives any client that connects full control of the browser; with the chrome
context allowed (``-remote-allow-system-access``) that includes privileged JavaScript, i.e.
the machine as the Firefox user. Marionette binds loopback itself; a non-loopback bind (a
forward, a container mapping) is the core's critical exposure finding (the adapter's
``exposure_severity``). Here, read from the process's command line and the profile's
``user.js``/``prefs.js`` only — nothing is sent to Firefox:

- ``-remote-allow-system-access`` → warning;
- ``--remote-allow-hosts`` / ``--remote-allow-origins`` (the Remote Agent accepts other hosts
  or web origins) → warning;
- Marionette on the well-known port 2828 → info: every local process, and every tool that
  looks for Marionette, finds it without reading the profile.
"""

from __future__ import annotations

import re
from pathlib import Path

from tether.adapter import Finding
from tether.endpoint import Endpoint

from .probe import DEFAULT_PORT, profile_dir

_PREF = re.compile(r'^\s*user_pref\(\s*"marionette\.port"\s*,\s*(\d+)\s*\)\s*;', re.MULTILINE)
SYSTEM_ACCESS = ("-remote-allow-system-access", "--remote-allow-system-access")
REMOTE_ALLOW = (
    "--remote-allow-hosts",
    "-remote-allow-hosts",
    "--remote-allow-origins",
    "-remote-allow-origins",
)


def marionette_port_pref(profile: Path) -> tuple[int, str] | None:
    """``marionette.port`` as set in the profile: (value, file); ``user.js`` wins over ``prefs.js``
    (Firefox applies user.js last at startup)."""
    for name in ("user.js", "prefs.js"):
        try:
            text = (profile / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = _PREF.findall(text)
        if found:
            return int(found[-1]), str(profile / name)
    return None


def _flag(cmdline: list[str], names: tuple[str, ...]) -> str | None:
    for arg in cmdline:
        if arg.split("=", 1)[0] in names:
            return arg
    return None


def audit(endpoint: Endpoint) -> list[Finding]:
    if endpoint.app != "firefox":
        return []
    cmd = endpoint.cmdline
    out: list[Finding] = []
    flag = _flag(cmd, SYSTEM_ACCESS)
    if flag:
        out.append(
            Finding.about(
                endpoint,
                "warning",
                "Firefox allows the chrome context: any Marionette client can run privileged JavaScript, "
                "i.e. read and write files and start programs as the Firefox user",
                f"the process's command line carries {flag}",
                "restart Firefox without -remote-allow-system-access (`tether firefox launch` adds it "
                "only with --system-access)",
            )
        )
    flag = _flag(cmd, REMOTE_ALLOW)
    if flag:
        out.append(
            Finding.about(
                endpoint,
                "warning",
                "Firefox's Remote Agent accepts connections naming other hosts or web origins",
                f"the process's command line carries {flag}",
                "restart Firefox without --remote-allow-hosts / --remote-allow-origins",
            )
        )
    if endpoint.port == DEFAULT_PORT:
        profile = profile_dir(cmd) if cmd else None
        pref = marionette_port_pref(profile) if profile else None
        if pref is not None:
            source = f"marionette.port = {pref[0]} in {pref[1]}"
        elif profile is not None:
            source = f"marionette.port is not set in {profile} (user.js, prefs.js): the default"
        else:
            source = "no profile on the command line to read marionette.port from"
        out.append(
            Finding.about(
                endpoint,
                "info",
                f"Marionette listens on its well-known port {DEFAULT_PORT}: every local process, and every "
                "tool that looks for Marionette, finds it there",
                f"Marionette answers on port {endpoint.port}; {source}",
                'set user_pref("marionette.port", 0); in the profile\'s user.js (the OS picks a free port, '
                "written to <profile>/MarionetteActivePort), as geckodriver and `tether firefox launch` do",
            )
        )
    return out
