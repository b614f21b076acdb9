"""The classic review loop: one IGV image per variant (or BED region), and a page to judge them.

    python examples/igv_loci_to_snapshots.py regions.bed shots/                 # the IGV tether finds
    python examples/igv_loci_to_snapshots.py calls.vcf shots/ --track tumour.bam \\
        --genome ref.fa --parallel 2                                           # two private IGVs

VCF records become POS ± 50 bp (ID, REF/ALT, QUAL and FILTER go to the page); BED is 0-based
and half-open (``chr1 999 2000`` is ``chr1:1000-2000``) with the 4th column as the name. A bad
line is reported with its file:line and skipped (exit 1 at the end). ``shots/index.html`` is
the review page (keyboard, verdicts, verdicts.tsv); ``shots/manifest.json`` lets ``--resume``
redo only what is missing. ``tether igv snapshots`` does the same from the shell.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tether
from tether_igv.pool import snapshots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("regions", type=Path, help="a VCF, a BED file or a file of loci")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--track", action="append", default=[], help="a BAM, VCF, BED … (repeatable)")
    ap.add_argument("--genome", help="genome id or indexed FASTA")
    ap.add_argument("--parallel", type=int, help="launch this many private IGVs instead")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--port", type=int)
    ap.add_argument("--host")
    opts = ap.parse_args(argv)

    try:
        common = dict(
            tracks=opts.track,
            genome=opts.genome,
            resume=opts.resume,
            on_progress=lambda e: print(f"{e.region.locus}\t{e.image or e.error}"),
            on_note=lambda note: print(f"note: {note}", file=sys.stderr),
        )
        if opts.parallel:  # no running IGV needed: the pool is launched (and stopped) for the run
            result = snapshots(opts.regions, opts.outdir, parallel=opts.parallel, **common)
        else:
            igv = tether.connect("igv", opts.host, opts.port)
            result = igv.snapshots(opts.regions, opts.outdir, **common)
        print(f"page\t{result.page}")
    except tether.TetherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
