"""The variant review's parts that need no IGV: reading regions, naming images, sharing them
out, resuming from a manifest, and the page's escaping."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from tether.errors import UsageError
from tether_igv.locus import GenomeIndex
from tether_igv.regions import read_regions
from tether_igv.review import (
    PNG_END,
    Entry,
    ReviewResult,
    _keep_finished,
    clusters,
    image_complete,
)
from tether_igv.review_page import page_data, render

GENOME = GenomeIndex({"chr1": 100_000, "chr2": 5_000}, "tiny.fa.fai")
VCF = (
    "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr1\t12345\tvar07\tA\tG\t50\tPASS\t.\n"
    "chr1\t30\t.\tACGT\tA\t.\tLowQual\t.\n"
    "chrZ\t100\tz1\tA\tC\t9\tPASS\t.\n"
    "chr1\tabc\tbad\tA\tC\t9\tPASS\t.\n"
    "chr2\t9000\tpast\tA\tC\t9\tPASS\t.\n"
    "chr1\t12345\tvar07\tA\tT\t50\tPASS\t.\n"
    "too\tfew\n"
)


def test_a_vcf_gives_pos_plus_minus_flank_keeps_fields_and_skips_bad_lines_by_file_and_line(tmp_path):
    path = tmp_path / "calls.vcf"
    path.write_text(VCF)
    got = read_regions([str(path)], flank=20, genome=GENOME)
    assert got.kind == "vcf"
    first, second, repeat = got.regions
    assert (first.locus, first.id, first.ref, first.alt, first.qual, first.filter) == (
        "chr1:12325-12365",
        "var07",
        "A",
        "G",
        "50",
        "PASS",
    )
    assert first.stem == "chr1_12345_var07" and first.source == "calls.vcf:3"
    assert second.locus == "chr1:10-53"  # the whole 4-base REF, the start clipped at 1
    assert second.stem == "chr1_30" and second.id is None
    assert repeat.stem == "chr1_12345_var07_2"  # a repeat gets its own file
    reasons = {b.source: b.reason for b in got.bad}
    assert set(reasons) == {"calls.vcf:5", "calls.vcf:6", "calls.vcf:7", "calls.vcf:9"}
    assert "unknown contig 'chrZ'" in reasons["calls.vcf:5"]
    assert "POS is not a whole number" in reasons["calls.vcf:6"]
    assert "past the end of chr2" in reasons["calls.vcf:7"]
    assert "not a VCF record" in reasons["calls.vcf:9"]


def test_a_gzipped_vcf_and_a_bed_with_names_and_a_file_of_loci(tmp_path):
    gz = tmp_path / "calls.vcf.gz"
    with gzip.open(gz, "wt") as f:
        f.write(VCF)
    assert len(read_regions([str(gz)], genome=GENOME).regions) == 3
    bed = tmp_path / "r.bed"
    bed.write_text("track name=x\nchr1\t999\t2000\t<b>hit</b>\nchr2 0 10\nchr1\tten\t20\n")
    got = read_regions([str(bed)])
    assert [(r.locus, r.name, r.stem) for r in got.regions] == [
        ("chr1:1000-2000", "<b>hit</b>", "chr1_1000_b_hit_b"),
        ("chr2:1-10", "chr2:1-10", "chr2_1"),
    ]
    assert [b.source for b in got.bad] == ["r.bed:4"]
    loci = tmp_path / "loci.txt"
    loci.write_text("# mine\nchr1:5-50\nchr2:700\nBRCA1\n")
    assert [r.locus for r in read_regions([str(loci)], flank=10).regions] == [
        "chr1:5-50",
        "chr2:690-710",
        "BRCA1",
    ]


def test_loci_given_as_arguments_are_refused_not_skipped():
    assert [r.locus for r in read_regions(["chr1:1-9", "chr2:4-5"]).regions] == ["chr1:1-9", "chr2:4-5"]
    with pytest.raises(UsageError):
        read_regions(["chr1:200-100"])
    with pytest.raises(UsageError, match="unknown contig"):
        read_regions(["chrZ:1-100"], genome=GENOME)
    with pytest.raises(UsageError, match="cannot read"):
        read_regions(["/no/such/dir/x.vcf"])


def test_nearby_regions_stay_together_in_input_order():
    regions = read_regions(["chr1:1000-1100", "chr1:5000-5100", "chr1:90000-90100", "chr2:1-100"]).regions
    runs = clusters(regions, gap=30_000)
    assert [[r.locus for r in run] for run in runs] == [
        ["chr1:1000-1100", "chr1:5000-5100"],
        ["chr1:90000-90100"],
        ["chr2:1-100"],
    ]


def test_resume_keeps_only_complete_images_the_manifest_has_as_done(tmp_path):
    regions = read_regions(["chr1:1-100", "chr1:200-300", "chr1:400-500", "chr1:600-700"]).regions
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 40
    (tmp_path / "a.png").write_bytes(png + PNG_END)  # whole
    (tmp_path / "b.png").write_bytes(png)  # cut short
    (tmp_path / "d.png").write_bytes(png + PNG_END)  # whole, but the manifest says failed
    rows = []
    for region, image, status in zip(
        regions, ["a.png", "b.png", "c.png", "d.png"], ["done"] * 3 + ["failed"], strict=True
    ):
        rows.append({"stem": region.stem, "locus": region.locus, "status": status, "image": image})
    (tmp_path / "manifest.json").write_text(json.dumps({"regions": rows}))
    entries = [Entry(r) for r in regions]
    assert _keep_finished(tmp_path, entries) == 1
    assert [e.status for e in entries] == ["done", "pending", "pending", "pending"]
    assert image_complete(tmp_path / "a.png") and not image_complete(tmp_path / "b.png")
    (tmp_path / "manifest.json").write_text("{not json")
    assert _keep_finished(tmp_path, [Entry(r) for r in regions]) == 0


def test_the_page_carries_vcf_text_as_data_never_as_html(tmp_path):
    path = tmp_path / "evil.vcf"
    path.write_text(
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t500\t</script><img src=x onerror=alert(1)>\tA\tG\t1\t<b>&amp;</b>\t.\n"
    )
    regions = read_regions([str(path)])
    entry = Entry(regions.regions[0], status="done", image="x.png")
    result = ReviewResult(tmp_path, [entry], regions.bad, [], 1.0)
    data = page_data(result, {"tracks": ["/data/reads.bam"]}, port=60151)
    page = render("t <i>&</i>", data)
    assert "</script><img" not in page and "<b>&amp;" not in page and "<i>&</i>" not in page
    embedded = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert embedded is not None
    row = json.loads(embedded.group(1))["rows"][0]
    assert row["id"] == "</script><img src=x onerror=alert(1)>" and row["filter"] == "<b>&amp;</b>"
    assert row["igv"].startswith("http://127.0.0.1:60151/load?file=%2Fdata%2Freads.bam&locus=chr1")


def test_an_igv_that_keeps_dropping_the_connection_is_given_up_not_waited_on_forever(tmp_path):
    import time

    from tether.errors import TetherError
    from tether_igv.client import IGVClient
    from tether_igv.review import review
    from tether_igv.testing import fake_igv

    notes: list[str] = []
    with fake_igv({"snapshot": b"CLOSE"}) as server:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False, timeouts={"ready": 1.0})
        started = time.monotonic()
        with pytest.raises(TetherError) as caught:
            review(
                igv, ["chr1:100-200", "chr1:900000-900100", "chr2:100-200"], tmp_path, on_note=notes.append
            )
    assert time.monotonic() - started < 20
    assert "not drawn" in caught.value.message or "failed" in caught.value.message
    assert any("stopped answering" in n for n in notes), notes
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["status"] for r in manifest["regions"]].count("done") == 0


def test_a_callback_that_raises_hands_the_work_on_and_the_run_ends(tmp_path):
    from tether.errors import Unreachable
    from tether_igv.client import IGVClient
    from tether_igv.review import review
    from tether_igv.testing import fake_igv

    notes: list[str] = []

    def boom(entry) -> None:
        raise RuntimeError("callback bug")

    with fake_igv({}) as server:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False)
        with pytest.raises(Unreachable, match="not drawn"):
            review(igv, ["chr1:100-200", "chr2:100-200"], tmp_path, on_progress=boom, on_note=notes.append)
    assert any("stopped drawing (RuntimeError: callback bug)" in n for n in notes), notes
    assert json.loads((tmp_path / "manifest.json").read_text())["regions"]


def test_a_pool_draws_its_share_on_the_first_igv_up_while_the_other_still_starts(tmp_path, monkeypatch):
    import threading
    import time

    from tether_igv import launch as launch_module
    from tether_igv.pool import Pool
    from tether_igv.review import review
    from tether_igv.testing import fake_igv

    drawn: list[float] = []
    stopped: list[int] = []

    def reply(line: str) -> bytes:
        verb, _, arg = line.partition(" ")
        if verb == "saveSession":  # the pool's layout step reads the session back
            Path(arg).write_text("<Session>\n</Session>\n", encoding="utf-8")
        elif verb == "snapshot":
            (tmp_path / arg).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16) + PNG_END)
            drawn.append(time.monotonic())
        return b"OK\n"

    class Rec:  # what the pool uses of a launch record
        host, genome = "127.0.0.1", None

        def __init__(self, port: int) -> None:
            self.port = self.pid = port

        def alive(self) -> bool:
            return True

        def stop(self, timeout: float = 5.0) -> None:
            stopped.append(self.port)

    with fake_igv(reply) as fast, fake_igv(reply) as slow:
        ports, lock, slow_up = iter([fast.port, slow.port]), threading.Lock(), []

        def fake_launch(genome, **kw):
            with lock:
                port = next(ports)
            if port == slow.port:
                time.sleep(1.5)
                slow_up.append(time.monotonic())
            return Rec(port)

        monkeypatch.setattr(launch_module, "launch", fake_launch)
        loci = [f"chr{c}:{s}-{s + 100}" for c in (1, 2) for s in (1_000, 100_000, 200_000)]
        result = review(None, loci, tmp_path, pool=Pool(2, genome=None))
    assert len(result.done) == len(loci) and not result.failed
    assert drawn and min(drawn) < slow_up[0]  # drawing began before the second IGV was up
    # ... but the first one up drew at most its share (3 of the 6 runs) until the other came
    assert 1 <= sum(t < slow_up[0] for t in drawn) <= 3
    assert sorted(stopped) == sorted([fast.port, slow.port])  # and both were stopped
