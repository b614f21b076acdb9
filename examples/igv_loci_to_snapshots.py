"""The classic review loop: one IGV snapshot per region of a BED file.

    python examples/igv_loci_to_snapshots.py regions.bed shots/            # the IGV tether finds
    python examples/igv_loci_to_snapshots.py regions.bed shots/ --port 60151

BED is 0-based and half-open; IGV loci are 1-based and closed, so ``chr1 999 2000`` is
``chr1:1000-2000``. The 4th column, when present, names the snapshot. Every region is
checked before anything is sent (an unknown chromosome stops the run with exit 2), and the
loop runs over one connection, released when it ends.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tether


def read_bed(path: Path) -> list[tuple[str, str]]:
    """``(locus, name)`` per BED row; header, track and comment lines are skipped."""
    regions = []
    for row in path.read_text(encoding="utf-8").splitlines():
        if not row.strip() or row.startswith(("#", "track", "browser")):
            continue
        fields = row.split("\t") if "\t" in row else row.split()
        chrom, start, end = fields[0], int(fields[1]), int(fields[2])
        locus = f"{chrom}:{start + 1}-{end}"
        name = fields[3] if len(fields) > 3 and fields[3] else locus
        regions.append((locus, re.sub(r"[^A-Za-z0-9._-]+", "_", name)))
    return regions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bed", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--port", type=int)
    ap.add_argument("--host")
    ap.add_argument("--format", choices=("png", "svg"), default="png")
    opts = ap.parse_args(argv)

    try:
        regions = read_bed(opts.bed)
        igv = tether.connect("igv", opts.host, opts.port)
        with igv.session():
            for locus, name in regions:
                igv.goto(locus)
                path = igv.snapshot(opts.outdir / f"{name}.{opts.format}")
                print(f"{locus}\t{path}")
    except tether.TetherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
