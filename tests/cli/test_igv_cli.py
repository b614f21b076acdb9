"""`tether igv …` without an IGV: refusals exit 2 before any lookup, links print, JSON shapes hold."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["goto", "chr1:1-100\nexit"],
        ["goto", "chr1:200-100"],
        ["goto", "chr1:1-100", "bad:locus:here"],
        ["send", "echo hi\nexit"],
        ["send", "GET /goto?locus=chr1 HTTP/1.1"],
        ["snapshot", "view.jpg"],
        ["load", "/no/such/file.bam"],
        ["region", "chr1:10-5"],
        ["color-by", "FOO"],
        ["sort", "sideways"],
        ["max-panel-height", "0"],
    ],
)
def test_bad_arguments_exit_2_and_nothing_connects(cli, listener, argv):
    code, _, err = cli("igv", *argv, "--port", str(listener.port))
    assert code == 2, err
    assert listener.connections == 0


def test_refusal_as_json_names_the_error(cli, listener):
    code, out, _ = cli("igv", "goto", "chr1:1\x00", "--port", str(listener.port), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["error"] == "UsageError" and "NUL" in data["message"]


def test_url_goto_prints_an_encoded_link_without_sending(cli, listener):
    code, out, _ = cli("igv", "url", "goto", "chr1:1,000-2,000", "--port", str(listener.port))
    assert code == 0
    assert out.strip() == f"http://127.0.0.1:{listener.port}/goto?locus=chr1%3A1%2C000-2%2C000"
    assert listener.connections == 0


def test_url_load_as_json(cli, tmp_path):
    bam = tmp_path / "my reads.bam"
    argv = ["url", "load", str(bam), "--locus", "chr2:5-50", "--name", "A&B", "--json"]
    code, out, _ = cli("igv", *argv)
    assert code == 0
    query = parse_qs(urlsplit(json.loads(out)["url"]).query)
    assert query == {"file": [str(bam)], "locus": ["chr2:5-50"], "name": ["A&B"]}


def test_stop_without_a_launched_igv_is_not_found(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path))
    code, _, err = cli("igv", "stop")
    assert code == 3 and "launched by tether" in err
