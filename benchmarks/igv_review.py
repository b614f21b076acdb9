"""Variant review throughput: IGV's own batch runner beside ``tether igv snapshots --parallel 1/2``.

The same variants (a VCF made here, SNVs 40 kb apart) over the same BAM (60 reads a variant,
written as SAM, sorted and indexed with samtools; ``tests/real/genomics.py``), the same view
(POS ± 50, alignments sorted by base at the variant, ``maxPanelHeight 500``), timed wall-clock
from nothing running to every PNG written, IGV start-up included:

- **igv -b**: an IGV-snapshot-automator-style script (``new``, ``genome``, ``snapshotDirectory``,
  ``load``, ``maxPanelHeight``, then ``goto`` / ``sort`` / ``snapshot`` per variant, ``exit``) run
  by IGV's ``BatchRunner`` under its own Xvfb (offline: a prefs directory whose default genome is
  the local FASTA, see realapps.md);
- **tether -j1 / -j2**: ``tether igv snapshots VCF --track BAM --genome FASTA --parallel N``
  (a fresh Python process, the pool launched and stopped inside the timing).

    python benchmarks/igv_review.py                    # 120 and 1,000 variants, 2 rounds of 120
    python benchmarks/igv_review.py --sizes 120 --rounds 3

Rounds are interleaved (runner, -j1, -j2, runner, …) so drift on a shared machine hits all
alike; the figure per mode is the median of its rounds, the ratio that of the medians. Beside the
wall time, the CPU seconds (user + system) of every process the run started and reaped (IGV,
Xvfb, tether), sampled with psutil every 0.1 s while it runs (IGVs that tether starts are not
this process's children, so the kernel's reaped-children count would miss them): what the run
costs the machine, which a busy shared machine does not change much.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.real.genomics import make_dataset  # noqa: E402

IGV_JAR = "/usr/share/java/igv.jar"
IGV_MAIN = "org.broad.igv.ui.Main"
FLANK = 50
MAX_PANEL = 500


def igv_runner(data, out: Path, work: Path) -> float:
    """IGV's own ``-b`` runner on a generated script; returns wall seconds."""
    from tether import launched
    from tether_igv.launch import start_xvfb

    igv_dir = work / "igvdir"
    igv_dir.mkdir(parents=True, exist_ok=True)
    (igv_dir / "genomes.tsv").write_text("")
    (igv_dir / "prefs.properties").write_text(
        f"IGV.genome.sequence.dir={igv_dir / 'genomes.tsv'}\nSHOW_GENOME_SERVER_WARNING=FALSE\n"
        f"DEFAULT_GENOME_KEY={data.fasta}\nPORT_ENABLED=false\n"
    )
    lines = ["new", f"genome {data.fasta}", f"snapshotDirectory {out}", f"load {data.bam}"]
    lines.append(f"maxPanelHeight {MAX_PANEL}")
    for v in data.variants:
        lines += [
            f"goto {v.chrom}:{max(1, v.pos - FLANK)}-{v.pos + FLANK}",
            f"sort base {v.chrom}:{v.pos}",
            f"snapshot {v.chrom}_{v.pos}_{v.id}.png",
        ]
    lines.append("exit")
    script = work / "review.batch"
    script.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    xvfb_pid, display = start_xvfb()
    try:
        java = ["java", "-Djava.awt.headless=false", "-cp", IGV_JAR, IGV_MAIN]
        proc = subprocess.run(
            [*java, "--igvDirectory", str(igv_dir), "-b", str(script)],
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=1800,
        )
    finally:
        launched.stop_process(xvfb_pid, launched.start_time(xvfb_pid), 5.0)
    seconds = time.monotonic() - started
    made = len(list(out.glob("*.png")))
    if proc.returncode != 0 or made != len(data.variants):
        raise SystemExit(f"igv -b wrote {made}/{len(data.variants)} images (exit {proc.returncode})")
    return seconds


def tether_run(data, out: Path, parallel: int) -> float:
    tether = shutil.which("tether", path=str(Path(sys.executable).parent)) or "tether"
    argv = [tether, "igv", "snapshots", str(data.vcf), "--out", str(out), "--track", str(data.bam)]
    argv += ["--genome", str(data.fasta), "--parallel", str(parallel), "--sort", "base"]
    argv += ["--flank", str(FLANK), "--max-panel-height", str(MAX_PANEL), "--json"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"tether -j{parallel} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    done = json.loads(proc.stdout)["done"]
    if done != len(data.variants):
        raise SystemExit(f"tether -j{parallel} wrote {done}/{len(data.variants)} images")
    return seconds


class CpuWatch:
    """CPU seconds (user + system) of this process's descendants while the block runs: the
    largest reading per process, taken every 0.1 s (the last < 0.1 s of each is missed)."""

    def __enter__(self) -> CpuWatch:
        import psutil

        self._psutil = psutil
        self._seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        me = self._psutil.Process()
        while not self._stop.is_set():
            try:
                procs = me.children(recursive=True)
            except self._psutil.Error:
                procs = []
            for p in procs:
                try:
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())
                except self._psutil.Error:
                    continue
                self._seen[key] = max(self._seen.get(key, 0.0), t.user + t.system)
            self._stop.wait(0.1)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[120, 1000])
    ap.add_argument("--rounds", type=int, default=2, help="rounds at sizes up to 200 (1 above)")
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="tether-igv-review-bench-") as tmp:
        for size in opts.sizes:
            data = make_dataset(Path(tmp) / f"data{size}", size)
            times: dict[str, list[float]] = {"igv -b": [], "tether -j1": [], "tether -j2": []}
            cpu: dict[str, list[float]] = {k: [] for k in times}
            for r in range(opts.rounds if size <= 200 else 1):
                for mode in times:
                    out = Path(tmp) / f"out{size}-{mode.replace(' ', '')}-{r}"
                    out.mkdir()
                    with CpuWatch() as watch:
                        if mode == "igv -b":
                            seconds = igv_runner(data, out, Path(tmp) / f"work{size}-{r}")
                        else:
                            seconds = tether_run(data, out, int(mode[-1]))
                    used = watch.seconds
                    times[mode].append(seconds)
                    cpu[mode].append(used)
                    print(f"  {size} variants, {mode}: {seconds:.2f} s (cpu {used:.1f} s)", file=sys.stderr)
            med = {k: statistics.median(v) for k, v in times.items()}
            results.append(
                {
                    "variants": size,
                    "seconds": {k: round(v, 2) for k, v in med.items()},
                    "rounds": {k: [round(x, 2) for x in v] for k, v in times.items()},
                    "cpu_seconds": {k: round(statistics.median(v), 1) for k, v in cpu.items()},
                    "ratio_j1": round(med["tether -j1"] / med["igv -b"], 2),
                    "ratio_j2": round(med["tether -j2"] / med["igv -b"], 2),
                }
            )
    if opts.json:
        print(json.dumps(results, indent=1))
        return 0
    head = ("variants", "igv -b", "tether -j1", "tether -j2", "-j1/igv", "-j2/igv", "cpu s: igv/j1/j2")
    print("{:>8} {:>9} {:>11} {:>11} {:>8} {:>8}  {}".format(*head))
    for r in results:
        s, c = r["seconds"], r["cpu_seconds"]
        print(
            f"{r['variants']:>8} {s['igv -b']:>8.2f}s {s['tether -j1']:>10.2f}s {s['tether -j2']:>10.2f}s "
            f"{r['ratio_j1']:>7.2f}x {r['ratio_j2']:>7.2f}x  "
            f"{c['igv -b']:.1f}/{c['tether -j1']:.1f}/{c['tether -j2']:.1f}"
        )
    load = os.getloadavg()[0]
    print(f"(cpus: {os.cpu_count()}, load average {load:.1f}; wall time, IGV start-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
