"""The Marionette wire protocol: greeting, ``[0, id, name, params]`` commands, typed errors.

One :class:`Marionette` is one TCP connection to Firefox. It validates the greeting
(``applicationType`` "gecko", ``marionetteProtocol`` 3), numbers commands, matches replies by
id (dropping stale replies to commands that timed out) and maps W3C error codes to
:class:`MarionetteError` subclasses that carry Firefox's own message. Every read runs under
a deadline: Firefox sends no reply at all to JSON it cannot parse.

Firefox serves one session per process and closes a new connection without a greeting
while a session is active: :func:`open_connection` reports that as :class:`~tether.errors.Busy`,
naming the likely holder, after a short retry for the moment right after a session ends.

>>> with Marionette.open("127.0.0.1", 2828, timeout=5) as m:           # doctest: +SKIP
...     m.call("WebDriver:NewSession", {})
...     m.request("WebDriver:GetTitle")
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from tether.deadline import Deadline
from tether.discovery import listener_pid
from tether.errors import Busy, CommandError, ProtocolError, Timeout, Unreachable, WrongApp
from tether.transport.framed import FramedConnection

from .probe import bidi_client, bidi_port_of, check_greeting, profile_dir

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

PROTOCOL = 3
#: Commands whose result is not wrapped in ``{"value": …}`` (Firefox's ``commandsNoValueResponse``).
NO_VALUE = frozenset(
    {
        "Marionette:Quit",
        "WebDriver:FindElements",
        "WebDriver:FindElementsFromShadowRoot",
        "WebDriver:CloseChromeWindow",
        "WebDriver:CloseWindow",
        "WebDriver:FullscreenWindow",
        "WebDriver:GetCookies",
        "WebDriver:GetElementRect",
        "WebDriver:GetTimeouts",
        "WebDriver:GetWindowHandles",
        "WebDriver:GetWindowRect",
        "WebDriver:MaximizeWindow",
        "WebDriver:MinimizeWindow",
        "WebDriver:NewSession",
        "WebDriver:NewWindow",
        "WebDriver:SetWindowRect",
    }
)
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
SHADOW_KEY = "shadow-6066-11e4-a52e-4f735466cecf"


# ----------------------------------------------------------------------------- errors
class MarionetteError(CommandError):
    """Firefox answered a command with a WebDriver error. ``code`` is the W3C error code
    (``no such element`` …), ``app_message`` Firefox's message, ``stacktrace`` its stack."""

    code = "unknown error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        app_message: str | None = None,
        stacktrace: str = "",
        data: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, app_message=app_message, hint=hint, code=code or self.code)
        if code:
            self.code = code
        self.stacktrace = stacktrace
        self.data = data


# Every WebDriver error code of Firefox's remote agent (remote/shared/webdriver/Errors.sys.mjs), each
# its own class, so that a caller catches exactly the refusal it expects. All exit 1 (Firefox refused),
# but the two timeouts below, which exit 4.


class DetachedShadowRoot(MarionetteError):
    code = "detached shadow root"


class ElementClickIntercepted(MarionetteError):
    code = "element click intercepted"


class ElementNotAccessible(MarionetteError):
    code = "element not accessible"


class ElementNotInteractable(MarionetteError):
    code = "element not interactable"


class InsecureCertificate(MarionetteError):
    code = "insecure certificate"


class InvalidArgument(MarionetteError):
    code = "invalid argument"


class InvalidCookieDomain(MarionetteError):
    code = "invalid cookie domain"


class InvalidElementState(MarionetteError):
    code = "invalid element state"


class InvalidSelector(MarionetteError):
    code = "invalid selector"


class InvalidSessionId(MarionetteError):
    code = "invalid session id"


class JavascriptError(MarionetteError):
    code = "javascript error"


class MoveTargetOutOfBounds(MarionetteError):
    code = "move target out of bounds"


class NoSuchAlert(MarionetteError):
    code = "no such alert"


class NoSuchCookie(MarionetteError):
    code = "no such cookie"


class NoSuchElement(MarionetteError):
    code = "no such element"


class NoSuchFrame(MarionetteError):
    code = "no such frame"


class NoSuchHandle(MarionetteError):
    code = "no such handle"


class NoSuchHistoryEntry(MarionetteError):
    code = "no such history entry"


class NoSuchIntercept(MarionetteError):
    code = "no such intercept"


class NoSuchNode(MarionetteError):
    code = "no such node"


class NoSuchRequest(MarionetteError):
    code = "no such request"


class NoSuchScript(MarionetteError):
    code = "no such script"


class NoSuchShadowRoot(MarionetteError):
    code = "no such shadow root"


class NoSuchUserContext(MarionetteError):
    code = "no such user context"


class NoSuchWindow(MarionetteError):
    code = "no such window"


class SessionNotCreated(MarionetteError):
    code = "session not created"


class StaleElementReference(MarionetteError):
    code = "stale element reference"


class UnableToCaptureScreen(MarionetteError):
    code = "unable to capture screen"


class UnableToSetCookie(MarionetteError):
    code = "unable to set cookie"


class UnableToSetFileInput(MarionetteError):
    code = "unable to set file input"


class UnexpectedAlertOpen(MarionetteError):
    code = "unexpected alert open"


class UnknownCommand(MarionetteError):
    code = "unknown command"


class UnknownError(MarionetteError):
    code = "unknown error"


class UnsupportedOperation(MarionetteError):
    code = "unsupported operation"


class ScriptTimeout(MarionetteError, Timeout):
    """A script did not finish within the session's script timeout (exit 4, like every timeout)."""

    code = "script timeout"
    exit_code = 4


class PageLoadTimeout(MarionetteError, Timeout):
    """Firefox's own ``timeout`` error: a page load or an implicit wait ran out (exit 4)."""

    code = "timeout"
    exit_code = 4


ERRORS: dict[str, type[MarionetteError]] = {
    cls.code: cls
    for cls in (
        DetachedShadowRoot,
        ElementClickIntercepted,
        ElementNotAccessible,
        ElementNotInteractable,
        InsecureCertificate,
        InvalidArgument,
        InvalidCookieDomain,
        InvalidElementState,
        InvalidSelector,
        InvalidSessionId,
        JavascriptError,
        MoveTargetOutOfBounds,
        NoSuchAlert,
        NoSuchCookie,
        NoSuchElement,
        NoSuchFrame,
        NoSuchHandle,
        NoSuchHistoryEntry,
        NoSuchIntercept,
        NoSuchNode,
        NoSuchRequest,
        NoSuchScript,
        NoSuchShadowRoot,
        NoSuchUserContext,
        NoSuchWindow,
        PageLoadTimeout,
        ScriptTimeout,
        SessionNotCreated,
        StaleElementReference,
        UnableToCaptureScreen,
        UnableToSetCookie,
        UnableToSetFileInput,
        UnexpectedAlertOpen,
        UnknownCommand,
        UnknownError,
        UnsupportedOperation,
    )
}

SYSTEM_ACCESS_HINT = (
    "the chrome context needs Firefox started with -remote-allow-system-access (Firefox 138 and later); "
    "`tether firefox launch --system-access` does that"
)


DIALOG_HINT = (
    "answer it first: `tether firefox alert accept|dismiss|send TEXT` (`tether firefox alert` reads it)"
)


def dialog_type(message: str) -> str:
    """``alert``, ``confirm``, ``prompt`` or ``beforeunload`` from Firefox's "unexpected alert open"
    message (``Unexpected confirm dialog detected. Performed handler "ignore"``); ``dialog`` else."""
    import re

    m = re.search(r"Unexpected (\w+) dialog", message)
    return m.group(1) if m else "dialog"


def map_error(name: str, error: Any) -> MarionetteError:
    """The typed error for an error object of a reply to command ``name``."""
    if not isinstance(error, dict):
        return MarionetteError(f"{name} failed: {error!r}", app_message=str(error))
    code = str(error.get("error") or "unknown error")
    message = str(error.get("message") or "")
    cls = ERRORS.get(code, MarionetteError)
    hint = None
    if code == "unsupported operation" and ("chrome" in message.lower() or "system" in message.lower()):
        hint = SYSTEM_ACCESS_HINT
    text = f"{name}: {code}" + (f": {message}" if message else "")
    if code == "unexpected alert open":  # Firefox left the dialog open (unhandledPromptBehavior "ignore")
        kind = dialog_type(message)
        said = (error.get("data") or {}).get("text") if isinstance(error.get("data"), dict) else None
        article = "an" if kind[:1] in "aeiou" else "a"
        text = f"{name}: {article} {kind} dialog is open" + (f": {said}" if said is not None else "")
        hint = DIALOG_HINT
    return cls(
        text,
        code=code,
        app_message=message,
        stacktrace=str(error.get("stacktrace") or ""),
        data=error.get("data"),
        hint=hint,
    )


# ----------------------------------------------------------------------------- busy holder
def likely_holder(port: int, firefox_pid: int | None = None) -> str | None:
    """Who probably holds the session on ``port``: a geckodriver among Firefox's parents, else
    a process with an established connection to the port — or to the same Firefox's WebDriver
    BiDi port, since BiDi and Marionette share the one session. ``None`` when nobody is seen."""
    import psutil

    watched = {port: ""}
    if firefox_pid:
        try:
            proc = psutil.Process(firefox_pid)
            for parent in proc.parents():
                if "geckodriver" in parent.name().lower():
                    return f"geckodriver (pid {parent.pid})"
            profile = profile_dir(proc.cmdline())
        except psutil.Error:
            profile = None
        bidi = bidi_port_of(profile) if profile is not None else None
        if bidi is not None:
            watched[bidi] = " over WebDriver BiDi"
    try:
        conns = psutil.net_connections("tcp")
    except (psutil.Error, OSError):
        return None
    for c in conns:
        if c.status != psutil.CONN_ESTABLISHED or not c.raddr or c.raddr[1] not in watched:
            continue
        if not c.raddr[0].startswith("127."):
            continue
        via = watched[c.raddr[1]]
        if c.pid is None:
            return "a process of another user" + via
        try:
            return f"{psutil.Process(c.pid).name()} (pid {c.pid}){via}"
        except psutil.Error:
            return f"pid {c.pid}{via}"
    return None


def busy_error(host: str, port: int, holder: str | None, why: str = "") -> Busy:
    """The :class:`Busy` error for a Firefox whose one WebDriver session another client holds."""
    who = f" ({holder})" if holder else ""
    return Busy(
        f"Firefox at {host}:{port} is busy: another client{who} holds its WebDriver session"
        + (f" ({why})" if why else ""),
        hint="Firefox serves one session at a time (Marionette and BiDi together): close the other client "
        "(a Selenium/geckodriver session, `tether firefox logs`, another tether command) and try again",
        host=host,
        port=port,
        holder=holder,
    )


GREETLESS = "Firefox closed the connection without a greeting"


# ----------------------------------------------------------------------------- connection
class Marionette:
    """One connection speaking Marionette: ``call`` a command and get its result."""

    def __init__(self, conn: FramedConnection, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.conn = conn
        self.host, self.port = host, port
        self.timeout = timeout
        self._next_id = 0
        self.timed_out = False  # a call gave up waiting (or was interrupted): closing must not wait

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        busy_wait: float = 3.0,
    ) -> Marionette:
        """Connect and validate the greeting (see :func:`open_connection`)."""
        conn = open_connection(host, port, connect_timeout=connect_timeout, busy_wait=busy_wait)
        return cls(conn, host, port, timeout=timeout)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self.conn.sock is None

    def send(self, name: str, params: dict | None = None) -> int:
        """Send a command without waiting; returns its message id (for pipelining)."""
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        self.conn.write_frame([0, self._next_id, name, params or {}], Deadline(self.timeout))
        return self._next_id

    def receive(self, msg_id: int, name: str, deadline: Deadline) -> Any:
        """The result of command ``msg_id``; replies to earlier (timed-out) commands are dropped."""
        while True:
            try:
                frame = self.conn.read_frame(deadline)
            except Timeout as exc:
                self.timed_out = True  # a reply may still come: this connection is out of step
                raise Timeout(
                    f"Firefox did not answer {name} within {deadline.seconds:g} s",
                    hint="raise --timeout, or check the page (a modal dialog, a script that never returns)",
                ) from exc
            if frame is None:
                self.close()
                raise Unreachable(
                    f"Firefox closed the connection during {name} (did it exit or crash?)",
                    host=self.host,
                    port=self.port,
                )
            if not (
                isinstance(frame, list) and len(frame) == 4 and frame[0] == 1 and isinstance(frame[1], int)
            ):
                raise ProtocolError(f"unexpected Marionette frame {json.dumps(frame)[:120]}")
            if frame[1] != msg_id:
                continue  # a late reply to a command we gave up on
            if frame[2] is not None:
                raise map_error(name, frame[2])
            return frame[3]

    def call(
        self,
        name: str,
        params: dict | None = None,
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> Any:
        """Run one command and return its raw result (``{"value": …}`` for most commands);
        ``deadline`` (a command's, shared by its calls) takes the place of ``timeout``."""
        if self.conn.sock is None:
            raise Unreachable("the Marionette connection is closed")
        if deadline is None:
            deadline = Deadline(self.timeout if timeout is None else timeout)
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        msg_id = self._next_id
        self.conn.write_frame([0, msg_id, name, params or {}], deadline)
        try:
            return self.receive(msg_id, name, deadline)
        except MarionetteError:
            raise  # Firefox answered (with an error): the connection is in step
        except BaseException:  # a timeout, Ctrl-C, a broken frame: a reply may still come
            self.timed_out = True
            raise

    def request(
        self,
        name: str,
        params: dict | None = None,
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> Any:
        """Run one command and return its value (unwrapping ``{"value": …}`` where Firefox wraps)."""
        result = self.call(name, params, timeout=timeout, deadline=deadline)
        if name in NO_VALUE or not isinstance(result, dict) or "value" not in result:
            return result
        return result["value"]

    def close(self) -> None:
        """Close the connection (Firefox ends a session this connection held)."""
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_greeting(conn: FramedConnection, deadline: Deadline) -> dict | None:
    """The greeting, validated; ``None`` when Firefox closed the connection without one."""
    greeting = conn.read_frame(deadline)
    if greeting is None:
        return None
    verdict = check_greeting(greeting)
    if verdict.verdict != "verified":
        raise WrongApp(f"the peer is not Firefox Marionette: {verdict.detail}", greeting=greeting)
    return greeting


def open_connection(
    host: str, port: int, *, connect_timeout: float = 5.0, busy_wait: float = 3.0
) -> FramedConnection:
    """A connection past a valid greeting.

    When Firefox closes the connection without a greeting, another client holds the
    session — unless that session has just ended, when Firefox may refuse for a moment.
    So: if a holder is visible (an established connection to the port, a geckodriver
    parent), raise :class:`Busy` at once; otherwise retry with a backoff for ``busy_wait``
    seconds before raising it.
    """
    holder = bidi_client(port)
    if holder is not None:  # connecting at all would end that client's session
        raise busy_error(host, port, holder, "not connecting, so as not to end it")
    give_up = time.monotonic() + busy_wait
    pause = 0.05
    checked = False
    while True:
        connected = Deadline(connect_timeout)  # the connect and the greeting share it
        conn = FramedConnection.open(host, port, connected, what="Firefox Marionette")
        try:
            try:
                greeting = read_greeting(conn, connected)
            except Timeout as exc:
                raise Timeout(
                    f"Firefox at {host}:{port} sent no Marionette greeting within {connect_timeout:g} s",
                    hint="is it Firefox, and is it responsive?",
                ) from exc
            except ProtocolError as exc:
                raise WrongApp(f"{host}:{port} does not speak Marionette's framing: {exc.message}") from exc
        except BaseException:
            conn.close()
            raise
        if greeting is not None:
            return conn
        conn.close()
        if not checked:
            holder = likely_holder(port, listener_pid(port))
            checked = True
            if holder is not None:
                raise busy_error(host, port, holder, GREETLESS)
        if time.monotonic() + pause > give_up:
            raise busy_error(host, port, likely_holder(port, listener_pid(port)), GREETLESS)
        time.sleep(pause)
        pause = min(pause * 2, 0.4)


__all__ = [
    "ELEMENT_KEY",
    "ERRORS",
    "NO_VALUE",
    "SHADOW_KEY",
    "DetachedShadowRoot",
    "ElementClickIntercepted",
    "ElementNotAccessible",
    "ElementNotInteractable",
    "InsecureCertificate",
    "InvalidArgument",
    "InvalidCookieDomain",
    "InvalidElementState",
    "InvalidSelector",
    "InvalidSessionId",
    "JavascriptError",
    "Marionette",
    "MarionetteError",
    "MoveTargetOutOfBounds",
    "NoSuchAlert",
    "NoSuchCookie",
    "NoSuchElement",
    "NoSuchFrame",
    "NoSuchHandle",
    "NoSuchHistoryEntry",
    "NoSuchIntercept",
    "NoSuchNode",
    "NoSuchRequest",
    "NoSuchScript",
    "NoSuchShadowRoot",
    "NoSuchUserContext",
    "NoSuchWindow",
    "PageLoadTimeout",
    "ScriptTimeout",
    "SessionNotCreated",
    "StaleElementReference",
    "UnableToCaptureScreen",
    "UnableToSetCookie",
    "UnableToSetFileInput",
    "UnexpectedAlertOpen",
    "UnknownCommand",
    "UnknownError",
    "UnsupportedOperation",
    "busy_error",
    "dialog_type",
    "likely_holder",
    "map_error",
    "open_connection",
    "read_greeting",
]
