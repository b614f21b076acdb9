"""``tether qserver launch`` beside starting the same queue server by hand, same run.

    .venv/bin/python benchmarks/qserver_launch.py [--rounds 3]

Each round, interleaved:

1. **tether**: ``tether qserver launch --json`` (a process, as a user runs it) until it returns —
   redis, RE Manager and the HTTP server started on free ports, RE Manager answering ``idle``
   through the HTTP server with the new key — then ``tether qserver shutdown`` until it returns.
2. **by hand**: the same three programs with the commands of the queue server's own docs
   (``redis-server``, ``start-re-manager``, ``start-bluesky-httpserver`` with
   ``QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY``), polled until ``GET /api/status`` says ``idle``
   (tests/real/apps.py's ``start_qserver``: what the test suite and a careful script do), then each
   stopped by pid (SIGTERM, waiting for it to exit).

Medians are printed, and ratios as medians of per-round pairs. Goal: launch <= 1.1x by hand (it also
checks ports, records pids and verifies the server as the scan would).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real import apps  # noqa: E402  (the hand-started queue server of the test suite)

TETHER = str(Path(sys.executable).with_name("tether"))


def tether_round(env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([TETHER, "qserver", "launch", "--json"], capture_output=True, text=True, env=env)
    up = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tether qserver launch failed: {done.stderr}")
    port = json.loads(done.stdout)["port"]
    started = time.perf_counter()
    stop = subprocess.run([TETHER, "qserver", "shutdown", "--port", str(port)], capture_output=True, env=env)
    down = time.perf_counter() - started
    if stop.returncode != 0:
        raise SystemExit(f"tether qserver shutdown failed: {stop.stderr!r}")
    return up, down


def hand_round(workdir: Path) -> tuple[float, float]:
    started = time.perf_counter()
    app = apps.start_qserver(workdir)
    up = time.perf_counter() - started
    started = time.perf_counter()
    app.stop()
    return up, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {"tether": [], "hand": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TETHER_STATE_DIR": str(Path(tmp) / "state")}
        for n in range(args.rounds):
            first, second = ("tether", "hand") if n % 2 == 0 else ("hand", "tether")
            for who in (first, second):
                if who == "tether":
                    rows[who].append(tether_round(env))
                else:
                    rows[who].append(hand_round(Path(tmp) / f"hand{n}"))
    for i, what in enumerate(("start, until ready", "stop")):
        t = statistics.median(r[i] for r in rows["tether"])
        h = statistics.median(r[i] for r in rows["hand"])
        ratio = statistics.median(a[i] / b[i] for a, b in zip(rows["tether"], rows["hand"], strict=True))
        print(f"{what:20s} tether {t:6.2f} s   by hand {h:6.2f} s   ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
