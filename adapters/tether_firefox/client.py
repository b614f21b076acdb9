"""``Firefox``: a Marionette session as a context manager, with the commands people use.

>>> from tether_firefox import Firefox
>>> with Firefox.attach() as ff:                     # finds the running Firefox   # doctest: +SKIP
...     ff.navigate("http://127.0.0.1:8000/")
...     print(ff.title, ff.find("h1").text)
...     ff.screenshot("page.png")

The session is deleted when the block ends (and the connection closed), so Firefox is free
for the next client; the page, its windows and cookies stay. Firefox serves one session at a
time: while another client holds it, :class:`~tether.errors.Busy` is raised.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.deadline import Deadline
from tether.discovery import listener_pid
from tether.endpoint import Endpoint
from tether.errors import Busy, NotFound, ProtocolError, TetherError, UsageError

from .marionette import (
    ELEMENT_KEY,
    Marionette,
    MarionetteError,
    NoSuchElement,
    PageLoadTimeout,
    SessionNotCreated,
    UnsupportedOperation,
    busy_error,
    likely_holder,
)

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

CSS, XPATH, LINK_TEXT, PARTIAL_LINK_TEXT, TAG_NAME, ID, NAME = (
    "css selector",
    "xpath",
    "link text",
    "partial link text",
    "tag name",
    "id",
    "name",
)
MARGIN = 5.0  # seconds the client waits beyond Firefox's own page-load/script timeouts
#: commands that may wait for a page load (Firefox's pageLoad timeout bounds them)
NAVIGATING = frozenset(
    {
        "WebDriver:Navigate",
        "WebDriver:Back",
        "WebDriver:Forward",
        "WebDriver:Refresh",
        "WebDriver:ElementClick",
    }
)
SCRIPTS = frozenset({"WebDriver:ExecuteScript", "WebDriver:ExecuteAsyncScript"})
FINDING = frozenset(
    {
        "WebDriver:FindElement",
        "WebDriver:FindElements",
        "WebDriver:FindElementFromElement",
        "WebDriver:FindElementsFromElement",
    }
)


@dataclass
class Element:
    """A reference to an element of the current page (valid within the session that found it)."""

    ff: Firefox
    id: str

    def to_dict(self) -> dict[str, str]:
        """The element as WebDriver sends it (a reference, for script arguments)."""
        return {ELEMENT_KEY: self.id}

    def _req(self, command: str, **params: Any) -> Any:
        return self.ff.request(command, {"id": self.id, **params})

    @property
    def text(self) -> str:
        """The element's rendered text."""
        return self._req("WebDriver:GetElementText")

    @property
    def tag(self) -> str:
        """The element's tag name (``h1``, ``input`` …)."""
        return self._req("WebDriver:GetElementTagName")

    @property
    def rect(self) -> dict[str, float]:
        """The element's position and size (``x``, ``y``, ``width``, ``height``) in CSS pixels."""
        return self._req("WebDriver:GetElementRect")

    def attr(self, name: str) -> str | None:
        """The element's attribute ``name`` (``None`` when absent)."""
        return self._req("WebDriver:GetElementAttribute", name=name)

    def prop(self, name: str) -> Any:
        """The element's DOM property ``name`` (``value`` of an input, ``checked`` …)."""
        return self._req("WebDriver:GetElementProperty", name=name)

    def click(self) -> None:
        """Click the element (scrolled into view first, as a user would)."""
        self._req("WebDriver:ElementClick")

    def type(self, text: str) -> None:
        """Type ``text`` into the element (appending to what it holds)."""
        self._req("WebDriver:ElementSendKeys", text=text)

    def clear(self) -> None:
        """Empty an input or textarea."""
        self._req("WebDriver:ElementClear")

    def find(self, selector: str, by: str = CSS) -> Element:
        """The first element below this one matching ``selector``."""
        return self.ff._element(
            self.ff.request(
                "WebDriver:FindElementFromElement", {"id": self.id, "using": by, "value": selector}
            )
        )

    def screenshot(self) -> bytes:
        """A PNG of just this element."""
        return self.ff.screenshot(element=self)


def _to_wire(value: Any) -> Any:
    if isinstance(value, Element):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


class Firefox:
    """A Marionette session on one Firefox. Use it as a context manager (or call :meth:`close`).

    ``timeout`` bounds every command that is not a page load, script or element search; those
    wait for the session's own timeouts (``page_load_timeout``, ``script_timeout``,
    ``implicit_wait``, seconds) plus a margin. ``chrome=True`` switches to the chrome context
    (Firefox must run with ``-remote-allow-system-access``).
    ``budget``: one deadline (seconds, or a :class:`~tether.deadline.Deadline` already running) for
    everything this client does — opening the session,
    every command, closing — as a CLI command's ``--timeout`` asks; each call then waits at
    most what is left of it, and a call that timed out is not followed by a wait to close.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2828,
        *,
        timeout: float = 30.0,
        page_load_timeout: float | None = None,
        script_timeout: float | None = None,
        implicit_wait: float | None = None,
        capabilities: dict[str, Any] | None = None,
        chrome: bool = False,
        connect_timeout: float = 5.0,
        busy_wait: float = 3.0,
        endpoint: Endpoint | None = None,
        budget: float | Deadline | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.timeout = timeout
        self._budget = Deadline(budget) if isinstance(budget, (int, float)) else budget
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.busy_wait = busy_wait
        self.chrome = chrome
        self._caps_request: dict[str, Any] = dict(capabilities or {})
        wanted = {"pageLoad": page_load_timeout, "script": script_timeout, "implicit": implicit_wait}
        timeouts = {k: int(v * 1000) for k, v in wanted.items() if v is not None}
        if timeouts:
            self._caps_request["timeouts"] = {**self._caps_request.get("timeouts", {}), **timeouts}
        self._m: Marionette | None = None
        self.session_id: str | None = None
        self.capabilities: dict[str, Any] = {}
        # Firefox's defaults, replaced by what NewSession reports.
        self._timeouts = {"pageLoad": 300_000, "script": 30_000, "implicit": 0}

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_endpoint(cls, endpoint: Endpoint, **options: Any) -> Firefox:
        """The client for a verified endpoint (what ``tether.connect("firefox")`` returns)."""
        return cls(endpoint.host, endpoint.port, endpoint=endpoint, **options)

    @classmethod
    def attach(
        cls, host: str | None = None, port: int | None = None, *, timeout: float = 30.0, **options: Any
    ) -> Firefox:
        """Find the running Firefox (or verify ``host``/``port``) and return a client for it:
        ``tether.connect("firefox", …)`` with this client's defaults (see :func:`attach_located`
        for the short retry while the session slot frees up)."""
        import tether

        return tether.connect(
            "firefox", host, port, probe_timeout=min(timeout, 5.0), timeout=timeout, **options
        )

    # -- session ---------------------------------------------------------------------------
    def open(self) -> Firefox:
        """Connect and open the session (done for you by ``with`` and by the first command)."""
        if self._m is not None:
            return self
        left = self._budget.remaining() if self._budget else None
        connect = self.connect_timeout if left is None else max(min(self.connect_timeout, left), 0.01)
        m = Marionette.open(
            self.host,
            self.port,
            timeout=self.timeout,
            connect_timeout=connect,
            busy_wait=self.busy_wait if left is None else min(self.busy_wait, left),
        )
        try:
            # NewSession waits for Firefox's startup and first window: give it the full deadline
            # (what is left of the budget, when there is one).
            wait = self._wait(max(self.timeout, 30.0))
            reply = m.call("WebDriver:NewSession", self._caps_request, deadline=wait)
        except SessionNotCreated as exc:
            m.close()
            if "maximum" in (exc.app_message or "").lower():
                raise busy_error(
                    self.host, self.port, likely_holder(self.port, listener_pid(self.port))
                ) from exc
            raise
        except BaseException:
            m.close()
            raise
        if not isinstance(reply, dict) or not isinstance(reply.get("capabilities", {}), dict):
            m.close()
            raise ProtocolError(
                "Firefox answered WebDriver:NewSession without a session object"
                " (expected sessionId and capabilities)"
            )
        self._m = m
        self.session_id = reply.get("sessionId")
        self.capabilities = reply.get("capabilities") or {}
        self._timeouts.update(self.capabilities.get("timeouts") or {})
        if self.chrome:
            try:
                self.set_context("chrome")
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Delete the session (Firefox keeps running) and close the connection."""
        m, self._m = self._m, None
        if m is None:
            return
        try:
            # closing the socket ends the session too: after a call that timed out (Firefox
            # frozen, or busy) or past the budget, do not wait for DeleteSession as well
            left = self._budget.remaining() if self._budget else 10.0
            if not m.closed and not m.timed_out and left > 0.05:
                with contextlib.suppress(TetherError):
                    m.call("WebDriver:DeleteSession", timeout=min(self.timeout, 10.0, left))
        finally:
            m.close()
            self.session_id = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """Firefox's process id, as the session reports it."""
        return self.capabilities.get("moz:processID") or (self.endpoint.pid if self.endpoint else None)

    # -- raw commands ----------------------------------------------------------------------
    def _wait(self, seconds: float) -> Deadline:
        """The deadline of one call: ``seconds``, cut to what is left of the budget (whose
        length the timeout message then states)."""
        deadline = Deadline(seconds)
        if self._budget is not None and self._budget.at < deadline.at:
            deadline.at, deadline.seconds = self._budget.at, self._budget.seconds
        return deadline

    def _deadline_for(self, name: str) -> float:
        if name in NAVIGATING:
            return max(self.timeout, self._timeouts.get("pageLoad", 0) / 1000 + MARGIN)
        if name in SCRIPTS:
            return max(self.timeout, self._timeouts.get("script", 0) / 1000 + MARGIN)
        if name in FINDING:
            return max(self.timeout, self._timeouts.get("implicit", 0) / 1000 + MARGIN)
        return self.timeout

    def call(self, name: str, params: dict | None = None, *, timeout: float | None = None) -> Any:
        """Any Marionette command, by name; returns Firefox's raw result (the escape hatch)."""
        m = self._m or self.open()._m
        assert m is not None
        wait = self._wait(timeout or self._deadline_for(name))
        return m.call(name, _to_wire(params) if params else None, deadline=wait)

    def request(self, name: str, params: dict | None = None, *, timeout: float | None = None) -> Any:
        """Like :meth:`call`, but unwraps ``{"value": …}``."""
        m = self._m or self.open()._m
        assert m is not None
        wait = self._wait(timeout or self._deadline_for(name))
        return m.request(name, _to_wire(params) if params else None, deadline=wait)

    # -- navigation ------------------------------------------------------------------------
    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for it (per the session's page-load strategy)."""
        self.request("WebDriver:Navigate", {"url": url})

    def back(self) -> None:
        """Go back one page in the window's history."""
        self.request("WebDriver:Back")

    def forward(self) -> None:
        """Go forward one page in the window's history."""
        self.request("WebDriver:Forward")

    def refresh(self) -> None:
        """Reload the current page."""
        self.request("WebDriver:Refresh")

    @property
    def title(self) -> str:
        """The current page's title."""
        return self.request("WebDriver:GetTitle")

    @property
    def url(self) -> str:
        """The current page's URL."""
        return self.request("WebDriver:GetCurrentURL")

    @property
    def source(self) -> str:
        """The current page's HTML source (as the DOM serialises it)."""
        return self.request("WebDriver:GetPageSource")

    # -- elements --------------------------------------------------------------------------
    def _element(self, value: Any) -> Element:
        if isinstance(value, dict) and ELEMENT_KEY in value:
            return Element(self, value[ELEMENT_KEY])
        raise MarionetteError(f"expected an element reference, got {value!r}")

    def find(self, selector: str, by: str = CSS) -> Element:
        """The first element matching ``selector`` (CSS by default; ``by=XPATH`` …).

        Raises :class:`~tether_firefox.marionette.NoSuchElement` (exit 1) when none matches.
        """
        return self._element(self.request("WebDriver:FindElement", {"using": by, "value": selector}))

    def find_all(self, selector: str, by: str = CSS) -> list[Element]:
        """Every element matching ``selector`` (possibly none)."""
        return [
            self._element(v) for v in self.request("WebDriver:FindElements", {"using": by, "value": selector})
        ]

    def click(self, selector: str, by: str = CSS) -> None:
        """Click the element matching ``selector``."""
        self.find(selector, by).click()

    def type(self, selector: str, text: str, by: str = CSS, *, clear: bool = False) -> None:
        """Type ``text`` into the element matching ``selector`` (after clearing it, with ``clear``)."""
        el = self.find(selector, by)
        if clear:
            el.clear()
        el.type(text)

    # -- scripts ---------------------------------------------------------------------------
    def execute(
        self, script: str, args: Sequence[Any] = (), *, async_: bool = False, sandbox: str | None = None
    ) -> Any:
        """Run ``script`` as a function body in the page and return what it returns.

        ``args`` are available as ``arguments[0…]``; with ``async_`` the script must call
        ``arguments[arguments.length - 1](result)``. Elements come back as :class:`Element`.

        >>> ff.execute("return arguments[0] + 1", [41])    # doctest: +SKIP
        42
        """
        params: dict[str, Any] = {"script": script, "args": list(args)}
        if sandbox is not None:
            params["sandbox"] = sandbox
        name = "WebDriver:ExecuteAsyncScript" if async_ else "WebDriver:ExecuteScript"
        return self._from_wire(self.request(name, params))

    def _from_wire(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {ELEMENT_KEY}:
                return Element(self, value[ELEMENT_KEY])
            return {k: self._from_wire(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._from_wire(v) for v in value]
        return value

    # -- waits -----------------------------------------------------------------------------
    def wait_until(
        self,
        condition: Callable[[], Any],
        *,
        timeout: float = 10.0,
        interval: float = 0.1,
        what: str = "the condition",
    ) -> Any:
        """Poll ``condition()`` until it returns something truthy; raise a timeout (exit 4) otherwise."""
        end = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() + interval > end:
                raise PageLoadTimeout(f"waited {timeout:g} s for {what}", code="timeout")
            time.sleep(interval)

    def wait_for(
        self,
        selector: str | None = None,
        *,
        by: str = CSS,
        title: str | None = None,
        url: str | None = None,
        timeout: float = 10.0,
        interval: float = 0.1,
    ) -> Any:
        """Wait for an element (returned), a title or a URL (substring match), within ``timeout`` s."""
        if sum(x is not None for x in (selector, title, url)) != 1:
            raise UsageError("wait for exactly one of: a selector, a title, a URL")
        if selector is not None:

            def present() -> Element | None:
                found = self.find_all(selector, by)
                return found[0] if found else None

            return self.wait_until(
                present, timeout=timeout, interval=interval, what=f"an element matching {selector!r}"
            )
        if title is not None:
            return self.wait_until(
                lambda: title in self.title and self.title,
                timeout=timeout,
                interval=interval,
                what=f"a title containing {title!r}",
            )
        assert url is not None
        return self.wait_until(
            lambda: url in self.url and self.url,
            timeout=timeout,
            interval=interval,
            what=f"a URL containing {url!r}",
        )

    # -- artifacts -------------------------------------------------------------------------
    def screenshot(
        self, path: str | Path | None = None, *, full: bool = False, element: Element | str | None = None
    ) -> bytes:
        """A PNG of the viewport (default), the whole document (``full``) or one element.

        Written to ``path`` when given; the PNG bytes are returned either way.
        """
        params: dict[str, Any] = {"full": bool(full), "hash": False}
        if element is not None:
            el = self.find(element) if isinstance(element, str) else element
            params = {"id": el.id, "full": False, "hash": False}
        data = base64.b64decode(self.request("WebDriver:TakeScreenshot", params))
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def pdf(self, path: str | Path | None = None, **options: Any) -> bytes:
        """The page printed to PDF (``WebDriver:Print``; options such as ``orientation``,
        ``scale``, ``background``, ``page``, ``margin``, ``pageRanges``)."""
        data = base64.b64decode(self.request("WebDriver:Print", options))
        if path is not None:
            Path(path).write_bytes(data)
        return data

    # -- cookies ---------------------------------------------------------------------------
    def cookies(self) -> list[dict[str, Any]]:
        """The cookies visible to the current page."""
        return self.request("WebDriver:GetCookies")

    def add_cookie(self, name: str, value: str, **fields: Any) -> None:
        """Set a cookie for the current page (``path``, ``domain``, ``secure``, ``httpOnly``, ``expiry``…)."""
        self.request("WebDriver:AddCookie", {"cookie": {"name": name, "value": value, **fields}})

    def delete_cookie(self, name: str | None = None) -> None:
        """Delete the cookie ``name``, or every cookie of the page when ``name`` is None."""
        if name is None:
            self.request("WebDriver:DeleteAllCookies")
        else:
            self.request("WebDriver:DeleteCookie", {"name": name})

    # -- windows ---------------------------------------------------------------------------
    @property
    def window(self) -> str:
        """The handle of the current window (tab)."""
        return self.request("WebDriver:GetWindowHandle")

    def windows(self) -> list[str]:
        """Handles of every open window (tab)."""
        return self.request("WebDriver:GetWindowHandles")

    def new_window(self, kind: str = "tab", *, switch: bool = True) -> str:
        """Open a new tab (or ``kind="window"``); switch to it unless ``switch=False``. Returns its handle."""
        handle = self.request("WebDriver:NewWindow", {"type": kind, "focus": switch})["handle"]
        if switch:
            self.switch_to_window(handle)
        return handle

    def switch_to_window(self, handle: str, *, focus: bool = True) -> None:
        """Make window ``handle`` the current one (and, with ``focus``, the selected tab)."""
        self.request("WebDriver:SwitchToWindow", {"handle": handle, "focus": focus})

    def close_window(self) -> list[str]:
        """Close the current window; returns the handles still open."""
        return self.request("WebDriver:CloseWindow")

    # -- session settings ------------------------------------------------------------------
    def timeouts(self) -> dict[str, int]:
        """The session's timeouts in milliseconds (``implicit``, ``pageLoad``, ``script``)."""
        return self.request("WebDriver:GetTimeouts")

    def set_timeouts(
        self, *, page_load: float | None = None, script: float | None = None, implicit: float | None = None
    ) -> dict[str, int]:
        """Change the session's timeouts (seconds); returns them all, in milliseconds."""
        wanted = {"pageLoad": page_load, "script": script, "implicit": implicit}
        params = {k: int(v * 1000) for k, v in wanted.items() if v is not None}
        if params:
            self.request("WebDriver:SetTimeouts", params)
            self._timeouts.update(params)
        return self.timeouts()

    def set_context(self, context: str) -> None:
        """``content`` (web pages) or ``chrome`` (the browser itself; needs system access)."""
        if context not in ("content", "chrome"):
            raise UsageError(f"unknown context {context!r} (content or chrome)")
        try:
            self.request("Marionette:SetContext", {"value": context})
        except UnsupportedOperation as exc:
            raise UnsupportedOperation(
                f"Firefox refused the {context} context: {exc.app_message}",
                app_message=exc.app_message,
                hint="Firefox must run with -remote-allow-system-access for the chrome context "
                "(`tether firefox launch --system-access`)",
            ) from exc

    def quit(self, *, force: bool = False, timeout: float = 30.0) -> dict[str, Any]:
        """Ask Firefox to quit (``Marionette:Quit``). Only for a Firefox you launched."""
        flags = ["eForceQuit"] if force else ["eAttemptQuit"]
        try:
            result = self.call("Marionette:Quit", {"flags": flags}, timeout=timeout)
        finally:
            m, self._m = self._m, None
            if m is not None:
                m.close()
        return result

    def iter_windows(self) -> Iterator[tuple[str, str, str]]:
        """(handle, title, url) of every window; leaves the current window selected."""
        current = self.window
        try:
            for handle in self.windows():
                self.switch_to_window(handle, focus=False)
                yield handle, self.title, self.url
        finally:
            self.switch_to_window(current, focus=False)


def attach_located(locate: Callable[[], Endpoint], *, busy_wait: float = 3.0, **options: Any) -> Firefox:
    """The client for the Firefox ``locate()`` verifies (``FirefoxAdapter.attach``).

    Right after a session ends Firefox may refuse a new connection for a moment, which the
    probe sees as busy: ``locate`` is retried for up to ``busy_wait`` seconds, unless another
    client visibly holds the session, which the :class:`~tether.errors.Busy` error then names.
    ``options`` go to :class:`Firefox` (``timeout`` is the command deadline).
    """
    give_up, pause = time.monotonic() + busy_wait, 0.05
    while True:
        try:
            return Firefox.from_endpoint(locate(), busy_wait=busy_wait, **options)
        except Busy as exc:
            busy_port = exc.detail.get("port")
            holder = likely_holder(busy_port, listener_pid(busy_port)) if busy_port else None
            if holder is not None or time.monotonic() + pause > give_up:
                if busy_port:
                    raise busy_error(exc.detail.get("host") or "127.0.0.1", busy_port, holder) from exc
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.4)


def attach(host: str | None = None, port: int | None = None, **options: Any) -> Firefox:
    """Shorthand for :meth:`Firefox.attach`."""
    return Firefox.attach(host, port, **options)


__all__ = ["CSS", "XPATH", "Element", "Firefox", "NoSuchElement", "NotFound", "attach", "attach_located"]
