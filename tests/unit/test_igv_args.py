"""What may reach IGV, and how it is written: loci, quoting, snapshot targets, HTTP links, prefs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tether.errors import UsageError
from tether_igv import args as A
from tether_igv.launch import resolve_genome, write_prefs
from tether_igv.links import goto_url, load_url
from tether_igv.locus import GenomeIndex, parse_locus, validate_loci
from tether_igv.probe import read_prefs


@pytest.fixture
def index(tmp_path: Path) -> GenomeIndex:
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGT\n")
    (tmp_path / "g.fa.fai").write_text("chr1\t50000\t6\t60\t61\nchr2\t20000\t50846\t60\t61\n")
    loaded = GenomeIndex.load(str(fasta))
    assert loaded is not None
    return loaded


@pytest.mark.parametrize(
    ("text", "chrom", "start", "end"),
    [
        ("chr1:100-200", "chr1", 100, 200),
        ("chr1:1,000-2,000", "chr1", 1000, 2000),
        ("chr1:1500", "chr1", 1500, 1500),
        ("chrUn_KI270302v1:5-10", "chrUn_KI270302v1", 5, 10),
    ],
)
def test_locus_forms_parse(text, chrom, start, end):
    locus = parse_locus(text)
    assert (locus.chrom, locus.start, locus.end) == (chrom, start, end)


@pytest.mark.parametrize("text", ["BRCA1", "chr1", "HLA-A", "All"])
def test_gene_and_chromosome_names_are_accepted_as_names(text):
    assert not parse_locus(text).is_range


@pytest.mark.parametrize("text", ["chr1:200-100", "chr1:0-5", "chr1:1,00-2", "chr1:x", "chr1:5-", "a b", ""])
def test_malformed_loci_are_refused(text):
    with pytest.raises(UsageError):
        parse_locus(text)


def test_loci_are_checked_against_the_genome_index(index):
    validate_loci(["chr1:1-50000", "chr2:5", "2:100-200", "BRCA1"], index)
    with pytest.raises(UsageError, match="not in the loaded genome"):
        validate_loci(["chrZZ:1-100"], index)
    with pytest.raises(UsageError, match="beyond the end of chr2"):
        validate_loci(["chr2:19,000-20,001"], index)


def test_a_genome_without_a_readable_index_checks_syntax_only(tmp_path):
    assert GenomeIndex.load("hg38") is None
    assert GenomeIndex.load(str(tmp_path / "missing.fa")) is None
    validate_loci(["chrZZ:1-100"], None)


@pytest.mark.parametrize("value", ["a\nexit", "a\rexit", "a\x00"])
def test_line_breaks_and_nul_are_refused_everywhere(value):
    for check in (A.check_text, A.check_command, A.quote, A.word):
        with pytest.raises(UsageError, match="refused"):
            check(value)


def test_quoting_groups_spaces_and_protects_urls():
    assert A.quote("/data/a.bam") == "/data/a.bam"
    assert A.quote("/data/my file.bam") == '"/data/my file.bam"'
    assert A.quote('say "hi" there') == "'say \"hi\" there'"
    assert A.quote("https://x.org/a+b.bam?sig=%2F") == '"https://x.org/a+b.bam?sig=%2F"'
    with pytest.raises(UsageError):
        A.quote("both ' and \" with space")


def test_a_lone_quote_character_is_quoted_too_or_igv_would_swallow_the_rest_of_the_line():
    assert A.quote("/d/it's.bed") == '"/d/it\'s.bed"'
    assert A.quote('/d/say"hi.bed') == "'/d/say\"hi.bed'"
    assert A.quote("255,0,0") == "255,0,0"  # a comma is fine in a single value


def test_path_tokens_quote_commas_so_each_item_of_a_file_list_stands_alone():
    assert A.path_token("/d/a,b.bed") == '"/d/a,b.bed"'
    assert A.path_token("/d/plain.bed") == "/d/plain.bed"


def test_http_request_lines_are_refused_as_raw_commands():
    for line in ("GET /goto?locus=chr1", "HEAD /", "OPTIONS /"):
        with pytest.raises(UsageError, match="HTTP"):
            A.check_command(line)


def test_paths_are_made_absolute_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "reads.bed").write_text("chr1\t1\t2\n")
    monkeypatch.chdir(tmp_path)
    assert A.path_or_url("reads.bed") == str(tmp_path / "reads.bed")
    assert A.path_or_url("https://x.org/r.bam") == "https://x.org/r.bam"
    with pytest.raises(UsageError, match="does not exist"):
        A.path_or_url("missing.bam")


def test_snapshot_target_splits_directory_and_name_and_checks_the_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert A.snapshot_target("shots/a b.PNG") == (str(tmp_path / "shots"), "a b.PNG")
    assert A.snapshot_target("x.svg")[1] == "x.svg"
    for bad in ("x.jpg", "x", "x.eps"):
        with pytest.raises(UsageError, match=r"\.png or \.svg"):
            A.snapshot_target(bad)


def test_goto_link_encodes_every_reserved_character():
    url = goto_url(["chr1:1,000-2,000", "chr2:5-100"], port=60152)
    assert url == "http://127.0.0.1:60152/goto?locus=chr1%3A1%2C000-2%2C000%20chr2%3A5-100"
    with pytest.raises(UsageError):
        goto_url(["chr1:1-5\nexit"])


def test_load_link_round_trips_a_signed_url():
    signed = "https://bucket.example/a+b.bam?X-Sig=ab%2Fcd&exp=1#frag"
    url = load_url([signed], locus="chr1:5-10", genome="hg38", merge=False)
    parts = urlsplit(url)
    assert parts.path == "/load" and "?" not in parts.query and "#" not in url.split("?", 1)[1]
    params = parse_qs(parts.query)
    assert params["file"] == [signed]
    assert params["locus"] == ["chr1:5-10"] and params["genome"] == ["hg38"] and params["merge"] == ["false"]


def test_launch_prefs_point_igv_at_a_local_genome_list(tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\nA\n")
    write_prefs(tmp_path, 61234, resolve_genome(str(genome)))
    prefs = read_prefs(tmp_path)
    assert prefs["PORT_NUMBER"] == "61234"
    assert prefs["DEFAULT_GENOME_KEY"] == str(genome)
    assert prefs["SHOW_GENOME_SERVER_WARNING"] == "FALSE"
    assert Path(prefs["IGV.genome.sequence.dir"]).read_text() == ""
    with pytest.raises(UsageError, match="does not exist"):
        resolve_genome(str(tmp_path / "nope.fa"))
    assert resolve_genome("hg38") == "hg38"


def test_a_launch_record_whose_igv_is_gone_is_cleaned_up(tmp_path, monkeypatch):
    from tether_igv import launch as L

    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    fields = {"port": 61999, "igv_dir": str(tmp_path / "igvdir"), "genome": "hg38"}
    dead = L.Launched(app="igv", key="61999", pid=2**22 + 12345, create_time=1.0, data=fields)
    Path(dead.igv_dir).mkdir()
    dead.save()
    assert L.load_record(61999, live_only=False) == dead
    assert L.records() == []
    assert not dead.path.exists() and not Path(dead.igv_dir).exists()
