"""A trace of what a test did to Firefox: each action (name, selector, arguments, duration,
outcome) with a screenshot after it, the console and the network in between, written as one
self-contained ``trace.html`` (pytest: ``--tether-trace=on-failure|always``).

The :class:`Tracer` records by wrapping the client's public action methods *on the instance*
(``ff.click``, ``ff.navigate`` …, and the same on the elements ``find`` returns), so the client's
own code is not changed and ``isinstance`` still holds. Only the outermost call is a step:
``ff.click("#go")`` is one step, not a find and a click.

The page: the trace's data is embedded as JSON (``<`` ``>`` ``&`` escaped, so no text can close
the script element), and drawn with ``textContent`` only — what the app printed, the test's
selectors, error messages are text, never HTML. Screenshots are ``data:`` URIs. Keys: → or
``j``/``n`` next step, ← or ``k``/``p`` previous, Home/End first and last. The failing step (the
action that raised, else the test's own failure) is marked and selected when the page opens.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the client's methods that are steps (those the client has; added ones are picked up by name)
ACTIONS = (
    "navigate",
    "back",
    "forward",
    "refresh",
    "click",
    "type",
    "clear",
    "expect",
    "fill",
    "check",
    "uncheck",
    "select",
    "press",
    "hover",
    "drag",
    "scroll",
    "upload",
    "execute",
    "find",
    "find_all",
    "wait_for",
    "wait_until",
    "wait_for_network_idle",
    "switch_to_frame",
    "switch_to_window",
    "new_window",
    "close_window",
    "set_window_rect",
    "add_cookie",
    "delete_cookie",
    "route",
    "block",
    "unroute",
)
#: an element's methods that are steps
ELEMENT_ACTIONS = ("click", "type", "clear", "fill", "check", "uncheck", "select", "hover", "upload")
#: what returns elements, whose own actions are then recorded
FINDERS = ("find", "find_all", "wait_for")
MAX_STEPS = 500  # steps kept; later ones are counted, not kept
MAX_SHOTS = 200  # steps with a screenshot
MAX_TEXT = 2000


def _short(value: Any, cap: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= cap else text[: cap - 1] + "…"


@dataclass
class Step:
    """One action: what was called, on what, how long it took, and how it ended."""

    index: int
    name: str
    selector: str | None
    args: list[str]
    start: float  # epoch ms
    duration: float = 0.0  # ms
    outcome: str = "ok"  # ok | error | failure (the test's own, after the last action)
    error: str | None = None
    url: str | None = None
    screenshot: bytes | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "selector": self.selector,
            "args": self.args,
            "start": self.start,
            "duration": round(self.duration, 1),
            "outcome": self.outcome,
            "error": self.error,
            "url": self.url,
            "note": self.note,
            "screenshot": (
                "data:image/png;base64," + base64.b64encode(self.screenshot).decode("ascii")
                if self.screenshot
                else None
            ),
        }


@dataclass
class Tracer:
    """Records the actions done through ``ff`` between :meth:`attach` and :meth:`detach`.

    >>> tracer = Tracer(ff).attach()                     # doctest: +SKIP
    >>> ff.navigate(url); ff.click("#go")                # doctest: +SKIP
    >>> tracer.write("trace.html", title="test_go")      # doctest: +SKIP
    """

    ff: Any
    screenshots: bool = True
    steps: list[Step] = field(default_factory=list)
    dropped: int = 0
    network: Any = None  # a tether_firefox.network.Network, when the session has one
    _requests: list[Any] = field(default_factory=list)
    _patched: list[tuple[Any, str]] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)
    _stop_listening: Callable[[], None] | None = None

    # -- recording --------------------------------------------------------------------------
    def attach(self) -> Tracer:
        """Start recording: wrap the client's action methods (and listen to its network)."""
        for name in ACTIONS:
            if callable(getattr(self.ff, name, None)):
                self._wrap(self.ff, name, None)
        if self.network is not None:
            self._stop_listening = self.network.listen(self._take_request)
        return self

    def detach(self) -> None:
        """Stop recording: the client's own methods again."""
        for obj, name in self._patched:
            try:
                delattr(obj, name)
            except AttributeError:
                pass
        self._patched.clear()
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _take_request(self, kind: str, req: Any) -> None:
        if kind == "request" and all(r is not req for r in self._requests[-50:]):
            self._requests.append(req)

    @property
    def _depth(self) -> int:
        return getattr(self._local, "depth", 0)

    def _wrap(self, obj: Any, name: str, on: str | None) -> None:
        original = getattr(obj, name)

        @functools.wraps(original)
        def step(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # a failing test's report shows its own line, not this wrapper
            if self._depth:  # inside a recorded action: its inner calls are not steps
                return original(*args, **kwargs)
            self._local.depth = 1
            started, t0 = time.time() * 1000, time.perf_counter()
            outcome, error = "ok", None
            try:
                result = original(*args, **kwargs)
                if name in FINDERS:
                    self._wrap_elements(result, args[0] if args and isinstance(args[0], str) else None)
                return result
            except BaseException as exc:
                outcome, error = "error", f"{type(exc).__name__}: {exc}"[:MAX_TEXT]
                raise
            finally:
                duration = (time.perf_counter() - t0) * 1000
                try:
                    self._record(name, on, args, kwargs, started, duration, outcome, error)
                finally:
                    self._local.depth = 0

        setattr(obj, name, step)
        self._patched.append((obj, name))

    def _wrap_elements(self, found: Any, selector: str | None) -> None:
        from .client import Element

        for el in found if isinstance(found, list) else [found]:
            if isinstance(el, Element) and "click" not in vars(el):
                for name in ELEMENT_ACTIONS:
                    if callable(getattr(el, name, None)):
                        self._wrap(el, name, selector or f"element {el.id[:8]}")

    def _record(
        self,
        name: str,
        on: str | None,
        args: tuple,
        kwargs: dict,
        started: float,
        duration: float,
        outcome: str,
        error: str | None,
    ) -> None:
        if len(self.steps) >= MAX_STEPS:
            self.dropped += 1
            return
        selector = on
        rest = list(args)
        if on is None and rest and isinstance(rest[0], str) and name not in ("navigate", "execute", "press"):
            selector = rest.pop(0)  # click("#go"), type("#name", "x"), find("h1") …
        shown = [_short(a) for a in rest] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        label = f"{name}" if on is None else f"element.{name}"
        step = Step(len(self.steps), label, selector, shown, started, duration, outcome, error)
        self._after(step)
        self.steps.append(step)

    def _after(self, step: Step) -> None:
        """The page's URL and a screenshot, right after the step (nothing when a dialog is open or
        the window is gone: the step keeps a note why)."""
        from tether.errors import TetherError

        try:
            step.url = _short(self.ff.request("WebDriver:GetCurrentURL", timeout=5.0), 500)
        except TetherError as exc:
            step.note = f"no URL: {_short(str(exc), 200)}"
            return
        if not self.screenshots or sum(1 for s in self.steps if s.screenshot) >= MAX_SHOTS:
            return
        try:
            step.screenshot = bytes(self.ff.screenshot())
        except TetherError as exc:
            step.note = f"no screenshot: {_short(str(exc), 200)}"

    def fail(self, message: str) -> Step:
        """Mark the test's failure: the action that raised when the last step did, else a final
        step (with a screenshot of how the page was left) carrying ``message``."""
        message = message[-MAX_TEXT * 2 :]
        last = self.steps[-1] if self.steps else None
        if last is not None and last.outcome == "error":
            last.note = message
            return last
        step = Step(len(self.steps), "test failed", None, [], time.time() * 1000, 0.0, "failure", message)
        self._after(step)
        self.steps.append(step)
        return step

    # -- the page ---------------------------------------------------------------------------
    def data(
        self, *, title: str, outcome: str, console: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data."""
        requests = [
            {**r.to_dict(), "url": _short(r.url, 500), "failure": r.failure and _short(r.failure, 300)}
            for r in self._requests[-2000:]
        ]
        logs = [
            {
                "timestamp": e.get("timestamp") or 0,
                "level": _short(str(e.get("level") or ""), 20),
                "text": _short(str(e.get("text") or ""), 1000),
                "url": _short(str(e.get("url") or ""), 300),
            }
            for e in (console or [])[-2000:]
        ]
        return {
            "title": _short(title, 500),
            "outcome": outcome,
            "steps": [s.to_dict() for s in self.steps],
            "dropped": self.dropped,
            "network": requests if self.network is not None else None,
            "console": logs if console is not None else None,
        }

    def write(
        self, path: str | Path, *, title: str, outcome: str, console: list[dict[str, Any]] | None = None
    ) -> Path:
        """Write ``trace.html`` to ``path``."""
        path = Path(path)
        path.write_text(page(self.data(title=title, outcome=outcome, console=console)), encoding="utf-8")
        return path


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>``, ``<!--`` or ``&`` can end it."""
    text = json.dumps(data, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page(data: dict[str, Any]) -> str:
    """The self-contained trace page for :meth:`Tracer.data`."""
    return TEMPLATE_FILE.read_text(encoding="utf-8").replace("/*DATA*/null", embed_json(data), 1)


#: the page, with ``/*DATA*/null`` where the trace's JSON goes (a file beside this module)
TEMPLATE_FILE = Path(__file__).with_name("trace_page.html")


class Recording:
    """What the pytest plugin records for one ``firefox`` test: a HAR (``--tether-har``) and a
    trace (``--tether-trace``), over the test's session; :meth:`save` writes them."""

    def __init__(self, ff: Any, *, har: bool = False, trace: str = "off") -> None:
        from tether.errors import TetherError

        self.ff, self.trace_mode, self.wants_har = ff, trace, har
        self.har = None
        self.tracer: Tracer | None = None
        self.network = None
        self.problem: str | None = None  # why the network is not recorded
        try:
            self.network = ff.network
            if trace != "off":
                self.network.collect_console()
        except TetherError as exc:
            self.problem = str(exc).splitlines()[0]
        if har and self.network is not None:
            from .har import HarRecorder

            version = str(ff.capabilities.get("browserVersion") or "")
            self.har = HarRecorder(self.network, bodies=True, browser_version=version)
        if trace != "off":
            self.tracer = Tracer(ff, network=self.network).attach()

    def stop(self) -> None:
        if self.tracer is not None:
            self.tracer.detach()
        if self.har is not None:
            self.har.stop()

    def savers(self, *, title: str, failed: bool, message: str = "") -> list[tuple[str, str, Any]]:
        """What this test calls for, as the pytest plugin's artifact savers ``(what, file name,
        save(path))``: a failed test's HAR (``--tether-har``), its trace on failure or always
        (``--tether-trace``). Tracing stops here, so the plugin's own screenshot after it is not a
        step of the test."""
        out: list[tuple[str, str, Any]] = []
        if self.tracer is not None:
            self.tracer.detach()
            if failed or self.trace_mode == "always":

                def trace(path: Path) -> None:
                    assert self.tracer is not None
                    if failed:
                        self.tracer.fail(message or "the test failed")
                    console = self.network.console_snapshot() if self.network is not None else None
                    outcome = "failed" if failed else "passed"
                    self.tracer.write(path, title=title, outcome=outcome, console=console)

                out.append(("trace", "trace.html", trace))
        if failed and self.wants_har:

            def har(path: Path) -> None:
                if self.har is None:
                    raise RuntimeError(self.problem or "no WebDriver BiDi network in this session")
                self.har.save(path, settle=1.0)

            out.append(("network HAR", "network.har", har))
        return out


__all__ = ["ACTIONS", "ELEMENT_ACTIONS", "Recording", "Step", "Tracer", "embed_json", "page"]
