"""``tether mcp``: every tether command as a Model Context Protocol tool, served over stdio.

The tools are generated from the commands the CLI itself parses — ``scan`` and each adapter
command declared through :class:`tether.cli.command.Commands` (:data:`~tether.cli.command.DECLARED`)
— so an agent's tools and the CLI never drift: ``igv goto`` is the tool ``igv_goto``,
``qserver env open`` is ``qserver_env_open``, and their parameters are the CLI's arguments and
options by name (``locus``, ``url``, ``port``, ``host`` …) with JSON-schema types read from
the same declarations.

A call runs that very command in-process: its declared function is called with the tool's
arguments converted by the command's own parameter types (the CLI's validation: bad input is
refused before anything is sent), with ``--json`` on, and its output goes to a
:class:`~tether.cli.render.Sink` — the data it emits is the tool's result, never text printed
and parsed back. A failure is a tool error carrying tether's message and exit code, never a
traceback. A command that writes an image (``igv snapshot``, ``firefox screenshot``) returns the
image as MCP image content; its ``file`` may be left out (a temporary file is used). Commands that stop
or destroy something are annotated ``destructiveHint`` and refused unless the server was
started with ``--allow-destructive``. Options that stream until interrupted (``--follow``)
and secret settings (keys come from the server's environment or config file) are not offered.

The ``mcp`` SDK is an optional dependency (``pip install 'tether[mcp]'``), imported only here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from ..errors import UsageError

#: options no tool offers: output format and logging are the server's business, ``--follow`` and
#: ``--watch`` stream until interrupted (a tool call must end), ``--help`` is for people
HIDDEN = frozenset({"json", "verbose", "help", "follow", "watch"})

#: what a written file's first bytes say it is (IGV writes .png or .svg, Firefox PNG or PDF)
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"%PDF-", "application/pdf"))


@dataclass
class Param:
    """One tool parameter and the command parameter it fills."""

    name: str  # the tool's parameter: the option's long name, or the argument's
    schema: dict[str, Any]
    required: bool
    argument: bool  # positional
    opts: tuple[str, ...] = ()  # --name (an option)
    off: tuple[str, ...] = ()  # --no-name (a boolean option with both forms)
    flag: bool = False  # an option that takes no value
    many: bool = False  # several values (nargs=-1, or a repeatable option)
    key: str = ""  # the command's parameter (its Python name)

    def raw(self, value: Any) -> Any:
        """The tool's JSON value as the command line would have given it, for the parameter's
        own type to convert and check: several values as a tuple; a JSON object or array
        where one text value is expected as its JSON text; a flag as a bool."""
        if self.flag:
            return bool(value)
        if self.many:
            return tuple(_word(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
        return _word(value)


def _word(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


@dataclass
class Tool:
    """An MCP tool: a command's path under ``tether`` and its parameters."""

    name: str
    path: tuple[str, ...]
    description: str
    params: list[Param]
    destructive: bool = False
    writes_file: bool = False  # has an output ``file`` argument, made optional here

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {p.name: p.schema for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }

    def values(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The command's parameters (by their Python names) for a call, as the command line
        would give them; left out: the command's defaults.

        Raises :class:`UsageError` for an unknown parameter or a missing required one.
        """
        known = {p.name: p for p in self.params}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise UsageError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for p in self.params:
            value = arguments.get(p.name)
            if value is None:
                if p.required:
                    raise UsageError(f"{self.name}: the parameter {p.name!r} is required")
                continue
            out[p.key] = p.raw(value)
        return out


# -------------------------------------------------------------------------- generation
def _is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def _is_path(param: Any) -> bool:
    # typer's own path type (TyperPath) or click's: both name themselves path/file/directory
    return getattr(param.type, "name", "") in ("path", "file", "directory")


def _schema(param: Any) -> dict[str, Any]:
    # read by the type's name (int/integer, float, boolean, choice …): typer may vendor click
    t = param.type
    kind = getattr(t, "name", "")
    if getattr(param, "is_flag", False) or kind == "boolean":
        one: dict[str, Any] = {"type": "boolean"}
    elif getattr(t, "choices", None):
        one = {"type": "string", "enum": [str(c) for c in t.choices]}
    elif kind in ("int", "integer", "int range", "integer range"):
        one = {"type": "integer"}
        one.update({k: v for k, v in (("minimum", getattr(t, "min", None)),
                                       ("maximum", getattr(t, "max", None))) if v is not None})  # fmt: skip
    elif kind in ("float", "float range"):
        one = {"type": "number"}
    else:
        one = {"type": "string"}
    many = param.nargs == -1 or getattr(param, "multiple", False)
    schema = {"type": "array", "items": one} if many else one
    help_text = getattr(param, "help", None)
    if help_text:
        schema["description"] = help_text
    default = param.default
    if default is not None and not callable(default) and not many and default != ():
        schema["default"] = default
    return schema


def _param(param: Any) -> Param | None:
    many = param.nargs == -1 or getattr(param, "multiple", False)
    if _is_argument(param):
        name = (param.metavar or param.name or "").rstrip(".").lower().rstrip("_") or param.name
        return Param(name, _schema(param), param.required, True, many=many, key=param.name)
    longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
    name = longs[0].lstrip("-").replace("-", "_")
    if name in HIDDEN:
        return None
    return Param(
        name,
        _schema(param),
        bool(param.required),
        False,
        opts=tuple(longs),
        off=tuple(param.secondary_opts),
        flag=bool(param.is_flag),
        many=many,
        key=param.name,
    )


def _tool(path: tuple[str, ...], command: Any, *, destructive: bool = False, secret: frozenset = frozenset()):
    params = []
    writes_file = False
    for p in command.params:
        if not _is_argument(p) and any(o in secret for o in p.opts):
            continue
        param = _param(p)
        if param is None:
            continue
        if param.argument and param.name == "file" and _is_path(p):
            # an output file: optional here, returned as content (a temporary file by default)
            writes_file = True
            param.required = False
            param.schema["description"] = (
                param.schema.get("description", "Output file.")
                + " Optional: by default a temporary file; an image is returned as image content."
            )
        params.append(param)
    doc = (command.help or command.short_help or "").strip()
    if destructive:
        doc += "\n\nStops or destroys something: refused unless the server runs with --allow-destructive."
    name = "_".join(path).replace("-", "_")
    return Tool(name, path, doc, params, destructive=destructive, writes_file=writes_file)


def _walk(group: Any, path: tuple[str, ...]):
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):  # a group
            if getattr(sub, "invoke_without_command", False):  # it does something alone too
                yield (*path, name), sub
            yield from _walk(sub, (*path, name))
        else:
            yield (*path, name), sub


def build_tools(app: typer.Typer) -> list[Tool]:
    """``scan`` and every declared adapter command of the root ``app`` (built with every
    adapter's commands: ``build_app(None)``), as tools."""
    import typer.main

    from .command import DECLARED

    root = typer.main.get_command(app)
    declared = {d.path: d for commands in DECLARED.values() for d in commands.declared}
    tools = [_tool(("scan",), root.commands["scan"])]  # type: ignore[attr-defined]
    for adapter in sorted(DECLARED):
        group = root.commands.get(adapter)  # type: ignore[attr-defined]
        if group is None:
            continue
        for path, command in _walk(group, (adapter,)):
            d = declared.get(path)
            if d is None:  # a command not declared through Commands: not offered
                continue
            secret = frozenset(s.option for s in d.settings if s.secret)
            tools.append(_tool(path, command, destructive=d.destructive, secret=secret))
    return tools


# -------------------------------------------------------------------------- running a command
class _ThreadStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while serving: each tool call's thread writes into its own
    buffer; anything else goes to ``fallback`` (stderr: stdout carries the protocol)."""

    def __init__(self, fallback: Any, local: threading.local, attr: str) -> None:
        self._fallback, self._local, self._attr = fallback, local, attr

    def _target(self) -> Any:
        return getattr(self._local, self._attr, None) or self._fallback

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


_local = threading.local()


@contextlib.contextmanager
def _captured(out: io.StringIO, err: io.StringIO) -> Iterator[None]:
    """This thread's stdout/stderr into ``out``/``err``: per thread while serving (the streams
    are :class:`_ThreadStream`), else by swapping ``sys.stdout``/``sys.stderr`` (one caller).
    Commands send their data to the sink; this keeps anything else off the protocol's stdout."""
    if isinstance(sys.stdout, _ThreadStream):
        _local.out, _local.err = out, err
        try:
            yield
        finally:
            _local.out = _local.err = None
        return
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield


def _command(path: tuple[str, ...]) -> Any:
    """A fresh click command for ``path`` (``("igv", "goto")``), built as ``tether igv goto``
    builds it: typer's wrappers keep per-command state, so concurrent calls never share one."""
    from . import root_command

    command: Any = root_command(list(path))
    for word in path:
        command = command.commands[word]
    return command


def _invoke(path: tuple[str, ...], values: dict[str, Any]) -> None:
    """Call the command at ``path`` with ``values`` (raw, by parameter name): each parameter's
    own type converts and checks it, the defaults fill the rest, ``--json`` is on, and the
    command's function runs in a click context of its own."""
    import click

    command = _command(path)
    ctx = click.Context(command, info_name=path[-1] if path else "tether")
    with ctx:
        params: dict[str, Any] = {}
        for param in command.params:
            if not param.name:
                continue
            if "--json" in getattr(param, "opts", ()):
                raw: Any = True
            else:
                raw = values.get(param.name)
            given = {param.name: raw} if raw is not None else {}
            value, _ = param.consume_value(ctx, given)
            params[param.name] = param.process_value(ctx, value)
        ctx.params = params
        ctx.invoke(command.callback, **params)


def run_tool(tool: Tool, arguments: dict[str, Any]) -> tuple[int, Any, str, bytes | None]:
    """Run ``tool``'s command in-process: ``(exit code, result or error, stderr, file bytes)``.

    The result is what the command emitted (its :class:`~tether.cli.render.Sink`'s data); a
    failure is the error as data (``error``, ``message``, ``exit_code``). ``file`` bytes are
    those of the file the command wrote, when it has an output file.
    """
    import typer

    from ..errors import TetherError
    from . import render

    try:  # recent typer vendors click as typer._click; older ones use click itself
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover
        from click import exceptions as cx

    arguments = {k: v for k, v in arguments.items() if v is not None}
    tmp = None
    if tool.writes_file and "file" not in arguments:
        tmp = tempfile.TemporaryDirectory(prefix="tether-mcp-")
        arguments["file"] = str(Path(tmp.name) / f"{tool.name}.png")
    try:
        try:
            values = tool.values(arguments)
        except UsageError as exc:
            return exc.exit_code, exc.to_dict(), "", None
        out, err = io.StringIO(), io.StringIO()
        sink = render.Sink()
        code, data = 0, None
        with _captured(out, err), render.sink_to(sink):
            try:
                _invoke(tool.path, values)
            except TetherError as exc:
                code, data = exc.exit_code, exc.to_dict()
            except typer.Exit as exc:
                code = exc.exit_code
            except cx.ClickException as exc:  # a value the parameter's type refuses, a missing one
                code = 2
                data = {"error": "UsageError", "message": exc.format_message(), "exit_code": 2}
            except Exception as exc:  # a bug: one line, as the CLI says it
                if os.environ.get("TETHER_DEBUG"):
                    raise
                code = 1
                data = {"error": "TetherError", "exit_code": 1,
                        "message": f"internal error: {type(exc).__name__}: {exc}"}  # fmt: skip
        if data is None:
            data = sink.result if sink.values else _parse(out.getvalue())
            if code != 0 and not (isinstance(data, dict) and "exit_code" in data):
                data = {"error": "Error", "message": str(data or "failed"), "exit_code": code}
        notes = "".join(f"{n}\n" for n in sink.notes) + err.getvalue()
        written = None
        if code == 0 and tool.writes_file:
            try:
                written = Path(str(arguments["file"])).expanduser().read_bytes()
            except OSError:
                written = None
        return code, data, notes, written
    finally:
        if tmp is not None:
            tmp.cleanup()


def _parse(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # JSON Lines (a stream printed one object a line)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return text


def _mime(data: bytes) -> str | None:
    for magic, mime in MAGIC:
        if data.startswith(magic):
            return mime
    head = data[:512].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:2048]):
        return "image/svg+xml"
    return None


def result_content(tool: Tool, code: int, data: Any, written: bytes | None) -> tuple[list[Any], bool]:
    """MCP content for a run: the JSON as text, and the written file as image (or resource)."""
    import base64

    import mcp.types as types

    text = data if isinstance(data, str) else json.dumps(data, indent=2, ensure_ascii=False, default=str)
    content: list[Any] = [types.TextContent(type="text", text=text)]
    if code == 0 and written:
        mime = _mime(written) or "application/octet-stream"
        encoded = base64.b64encode(written).decode("ascii")
        if mime.startswith("image/"):
            content.append(types.ImageContent(type="image", data=encoded, mimeType=mime))
        else:
            resource = types.BlobResourceContents(uri=f"file:///{tool.name}", mimeType=mime, blob=encoded)
            content.append(types.EmbeddedResource(type="resource", resource=resource))
    return content, code != 0


def refused(tool: Tool) -> dict[str, Any]:
    return UsageError(
        f"{tool.name} stops or destroys something; this server does not allow that",
        hint="start the server with `tether mcp --allow-destructive` to allow it",
    ).to_dict()


# -------------------------------------------------------------------------- the server
def serve(app: typer.Typer, *, allow_destructive: bool = False) -> None:
    """Serve the tools of the root ``app`` over stdio until the client closes the connection."""
    try:
        import anyio
        import mcp.types as types
        from mcp.server.lowlevel import Server
        from mcp.server.stdio import stdio_server
    except ImportError as exc:
        raise UsageError(
            f"the MCP server needs the mcp package ({exc.name} is missing)",
            hint="pip install 'tether[mcp]'",
        ) from exc
    from .. import __version__

    if not os.isatty(0) and hasattr(os, "setsid"):
        # Started by an MCP client: no controlling terminal, so a command that would prompt
        # (getpass opens /dev/tty) reads the empty stdin and fails instead of waiting forever.
        try:
            os.setsid()
        except OSError:  # already a session leader
            pass
    tools = {t.name: t for t in build_tools(app)}
    listed = [
        types.Tool(
            name=t.name,
            title=" ".join(t.path),
            description=t.description,
            inputSchema=t.schema,
            annotations=types.ToolAnnotations(
                title=f"tether {' '.join(t.path)}", destructiveHint=t.destructive, openWorldHint=False
            ),
        )
        for t in tools.values()
    ]

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: Any) -> Any:
        tool = tools.get(params.name)
        arguments = dict(params.arguments or {})
        if tool is None:
            data: Any = UsageError(f"no tool named {params.name!r}").to_dict()
            code, written = 2, None
        elif tool.destructive and not allow_destructive:
            data, code, written = refused(tool), 2, None
        else:
            try:
                code, data, _, written = await anyio.to_thread.run_sync(run_tool, tool, arguments)
            except Exception as exc:  # a bug here must still answer as a tool error, not a traceback
                code, written = 1, None
                data = {"error": "TetherError", "message": f"internal error: {type(exc).__name__}: {exc}",
                        "exit_code": 1}  # fmt: skip
        content, is_error = result_content(tool or Tool(params.name, (), "", []), code, data, written)
        return types.CallToolResult(content=content, isError=is_error)

    server = Server(
        "tether",
        version=__version__,
        instructions="Find the apps listening on this machine's ports (IGV, the Bluesky queue server, "
        "Firefox Marionette …) with `scan`, then drive them; every tool is a tether command.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )

    async def main() -> None:
        async with stdio_server() as (read, write):
            # stdio_server has moved the protocol off fd 1 (fd 1 now writes to stderr); each
            # call's output is captured by its thread, and nothing else can reach the protocol
            saved = sys.stdout, sys.stderr
            sys.stdout = _ThreadStream(saved[0], _local, "out")  # type: ignore[assignment]
            sys.stderr = _ThreadStream(saved[1], _local, "err")  # type: ignore[assignment]
            try:
                await server.run(read, write, server.create_initialization_options())
            finally:
                sys.stdout, sys.stderr = saved

    anyio.run(main)


__all__ = ["Param", "Tool", "build_tools", "run_tool", "serve"]
