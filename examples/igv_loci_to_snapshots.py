"""The classic review loop: one IGV snapshot per region of a BED file, and a page of them.

    python examples/igv_loci_to_snapshots.py regions.bed shots/            # the IGV tether finds
    python examples/igv_loci_to_snapshots.py regions.bed shots/ --port 60151

BED is 0-based and half-open; IGV loci are 1-based and closed, so ``chr1 999 2000`` is
``chr1:1000-2000``. The 4th column, when present, names the snapshot. Every region is
checked before anything is sent (an unknown chromosome stops the run with exit 2), and the
loop runs over one connection, released when it ends. ``shots/index.html`` shows every
snapshot with its locus (``tether igv snapshots regions.bed --out shots`` does the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tether
from tether_igv.report import read_regions, snapshot_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bed", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--port", type=int)
    ap.add_argument("--host")
    ap.add_argument("--format", choices=("png", "svg"), default="png")
    opts = ap.parse_args(argv)

    try:
        regions = read_regions([str(opts.bed)])
        igv = tether.connect("igv", opts.host, opts.port)
        report = snapshot_report(
            igv, regions, opts.outdir, fmt=opts.format, on_shot=lambda s: print(f"{s.locus}\t{s.file}")
        )
        print(f"page\t{report.index}")
    except tether.TetherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
