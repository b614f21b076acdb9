"""Batch scripts: relative local paths resolved against the script's directory, the rest untouched.

IGV's own batch runner resolves a path against IGV's working directory first and the script's
directory only for files that already exist there; over the port it knows no script at all.
tether resolves every relative local path against the script's directory (see
``tether_igv.script``). These tests pin the rewriting command by command, without an IGV.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tether.errors import UsageError
from tether.testing import FakeServer, fake_igv
from tether_igv.client import BatchError, IGVClient
from tether_igv.script import prepare, split_quoted


def sent(lines: list[str], base: Path) -> list[list[str]]:
    return [line.commands for line in prepare(lines, base)]


def one(line: str, base: Path) -> list[str]:
    (commands,) = sent([line], base)
    return commands


@pytest.fixture
def base(tmp_path: Path) -> Path:
    directory = tmp_path / "review"
    directory.mkdir()
    return directory


# -- IGV's tokenizer -------------------------------------------------------------------------
def test_lines_split_like_igv_spaces_only_quotes_kept():
    assert split_quoted("load  \"a b.bed\"\tx name='my track'", " ") == [
        "load",
        '"a b.bed"\tx',
        "name='my track'",
    ]
    assert split_quoted('"a b.bed",c.bed', ",") == ['"a b.bed"', "c.bed"]
    assert split_quoted('"a b.bed,c.bed"', ",") == ['"a b.bed,c.bed"']


# -- load ------------------------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["load", "loadfile", "LOAD"])
def test_load_makes_a_relative_file_absolute_against_the_script_directory(base, verb):
    assert one(f"{verb} data/reads.bam", base) == [f"{verb} {base}/data/reads.bam"]


def test_load_index_and_coverage_are_resolved_too_and_other_options_kept(base):
    line = 'load data/r.bam index=data/r.index.bai coverage=cov/r.tdf name="my reads" format=bam merge=false'
    assert one(line, base) == [
        f"load {base}/data/r.bam index={base}/data/r.index.bai coverage={base}/cov/r.tdf "
        'name="my reads" format=bam merge=false'
    ]


def test_a_quoted_relative_path_with_spaces_stays_one_quoted_token(base):
    assert one('load "my data/my reads.bed"', base) == [f'load "{base}/my data/my reads.bed"']
    assert one('load data/r.bam index="my index.bai"', base) == [
        f'load {base}/data/r.bam index="{base}/my index.bai"'
    ]


def test_a_script_directory_with_a_space_gets_quoted_paths(tmp_path):
    spaced = tmp_path / "my review"
    spaced.mkdir()
    assert one("load a.bed", spaced) == [f'load "{spaced}/a.bed"']


def test_a_file_list_is_resolved_item_by_item_each_quoted_on_its_own(base):
    assert one('load "a b.bed",c.bed,https://x.org/d.bed', base) == [
        f'load "{base}/a b.bed",{base}/c.bed,https://x.org/d.bed'
    ]
    # quoted as a whole, the comma is part of one file name (IGV reads it so)
    assert one('load "a b.bed,c.bed"', base) == [f'load "{base}/a b.bed,c.bed"']


@pytest.mark.parametrize(
    "line",
    [
        "load https://x.org/a+b.bam index=https://x.org/a+b.bam.bai",
        'load "https://x.org/a.bam?sig=%2F+x"',
        "load gs://bucket/a.bam",
        "load s3://bucket/a.cram index=s3://bucket/a.cram.crai",
        "load htsget://server/reads/NA12878",
        "load ftp://x.org/a.vcf.gz",
        "load data:application/gzip;base64,H4sIAAAA format=bed",
        "load /abs/data/a.bam index=/abs/data/a.bam.bai",
        'load "/abs/my data/a.bam"',
    ],
)
def test_urls_data_urls_and_absolute_paths_are_sent_exactly_as_written(base, line):
    assert one(line, base) == [line]


def test_tilde_and_script_dir_are_expanded_as_igv_does(base, monkeypatch):
    monkeypatch.setenv("HOME", "/home/reviewer")
    assert one("load ~/data/a.bed index=~/data/a.bed.idx", base) == [
        "load /home/reviewer/data/a.bed index=/home/reviewer/data/a.bed.idx"
    ]
    assert one("load $SCRIPT_DIR/../shared/a.bed", base) == [f"load {base.parent}/shared/a.bed"]


# -- genome ----------------------------------------------------------------------------------
def test_genome_path_is_resolved_and_a_genome_id_left_alone(base):
    assert one("genome ref/tiny.fa", base) == [f"genome {base}/ref/tiny.fa"]
    assert one("genome hg38", base) == ["genome hg38"]
    assert one("genome https://x.org/hg38.json", base) == ["genome https://x.org/hg38.json"]
    (base / "tiny.fa").write_text(">chr1\nACGT\n")
    assert one("genome tiny.fa", base) == [f"genome {base}/tiny.fa"]  # a file next to the script
    assert one("genome other.fa", base) == ["genome other.fa"]  # no file, no slash: an id


# -- snapshots and sessions ------------------------------------------------------------------
def test_snapshot_directory_is_resolved_and_later_snapshots_sent_as_written(base):
    assert sent(["snapshotDirectory shots", 'snapshot "view one.png"', "snapshot"], base) == [
        [f"snapshotDirectory {base}/shots"],
        ['snapshot "view one.png"'],
        ["snapshot"],
    ]


def test_a_snapshot_before_any_snapshot_directory_sets_its_own_directory(base):
    # IGV's port keeps the snapshot directory of whichever client set it last
    assert sent(['snapshot "shots/a b.png" trackpanels', "snapshot /abs/b.svg", "snapshot"], base) == [
        [f"snapshotDirectory {base}/shots", 'snapshot "a b.png" trackpanels'],
        ["snapshotDirectory /abs", "snapshot b.svg"],
        [f"snapshotDirectory {base}", "snapshot"],
    ]
    with pytest.raises(UsageError, match=r"line 1.*local files"):
        prepare(["snapshot https://x.org/a.png"], base)


def test_save_session_is_resolved_and_a_path_igv_would_mangle_is_refused(base, tmp_path):
    assert one("saveSession sessions/s.xml", base) == [f"saveSession {base}/sessions/s.xml"]
    assert one("saveSession /abs/s.xml", base) == ["saveSession /abs/s.xml"]
    # IGV 2.16-3.0 test the suffix before stripping quotes: a quoted target cannot be saved
    with pytest.raises(UsageError, match="line 2: refused: IGV cannot save a session") as info:
        prepare(["new", 'saveSession "my session.xml"'], base)
    assert info.value.detail["line"] == 2
    spaced = tmp_path / "my review"
    spaced.mkdir()
    with pytest.raises(UsageError, match="saveSession"):
        prepare(["saveSession s.xml"], spaced)


# -- everything else -------------------------------------------------------------------------
def test_lines_without_paths_and_comments_are_untouched(base):
    lines = [
        "# review",
        "// also a comment",
        "",
        "goto  chr1:1-2,000   chr2:5-900",
        'region chr1 100 200 "a b"',
        'setColor 255,0,0 "my reads.bam"',
        "preference SAM.SHOW_SOFT_CLIPPED true",
        "exit",
    ]
    assert sent(lines, base) == [[], [], [], *[[line] for line in lines[3:]]]


def test_an_unsafe_line_is_refused_before_anything_is_resolved(base):
    with pytest.raises(UsageError, match="line 2"):
        prepare(["new", "load a.bed\rexit"], base)
    with pytest.raises(UsageError, match=r"line 1.*HTTP"):
        prepare(["GET /load?file=a.bed"], base)
    with pytest.raises(UsageError, match="both kinds of quotes"):
        prepare(['load it\'s-"x".bed'], base)


def test_default_base_is_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert one("load a.bed", None) == [f"load {tmp_path}/a.bed"]


# -- the client and the CLI ------------------------------------------------------------------
def _recording_igv() -> FakeServer:
    """A fake IGV that answers OK to everything but a ``load`` of something ``missing``."""
    return fake_igv(
        lambda text: (
            b"Error: missing does not exist.\n" if text.startswith("load") and "missing" in text else b"OK\n"
        )
    )


def _commands(server: FakeServer) -> list[str]:
    """What the fake IGV received, without the echo/version of tether's probe and framing."""
    return [
        line
        for chunk in server.received
        for line in chunk.decode().splitlines()
        if line and not line.startswith("echo") and line != "version"
    ]


def test_client_batch_sends_the_resolved_commands(base):
    server = _recording_igv()
    try:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False, timeouts={"ready": 2.0})
        seen: list[tuple[int, str]] = []
        result = igv.batch(
            ["load data/a.bed", "snapshot shots/x.png"],
            base_dir=base,
            on_line=lambda n, text, outcome: seen.append((n, text)),
        )
    finally:
        server.close()
    assert _commands(server) == [
        f"load {base}/data/a.bed",
        f"snapshotDirectory {base}/shots",
        "snapshot x.png",
    ]
    assert result.done == 2 and seen == [(1, "load data/a.bed"), (2, "snapshot shots/x.png")]


def test_client_batch_failure_names_the_line_and_the_command_sent(base):
    server = _recording_igv()
    try:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False, timeouts={"ready": 2.0})
        with pytest.raises(BatchError) as info:
            igv.batch(["new", "load missing.bed", "goto chr1:1-5"], base_dir=base)
    finally:
        server.close()
    assert info.value.line == 2
    assert info.value.result.failures[0].command == f"load {base}/missing.bed"
    assert "goto chr1:1-5" not in _commands(server)


def test_a_refused_line_sends_nothing_at_all(base):
    server = _recording_igv()
    try:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False)
        with pytest.raises(UsageError, match="line 3"):
            igv.batch(["new", "goto chr1:1-5", 'saveSession "a b.xml"'], base_dir=base)
    finally:
        server.close()
    assert server.connections == 0


def test_cli_resolves_against_the_script_directory_not_the_cwd(base, tmp_path, monkeypatch, cli):
    script = base / "review.txt"
    script.write_text('load "data/my reads.bed"\nsnapshotDirectory shots\nsnapshot "a b.png"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    server = _recording_igv()
    try:
        code, _, err = cli("igv", "batch", "../review/review.txt", "--port", str(server.port))
    finally:
        server.close()
    assert code == 0, err
    assert _commands(server) == [
        f'load "{base}/data/my reads.bed"',
        f"snapshotDirectory {base}/shots",
        'snapshot "a b.png"',
    ]


def test_cli_dry_run_prints_the_resolved_commands_and_connects_to_nothing(base, cli):
    script = base / "review.txt"
    script.write_text("# c\nload a.bed\nsnapshot shots/x.png\n")
    connected = threading.Event()
    server = FakeServer(lambda conn, srv: connected.set())
    try:
        code, out, err = cli("igv", "batch", str(script), "--dry-run", "--port", str(server.port))
        assert code == 0, err
        assert out.splitlines() == [f"load {base}/a.bed", f"snapshotDirectory {base}/shots", "snapshot x.png"]
        code, out, _ = cli("igv", "batch", str(script), "--dry-run", "--json")
        assert code == 0
        data = json.loads(out)
        assert data["base_dir"] == str(base)
        assert data["lines"][0] == {"line": 2, "text": "load a.bed", "send": [f"load {base}/a.bed"]}
    finally:
        server.close()
    assert not connected.is_set() and server.connections == 0


def test_cli_reads_stdin_and_resolves_against_the_cwd(tmp_path, monkeypatch, cli):
    import io
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("load a.bed\n"))
    code, out, _ = cli("igv", "batch", "-", "--dry-run")
    assert code == 0
    assert out.strip() == f"load {tmp_path}/a.bed"
