"""`tether igv …` without an IGV: refusals exit 2 before any lookup, links print, JSON shapes hold."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tether_igv.commands import GENERATED
from tether_igv.testing import fake_igv


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
        ["set-color", "300,0,0", "reads.bam"],
        ["set-alt-color", "0,0"],
        ["set-data-range", "50,0", "coverage"],
        ["set-log-scale", "maybe"],
        ["set-track-height", "80", "my\ntrack"],
        ["remove", "x\nexit"],
        ["overlay", "merged"],
        ["sort-by-attribute", "TYPE", "sideways"],
        ["show-data-range", "yes please"],
        ["sampling-window-size", "0"],
        ["set-sequence-strand", "both"],
    ],
)
def test_bad_arguments_exit_2_and_nothing_connects(cli, listener, argv):
    code, _, err = cli("igv", *argv, "--port", str(listener.port))
    assert code == 2, err
    assert listener.connections == 0


def test_a_command_the_connected_igv_lacks_exits_2_naming_the_version_and_is_not_sent(cli, igv_double):
    code, _, err = cli("igv", "rename-track", "old name", "new name", "--port", str(igv_double.port))
    assert code == 2
    assert "IGV 2.16.0 has no 'renameTrack'" in err and "3.0 and later" in err
    assert b"renameTrack" not in b"".join(igv_double.received)


def test_a_table_command_sends_igvs_line_with_the_track_quoted(cli, igv_double):
    argv = ["set-data-range", "0,50", "my coverage, v2", "--port", str(igv_double.port), "--json"]
    code, out, err = cli("igv", *argv)
    assert code == 0, err
    assert json.loads(out)["command"] == 'setDataRange 0,50 "my coverage, v2"'
    assert b'setDataRange 0,50 "my coverage, v2"\n' in b"".join(igv_double.received)


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


# -- the library path: tether.connect("igv") gets what the CLI gets ------------------------------
@pytest.fixture
def igv_double():
    server = fake_igv({"exit": b"CLOSE", "version": b"2.16.0\n"})
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def launch_record(igv_double, tmp_path, monkeypatch):
    """A launch record for the fake IGV's port, as 'tether igv launch' writes one."""
    from tether_igv.launch import APP, Launched

    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    igv_dir = tmp_path / "igv-dir"
    igv_dir.mkdir()
    rec = Launched(
        app=APP,
        key=str(igv_double.port),
        pid=2**22 + 7,  # no such process: an IGV that has exited
        create_time=None,
        data={"port": igv_double.port, "igv_dir": str(igv_dir), "genome": None},
    )
    rec.save()
    return rec


def test_connect_passes_the_command_deadline_to_the_client(igv_double):
    import tether

    igv = tether.connect("igv", port=igv_double.port, timeout=30)
    assert set(igv.timeouts.values()) == {30}
    assert igv.goto("chr1:1-100").text == "OK"


def test_exit_through_connect_forgets_the_launch_record_and_its_directory(igv_double, launch_record):
    import tether

    igv = tether.connect("igv", port=igv_double.port, pid=launch_record.pid)
    igv.exit()
    assert b"exit\n" in b"".join(igv_double.received)
    assert not launch_record.path.exists()
    assert not Path(launch_record.igv_dir).exists()


def test_exit_command_cleans_up_the_launch_record(cli, igv_double, launch_record):
    code, out, err = cli("igv", "exit", "--port", str(igv_double.port), "--json")
    assert code == 0, err
    assert json.loads(out)["exited"] is True
    assert not launch_record.path.exists()


def test_exit_leaves_the_record_of_another_live_igv_alone(igv_double, launch_record, tmp_path):
    import subprocess

    import tether

    java = tmp_path / "java"  # a live process named java: what a record's IGV looks like
    java.symlink_to("/bin/sleep")
    other = subprocess.Popen([str(java), "30"])
    try:
        from tether import launched

        launch_record.pid = other.pid
        launch_record.create_time = launched.start_time(other.pid)
        launch_record.save()
        igv = tether.connect("igv", port=igv_double.port, pid=os.getpid())
        igv.exit()
        assert b"exit\n" in b"".join(igv_double.received)
        assert launch_record.path.exists() and Path(launch_record.igv_dir).exists()
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_each_option_keeps_its_declared_name_and_help(cli):
    code, out, _ = cli("igv", "load", "--help")
    assert code == 0
    assert "--format " in out and "--format-" not in out and "File format (bam, bed, vcf" in out
    code, out, _ = cli("igv", "launch", "--help")
    assert "-g" in out and "Java heap limit" in out and "--host" not in out


@pytest.mark.parametrize("argv", [["--width", "10"], ["--height", "99999"], ["--width", "wide"]])
def test_launch_refuses_a_window_size_igv_cannot_have_before_starting_anything(cli, argv, monkeypatch):
    import subprocess

    def no_start(*a, **kw):  # pragma: no cover - reached only if the refusal is missing
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", no_start)
    code, _, err = cli("igv", "launch", *argv)
    assert code == 2, err


@pytest.mark.parametrize(
    "argv",
    [
        ["snapshots", "chr1:1-100\nexit", "--out", "x"],
        ["snapshots", "chr1:200-100", "--out", "x"],
        ["snapshots", "/no/such/regions.bed", "--out", "x"],
        ["snapshots", "chr1:1-100", "--out", "x", "--format", "jpg"],
        ["save-session", "s\nexit.xml"],
    ],
)
def test_bad_report_or_session_input_exits_2_and_nothing_connects(cli, listener, argv):
    code, _, err = cli("igv", *argv, "--port", str(listener.port))
    assert code == 2, err
    assert listener.connections == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--parallel", "0"],
        ["--parallel", "99"],
        ["--sort", "bogus"],
        ["--collapse", "--squish"],
        ["--max-panel-height", "0"],
        ["--width", "800"],  # a running IGV keeps its window: --width needs --parallel
        ["--flank", "-5"],
        ["--track", "/no/such/reads.bam"],
    ],
)
def test_bad_review_options_exit_2_and_nothing_connects_or_starts(cli, listener, argv, monkeypatch):
    import subprocess

    def no_start(*a, **kw):  # pragma: no cover - reached only if the refusal is missing
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", no_start)
    code, _, err = cli("igv", "snapshots", "chr1:1-100", "--out", "x", *argv, "--port", str(listener.port))
    assert code == 2, err
    assert listener.connections == 0


def _bad_argv(spec) -> list[str]:
    """Arguments for a table command with a line break in the first one (or one too many)."""
    if not spec.args:
        return ["surplus"]
    return ["x\nexit"] + ["1"] * (len([a for a in spec.args if not a.optional]) - 1)


@pytest.mark.parametrize("spec", GENERATED, ids=lambda spec: spec.name)
def test_every_table_command_refuses_bad_input_with_exit_2_before_connecting(cli, listener, spec):
    code, _, err = cli("igv", spec.name, *_bad_argv(spec), "--port", str(listener.port))
    assert code == 2, err
    assert listener.connections == 0
