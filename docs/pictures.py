#!/usr/bin/env python3
"""Make the documentation's pictures from the real apps — never drawn by hand.

    .venv/bin/python docs/pictures.py [--out docs/images] [--only scan,review,monitor,trace]

Starts a headless IGV, Firefox and queue server with the test harness (``tests/real/apps.py``) on free ports,
takes each picture through tether itself, and stops every app by pid at the end, even on failure:

- ``scan.svg``: the ``tether scan`` table (rich's SVG export of the very table the CLI prints);
- ``igv-review-page.png``: an IGV variant-review page (``tether igv snapshots`` over a VCF and a BAM), in
  Firefox;
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


TRACED_TEST = """
def test_the_review_is_published(firefox):
    firefox.navigate("http://{served}/review.html")
    firefox.type("#comment", "Looks good")
    firefox.click("#save")
    firefox.expect("#status", text="Saved")
    firefox.expect("#status", text="Published", timeout=2)
"""

REVIEW_PAGE = (
    "<!doctype html><title>Review</title><style>body{font:16px sans-serif;margin:2em}"
    "#veil{position:fixed;inset:0;background:rgba(0,0,0,.3)}</style><h1>Review</h1>"
    "<textarea id='comment' rows=3 cols=40 disabled></textarea><p><button id='save'>Save</button></p>"
    "<p id='status'>Loading</p><div id='veil'></div><script>"
    "setTimeout(() => { document.getElementById('comment').disabled = false;"
    " document.getElementById('status').textContent = 'Ready'; }, 600);"
    "setTimeout(() => document.getElementById('veil').remove(), 700);"
    "document.getElementById('save').onclick = () => { const s = document.getElementById('status');"
    " s.textContent = 'Saving…'; setTimeout(() => { s.textContent = 'Saved'; }, 300); };</script>"
)


@contextlib.contextmanager
def _served(directory: Path) -> Iterator[str]:
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@picture("trace")
def trace_png(out: Path, apps: dict, work: Path) -> Path:
    """The trace page a failing web test leaves (``--tether-trace=on-failure``), opened in Firefox
    through tether, on the failing step."""
    import subprocess

    import tether

    site = work / "trace-site"
    site.mkdir(exist_ok=True)
    (site / "review.html").write_text(REVIEW_PAGE)
    port = os.environ["TETHER_FIREFOX_PORT"]
    with _served(site) as served:
        test = site / "test_review.py"
        test.write_text(TRACED_TEST.replace("{served}", served))
        artifacts = work / "trace-artifacts"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
             f"--tether-firefox-port={port}", "--tether-trace=on-failure", f"--tether-artifacts={artifacts}"],
            capture_output=True, text=True, timeout=180, cwd=site,
        )  # fmt: skip
    traces = sorted(artifacts.rglob("trace.html"))
    if done.returncode != 1 or not traces:
        raise RuntimeError(
            f"the traced test did not fail with a trace:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    path = out / "trace.png"
    with tether.connect("firefox", port=int(port), timeout=30) as ff:
        ff.set_window_rect(width=1280, height=860)
        ff.navigate(traces[0].as_uri())
        ff.expect("img", visible=True)
        ff.screenshot(path)
    return path


@picture("review")
def review_png(out: Path, apps: dict, work: Path) -> Path:
    """A variant-review page: ``tether igv snapshots`` over a VCF and a BAM made here (samtools),
    drawn by a private IGV (``--parallel 1``), opened in Firefox through tether with three verdicts
    given by keyboard, as a reviewer would."""
    import subprocess

    sys.path.insert(0, str(ROOT))
    import tether
    from tests.real.genomics import make_dataset

    data = make_dataset(work / "review-data", 8)
    review = work / "review"
    tether_bin = str(Path(sys.executable).with_name("tether"))
    done = subprocess.run(
        [tether_bin, "igv", "snapshots", str(data.vcf), "--out", str(review), "--track", str(data.bam),
         "--genome", str(data.fasta), "--sort", "base", "--max-panel-height", "400", "--parallel", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"tether igv snapshots failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    path = out / "igv-review-page.png"
    port = int(os.environ["TETHER_FIREFOX_PORT"])
    with _served(review) as served, tether.connect("firefox", port=port, timeout=60) as ff:
        ff.set_window_rect(width=1400, height=800)
        ff.navigate(f"http://{served}/index.html")
        ff.expect("#rows img", count=8)
        ff.wait_until(lambda: ff.execute("return [...document.images].every(i => i.complete)"), timeout=20)
        ff.execute("localStorage.clear()")
        ff.refresh()
        ff.click("body")
        for key in (
            "1",
            "ArrowRight",
            "2",
            "ArrowRight",
            "3",
        ):  # real, artefact, unsure, as a reviewer keys them
            ff.press(key)
        ff.expect("#rows tr:nth-child(3) td.verdict", text="unsure")
        ff.screenshot(path)
        ff.execute("localStorage.clear()")
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
    from tether_firefox import launch_firefox, quit_firefox

    os.environ.setdefault("TETHER_STATE_DIR", str(work / "state"))
    with contextlib.ExitStack() as stack:  # each app stopped by pid, in reverse, even on failure
        igv = harness.start_igv(work / "igv")
        stack.callback(igv.stop)
        firefox = launch_firefox(headless=True, bidi=True, timeout=60)  # BiDi: the trace shows the network
        stack.callback(quit_firefox, port=firefox.port, timeout=10)
        qserver = harness.start_qserver(work / "qserver")
        stack.callback(qserver.stop)
        os.environ["TETHER_IGV_PORT"] = str(igv.port)
        os.environ["TETHER_FIREFOX_PORT"] = str(firefox.port)
        os.environ["QSERVER_HTTP_SERVER_URI"] = qserver.url
        os.environ["QSERVER_HTTP_SERVER_API_KEY"] = qserver.api_key
        yield {"igv": igv, "firefox": firefox, "qserver": qserver}


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
