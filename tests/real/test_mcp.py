"""`tether mcp` driven by the MCP SDK's own client over stdio, against the real Firefox and IGV.

The server is spawned as a subprocess (``python -m tether mcp``), exactly as an MCP client
(Claude Desktop, an IDE) starts it; every tool call goes over the JSON-RPC stdio transport.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client  # the test extra has tether[mcp]

pytestmark = pytest.mark.real

PAGE = "data:text/html,<title>tether mcp page</title><h1>hello agents</h1>"


@asynccontextmanager
async def session(*flags: str, state_dir):
    env = {**os.environ, "TETHER_STATE_DIR": str(state_dir)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "tether", "mcp", *flags], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        yield client


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def payload(result) -> object:
    return json.loads(result.content[0].text)


def test_lists_scan_and_every_declared_command_with_cli_parameter_names(state_dir):
    from tether.cli.app import build_app
    from tether.cli.command import DECLARED

    build_app(None)  # loads every adapter's commands into DECLARED

    async def go():
        async with session(state_dir=state_dir) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(go)}
    from tether import registry

    loaded = {a.name for a in registry.adapters()}  # other tests may declare commands of no adapter
    expected = {
        "_".join(d.path).replace("-", "_")
        for c in DECLARED.values()
        for d in c.declared
        if d.app in loaded and not d.interactive  # a full-screen view needs a terminal: no tool
    }
    assert {"scan", "firefox_navigate", "igv_goto", "qserver_env_open"} <= set(tools)
    assert expected <= set(tools) and "qserver_monitor" not in tools
    goto = tools["igv_goto"].input_schema
    assert goto["properties"]["loci"]["type"] == "array" and goto["required"] == ["loci"]
    assert goto["properties"]["port"]["type"] == "integer"
    assert goto["properties"]["host"]["type"] == "string"
    assert tools["firefox_navigate"].input_schema["required"] == ["url"]
    for name in ("igv_exit", "firefox_quit", "qserver_env_destroy", "qserver_clear"):
        assert tools[name].annotations.destructive_hint is True, name
    assert tools["igv_goto"].annotations.destructive_hint is False
    assert "follow" not in tools["qserver_console"].input_schema["properties"]  # a call must end
    assert "api_key" not in tools["qserver_status"].input_schema["properties"]  # secrets stay server-side


def test_scan_navigate_title_goto_and_snapshot_image(firefox_app, igv_app, state_dir):
    ff, igv = str(firefox_app.port), str(igv_app.port)

    async def go():
        async with session(state_dir=state_dir) as client:
            scan = await client.call_tool("scan", {"app": ["firefox", "igv"], "timeout": 2.0})
            nav = await client.call_tool("firefox_navigate", {"url": PAGE, "port": int(ff)})
            title = await client.call_tool("firefox_title", {"port": int(ff)})
            goto = await client.call_tool("igv_goto", {"loci": ["chr1:1,000-2,000"], "port": int(igv)})
            snap = await client.call_tool("igv_snapshot", {"port": int(igv)})
            shot = await client.call_tool("firefox_screenshot", {"port": int(ff)})
            return scan, nav, title, goto, snap, shot

    scan, nav, title, goto, snap, shot = run(go)
    for result in (scan, nav, title, goto, snap, shot):
        assert not result.is_error, result.content[0].text
    found = {(e["app"], e["port"]): e for e in payload(scan)}
    assert found[("firefox", firefox_app.port)]["confidence"] == "verified"
    assert found[("igv", igv_app.port)]["pid"] == igv_app.pid
    assert payload(nav)["title"] == "tether mcp page"
    assert payload(title) == {"title": "tether mcp page"}
    assert payload(goto)["reply"] == "OK" and payload(goto)["command"] == "goto chr1:1,000-2,000"
    for result in (snap, shot):
        image = result.content[1]
        assert image.type == "image" and image.mime_type == "image/png"
        assert base64.b64decode(image.data).startswith(b"\x89PNG\r\n\x1a\n")
        assert len(base64.b64decode(image.data)) == payload(result)["bytes"]


def test_bad_input_is_a_tool_error_with_message_and_exit_code(igv_app, state_dir):
    async def go():
        async with session(state_dir=state_dir) as client:
            injected = await client.call_tool(
                "igv_goto", {"loci": ["chr1:1-100\nexit"], "port": igv_app.port}
            )
            unknown = await client.call_tool("igv_goto", {"loci": ["chr1"], "colour": "red"})
            missing = await client.call_tool("firefox_navigate", {})
            return injected, unknown, missing

    injected, unknown, missing = run(go)
    for result in (injected, unknown, missing):
        assert result.is_error
        data = payload(result)
        assert data["exit_code"] == 2 and data["message"]
        assert "Traceback" not in result.content[0].text
    assert "line break" in payload(injected)["message"]
    assert "colour" in payload(unknown)["message"]
    assert "url" in payload(missing)["message"]
    assert igv_app.alive()


def test_destructive_tools_refused_unless_allowed(igv_app, state_dir):
    async def go(*flags):
        async with session(*flags, state_dir=state_dir) as client:
            return await client.call_tool("igv_stop", {"port": igv_app.port})

    refused = run(go)
    assert refused.is_error and payload(refused)["exit_code"] == 2
    assert "--allow-destructive" in payload(refused)["hint"]
    # Allowed: the command itself runs. It stops only an IGV tether launched: this one it did not.
    allowed = run(go, "--allow-destructive")
    assert allowed.is_error and payload(allowed)["exit_code"] == 3, allowed.content[0].text
    assert "allow-destructive" not in allowed.content[0].text
    assert igv_app.alive()
