"""Launch Firefox with Marionette (and optionally WebDriver BiDi), remember it, and quit it again.

``launch()`` starts Firefox in the background with a fresh temporary profile
(``marionette.port`` 0: the OS picks a free port), waits until a session can be opened, and
records what it started (pid and start time, port, profile, temporary-profile flag, BiDi port)
with :mod:`tether.launched` (app ``"firefox"``, keyed by Marionette port). ``quit()`` stops only
a Firefox found in that record — gracefully with ``Marionette:Quit``, then by signal after a
deadline — and removes the temporary profile. A Firefox tether did not launch is stopped only
with ``force``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether import launched
from tether.adapter import is_loopback
from tether.errors import AmbiguousTarget, NotFound, TetherError, Timeout, Unreachable, UsageError
from tether.launched import DataField

from .probe import (
    BIDI_FILE,
    PORT_FILE,
    active_port,
    bidi_port_of,
    firefox_processes,
    is_firefox,
    profile_dir,
)

if TYPE_CHECKING:  # pragma: no cover
    from .client import Firefox

APP = "firefox"
BINARY_NAMES = ("firefox", "firefox-esr")
WELL_KNOWN = (
    "/usr/lib/firefox/firefox",
    "/usr/lib/firefox-esr/firefox-esr",
    "/opt/firefox/firefox",
    "/Applications/Firefox.app/Contents/MacOS/firefox",
    r"C:\Program Files\Mozilla Firefox\firefox.exe",
)
#: Prefs of a quiet automation profile (no first-run pages, updates, telemetry or default-browser nag).
PREFS: dict[str, Any] = {
    "marionette.port": 0,
    "browser.startup.page": 0,  # about:blank: from the default start page Firefox refuses data: URLs
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
}


class Launched(launched.Record):
    """A Firefox tether launched: what ``quit`` needs to find and stop it."""

    host = DataField[str]("host", "127.0.0.1")
    port = DataField[int]("port")
    profile = DataField[str]("profile")
    temp_profile = DataField[bool]("temp_profile", False)
    binary = DataField[str]("binary")
    headless = DataField[bool]("headless", False)
    bidi_port = DataField[int | None]("bidi_port")
    download_dir = DataField[str | None]("download_dir")
    accept_insecure_certs = DataField[bool]("accept_insecure_certs", False)  # sessions ask for it

    @property
    def bidi_url(self) -> str | None:
        """The WebDriver BiDi endpoint for a new session, when launched with BiDi."""
        return f"ws://{self.host}:{self.bidi_port}/session" if self.bidi_port else None

    def cleanup(self) -> None:
        """Remove the temporary profile tether made (never a profile the user gave)."""
        if self.temp_profile:
            shutil.rmtree(self.profile, ignore_errors=True)


def records() -> list[Launched]:
    """The Firefoxes tether launched that still run (dead ones are dropped, their temp profiles removed)."""
    return launched.prune(APP, kind=Launched)


def find_record(port: int | None = None) -> Launched | None:
    """The launch record for ``port``, or the only one when no port is given."""
    return launched.find(APP, port, what="Firefoxes", kind=Launched)


# ----------------------------------------------------------------------------- launch options
def parse_pref(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> (name, value): VALUE is JSON when it parses (``true``, ``3``, ``"x"``),
    else the text itself. :class:`UsageError` (exit 2) for anything else."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\n\"'(),;"):
        raise UsageError(f"a pref is NAME=VALUE (browser.startup.page=1), not {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if not isinstance(value, (str, bool, int)):  # Firefox prefs have no floats, lists or null
        raise UsageError(f"pref {name}: a value is a string, an integer or true/false, not {raw!r}")
    return name, value


def download_prefs(directory: Path) -> dict[str, Any]:
    """Prefs that save every download into ``directory`` without asking (headless too)."""
    return {
        "browser.download.folderList": 2,  # 2: the directory in browser.download.dir
        "browser.download.dir": str(directory),
        "browser.download.useDownloadDir": True,
        "browser.download.always_ask_before_handling_new_types": False,
        "browser.download.manager.showWhenStarting": False,
        "browser.download.alwaysOpenPanel": False,
        "browser.download.start_downloads_in_tmp_dir": False,
        "pdfjs.disabled": True,  # a PDF is saved, not shown
    }


def proxy_prefs(url: str) -> dict[str, Any]:
    """Prefs for a manual proxy: ``http://HOST:PORT`` (HTTP and HTTPS through it) or
    ``socks5://HOST:PORT`` (``socks4://`` too; DNS through the proxy for socks5)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        parts = None
    scheme = parts.scheme.lower() if parts else ""
    if scheme not in ("http", "https", "socks", "socks4", "socks5") or not host or not port:
        raise UsageError(f"--proxy must be http://HOST:PORT or socks5://HOST:PORT, not {url!r}")
    if scheme.startswith("socks"):
        version = 4 if scheme == "socks4" else 5
        return {
            "network.proxy.type": 1,
            "network.proxy.socks": host,
            "network.proxy.socks_port": port,
            "network.proxy.socks_version": version,
            "network.proxy.socks_remote_dns": version == 5,
        }
    return {
        "network.proxy.type": 1,
        "network.proxy.http": host,
        "network.proxy.http_port": port,
        "network.proxy.ssl": host,
        "network.proxy.ssl_port": port,
    }


# ----------------------------------------------------------------------------- launching
def find_binary(binary: str | None = None) -> str:
    """``binary`` if given, else firefox / firefox-esr on PATH, else a well-known location."""
    if binary:
        found = shutil.which(binary) or (binary if Path(binary).is_file() else None)
        if not found:
            raise NotFound(f"no Firefox binary at {binary}", looked_at=[binary])
        return found
    for name in BINARY_NAMES:
        if found := shutil.which(name):
            return found
    for path in WELL_KNOWN:
        if Path(path).is_file():
            return path
    raise NotFound(
        "Firefox was not found (firefox or firefox-esr on PATH)",
        looked_at=[*BINARY_NAMES, *WELL_KNOWN],
        hint="install Firefox (Debian: apt install firefox-esr) or pass --binary",
    )


def _profile_user(profile: Path) -> int | None:
    """The pid of a running Firefox that uses ``profile`` (it must not be touched then).

    Found by command line (``-profile DIR``), else by the profile's own lock: on Linux and
    macOS Firefox keeps a ``lock`` symlink to ``IP:+PID`` there, which also names a Firefox
    that opened the profile through profiles.ini or ``XRE_PROFILE_PATH`` (no ``-profile``).
    The link outlives the process, so its pid counts only while it is a running Firefox.
    """
    for pid, _name, cmd in firefox_processes():
        used = profile_dir(cmd)
        if used is not None and used.expanduser().resolve() == profile:
            return pid
    try:
        target = os.readlink(profile / "lock")
    except OSError:
        return None
    holder = target.rpartition("+")[2]
    if not holder.isdigit():
        return None
    import psutil

    try:
        proc = psutil.Process(int(holder))
        if proc.status() != psutil.STATUS_ZOMBIE and is_firefox(proc.name(), proc.cmdline()):
            return proc.pid
    except psutil.Error:
        return None
    return None


def write_prefs(profile: Path, prefs: dict[str, Any]) -> None:
    """Set ``prefs`` in ``<profile>/user.js``, keeping the file's other lines."""
    path = profile / "user.js"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    keep = [ln for ln in lines if not any(f'user_pref("{k}"' in ln for k in prefs)]
    keep += [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
    path.write_text("\n".join(keep) + "\n")


def _session_ready(port: int, timeout: float) -> bool:
    """Whether a session can be opened now (opened and deleted at once)."""
    from .marionette import Marionette

    try:
        with Marionette.open(
            "127.0.0.1", port, timeout=timeout, connect_timeout=min(timeout, 2.0), busy_wait=0
        ) as m:
            m.call("WebDriver:NewSession", {})
            m.call("WebDriver:DeleteSession")
        return True
    except TetherError:
        return False


def launch(
    *,
    headless: bool = False,
    port: int = 0,
    profile: str | Path | None = None,
    bidi: bool = False,
    binary: str | None = None,
    system_access: bool = False,
    prefs: dict[str, Any] | None = None,
    window_size: tuple[int, int] | None = None,
    download_dir: str | Path | None = None,
    accept_insecure_certs: bool = False,
    proxy: str | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 60.0,
) -> Launched:
    """Start Firefox with Marionette in the background and wait until it accepts a session.

    ``port`` 0 lets the OS pick (read back from ``MarionetteActivePort``); ``profile`` uses
    that directory instead of a fresh temporary one; ``bidi`` also starts the Remote Agent
    (WebDriver BiDi) on a free port. ``prefs`` go into the profile's ``user.js``;
    ``window_size`` is (width, height); ``download_dir`` receives every download without a
    question (created if missing); ``proxy`` is ``http://HOST:PORT`` or ``socks5://HOST:PORT``;
    ``accept_insecure_certs`` is recorded, and tether's sessions on this Firefox ask for it.
    """
    if not 0 <= port < 65536:  # before anything else: a bad port starts nothing and reads nothing
        raise UsageError(f"port {port} is out of range (0-65535)")
    if window_size is not None and min(window_size) <= 0:
        raise UsageError(f"a window size must be positive, not {window_size[0]}x{window_size[1]}")
    extra_prefs = dict(prefs or {})
    if proxy is not None:
        extra_prefs.update(proxy_prefs(proxy))
    downloads = Path(download_dir).expanduser().resolve() if download_dir is not None else None
    if downloads is not None:
        if downloads.exists() and not downloads.is_dir():
            raise UsageError(f"--download-dir {downloads} is not a directory")
        downloads.mkdir(parents=True, exist_ok=True)
        extra_prefs.update(download_prefs(downloads))
    exe = find_binary(binary)
    temp = profile is None
    prof = Path(tempfile.mkdtemp(prefix="tether-firefox-")) if temp else Path(profile).expanduser().resolve()
    if not temp and not prof.is_dir():
        raise UsageError(f"the profile directory {prof} does not exist")
    if not temp and (user := _profile_user(prof)) is not None:
        raise UsageError(
            f"the profile {prof} is in use by Firefox (pid {user})",
            hint="attach to that Firefox instead (`tether firefox status`), or use another profile",
        )
    base = {**PREFS, "marionette.port": port} if temp else {"marionette.port": port}
    write_prefs(prof, {**base, **extra_prefs})
    for stale in (PORT_FILE, BIDI_FILE):  # left behind by a crash or a SIGTERM
        (prof / stale).unlink(missing_ok=True)
    argv = [exe, "--marionette", "--no-remote", "--profile", str(prof)]
    if headless:
        argv.append("--headless")
    if bidi:
        argv += ["--remote-debugging-port", "0"]
    if system_access:
        argv.append("--remote-allow-system-access")
    size_env: dict[str, str] = {}
    if window_size is not None:
        argv += ["--window-size", f"{window_size[0]},{window_size[1]}"]
        if headless:  # headless Firefox sizes its window to its virtual screen, set by these
            size_env = {"MOZ_HEADLESS_WIDTH": str(window_size[0]), "MOZ_HEADLESS_HEIGHT": str(window_size[1])}
    argv += list(args)
    records()  # drops what died since, and week-old logs
    log = launched.new_log(APP)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", **size_env},
        )
    started = launched.start_time(proc.pid)  # now, while the pid is surely ours
    try:
        real_port = _wait_ready(proc, prof, bidi, timeout, log)
    except BaseException:
        launched.stop_process(proc.pid, started, grace=3.0)
        if temp:
            shutil.rmtree(prof, ignore_errors=True)
        raise
    rec = launched.new_record(  # Firefox is our unreaped child: its pid names it still
        APP,
        real_port,
        proc.pid,
        log=log,
        kind=Launched,
        host="127.0.0.1",
        port=real_port,
        profile=str(prof),
        temp_profile=temp,
        binary=exe,
        headless=headless,
        bidi_port=bidi_port_of(prof) if bidi else None,
        download_dir=str(downloads) if downloads is not None else None,
        accept_insecure_certs=accept_insecure_certs,
    )
    rec.save()
    return rec


def _wait_ready(proc: subprocess.Popen, prof: Path, bidi: bool, timeout: float, log: Path) -> int:
    """Wait for the port file, a session, and the BiDi file, while watching that Firefox lives."""
    end = time.monotonic() + timeout
    port: int | None = None
    while True:
        if proc.poll() is not None:
            raise Unreachable(
                f"Firefox exited (code {proc.returncode}) during startup:\n{launched.log_tail(log, 15)}"
            )
        if port is None:
            port = active_port(prof)
        if (
            port is not None
            and (not bidi or bidi_port_of(prof))
            and _session_ready(port, max(end - time.monotonic(), 0.5))
        ):
            return port
        if time.monotonic() > end:
            raise Timeout(
                f"Firefox did not become ready within {timeout:g} s "
                f"({'no ' + PORT_FILE if port is None else 'no session accepted on port ' + str(port)})",
                hint=f"its output: {log}",
            )
        time.sleep(0.1)


# ----------------------------------------------------------------------------- quitting
def quit_firefox(
    *,
    port: int | None = None,
    host: str | None = None,
    force: bool = False,
    timeout: float = 30.0,
    client: Callable[[], Firefox] | None = None,
) -> dict[str, Any]:
    """Stop the Firefox tether launched (the one on ``port``, or the only one).

    Graceful first (``Marionette:Quit``), then SIGTERM/SIGKILL after ``timeout``; the temporary
    profile is removed. A Firefox not in tether's launch record is refused unless ``force``;
    that one is reached through ``client()`` (default: :meth:`Firefox.attach` of ``host``/``port``).
    """
    elsewhere = host is not None and not is_loopback(host)
    rec = None if elsewhere else find_record(port=port)  # the records are this machine's
    if rec is None:
        if not force:
            raise UsageError(
                f"tether quits only a Firefox it launched on this machine, not the one at {host}"
                if elsewhere
                else "tether did not launch "
                + (f"the Firefox on port {port}" if port else "any running Firefox"),
                hint="add --force to quit it all the same (Marionette:Quit)"
                if elsewhere
                else "tether quits only the Firefox it launched; add --force to quit another one",
            )
        return _quit_foreign(host, port, timeout, client, elsewhere=elsewhere)
    how = "marionette"
    try:
        from .client import Firefox

        ff = Firefox(rec.host, rec.port, timeout=min(timeout, 10.0), busy_wait=1.0)
        ff.quit(timeout=min(timeout, 10.0))
    except TetherError:
        how = "signal"
    if not launched.wait_gone(rec, timeout if how == "marionette" else 0.0):
        how = "signal"
        launched.stop(rec, grace=min(timeout, 10.0))
    rec.cleanup()
    kept_log = rec.log if how == "signal" else None  # a Firefox that had to be killed: its output may say why
    rec.remove(keep_log=bool(kept_log))
    return {
        "pid": rec.pid,
        "port": rec.port,
        "stopped": how,
        "profile_removed": rec.temp_profile,
        "log": kept_log,
    }


def _quit_foreign(
    host: str | None,
    port: int | None,
    timeout: float,
    client: Callable[[], Firefox] | None,
    *,
    elsewhere: bool = False,
) -> dict[str, Any]:
    from .client import Firefox

    ff = client() if client is not None else Firefox.attach(host, port, timeout=min(timeout, 10.0))
    ff.open()
    pid = ff.pid
    if elsewhere:  # its pid is another machine's: Firefox's answer to Marionette:Quit is the word
        ff.quit(timeout=min(timeout, 10.0))
        there = (ff.endpoint.extra.get("remote_port") if ff.endpoint else None) or port
        return {
            "pid": pid,
            "port": there,
            "host": host,
            "stopped": "marionette",
            "profile_removed": False,
            "log": None,
        }
    started = launched.start_time(pid)
    ff.quit(timeout=min(timeout, 10.0))
    gone = launched.wait_process_gone(pid, started, timeout) if pid else False
    return {
        "pid": pid,
        "port": ff.port,
        "stopped": "marionette" if gone else "asked",
        "profile_removed": False,
        "log": None,
    }


def find_bidi_port(marionette_port: int | None = None) -> int:
    """The BiDi port of the Firefox whose Marionette listens on ``marionette_port`` (or of the
    only Firefox running the Remote Agent): tether's launch record first, then running
    Firefoxes' profiles."""
    for rec in records():
        if rec.bidi_port and (marionette_port is None or rec.port == marionette_port):
            return rec.bidi_port
    found: list[tuple[int, int | None]] = []
    looked = []
    for _pid, _name, cmd in firefox_processes():
        profile = profile_dir(cmd)
        if profile is None:
            continue
        looked.append(str(profile / BIDI_FILE))
        port = bidi_port_of(profile)
        if port is not None:
            found.append((port, active_port(profile)))
    if marionette_port is not None:
        found = [f for f in found if f[1] == marionette_port]
    if len(found) == 1:
        return found[0][0]
    if len(found) > 1:
        raise AmbiguousTarget(f"{len(found)} Firefoxes run WebDriver BiDi", hint="name one with --bidi-port")
    raise NotFound(
        "no Firefox with WebDriver BiDi (the Remote Agent) was found",
        looked_at=looked,
        hint="launch one with `tether firefox launch --bidi`, or start Firefox with --remote-debugging-port",
    )


def list_downloads(directory: str | Path) -> list[dict[str, Any]]:
    """The files in a download directory: ``name``, ``bytes``, and ``complete`` — False while
    Firefox still writes it (a ``.part`` file beside it, or the ``.part`` file itself)."""
    folder = Path(directory)
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise NotFound(f"cannot read the download directory {folder}: {exc.strerror}") from exc
    names = {p.name for p in entries}
    out = []
    for p in entries:
        if p.suffix == ".part" and p.name[: -len(".part")] in names:
            continue  # shown as the incomplete file it belongs to
        partial = p.suffix == ".part" or f"{p.name}.part" in names
        try:
            size = p.stat().st_size
        except OSError:
            continue
        out.append({"name": p.name, "bytes": size, "complete": not partial})
    return out


__all__ = [
    "Launched",
    "download_prefs",
    "find_bidi_port",
    "find_binary",
    "find_record",
    "launch",
    "list_downloads",
    "parse_pref",
    "proxy_prefs",
    "quit_firefox",
    "records",
]
