"""`tether firefox …`: commands for Firefox Marionette. Thin: parse, call the client, render.

Each command opens its own session on the running Firefox (``target.client()``, the one
connection of the command) and deletes it when done, so the page, windows and cookies carry
over from one command to the next. The shared options (``--host --port --timeout --json -v``)
come from :class:`tether.cli.command.Commands`.
"""

# No ``from __future__ import annotations`` here: typer reads the commands' ``Annotated`` options
# from the signature Commands builds, which keeps annotations as written (strings would be lost).
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tether.cli import render
from tether.cli.command import Commands, Target
from tether.errors import Busy, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Firefox

#: the default deadline of a command that talks to Firefox (page loads and scripts included)
DEADLINE = 30.0

cmd = Commands("firefox", help="Drive Firefox Marionette.")
app = cmd.app
cmd.group("cookies", help="List, set and delete the current page's cookies.")
cmd.group("windows", help="List, open, switch and close windows (tabs).")

XPathOpt = Annotated[bool, typer.Option("--xpath", help="SELECTOR is an XPath expression (default: CSS).")]
ChromeOpt = Annotated[
    bool,
    typer.Option(
        "--chrome", help="Run in the chrome context (Firefox must run with -remote-allow-system-access)."
    ),
]


def session(target: Target, *, chrome: bool = False) -> "Firefox":
    """The command's session on the Firefox found (or named by --port); use it with ``with``:
    the session is deleted when the command ends. Page loads and scripts share the deadline."""
    deadline = target.timeout if target.timeout is not None else DEADLINE
    with contextlib.suppress(Busy):  # probe first: the session gets what is left of --timeout
        target.endpoint()
    budget = {"budget": target.deadline()} if target.timeout is not None else {}
    return target.client(page_load_timeout=deadline, script_timeout=deadline, chrome=chrome, **budget)


def _by(xpath: bool) -> str:
    return "xpath" if xpath else "css selector"


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc


def _written(target: Target, file: Path, data: bytes) -> None:
    target.emit({"file": str(file), "bytes": len(data)}, text=f"wrote {file} ({len(data)} bytes)")


# ----------------------------------------------------------------------------- launch / quit
@cmd("launch", timeout=60.0, shared=("timeout", "json", "verbose"), settings=False)
def launch(
    target: Target,
    headless: Annotated[bool, typer.Option("--headless", help="No window.")] = False,
    # not named ``port``: Commands takes a parameter of that name for the shared --port
    marionette_port: Annotated[
        int, typer.Option("--port", "-p", help="Marionette port to listen on (0: let the OS pick).")
    ] = 0,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="Use this profile (default: a fresh temporary one).")
    ] = None,
    bidi: Annotated[bool, typer.Option("--bidi", help="Also run WebDriver BiDi (for `logs`).")] = False,
    binary: Annotated[
        str | None,
        typer.Option("--binary", help="The Firefox binary (default: firefox/firefox-esr on PATH)."),
    ] = None,
    system_access: Annotated[
        bool, typer.Option("--system-access", help="Allow the chrome context (-remote-allow-system-access).")
    ] = False,
) -> None:
    """Start Firefox with Marionette in the background; print its endpoint."""
    from .launch import launch as do_launch

    rec = do_launch(
        headless=headless,
        port=marionette_port,
        profile=profile,
        bidi=bidi,
        binary=binary,
        system_access=system_access,
        timeout=target.timeout or 60.0,
    )
    text = f"Firefox (pid {rec.pid}) listens for Marionette on {rec.host}:{rec.port}"
    if rec.bidi_port:
        text += f"; WebDriver BiDi on {rec.bidi_url}"
    target.emit(rec, text=text + f" (profile {rec.profile})")


@cmd("quit", timeout=DEADLINE)
def quit_(
    target: Target,
    force: Annotated[
        bool, typer.Option("--force", help="Also quit a Firefox tether did not launch.")
    ] = False,
) -> None:
    """Stop the Firefox tether launched (gracefully, then by signal) and remove its temporary profile."""
    from .launch import quit_firefox

    timeout = target.timeout or DEADLINE
    done = quit_firefox(
        host=target.host,
        port=target.port,
        force=force,
        timeout=timeout,
        client=lambda: target.client(timeout=min(timeout, 10.0)),
    )
    target.emit(
        done,
        text=f"stopped Firefox (pid {done['pid']}, port {done['port']}) via {done['stopped']}"
        + (f"; its output is kept in {done['log']}" if done.get("log") else ""),
    )


# ----------------------------------------------------------------------------- navigation
@cmd("navigate", timeout=DEADLINE)
def navigate(target: Target, url: str) -> None:
    """Load URL and wait for the page."""
    with session(target) as ff:
        ff.navigate(url)
        target.emit({"url": ff.url, "title": ff.title}, text=ff.url)


def _history(step: str, doc: str):
    def command(target: Target) -> None:
        with session(target) as ff:
            getattr(ff, step)()
            target.emit({"url": ff.url, "title": ff.title}, text=ff.url)

    command.__doc__ = doc
    return command


def _page_value(attr: str, doc: str):
    def command(target: Target) -> None:
        with session(target) as ff:
            value = getattr(ff, attr)
        target.emit({attr: value}, text=value)

    command.__doc__ = doc
    return command


for _step, _doc in (("back", "Go back in history."), ("forward", "Go forward in history."),
                    ("refresh", "Reload the page.")):  # fmt: skip
    cmd(_step, timeout=DEADLINE)(_history(_step, _doc))
for _attr, _doc in (("title", "Print the page's title."), ("url", "Print the page's URL."),
                    ("source", "Print the page's HTML source.")):  # fmt: skip
    cmd(_attr, timeout=DEADLINE)(_page_value(_attr, _doc))


# ----------------------------------------------------------------------------- elements
@cmd("find", timeout=DEADLINE)
def find(
    target: Target,
    selector: str,
    xpath: XPathOpt = False,
    text: Annotated[bool, typer.Option("--text", help="Print each element's text.")] = False,
    attr: Annotated[str | None, typer.Option("--attr", help="Print this attribute of each element.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every match (default: the first; exit 1 if none).")
    ] = False,
) -> None:
    """Find elements by CSS selector (or --xpath); print their tag, text or an attribute."""
    with session(target) as ff:
        found = ff.find_all(selector, _by(xpath)) if all_ else [ff.find(selector, _by(xpath))]
        rows = []
        for el in found:
            row: dict[str, Any] = {"tag": el.tag, "text": el.text}
            if attr:
                row[attr] = el.attr(attr)
            rows.append(row)
    if target.json:
        render.print_json(rows if all_ else rows[0])
    elif text or attr:
        for row in rows:
            render.line(str(row[attr] if attr else row["text"]))
    else:
        render.table(rows, ["tag", "text", *([attr] if attr else [])])


@cmd("click", timeout=DEADLINE)
def click(target: Target, selector: str, xpath: XPathOpt = False) -> None:
    """Click the element matching SELECTOR."""
    with session(target) as ff:
        ff.click(selector, _by(xpath))
        target.emit({"clicked": selector, "url": ff.url}, text=f"clicked {selector}")


@cmd("type", timeout=DEADLINE)
def type_(
    target: Target,
    selector: str,
    text: str,
    xpath: XPathOpt = False,
    clear: Annotated[bool, typer.Option("--clear", help="Clear the field first.")] = False,
) -> None:
    """Type TEXT into the element matching SELECTOR."""
    with session(target) as ff:
        ff.type(selector, text, _by(xpath), clear=clear)
        value = ff.find(selector, _by(xpath)).prop("value")
    target.emit({"selector": selector, "value": value}, text=f"typed into {selector}")


# ----------------------------------------------------------------------------- scripts and waits
@cmd("eval", timeout=DEADLINE)
def eval_(
    target: Target,
    script: Annotated[
        str, typer.Argument(help="A function body (use `return`); @FILE reads a file, - reads stdin.")
    ],
    args: Annotated[
        str | None, typer.Option("--args", help="Arguments as a JSON array (arguments[0] …).")
    ] = None,
    async_: Annotated[
        bool,
        typer.Option(
            "--async", help="Asynchronous: the last argument is a callback; call it with the result."
        ),
    ] = False,
    chrome: ChromeOpt = False,
) -> None:
    """Run JavaScript in the page and print what it returns (as JSON)."""
    if script == "-":
        script = sys.stdin.read()
    elif script.startswith("@"):
        try:
            script = Path(script[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read the script file {script[1:]}: {exc.strerror}") from exc
    values = _json_arg(args, "--args")
    if values is not None and not isinstance(values, list):
        raise UsageError("--args must be a JSON array")
    with session(target, chrome=chrome) as ff:
        result = ff.execute(script, values or [], async_=async_)
    plain = render.to_jsonable(result)
    target.emit(plain, text=json.dumps(plain, ensure_ascii=False, default=str))


@cmd("wait", timeout=10.0)
def wait(
    target: Target,
    selector: Annotated[
        str | None, typer.Argument(help="Wait until an element matches this selector.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Wait until the title contains this.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Wait until the URL contains this.")] = None,
    xpath: XPathOpt = False,
) -> None:
    """Wait (up to --timeout) for an element, a title or a URL; exit 4 if it does not come."""
    if sum(x is not None for x in (selector, title, url)) != 1:
        raise UsageError("wait for exactly one of: a SELECTOR, --title, --url")
    with session(target) as ff:
        found = ff.wait_for(selector, by=_by(xpath), title=title, url=url, timeout=target.timeout or 10.0)
        data = {"selector": selector, "text": found.text} if selector else {"title": ff.title, "url": ff.url}
    target.emit(data, text=f"found {selector}" if selector else data["title" if title else "url"])


# ----------------------------------------------------------------------------- artifacts
@cmd("screenshot", timeout=DEADLINE)
def screenshot(
    target: Target,
    file: Path,
    full: Annotated[bool, typer.Option("--full", help="The whole document, not just the viewport.")] = False,
    element: Annotated[
        str | None, typer.Option("--element", help="Only the element matching this CSS selector.")
    ] = None,
) -> None:
    """Save a PNG of the viewport (default), the whole page (--full) or one element."""
    if full and element:
        raise UsageError("--full and --element exclude each other")
    with session(target) as ff:
        data = ff.screenshot(file, full=full, element=element)
    _written(target, file, data)


@cmd("pdf", timeout=DEADLINE)
def pdf(
    target: Target,
    file: Path,
    landscape: Annotated[bool, typer.Option("--landscape", help="Landscape orientation.")] = False,
    background: Annotated[bool, typer.Option("--background", help="Print backgrounds.")] = False,
) -> None:
    """Print the page to a PDF file (WebDriver:Print)."""
    with session(target) as ff:
        data = ff.pdf(file, orientation="landscape" if landscape else "portrait", background=background)
    _written(target, file, data)


# ----------------------------------------------------------------------------- cookies
COOKIE_COLUMNS = ["name", "value", "domain", "path", "secure", "httpOnly", "expiry"]


@cmd("list", group="cookies", timeout=DEADLINE)
def cookies_list(target: Target) -> None:
    """The cookies of the current page."""
    with session(target) as ff:
        target.emit(ff.cookies(), columns=COOKIE_COLUMNS, empty="no cookies")


@cmd("set", group="cookies", timeout=DEADLINE)
def cookies_set(
    target: Target,
    name: str,
    value: str,
    path: Annotated[str | None, typer.Option("--path")] = None,
    domain: Annotated[str | None, typer.Option("--domain")] = None,
) -> None:
    """Set a cookie for the current page."""
    fields = {k: v for k, v in (("path", path), ("domain", domain)) if v is not None}
    with session(target) as ff:
        ff.add_cookie(name, value, **fields)
    target.emit({"name": name, "value": value, **fields}, text=f"set cookie {name}")


@cmd("delete", group="cookies", timeout=DEADLINE)
def cookies_delete(
    target: Target,
    name: Annotated[
        str | None, typer.Argument(help="The cookie (default: every cookie of the page).")
    ] = None,
) -> None:
    """Delete a cookie (or all of the page's cookies)."""
    with session(target) as ff:
        ff.delete_cookie(name)
    target.emit({"deleted": name or "all"}, text=f"deleted {name or 'all cookies'}")


# ----------------------------------------------------------------------------- windows
# Firefox gives each session its own window handles, so a handle printed by one command means
# nothing to the next: commands name windows by INDEX (their stable order in the handle list).
IndexArg = Annotated[int, typer.Argument(help="The window's INDEX, as `windows list` shows it.")]


def _handle_at(ff: "Firefox", index: int) -> str:
    handles = ff.windows()
    if not 0 <= index < len(handles):
        raise UsageError(f"no window {index}: {len(handles)} window(s) open (indexes 0-{len(handles) - 1})")
    return handles[index]


@cmd("list", group="windows", timeout=DEADLINE)
def windows_list(target: Target) -> None:
    """Every window (tab): index, title, URL, and which one is current."""
    with session(target) as ff:
        current = ff.window
        rows = [
            {"index": i, "current": h == current, "title": t, "url": u}
            for i, (h, t, u) in enumerate(ff.iter_windows())
        ]
    target.emit(rows, columns=["index", "current", "title", "url"])


@cmd("new", group="windows", timeout=DEADLINE)
def windows_new(
    target: Target,
    window: Annotated[bool, typer.Option("--window", help="A new window instead of a tab.")] = False,
    url: Annotated[str | None, typer.Option("--url", help="Load this URL in it.")] = None,
) -> None:
    """Open a tab (or --window), switch to it, and print its index."""
    with session(target) as ff:
        handle = ff.new_window("window" if window else "tab")
        if url:
            ff.navigate(url)
        index = ff.windows().index(handle)
    target.emit({"index": index}, text=str(index))


@cmd("switch", group="windows", timeout=DEADLINE)
def windows_switch(target: Target, index: IndexArg) -> None:
    """Switch to (and focus) window INDEX; later commands act on it."""
    with session(target) as ff:
        ff.switch_to_window(_handle_at(ff, index))
        data = {"index": index, "title": ff.title, "url": ff.url}
    target.emit(data, text=f"switched to window {index}: {data['title']}")


@cmd("close", group="windows", timeout=DEADLINE)
def windows_close(
    target: Target,
    index: Annotated[
        int | None, typer.Argument(help="The window to close (default: the current one).")
    ] = None,
) -> None:
    """Close a window (tab); print how many are left."""
    with session(target) as ff:
        if index is not None:
            ff.switch_to_window(_handle_at(ff, index))
        left = ff.close_window()
        if left:
            ff.switch_to_window(left[0])
    target.emit({"open": len(left)}, text=f"{len(left)} window(s) left")


# ----------------------------------------------------------------------------- session facts and raw calls
@cmd("timeouts", timeout=DEADLINE)
def timeouts(target: Target) -> None:
    """The session's timeouts (ms) as Firefox reports them for a tether session."""
    with session(target) as ff:
        target.emit(ff.timeouts())


@cmd("capabilities", timeout=DEADLINE)
def capabilities(target: Target) -> None:
    """What Firefox reports at NewSession: version, profile, pid, headless …"""
    with session(target) as ff:
        target.emit(ff.capabilities)


@cmd("call", timeout=DEADLINE)
def call(
    target: Target,
    name: Annotated[str, typer.Argument(help="A Marionette command, e.g. WebDriver:GetWindowRect.")],
    params: Annotated[str | None, typer.Argument(help="Its parameters as a JSON object.")] = None,
    chrome: ChromeOpt = False,
) -> None:
    """Send any Marionette command (the raw escape hatch) and print Firefox's result."""
    values = _json_arg(params, "PARAMS") or {}
    if not isinstance(values, dict):
        raise UsageError("PARAMS must be a JSON object")
    if ":" not in name:
        raise UsageError(f"{name!r} is not a Marionette command name (e.g. WebDriver:GetTitle)")
    with session(target, chrome=chrome) as ff:
        result = ff.call(name, values)
    target.emit(result, text=json.dumps(result, ensure_ascii=False))


# ----------------------------------------------------------------------------- logs (BiDi)
@cmd("logs", timeout=10.0, shared=("port", "timeout", "json", "verbose"))
def logs(
    target: Target,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until interrupted.")] = False,
    seconds: Annotated[
        float, typer.Option("--for", help="Without --follow: stop after this many seconds without a message.")
    ] = 3.0,
    bidi_port: Annotated[
        int | None, typer.Option("--bidi-port", help="WebDriver BiDi port (default: found).")
    ] = None,
) -> None:
    """Console messages and uncaught JavaScript errors of the pages, over WebDriver BiDi."""
    from .bidi import BiDi, find_bidi_port

    with BiDi.open(bidi_port or find_bidi_port(target.port), timeout=target.timeout or 10.0) as bidi:
        bidi.subscribe(["log.entryAdded"])
        render.note(
            "listening for console messages and JavaScript errors" + (" (Ctrl-C stops)" if follow else "")
        )
        for entry in bidi.log_entries(timeout=None if follow else seconds):
            if target.json:  # one JSON object a line, as they come
                render.json_line(entry)
            else:
                where = f" ({entry['url']}:{entry['line']})" if entry.get("url") else ""
                render.line(f"[{entry['level']}] {entry['type']}: {entry['text']}{where}")
