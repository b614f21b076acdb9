"""The MCP tools are generated from the CLI's own commands: names, parameters, argv, refusals."""

from __future__ import annotations

import pytest

from tether.cli.command import DECLARED
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


def test_argv_puts_options_first_then_the_arguments_after_a_double_dash(tools):
    argv = tools["igv_load"].argv({"files": ["-odd.bed", "b.bed"], "index": "a.bai", "port": 60151})
    assert argv == ["igv", "load", "--index", "a.bai", "--port", "60151", "--json", "--", "-odd.bed", "b.bed"]
    assert tools["igv_url_load"].argv({"files": ["x"], "merge": False})[:3] == ["igv", "url", "load"]
    assert "--no-merge" in tools["igv_url_load"].argv({"files": ["x"], "merge": False})
    assert tools["qserver_run"].argv({"plan": ["count"], "wait": False})[2] == "--no-wait"
    assert tools["qserver_autostart"].argv({"enable": True})[-1] == "true"


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
