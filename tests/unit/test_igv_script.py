"""Batch scripts: relative local paths resolved as IGV's own runner does, the rest untouched.

IGV's batch runner (``igv -b SCRIPT``) resolves a path against its working directory when the file
exists there, else against the script's directory when it exists there, else its working
directory; ``index=``/``coverage=`` against its working directory only. tether does the same with
the caller's working directory as IGV's (see ``tether_igv.script``). Most tests run from the
script's own directory, where both readings agree; the ones named "from above" run from elsewhere.
These tests pin the rewriting command by command, without an IGV.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tether.errors import UsageError
from tether.testing import FakeServer
from tether_igv.client import BatchError, IGVClient
from tether_igv.script import prepare, split_quoted
from tether_igv.testing import fake_igv


def sent(lines: list[str], base: Path) -> list[list[str]]:
    return [line.commands for line in prepare(lines, base)]


def one(line: str, base: Path) -> list[str]:
    (commands,) = sent([line], base)
    return commands


@pytest.fixture
def base(tmp_path: Path, monkeypatch) -> Path:
    """The script's directory, also the working directory (both readings of a path agree)."""
    directory = tmp_path / "review"
    directory.mkdir()
    monkeypatch.chdir(directory)
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


def test_a_script_directory_with_a_space_gets_quoted_paths(tmp_path, monkeypatch):
    spaced = tmp_path / "my review"
    spaced.mkdir()
    monkeypatch.chdir(spaced)
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


def test_save_session_is_resolved_and_a_path_igv_cannot_take_is_quoted_for_the_client(base, tmp_path):
    assert one("saveSession sessions/s.xml", base) == [f"saveSession {base}/sessions/s.xml"]
    assert one("saveSession /abs/s.xml", base) == ["saveSession /abs/s.xml"]
    # IGV 2.16-3.0 test the suffix before stripping quotes: the client saves a quoted target
    # elsewhere and moves it (IGVClient.save_session); the script only resolves and quotes it
    assert sent(["new", 'saveSession "my session.xml"'], base)[1] == [f'saveSession "{base}/my session.xml"']
    spaced = tmp_path / "my review"
    spaced.mkdir()
    assert one("saveSession s.xml", spaced) == [f"saveSession {base}/s.xml"]  # the cwd's, by IGV's rule
    (line,) = prepare(["saveSession s.xml"], spaced, cwd=spaced)
    assert line.commands == [f'saveSession "{spaced}/s.xml"']


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
            igv.batch(["new", "goto chr1:1-5", 'load it\'s-"x".bed'], base_dir=base)
    finally:
        server.close()
    assert server.connections == 0


def test_cli_run_from_above_the_script_follows_igvs_rule(base, tmp_path, monkeypatch, cli):
    # like 'igv -b review/review.txt' started in tmp_path: the data exists only next to the
    # script (found there); the snapshot directory exists nowhere yet (made in the working
    # directory, with a warning saying where)
    (base / "data").mkdir()
    (base / "data" / "my reads.bed").write_text("chr1\t1\t2\n")
    script = base / "review.txt"
    script.write_text('load "data/my reads.bed"\nsnapshotDirectory shots\nsnapshot "a b.png"\n')
    monkeypatch.chdir(tmp_path)
    server = _recording_igv()
    try:
        code, _, err = cli("igv", "batch", "review/review.txt", "--port", str(server.port))
    finally:
        server.close()
    assert code == 0, err
    assert _commands(server) == [
        f'load "{base}/data/my reads.bed"',
        f"snapshotDirectory {tmp_path}/shots",
        'snapshot "a b.png"',
    ]
    assert (
        f"warning: line 2: 'shots' exists in neither directory: IGV's rule makes it {tmp_path}/shots" in err
    )


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
        assert data["script_dir"] == str(base) and data["cwd"] == str(base)
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


# -- IGV's rule, run from above the script ------------------------------------------------------
@pytest.fixture
def above(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """(working directory, script directory): the script sits one level below where it is run."""
    script_dir = tmp_path / "review"
    script_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path, script_dir


def test_from_above_a_file_in_the_working_directory_wins_and_one_in_both_warns(above):
    cwd, script_dir = above
    for d in (cwd, script_dir):
        (d / "both.bed").write_text("x")
    (cwd / "here.bed").write_text("x")
    (script_dir / "there.bed").write_text("x")
    lines = prepare(["load here.bed", "load there.bed", "load both.bed"], script_dir)
    assert [line.commands for line in lines] == [
        [f"load {cwd}/here.bed"],
        [f"load {script_dir}/there.bed"],
        [f"load {cwd}/both.bed"],
    ]
    assert [len(line.warnings) for line in lines] == [0, 0, 1]
    assert "exists in the working directory and next to the script" in lines[2].warnings[0]


def test_from_above_index_and_coverage_are_the_working_directorys_with_a_warning(above):
    cwd, script_dir = above
    (script_dir / "r.bam").write_text("x")
    (script_dir / "r.bam.bai").write_text("x")
    (line,) = prepare(["load r.bam index=r.bam.bai"], script_dir)
    assert line.commands == [f"load {script_dir}/r.bam index={cwd}/r.bam.bai"]
    assert "is not used" in line.warnings[0] and str(script_dir / "r.bam.bai") in line.warnings[0]


def test_from_above_new_outputs_land_in_the_working_directory_with_a_warning(above):
    cwd, script_dir = above
    lines = prepare(["snapshotDirectory shots", "saveSession s.xml", "genome hg38"], script_dir)
    assert [line.commands for line in lines] == [
        [f"snapshotDirectory {cwd}/shots"],
        [f"saveSession {cwd}/s.xml"],
        ["genome hg38"],
    ]
    assert [len(line.warnings) for line in lines] == [1, 1, 0]


def test_a_failing_line_is_quoted_as_written_not_as_rewritten(base):
    server = _recording_igv()
    try:
        igv = IGVClient("127.0.0.1", server.port, check_loci=False, timeouts={"ready": 2.0})
        with pytest.raises(BatchError) as info:
            igv.batch(["load missing.bed"], base_dir=base)
    finally:
        server.close()
    assert "line 1 ('load missing.bed')" in info.value.message
    assert info.value.detail["command"] == f"load {base}/missing.bed"
    with pytest.raises(UsageError, match=r"both kinds of quotes.*the line: 'load it\\'s-\"x\".bed'"):
        prepare(['load it\'s-"x".bed'], base)
