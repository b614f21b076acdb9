#!/usr/bin/env python3
"""Make the documentation's pictures from the real apps — never drawn by hand.

    .venv/bin/python docs/pictures.py [--out docs/images] [--only scan,review,monitor,trace]

Starts a headless IGV, Firefox and queue server with the test harness (``tests/real/apps.py``) on free ports,
takes each picture through tether itself, and stops every app by pid at the end, even on failure:

- ``scan.svg``: the ``tether scan`` table (rich's SVG export of the very table the CLI prints);
- ``review.png``: an IGV variant-review page (``tether igv snapshots`` over a VCF and a BAM), in Firefox;
- ``monitor.svg``: ``tether qserver monitor`` in a real terminal (tmux) while a plan runs;
- ``trace.png``: the trace page a failing web test leaves (``--tether-trace=on-failure``), in Firefox.

``tests/real/test_docs_pictures.py`` runs it against the test session's apps (``--attach``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PICTURES: dict[str, Callable[..., Path]] = {}


def picture(name: str):
    def register(fn):
        PICTURES[name] = fn
        return fn

    return register


@picture("scan")
def scan_svg(out: Path, apps: dict, work: Path) -> Path:
    """The scan table as the CLI prints it, exported by rich as SVG."""
    from rich.console import Console

    import tether
    from tether.cli.app import SCAN_COLUMNS, _scan_rows
    from tether.cli.render import renderable_table

    endpoints = [e for e in tether.scan() if e.app]
    console = Console(record=True, width=118, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print("$ tether scan")
    console.print(renderable_table(_scan_rows(endpoints), SCAN_COLUMNS))
    path = out / "scan.svg"
    console.save_svg(str(path), title="tether scan")
    return path


def _tmux(socket: str, *args: str) -> str:
    import subprocess

    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout


@picture("monitor")
def monitor_svg(out: Path, apps: dict, work: Path) -> Path:
    """``tether qserver monitor`` in a real terminal (tmux) while a plan runs, its screen (colours
    included) exported by rich as SVG."""
    import subprocess
    import time

    from rich.console import Console
    from rich.text import Text

    tether = str(Path(sys.executable).with_name("tether"))
    env = {
        k: os.environ[k]
        for k in ("QSERVER_HTTP_SERVER_URI", "QSERVER_HTTP_SERVER_API_KEY")
        if k in os.environ
    }
    run = lambda *a: subprocess.run([tether, "qserver", *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    run("env", "open", "--wait")
    for n in (3, 5):
        run("add", "count", '["det1", "det2"]', f"num={n}", "delay=1")
    socket = f"tether-pictures-{os.getpid()}"
    extra = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    _tmux(
        socket, "new-session", "-d", "-s", "m", "-x", "110", "-y", "34", *extra, f"{tether} qserver monitor"
    )
    try:
        run("start")
        shown = ""
        for _ in range(150):  # until the first plan runs while the second still waits in the queue
            time.sleep(0.2)
            shown = _tmux(socket, "capture-pane", "-t", "m", "-p", "-e")
            plain = Text.from_ansi(shown).plain
            if "nothing running" not in plain and "queue (1)" in plain:
                time.sleep(1.5)  # a little elapsed time and console output
                shown = _tmux(socket, "capture-pane", "-t", "m", "-p", "-e")
                break
        else:
            raise RuntimeError(f"the monitor never showed a running plan:\n{Text.from_ansi(shown).plain}")
    finally:
        _tmux(socket, "kill-server")
        run("stop")
    console = Console(record=True, width=110, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print("$ tether qserver monitor")
    console.print(Text.from_ansi(shown.rstrip("\n")))
    path = out / "monitor.svg"
    console.save_svg(str(path), title="tether qserver monitor")
    return path


@contextlib.contextmanager
def started_apps(work: Path, attach: bool) -> Iterator[dict]:
    """The apps the pictures need: the caller's (``--attach``: ports in ``TETHER_*_PORT`` and
    ``QSERVER_HTTP_SERVER_URI``) or started here and stopped by pid afterwards."""
    if attach:
        yield {}
        return
    sys.path.insert(0, str(ROOT))
    from tests.real import apps as harness

    started = []
    try:
        igv = harness.start_igv(work / "igv")
        started.append(igv)
        firefox = harness.start_firefox(work / "firefox")
        started.append(firefox)
        qserver = harness.start_qserver(work / "qserver")
        started.append(qserver)
        os.environ["TETHER_IGV_PORT"] = str(igv.port)
        os.environ["TETHER_FIREFOX_PORT"] = str(firefox.port)
        os.environ["QSERVER_HTTP_SERVER_URI"] = qserver.url
        os.environ["QSERVER_HTTP_SERVER_API_KEY"] = qserver.api_key
        yield {"igv": igv, "firefox": firefox, "qserver": qserver}
    finally:
        for app in reversed(started):
            app.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", default=",".join(PICTURES), help="comma-separated: " + ", ".join(PICTURES))
    parser.add_argument("--attach", action="store_true", help="use the apps named in the environment")
    args = parser.parse_args(argv)
    wanted = [w for w in args.only.split(",") if w]
    unknown = [w for w in wanted if w not in PICTURES]
    if unknown:
        parser.error(f"unknown pictures: {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tether-pictures-") as tmp:
        work = Path(tmp)
        with started_apps(work, args.attach) as apps:
            for name in wanted:
                path = PICTURES[name](args.out, apps, work)
                print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
