"""A review report: one snapshot per region, and ``index.html``, a page of them with their loci.

>>> igv = tether.connect("igv")                                        # doctest: +SKIP
>>> report = snapshot_report(igv, read_regions(["regions.bed"]), "review")
>>> report.index                                                       # review/index.html

Regions come from a BED file (0-based, half-open: ``chr1 999 2000`` is ``chr1:1000-2000``; the
4th column, when present, names the region), a text file of loci (one a line), or loci given
directly. Every region is checked before anything is sent; the snapshots are taken over one
connection. The page links the images by relative path, so the directory can be moved or shared.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import UsageError

from . import args as A
from .locus import validate_loci

if TYPE_CHECKING:  # pragma: no cover
    from .client import IGVClient

FORMATS = ("png", "svg")


@dataclass
class Region:
    locus: str
    name: str


@dataclass
class Shot:
    locus: str
    name: str
    file: str  # relative to the report's directory

    def to_dict(self) -> dict[str, Any]:
        return {"locus": self.locus, "name": self.name, "file": self.file}


@dataclass
class Report:
    directory: Path
    shots: list[Shot] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.directory / "index.html"

    def to_dict(self) -> dict[str, Any]:
        return {"index": str(self.index), "snapshots": [s.to_dict() for s in self.shots]}


def read_regions(items: Iterable[str]) -> list[Region]:
    """Regions from one BED file or text file of loci, or from loci given directly."""
    items = [A.check_text(str(i), "region") for i in items]
    if not items:
        raise UsageError("give a BED file, a file of loci, or loci")
    if len(items) == 1 and (Path(items[0]).expanduser().is_file() or items[0].lower().endswith(".bed")):
        path = Path(items[0]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {items[0]}: {exc.strerror or exc}") from exc
        regions = (
            _read_bed(text, path) if _looks_like_bed(path, text) else _read_loci(text.splitlines(), path)
        )
    else:
        regions = _read_loci(items, None)
    if not regions:
        raise UsageError(f"no regions in {items[0]}" if len(items) == 1 else "no regions given")
    validate_loci([r.locus for r in regions])  # syntax, before anything is sent
    return regions


def _looks_like_bed(path: Path, text: str) -> bool:
    if path.suffix.lower() == ".bed":
        return True
    first = next(
        (r for r in text.splitlines() if r.strip() and not r.startswith(("#", "track", "browser"))), ""
    )
    fields = first.split()
    return len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit()


def _read_bed(text: str, path: Path) -> list[Region]:
    regions = []
    for number, row in enumerate(text.splitlines(), start=1):
        if not row.strip() or row.startswith(("#", "track", "browser")):
            continue
        fields = row.split("\t") if "\t" in row else row.split()
        try:
            chrom, start, end = fields[0], int(fields[1]), int(fields[2])
        except (IndexError, ValueError):
            raise UsageError(f"{path}, line {number}: not a BED row (chrom, start, end): {row!r}") from None
        if start < 0 or end <= start:
            raise UsageError(f"{path}, line {number}: the region {start}-{end} is empty or reversed")
        locus = f"{chrom}:{start + 1}-{end}"
        name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else locus
        regions.append(Region(locus, name))
    return regions


def _read_loci(lines: Iterable[str], path: Path | None) -> list[Region]:
    loci = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [Region(locus, locus) for locus in loci]


def _file_name(name: str, taken: set[str], fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "region"
    candidate, n = f"{stem}.{fmt}", 2
    while candidate in taken:
        candidate, n = f"{stem}_{n}.{fmt}", n + 1
    taken.add(candidate)
    return candidate


def snapshot_report(
    igv: IGVClient,
    regions: list[Region],
    out_dir: str | Path,
    *,
    fmt: str = "png",
    title: str | None = None,
    on_shot: Callable[[Shot], None] | None = None,
) -> Report:
    """Go to each region, snapshot it into ``out_dir``, and write ``out_dir/index.html``."""
    if fmt not in FORMATS:
        raise UsageError(f"refused: the snapshot format must be png or svg, not {fmt!r}")
    directory = Path(out_dir).expanduser().resolve()
    A.check_text(str(directory), "output directory")
    igv.verify_loci([r.locus for r in regions])  # against the loaded genome, before sending any
    directory.mkdir(parents=True, exist_ok=True)
    report, taken = Report(directory), set()
    with igv.session():
        for region in regions:
            file = _file_name(region.name, taken, fmt)
            igv.goto(region.locus)
            igv.snapshot(directory / file)
            shot = Shot(region.locus, region.name, file)
            report.shots.append(shot)
            if on_shot:
                on_shot(shot)
    report.index.write_text(
        render_html(report, title or f"IGV review: {len(report.shots)} region(s)"), "utf-8"
    )
    return report


def render_html(report: Report, title: str) -> str:
    """The page: each snapshot with its name and locus (every text escaped)."""
    esc = html.escape
    figures = "\n".join(
        f'<figure id="{esc(s.file)}"><img src="{esc(s.file)}" alt="{esc(s.locus)}">'
        f"<figcaption><b>{esc(s.name)}</b> {esc(s.locus) if s.name != s.locus else ''}</figcaption></figure>"
        for s in report.shots
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
figure {{ margin: 0 0 2em 0; }}
img {{ max-width: 100%; border: 1px solid #ccc; }}
figcaption {{ margin-top: .3em; }}
</style></head>
<body><h1>{esc(title)}</h1>
{figures}
</body></html>
"""
