"""500 ``goto`` through tether (session and short-lived mode) beside a bare raw-socket client, same IGV.

The raw client is what every existing Python client does at best: one connection, ``goto …\\n``,
read one line, no framing, no error check. tether's session mode adds the ``echo <nonce>``
framing (silent failures and dead listeners detected) and must stay within 1.10× of it.
Diagnostic rows show the framing without tether's remedies for the Nagle/delayed-ACK trap.

    python benchmarks/igv_goto.py                  # launches its own IGV (tiny genome), stops it after
    python benchmarks/igv_goto.py --port 60151     # an IGV already running (needs a chr1 of ≥ 50 kb)

Rounds are interleaved (raw, session, short-lived, …) so drift on a shared machine hits all alike;
each ratio is the median over rounds of (mode's per-goto time / raw's in the same round).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tether_igv.client import IGVClient
from tether_igv.protocol import IGVConnection


def loci(n: int) -> list[str]:
    return [f"chr1:{1 + (i * 997) % 40000}-{1 + (i * 997) % 40000 + 2000}" for i in range(n)]


def raw_client(port: int, targets: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        for locus in targets:
            s.sendall(f"goto {locus}\n".encode())
            if f.readline().strip() != b"OK":
                raise SystemExit("raw client: IGV did not answer OK")


def tether_session(port: int, targets: list[str]) -> None:
    igv = IGVClient(port=port)
    with igv.session():
        for locus in targets:
            igv.goto(locus)


def tether_short(port: int, targets: list[str]) -> None:
    igv = IGVClient(port=port)
    for locus in targets:
        igv.goto(locus)


def framed(port: int, targets: list[str], *, quickack: bool, lazy: bool) -> None:
    conn = IGVConnection.open("127.0.0.1", port, confirm="always", quickack=quickack, lazy=lazy)
    try:
        for locus in targets:
            conn.execute(f"goto {locus}", 30.0)
    finally:
        conn.close()


MODES: dict[str, Callable[[int, list[str]], None]] = {
    "raw socket (no framing)": raw_client,
    "tether session": tether_session,
    "tether short-lived": tether_short,
}
DIAGNOSTIC: dict[str, Callable[[int, list[str]], None]] = {
    "echo always, quickack + lazy nonce": lambda p, t: framed(p, t, quickack=True, lazy=True),
    "echo always, quickack": lambda p, t: framed(p, t, quickack=True, lazy=False),
    "echo always, naive (the trap)": lambda p, t: framed(p, t, quickack=False, lazy=False),
}


def run(port: int, n: int, rounds: int, diag_n: int) -> dict:
    per_round = max(1, n // rounds)
    targets = loci(per_round)
    times: dict[str, list[float]] = {name: [] for name in [*MODES, *DIAGNOSTIC]}
    warm = loci(100)
    raw_client(port, warm)  # warm up IGV's repaint path and its JIT
    tether_session(port, warm)
    names = list(MODES)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate: no mode always goes first
            t0 = time.perf_counter()
            MODES[name](port, targets)
            times[name].append((time.perf_counter() - t0) / per_round)
    diag_targets = targets[: max(1, diag_n // rounds)]
    for _ in range(rounds):
        for name, fn in DIAGNOSTIC.items():
            t0 = time.perf_counter()
            fn(port, diag_targets)
            times[name].append((time.perf_counter() - t0) / len(diag_targets))
        t0 = time.perf_counter()
        raw_client(port, diag_targets)
        times.setdefault("_raw_diag", []).append((time.perf_counter() - t0) / len(diag_targets))
    raw = times["raw socket (no framing)"]
    rows = []
    for name in [*MODES, *DIAGNOSTIC]:
        base = times["_raw_diag"] if name in DIAGNOSTIC else raw
        ratios = [a / b for a, b in zip(times[name], base, strict=True)]
        count = per_round * rounds if name in MODES else len(diag_targets) * rounds
        rows.append(
            {
                "mode": name,
                "gotos": count,
                "median_ms": round(statistics.median(times[name]) * 1000, 3),
                "ratio_to_raw": round(statistics.median(ratios), 3),
            }
        )
    return {"port": port, "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, help="an IGV already running (default: launch one)")
    ap.add_argument("-n", type=int, default=500, help="gotos per mode (default 500)")
    ap.add_argument("--rounds", type=int, default=20, help="interleaved rounds (default 20)")
    ap.add_argument(
        "--diag", type=int, default=100, help="gotos per diagnostic mode (slow by design; default 100)"
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "igv_goto.json",
        help="where the results are also written (default: benchmarks/results/igv_goto.json)",
    )
    opts = ap.parse_args()

    launched = None
    if opts.port is None:
        from tether_igv.launch import launch

        genome = Path(tempfile.mkdtemp(prefix="igv-bench-")) / "bench.fa"
        write_fasta(genome, {"chr1": 50000})
        launched = launch(str(genome), headless=True)
        port = launched.port
    else:
        port = opts.port
    try:
        result = run(port, opts.n, opts.rounds, opts.diag)
    finally:
        if launched is not None:
            launched.stop()
    result["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    if opts.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"IGV on port {port}; per-goto medians over {opts.rounds} interleaved rounds")
    print(f"{'mode':36} {'gotos':>6} {'ms/goto':>9} {'× raw':>7}")
    for row in result["rows"]:
        print(f"{row['mode']:36} {row['gotos']:>6} {row['median_ms']:>9.3f} {row['ratio_to_raw']:>7.3f}")
    session = next(r for r in result["rows"] if r["mode"] == "tether session")
    verdict = "meets" if session["ratio_to_raw"] <= 1.10 else "MISSES"
    print(f"goal: session ≤ 1.10× raw -> {session['ratio_to_raw']:.3f}× ({verdict})")
    return 0


def write_fasta(path: Path, chroms: dict[str, int]) -> None:
    """A deterministic FASTA and its ``.fai`` (60 bases a line)."""
    import random

    rng = random.Random(7)
    offset = 0
    with open(path, "w") as fa, open(str(path) + ".fai", "w") as fai:
        for name, length in chroms.items():
            header = f">{name}\n"
            fa.write(header)
            offset += len(header)
            fai.write(f"{name}\t{length}\t{offset}\t60\t61\n")
            seq = "".join(rng.choice("ACGT") for _ in range(length))
            for i in range(0, length, 60):
                line = seq[i : i + 60] + "\n"
                fa.write(line)
                offset += len(line)


if __name__ == "__main__":
    sys.exit(main())
