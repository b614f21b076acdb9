"""How long `tether scan` takes, beside `lsof -nP -iTCP -sTCP:LISTEN` and `ss -Htlnp`, in the same run.

    .venv/bin/python benchmarks/scan.py [--rounds 9] [--with-apps]

`--with-apps` first starts the real IGV, Firefox and queue server (tests/real/apps.py), so the
scan probes three live apps, and stops them afterwards. Rounds are interleaved; medians and
ratios to lsof are printed (a benchmark, never a test assertion).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--with-apps", action="store_true")
    args = parser.parse_args()

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
        tether_bin = str(Path(sys.executable).parent / "tether")
        contenders = {
            "tether.scan() in-process": None,
            "tether scan --json (CLI)": [tether_bin, "scan", "--json"],
            "tether scan --no-probe (CLI)": [tether_bin, "scan", "--json", "--no-probe"],
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
                    found = len([e for e in tether.scan() if e.verified])
                    times[name].append(time.perf_counter() - t0)
                else:
                    times[name].append(timed(cmd))
        base = statistics.median(times.get("lsof -nP -iTCP -sTCP:LISTEN") or [float("nan")])
        print(f"{'contender':34} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ratio to lsof':>14}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:34} {med * 1e3:10.1f} {min(ts) * 1e3:8.1f} {max(ts) * 1e3:8.1f} {med / base:14.2f}")
        print(f"verified apps per scan: {found}; rounds: {args.rounds}")
    finally:
        for app in started_apps:
            app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
