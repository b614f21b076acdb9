"""How long `tether scan` takes, beside `lsof -nP -iTCP -sTCP:LISTEN` and `ss -Htlnp`, in the same run.

    .venv/bin/python benchmarks/scan.py [--rounds 9] [--with-apps] [--listeners 200]

`--with-apps` first starts the real IGV, Firefox and queue server (tests/real/apps.py), so the
scan probes three live apps (each scan must verify all three), and stops them afterwards.
`--listeners N` opens N other listening sockets first (a busy machine's worth of sockets to
list and pass over). The CLI runs this tree's code with .pyc files on (as an installed tether).
Rounds are interleaved; medians and ratios to lsof are printed, with the load average (a
benchmark, never a test assertion). Goal (issue 16): in-process ``tether.scan()`` ≤ 0.6× lsof.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "adapters")])


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - started


def load() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def other_listeners(n: int) -> list[socket.socket]:
    """``n`` idle listening sockets on loopback (a busy machine's worth), never on an adapter's
    default port: the OS may pick 60151 or 60610, and the scan would then wait out its probe on
    a silent socket there (a second of one round, by chance)."""
    from tether import registry

    defaults = {p for a in registry.adapters() for p in a.default_ports}
    out, spare = [], []
    while len(out) < n:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        if sock.getsockname()[1] in defaults:
            spare.append(sock)  # kept bound until the end, so the OS does not hand it out again
            continue
        sock.listen()
        out.append(sock)
    for sock in spare:
        sock.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--with-apps", action="store_true")
    parser.add_argument("--listeners", type=int, default=0)
    args = parser.parse_args()
    sys.path[1:1] = [str(ROOT / "src"), str(ROOT / "adapters")]
    for tree in (ROOT / "src", ROOT / "adapters"):
        compileall.compile_dir(str(tree), quiet=1)
    others = other_listeners(args.listeners)

    started_apps = []
    if args.with_apps:
        from tests.real import apps

        work = Path(tempfile.mkdtemp(prefix="tether-bench-"))
        started_apps = [
            apps.start_igv(work / "igv"),
            apps.start_firefox(work / "ff"),
            apps.start_qserver(work / "qs"),
        ]
    try:
        import tether

        tether.scan()  # warm the import and the page cache
        expected = {(a.name, a.port) for a in started_apps_named(started_apps)}
        tether_cli = [sys.executable, "-c", "import sys; from tether.cli import main; sys.exit(main())"]
        contenders = {
            "tether.scan() in-process": None,
            "tether scan --json (CLI)": [*tether_cli, "scan", "--json"],
            "tether scan --no-probe (CLI)": [*tether_cli, "scan", "--json", "--no-probe"],
        }
        if shutil.which("lsof"):
            contenders["lsof -nP -iTCP -sTCP:LISTEN"] = ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"]
        if shutil.which("ss"):
            contenders["ss -Htlnp"] = ["ss", "-Htlnp"]
        times: dict[str, list[float]] = {k: [] for k in contenders}
        found = 0
        for _ in range(args.rounds):
            for name, cmd in contenders.items():
                if cmd is None:
                    t0 = time.perf_counter()
                    eps = tether.scan()
                    times[name].append(time.perf_counter() - t0)
                    verified = {(e.app, e.port) for e in eps if e.verified}
                    if not expected <= verified:
                        raise SystemExit(f"the scan missed started apps: {sorted(expected - verified)}")
                    found = len(verified)
                else:
                    times[name].append(timed(cmd))
        base = statistics.median(times.get("lsof -nP -iTCP -sTCP:LISTEN") or [float("nan")])
        print(f"{'contender':34} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ratio to lsof':>14}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:34} {med * 1e3:10.1f} {min(ts) * 1e3:8.1f} {max(ts) * 1e3:8.1f} {med / base:14.2f}")
        print(
            f"verified apps per scan: {found}; other listeners: {args.listeners}; rounds: {args.rounds}; "
            f"load average: {load()}"
        )
    finally:
        for app in started_apps:
            app.stop()
        for sock in others:
            sock.close()
    return 0


class _Named:
    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port


def started_apps_named(started: list) -> list[_Named]:
    """(adapter name, port) of each app this benchmark started: the scan must verify them."""
    names = {"IGVApp": "igv", "FirefoxApp": "firefox", "QServerApp": "qserver"}
    return [_Named(names[type(a).__name__], a.port) for a in started if type(a).__name__ in names]


if __name__ == "__main__":
    sys.exit(main())
