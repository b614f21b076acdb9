"""``tether igv snapshots`` as a variant review, against real IGVs (a pool tether launches) and
real Firefox: a VCF (with two bad lines) over a BAM made by samtools, ``--parallel 2`` against
``--parallel 1`` byte for byte, resume, an IGV killed mid-run, Ctrl-C, and the review page.

Each run launches its own private IGVs (and Xvfbs); every test checks that none is left.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

import tether
from tether_igv.pool import Pool
from tether_igv.review import ReviewError, ReviewOptions, review

from .genomics import make_dataset

pytestmark = pytest.mark.real

TETHER = [sys.executable, "-m", "tether"]
VARIANTS = 6
BAD_LINES = ("chrZ\t100\tbadcontig\tA\tC\t50\tPASS\t.", "chr1\tnot-a-number\tbadpos\tA\tC\t.\t.\t.")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    try:
        d = make_dataset(tmp_path_factory.mktemp("review-data"), VARIANTS)
    except RuntimeError as exc:  # samtools missing
        from .conftest import _unavailable

        _unavailable("samtools", exc)
    with open(d.vcf, "a") as f:
        f.write("\n".join(BAD_LINES) + "\n")
    return d


def argv(data, out: Path, *extra: str) -> list[str]:
    return [
        *TETHER,
        "igv",
        "snapshots",
        str(data.vcf),
        "--out",
        str(out),
        "--track",
        str(data.bam),
        "--genome",
        str(data.fasta),
        "--sort",
        "base",
        "--max-panel-height",
        "400",
        *extra,
    ]


def run_watched(cmd: list[str], *, interrupt_after: int | None = None, out: Path | None = None):
    """Run ``cmd``, noting every process it starts (the pool's IGVs and Xvfbs) while it runs;
    with ``interrupt_after``, send SIGINT once that many images exist in ``out``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.update(c.pid for c in psutil.Process(proc.pid).children(recursive=True))
            except psutil.Error:
                pass
            due = interrupt_after is not None and out is not None and proc.poll() is None
            if due and len(list(out.glob("*.png"))) >= interrupt_after:
                proc.send_signal(signal.SIGINT)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
        watcher.join(5)
    return proc.returncode, stdout, stderr, seen


def alive(pids: set[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.Error:
            pass
    return left


def hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.png"))}


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The images of ``--parallel 1``: what every other run must reproduce byte for byte."""
    out = tmp_path_factory.mktemp("review-j1")
    code, _stdout, stderr, seen = run_watched(argv(data, out, "--parallel", "1", "--json"))
    assert code == 1, stderr  # the two bad lines
    assert not alive(seen), "the pool left processes running"
    return out, hashes(out)


def test_parallel_2_draws_the_same_bytes_as_parallel_1_skips_bad_lines_and_leaves_nothing_running(
    data, reference, tmp_path
):
    _ref_dir, ref = reference
    out = tmp_path / "j2"
    code, stdout, stderr, seen = run_watched(argv(data, out, "--parallel", "2", "--json"))
    assert code == 1, stderr
    assert len(seen) >= 4, f"expected 2 IGVs and 2 Xvfbs, saw {seen}"
    assert not alive(seen), "the pool left IGV or Xvfb running"
    # the bad lines, named by file:line, listed at the end; the rest drawn
    n = len(data.vcf.read_text().splitlines())
    error = json.loads(stdout)  # --json: the error, with the run's result, on stdout
    message = json.dumps(error)
    assert f"variants.vcf:{n - 1}" in message and f"variants.vcf:{n}" in message
    assert "unknown contig 'chrZ'" in message and "POS is not a whole number" in message
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in manifest["regions"]] == ["done"] * VARIANTS
    assert {r["igv"] for r in manifest["regions"]} and len({r["igv"] for r in manifest["regions"]}) == 2
    names = [r["image"] for r in manifest["regions"]]
    assert names == [f"{v.chrom}_{v.pos}_{v.id}.png" for v in data.variants]
    assert len(manifest["skipped"]) == 2
    assert len(ref) == VARIANTS and hashes(out) == ref  # byte-identical to one IGV's images


def test_resume_redraws_only_missing_and_unfinished_images(data, reference, tmp_path):
    import shutil

    ref_dir, ref = reference
    out = tmp_path / "resume"
    shutil.copytree(ref_dir, out)
    names = sorted(ref)
    (out / names[0]).unlink()
    whole = (out / names[1]).read_bytes()
    (out / names[1]).write_bytes(whole[: len(whole) // 2])  # an image IGV did not finish
    before = {n: (out / n).stat().st_mtime_ns for n in names[2:]}
    code, _stdout, stderr, seen = run_watched(argv(data, out, "--parallel", "1", "--resume", "--json"))
    assert code == 1, stderr  # the bad lines are still listed
    assert not alive(seen)
    assert {n: (out / n).stat().st_mtime_ns for n in names[2:]} == before  # untouched
    assert hashes(out) == ref
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(r["status"] == "done" for r in manifest["regions"])


def test_an_igv_killed_mid_run_hands_its_regions_to_the_other(data, reference, tmp_path):
    _, ref = reference
    out = tmp_path / "killed"
    killed: list[str] = []
    notes: list[str] = []

    def on_progress(entry) -> None:
        if not killed and entry.igv:
            pid = int(entry.igv.split()[2])
            killed.append(entry.igv)
            os.kill(pid, signal.SIGKILL)

    options = ReviewOptions(tracks=[str(data.bam)], genome=str(data.fasta), sort="base", max_panel_height=400)
    before = set(psutil.Process().children(recursive=True))
    pool = Pool(2, genome=str(data.fasta))
    with pytest.raises(ReviewError) as caught:  # the two bad lines
        review(
            None,
            [str(data.vcf)],
            out,
            pool=pool,
            options=options,
            on_progress=on_progress,
            on_note=notes.append,
        )
    result = caught.value.result
    assert killed and any("died" in n and killed[0] in n for n in notes), notes
    assert len(result.done) == VARIANTS
    assert hashes(out) == ref
    left = [p for p in psutil.Process().children(recursive=True) if p not in before and p.is_running()]
    assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE]


def test_ctrl_c_stops_the_pool_and_resume_finishes_the_run(data, reference, tmp_path):
    _, ref = reference
    out = tmp_path / "interrupted"
    code, _, stderr, seen = run_watched(argv(data, out, "--parallel", "2"), interrupt_after=1, out=out)
    assert code == 130, stderr
    assert seen and not alive(seen), "Ctrl-C left IGV or Xvfb running"
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(r["status"] == "pending" for r in manifest["regions"])
    code, _stdout, stderr, seen = run_watched(argv(data, out, "--parallel", "1", "--resume", "--json"))
    assert code == 1 and not alive(seen)
    assert hashes(out) == ref


def test_the_review_page_in_firefox_shows_every_image_and_keeps_verdicts(
    data, reference, firefox_app, tmp_path
):
    ref_dir, _ref = reference
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ref_dir))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    try:
        from tether import registry

        endpoint = tether.find("firefox", port=firefox_app.port)
        with registry.get("firefox").connect(endpoint, timeout=30) as ff:
            ff.navigate(url)
            ff.wait_until(
                lambda: ff.execute(
                    "return [...document.images].filter(i => i.getAttribute('src')).every(i => i.complete)"
                ),
                timeout=20,
            )
            loaded = ff.execute("return [...document.querySelectorAll('#rows img')].map(i => i.naturalWidth)")
            assert len(loaded) == VARIANTS and all(w > 300 for w in loaded), loaded
            assert ff.execute("return document.getElementById('big').naturalWidth") > 300
            assert "chrZ" not in ff.execute("return document.getElementById('rows').textContent")
            assert "unknown contig" in ff.execute("return document.getElementById('skipped').textContent")
            links = ff.execute("return [...document.querySelectorAll('#rows a.igv')].map(a => a.href)")
            assert len(links) == VARIANTS and all(
                h.startswith("http://127.0.0.1:60151/load?file=") for h in links
            )
            # keyboard: next, then verdict 2 (artefact)
            ff.find("body").click()
            ff.press("ArrowRight")
            ff.press("2")
            second = data.variants[1]
            stem = f"{second.chrom}_{second.pos}_{second.id}"
            assert ff.execute("return window.tetherReview.verdicts()") == {stem: "artefact"}
            ff.refresh()
            ff.wait_until(lambda: ff.execute("return !!window.tetherReview"), timeout=10)
            assert ff.execute("return window.tetherReview.verdicts()") == {stem: "artefact"}
            cell = ff.execute(
                "return document.querySelectorAll('#rows tr')[1].querySelector('td.verdict').textContent"
            )
            assert cell == "artefact"
            ff.click("#download")
            tsv = ff.execute(
                "const done = arguments[arguments.length - 1];"
                "window.tetherReview.lastBlob.text().then(done);",
                async_=True,
            )
            ff.execute("localStorage.clear()")
    finally:
        server.shutdown()
        server.server_close()
    rows = [line.split("\t") for line in tsv.splitlines()]
    assert rows[0] == ["stem", "locus", "id", "verdict"]
    assert [stem, second.id, "artefact"] == [rows[2][0], rows[2][2], rows[2][3]]
    assert len(rows) == VARIANTS + 1 and all(r[3] == "" for i, r in enumerate(rows[1:]) if i != 1)
