"""``Firefox``: a Marionette session as a context manager, with the commands people use.

>>> from tether_firefox import Firefox
>>> with Firefox.attach() as ff:                     # finds the running Firefox   # doctest: +SKIP
...     ff.navigate("http://127.0.0.1:8000/")
...     print(ff.title, ff.find("h1").text)
...     ff.screenshot("page.png")

The session is deleted when the block ends (and the connection closed), so Firefox is free
for the next client; the page, its windows and cookies stay. Firefox serves one session at a
time: while another client holds it, :class:`~tether.errors.Busy` is raised.

The actions and ``expect`` set ``__tracebackhide__``: in a pytest failure the test's own line and
tether's message show, not the frames of tether's waiting loop.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether import hostfiles
from tether.adapter import is_loopback
from tether.deadline import Deadline
from tether.discovery import listener_pid
from tether.endpoint import Endpoint
from tether.errors import Busy, NotFound, ProtocolError, TetherError, UsageError
from tether.image import PNG

from .marionette import (
    ELEMENT_KEY,
    SHADOW_KEY,
    ElementClickIntercepted,
    ElementNotInteractable,
    InvalidSelector,
    JavascriptError,
    Marionette,
    MarionetteError,
    NoSuchAlert,
    NoSuchElement,
    PageLoadTimeout,
    SessionNotCreated,
    StaleElementReference,
    UnexpectedAlertOpen,
    UnsupportedOperation,
    busy_error,
    dialog_type,
    likely_holder,
)
from .network import NetworkMethods
from .timeouts import Timeouts
from .waiting import (
    ACTIONABLE,
    CHECKS,
    STATE,
    ActionTimeout,
    ExpectationFailed,
    action_timeout,
    attr_names,
    expectation_failed,
    expectations,
    locator,
    page_expectation,
    seconds,
)

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

    from .actions import Actions
    from .bidi import BiDi, Console

CSS, XPATH, LINK_TEXT, PARTIAL_LINK_TEXT, TAG_NAME, ID, NAME = (
    "css selector",
    "xpath",
    "link text",
    "partial link text",
    "tag name",
    "id",
    "name",
)
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
        "WebDriver:FindElementFromShadowRoot",
        "WebDriver:FindElementsFromShadowRoot",
    }
)


#: The HTML5 drag-and-drop events a user's drag fires, dispatched in the page (see :meth:`Firefox.drag`).
HTML5_DRAG = """
const [src, dst] = arguments, data = new DataTransfer();
const at = (el) => { const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; };
const fire = (el, type, [x, y]) => el.dispatchEvent(new DragEvent(type,
  {bubbles: true, cancelable: true, composed: true, dataTransfer: data, clientX: x, clientY: y}));
fire(src, 'dragstart', at(src));
fire(dst, 'dragenter', at(dst));
fire(dst, 'dragover', at(dst));
fire(dst, 'drop', at(dst));
fire(src, 'dragend', at(dst));
"""

#: ``host >>> inner``: the part after ``>>>`` is looked up in the shadow root of what the part before matched
PIERCE = ">>>"


def split_pierce(selector: str, by: str) -> list[str]:
    """The parts of a shadow-piercing CSS selector (``my-app >>> button.ok``); one part otherwise."""
    if by != CSS or PIERCE not in selector:
        return [selector]
    parts = [p.strip() for p in selector.split(PIERCE)]
    if not all(parts):
        raise UsageError(f"{selector!r}: every part around {PIERCE} must be a CSS selector")
    return parts


class _Finder:
    """What finds elements: the page, an element (below it) or a shadow root (inside it)."""

    ff: Firefox

    def _find_params(self) -> dict[str, Any]:  # pragma: no cover - every finder says where it looks
        raise NotImplementedError

    _FIND, _FIND_ALL = "WebDriver:FindElement", "WebDriver:FindElements"

    def _find_one(self, selector: str, by: str) -> Element:
        params = {**self._find_params(), "using": by, "value": selector}
        return self.ff._element(self.ff.request(self._FIND, params))

    def _find_many(self, selector: str, by: str) -> list[Element]:
        params = {**self._find_params(), "using": by, "value": selector}
        return [self.ff._element(v) for v in self.ff.request(self._FIND_ALL, params)]

    def find(self, selector: str, by: str = CSS) -> Element:
        """The first element matching ``selector`` (CSS by default; ``by=XPATH`` …); ``a >>> b``
        finds ``b`` inside the shadow root of the first ``a``. Raises
        :class:`~tether_firefox.marionette.NoSuchElement` (exit 1) when none matches."""
        first, *rest = split_pierce(selector, by)
        found = self._find_one(first, by)
        for part in rest:
            found = found.shadow_root.find(part)
        return found

    def find_all(self, selector: str, by: str = CSS) -> list[Element]:
        """Every element matching ``selector`` (possibly none); with ``>>>``, in the shadow roots
        of every host the earlier parts match."""
        *hosts, last = split_pierce(selector, by)
        scopes: list[_Finder] = [self]
        for part in hosts:
            scopes = [el.shadow_root for scope in scopes for el in scope._find_many(part, by)]
        return [el for scope in scopes for el in scope._find_many(last, by)]


@dataclass
class Element(_Finder):
    """A reference to an element of the current page (valid within the session that found it)."""

    ff: Firefox
    id: str

    def to_dict(self) -> dict[str, str]:
        """The element as WebDriver sends it (a reference, for script arguments)."""
        return {ELEMENT_KEY: self.id}

    def _find_params(self) -> dict[str, Any]:
        return {"element": self.id}  # Marionette finds below an element with FindElement + element

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
        """The element's position and size (``x``, ``y``, ``width``, ``height``) in CSS pixels,
        relative to the document (Firefox also reports ``top``/``left``/``right``/``bottom``,
        which are left out: they repeat these)."""
        got = self._req("WebDriver:GetElementRect")
        try:
            return {k: float(got[k]) for k in ("x", "y", "width", "height")}
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"Firefox answered WebDriver:GetElementRect with {got!r}") from None

    def attr(self, name: str) -> str | None:
        """The element's attribute ``name`` (``None`` when absent)."""
        return self._req("WebDriver:GetElementAttribute", name=name)

    def prop(self, name: str) -> Any:
        """The element's DOM property ``name`` (``value`` of an input, ``checked`` …)."""
        return self._req("WebDriver:GetElementProperty", name=name)

    def css_value(self, name: str) -> str:
        """The computed value of the CSS property ``name`` (``color`` -> ``rgb(255, 0, 0)``)."""
        return self._req("WebDriver:GetElementCSSValue", propertyName=name)

    def is_selected(self) -> bool:
        """Whether a checkbox, radio button or option is selected."""
        return bool(self._req("WebDriver:IsElementSelected"))

    def is_enabled(self) -> bool:
        """Whether a form control is enabled (not ``disabled``)."""
        return bool(self._req("WebDriver:IsElementEnabled"))

    def is_displayed(self) -> bool:
        """Whether the element is visible to a user (WebDriver's element displayedness)."""
        return bool(self._req("WebDriver:IsElementDisplayed"))

    @property
    def shadow_root(self) -> ShadowRoot:
        """The element's (open) shadow root; :class:`~tether_firefox.marionette.NoSuchShadowRoot`
        when it has none."""
        value = self._req("WebDriver:GetShadowRoot")
        if isinstance(value, dict) and SHADOW_KEY in value:
            return ShadowRoot(self.ff, value[SHADOW_KEY])
        raise MarionetteError(f"expected a shadow root reference, got {value!r}")

    def click(self, *, force: bool = False, timeout: float | None = None) -> None:
        """Click the element once it is actionable (visible, enabled, stable, scrolled into view,
        not covered: see :mod:`tether_firefox.waiting`); ``force`` clicks at once."""
        __tracebackhide__ = True
        self.ff.click(self, force=force, timeout=timeout)

    def type(self, text: str, *, force: bool = False, timeout: float | None = None) -> None:
        """Type ``text`` into the element (appending to what it holds), once it is editable."""
        __tracebackhide__ = True
        self.ff.type(self, text, force=force, timeout=timeout)

    def clear(self, *, force: bool = False, timeout: float | None = None) -> None:
        """Empty an input or textarea, once it is editable."""
        __tracebackhide__ = True
        self.ff.clear(self, force=force, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        """What a person needs to recognise the element once its reference is gone: tag, a
        selector-like description (``button#go.primary``) and its text."""
        info = self.ff.execute(
            "const e = arguments[0];"
            "return [e.localName, e.id, Array.from(e.classList || []), e.innerText ?? e.textContent ?? ''];",
            [self],
        )
        tag, ident, classes, text = info
        selector = tag + (f"#{ident}" if ident else "") + "".join(f".{c}" for c in classes)
        return {"element": selector, "tag": tag, "text": str(text).strip()}

    def screenshot(self, *, force: bool = False, timeout: float | None = None) -> PNG:
        """A PNG of just this element (once it is visible and stable)."""
        __tracebackhide__ = True
        return self.ff.screenshot(element=self, force=force, timeout=timeout)


@dataclass
class ShadowRoot(_Finder):
    """An element's shadow root: find elements inside it (CSS, tag name, link text; not XPath)."""

    ff: Firefox
    id: str

    _FIND, _FIND_ALL = "WebDriver:FindElementFromShadowRoot", "WebDriver:FindElementsFromShadowRoot"

    def to_dict(self) -> dict[str, str]:
        """The shadow root as WebDriver sends it (a reference, for script arguments)."""
        return {SHADOW_KEY: self.id}

    def describe(self) -> dict[str, Any]:
        """What a person recognises once the reference is gone: the host it belongs to
        (``my-card#card``), its mode and its text."""
        info = self.ff.execute(
            "const r = arguments[0], e = r.host;"
            "const text = Array.from(r.children, (c) => c.innerText ?? c.textContent ?? '').join(' ');"
            "return [e.localName, e.id, Array.from(e.classList || []), r.mode, text];",
            [self],
        )
        tag, ident, classes, mode, text = info
        host = tag + (f"#{ident}" if ident else "") + "".join(f".{c}" for c in classes)
        return {"shadow_root": host, "mode": mode, "text": " ".join(str(text).split())}

    def _find_params(self) -> dict[str, Any]:
        return {"shadowRoot": self.id}


@dataclass(frozen=True)
class Dialog:
    """A dialog open on the page: ``type`` is ``alert``, ``confirm``, ``prompt`` or ``beforeunload``
    (``dialog`` when Firefox does not say), ``text`` its message."""

    type: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "text": self.text}

    def __str__(self) -> str:
        article = "an" if self.type[:1] in "aeiou" else "a"
        return f"{article} {self.type} dialog is open: {self.text}"


@dataclass
class Alert:
    """The dialog open on the page (``ff.alert``), to read and answer."""

    ff: Firefox
    type: str
    text: str

    def accept(self) -> None:
        """OK (a confirm answers true; a prompt answers its text)."""
        self.ff.request("WebDriver:AcceptAlert")

    def dismiss(self) -> None:
        """Cancel (an alert has only OK, which this presses)."""
        self.ff.request("WebDriver:DismissAlert")

    def send(self, text: str) -> None:
        """Type ``text`` into a prompt (then :meth:`accept`); an alert or a confirm refuses it
        (:class:`~tether_firefox.marionette.ElementNotInteractable`)."""
        self.ff.request("WebDriver:SendAlertText", {"text": text})


def _to_wire(value: Any) -> Any:
    if isinstance(value, (Element, ShadowRoot)):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


class Firefox(_Finder, NetworkMethods):
    """A Marionette session on one Firefox. Use it as a context manager (or call :meth:`close`).

    ``timeout`` bounds every command that is not a page load, script or element search; those
    wait for the session's own timeouts (``page_load_timeout``, ``script_timeout``,
    ``implicit_wait``, seconds) plus a margin. ``chrome=True`` switches to the chrome context
    (Firefox must run with ``-remote-allow-system-access``).
    ``budget``: one deadline (seconds, or a :class:`~tether.deadline.Deadline` already running) for
    everything this client does — opening the session,
    every command, closing — as a CLI command's ``--timeout`` asks; each call then waits at
    most what is left of it, and a call that timed out is not followed by a wait to close.
    ``bidi=True`` asks for the session's WebDriver BiDi URL (Firefox running its Remote Agent),
    which :meth:`new_context`, routes, request waits and HAR recording
    (:class:`~tether_firefox.network.NetworkMethods`) use.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2828,
        *,
        timeouts: Timeouts | Mapping[str, Any] | float | None = None,
        timeout: float | None = None,
        page_load_timeout: float | None = None,
        script_timeout: float | None = None,
        implicit_wait: float | None = None,
        capabilities: dict[str, Any] | None = None,
        chrome: bool = False,
        connect_timeout: float | None = None,
        busy_wait: float | None = None,
        endpoint: Endpoint | None = None,
        console: bool | Callable[[dict[str, Any]], Any] = False,
        budget: float | Deadline | None = None,
        bidi: bool = False,
    ) -> None:
        self.host, self.port = host, port
        #: every time limit of this client (:class:`~tether_firefox.timeouts.Timeouts`); the old
        #: keywords (``timeout``, ``page_load_timeout`` …) set its fields
        self.timing = Timeouts.of(
            timeouts,
            timeout=timeout,
            page_load_timeout=page_load_timeout,
            script_timeout=script_timeout,
            implicit_wait=implicit_wait,
            connect_timeout=connect_timeout,
            busy_wait=busy_wait,
        )
        self._budget = Deadline(budget) if isinstance(budget, (int, float)) else budget
        self.endpoint = endpoint
        self.chrome = chrome
        self._caps_request: dict[str, Any] = dict(capabilities or {})
        # A dialog stays open until someone answers it on purpose: Firefox's default would dismiss it
        # at the next command (and answer a confirm "Cancel"); "ignore" raises UnexpectedAlertOpen.
        self._caps_request.setdefault("unhandledPromptBehavior", "ignore")
        self._console_wanted = console
        self._console: Console | None = None
        if console or bidi:  # the same session over WebDriver BiDi: log.entryAdded, user contexts, network.*
            self._caps_request["webSocketUrl"] = True
        self._bidi: BiDi | None = None  # the session's BiDi commands (new_context), opened on first use
        #: the WebDriver BiDi user context this session drives (:meth:`new_context`); None: the default one
        self.user_context: str | None = None
        session_timeouts = self.timing.session()
        if session_timeouts:
            self._caps_request["timeouts"] = {**self._caps_request.get("timeouts", {}), **session_timeouts}
        self._m: Marionette | None = None
        self.session_id: str | None = None
        self.capabilities: dict[str, Any] = {}
        # Firefox's defaults, replaced by what NewSession reports.
        self._timeouts = {"pageLoad": 300_000, "script": 30_000, "implicit": 0}

    # the old names of three Timeouts fields, kept readable and settable
    @property
    def timeout(self) -> float:
        """The command deadline, seconds (``timing.command``)."""
        return self.timing.command

    @timeout.setter
    def timeout(self, value: float) -> None:
        self.timing = self.timing.with_(command=value)

    @property
    def connect_timeout(self) -> float:
        """``timing.connect``."""
        return self.timing.connect

    @property
    def busy_wait(self) -> float:
        """``timing.busy_wait``."""
        return self.timing.busy_wait

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_endpoint(cls, endpoint: Endpoint, **options: Any) -> Firefox:
        """The client for a verified endpoint (what ``tether.connect("firefox")`` returns)."""
        return cls(endpoint.host, endpoint.port, endpoint=endpoint, **options)

    @classmethod
    def attach(
        cls, host: str | None = None, port: int | None = None, *, timeout: float | None = None, **options: Any
    ) -> Firefox:
        """Find the running Firefox (or verify ``host``/``port``) and return a client for it:
        ``tether.connect("firefox", …)`` with this client's defaults (see :func:`attach_located`
        for the short retry while the session slot frees up). ``timeout`` is the command deadline
        (``timeouts.command``: the one of ``timeouts=`` when not given)."""
        import tether

        command = timeout if timeout is not None else Timeouts.of(options.get("timeouts")).command
        if timeout is not None:
            options["timeout"] = timeout
        return tether.connect("firefox", host, port, probe_timeout=min(command, 5.0), **options)

    def ask_capabilities(self, **capabilities: Any) -> None:
        """Capabilities to ask for at ``NewSession`` (``acceptInsecureCerts=True`` …): before
        the session opens only."""
        if self._m is not None:
            raise UsageError("the session is open: capabilities are asked for before it opens")
        self._caps_request.update(capabilities)

    # -- session ---------------------------------------------------------------------------
    @property
    def machine(self) -> str | None:
        """The ``ssh://`` URL of the machine Firefox runs on when reached through a forward from
        there (its files, sockets and tether's records of it are that machine's), else ``None``."""
        return self.endpoint.extra.get("ssh") if self.endpoint is not None else None

    def _machine(self) -> hostfiles.Files:
        """The files of the machine Firefox runs on: the host's when reached over SSH."""
        return (hostfiles.machine(self.machine) if self.machine else None) or hostfiles.current()

    def open(self) -> Firefox:
        """Connect and open the session (done for you by ``with`` and by the first command)."""
        if self._m is not None:
            return self
        left = self._budget.remaining() if self._budget else None
        connect = self.connect_timeout if left is None else max(min(self.connect_timeout, left), 0.01)
        with hostfiles.looking_at(self._machine()):  # a forward's BiDi clients are the host's
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
        if self._console_wanted:
            try:
                self._open_console()
            except BaseException:
                self.close()
                raise
        return self

    def _open_console(self) -> None:
        from .bidi import Console

        url = self.capabilities.get("webSocketUrl")
        if not isinstance(url, str):
            raise NotFound(
                "Firefox runs no WebDriver BiDi: collecting console messages needs it",
                hint="launch it with `tether firefox launch --bidi` (or run it with --remote-debugging-port)",
            )
        hook = self._console_wanted if callable(self._console_wanted) else None
        self._console = Console(url, timeout=min(self.timeout, 10.0), on_entry=hook)

    def console_messages(self) -> list[dict[str, Any]]:
        """The console messages and uncaught JavaScript errors of the pages since the session
        opened (a session opened with ``console=True``): dicts with ``level``, ``type``
        (``console`` or ``javascript``), ``method``, ``text``, ``url``, ``line``, ``timestamp``.
        They arrive asynchronously: ``wait_until(lambda: ff.js_errors())`` waits for one."""
        if self._console is None:
            raise UsageError(
                "this session does not collect console messages",
                hint='open it with console=True: tether.connect("firefox", console=True)',
            )
        return self._console.snapshot()

    def js_errors(self) -> list[dict[str, Any]]:
        """The uncaught JavaScript errors among :meth:`console_messages`."""
        return [e for e in self.console_messages() if e.get("type") == "javascript"]

    # -- user contexts (WebDriver BiDi) -----------------------------------------------------
    @property
    def bidi_url(self) -> str | None:
        """The session's WebDriver BiDi URL: None when Firefox runs no Remote Agent, or the session
        was not asked for it (``bidi=True``)."""
        url = self.open().capabilities.get("webSocketUrl")
        return url if isinstance(url, str) and url.startswith("ws") else None

    def _bidi_channel(self) -> BiDi:
        if self._bidi is None:
            from tether.transport.ws import WsConnection

            from .bidi import BiDi

            url = self.bidi_url
            if url is None:
                raise NotFound(
                    "this session has no WebDriver BiDi: a fresh context needs it",
                    hint="run Firefox with its Remote Agent (`tether firefox launch --bidi`, or "
                    "--remote-debugging-port) and open the session with bidi=True",
                )
            ws = WsConnection.open(
                url,
                deadline=Deadline(min(self.timeout, 10.0)),
                suppress_origin=True,
                what="Firefox WebDriver BiDi",
            )
            self._bidi = BiDi(ws, timeout=min(self.timeout, 10.0))
        return self._bidi

    @contextlib.contextmanager
    def new_context(self) -> Iterator[Firefox]:
        """A fresh browser context: a new WebDriver BiDi user context (cookies, localStorage,
        IndexedDB and cache of its own) and a tab in it, which this session drives until the
        block ends; then the user context is removed (its tabs closed, its data dropped) and the
        session goes back to the window it was on. Firefox does not restart.

        >>> with ff.new_context() as page:                          # doctest: +SKIP
        ...     page.navigate("http://127.0.0.1:8000/login")

        Needs the session's BiDi (``bidi=True``, Firefox with its Remote Agent): else
        :class:`~tether.errors.NotFound`, saying so. ``page`` is this client: cookies and new
        tabs go to the user context while the block runs.
        """
        from . import contexts

        bidi = self._bidi_channel()
        try:
            previous_window: str | None = self.window
        except TetherError:  # the session's window was closed: nothing to go back to
            previous_window = None
        previous_context = self.user_context
        uc = contexts.create_user_context(bidi)
        try:
            tab = contexts.create_tab(bidi, uc)
            self.switch_to_window(tab)
            self.user_context = uc
        except BaseException:
            with contextlib.suppress(TetherError):
                contexts.remove_user_context(bidi, uc)
            raise
        failed = True
        try:
            yield self
            failed = False
        finally:
            self.user_context = previous_context
            try:
                if self._bidi is not bidi:  # the block closed the session: the user context outlives
                    bidi = self._bidi_channel()  # it, so a new session removes it
                contexts.remove_user_context(bidi, uc)
                if previous_window is not None and previous_window in self.windows():
                    self.switch_to_window(previous_window)
            except TetherError:
                if not failed:  # the block's own error comes first
                    raise

    def close(self) -> None:
        """Delete the session (Firefox keeps running) and close the connection."""
        bidi, self._bidi = self._bidi, None
        if bidi is not None:
            bidi.ws.close()
        self.user_context = None
        console, self._console = self._console, None
        m, self._m = self._m, None
        try:
            # closing the socket ends the session too: after a call that timed out (Firefox
            # frozen, or busy) or past the budget, do not wait for DeleteSession as well
            left = self._budget.remaining() if self._budget else 10.0
            if m is not None and not m.closed and not m.timed_out and left > 0.05:
                with contextlib.suppress(TetherError):
                    m.call("WebDriver:DeleteSession", timeout=min(self.timeout, 10.0, left))
        finally:
            if m is not None:
                m.close()
            self.session_id = None
            if console is not None:  # after the session: Firefox has closed its BiDi side by now
                console.close()
            self._close_network()  # routes and intercepts ended with the session

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
            return max(self.timeout, self._timeouts.get("pageLoad", 0) / 1000 + self.timing.margin)
        if name in SCRIPTS:
            return max(self.timeout, self._timeouts.get("script", 0) / 1000 + self.timing.margin)
        if name in FINDING:
            return max(self.timeout, self._timeouts.get("implicit", 0) / 1000 + self.timing.margin)
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
    def navigate(self, url: str) -> str:
        """Load ``url`` and wait for it (per the session's page-load strategy); returns the URL
        loaded. A path of an existing file (``page.html``, ``./out/report.html``, ``/tmp/x.html``)
        becomes its ``file://`` URL when Firefox runs on this machine (:func:`resolve_url`)."""
        url = resolve_url(url, local=self.machine is None and is_loopback(self.host))
        self.request("WebDriver:Navigate", {"url": url})
        return url

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

    # -- auto-waiting actions -------------------------------------------------------------
    def _poll_deadline(self, timeout: float | None, default: float) -> Deadline:
        """How long a retrying step (an action's checks, ``expect``, ``wait_for``) may poll:
        ``timeout`` (else ``default``), ended early enough within the budget (a CLI command's
        ``--timeout``) for the last read, the action and closing the session to fit."""
        deadline = Deadline(default if timeout is None else timeout)
        if self._budget is not None:
            end = self._budget.at - min(1.0, self._budget.seconds * 0.15)
            if end < deadline.at:
                deadline.at = max(time.monotonic(), end)
        return deadline

    def _target(self, target: Element | str, by: str) -> tuple[dict[str, Any], str]:
        if isinstance(target, Element):
            return {"els": [target]}, "the element"
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"an element action needs a selector or an Element, not {target!r}")
        return locator(target, by), target

    def _actionable(
        self,
        target: Element | str,
        by: str,
        action: str,
        *,
        force: bool,
        deadline: Deadline,
        started: float,
    ) -> Element:
        """Poll the checks of ``action`` (:data:`~tether_firefox.waiting.CHECKS`), one script a
        try, until they pass (the element is returned) or ``deadline`` passes
        (:class:`~tether_firefox.waiting.ActionTimeout`). ``force``: no checks, no waiting."""
        __tracebackhide__ = True
        loc, name = self._target(target, by)
        opts = {"checks": list(CHECKS[action]), "force": force}
        last: dict[str, Any] | None = None
        pause = 0.02
        while True:
            left = deadline.remaining()
            try:
                got = self._from_wire(
                    self.request(
                        "WebDriver:ExecuteAsyncScript",
                        {"script": ACTIONABLE, "args": [loc, opts]},
                        timeout=max(left, 0.5) + 1.0,
                    )
                )
            except StaleElementReference as exc:
                raise StaleElementReference(
                    f"cannot {action} the element: the page replaced or removed it",
                    code=exc.code,
                    app_message=exc.app_message,
                    hint="give the action a selector (ff.click('#save')): it is looked up again on every try",
                ) from exc
            except JavascriptError as exc:
                if not _unloaded(exc) or isinstance(target, Element):
                    raise
                got = None
            if got is None:  # the page went away under the script (a navigation): try on the next one
                got = {"ok": False, "check": "attached", "detail": "was on a page that was being replaced"}
            if not isinstance(got, dict):
                raise ProtocolError(f"the actionability check returned {got!r}")
            if got.get("ok") and isinstance(got.get("element"), Element):
                return got["element"]
            if got.get("check") == "selector":
                raise InvalidSelector(
                    f"{name!r} is not a valid selector: {got.get('detail')}", code="invalid selector"
                )
            if got.get("check") == "script":
                raise JavascriptError(
                    f"the actionability check failed: {got.get('detail')}", code="javascript error"
                )
            last = got
            if force:  # force waits for nothing, not even the element
                raise NoSuchElement(
                    f"cannot {action} {name}: {name} {got.get('detail')}", code="no such element"
                )
            if deadline.expired:
                if isinstance(target, Element):
                    with contextlib.suppress(TetherError):
                        name = target.describe()["element"]
                raise action_timeout(action, name, last, time.monotonic() - started)
            time.sleep(min(pause, deadline.remaining()))  # the last try is at the deadline
            pause = min(pause * 2, 0.1)

    def _act(
        self,
        action: str,
        target: Element | str,
        by: str,
        do: Callable[[Element], Any],
        *,
        force: bool = False,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> Any:
        """Wait until ``target`` is actionable for ``action``, then ``do(element)`` once. Firefox's
        own refusal of a click (covered, not interactable, stale) right after the checks passed
        means nothing happened: the checks run again while time is left."""
        __tracebackhide__ = True
        started = time.monotonic()
        deadline = deadline or self._poll_deadline(timeout, self.timing.command)
        while True:
            el = self._actionable(target, by, action, force=force, deadline=deadline, started=started)
            try:
                return do(el)
            except (ElementClickIntercepted, ElementNotInteractable, StaleElementReference):
                if force or deadline.expired or isinstance(target, Element):
                    raise
                time.sleep(0.05)

    def click(
        self, target: Element | str, by: str = CSS, *, force: bool = False, timeout: float | None = None
    ) -> None:
        """Click the element matching ``target`` (a selector, or an :class:`Element`) once it is
        actionable: attached, visible, enabled, scrolled into view, stable and not covered
        (:mod:`tether_firefox.waiting`); waits up to ``timeout`` (``timing.command``), then
        :class:`~tether_firefox.waiting.ActionTimeout` (exit 4) names what blocks it.
        ``force=True`` clicks at once (Firefox's own WebDriver checks still apply).

        >>> ff.click("#save")            # waits for the button the page adds later   # doctest: +SKIP
        """
        __tracebackhide__ = True
        self._act("click", target, by, lambda el: self.request("WebDriver:ElementClick", {"id": el.id}),
                  force=force, timeout=timeout)  # fmt: skip

    def type(
        self,
        target: Element | str,
        text: str,
        by: str = CSS,
        *,
        clear: bool = False,
        force: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Type ``text`` into the element matching ``target`` (after clearing it, with ``clear``),
        once it is visible, enabled, editable and stable. A file input takes a path as soon as it
        is there (hidden or not)."""
        __tracebackhide__ = True

        def do(el: Element) -> None:
            if clear:
                self.request("WebDriver:ElementClear", {"id": el.id})
            self.request("WebDriver:ElementSendKeys", {"id": el.id, "text": text})

        self._act("type", target, by, do, force=force, timeout=timeout)

    def clear(
        self, target: Element | str, by: str = CSS, *, force: bool = False, timeout: float | None = None
    ) -> None:
        """Empty the input or textarea matching ``target``, once it is visible, enabled and editable."""
        __tracebackhide__ = True
        self._act("clear", target, by, lambda el: self.request("WebDriver:ElementClear", {"id": el.id}),
                  force=force, timeout=timeout)  # fmt: skip

    # -- expect ----------------------------------------------------------------------------
    def expect(
        self,
        selector: str | None = None,
        *,
        by: str = CSS,
        text: str | re.Pattern[str] | None = None,
        contains: str | re.Pattern[str] | None = None,
        value: str | re.Pattern[str] | None = None,
        count: int | None = None,
        visible: bool | None = None,
        enabled: bool | None = None,
        checked: bool | None = None,
        attr: tuple[str, Any] | Mapping[str, Any] | None = None,
        title: str | re.Pattern[str] | None = None,
        url: str | re.Pattern[str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Assert, retrying until it holds or ``timeout`` (``timing.expect``, 5 s) passes, that the
        first element matching ``selector`` has ``text`` (exact after whitespace normalisation),
        ``contains`` some text, has ``value``, is ``visible``/``enabled``/``checked`` (or not),
        has ``attr=(name, value)`` (``None``: no such attribute), or that ``count`` elements
        match; or that the page has ``title`` or ``url`` (exact). A compiled ``re`` pattern is
        searched for instead. Several at once must all hold. Returns what was read last.

        Not met in time: :class:`~tether_firefox.waiting.ExpectationFailed` (exit 1, an
        ``AssertionError``): ``expected #status to have text 'Done'; last seen 'Loading' (waited 5 s)``.

        >>> ff.click("#load"); ff.expect("#status", text="Done"); ff.expect("li", count=3)   # doctest: +SKIP
        >>> ff.expect(title=re.compile("Dashboard"))                                         # doctest: +SKIP
        """
        __tracebackhide__ = True
        page = {k: v for k, v in (("title", title), ("url", url)) if v is not None}
        if selector is not None and page:
            raise UsageError("expect either an element (a selector) or the page's title/url, not both")
        if selector is None:
            if len(page) != 1:
                raise UsageError("expect what? a selector and what it should be, or title= or url=")
            ((kind, expected),) = page.items()
            checks = [page_expectation(kind, expected)]
            subject = "the title" if kind == "title" else "the URL"

            def read() -> dict[str, Any]:
                return {kind: self.title if kind == "title" else self.url}

        else:
            checks = expectations(
                text=text, contains=contains, value=value, count=count,
                visible=visible, enabled=enabled, checked=checked, attr=attr,
            )  # fmt: skip
            loc, subject = locator(selector, by), selector
            names = attr_names(attr)

            def read() -> dict[str, Any] | None:
                try:
                    got = self.execute(STATE, [loc, names])
                except JavascriptError as exc:
                    if not _unloaded(exc):
                        raise
                    return None
                if got is None:  # the page went away under the script (a navigation)
                    return None
                if not isinstance(got, dict):
                    raise ProtocolError(f"reading {selector} returned {got!r}")
                if "error" in got:
                    raise InvalidSelector(f"{selector!r} is not a valid selector: {got['error']}",
                                          code="invalid selector")  # fmt: skip
                return got

        started = time.monotonic()
        deadline = self._poll_deadline(timeout, self.timing.expect)
        pause = 0.02
        state: dict[str, Any] | None = None
        while True:
            state = read() or state  # a read during a navigation keeps the last state seen
            failing = next((c for c in checks if not c.met(state)), None) if state is not None else checks[0]
            if failing is None and state is not None:
                return state
            if deadline.expired:
                assert failing is not None
                raise expectation_failed(subject, failing, state, time.monotonic() - started)
            time.sleep(min(pause, deadline.remaining()))
            pause = min(pause * 2, 0.1)

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

    @property
    def ff(self) -> Firefox:  # the page is the finder of last resort: finds go through this session
        return self

    def _find_params(self) -> dict[str, Any]:
        return {}

    def _from_wire(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {ELEMENT_KEY}:
                return Element(self, value[ELEMENT_KEY])
            if set(value) == {SHADOW_KEY}:
                return ShadowRoot(self, value[SHADOW_KEY])
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
        """Poll ``condition()`` until it returns something truthy; raise a timeout (exit 4) otherwise,
        saying what it waited for (``what``). Within a CLI command's budget the polling stops in
        time for that message: Firefox answered every poll, so the error is never "no answer"."""
        started = time.monotonic()
        deadline = self._poll_deadline(timeout, timeout)
        while True:
            value = condition()
            if value:
                return value
            if deadline.expired:
                waited = time.monotonic() - started
                raise PageLoadTimeout(
                    f"waited {seconds(waited)} for {what}: it did not come", code="timeout", hint=None
                )
            time.sleep(min(interval, deadline.remaining()))

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
        self,
        path: str | Path | None = None,
        *,
        full: bool = False,
        element: Element | str | None = None,
        force: bool = False,
        timeout: float | None = None,
    ) -> PNG:
        """A PNG of the viewport (default), the whole document (``full``) or one element (once
        it is visible and stable; ``force``: at once).

        Written to ``path`` when given; the PNG bytes are returned either way.
        """
        __tracebackhide__ = True
        params: dict[str, Any] = {"full": bool(full), "hash": False}
        if element is not None:
            el = self._act("screenshot", element, CSS, lambda found: found, force=force, timeout=timeout)
            params = {"id": el.id, "full": False, "hash": False}
        import base64

        data = PNG(base64.b64decode(self.request("WebDriver:TakeScreenshot", params)))
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def pdf(self, path: str | Path | None = None, **options: Any) -> bytes:
        """The page printed to PDF (``WebDriver:Print``; options such as ``orientation``,
        ``scale``, ``background``, ``page``, ``margin``, ``pageRanges``)."""
        import base64

        data = base64.b64decode(self.request("WebDriver:Print", options))
        if path is not None:
            Path(path).write_bytes(data)
        return data

    # -- cookies ---------------------------------------------------------------------------
    # In a user context (new_context) cookies go through BiDi: Marionette's reach the default jar.
    def cookies(self) -> list[dict[str, Any]]:
        """The cookies visible to the current page."""
        if self.user_context is not None:
            from . import contexts

            return contexts.cookies(self._bidi_channel(), self.user_context, self.url)
        return self.request("WebDriver:GetCookies")

    def add_cookie(self, name: str, value: str, **fields: Any) -> None:
        """Set a cookie for the current page (``path``, ``domain``, ``secure``, ``httpOnly``, ``expiry``…)."""
        if self.user_context is not None:
            from . import contexts

            contexts.add_cookie(self._bidi_channel(), self.user_context, self.url, name, value, **fields)
            return
        self.request("WebDriver:AddCookie", {"cookie": {"name": name, "value": value, **fields}})

    def get_cookie(self, name: str) -> dict[str, Any] | None:
        """The current page's cookie ``name``, or ``None`` when it has none of that name."""
        return next((c for c in self.cookies() if c.get("name") == name), None)

    def delete_cookie(self, name: str | None = None) -> int:
        """Delete the cookie ``name``, or every cookie of the page when ``name`` is None; returns
        how many there were (0: the page had no such cookie, and nothing was deleted)."""
        if self.user_context is not None:  # Marionette's cookie commands see only the default jar
            from . import contexts

            return contexts.delete_cookies(self._bidi_channel(), self.user_context, self.url, name)
        if name is None:
            there = len(self.cookies())
            if there:
                self.request("WebDriver:DeleteAllCookies")
            return there
        if self.get_cookie(name) is None:
            return 0
        self.request("WebDriver:DeleteCookie", {"name": name})
        return 1

    # -- windows ---------------------------------------------------------------------------
    @property
    def window(self) -> str:
        """The handle of the current window (tab)."""
        return self.request("WebDriver:GetWindowHandle")

    def windows(self) -> list[str]:
        """Handles of every open window (tab)."""
        return self.request("WebDriver:GetWindowHandles")

    def new_window(self, kind: str = "tab", *, switch: bool = True) -> str:
        """Open a new tab (or ``kind="window"``); switch to it unless ``switch=False``. Returns its handle.
        In a user context (:meth:`new_context`) the tab opens in that context."""
        if self.user_context is not None:  # Marionette's NewWindow would open it in the default context
            from . import contexts

            handle = contexts.create_tab(self._bidi_channel(), self.user_context, kind)
        else:
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

    # -- keys and mouse --------------------------------------------------------------------
    def actions(self) -> Actions:
        """A chain of key, mouse and wheel steps (:class:`~tether_firefox.actions.Actions`);
        ``perform()`` sends it.

        >>> ff.actions().press("Control+a").type("hello").press("Enter").perform()   # doctest: +SKIP
        """
        from .actions import Actions

        return Actions(self)

    def press(
        self,
        *chords: str,
        on: Element | str | None = None,
        by: str = CSS,
        force: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Press keys on whatever has the focus: ``ff.press("Control+a", "Delete")``; with ``on``,
        focus that element first, once it is visible and enabled."""
        __tracebackhide__ = True
        from .actions import parse_keys

        parse_keys(chords)  # an unknown key is refused before anything waits or is sent
        if on is not None:
            self._act("press", on, by, lambda el: self.execute("arguments[0].focus()", [el]),
                      force=force, timeout=timeout)  # fmt: skip
        self.actions().press(*chords).perform()

    def hover(
        self, target: Element | str, by: str = CSS, *, force: bool = False, timeout: float | None = None
    ) -> None:
        """Rest the mouse over an element (a hover menu opens), once it is visible, stable and
        not covered; one outside the viewport is scrolled into view first."""
        __tracebackhide__ = True
        self._act(
            "hover", target, by, lambda el: self.actions().hover(el).perform(), force=force, timeout=timeout
        )

    def drag(
        self,
        source: Element | str,
        target: Element | str,
        *,
        force: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Drag ``source`` onto ``target``, once both are actionable (visible, stable, not covered;
        the source enabled).

        A ``draggable="true"`` source gets the HTML5 drag events (``dragstart`` … ``drop`` …
        ``dragend``, one ``DataTransfer`` throughout) dispatched in the page: Firefox's actions
        start a native drag session for it that never reaches the drop (measured on ESR 153,
        headless). Anything else is dragged with the mouse (press, move, release).
        """
        __tracebackhide__ = True
        started = time.monotonic()
        deadline = self._poll_deadline(timeout, self.timing.command)

        def onto(src: Element) -> None:
            dst = self._actionable(target, CSS, "drop", force=force, deadline=deadline, started=started)
            if src.attr("draggable") == "true":
                self.execute(HTML5_DRAG, [src, dst])
            else:
                self.actions().drag(src, dst).perform()

        self._act("drag", source, CSS, onto, force=force, deadline=deadline)

    def scroll(
        self,
        target: Element | str | None = None,
        dx: int = 0,
        dy: int = 0,
        *,
        force: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Turn the mouse wheel over the page: by (``dx``, ``dy``) CSS pixels, or, for ``target``,
        as far as it takes to bring the element to the middle of the viewport (plus ``dx``, ``dy``),
        once it is visible and stable.

        Firefox refuses a wheel over an element outside the viewport ("move target out of bounds"),
        so the wheel turns over the viewport and the distance is measured first.
        """
        __tracebackhide__ = True
        if target is not None:
            off = self.execute(
                "const r = arguments[0].getBoundingClientRect();"
                "return [Math.round(r.x + r.width / 2 - innerWidth / 2),"
                " Math.round(r.y + r.height / 2 - innerHeight / 2)];",
                [self._act("scroll", target, CSS, lambda el: el, force=force, timeout=timeout)],
            )
            dx, dy = dx + int(off[0]), dy + int(off[1])
        self.actions().scroll(None, dx, dy).perform()
        self._settle_scroll()

    def _settle_scroll(self, limit: float = 2.0) -> None:
        """Wait until the page stops moving: Firefox scrolls after a wheel event asynchronously
        (smoothly), so a read right after ``PerformActions`` may see where it started."""
        end, last, still = time.monotonic() + limit, None, 0
        while time.monotonic() < end and still < 3:  # still for 150 ms: done
            if self.dialog() is not None:
                return
            now = self.execute("return [scrollX, scrollY]")
            still = still + 1 if now == last else 0
            last = now
            time.sleep(0.05)

    # -- dialogs ---------------------------------------------------------------------------
    def dialog(self) -> Dialog | None:
        """The dialog open on the page (its type and text), or ``None``; never answers it.

        The type comes from the refusal of a harmless command (``GetCurrentURL``) while the dialog
        is open, which Firefox words "Unexpected confirm dialog detected" when the session leaves
        dialogs alone (``unhandledPromptBehavior`` "ignore", tether's default).
        """
        try:
            text = self.request("WebDriver:GetAlertText")
        except NoSuchAlert:
            return None
        kind = "dialog"
        if self.capabilities.get("unhandledPromptBehavior") == "ignore":
            try:
                self.request("WebDriver:GetCurrentURL")
            except UnexpectedAlertOpen as exc:
                kind = dialog_type(exc.app_message or "")
        return Dialog(kind, str(text))

    @property
    def alert(self) -> Alert:
        """The open dialog, to read and answer; :class:`~tether_firefox.marionette.NoSuchAlert`
        (exit 1) when none is open.

        >>> ff.click("#delete"); ff.alert.text          # doctest: +SKIP
        'Delete it?'
        >>> ff.alert.accept()                           # doctest: +SKIP
        """
        found = self.dialog()
        if found is None:
            raise NoSuchAlert("no dialog is open", code="no such alert")
        return Alert(self, found.type, found.text)

    # -- frames ----------------------------------------------------------------------------
    def switch_to_frame(self, frame: Element | int | str | None = None) -> None:
        """Make a frame the context of later commands: an ``<iframe>`` element, its selector, its
        index among the page's frames, or ``None`` for the top-level document."""
        if frame is None:
            params: dict[str, Any] = {}
        elif isinstance(frame, int):
            params = {"id": frame}
        else:
            el = self.find(frame) if isinstance(frame, str) else frame
            params = {"element": el.id}
        self.request("WebDriver:SwitchToFrame", params)

    def switch_to_parent_frame(self) -> None:
        """Go up one frame (nothing at the top-level document)."""
        self.request("WebDriver:SwitchToParentFrame")

    @contextlib.contextmanager
    def frame(self, *frames: Element | int | str) -> Iterator[Firefox]:
        """Work inside a frame, nested frames when several are given (outermost first), and come
        back out after the block.

        >>> with ff.frame("#outer", "iframe.inner"):          # doctest: +SKIP
        ...     ff.click("button")
        """
        entered = 0
        try:
            for f in frames:
                self.switch_to_frame(f)
                entered += 1
            yield self
        finally:
            for _ in range(entered):
                with contextlib.suppress(TetherError):  # the frame may be gone (a navigation)
                    self.switch_to_parent_frame()

    # -- the window's size and place -------------------------------------------------------
    def window_rect(self) -> dict[str, int]:
        """The current window's ``x``, ``y``, ``width`` and ``height`` (screen pixels)."""
        return self.request("WebDriver:GetWindowRect")

    def set_window_rect(
        self,
        *,
        x: int | None = None,
        y: int | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> dict[str, int]:
        """Move and/or resize the current window; returns the rect Firefox settled on."""
        if any(v is not None and v <= 0 for v in (width, height)):
            raise UsageError(f"a window size must be positive, not {width}x{height}")
        params = {
            k: int(v) for k, v in (("x", x), ("y", y), ("width", width), ("height", height)) if v is not None
        }
        return self.request("WebDriver:SetWindowRect", params)

    def maximize(self) -> dict[str, int]:
        """Maximize the current window; returns its rect."""
        return self.request("WebDriver:MaximizeWindow")

    def minimize(self) -> dict[str, int]:
        """Minimize (iconify) the current window; returns its rect."""
        return self.request("WebDriver:MinimizeWindow")

    def fullscreen(self) -> dict[str, int]:
        """Make the current window full-screen; returns its rect."""
        return self.request("WebDriver:FullscreenWindow")

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


def _unloaded(exc: MarionetteError) -> bool:
    """Whether a script failed because its document went away (a navigation under it)."""
    said = (exc.app_message or str(exc)).lower()
    return any(w in said for w in ("unload", "navigat", "discarded", "destroyed", "dead object"))


#: schemes Firefox navigates to; anything else before a colon is probably not meant as a scheme
URL_SCHEMES = frozenset(
    {
        "http",
        "https",
        "file",
        "about",
        "data",
        "blob",
        "javascript",
        "view-source",
        "moz-extension",
        "resource",
    }
)


def resolve_url(url: str, *, local: bool = True) -> str:
    """What ``navigate`` sends for ``url``: a URL as it is; the path of an existing file (relative,
    ``~``, absolute) as its ``file://`` URL when Firefox runs on this machine (``local``); anything
    else refused with what to give instead (:class:`~tether.errors.UsageError`, exit 2) — Firefox's
    own answer is a bare "invalid argument"."""
    import re as _re
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url.strip():
        raise UsageError("navigate where? give a URL (https://…, file:///…) or the path of a file")
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in URL_SCHEMES or (len(scheme) > 1 and not _re.match(r"^[\w.-]+:\d+(/|$)", url)):
        return url  # a URL (a custom scheme included): Firefox decides
    path = Path(url).expanduser()
    if local and path.exists():
        return path.resolve().as_uri()
    message = f"{url!r} is not a URL, and no file of that name exists here"
    if _re.match(r"^[\w.-]+:\d+(/|$)", url):
        hint = f"a host and port needs its scheme: http://{url}"
    elif not local:
        message = f"{url!r} is not a URL (a path on this machine means nothing to a Firefox on another one)"
        hint = "give a URL it can load: http://…, or file:/// of a file on its machine"
    elif _re.search(
        r"\.(x?html?|svg|pdf|txt|json|xml|png|jpe?g|gif)$", url, _re.IGNORECASE
    ) or url.startswith((".", "/", "~")):
        message = f"no file {url!r} (looked in {Path.cwd()}), and it is not a URL"
        hint = "give the path of an existing file, or a full URL (https://…, file:///…)"
    elif "." in url.split("/")[0]:
        hint = f"give a full URL (https://{url}), or the path of an existing file"
    else:
        hint = "give a full URL (https://…, file:///…) or the path of an existing file"
    raise UsageError(message, hint=hint)


def attach_located(
    locate: Callable[[], Endpoint],
    *,
    busy_wait: float | None = None,
    deadline: Deadline | None = None,
    **options: Any,
) -> Firefox:
    """The client for the Firefox ``locate()`` verifies (``FirefoxAdapter.attach``).

    Right after a session ends Firefox may refuse a new connection for a moment, which the
    probe sees as busy: ``locate`` is retried for up to ``busy_wait`` seconds, unless another
    client visibly holds the session, which the :class:`~tether.errors.Busy` error then names.
    ``options`` go to :class:`Firefox` (``timeout`` is the command deadline); with the command's
    ``deadline``, the client's ``timeout`` is what the lookup (and its retries) left of it.
    """
    if busy_wait is None:
        busy_wait = Timeouts.of(options.get("timeouts")).busy_wait
    give_up, pause = time.monotonic() + busy_wait, 0.05
    if deadline is not None:
        give_up = min(give_up, deadline.at)
    while True:
        try:
            endpoint = locate()
            if deadline is not None:
                options["timeout"] = deadline.remaining(0.25)
            return Firefox.from_endpoint(endpoint, busy_wait=busy_wait, **options)
        except Busy as exc:
            busy_port = exc.detail.get("port")
            here = is_loopback(exc.detail.get("host") or "127.0.0.1")  # not an ssh:// host's port
            holder = likely_holder(busy_port, listener_pid(busy_port)) if busy_port and here else None
            if holder is not None or time.monotonic() + pause > give_up:
                if busy_port and here:  # another machine's Busy already says what its probe saw
                    raise busy_error(exc.detail.get("host") or "127.0.0.1", busy_port, holder) from exc
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.4)


def attach(host: str | None = None, port: int | None = None, **options: Any) -> Firefox:
    """Shorthand for :meth:`Firefox.attach`."""
    return Firefox.attach(host, port, **options)


__all__ = [
    "CSS",
    "XPATH",
    "ActionTimeout",
    "Alert",
    "Dialog",
    "Element",
    "ExpectationFailed",
    "Firefox",
    "NoSuchElement",
    "NotFound",
    "ShadowRoot",
    "Timeouts",
    "attach",
    "attach_located",
    "resolve_url",
]
