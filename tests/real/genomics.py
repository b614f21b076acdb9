"""Small genomics test data, made on the spot: an indexed FASTA, a VCF of SNVs and a BAM of reads
around each one (written as SAM, sorted and indexed with ``samtools``).

Used by the real tests and by ``benchmarks/igv_review.py`` (which imports it by path), so both
look at the same kind of data. Everything is seeded: the same call writes the same bytes.

>>> data = make_dataset(Path("/tmp/d"), variants=24)          # doctest: +SKIP
>>> data.fasta, data.vcf, data.bam, data.variants[0].locus
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BASES = b"ACGT"
LINE = 60  # FASTA line width
READ_LENGTH = 100


@dataclass(frozen=True)
class Variant:
    chrom: str
    pos: int  # 1-based
    id: str
    ref: str
    alt: str
    qual: str
    filter: str

    @property
    def locus(self) -> str:
        return f"{self.chrom}:{self.pos}"


@dataclass(frozen=True)
class Dataset:
    fasta: Path
    vcf: Path
    bam: Path
    variants: list[Variant]
    chromosomes: dict[str, int]


def need_samtools() -> str:
    found = shutil.which("samtools")
    if not found:
        raise RuntimeError("samtools is not installed (Debian package samtools; tests/real/install.py)")
    return found


def _sequence(rng: random.Random, length: int) -> bytes:
    table = bytes(BASES[i % 4] for i in range(256))
    return rng.randbytes(length).translate(table)


def write_fasta(path: Path, chromosomes: dict[str, bytes]) -> Path:
    """``path`` and ``path.fai`` (samtools' index layout, written directly)."""
    offset, parts, fai = 0, [], []
    for name, seq in chromosomes.items():
        header = f">{name}\n".encode()
        offset += len(header)
        body = b"\n".join(seq[i : i + LINE] for i in range(0, len(seq), LINE)) + b"\n"
        fai.append(f"{name}\t{len(seq)}\t{offset}\t{LINE}\t{LINE + 1}\n")
        parts += [header, body]
        offset += len(body)
    path.write_bytes(b"".join(parts))
    Path(f"{path}.fai").write_text("".join(fai))
    return path


def make_dataset(
    directory: Path,
    variants: int = 8,
    *,
    spacing: int = 40_000,
    reads: int = 60,
    per_chromosome: int = 50,
    seed: int = 11,
) -> Dataset:
    """A genome with ``variants`` SNVs ``spacing`` bp apart (at most ``per_chromosome`` per
    chromosome), a VCF of them (IDs ``var01``…, QUAL and FILTER varied) and a BAM with ``reads``
    100 bp reads over each, about half carrying the ALT base."""
    samtools = need_samtools()
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    n_chrom = max(1, -(-variants // per_chromosome))
    counts = [min(per_chromosome, variants - i * per_chromosome) for i in range(n_chrom)]
    seqs = {f"chr{i + 1}": _sequence(rng, (count + 1) * spacing) for i, count in enumerate(counts)}
    width = max(2, len(str(variants)))
    found: list[Variant] = []
    for c, (name, seq) in enumerate(seqs.items()):
        for k in range(counts[c]):
            pos = (k + 1) * spacing + rng.randrange(-spacing // 4, spacing // 4)
            ref = chr(seq[pos - 1])
            alt = "ACGT"[("ACGT".index(ref) + 1 + rng.randrange(3)) % 4]
            n = len(found) + 1
            found.append(
                Variant(
                    name,
                    pos,
                    f"var{n:0{width}d}",
                    ref,
                    alt,
                    str(rng.choice([12, 35, 60, 99])),
                    "PASS" if n % 4 else "LowQual",
                )
            )
    fasta = write_fasta(directory / "genome.fa", seqs)
    vcf = directory / "variants.vcf"
    header = ["##fileformat=VCFv4.2", '##FILTER=<ID=LowQual,Description="Low quality">']
    header += [f"##contig=<ID={n},length={len(s)}>" for n, s in seqs.items()]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    rows = [f"{v.chrom}\t{v.pos}\t{v.id}\t{v.ref}\t{v.alt}\t{v.qual}\t{v.filter}\t." for v in found]
    vcf.write_text("\n".join(header + rows) + "\n")

    sam = [f"@SQ\tSN:{n}\tLN:{len(s)}" for n, s in seqs.items()]
    quals = "".join(chr(33 + 30 + i % 10) for i in range(READ_LENGTH))
    for v in found:
        seq = seqs[v.chrom]
        for r in range(reads):
            start = v.pos - rng.randrange(1, READ_LENGTH)  # 1-based, the read covers v.pos
            bases = bytearray(seq[start - 1 : start - 1 + READ_LENGTH])
            if r % 2:
                bases[v.pos - start] = ord(v.alt)
            flag = 16 if r % 3 == 0 else 0
            sam.append(
                f"{v.id}_r{r}\t{flag}\t{v.chrom}\t{start}\t60\t{READ_LENGTH}M\t*\t0\t0\t"
                f"{bases.decode()}\t{quals}"
            )
    sam_path = directory / "reads.sam"
    sam_path.write_text("\n".join(sam) + "\n")
    bam = directory / "reads.bam"
    subprocess.run([samtools, "sort", "-o", str(bam), str(sam_path)], check=True, capture_output=True)
    subprocess.run([samtools, "index", str(bam)], check=True, capture_output=True)
    sam_path.unlink()
    return Dataset(fasta, vcf, bam, found, {n: len(s) for n, s in seqs.items()})
