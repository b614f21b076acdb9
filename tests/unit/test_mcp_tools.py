"""The MCP tools are generated from the CLI's own commands: names, parameters, calls, refusals."""

from __future__ import annotations

import pytest

from tether.cli.command import DECLARED, Commands, Target
from tether.cli.mcp import build_tools, run_tool
from tether.testing import FakeServer


@pytest.fixture(scope="module")
def tools():
    from tether.cli.app import build_app

    return {t.name: t for t in build_tools(build_app(None))}


def test_every_declared_command_is_a_tool_named_by_its_path(tools):
    from tether import registry

    loaded = {a.name for a in registry.adapters()}  # other tests may declare commands of no adapter
    declared = {
        "_".join(d.path).replace("-", "_"): d
        for c in DECLARED.values()
        for d in c.declared
        if d.app in loaded
    }
    assert {d.app for d in declared.values()} >= {"igv", "firefox", "qserver"}
    assert set(declared) | {"scan"} == set(tools)
    for name, d in declared.items():
        assert tools[name].path == d.path
        assert tools[name].destructive is d.destructive


def test_stopping_and_destroying_commands_are_destructive(tools):
    for name in ("igv_exit", "igv_stop", "firefox_quit", "qserver_env_destroy", "qserver_clear"):
        assert tools[name].destructive, name
    for name in ("scan", "igv_goto", "firefox_navigate", "qserver_status", "qserver_env_open"):
        assert not tools[name].destructive, name


def test_parameters_are_named_and_typed_as_the_cli_declares_them(tools):
    props = tools["igv_goto"].schema["properties"]
    assert props["loci"]["type"] == "array" and props["loci"]["items"] == {"type": "string"}
    assert props["port"]["type"] == "integer" and props["timeout"]["type"] == "number"
    assert tools["igv_genome"].schema["required"] == ["genome"]  # metavar GENOME, not genome_
    assert tools["igv_load"].schema["properties"]["format"]["type"] == "string"  # --format, not format_
    assert tools["qserver_env_open"].schema["properties"]["wait"]["type"] == "boolean"
    assert tools["igv_max_panel_height"].schema["properties"]["height"]["type"] == "integer"
    assert tools["scan"].schema["properties"]["app"]["type"] == "array"
    for t in tools.values():
        assert not {"json", "verbose", "help", "follow", "api_key"} & set(t.schema["properties"]), t.name


def test_a_calls_values_are_the_commands_own_parameters_as_the_command_line_gives_them(tools):
    values = tools["igv_load"].values({"files": ["-odd.bed", "b.bed"], "index": "a.bai", "port": 60151})
    assert values == {"files": ("-odd.bed", "b.bed"), "index": "a.bai", "port": 60151}
    assert tools["igv_url_load"].values({"files": ["x"], "merge": False})["merge"] is False
    assert tools["qserver_run"].values({"plan": ["count"], "wait": False})["wait"] is False
    assert tools["qserver_autostart"].values({"enable": True}) == {"enable": "true"}
    assert tools["igv_load"].values({"files": ["x"], "format": "bed"})["format_"] == "bed"


def test_a_declared_command_runs_with_a_sink_not_argv(tools, monkeypatch):
    """The tool calls the declared function in-process; what it emits reaches the result as
    data (never printed and parsed back), and its remarks for people as notes."""
    from tether.cli import render

    seen = []
    cmd = Commands("sinkdemo", help="Demo.", status=False)

    @cmd("show", timeout=2.0, settings=False)
    def show(target: Target, word: str, times: int = 1) -> None:
        """Show a word."""
        seen.append((target.json, word, times))
        render.note("a remark")
        target.emit({"word": word, "times": times}, text=word)

    @cmd("other", settings=False)
    def other(target: Target) -> None:
        """Another (a group of two)."""

    import typer

    from tether.cli import mcp

    monkeypatch.setattr(mcp, "_command", lambda path: typer.main.get_command(cmd.app).commands[path[-1]])
    monkeypatch.setattr(mcp, "_parse", lambda text: pytest.fail(f"stdout was parsed: {text!r}"))
    tool = mcp._tool(("sinkdemo", "show"), typer.main.get_command(cmd.app).commands["show"])
    code, data, notes, _ = run_tool(tool, {"word": "hi", "times": 3})
    assert (code, data) == (0, {"word": "hi", "times": 3}) and seen == [(True, "hi", 3)]
    assert "a remark" in notes
    code, data, _, _ = run_tool(tool, {"word": "hi", "times": "many"})
    assert code == 2 and "many" in data["message"] and len(seen) == 1


@pytest.mark.parametrize(
    "name, arguments, words",
    [
        ("igv_goto", {"loci": ["chr1"], "colour": "red"}, "colour"),
        ("firefox_navigate", {}, "url"),
        ("igv_region", {"description": "no locus"}, "locus"),
        ("igv_max_panel_height", {"height": "tall"}, "'tall' is not a valid int"),
    ],
)
def test_bad_parameters_exit_2_before_anything_runs(tools, name, arguments, words):
    code, data, _, written = run_tool(tools[name], arguments)
    assert code == 2 and data["exit_code"] == 2 and words in data["message"] and written is None


def test_a_bad_locus_is_refused_without_connecting(tools):
    server = FakeServer(lambda conn, _server: conn.wait_closed(2))
    try:
        code, data, _, _ = run_tool(tools["igv_goto"], {"loci": ["chr1\nexit"], "port": server.port})
        assert code == 2 and "line break" in data["message"]
        assert server.connections == 0
    finally:
        server.close()


def test_an_unreachable_app_is_a_tool_error_with_its_exit_code(tools):
    code, data, _, _ = run_tool(tools["igv_echo"], {"port": 1, "timeout": 1})
    assert code == 3 and data["error"] == "NotFound" and "127.0.0.1:1" in data["message"]
