"""`tether firefox …`: commands for Firefox Marionette. Thin: parse, call the client, render.

Each command opens its own session on the running Firefox and deletes it when done, so the
page, windows and cookies carry over from one command to the next.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tether.cli import render
from tether.cli.common import HostOpt, JsonOpt, PortOpt, TimeoutOpt, status_command
from tether.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Firefox

app = typer.Typer(no_args_is_help=True, help="Drive Firefox Marionette.")
app.command("status")(status_command("firefox"))
cookies_app = typer.Typer(no_args_is_help=True, help="List, set and delete the current page's cookies.")
windows_app = typer.Typer(no_args_is_help=True, help="List, open, switch and close windows (tabs).")
app.add_typer(cookies_app, name="cookies")
app.add_typer(windows_app, name="windows")

XPathOpt = Annotated[bool, typer.Option("--xpath", help="SELECTOR is an XPath expression (default: CSS).")]
ChromeOpt = Annotated[
    bool,
    typer.Option(
        "--chrome", help="Run in the chrome context (Firefox must run with -remote-allow-system-access)."
    ),
]


@contextmanager
def session(host: str | None, port: int | None, timeout: float, *, chrome: bool = False) -> Iterator[Firefox]:
    """A session on the Firefox found (or named by --port), deleted when the command ends."""
    from .client import Firefox

    ff = Firefox.attach(
        host, port, timeout=timeout, page_load_timeout=timeout, script_timeout=timeout, chrome=chrome
    )
    with ff:
        yield ff


def _by(xpath: bool) -> str:
    return "xpath" if xpath else "css selector"


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc


# ----------------------------------------------------------------------------- launch / quit
@app.command()
def launch(
    headless: Annotated[bool, typer.Option("--headless", help="No window.")] = False,
    port: Annotated[int, typer.Option("--port", "-p", help="Marionette port (0: let the OS pick).")] = 0,
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
    timeout: TimeoutOpt = 60.0,
    json_: JsonOpt = False,
) -> None:
    """Start Firefox with Marionette in the background; print its endpoint."""
    from .launch import launch as do_launch

    rec = do_launch(
        headless=headless,
        port=port,
        profile=profile,
        bidi=bidi,
        binary=binary,
        system_access=system_access,
        timeout=timeout,
    )
    text = f"Firefox (pid {rec.pid}) listens for Marionette on {rec.host}:{rec.port}"
    if rec.bidi_port:
        text += f"; WebDriver BiDi on {rec.bidi_url}"
    render.emit(rec, as_json=json_, text=text + f" (profile {rec.profile})")


@app.command("quit")
def quit_(
    host: HostOpt = None,
    port: PortOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also quit a Firefox tether did not launch.")
    ] = False,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Stop the Firefox tether launched (gracefully, then by signal) and remove its temporary profile."""
    from .launch import quit_firefox

    done = quit_firefox(host=host, port=port, force=force, timeout=timeout)
    render.emit(
        done,
        as_json=json_,
        text=f"stopped Firefox (pid {done['pid']}, port {done['port']}) via {done['stopped']}"
        + (f"; its output is kept in {done['log']}" if done.get("log") else ""),
    )


# ----------------------------------------------------------------------------- navigation
@app.command()
def navigate(
    url: str, host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
) -> None:
    """Load URL and wait for the page."""
    with session(host, port, timeout) as ff:
        ff.navigate(url)
        render.emit({"url": ff.url, "title": ff.title}, as_json=json_, text=ff.url)


def _history(step: str):
    def command(
        host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
    ) -> None:
        with session(host, port, timeout) as ff:
            getattr(ff, step)()
            render.emit({"url": ff.url, "title": ff.title}, as_json=json_, text=ff.url)

    command.__doc__ = {
        "back": "Go back in history.",
        "forward": "Go forward in history.",
        "refresh": "Reload the page.",
    }[step]
    return command


for _step in ("back", "forward", "refresh"):
    app.command(_step)(_history(_step))


def _page_value(attr: str, doc: str):
    def command(
        host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
    ) -> None:
        with session(host, port, timeout) as ff:
            value = getattr(ff, attr)
        render.emit({attr: value}, as_json=json_, text=value)

    command.__doc__ = doc
    return command


app.command("title")(_page_value("title", "Print the page's title."))
app.command("url")(_page_value("url", "Print the page's URL."))
app.command("source")(_page_value("source", "Print the page's HTML source."))


# ----------------------------------------------------------------------------- elements
@app.command()
def find(
    selector: str,
    xpath: XPathOpt = False,
    text: Annotated[bool, typer.Option("--text", help="Print each element's text.")] = False,
    attr: Annotated[str | None, typer.Option("--attr", help="Print this attribute of each element.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every match (default: the first; exit 1 if none).")
    ] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Find elements by CSS selector (or --xpath); print their tag, text or an attribute."""
    with session(host, port, timeout) as ff:
        found = ff.find_all(selector, _by(xpath)) if all_ else [ff.find(selector, _by(xpath))]
        rows = []
        for el in found:
            row: dict[str, Any] = {"tag": el.tag, "text": el.text}
            if attr:
                row[attr] = el.attr(attr)
            rows.append(row)
    if json_:
        render.print_json(rows if all_ else rows[0])
    elif text or attr:
        for row in rows:
            render.line(str(row[attr] if attr else row["text"]))
    else:
        render.table(rows, ["tag", "text", *([attr] if attr else [])])


@app.command()
def click(
    selector: str,
    xpath: XPathOpt = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Click the element matching SELECTOR."""
    with session(host, port, timeout) as ff:
        ff.click(selector, _by(xpath))
        render.emit({"clicked": selector, "url": ff.url}, as_json=json_, text=f"clicked {selector}")


@app.command("type")
def type_(
    selector: str,
    text: str,
    xpath: XPathOpt = False,
    clear: Annotated[bool, typer.Option("--clear", help="Clear the field first.")] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Type TEXT into the element matching SELECTOR."""
    with session(host, port, timeout) as ff:
        ff.type(selector, text, _by(xpath), clear=clear)
        value = ff.find(selector, _by(xpath)).prop("value")
    render.emit({"selector": selector, "value": value}, as_json=json_, text=f"typed into {selector}")


# ----------------------------------------------------------------------------- scripts and waits
@app.command("eval")
def eval_(
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
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
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
    with session(host, port, timeout, chrome=chrome) as ff:
        result = ff.execute(script, values or [], async_=async_)
    plain = render.to_jsonable(result)
    render.emit(plain, as_json=json_, text=json.dumps(plain, ensure_ascii=False, default=str))


@app.command()
def wait(
    selector: Annotated[
        str | None, typer.Argument(help="Wait until an element matches this selector.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Wait until the title contains this.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Wait until the URL contains this.")] = None,
    xpath: XPathOpt = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 10.0,
    json_: JsonOpt = False,
) -> None:
    """Wait (up to --timeout) for an element, a title or a URL; exit 4 if it does not come."""
    if sum(x is not None for x in (selector, title, url)) != 1:
        raise UsageError("wait for exactly one of: a SELECTOR, --title, --url")
    with session(host, port, timeout) as ff:
        found = ff.wait_for(selector, by=_by(xpath), title=title, url=url, timeout=timeout)
        data = {"selector": selector, "text": found.text} if selector else {"title": ff.title, "url": ff.url}
    render.emit(
        data, as_json=json_, text=f"found {selector}" if selector else data["title" if title else "url"]
    )


# ----------------------------------------------------------------------------- artifacts
@app.command()
def screenshot(
    file: Path,
    full: Annotated[bool, typer.Option("--full", help="The whole document, not just the viewport.")] = False,
    element: Annotated[
        str | None, typer.Option("--element", help="Only the element matching this CSS selector.")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Save a PNG of the viewport (default), the whole page (--full) or one element."""
    if full and element:
        raise UsageError("--full and --element exclude each other")
    with session(host, port, timeout) as ff:
        data = ff.screenshot(file, full=full, element=element)
    render.emit(
        {"file": str(file), "bytes": len(data)}, as_json=json_, text=f"wrote {file} ({len(data)} bytes)"
    )


@app.command()
def pdf(
    file: Path,
    landscape: Annotated[bool, typer.Option("--landscape", help="Landscape orientation.")] = False,
    background: Annotated[bool, typer.Option("--background", help="Print backgrounds.")] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Print the page to a PDF file (WebDriver:Print)."""
    with session(host, port, timeout) as ff:
        data = ff.pdf(file, orientation="landscape" if landscape else "portrait", background=background)
    render.emit(
        {"file": str(file), "bytes": len(data)}, as_json=json_, text=f"wrote {file} ({len(data)} bytes)"
    )


# ----------------------------------------------------------------------------- cookies
COOKIE_COLUMNS = ["name", "value", "domain", "path", "secure", "httpOnly", "expiry"]


@cookies_app.command("list")
def cookies_list(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
) -> None:
    """The cookies of the current page."""
    with session(host, port, timeout) as ff:
        render.emit(ff.cookies(), as_json=json_, columns=COOKIE_COLUMNS, empty="no cookies")


@cookies_app.command("set")
def cookies_set(
    name: str,
    value: str,
    path: Annotated[str | None, typer.Option("--path")] = None,
    domain: Annotated[str | None, typer.Option("--domain")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Set a cookie for the current page."""
    fields = {k: v for k, v in (("path", path), ("domain", domain)) if v is not None}
    with session(host, port, timeout) as ff:
        ff.add_cookie(name, value, **fields)
    render.emit({"name": name, "value": value, **fields}, as_json=json_, text=f"set cookie {name}")


@cookies_app.command("delete")
def cookies_delete(
    name: Annotated[
        str | None, typer.Argument(help="The cookie (default: every cookie of the page).")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Delete a cookie (or all of the page's cookies)."""
    with session(host, port, timeout) as ff:
        ff.delete_cookie(name)
    render.emit({"deleted": name or "all"}, as_json=json_, text=f"deleted {name or 'all cookies'}")


# ----------------------------------------------------------------------------- windows
# Firefox gives each session its own window handles, so a handle printed by one command means
# nothing to the next: commands name windows by INDEX (their stable order in the handle list).
IndexArg = Annotated[int, typer.Argument(help="The window's INDEX, as `windows list` shows it.")]


def _handle_at(ff: Firefox, index: int) -> str:
    handles = ff.windows()
    if not 0 <= index < len(handles):
        raise UsageError(f"no window {index}: {len(handles)} window(s) open (indexes 0-{len(handles) - 1})")
    return handles[index]


@windows_app.command("list")
def windows_list(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
) -> None:
    """Every window (tab): index, title, URL, and which one is current."""
    with session(host, port, timeout) as ff:
        current = ff.window
        rows = [
            {"index": i, "current": h == current, "title": t, "url": u}
            for i, (h, t, u) in enumerate(ff.iter_windows())
        ]
    render.emit(rows, as_json=json_, columns=["index", "current", "title", "url"])


@windows_app.command("new")
def windows_new(
    window: Annotated[bool, typer.Option("--window", help="A new window instead of a tab.")] = False,
    url: Annotated[str | None, typer.Option("--url", help="Load this URL in it.")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Open a tab (or --window), switch to it, and print its index."""
    with session(host, port, timeout) as ff:
        handle = ff.new_window("window" if window else "tab")
        if url:
            ff.navigate(url)
        index = ff.windows().index(handle)
    render.emit({"index": index}, as_json=json_, text=str(index))


@windows_app.command("switch")
def windows_switch(
    index: IndexArg,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Switch to (and focus) window INDEX; later commands act on it."""
    with session(host, port, timeout) as ff:
        ff.switch_to_window(_handle_at(ff, index))
        data = {"index": index, "title": ff.title, "url": ff.url}
    render.emit(data, as_json=json_, text=f"switched to window {index}: {data['title']}")


@windows_app.command("close")
def windows_close(
    index: Annotated[
        int | None, typer.Argument(help="The window to close (default: the current one).")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Close a window (tab); print how many are left."""
    with session(host, port, timeout) as ff:
        if index is not None:
            ff.switch_to_window(_handle_at(ff, index))
        left = ff.close_window()
        if left:
            ff.switch_to_window(left[0])
    render.emit({"open": len(left)}, as_json=json_, text=f"{len(left)} window(s) left")


# ----------------------------------------------------------------------------- session facts and raw calls
@app.command()
def timeouts(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
) -> None:
    """The session's timeouts (ms) as Firefox reports them for a tether session."""
    with session(host, port, timeout) as ff:
        render.emit(ff.timeouts(), as_json=json_)


@app.command()
def capabilities(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 30.0, json_: JsonOpt = False
) -> None:
    """What Firefox reports at NewSession: version, profile, pid, headless …"""
    with session(host, port, timeout) as ff:
        render.emit(ff.capabilities, as_json=json_)


@app.command()
def call(
    name: Annotated[str, typer.Argument(help="A Marionette command, e.g. WebDriver:GetWindowRect.")],
    params: Annotated[str | None, typer.Argument(help="Its parameters as a JSON object.")] = None,
    chrome: ChromeOpt = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Send any Marionette command (the raw escape hatch) and print Firefox's result."""
    values = _json_arg(params, "PARAMS") or {}
    if not isinstance(values, dict):
        raise UsageError("PARAMS must be a JSON object")
    if ":" not in name:
        raise UsageError(f"{name!r} is not a Marionette command name (e.g. WebDriver:GetTitle)")
    with session(host, port, timeout, chrome=chrome) as ff:
        result = ff.call(name, values)
    render.emit(result, as_json=json_, text=json.dumps(result, ensure_ascii=False))


# ----------------------------------------------------------------------------- logs (BiDi)
@app.command()
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until interrupted.")] = False,
    seconds: Annotated[
        float, typer.Option("--for", help="Without --follow: stop after this many seconds without a message.")
    ] = 3.0,
    bidi_port: Annotated[
        int | None, typer.Option("--bidi-port", help="WebDriver BiDi port (default: found).")
    ] = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 10.0,
    json_: JsonOpt = False,
) -> None:
    """Console messages and uncaught JavaScript errors of the pages, over WebDriver BiDi."""
    from .bidi import BiDi, find_bidi_port

    with BiDi.open(bidi_port or find_bidi_port(port), timeout=timeout) as bidi:
        bidi.subscribe(["log.entryAdded"])
        render.note(
            "listening for console messages and JavaScript errors" + (" (Ctrl-C stops)" if follow else "")
        )
        for entry in bidi.log_entries(timeout=None if follow else seconds):
            if json_:  # one JSON object a line, as they come
                render.json_line(entry)
            else:
                where = f" ({entry['url']}:{entry['line']})" if entry.get("url") else ""
                render.line(f"[{entry['level']}] {entry['type']}: {entry['text']}{where}")
