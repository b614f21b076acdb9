"""Regions to review: from a VCF, a BED file, a file of loci, or loci given directly.

Each region knows where it came from (``variants.vcf:12``), so a bad one can be reported and
skipped instead of ending the run: a line that does not parse, or a contig or position the
genome does not have (checked against the genome's ``.fai`` when it is readable), becomes a
:class:`BadRegion`. Loci given as arguments are still refused outright (exit 2): a typo on the
command line is not something to skip.

- **VCF** (``.vcf``, ``.vcf.gz``): each record is ``POS`` ± ``flank`` (the whole REF, for a longer
  one); ID, REF, ALT, QUAL and FILTER are kept for the review page.
- **BED**: 0-based half-open (``chr1 999 2000`` is ``chr1:1000-2000``); the 4th column names it.
- **Loci** (a file, one a line, ``#`` comments; or arguments): ``chr:start-end``, ``chr:pos``, names.

File names are decided here, before anything runs, so they never depend on which IGV took a
region: ``chr1_12345_var07.png`` (contig, position, ID or name), ``_2``… for a repeat.

>>> regions, bad = read_regions(["calls.vcf"], flank=50)          # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import UsageError

from . import args as A
from .locus import GenomeIndex, parse_locus

DEFAULT_FLANK = 50
MAX_FLANK = 10_000_000


@dataclass
class Region:
    """One region: what ``goto`` gets (``locus``), its image's file stem, and the variant's fields."""

    locus: str
    name: str
    source: str  # "file:line" or "argument N"
    chrom: str | None = None
    start: int | None = None  # 1-based, closed
    end: int | None = None
    pos: int | None = None  # the variant's position (VCF), where --sort sorts
    id: str | None = None
    ref: str | None = None
    alt: str | None = None
    qual: str | None = None
    filter: str | None = None
    stem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("locus", "name", "source", "chrom", "start", "end", "pos", "id", "ref", "alt", "qual")
        } | {"filter": self.filter}


@dataclass
class BadRegion:
    """A line or region that was skipped, and why."""

    source: str
    text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "text": self.text, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}" + (f" ({self.text[:80]!r})" if self.text else "")


@dataclass
class Regions:
    regions: list[Region] = field(default_factory=list)
    bad: list[BadRegion] = field(default_factory=list)
    kind: str = "loci"  # vcf, bed, loci
    from_file: bool = False


def _open_text(path: Path) -> list[str]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def kind_of(path: Path, lines: list[str]) -> str:
    name = path.name.lower()
    if name.endswith((".vcf", ".vcf.gz", ".vcf.bgz")) or (lines and lines[0].startswith("##fileformat=VCF")):
        return "vcf"
    if name.endswith((".bed", ".bed.gz")):
        return "bed"
    first = next((r for r in lines if r.strip() and not r.startswith(("#", "track", "browser"))), "")
    fields = first.split()
    return "bed" if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit() else "loci"


def read_regions(
    items: Iterable[str], *, flank: int = DEFAULT_FLANK, genome: GenomeIndex | None = None
) -> Regions:
    """Regions from one VCF/BED/loci file, or from loci given directly.

    Bad lines of a file (and regions off the ``genome``) are returned in ``bad``; a missing or
    unreadable file, a bad locus argument, a bad ``flank``, or nothing usable at all raise
    :class:`UsageError` (nothing has been sent by then).
    """
    items = [A.check_text(str(i), "region") for i in items]
    if not items:
        raise UsageError("give a VCF, a BED file, a file of loci, or loci")
    if not isinstance(flank, int) or not 0 <= flank <= MAX_FLANK:
        raise UsageError(f"refused: --flank must be 0 to {MAX_FLANK} bases, not {flank!r}")
    path = Path(items[0]).expanduser()
    is_file = len(items) == 1 and (
        path.is_file() or items[0].lower().endswith((".bed", ".vcf", ".vcf.gz", ".txt"))
    )
    if is_file:
        lines = _open_text(path)
        kind = kind_of(path, lines)
        parse = {"vcf": _vcf_line, "bed": _bed_line, "loci": _locus_line}[kind]
        result = Regions(kind=kind)
        for number, row in enumerate(lines, start=1):
            if (
                not row.strip()
                or row.startswith("#")
                or (kind == "bed" and row.startswith(("track", "browser")))
            ):
                continue
            where = f"{path.name}:{number}"
            try:
                region = parse(row, where, flank)
            except UsageError as exc:
                result.bad.append(BadRegion(where, row, exc.message))
                continue
            result.regions.append(region)
    else:
        result = Regions(kind="loci")
        for n, item in enumerate(items, start=1):
            for part in item.split():
                result.regions.append(_locus_line(part, f"argument {n}", flank))  # raises: exit 2
    result.from_file = is_file
    if genome is not None:
        check_genome(result, genome)
    if not result.regions:
        what = f"no usable regions in {items[0]}" if is_file else "no regions given"
        listing = "; ".join(str(b) for b in result.bad[:5])
        raise UsageError(what + (f": {listing}" if listing else ""), hint="nothing was sent")
    name_files(result.regions)
    return result


def check_genome(result: Regions, genome: GenomeIndex) -> None:
    """Move the regions ``genome`` cannot show to ``result.bad`` (loci given as arguments:
    :class:`UsageError`); raises when none is left."""
    kept = []
    for region in result.regions:
        problem = off_genome(region, genome)
        if problem is None:
            kept.append(region)
            continue
        if not result.from_file:
            raise UsageError(f"refused: {region.locus}: {problem}", hint="nothing was sent")
        result.bad.append(BadRegion(region.source, region.locus, problem))
    result.regions = kept
    if not kept:
        listing = "; ".join(str(b) for b in result.bad[:5])
        raise UsageError(f"no usable regions: {listing}", hint="nothing was sent")


def off_genome(region: Region, genome: GenomeIndex) -> str | None:
    """Why the genome cannot show ``region`` (unknown contig, past its end), or None."""
    if region.chrom is None:
        return None  # a gene or feature name: only IGV can look it up
    length = genome.lengths.get(region.chrom)
    if length is None:
        return f"unknown contig {region.chrom!r} (not in {genome.source})"
    if (region.pos or region.start or 1) > length:
        return f"position {region.pos or region.start} is past the end of {region.chrom} ({length:,} bp)"
    if region.end is not None and region.end > length:
        region.end = length
        region.locus = f"{region.chrom}:{region.start}-{region.end}"
    return None


def _int(text: str, what: str) -> int:
    if not re.fullmatch(r"\d{1,15}", text):
        raise UsageError(f"{what} is not a whole number: {text[:40]!r}")
    return int(text)


def _vcf_line(row: str, where: str, flank: int) -> Region:
    fields = row.rstrip("\r").split("\t")
    if len(fields) < 5:
        raise UsageError(f"not a VCF record (CHROM POS ID REF ALT …, tab-separated): {len(fields)} column(s)")
    chrom, pos_text, vid, ref, alt = fields[:5]
    _contig(chrom)
    pos = _int(pos_text, "POS")
    if pos < 1:
        raise UsageError("POS must be 1 or more")
    qual = fields[5] if len(fields) > 5 else "."
    flt = fields[6] if len(fields) > 6 else "."
    start = max(1, pos - flank)
    end = pos + max(len(ref), 1) - 1 + flank
    ident = vid if vid and vid != "." else None
    return Region(
        f"{chrom}:{start}-{end}",
        ident or f"{chrom}:{pos}",
        where,
        chrom,
        start,
        end,
        pos,
        ident,
        ref,
        alt,
        qual,
        flt,
        stem=_stem(chrom, pos, ident),
    )


def _bed_line(row: str, where: str, flank: int) -> Region:
    fields = row.split("\t") if "\t" in row else row.split()
    if len(fields) < 3:
        raise UsageError("not a BED row (chrom, start, end)")
    chrom = _contig(fields[0])
    start, end = _int(fields[1], "start"), _int(fields[2], "end")
    if end <= start:
        raise UsageError(f"the region {start}-{end} is empty or reversed")
    name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else None
    locus = f"{chrom}:{start + 1}-{end}"
    return Region(locus, name or locus, where, chrom, start + 1, end, stem=_stem(chrom, start + 1, name))


def _locus_line(row: str, where: str, flank: int) -> Region:
    text = row.strip().split()[0] if row.strip() else ""
    locus = parse_locus(text)
    if locus.is_range and locus.start == locus.end:  # chr:pos: the position ± flank, as a VCF record
        assert locus.chrom is not None and locus.start is not None
        start, end = max(1, locus.start - flank), locus.start + flank
        return Region(
            f"{locus.chrom}:{start}-{end}",
            text,
            where,
            locus.chrom,
            start,
            end,
            locus.start,
            stem=_stem(locus.chrom, locus.start, None),
        )
    if locus.is_range:
        return Region(
            text, text, where, locus.chrom, locus.start, locus.end, stem=_stem(locus.chrom, locus.start, None)
        )
    return Region(text, text, where, stem=_stem(text, None, None))


def _contig(name: str) -> str:
    if not name or not re.fullmatch(r"[^\s:]+", name):
        raise UsageError(f"bad contig name {name[:40]!r}")
    return name


def _stem(chrom: str | None, pos: int | None, name: str | None) -> str:
    parts = [p for p in (chrom, str(pos) if pos is not None else None, name) if p]
    return re.sub(r"[^A-Za-z0-9.-]+", "_", "_".join(parts)).strip("._")[:120] or "region"


def name_files(regions: list[Region]) -> None:
    """Give each region a unique file stem, in input order (a repeat gets ``_2``, ``_3`` …)."""
    taken: set[str] = set()
    for region in regions:
        stem = region.stem or _stem(region.chrom, region.start, region.name)
        candidate, n = stem, 2
        while candidate.lower() in taken:
            candidate, n = f"{stem}_{n}", n + 1
        taken.add(candidate.lower())
        region.stem = candidate
