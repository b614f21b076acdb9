"""Loci: parse ``chr:start-end`` / ``chr:pos`` / gene names, and check them against the loaded genome.

IGV answers ``OK`` to ``goto chrZZ:1-100``, so a bad chromosome or coordinate is caught here,
before sending, whenever the genome's FASTA index (``.fai``) is readable.

>>> parse_locus("chr1:1,000-2,000")
Locus(text='chr1:1,000-2,000', chrom='chr1', start=1000, end=2000)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tether.errors import UsageError

_RANGE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?$")
# Gene/feature names and bare chromosome names: IGV searches its feature index for these.
_NAME = re.compile(r"^[A-Za-z0-9_.\-+|()\[\]*/']+$")


@dataclass(frozen=True)
class Locus:
    """One locus as typed; ``chrom``/``start``/``end`` are set for ``chr:start[-end]`` forms."""

    text: str
    chrom: str | None = None
    start: int | None = None
    end: int | None = None

    @property
    def is_range(self) -> bool:
        return self.start is not None


def _number(text: str, locus: str) -> int:
    # Thousands separators: "1,000" is fine, ",1000" or "1,,000" is not.
    if not re.fullmatch(r"\d{1,3}(,\d{3})+|\d+", text):
        raise UsageError(f"bad number {text!r} in locus {locus!r}")
    digits = text.replace(",", "")
    if len(digits) > 15:  # beyond any genome (and beyond int()'s 4300-digit limit for some)
        raise UsageError(f"bad locus {locus[:40]!r}…: position {text[:20]}… is too large")
    return int(digits)


def parse_locus(text: str) -> Locus:
    """Parse one locus; raises :class:`UsageError` for anything IGV could not read as one."""
    if not text or any(c.isspace() for c in text):
        raise UsageError(
            f"bad locus {text!r}: a locus has no spaces (give several loci as separate arguments)"
        )
    m = _RANGE.match(text)
    if m:
        start = _number(m.group("start"), text)
        end = _number(m.group("end"), text) if m.group("end") else start
        if start < 1:
            raise UsageError(f"bad locus {text!r}: positions start at 1")
        if end < start:
            raise UsageError(f"bad locus {text!r}: the end is before the start")
        return Locus(text, m.group("chrom"), start, end)
    if ":" in text:
        raise UsageError(f"bad locus {text!r}: expected chr:start-end, chr:pos, or a gene/feature name")
    if not _NAME.match(text):
        raise UsageError(f"bad locus {text!r}: expected chr:start-end, chr:pos, or a gene/feature name")
    return Locus(text)


class GenomeIndex:
    """Chromosome names and lengths of a genome, from its FASTA index (``.fai``)."""

    def __init__(self, lengths: dict[str, int], source: str) -> None:
        self.lengths = lengths
        self.source = source

    @classmethod
    def load(cls, genome: str | None) -> GenomeIndex | None:
        """The index of a local FASTA genome (``<fasta>.fai``), or ``None`` when there is none to read."""
        if not genome or "://" in genome:
            return None
        try:  # the name comes from IGV's reply: it may hold a NUL, an unknown ~user …
            path = Path(genome).expanduser()
            candidates = (Path(str(path) + ".fai"), path.with_suffix(".fai"))
        except (RuntimeError, ValueError):
            return None
        for fai in candidates:
            try:
                text = fai.read_text(encoding="utf-8", errors="replace")
            except (OSError, ValueError):  # ValueError: an embedded NUL byte
                continue
            lengths = {}
            for row in text.splitlines():
                parts = row.split("\t")
                if len(parts) >= 2 and parts[1].strip().isdigit() and len(parts[1].strip()) < 19:
                    lengths[parts[0]] = int(parts[1])
            if lengths:
                return cls(lengths, str(fai))
        return None

    def first_locus(self) -> str:
        name, length = next(iter(self.lengths.items()))
        return f"{name}:1-{min(length, 1000)}"

    def canonical(self, chrom: str) -> str | None:
        """The genome's name for ``chrom``, allowing IGV's usual ``chr`` prefix aliasing (1 ↔ chr1)."""
        if chrom in self.lengths:
            return chrom
        for alt in (f"chr{chrom}", chrom[3:] if chrom.lower().startswith("chr") else None):
            if alt and alt in self.lengths:
                return alt
        lower = {k.lower(): k for k in self.lengths}
        return lower.get(chrom.lower())

    def check(self, locus: Locus) -> None:
        """Refuse a range on an unknown chromosome or beyond its end."""
        if not locus.is_range:
            return  # a gene name or a whole chromosome: only IGV's feature search can tell
        assert locus.chrom is not None and locus.start is not None and locus.end is not None
        name = self.canonical(locus.chrom)
        if name is None:
            known = ", ".join(list(self.lengths)[:8]) + (" …" if len(self.lengths) > 8 else "")
            raise UsageError(
                f"chromosome {locus.chrom!r} is not in the loaded genome (it has {known})",
                hint=f"checked against {self.source}",
            )
        length = self.lengths[name]
        if locus.start > length or locus.end > length:
            raise UsageError(
                f"locus {locus.text!r} is beyond the end of {name} ({length:,} bp)",
                hint=f"checked against {self.source}",
            )


def validate_loci(loci: list[str] | tuple[str, ...], index: GenomeIndex | None = None) -> list[Locus]:
    """Parse every locus and check it against ``index`` when there is one. At least one is needed."""
    if not loci:
        raise UsageError("give at least one locus (chr:start-end, chr:pos, or a gene name)")
    parsed = [parse_locus(text) for text in loci]
    if index is not None:
        for locus in parsed:
            index.check(locus)
    return parsed
