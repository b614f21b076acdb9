"""The IGV adapter against the real IGV (Debian's igv 2.16 under Xvfb).

IGV serves one client at a time: every test closes what it opens. Where a test claims that
"nothing was sent", it reads IGV's own log, which records every command line it receives.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

import tether
from tether.errors import CommandError
from tether_igv.client import IGVClient

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]
TETHER = [sys.executable, "-m", "tether"]
EXAMPLE = ROOT / "examples" / "igv_loci_to_snapshots.py"


# -- helpers ---------------------------------------------------------------------------------


def tether_proc(*argv: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real ``tether`` command; ``env`` values of ``None`` remove a variable."""
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [*TETHER, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in full.items() if v is not None},
    )


def igv_log(app) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(app.igv_dir).glob("igv*.log")))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def coloured_pixels(path: Path) -> int:
    """Pixels whose channels differ by more than 40 (not white, grey or black) in an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    width, height = png_size(path)
    channels = {2: 3, 6: 4}[data[25]]
    raw, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            raw += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(raw)
    stride, prev, count = width * channels, bytearray(width * channels), 0
    for y in range(height):
        kind, row = pixels[y * (stride + 1)], bytearray(pixels[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        for x in range(0, stride, channels):
            r, g, b = row[x : x + 3]
            count += max(r, g, b) - min(r, g, b) > 40
        prev = row
    return count


def igv_answers(port: int) -> bool:
    return IGVClient(port=port, timeouts={"ready": 5.0}).echo("alive") == "alive"


# -- a tiny BAM and BAI, written by hand (no samtools or pysam on the test machines) ------------
def _bgzf_block(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    header = (
        struct.pack("<4BI2BH", 31, 139, 8, 4, 0, 0, 255, 6) + b"BC" + struct.pack("<HH", 2, len(body) + 25)
    )
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _reg2bin(beg: int, end: int) -> int:
    end -= 1
    for shift, offset in ((14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)):
        if beg >> shift == end >> shift:
            return offset + (beg >> shift)
    return 0


def write_bam(path: Path, index: Path, refs: dict[str, int], reads: list[tuple[str, int, str, int]]) -> None:
    """A coordinate-sorted BAM of unpaired ``(name, pos0, seq, flag)`` reads on the first reference,
    in one BGZF block, and its BAI (all reads must sit in one 16 kb window)."""
    text = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(f"@SQ\tSN:{n}\tLN:{size}\n" for n, size in refs.items())
    head = b"BAM\x01" + struct.pack("<i", len(text)) + text.encode() + struct.pack("<i", len(refs))
    for name, length in refs.items():
        head += struct.pack("<i", len(name) + 1) + name.encode() + b"\x00" + struct.pack("<i", length)
    codes = {c: i for i, c in enumerate("=ACMGRSVTWYHKDBN")}
    records = b""
    bins = set()
    for name, pos, seq, flag in sorted(reads, key=lambda r: r[1]):
        qname = name.encode() + b"\x00"
        packed = bytes(
            (codes[seq[i]] << 4) | (codes[seq[i + 1]] if i + 1 < len(seq) else 0)
            for i in range(0, len(seq), 2)
        )
        bin_ = _reg2bin(pos, pos + len(seq))
        bins.add(bin_)
        body = struct.pack("<iiBBHHHiiii", 0, pos, len(qname), 60, bin_, 1, flag, len(seq), -1, -1, 0)
        body += qname + struct.pack("<I", len(seq) << 4) + packed + bytes([30] * len(seq))
        records += struct.pack("<i", len(body)) + body
    assert len(bins) == 1 and len(records) < 60000
    block0, block1 = _bgzf_block(head), _bgzf_block(records)
    path.write_bytes(block0 + block1 + BGZF_EOF)
    start, end = len(block0) << 16, (len(block0) + len(block1)) << 16
    bai = b"BAI\x01" + struct.pack("<i", len(refs))
    bai += struct.pack("<i", 1) + struct.pack("<Ii", bins.pop(), 1) + struct.pack("<QQ", start, end)
    bai += struct.pack("<i", 1) + struct.pack("<Q", start)
    bai += struct.pack("<ii", 0, 0) * (len(refs) - 1)
    index.write_bytes(bai)


def reads_from(genome: Path, count: int = 300) -> list[tuple[str, int, str, int]]:
    """Reads copied from chr1 of the tiny genome at 1,000-1,950, forward and reverse, many with
    a T at position 1,501 (a SNV to sort on)."""
    text = genome.read_text()
    chr1 = text.split(">chr2")[0].split("\n", 1)[1].replace("\n", "")
    rng = random.Random(5)
    reads = []
    for i in range(count):
        pos = rng.randint(1000, 1900)
        seq = list(chr1[pos : pos + 50])
        if rng.random() < 0.4 and 0 <= 1500 - pos < 50:
            seq[1500 - pos] = "T"
        reads.append((f"r{i}", pos, "".join(seq), rng.choice([0, 16])))
    return reads


class StallingHTTPServer:
    """An HTTP server that accepts IGV's request and answers nothing until released,
    so that an IGV ``load`` of its URL stays in progress for as long as a test needs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requested = threading.Event()
        self.release = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slow.bed"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.release.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            self.requested.set()

    def close(self) -> None:
        self.release.set()
        self._thread.join(2)
        for conn in self._conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def stalling_http():
    server = StallingHTTPServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def bed(tmp_path: Path) -> Path:
    directory = tmp_path / "data dir"
    directory.mkdir()
    path = directory / "my regions.bed"
    path.write_text("chr1\t100\t900\tfeatA\nchr1\t2000\t2600\tfeatB\nchr2\t500\t1500\tfeatC\n")
    return path


# -- navigation and argument safety ----------------------------------------------------------
def test_goto_answers_ok_through_the_cli(igv_app, cli):
    code, out, _ = cli("igv", "goto", "chr1:1,000-2,000", "--port", str(igv_app.port), "--json")
    assert code == 0
    assert json.loads(out)["reply"] == "OK"
    assert "goto chr1:1,000-2,000" in igv_log(igv_app)


def test_goto_a_name_igv_does_not_know_exits_1_and_a_known_feature_still_goes(igv_app, bed, cli):
    port = ["--port", str(igv_app.port)]
    assert cli("igv", "goto", "chr2:100-200", *port)[0] == 0
    code, _, err = cli("igv", "goto", "nosuchgene", *port)
    assert code == 1, err  # IGV answered OK and stayed at chr2:100-200
    assert "nosuchgene" in err and "did not move" in err
    assert cli("igv", "load", str(bed), *port)[0] == 0
    try:
        assert cli("igv", "goto", "featB", *port)[0] == 0  # a feature of a loaded track
        assert cli("igv", "goto", "featB", *port)[0] == 0  # already there: still found
    finally:
        assert cli("igv", "new", *port)[0] == 0


def test_goto_several_loci_opens_a_split_view(igv_app):
    assert IGVClient(port=igv_app.port).goto("chr1:100-500", "chr2:100-500").ok


def test_goto_refuses_an_unknown_chromosome_before_sending(igv_app, cli):
    code, _, err = cli("igv", "goto", "chrZZ:1-100", "--port", str(igv_app.port))
    assert code == 2
    assert "not in the loaded genome" in err
    assert "chrZZ" not in igv_log(igv_app)


def test_goto_refuses_coordinates_beyond_the_chromosome(igv_app, cli):
    code, _, err = cli("igv", "goto", "chr2:19,000-25,000", "--port", str(igv_app.port))
    assert code == 2 and "beyond the end of chr2" in err


def test_goto_refuses_newline_injection_and_igv_keeps_running(igv_app, cli):
    before = igv_log(igv_app).count("] exit")
    code, _, err = cli("igv", "goto", "chr1:1-100\nexit", "--port", str(igv_app.port))
    assert code == 2 and "line break" in err
    code, _, _ = cli("igv", "send", "echo x\nexit", "--port", str(igv_app.port))
    assert code == 2
    assert igv_app.alive()
    assert igv_answers(igv_app.port)
    assert igv_log(igv_app).count("] exit") == before


def test_current_genome_comes_from_the_igv_directory_of_the_process(igv_app, cli):
    code, out, _ = cli("igv", "current-genome", "--port", str(igv_app.port), "--json")
    info = json.loads(out)
    assert code == 0
    assert info["genome"] == str(igv_app.genome)
    assert info["source"].endswith("prefs.properties")
    assert info["chromosomes"] == {"chr1": 50000, "chr2": 20000}


def test_version_falls_back_to_the_package_when_igv_says_user(igv_app, cli):
    code, out, _ = cli("igv", "version", "--port", str(igv_app.port), "--json")
    assert code == 0
    assert json.loads(out)["version"].startswith("2.16")


def test_tether_connect_returns_a_working_client(igv_app):
    igv = tether.connect("igv", port=igv_app.port)
    assert isinstance(igv, IGVClient)
    with igv.session():
        assert igv.echo("hello") == "hello"
        assert igv.goto("chr2:1,000-1,500").ok


# -- data, snapshots, scripts ------------------------------------------------------------------
def test_load_bed_from_a_path_with_spaces_then_snapshot_png_and_svg(igv_app, bed, tmp_path, cli):
    port = str(igv_app.port)
    code, _, err = cli("igv", "load", str(bed), "--name", "my regions", "--port", port)
    assert code == 0, err
    assert f'load "{bed}"' in igv_log(igv_app)
    assert "does not exist" not in igv_log(igv_app).split(f'load "{bed}"', 1)[1][:400]
    assert cli("igv", "goto", "chr1:1-3,000", "--port", port)[0] == 0
    shot = tmp_path / "shots dir" / "view one.png"
    code, out, err = cli("igv", "snapshot", str(shot), "--port", port, "--json")
    assert code == 0, err
    assert json.loads(out)["file"] == str(shot)
    width, height = png_size(shot)
    assert width > 300 and height > 100
    assert shot.stat().st_size > 5000
    svg = tmp_path / "view.svg"
    assert cli("igv", "snapshot", str(svg), "--port", port)[0] == 0
    assert "<svg" in svg.read_text()[:2000]
    assert cli("igv", "new", "--port", port)[0] == 0


def test_load_several_files_whose_names_hold_a_space_a_comma_and_a_quote(igv_app, tmp_path):
    # Each list item is quoted on its own; IGV splits on commas outside quotes, then unquotes.
    odd = tmp_path / "odd dir" / "tumour, patient's.bed"
    odd.parent.mkdir()
    odd.write_text("chr1\t100\t900\todd\n")
    plain = tmp_path / "plain.bed"
    plain.write_text("chr2\t100\t900\tplain\n")
    session = tmp_path / "session.xml"
    igv = IGVClient(port=igv_app.port)
    with igv.session():
        igv.new()
        assert igv.load(odd, plain).ok
        assert igv.send(f"saveSession {session}").ok
        igv.new()
    # IGV writes the paths relative to the session file.
    loaded = {(session.parent / p).resolve() for p in re.findall(r'path="([^"]+)"', session.read_text())}
    assert {odd, plain} <= loaded, loaded


def test_load_bam_with_its_index_and_alignment_commands(igv_app, tmp_path):
    bam, bai = tmp_path / "reads.bam", tmp_path / "reads.index.bai"  # not <bam>.bai: --index is needed
    write_bam(bam, bai, {"chr1": 50000, "chr2": 20000}, reads_from(igv_app.genome))
    igv = IGVClient(port=igv_app.port)
    with igv.session():
        igv.new()
        igv.goto("chr1:1,400-1,600")
        before = igv.snapshot(tmp_path / "before.png")
        assert igv.load(bam, index=bai).ok
        for reply in (
            igv.goto("chr1:1,400-1,600"),
            igv.sort("base", "chr1:1501"),
            igv.group("strand"),
            igv.color_by("read_strand"),
            igv.view_as_pairs(False),
            igv.squish("reads.bam"),
            igv.expand("reads.bam"),
        ):
            assert reply.ok
        after = igv.snapshot(tmp_path / "after.png")
        igv.new()
    # The reads are drawn: tens of thousands more coloured (pink/blue) pixels than before.
    assert coloured_pixels(after) > coloured_pixels(before) + 20_000
    assert f"load {bam} index={bai}" in igv_log(igv_app)


def test_snapshot_refuses_a_format_igv_cannot_write(igv_app, tmp_path, cli):
    code, _, err = cli("igv", "snapshot", str(tmp_path / "x.jpg"), "--port", str(igv_app.port))
    assert code == 2 and ".png or .svg" in err
    assert not (tmp_path / "x.jpg").exists()


def test_track_and_display_commands_answer_ok(igv_app, bed):
    igv = IGVClient(port=igv_app.port)
    with igv.session():
        igv.load(bed, format="bed")
        for reply in (
            igv.goto("featB"),
            igv.expand(),
            igv.squish("my regions.bed"),
            igv.collapse(),
            igv.region("chr1:100-200", "a region"),
            igv.max_panel_height(400),
            igv.preference("SAM.SHOW_SOFT_CLIPPED", "true"),
            igv.set_sleep_interval(0),
            igv.view_as_pairs(True),
            igv.sort("base"),
            igv.group("strand"),
            igv.color_by("read_strand"),
            igv.new(),
        ):
            assert reply.ok, reply


def test_genome_command_reloads_a_fasta(igv_app, cli):
    code, _, err = cli("igv", "genome", str(igv_app.genome), "--port", str(igv_app.port))
    assert code == 0, err
    assert cli("igv", "goto", "chr1:10-500", "--port", str(igv_app.port))[0] == 0


def test_batch_stops_at_the_bad_line_and_names_it(igv_app, tmp_path, cli):
    script = tmp_path / "review.txt"
    script.write_text("# a review script\nnew\n\ngoto chr1:1-2000\nfrobnicate now\ngoto chr2:777-1777\n")
    code, out, _ = cli("igv", "batch", str(script), "--port", str(igv_app.port), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["line"] == 5
    assert "line 5" in report["message"] and "UNKOWN COMMAND" in report["app_message"]
    log = igv_log(igv_app)
    assert "goto chr1:1-2000" in log and "goto chr2:777-1777" not in log
    assert igv_answers(igv_app.port)


def test_batch_keep_going_runs_every_line_and_lists_the_failures(igv_app, tmp_path, cli):
    script = tmp_path / "all.txt"
    script.write_text("goto chr1:1-900\nfrobnicate\n// comment\ngoto chr2:888-1888\nload /no/such.bed\n")
    port = str(igv_app.port)
    code, out, _ = cli("igv", "batch", str(script), "--keep-going", "--port", port, "--json")
    assert code == 1
    result = json.loads(out)["result"]
    assert [f["line"] for f in result["failures"]] == [2, 5]
    assert result["done"] == 2 and result["skipped"] == 1
    assert "goto chr2:888-1888" in igv_log(igv_app)


# -- failures are typed, bounded, and leave IGV usable -------------------------------------------
def test_invalid_command_is_a_typed_error_and_igv_still_answers(igv_app):
    igv = IGVClient(port=igv_app.port, timeouts={"goto": 5.0})
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        igv.send("frobnicate")
    assert time.monotonic() - started < 5.0
    assert info.value.app_message == "UNKOWN COMMAND: frobnicate"
    assert igv_answers(igv_app.port)


def test_failing_commands_are_typed_errors_within_the_deadline(igv_app, cli):
    port = str(igv_app.port)
    started = time.monotonic()
    code, out, _ = cli("igv", "send", "colorBy FOO", "--port", port, "--timeout", "5", "--json")
    assert code == 1
    assert json.loads(out).get("reason") == "silent", out  # IGV 2.16 writes nothing for a command that throws
    code, out, _ = cli("igv", "send", "load /no/such/file.bam", "--port", port, "--json")
    assert code == 1
    assert json.loads(out)["app_message"] == "Error: /no/such/file.bam does not exist."
    assert time.monotonic() - started < 10
    assert igv_answers(igv_app.port)


def test_a_bad_colour_option_is_refused_before_it_can_hang_igv(igv_app, cli):
    code, _, err = cli("igv", "color-by", "FOO", "--port", str(igv_app.port))
    assert code == 2 and "read_strand" in err


def test_busy_port_reports_exit_4_within_the_deadline(igv_app):
    holder = socket.create_connection(("127.0.0.1", igv_app.port), timeout=5)
    try:
        holder.sendall(b"echo held\n")
        assert holder.recv(100) == b"held\n"  # IGV now serves this connection, and only it
        started = time.monotonic()
        proc = tether_proc("igv", "goto", "chr1:1-500", "--port", str(igv_app.port), "--timeout", "2")
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    assert proc.returncode == 4, proc.stderr
    assert "busy" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 8
    assert igv_answers(igv_app.port)


def test_timeout_mid_command_exits_4_and_igv_recovers(igv_app, stalling_http, cli):
    started = time.monotonic()
    load = f"load {stalling_http.url}"
    code, out, _ = cli("igv", "send", load, "--port", str(igv_app.port), "--timeout", "2", "--json")
    assert code == 4
    assert "mid-command" in json.loads(out)["message"]
    assert stalling_http.requested.is_set()
    assert time.monotonic() - started < 8
    stalling_http.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if igv_answers(igv_app.port):
                break
        except tether.TetherError:
            time.sleep(0.5)
    assert igv_answers(igv_app.port)


# -- the review loop example -------------------------------------------------------------------
def test_example_writes_one_snapshot_per_bed_region(igv_app, bed, tmp_path):
    out = tmp_path / "snaps"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(bed), str(out), "--port", str(igv_app.port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["chr1_101_featA.png", "chr1_2001_featB.png", "chr2_501_featC.png"]
    for p in out.glob("*.png"):
        assert png_size(p)[0] > 300 and p.stat().st_size > 3000
    assert "chr2:501-1500" in proc.stdout
    assert (out / "index.html").is_file() and f"page\t{out / 'index.html'}" in proc.stdout


# -- launch, exit, stop, and IGV dying mid-command -------------------------------------------------
@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    directory = tmp_path / "state"
    monkeypatch.setenv("TETHER_STATE_DIR", str(directory))
    return directory


def _pid_gone(pid: int, within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def _kill(pid: int | None) -> None:
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_launch_without_a_display_uses_xvfb_then_exit_stops_igv_and_xvfb(igv_app, state_dir, tmp_path):
    genome = str(igv_app.genome)
    env = {"TETHER_STATE_DIR": str(state_dir)}
    launch_env = {**env, "DISPLAY": None}
    argv = ["igv", "launch", "--genome", genome, "--width", "1600", "--json"]  # wider than IGV's 1280 screen
    proc = tether_proc(*argv, env=launch_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    try:
        assert rec["genome"] == genome and rec["xvfb_pid"] and rec["port"] != igv_app.port
        assert (state_dir / "igv" / f"{rec['port']}.json").exists()
        prefs = (Path(rec["igv_dir"]) / "prefs.properties").read_text()
        assert "SHOW_GENOME_SERVER_WARNING=FALSE" in prefs
        igv = IGVClient(port=rec["port"])
        assert igv.current_genome()["source"] == "launched by tether"
        assert igv.goto("chr2:1-1000").ok
        assert png_size(igv.snapshot(tmp_path / "wide.png"))[0] == 1600  # --width is the snapshot's width
        status = tether_proc("igv", "status", "--port", str(rec["port"]), "--json", env=env)
        assert json.loads(status.stdout)["pid"] == rec["pid"]
        done = tether_proc("igv", "exit", "--port", str(rec["port"]), env=env)
        assert done.returncode == 0, done.stderr
        assert _pid_gone(rec["pid"]) and _pid_gone(rec["xvfb_pid"])
        assert not (state_dir / "igv" / f"{rec['port']}.json").exists()
        assert not Path(rec["igv_dir"]).exists()
    finally:
        _kill(rec["pid"])
        _kill(rec["xvfb_pid"])


def test_launch_with_a_genome_igv_cannot_load_fails_in_seconds_and_leaves_nothing(state_dir):
    import psutil

    started = time.monotonic()
    proc = subprocess.Popen(
        [*TETHER, "igv", "launch", "--genome", "nosuchgenome", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TETHER_STATE_DIR": str(state_dir)},
    )
    seen: set[int] = set()
    while proc.poll() is None and time.monotonic() - started < 60:
        try:
            seen.update(c.pid for c in psutil.Process(proc.pid).children(recursive=True))
        except psutil.Error:
            pass
        time.sleep(0.05)
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - started
    assert proc.returncode == 4, err
    assert "could not load the genome 'nosuchgenome'" in err and "local indexed FASTA" in err
    assert took < 30, f"took {took:.1f} s (the old wait was 60 s)"
    assert seen and all(_pid_gone(pid) for pid in seen)  # IGV and its Xvfb stopped


def test_igv_killed_mid_command_exits_4_with_a_message_and_stop_cleans_up(igv_app, state_dir, stalling_http):
    from tether_igv.launch import launch

    env = {"TETHER_STATE_DIR": str(state_dir)}
    rec = launch(str(igv_app.genome), headless=True)
    try:
        proc = subprocess.Popen(
            [*TETHER, "igv", "send", f"load {stalling_http.url}", "--port", str(rec.port), "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        try:
            assert stalling_http.requested.wait(30), "IGV never started the load"
            os.kill(rec.pid, signal.SIGKILL)
            started = time.monotonic()
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert time.monotonic() - started < 10
        assert proc.returncode == 4, err
        assert "IGV exited or its listener died" in err
        assert "Traceback" not in err
        stopped = tether_proc("igv", "stop", "--port", str(rec.port), "--json", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout)["was_running"] is False
        assert _pid_gone(rec.xvfb_pid or 0)  # the Xvfb tether started for the dead IGV is ended too
        assert not (state_dir / "igv" / f"{rec.port}.json").exists()
    finally:
        rec.stop()


# -- batch scripts: relative paths -----------------------------------------------------------
def _review_tree(root: Path) -> Path:
    """``root/review/`` with a script and its data, as a lab keeps them; returns the script."""
    review = root / "review"
    (review / "data").mkdir(parents=True)
    (review / "data" / "my regions.bed").write_text("chr1\t100\t900\tfeatA\nchr1\t2000\t2600\tfeatB\n")
    script = review / "review.txt"
    script.write_text(
        "# written for igv -b\n"
        "new\n"
        'load "data/my regions.bed"\n'
        'snapshotDirectory "review shots"\n'
        "goto chr1:1-3,000\n"
        "snapshot name.png\n"
        "saveSession ./review.xml\n"  # IGV 2.16's runner: a bare name is a NullPointerException
    )
    return script


def _outputs(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".png", ".xml")}


def test_batch_run_from_above_the_script_puts_files_where_igvs_own_runner_does(igv_app, tmp_path):
    """Run from the directory above the script: data found next to the script (it exists only
    there), the new snapshot directory and session made in the working directory — the same
    files, in the same places, as IGV's own runner ('igv -b review/review.txt' started there)."""
    ours, theirs = tmp_path / "tether run", tmp_path / "igv run"
    _review_tree(ours)
    script = _review_tree(theirs)
    script.write_text(script.read_text() + "exit\n")  # IGV's runner: quit when done

    proc = subprocess.run(
        [*TETHER, "igv", "batch", "review/review.txt", "--port", str(igv_app.port), "--json"],
        cwd=ours,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert (report["done"], report["failed"], report["skipped"]) == (6, 0, 1)  # every command: OK
    assert "line 4: 'review shots' exists in neither directory" in proc.stderr  # where it goes, said
    assert f'load "{ours}/review/data/my regions.bed"' in igv_log(igv_app)

    igv_dir = tmp_path / "igv-b prefs"
    igv_dir.mkdir()
    prefs = (igv_app.igv_dir / "prefs.properties").read_text()
    (igv_dir / "prefs.properties").write_text(prefs.replace("PORT_ENABLED=TRUE", "PORT_ENABLED=FALSE"))
    env = {**os.environ, "DISPLAY": igv_app.display.name if igv_app.display else os.environ["DISPLAY"]}
    cmd = ["java", "-Xmx512m", "-cp", "/usr/share/java/igv.jar", "org.broad.igv.ui.Main"]
    cmd += ["--igvDirectory", str(igv_dir), "-b", "review/review.txt"]
    runner = subprocess.Popen(
        cmd, cwd=theirs, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        runner.wait(timeout=60)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()

    assert _outputs(theirs) == {"review shots/name.png", "review.xml"}  # IGV's own runner
    assert _outputs(ours) == _outputs(theirs)
    shot = ours / "review shots" / "name.png"
    assert png_size(shot)[0] > 300
    assert coloured_pixels(shot) > 2_000  # the BED features were drawn (an empty view: ~400)
    assert "my regions.bed" in (ours / "review.xml").read_text()


# -- the command table, sessions ---------------------------------------------------------------
def _tracks(session: Path) -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    return {t.get("name"): t for t in ET.parse(session).getroot().iter("Track")}


def test_styling_commands_are_read_back_from_a_saved_session_in_a_spaced_path(igv_app, tmp_path, cli):
    data = tmp_path / "my data"
    data.mkdir()
    for name in ("cov one", "cov two", "c3", "c4"):
        rows = "".join(f"chr1\t{i * 100}\t{i * 100 + 100}\t{i % 7 * 3 + 1}\n" for i in range(40))
        (data / f"{name}.bedgraph").write_text(rows)
    (data / "my regions.bed").write_text("chr1\t100\t900\tfeatA\n")
    port = ["--port", str(igv_app.port)]
    assert cli("igv", "new", *port)[0] == 0
    code, _, err = cli("igv", "load", *map(str, sorted(data.iterdir())), *port)
    assert code == 0, err
    for argv in (
        ["set-data-range", "0,50", "cov one.bedgraph"],
        ["set-log-scale", "true", "cov one.bedgraph"],
        ["set-color", "255,0,0", "my regions.bed"],
        ["set-track-height", "80", "cov two.bedgraph"],
        ["overlay", "both covs", "c3.bedgraph", "c4.bedgraph"],
    ):
        code, _, err = cli("igv", *argv, *port)
        assert code == 0, f"{argv}: {err}"
    assert 'setColor 255,0,0 "my regions.bed"' in igv_log(igv_app)
    session = data / "review session.xml"
    code, out, err = cli("igv", "save-session", str(session), *port, "--json")
    assert code == 0, err
    assert json.loads(out)["file"] == str(session)

    tracks = _tracks(session)
    cov_one = tracks["cov one.bedgraph"].find("DataRange")
    assert (cov_one.get("minimum"), cov_one.get("maximum"), cov_one.get("type")) == ("0.0", "50.0", "LOG")
    assert tracks["my regions.bed"].get("color") == "255,0,0"
    assert tracks["cov two.bedgraph"].get("height") == "80"
    merged = tracks["both covs"]
    assert merged.get("clazz").endswith("MergedTracks")
    assert {t.get("name") for t in merged.findall("Track")} == {"c3.bedgraph", "c4.bedgraph"}

    # loaded back into an empty IGV, and saved again: the same styles
    assert cli("igv", "new", *port)[0] == 0
    code, _, err = cli("igv", "load-session", str(session), *port)
    assert code == 0, err
    again = tmp_path / "again.xml"
    assert cli("igv", "save-session", str(again), *port)[0] == 0
    reloaded = _tracks(again)
    assert reloaded["cov one.bedgraph"].find("DataRange").get("type") == "LOG"
    assert reloaded["my regions.bed"].get("color") == "255,0,0"
    assert reloaded["cov two.bedgraph"].get("height") == "80"
    assert "both covs" in reloaded
    assert cli("igv", "new", *port)[0] == 0


def test_a_command_igv_216_lacks_exits_2_and_never_reaches_igv(igv_app, cli):
    code, _, err = cli("igv", "rename-track", "my regions.bed", "b", "--port", str(igv_app.port))
    assert code == 2
    assert "has no 'renameTrack' command (IGV 3.0 and later have it)" in err
    assert "renameTrack" not in igv_log(igv_app)


@pytest.mark.parametrize(
    "argv",
    [
        ["set-color", "300,0,0", "x"],
        ["set-data-range", "50,0", "x"],
        ["set-track-height", "10", "bad\nname"],
        ["save-session", "s.json"],
    ],
)
def test_bad_input_for_the_new_commands_exits_2_with_nothing_sent(igv_app, cli, argv):
    before = igv_log(igv_app)
    code, _, err = cli("igv", *argv, "--port", str(igv_app.port))
    assert code == 2, err
    sent = igv_log(igv_app)[len(before) :]
    assert argv[0].replace("-", "") not in sent.lower()


# -- the review report ---------------------------------------------------------------------------
def test_snapshots_writes_one_per_region_and_a_page_firefox_shows_whole(
    igv_app, firefox_app, bed, tmp_path, cli
):
    import functools
    import http.server

    out = tmp_path / "review page"
    port = ["--port", str(igv_app.port)]
    assert cli("igv", "load", str(bed), *port)[0] == 0
    code, stdout, err = cli("igv", "snapshots", str(bed), "--out", str(out), *port, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert [s["locus"] for s in report["snapshots"]] == ["chr1:101-900", "chr1:2001-2600", "chr2:501-1500"]
    for shot in report["snapshots"]:
        assert png_size(out / shot["file"])[0] > 300
    page = (out / "index.html").read_text()
    assert "chr2:501-1500" in page and "featC" in page

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        from tether import registry

        # the Firefox adapter's own client for the verified endpoint (adapter.connect, the step
        # tether.connect ends with)
        endpoint = tether.find("firefox", port=firefox_app.port)
        with registry.get("firefox").connect(endpoint, timeout=30) as ff:
            ff.navigate(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            shown = ff.wait_until(
                lambda: (
                    ff.execute(
                        "return [...document.querySelectorAll('#rows img')]"
                        ".filter(i => i.complete && i.naturalWidth > 300).length"
                    )
                    == 3
                ),
                timeout=15,
            )
    finally:
        server.shutdown()
        server.server_close()
    assert shown  # every snapshot loaded and decoded in a real browser
    assert cli("igv", "new", *port)[0] == 0


def test_every_table_command_igv_216_has_answers_ok_and_shows_in_the_session(igv_app, tmp_path, cli):
    from tether_igv.commands import GENERATED, parse_version

    data = tmp_path / "my data"
    data.mkdir()
    for name in ("cov one", "c3", "c4"):
        rows = "".join(f"chr1\t{i * 100}\t{i * 100 + 100}\t{i % 7 * 3 + 1}\n" for i in range(40))
        (data / f"{name}.bedgraph").write_text(rows)
    (data / "my regions.bed").write_text("chr1\t100\t900\tfeatA\n")
    port = ["--port", str(igv_app.port)]
    assert cli("igv", "new", *port)[0] == 0
    assert cli("igv", "load", *map(str, sorted(data.iterdir())), *port)[0] == 0
    runs = {  # in an order that keeps each one meaningful
        "add-frames": ["chr1:1-100", "chr2:1-100"],
        "zoom-in": [],
        "zoom-out": [],
        "scroll-to-track": ["my regions.bed"],
        "tofront": [],
        "set-data-range": ["0,30", "c3.bedgraph"],
        "set-log-scale": ["true", "c3.bedgraph"],
        "set-color": ["0,128,0", "my regions.bed"],
        "set-alt-color": ["0,0,255", "cov one.bedgraph"],
        "set-track-height": ["60", "c3.bedgraph"],
        "show-data-range": ["false", "cov one.bedgraph"],
        "fit-tracks": [],
        "overlay": ["both", "c3.bedgraph", "c4.bedgraph"],
        "separate": ["both"],
        "set-sequence-strand": ["-"],
        "set-sequence-show-translation": ["true"],
        "sort-by-attribute": ["NAME", "desc"],
        "show-attributes": ["NAME"],
        "sampling-window-size": ["100"],
        "max-depth": ["50"],
        "set-credentials": ["reviewer", "pw"],
        "clear-credentials": [],
        "set-access-token": ["tok", "example.org"],
        "clear-access-tokens": [],
        "remove": ["c4.bedgraph"],
    }
    in_216 = {s.name for s in GENERATED if parse_version(s.since) <= (2, 16)}
    assert set(runs) == in_216  # every table command IGV 2.16 has is run here
    for name, values in runs.items():
        code, _, err = cli("igv", name, *values, *port)
        assert code == 0, f"{name}: {err}"
    session = tmp_path / "all.xml"
    assert cli("igv", "save-session", str(session), *port)[0] == 0
    tracks = _tracks(session)
    assert "c4.bedgraph" not in tracks and "both" not in tracks  # removed; overlaid then separated
    assert tracks["c3.bedgraph"].find("DataRange").get("maximum") == "30.0"
    assert tracks["c3.bedgraph"].find("DataRange").get("type") == "LOG"
    assert tracks["my regions.bed"].get("color") == "0,128,0"
    assert tracks["cov one.bedgraph"].get("altColor") == "0,0,255"
    assert tracks["cov one.bedgraph"].get("showDataRange") == "false"
    sequence = tracks["Reference sequence"]
    assert (sequence.get("sequenceTranslationStrandValue"), sequence.get("shouldShowTranslation")) == (
        "NEGATIVE",
        "true",
    )
    hidden = session.read_text()
    assert '<Attribute name="NAME"/>' not in hidden and '<Attribute name="DATA FILE"/>' in hidden
    newer = {"scroll-to-top": [], "rename-track": ["c3.bedgraph", "c three"], "set-row-height": ["10"]}
    newer["tools-yaml"] = []
    assert set(newer) == {s.name for s in GENERATED} - in_216
    before = igv_log(igv_app)
    for name, values in newer.items():  # valid arguments: refused for the version alone
        code, _, err = cli("igv", name, *values, *port)
        assert code == 2 and "IGV 2.16.0 has no" in err, f"{name}: {err}"
    sent = igv_log(igv_app)[len(before) :]
    assert not any(w in sent for w in ("scrollToTop", "renameTrack", "setRowHeight", "toolsYaml"))
    assert cli("igv", "new", *port)[0] == 0
