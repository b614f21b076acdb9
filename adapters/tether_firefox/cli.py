"""`tether firefox …`: commands for Firefox Marionette. Thin: parse, call the client, render.

Each command opens its own session on the running Firefox (``target.client()``, the one
connection of the command) and deletes it when done, so the page, windows and cookies carry
over from one command to the next. The shared options (``--host --port --timeout --json -v``)
come from :class:`tether.cli.command.Commands`.
"""

# No ``from __future__ import annotations`` here: typer reads the commands' ``Annotated`` options
# from the signature Commands builds, which keeps annotations as written (strings would be lost).
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tether.cli import render
from tether.cli.command import Commands, Target
from tether.errors import Timeout, UsageError

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


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Act at once: skip the wait for the element to be visible, enabled, stable and uncovered.",
    ),
]

FrameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--frame",
        help="Work inside this frame: its <iframe>'s CSS selector, or its index; repeat for nested frames.",
    ),
]


def _frames(frames: list[str] | None) -> list[int | str]:
    return [int(f) if f.isdigit() else f for f in frames or ()]


def session(target: Target, *, chrome: bool = False) -> "Firefox":
    """The command's session on the Firefox found (or named by --port); use it with ``with``:
    the session is deleted when the command ends. Page loads and scripts share the deadline.
    A Firefox tether launched with --accept-insecure-certs gets sessions that accept them."""
    deadline = target.timeout if target.timeout is not None else DEADLINE
    budget = {"budget": target.deadline()} if target.timeout is not None else {}
    return target.client(timeouts={"page_load": deadline, "script": deadline}, chrome=chrome, **budget)


def _by(xpath: bool) -> str:
    return "xpath" if xpath else "css selector"


def _checked(*selectors: str | None, xpath: bool = False) -> None:
    """Refuse a malformed selector (``a >>> ``) before connecting, as the client would after."""
    from .waiting import locator

    for selector in selectors:
        if selector is not None:
            locator(selector, _by(xpath))


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc


def _acted(
    target: Target,
    ff: "Firefox",
    data: dict[str, Any],
    text: str | Callable[[dict[str, Any]], str],
    read: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Print what a command did. When it left a dialog open, say so (exit 0) and touch nothing:
    reading the page (``read``) would be refused while the dialog is open, and answering it is
    the ``alert`` command's job."""
    dialog = ff.dialog()
    if dialog is None and read is not None:
        data = {**data, **read()}
    said = text(data) if callable(text) else text
    if dialog is not None:
        target.emit({**data, "dialog": dialog.to_dict()}, text=f"{said}; {dialog}")
    else:
        target.emit(data, text=said)


def _plain(value: Any) -> Any:
    """A script's result as JSON: an element becomes its description (its reference dies with
    the command's session)."""
    from .client import Element, ShadowRoot

    if isinstance(value, Element):
        return value.describe()
    if isinstance(value, ShadowRoot):
        return value.describe()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return render.to_jsonable(value)


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
    pref: Annotated[
        list[str] | None,
        typer.Option("--pref", help="Set a pref: NAME=VALUE (JSON value: true, 3, or text); repeatable."),
    ] = None,
    window_size: Annotated[
        str | None, typer.Option("--window-size", help="The window's size, WIDTHxHEIGHT (1280x800).")
    ] = None,
    download_dir: Annotated[
        Path | None,
        typer.Option("--download-dir", help="Save every download here without asking (see `downloads`)."),
    ] = None,
    accept_insecure_certs: Annotated[
        bool,
        typer.Option(
            "--accept-insecure-certs",
            help="tether's sessions on it accept self-signed and expired certificates.",
        ),
    ] = False,
    proxy: Annotated[
        str | None, typer.Option("--proxy", help="Use a proxy: http://HOST:PORT or socks5://HOST:PORT.")
    ] = None,
) -> None:
    """Start Firefox with Marionette in the background; print its endpoint."""
    from .launch import launch as do_launch
    from .launch import parse_pref, proxy_prefs

    prefs = dict(parse_pref(p) for p in pref or ())  # every option checked before anything starts
    size = _pair(window_size, "--window-size", sep="x", example="1280x800")
    if size is not None and min(size) <= 0:
        raise UsageError(f"--window-size must be positive, not {window_size}")
    if proxy is not None:
        proxy_prefs(proxy)
    with target.progress("starting Firefox"):
        rec = do_launch(
            headless=headless,
            port=marionette_port,
            profile=profile,
            bidi=bidi,
            binary=binary,
            system_access=system_access,
            prefs=prefs,
            window_size=size,
            download_dir=download_dir,
            accept_insecure_certs=accept_insecure_certs,
            proxy=proxy,
            timeout=target.timeout or 60.0,
        )
    text = f"Firefox (pid {rec.pid}) listens for Marionette on {rec.host}:{rec.port}"
    if rec.bidi_port:
        text += f"; WebDriver BiDi on {rec.bidi_url}"
    target.emit(rec, text=text + f" (profile {rec.profile})")


@cmd("quit", timeout=DEADLINE, destructive=True)
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
HarOpt = Annotated[
    Path | None,
    typer.Option(
        "--har",
        help="Write the page's requests to FILE as HAR 1.2 (needs WebDriver BiDi: `launch --bidi`).",
        dir_okay=False,
    ),
]


@cmd("navigate", timeout=DEADLINE)
def navigate(target: Target, url: str, har: HarOpt = None) -> None:
    """Load URL and wait for the page (the path of an existing file loads as its file:// URL)."""
    from .client import resolve_url

    # a bad URL is refused before connecting; a file path here means nothing to Firefox over SSH
    url = resolve_url(url, local=not (target.host or "").startswith("ssh://"))
    if har is not None and not har.parent.is_dir():  # refused before anything is sent
        raise UsageError(f"--har {har}: no directory {har.parent}")
    client = session(target)
    if har is None:
        with client as ff:
            loaded = ff.navigate(url)
            page = {"url": loaded}
            _acted(target, ff, page, lambda d: d["url"], read=lambda: {"url": ff.url, "title": ff.title})
        return
    client.ask_capabilities(webSocketUrl=True)  # the session's BiDi endpoint, for the network
    with client as ff:
        with ff.record_har(har) as recorded:
            loaded = ff.navigate(url)
            try:  # what the loaded page fetches next; a page that polls forever is written as it stands
                with target.progress("waiting for the page's requests to finish"):
                    ff.wait_for_network_idle(idle=0.3, timeout=5.0)
            except Timeout:
                pass
        data = {"url": loaded, "har": str(har), "requests": len(recorded.requests)}
        _acted(target, ff, data, lambda d: f"{d['url']} ({d['requests']} requests in {d['har']})",
               read=lambda: {"url": ff.url, "title": ff.title})  # fmt: skip


def _history(step: str, doc: str):
    def command(target: Target) -> None:
        with session(target) as ff:
            getattr(ff, step)()
            _acted(
                target, ff, {}, lambda d: d.get("url", step), read=lambda: {"url": ff.url, "title": ff.title}
            )

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
    attr: Annotated[
        str | None, typer.Option("--attr", help="Print this attribute of each element (nothing if absent).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every match (default: the first; exit 1 if none).")
    ] = False,
    frame: FrameOpt = None,
) -> None:
    """Find elements by CSS selector (or --xpath; `a >>> b` pierces shadow roots); print their tag,
    text or an attribute."""
    with session(target) as ff, ff.frame(*_frames(frame)):
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
            value = row[attr] if attr else row["text"]
            if value is not None:  # an absent attribute prints nothing (JSON: null)
                render.line(str(value))
    else:
        render.table(rows, ["tag", "text", *([attr] if attr else [])])


@cmd("click", timeout=DEADLINE)
def click(
    target: Target, selector: str, xpath: XPathOpt = False, force: ForceOpt = False, frame: FrameOpt = None
) -> None:
    """Click the element matching SELECTOR once it is there, visible, enabled, stable and not covered
    (up to --timeout; exit 4 naming what blocks it). A dialog it opens is reported and left open."""
    _checked(selector, xpath=xpath)
    with session(target) as ff, ff.frame(*_frames(frame)):
        ff.click(selector, _by(xpath), force=force)
        _acted(target, ff, {"clicked": selector}, f"clicked {selector}", read=lambda: {"url": ff.url})


@cmd("type", timeout=DEADLINE)
def type_(
    target: Target,
    selector: str,
    text: str,
    xpath: XPathOpt = False,
    clear: Annotated[bool, typer.Option("--clear", help="Clear the field first.")] = False,
    force: ForceOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Type TEXT into the element matching SELECTOR once it is visible, enabled and editable."""
    _checked(selector, xpath=xpath)
    with session(target) as ff, ff.frame(*_frames(frame)):
        ff.type(selector, text, _by(xpath), clear=clear, force=force)
        _acted(
            target,
            ff,
            {"selector": selector},
            f"typed into {selector}",
            read=lambda: {"value": ff.find(selector, _by(xpath)).prop("value")},
        )


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
    frame: FrameOpt = None,
) -> None:
    """Run JavaScript in the page and print what it returns (as JSON; an element as its tag,
    a selector-like description and its text)."""
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
    with session(target, chrome=chrome) as ff, ff.frame(*_frames(frame)):
        result = ff.execute(script, values or [], async_=async_)
        dialog = ff.dialog()
        plain = _plain(result) if dialog is None else render.to_jsonable(result)
    said = json.dumps(plain, ensure_ascii=False, default=str)
    if dialog is not None:
        target.emit({"result": plain, "dialog": dialog.to_dict()}, text=f"{said}; {dialog}")
    else:
        target.emit(plain, text=said)


@cmd("wait", timeout=10.0)
def wait(
    target: Target,
    selector: Annotated[
        str | None, typer.Argument(help="Wait until an element matches this selector.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Wait until the title contains this.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Wait until the URL contains this.")] = None,
    xpath: XPathOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Wait (up to --timeout) for an element, a title or a URL; exit 4 if it does not come."""
    if sum(x is not None for x in (selector, title, url)) != 1:
        raise UsageError("wait for exactly one of: a SELECTOR, --title, --url")
    what = selector or (f"the title {title!r}" if title else f"the URL {url!r}")
    with session(target) as ff, ff.frame(*_frames(frame)), target.progress(f"waiting for {what}"):
        found = ff.wait_for(selector, by=_by(xpath), title=title, url=url, timeout=target.timeout or 10.0)
        data = {"selector": selector, "text": found.text} if selector else {"title": ff.title, "url": ff.url}
    target.emit(data, text=f"found {selector}" if selector else data["title" if title else "url"])


def _both(on: bool, off: bool, names: str) -> bool | None:
    if on and off:
        raise UsageError(f"{names} exclude each other")
    return True if on else False if off else None


@cmd("expect", timeout=10.0)
def expect(
    target: Target,
    selector: Annotated[
        str | None, typer.Argument(help="The element(s) the expectation is about (CSS, or --xpath).")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Has this text (exact, whitespace normalised).")
    ] = None,
    contains: Annotated[str | None, typer.Option("--contains", help="Its text contains this.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="An input's value is this.")] = None,
    count: Annotated[int | None, typer.Option("--count", help="This many elements match.", min=0)] = None,
    visible: Annotated[bool, typer.Option("--visible", help="Is visible.")] = False,
    hidden: Annotated[bool, typer.Option("--hidden", help="Is hidden (or absent).")] = False,
    enabled: Annotated[bool, typer.Option("--enabled", help="Is enabled.")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Is disabled.")] = False,
    checked: Annotated[bool, typer.Option("--checked", help="Is checked.")] = False,
    unchecked: Annotated[bool, typer.Option("--unchecked", help="Is not checked.")] = False,
    attr: Annotated[
        str | None,
        typer.Option("--attr", help="Has attribute NAME=VALUE (NAME alone: has no such attribute)."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="The page's title is this.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="The page's URL is this.")] = None,
    xpath: XPathOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Check the page, retrying until it holds or --timeout passes: exit 0 when met, 1 when not
    (naming the expectation and the last value seen)."""
    expected = {
        "text": text,
        "contains": contains,
        "value": value,
        "count": count,
        "visible": _both(visible, hidden, "--visible and --hidden"),
        "enabled": _both(enabled, disabled, "--enabled and --disabled"),
        "checked": _both(checked, unchecked, "--checked and --unchecked"),
    }
    if attr is not None:
        name, eq, want = attr.partition("=")
        if not name:
            raise UsageError(f"--attr takes NAME=VALUE (or NAME alone), not {attr!r}")
        expected["attr"] = (name, want if eq else None)
    expected = {k: v for k, v in expected.items() if v is not None}
    page = {k: v for k, v in (("title", title), ("url", url)) if v is not None}
    if selector is None and not page:
        raise UsageError("expect what? a SELECTOR with --text/--count/--visible …, or --title/--url")
    if selector is not None and page:
        raise UsageError("expect either an element (SELECTOR) or --title/--url, not both")
    if selector is not None and not expected:
        raise UsageError(
            f"expect what of {selector}? give --text, --contains, --value, --count, --visible, --hidden, "
            "--enabled, --disabled, --checked, --unchecked or --attr"
        )
    if len(page) > 1:
        raise UsageError("expect --title or --url, one at a time")
    from .waiting import expectations, page_expectation

    # refused before anything is sent: the same checks the client makes
    said = (
        [e.describe for e in expectations(**expected)]
        if selector is not None
        else [page_expectation(*next(iter(page.items()))).describe]
    )
    _checked(selector, xpath=xpath)
    subject = selector or ("the title" if title is not None else "the URL")
    what = f"{subject} {' and '.join(said)}"
    with session(target) as ff, ff.frame(*_frames(frame)), target.progress(f"expecting {what}"):
        if selector is not None:
            seen = ff.expect(selector, by=_by(xpath), timeout=target.timeout, **expected)
        else:
            seen = ff.expect(timeout=target.timeout, **page)
    target.emit({"expected": what, "met": True, "seen": seen}, text=f"ok: {what}")


# ----------------------------------------------------------------------------- artifacts
@cmd("screenshot", timeout=DEADLINE)
def screenshot(
    target: Target,
    file: Path,
    full: Annotated[bool, typer.Option("--full", help="The whole document, not just the viewport.")] = False,
    element: Annotated[
        str | None, typer.Option("--element", help="Only the element matching this CSS selector.")
    ] = None,
    force: ForceOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Save a PNG of the viewport (default), the whole page (--full) or one element, once it is
    visible and stable (--frame: of a frame)."""
    if full and element:
        raise UsageError("--full and --element exclude each other")
    if frame and not element:
        raise UsageError("--frame needs --element (the viewport and the page are the top-level document's)")
    if force and not element:
        raise UsageError("--force is for --element (the viewport and the page need no waiting)")
    _checked(element)
    with session(target) as ff, ff.frame(*_frames(frame)):
        data = ff.screenshot(file, full=full, element=element, force=force)
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


# ----------------------------------------------------------------------------- keys and mouse
@cmd("press", timeout=DEADLINE)
def press(
    target: Target,
    keys: Annotated[
        list[str] | None,
        typer.Argument(
            help="Keys pressed in turn: a name (Enter, Tab, Escape, ArrowDown, F5 …), one "
            "character, or a chord (Control+a, Shift+Tab)."
        ),
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Type this text first.")] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Focus the element matching this CSS selector first (once it is visible and enabled).",
        ),
    ] = None,
    force: ForceOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Press keys (and --text) on whatever has the focus, or on the --on element; an unknown key
    name exits 2 before sending."""
    from .actions import parse_keys

    chords = list(keys or ())
    parse_keys(chords)  # every key checked before anything is sent
    if not chords and not text:
        raise UsageError("press what? give KEYS, --text, or both")
    if force and on is None:
        raise UsageError("--force is for --on (pressing on the focus waits for nothing)")
    _checked(on)
    with session(target) as ff, ff.frame(*_frames(frame)):
        if on is not None:
            ff.press(on=on, force=force)  # waits for it and focuses it
        chain = ff.actions()
        if text:
            chain.type(text)
        chain.press(*chords).perform()
        said = " ".join(([repr(text)] if text else []) + chords)
        _acted(target, ff, {"pressed": chords, "text": text}, f"pressed {said}")


@cmd("hover", timeout=DEADLINE)
def hover(
    target: Target, selector: str, xpath: XPathOpt = False, force: ForceOpt = False, frame: FrameOpt = None
) -> None:
    """Rest the mouse over the element matching SELECTOR (a hover menu opens), once it is visible,
    stable and not covered; scrolled into view first."""
    _checked(selector, xpath=xpath)
    with session(target) as ff, ff.frame(*_frames(frame)):
        ff.hover(selector, _by(xpath), force=force)
        _acted(target, ff, {"hovering": selector}, f"hovering over {selector}")


@cmd("drag", timeout=DEADLINE)
def drag(
    target: Target,
    source: str,
    onto: Annotated[str, typer.Argument(metavar="TARGET")],
    force: ForceOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Drag the element matching SOURCE onto the one matching TARGET (CSS selectors), once both
    are visible, stable and not covered."""
    _checked(source, onto)
    with session(target) as ff, ff.frame(*_frames(frame)):
        ff.drag(source, onto, force=force)
        _acted(target, ff, {"dragged": source, "onto": onto}, f"dragged {source} onto {onto}")


def _pair(text: str | None, what: str, sep: str = ",", example: str = "0,500") -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().split(sep)
    try:
        a, b = (int(p) for p in parts)
    except ValueError:
        raise UsageError(f"{what} must be two integers like {example}, not {text!r}") from None
    return a, b


@cmd("scroll", timeout=DEADLINE)
def scroll(
    target: Target,
    selector: Annotated[
        str | None, typer.Argument(help="Scroll until this element is in the middle of the viewport.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Scroll by DX,DY CSS pixels (after reaching SELECTOR, if given)."),
    ] = None,
    force: ForceOpt = False,
    frame: FrameOpt = None,
) -> None:
    """Turn the mouse wheel: to an element (once it is visible and stable), by an amount, or both;
    print the page's scroll position."""
    dx, dy = _pair(by, "--by") or (0, 0)
    if selector is None and by is None:
        raise UsageError("scroll where? give a SELECTOR, --by DX,DY, or both")
    _checked(selector)
    with session(target) as ff, ff.frame(*_frames(frame)):
        ff.scroll(selector, dx, dy, force=force)
        _acted(
            target,
            ff,
            {},
            lambda d: f"scrolled to {d.get('x', '?')},{d.get('y', '?')}",
            read=lambda: dict(zip(("x", "y"), ff.execute("return [scrollX, scrollY]"), strict=True)),
        )


# ----------------------------------------------------------------------------- dialogs
ALERT_ACTIONS = ("text", "accept", "dismiss", "send")


@cmd("alert", timeout=DEADLINE)
def alert(
    target: Target,
    action: Annotated[
        str, typer.Argument(help="text (print it; the default), accept, dismiss, or send TEXT (a prompt).")
    ] = "text",
    text: Annotated[str | None, typer.Argument(help="With send: the answer typed into the prompt.")] = None,
) -> None:
    """Read or answer the open dialog (alert, confirm, prompt); exit 1 if none is open."""
    if action not in ALERT_ACTIONS:
        raise UsageError(f"unknown action {action!r}: one of {', '.join(ALERT_ACTIONS)}")
    if (action == "send") != (text is not None):
        raise UsageError("send takes the TEXT to type; the other actions take none")
    with session(target) as ff:
        dialog = ff.alert
        data: dict[str, Any] = {"type": dialog.type, "text": dialog.text}
        if action == "text":
            target.emit(data, text=dialog.text)
            return
        if action == "send":
            assert text is not None
            dialog.send(text)
            dialog.accept()
            data["sent"] = text
        else:
            getattr(dialog, action)()
        done = {"accept": "accepted", "dismiss": "dismissed", "send": "answered"}[action]
        _acted(target, ff, {**data, "action": done}, f"{done} the {dialog.type} dialog: {dialog.text}")


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
    """Delete a cookie (or all of the page's cookies); exit 1 when the page has no cookie NAME."""
    from .marionette import NoSuchCookie

    with session(target) as ff:
        deleted = ff.delete_cookie(name)
    if name is not None and not deleted:
        raise NoSuchCookie(
            f"no cookie named {name!r} on this page: nothing deleted",
            code="no such cookie",
            hint="`tether firefox cookies list` shows the page's cookies",
        )
    if name is not None:
        target.emit({"deleted": name, "count": 1}, text=f"deleted cookie {name}")
    else:
        said = f"deleted {deleted} cookie{'s' if deleted != 1 else ''}" if deleted else "no cookies to delete"
        target.emit({"deleted": "all", "count": deleted}, text=said)


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
        _acted(target, ff, {"index": index}, str(index))


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


# ----------------------------------------------------------------------------- the window
@cmd("window", timeout=DEADLINE)
def window(
    target: Target,
    size: Annotated[str | None, typer.Option("--size", help="Resize to WIDTHxHEIGHT (1024x700).")] = None,
    position: Annotated[str | None, typer.Option("--position", help="Move to X,Y (screen pixels).")] = None,
    maximize: Annotated[bool, typer.Option("--maximize", help="Maximize the window.")] = False,
    minimize: Annotated[bool, typer.Option("--minimize", help="Minimize the window.")] = False,
    fullscreen: Annotated[bool, typer.Option("--fullscreen", help="Make the window full-screen.")] = False,
) -> None:
    """Print the current window's position and size; resize, move, maximize, minimize or fullscreen it."""
    states = [
        n for n, on in (("maximize", maximize), ("minimize", minimize), ("fullscreen", fullscreen)) if on
    ]
    if len(states) > 1:
        raise UsageError(f"--{' and --'.join(states)} exclude each other")
    if states and (size or position):
        raise UsageError(f"--{states[0]} excludes --size and --position")
    wh = _pair(size, "--size", sep="x", example="1024x700")
    if wh is not None and (wh[0] <= 0 or wh[1] <= 0):
        raise UsageError(f"--size must be positive, not {size}")
    xy = _pair(position, "--position", example="100,50")
    with session(target) as ff:
        if states:
            rect = getattr(ff, states[0])()
        elif wh or xy:
            x, y = xy or (None, None)
            width, height = wh or (None, None)
            rect = ff.set_window_rect(x=x, y=y, width=width, height=height)
        else:
            rect = ff.window_rect()
    target.emit(rect, text=f"{rect['width']}x{rect['height']} at {rect['x']},{rect['y']}")


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


# ----------------------------------------------------------------------------- downloads
@cmd("downloads", timeout=30.0, shared=("port", "timeout", "json", "verbose"), settings=False)
def downloads(
    target: Target,
    wait_: Annotated[
        bool,
        typer.Option(
            "--wait", help="Wait (up to --timeout) until a file is there and every file is complete."
        ),
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="The download directory (default: the one `launch --download-dir` set)."),
    ] = None,
) -> None:
    """The files in the download directory, and whether each is complete."""
    import time

    from tether.errors import NotFound, Timeout

    from .launch import find_record, list_downloads

    folder = directory
    if folder is None:
        rec = find_record(port=target.port)
        if rec is None or not rec.download_dir:
            raise NotFound(
                "no download directory: tether launched no Firefox with --download-dir"
                + (f" on port {target.port}" if target.port else ""),
                hint="launch with --download-dir DIR, or name it with --dir",
            )
        folder = Path(rec.download_dir)
    timeout = target.timeout or 30.0
    end = time.monotonic() + timeout
    files = list_downloads(folder)
    if wait_:
        with target.progress(f"waiting for downloads in {folder}") as bar:
            while not (files and all(f["complete"] for f in files)):
                if time.monotonic() > end:
                    raise Timeout(f"downloads in {folder} not complete within {timeout:g} s")
                time.sleep(0.1)
                files = list_downloads(folder)
                done = sum(f["complete"] for f in files)
                size = sum(f["bytes"] or 0 for f in files)
                bar.update(description=f"downloads in {folder}: {done}/{len(files)} complete, {size} bytes")
    target.emit(files, columns=["name", "bytes", "complete"], empty=f"no downloads in {folder}")


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
    from .bidi import BiDi
    from .launch import find_bidi_port

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
