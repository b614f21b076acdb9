"""IGV's batch commands as data: each row's arguments checked and quoted as IGV reads them,
the version rule, the generated client methods, and the docs built from the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.errors import UsageError
from tether_igv.client import IGVClient
from tether_igv.commands import BY_IGV, BY_NAME, COMMANDS, GENERATED, markdown_table, parse_version
from tether_igv.testing import fake_igv

ROOT = Path(__file__).resolve().parents[2]


def line(name: str, *values: object) -> str:
    return BY_NAME[name].line(values)


def test_the_table_has_every_command_of_igvs_command_executor_once():
    assert len(COMMANDS) == 52
    assert len({c.igv.lower() for c in COMMANDS}) == 52
    assert len(BY_IGV) == 60  # with the aliases (gotoimmediate, loadfile, oauth …)
    assert len({c.name for c in COMMANDS}) == 52


@pytest.mark.parametrize(
    "name, values, sent",
    [
        ("set-data-range", ("0,50", "my track"), 'setDataRange 0,50 "my track"'),
        ("set-data-range", ("0,10,50",), "setDataRange 0,10,50"),
        ("set-data-range", ("auto", "cov"), "setDataRange auto cov"),
        ("set-data-range", ((0, 2.5),), "setDataRange 0,2.5"),
        ("set-log-scale", (True, "a,b"), 'setLogScale true "a,b"'),
        ("set-color", ("255,0,0", "reads one.bam"), 'setColor 255,0,0 "reads one.bam"'),
        ("set-color", ("#00ff80",), "setColor 0,255,128"),
        ("set-alt-color", ((1, 2, 3), "x"), "setAltColor 1,2,3 x"),
        ("set-track-height", ("80", 'say "hi" now'), "setTrackHeight 80 'say \"hi\" now'"),
        ("overlay", ("both", "a b", "c"), 'overlay both "a b" c'),
        (
            "sort-by-attribute",
            ("Sample type", "ASC", "sex", "desc"),
            'sortByAttribute "Sample type" asc sex desc',
        ),
        ("show-attributes", (), "showAttributes"),
        ("set-sequence-strand", ("-",), "setSequenceStrand -"),
        ("remove", ("50%+done",), 'remove "50%+done"'),
        ("zoom-in", (), "zoomin"),
        ("max-depth", (100,), "maxDepth 100"),
        ("set-access-token", ("tok123", "*.example.org"), "setAccessToken tok123 *.example.org"),
    ],
)
def test_arguments_are_written_the_way_igvs_tokenizer_reads_them(name, values, sent):
    assert line(name, *values) == sent


@pytest.mark.parametrize(
    "name, values, why",
    [
        ("set-color", ("300,0,0",), "0 to 255"),
        ("set-color", ("red",), "r,g,b"),
        ("set-color", ("1,2",), "r,g,b"),
        ("set-data-range", ("50,0",), "min must be below max"),
        ("set-data-range", ("0,60,50",), "baseline"),
        ("set-data-range", ("0,x",), "min,max"),
        ("set-data-range", ("5,5",), "below"),
        ("set-log-scale", ("maybe",), "true or false"),
        ("set-track-height", ("-1",), "at least 0"),
        ("set-track-height", ("tall",), "whole number"),
        ("set-track-height", ("10", "bad\nexit"), "line break"),
        ("remove", ("a\rb",), "carriage return"),
        ("remove", (), "needs its track"),
        ("overlay", ("only-a-name",), "at least one"),
        ("sort-by-attribute", ("A", "up"), "asc or desc"),
        ("sort-by-attribute", ("A",), "pairs"),
        ("set-sequence-strand", ("up",), "+ or -"),
        ("rename-track", ("a",), "new_name"),
        ("set-track-height", ("1", "both \" and '"), "both kinds of quotes"),
        ("scroll-to-track", ("   ",), "empty"),
        ("zoom-in", ("x",), "takes 0"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(name, values, why):
    import re

    with pytest.raises(UsageError, match=re.escape(why if why != "baseline" else "baseline between")):
        line(name, *values)


@pytest.mark.parametrize(
    "text, parsed", [("2.16.0", (2, 16, 0)), ("3.0.0-beta.1", (3, 0, 0)), ("v2.17", (2, 17)), ("user", None)]
)
def test_versions_are_read_from_their_leading_numbers(text, parsed):
    assert parse_version(text) == parsed


def test_a_command_the_igv_version_lacks_is_refused_naming_the_version_that_has_it():
    with pytest.raises(UsageError, match=r"IGV 2\.16\.0 has no 'renameTrack'.*IGV 3\.0 and later"):
        BY_NAME["rename-track"].check_version("2.16.0")
    BY_NAME["rename-track"].check_version("3.0.0-beta.1")
    BY_NAME["rename-track"].check_version(None)  # unknown: IGV answers for itself
    BY_NAME["set-color"].check_version("2.16.0")


def test_every_generated_row_is_a_client_method_with_igvs_argument_order():
    import inspect

    for spec in GENERATED:
        method = getattr(IGVClient, spec.method)
        names = [p for p in inspect.signature(method).parameters if p not in ("self", "timeout")]
        assert names == [a.name for a in spec.args], spec.igv
        assert spec.igv in method.__doc__


def test_a_generated_method_sends_the_checked_line_and_masks_secrets():
    server = fake_igv({})
    try:
        igv = IGVClient(port=server.port, version="2.16.0")
        assert igv.set_color("0,0,255", "my regions").text == "OK"
        igv.set_credentials("ann", "s3cret")
        assert "s3cret" in igv.secrets
        with pytest.raises(UsageError, match=r"3\.0 and later"):
            igv.set_row_height(20)
        assert igv.command("setLogScale", "false").text == "OK"
    finally:
        server.close()
    sent = b"".join(server.received).decode()
    assert 'setColor 0,0,255 "my regions"\n' in sent
    assert "setLogScale false\n" in sent
    assert "setRowHeight" not in sent


def test_the_adapter_readme_and_the_docs_carry_the_table_of_every_command():
    table = markdown_table()
    readme = ROOT / "adapters" / "tether_igv" / "README.md"
    assert table in readme.read_text(encoding="utf-8"), (
        f"{readme}: run tether_igv.commands.markdown_table() and paste it"
    )
    # the docs site's IGV guide has it generated at build time (docs/hooks/cli_reference.py)
    assert "<!-- tether:igv-commands -->" in (ROOT / "docs" / "guides" / "igv.md").read_text(encoding="utf-8")
