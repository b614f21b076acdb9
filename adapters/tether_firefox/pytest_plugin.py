"""Firefox's pytest fixtures (entry point ``pytest11`` ``tether_firefox``): ``firefox`` and
``tether_firefox_endpoint``.

``tether_firefox_endpoint`` (session-scoped) is the Firefox named by ``--tether-firefox-port``
(else ``$TETHER_FIREFOX_PORT`` / the config file), else the one tether verifies on this machine,
else one launched headless (with WebDriver BiDi) for the session and quit after it;
``--tether-launch`` always launches.

``firefox`` (function-scoped) is a :class:`tether_firefox.Firefox` with its own Marionette
session in a **fresh context**: a WebDriver BiDi user context of its own (cookies, localStorage,
IndexedDB, cache) and a tab in it, removed after the test — nothing leaks from one test to the
next, and Firefox does not restart (``Firefox.new_context()`` does the same in a script). A
Firefox attached to that runs no BiDi (no ``--remote-debugging-port``) cannot make user
contexts: the fixture says so once (a :class:`FreshContextWarning`) and gives each test a fresh
tab only — navigation and page state are the test's own, cookies and storage the profile's.

pytest-xdist: with ``-n N`` (N > 1) each worker launches a Firefox of its own (one Firefox
serves one WebDriver session at a time); a Firefox named by port cannot serve several workers,
and the run says so (a usage error naming ``--tether-launch``).

Artifacts: when a test using ``firefox`` fails, a screenshot and the page source are saved with
its artifacts (tether's shared plugin: ``--tether-artifacts``).

Network and trace: ``--tether-har`` records each ``firefox`` test's requests (WebDriver BiDi) and
saves a failing test's ``network.har`` with its artifacts; ``--tether-trace=on-failure`` (or
``always``) records each action (name, selector, duration, outcome) with a screenshot after it,
the console and the network, and writes a self-contained ``trace.html`` (step through it with
the arrow keys; the failing step is marked) with the artifacts of each failing (or every) test.

JavaScript errors: ``--tether-js-errors=fail`` (or ``tether_js_errors = fail`` in the ini file)
fails a ``firefox`` test whose pages threw an uncaught error, with the errors' messages in the
report; ``warn`` adds them as a warning; ``ignore`` (the default) leaves them alone; a test's own
``@pytest.mark.tether_js_errors("ignore")`` (or ``"fail"``, ``"warn"``) overrides it. With ``fail``
or ``warn`` the fixture's session collects the console over WebDriver BiDi
(``firefox.console_messages()``): the Firefox it launches runs BiDi; one attached to must too.

This module imports only pytest at load time (it loads in every pytest run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PAGES_KEY = pytest.StashKey[tuple]()  # an item's (Firefox client, contexts that were there before it)
JS_ERRORS_KEY = pytest.StashKey[list]()  # an item's uncaught JavaScript errors, once read

JS_ERRORS = ("ignore", "warn", "fail")
TRACES = ("off", "on-failure", "always")
RECORDING_KEY = pytest.StashKey[Any]()  # an item's trace.Recording (--tether-har, --tether-trace)
#: how long the check waits for errors still on their way (they come asynchronously: 0-35 ms measured)
JS_SETTLE = 0.05


NO_BIDI_KEY = pytest.StashKey[bool]()  # the fixture said once that Firefox makes no fresh contexts


class JavaScriptErrorWarning(UserWarning):
    """A ``firefox`` test's page threw an uncaught JavaScript error (``--tether-js-errors=warn``)."""


class FreshContextWarning(UserWarning):
    """The attached Firefox runs no WebDriver BiDi: ``firefox`` tests get a fresh tab, not a fresh context."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "tether: fixtures for IGV, Firefox and the Bluesky queue server")
    group.addoption(
        "--tether-firefox-port", type=int, metavar="PORT", help="Marionette port of the Firefox to use."
    )
    group.addoption(
        "--tether-js-errors",
        choices=JS_ERRORS,
        default=None,
        help="A firefox test whose page threw an uncaught JavaScript error: fail it, warn, or ignore "
        "(the default; ini: tether_js_errors).",
    )
    group.addoption(
        "--tether-har",
        action="store_true",
        help="Record each firefox test's network; a failing test's HAR goes with its artifacts.",
    )
    group.addoption(
        "--tether-trace",
        choices=TRACES,
        default="off",
        help="Record each firefox test's actions, screenshots, console and network; write a "
        "trace.html per failing test (on-failure) or per test (always). Default: off.",
    )
    parser.addini(
        "tether_js_errors", "Uncaught JavaScript errors in firefox tests: ignore, warn or fail.", default=""
    )


def _js_errors_mode(config: pytest.Config) -> str:
    mode = config.getoption("tether_js_errors") or config.getini("tether_js_errors") or "ignore"
    if mode not in JS_ERRORS:
        raise pytest.UsageError(
            f"tether_js_errors = {mode!r} in the ini file: use one of {', '.join(JS_ERRORS)}"
        )
    return mode


def _item_js_errors_mode(item: pytest.Item) -> str:
    """The mode for one test: its ``tether_js_errors`` marker, else the run's."""
    marker = item.get_closest_marker("tether_js_errors")
    if marker is None:
        return _js_errors_mode(item.config)
    mode = marker.args[0] if marker.args else marker.kwargs.get("mode")
    if mode not in JS_ERRORS:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.tether_js_errors({mode!r}): use one of {', '.join(JS_ERRORS)}"
        )
    return mode


def _one_firefox_for_workers(config: pytest.Config, workers: int, port: int) -> pytest.UsageError:
    return pytest.UsageError(
        f"{workers} pytest-xdist workers cannot share the Firefox on port {port}: a Firefox serves one "
        "WebDriver session at a time. Run with --tether-launch (each worker launches a Firefox of its "
        "own), or without -n"
    )


def pytest_configure(config: pytest.Config) -> None:
    _js_errors_mode(config)  # a bad ini value stops the run before any test
    # `-n N --tether-firefox-port P`: refused before any worker starts (a port from the environment
    # or the config file is refused by the workers' fixture, when a test uses Firefox)
    workers = config.getoption("numprocesses", None)
    port = config.getoption("tether_firefox_port", None)
    if (
        isinstance(workers, int)
        and workers > 1
        and port is not None
        and not hasattr(config, "workerinput")
        and not config.getoption("tether_launch", False)
    ):
        raise _one_firefox_for_workers(config, workers, port)
    config.addinivalue_line(
        "markers",
        "tether_js_errors(mode): this test's uncaught JavaScript errors: ignore, warn or fail "
        "(overrides --tether-js-errors)",
    )


# -- the fixtures --------------------------------------------------------------------------------
def _launch_firefox(config: pytest.Config):
    from .launch import launch, quit_firefox

    rec = launch(headless=True, bidi=True)  # BiDi: the console of --tether-js-errors
    return rec.port, lambda: quit_firefox(port=rec.port)


def _xdist_workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers run the session (0: not under xdist)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return 0
    return int(workerinput.get("workercount") or 0)


@pytest.fixture(scope="session")
def tether_firefox_endpoint(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The verified Firefox the ``firefox`` fixture drives (attached to, or launched for the
    session; under pytest-xdist, launched for each worker)."""
    from tether.pytest_plugin import given_port, session_endpoint

    workers = _xdist_workers(request.config)
    if workers > 1 and not request.config.getoption("tether_launch", False):
        port = given_port(request.config, "firefox")
        if port is not None:
            raise _one_firefox_for_workers(request.config, workers, port)
    # under xdist every worker launches its own: a scan would find another worker's Firefox
    yield from session_endpoint(request, "firefox", "Firefox", _launch_firefox, attach=workers <= 1)


@pytest.fixture
def firefox(request: pytest.FixtureRequest, tether_firefox_endpoint: Any) -> Iterator[Any]:
    """A :class:`tether_firefox.Firefox` with its own Marionette session in a fresh context (a
    WebDriver BiDi user context and a tab in it), removed after the test (the browser stays up
    for the next test); a fresh tab only when Firefox runs no BiDi. With ``--tether-js-errors``
    ``fail`` or ``warn`` its session collects the console (``firefox.console_messages()``)."""
    from tether.errors import NotFound, TetherError

    from .adapter import FirefoxAdapter

    mode = _item_js_errors_mode(request.node)
    console = mode != "ignore"
    ff = FirefoxAdapter().connect(tether_firefox_endpoint, timeout=30, console=console, bidi=True)
    try:
        ff.open()
    except NotFound as exc:
        if not console:
            raise
        pytest.fail(
            f"--tether-js-errors={mode} needs a Firefox running WebDriver BiDi: {exc} "
            "(the Firefox the plugin launches runs it; start yours with --remote-debugging-port)",
            pytrace=False,
        )
    original = tab = context = None
    try:
        original = ff.window
        before = set(ff.windows())  # errors of tabs that were there already are not this test's
        if ff.bidi_url is not None:
            context = ff.new_context()
            context.__enter__()
        else:
            _say_no_fresh_context(request.config, ff)
            tab = ff.new_window("tab")
        if console:
            request.node.stash[PAGES_KEY] = (ff, before)
        har, trace = request.config.getoption("tether_har"), request.config.getoption("tether_trace")
        if har or trace != "off":  # after the fixture's own steps: the trace starts with the test's
            from .trace import Recording

            request.node.stash[RECORDING_KEY] = Recording(ff, har=har, trace=trace)
        yield ff
    finally:
        if RECORDING_KEY in request.node.stash:
            request.node.stash[RECORDING_KEY].stop()
        if context is not None:
            try:
                context.__exit__(None, None, None)  # removes the user context and its tabs
            except TetherError:  # the browser went away
                pass
        try:
            if tab is not None and ff.session_id is not None and tab in ff.windows():
                ff.switch_to_window(tab)
                ff.close_window()
                ff.switch_to_window(original)
        except TetherError:  # the test closed the tab itself, or the browser went away
            pass
        finally:
            ff.close()


def _say_no_fresh_context(config: pytest.Config, ff: Any) -> None:
    if config.stash.get(NO_BIDI_KEY, False):
        return
    config.stash[NO_BIDI_KEY] = True
    import warnings

    warnings.warn(
        FreshContextWarning(
            f"the Firefox on port {ff.port} runs no WebDriver BiDi: each firefox test gets a fresh tab, "
            "but cookies and storage are shared by all (they belong to the profile). Run Firefox with "
            "--remote-debugging-port (`tether firefox launch --bidi`), or --tether-launch, for a "
            "fresh context per test"
        ),
        stacklevel=1,
    )


# -- uncaught JavaScript errors ------------------------------------------------------------------
def _page_errors(item: pytest.Item) -> list[dict]:
    """The uncaught JavaScript errors of the pages ``item`` drove (read once; [] when the
    ``firefox`` fixture collects no console)."""
    if JS_ERRORS_KEY in item.stash:
        return item.stash[JS_ERRORS_KEY]
    watched = item.stash.get(PAGES_KEY, None)
    errors: list[dict] = []
    if watched is not None:
        import time

        from tether.errors import TetherError

        ff, before = watched
        # An error thrown by the test's last command may still be on its way: a round trip through
        # the page (its messages to Firefox's parent process keep their order), then a short wait.
        try:
            ff.request("WebDriver:ExecuteScript", {"script": "return 0", "args": []}, timeout=2.0)
        except TetherError:  # a dialog open, the window closed: the wait alone then
            pass
        time.sleep(JS_SETTLE)
        try:
            errors = [e for e in ff.js_errors() if e.get("context") not in before]
        except TetherError:  # the test closed the session itself
            errors = []
    item.stash[JS_ERRORS_KEY] = errors
    return errors


def _describe_errors(errors: list[dict]) -> str:
    def where(e: dict) -> str:
        url = str(e.get("url") or "")
        url = url if len(url) <= 120 else url[:117] + "..."
        return f" ({url}:{e['line']})" if url and e.get("line") is not None else (f" ({url})" if url else "")

    return "\n".join(f"{e.get('text')}{where(e)}" for e in errors)


@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """After a test passed (pytest's own call raises when it fails, and this never runs): fail it
    or warn when its pages threw uncaught JavaScript errors."""
    if PAGES_KEY not in item.stash:
        return
    errors = _page_errors(item)
    if not errors:
        return
    n = len(errors)
    message = f"{n} uncaught JavaScript error{'s' * (n > 1)} in the page: " + _describe_errors(errors)
    if _item_js_errors_mode(item) == "fail":
        pytest.fail(message + "\n(tether_js_errors: fail)", pytrace=False)
    import warnings

    warnings.warn(JavaScriptErrorWarning(message), stacklevel=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and PAGES_KEY in item.stash:
        errors = _page_errors(item)
        if errors:
            report.sections.append(("tether JavaScript errors", _describe_errors(errors)))


# -- artifacts of failing tests ------------------------------------------------------------------
def _failure_message(report: pytest.TestReport) -> str:
    """What failed, in a line or a few: the exception pytest reports (``E …`` lines), not the whole
    traceback with its source listing."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    return str(message) if message else str(report.longreprtext or "")[-2000:]


@pytest.hookimpl(optionalhook=True)
def pytest_tether_artifacts(item: pytest.Item, report: pytest.TestReport) -> list | None:
    ff = getattr(item, "funcargs", {}).get("firefox")
    if ff is None:
        return None
    recording = item.stash.get(RECORDING_KEY, None)
    out = []
    if recording is not None:  # the HAR and the trace (--tether-har, --tether-trace), first: tracing stops
        message = _failure_message(report) if report.failed else ""
        out = recording.savers(title=item.nodeid, failed=report.failed, message=message)
    if not report.failed:
        return out

    def screenshot(path: Path) -> None:
        ff.screenshot(path)

    def source(path: Path) -> None:
        path.write_text(ff.source, encoding="utf-8")

    return [*out, ("screenshot", "screenshot.png", screenshot), ("page source", "page.html", source)]


__all__ = ["FreshContextWarning", "JavaScriptErrorWarning", "firefox", "tether_firefox_endpoint"]
