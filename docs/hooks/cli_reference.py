"""mkdocs hook: the CLI reference, generated from the commands' own declarations.

Every command of ``tether`` (the root's and each adapter's) gets a page under ``reference/cli/``,
written at build time from the click command typer builds: its usage, its help, and a table of
its arguments and options (each with its help, type and default). Nothing here is typed by hand,
so the reference cannot drift from ``--help``. The pages are added to the site's files and to the
navigation's "CLI reference" section; ``tests/docs/test_docs.py`` checks that every command has
one.
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REFERENCE = "reference/cli"


@dataclass
class Page:
    path: str  # relative to docs/, e.g. reference/cli/igv/goto.md
    words: tuple[str, ...]  # ("igv", "goto")
    command: Any  # a click command (typer's own click, or click itself)
    children: list[Page] = field(default_factory=list)

    @property
    def title(self) -> str:
        return "tether " + " ".join(self.words) if self.words else "tether"


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "list_commands")


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


@contextlib.contextmanager
def bundled_only() -> Iterator[None]:
    """The bundled adapters only (a third-party adapter installed here is not tether's to
    document), for the time of the block: the environment and the registry's cache are given back
    afterwards, so a test that builds the reference in-process leaves the rest of its run alone."""
    from tether import registry

    saved = os.environ.get("TETHER_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["TETHER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    registry.adapters.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TETHER_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["TETHER_DISABLE_PLUGIN_AUTOLOAD"] = saved
        registry.adapters.cache_clear()


def root_command() -> Any:
    """The whole CLI, every bundled adapter's commands loaded (as ``tether mcp`` loads them)."""
    import typer

    from tether.cli.app import build_app

    with bundled_only():
        return typer.main.get_command(build_app(None))


def pages(root: Any = None) -> list[Page]:
    """Every command as a page, depth first: groups have an index page listing their commands."""
    root = root or root_command()
    out: list[Page] = []

    def walk(cmd: Any, words: tuple[str, ...]) -> Page:
        if _is_group(cmd):
            path = f"{REFERENCE}/{'/'.join(words)}/index.md" if words else f"{REFERENCE}/index.md"
        else:
            path = f"{REFERENCE}/{'/'.join(words)}.md"
        page = Page(path, words, cmd)
        out.append(page)
        if _is_group(cmd):
            ctx = cmd.context_class(cmd, info_name=words[-1] if words else "tether")
            for name in sorted(cmd.list_commands(ctx)):
                sub = cmd.get_command(ctx, name)
                if sub is None or getattr(sub, "hidden", False):
                    continue
                page.children.append(walk(sub, (*words, name)))
        return page

    walk(root, ())
    return out


def _cell(text: object) -> str:
    """Text for a markdown table cell: escaped as HTML, pipes and newlines kept out of the table."""
    return html.escape(str(text), quote=False).replace("|", "&#124;").replace("\n", " ").strip()


def _help(cmd: Any) -> str:
    text = (cmd.help or cmd.short_help or "").strip()
    return html.escape(text, quote=False) if text else "(no help text)"


def _default(param: Any) -> str:
    if _is_option(param) and (param.is_flag and not param.secondary_opts) and not param.default:
        return ""
    if param.default is None or param.default == () or param.default == []:
        return ""
    if getattr(param, "show_default", None) is False:
        return ""
    value = param.default
    if callable(value):
        return "(computed)"
    if isinstance(value, (list, tuple)):
        value = ", ".join(map(str, value))
    return f"`{value}`"


def _type(param: Any) -> str:
    if _is_option(param) and param.is_flag:
        return "flag"
    name = getattr(param.type, "name", "") or ""
    if hasattr(param.type, "choices"):
        return " &#124; ".join(f"`{c}`" for c in param.type.choices)
    return name.lower() if name else ""


def _argument_name(param: Any) -> str:
    return (param.metavar or param.name or "").upper().strip("{}")


def _usage(cmd: Any, words: tuple[str, ...]) -> str:
    pieces = ["tether", *words]
    if any(_is_option(p) and not p.hidden for p in cmd.params):
        pieces.append("[OPTIONS]")
    for p in cmd.params:
        if _is_argument(p):
            name = _argument_name(p) + ("…" if p.nargs != 1 else "")
            pieces.append(name if p.required else f"[{name}]")
    if _is_group(cmd):
        pieces.append("COMMAND [ARGS]…")
    return " ".join(pieces)


def render(page: Page) -> str:
    cmd = page.command
    lines = [f"# {page.title}", "", "```text", _usage(cmd, page.words), "```", "", _help(cmd), ""]
    if page.children:
        lines += ["| command | what it does |", "|---|---|"]
        for child in page.children:
            rel = os.path.relpath(child.path, os.path.dirname(page.path))
            short = child.command.get_short_help_str(limit=120)
            lines.append(f"| [`{' '.join(child.words)}`]({rel}) | {_cell(short)} |")
        lines.append("")
    arguments = [p for p in cmd.params if _is_argument(p)]
    options = [p for p in cmd.params if _is_option(p) and not p.hidden]
    if arguments:
        lines += ["## Arguments", "", "| argument | required | type | help |", "|---|---|---|---|"]
        for p in arguments:
            name = _argument_name(p)
            help_text = getattr(p, "help", None) or ""
            many = "…" if p.nargs != 1 else ""
            lines.append(
                f"| `{name}{many}` | {'yes' if p.required else 'no'} | {_type(p)} | {_cell(help_text)} |"
            )
        lines.append("")
    if options:
        lines += ["## Options", "", "| option | type | default | help |", "|---|---|---|---|"]
        for p in options:
            flags = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            envvar = f" (env: `{p.envvar}`)" if isinstance(p.envvar, str) else ""
            lines.append(f"| {flags} | {_type(p)} | {_default(p)} | {_cell(p.help or '')}{envvar} |")
        lines.append("")
    lines += [
        "Exit codes: the same for every command ([Exit codes]("
        + os.path.relpath("exit-codes.md", os.path.dirname(page.path))
        + ")).",
        "",
    ]
    return "\n".join(lines)


def _nav(page: Page):
    if not page.children:
        return {page.title.removeprefix("tether "): page.path}
    entries = [page.path]  # the group's index page (navigation.indexes shows it as the section)
    entries += [_nav(child) for child in page.children]
    return {page.title.removeprefix("tether ") if page.words else "tether": entries}


# -- mkdocs events ---------------------------------------------------------------------------------
_PAGES: list[Page] = []


def on_config(config, **kwargs):
    _PAGES[:] = pages()
    tree = _nav(_PAGES[0])
    nav = config.get("nav") or []
    for i, entry in enumerate(nav):
        if isinstance(entry, dict) and "CLI reference" in entry:
            nav[i] = {"CLI reference": tree["tether"]}
    return config


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for page in _PAGES:
        files.append(File.generated(config, page.path, content=render(page)))
    return files


# -- the settings table ------------------------------------------------------------------------------
SETTINGS_MARK = "<!-- tether:settings -->"


def settings_table() -> str:
    """Every adapter's settings (host and port included) as a table: the flag, the environment
    variables in the order they are read, the config-file key, whether it is secret, its help —
    generated from the adapters' declarations, as the core resolves them."""
    from tether import registry
    from tether.config import BUILTIN, env_name

    with bundled_only():
        found = sorted(registry.adapters(), key=lambda a: a.name)
    rows = [
        "| app | setting | flag | environment (first set wins) | config file | help |",
        "|---|---|---|---|---|---|",
    ]
    for adapter in found:
        for s in (*BUILTIN, *adapter.settings):
            flag = getattr(s, "option", None) or "--" + s.name.replace("_", "-")
            env = [*getattr(s, "env", ()), env_name(adapter.name, s.name)]
            secret = " (secret: never printed)" if getattr(s, "secret", False) else ""
            rows.append(
                f"| {adapter.name} | `{s.name}` | `{flag}` | {', '.join(f'`${v}`' for v in env)} "
                f"| `[{adapter.name}] {s.name}` | {_cell(s.help)}{secret} |"
            )
    return "\n".join(rows)


IGV_COMMANDS_MARK = "<!-- tether:igv-commands -->"


def on_page_markdown(markdown, page, config, files, **kwargs):
    if SETTINGS_MARK in markdown:
        markdown = markdown.replace(SETTINGS_MARK, settings_table())
    if IGV_COMMANDS_MARK in markdown:  # the IGV adapter's own table of its batch commands
        from tether_igv.commands import markdown_table

        markdown = markdown.replace(IGV_COMMANDS_MARK, markdown_table())
    return markdown
