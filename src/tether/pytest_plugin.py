"""tether's pytest plugin (entry point ``pytest11``): fixtures ``firefox``, ``igv`` and ``qserver``.

Each fixture hands a test the app's tether client:

- **attach** to the app named on the command line (``--tether-firefox-port``, ``--tether-igv-port``,
  ``--tether-qserver-url``, else ``$TETHER_<APP>_PORT`` / the config file), else to the one
  instance tether verifies on this machine;
- otherwise **launch** one for the test session and stop it at the end (Firefox headless; IGV
  under its own Xvfb, with ``--tether-igv-genome``). ``--tether-launch`` always launches a fresh
  Firefox and IGV rather than attaching to yours. The queue server is never launched: ``qserver``
  skips, saying why, when none answers.

Isolation: ``firefox`` is function-scoped. Each test gets its own Marionette session and a **fresh
tab** (about:blank), closed again after the test, so navigation, history and page state do not
leak between tests and a failing test never leaves the browser locked. Cookies and storage belong
to the profile and are shared by tabs: a test that needs a clean origin deletes them
(``firefox.delete_cookie()``). ``igv`` (one client for the session) and ``qserver`` are
session-scoped: IGV has one view, the queue server one queue.

Network and trace: ``--tether-har`` records each ``firefox`` test's requests (WebDriver BiDi) and
saves a failing test's ``network.har`` with its artifacts; ``--tether-trace=on-failure`` (or
``always``) records each action (name, selector, duration, outcome) with a screenshot after it,
the console and the network, and writes a self-contained ``trace.html`` (step through it with
the arrow keys; the failing step is marked) with the artifacts of each failing (or every) test.

Artifacts: when a test using ``firefox`` fails, a screenshot and the page source are saved, and
with ``igv`` a snapshot of IGV's view, under ``--tether-artifacts DIR`` (default: ``tether-artifacts``
in pytest's temporary directory, printed in the header); their paths are added to the test's
report (a "tether artifacts" section, and ``user_properties`` for JUnit XML).

JavaScript errors: ``--tether-js-errors=fail`` (or ``tether_js_errors = fail`` in the ini file)
fails a ``firefox`` test whose pages threw an uncaught error, with the errors' messages in the
report; ``warn`` adds them as a warning; ``ignore`` (the default) leaves them alone; a test's own
``@pytest.mark.tether_js_errors("ignore")`` (or ``"fail"``, ``"warn"``) overrides it. With ``fail``
or ``warn`` the fixture's session collects the console over WebDriver BiDi
(``firefox.console_messages()``): the Firefox it launches runs BiDi; one attached to must too.

This module imports only pytest at load time: it is loaded in every pytest run of an
environment where tether is installed. tether and the adapters load when a fixture is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS_KEY = pytest.StashKey[Path]()
SAVED_KEY = pytest.StashKey[list]()
PAGES_KEY = pytest.StashKey[tuple]()  # an item's (Firefox client, contexts that were there before it)
JS_ERRORS_KEY = pytest.StashKey[list]()  # an item's uncaught JavaScript errors, once read

JS_ERRORS = ("ignore", "warn", "fail")
TRACES = ("off", "on-failure", "always")
RECORDING_KEY = pytest.StashKey[Any]()  # an item's tether_firefox.trace.Recording (HAR, trace)
#: how long the check waits for errors still on their way (they come asynchronously: 0-35 ms measured)
JS_SETTLE = 0.05


class JavaScriptErrorWarning(UserWarning):
    """A ``firefox`` test's page threw an uncaught JavaScript error (``--tether-js-errors=warn``)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "tether: fixtures for IGV, Firefox and the Bluesky queue server")
    group.addoption(
        "--tether-firefox-port", type=int, metavar="PORT", help="Marionette port of the Firefox to use."
    )
    group.addoption("--tether-igv-port", type=int, metavar="PORT", help="Batch port of the IGV to use.")
    group.addoption(
        "--tether-qserver-url",
        metavar="URL",
        help="URL of the Bluesky HTTP server to use (API key from its env).",
    )
    group.addoption(
        "--tether-launch",
        action="store_true",
        help="Launch a fresh Firefox/IGV for the session instead of attaching to a running one.",
    )
    group.addoption(
        "--tether-igv-genome",
        metavar="GENOME",
        help="Genome for an IGV the plugin launches (id or indexed FASTA).",
    )
    group.addoption(
        "--tether-artifacts",
        metavar="DIR",
        help="Where failing tests' screenshots, page sources and IGV snapshots go "
        "(default: tether-artifacts in pytest's temporary directory).",
    )
    group.addoption(
        "--tether-js-errors",
        choices=JS_ERRORS,
        default=None,
        help="A firefox test whose page threw an uncaught JavaScript error: fail it, warn, or ignore "
        "(the default; ini: tether_js_errors).",
    )
    # -- network and trace (issue 22): the logic is tether_firefox.trace.Recording -----------
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


def pytest_configure(config: pytest.Config) -> None:
    _js_errors_mode(config)  # a bad ini value stops the run before any test
    config.addinivalue_line(
        "markers",
        "tether_js_errors(mode): this test's uncaught JavaScript errors: ignore, warn or fail "
        "(overrides --tether-js-errors)",
    )


def _artifacts_dir(config: pytest.Config) -> Path:
    if ARTIFACTS_KEY not in config.stash:
        given = config.getoption("tether_artifacts")
        if given:
            path = Path(given).expanduser().resolve()
        else:
            factory = getattr(config, "_tmp_path_factory", None)
            base = factory.getbasetemp() if factory is not None else Path(".").resolve()
            path = base / "tether-artifacts"
        config.stash[ARTIFACTS_KEY] = path
    return config.stash[ARTIFACTS_KEY]


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("tether_artifacts"):
        return f"tether: artifacts of failing tests go to {_artifacts_dir(config)}"
    return None


# -- finding or launching the apps ---------------------------------------------------------------
def _given_port(config: pytest.Config, app: str) -> int | None:
    port = config.getoption(f"tether_{app}_port")
    if port is not None:
        return port
    from tether import config as settings

    return settings.resolve(app, (), {}).get("port")


def _running(app: str, title: str) -> Any | None:
    """The one verified instance of ``app`` on this machine, or None; several is a usage error."""
    import tether

    found = [ep for ep in tether.scan([app]) if ep.verified]
    if len(found) > 1:
        ports = ", ".join(str(ep.port) for ep in found)
        raise pytest.UsageError(
            f"{len(found)} {title} instances answer on this machine (ports {ports}): "
            f"pick one with --tether-{app}-port, or --tether-launch a fresh one"
        )
    return found[0] if found else None


def _client(app: str, endpoint: Any, **options: Any) -> Any:
    from tether import registry

    return registry.get(app).connect(endpoint, **options)


def _session_endpoint(request: pytest.FixtureRequest, app: str, title: str, launch) -> Iterator[Any]:
    import tether
    from tether.errors import TetherError

    config = request.config
    port = _given_port(config, app)
    if port is not None:
        try:
            yield tether.find(app, port=port)
        except TetherError as exc:
            pytest.fail(f"{title} on port {port} (--tether-{app}-port): {exc}", pytrace=False)
        return
    if not config.getoption("tether_launch"):
        endpoint = _running(app, title)
        if endpoint is not None:
            yield endpoint
            return
    try:
        port, stop = launch(config)
    except TetherError as exc:
        pytest.skip(f"no {title} is running and tether could not launch one: {exc}")
    try:
        yield tether.find(app, port=port, timeout=10)
    finally:
        stop()


def _launch_firefox(config: pytest.Config):
    from tether_firefox.launch import launch, quit_firefox

    rec = launch(headless=True, bidi=True)  # BiDi: the console of --tether-js-errors
    return rec.port, lambda: quit_firefox(port=rec.port)


def _launch_igv(config: pytest.Config):
    from tether_igv.launch import launch

    rec = launch(config.getoption("tether_igv_genome"), headless=True)
    return rec.port, rec.stop


@pytest.fixture(scope="session")
def tether_firefox_endpoint(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The verified Firefox the ``firefox`` fixture drives (attached to, or launched for the session)."""
    yield from _session_endpoint(request, "firefox", "Firefox", _launch_firefox)


@pytest.fixture(scope="session")
def tether_igv_endpoint(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The verified IGV the ``igv`` fixture drives (attached to, or launched for the session)."""
    yield from _session_endpoint(request, "igv", "IGV", _launch_igv)


@pytest.fixture
def firefox(request: pytest.FixtureRequest, tether_firefox_endpoint: Any) -> Iterator[Any]:
    """A :class:`tether_firefox.Firefox` with its own Marionette session and a fresh tab, both
    closed after the test (the browser stays up for the next test). With ``--tether-js-errors``
    ``fail`` or ``warn`` its session collects the console (``firefox.console_messages()``). Its
    network (``firefox.route``, ``expect_response``, ``record_har``) works on a Firefox running
    WebDriver BiDi, as the one the plugin launches does."""
    from tether.errors import NotFound, TetherError

    mode = _item_js_errors_mode(request.node)
    console = mode != "ignore"
    har, trace = request.config.getoption("tether_har"), request.config.getoption("tether_trace")
    recording = har or trace != "off"
    # network=True: the session's BiDi endpoint, for firefox.route/expect_response/record_har in the test
    # and for --tether-har/--tether-trace (a Firefox without the Remote Agent just offers none)
    ff = _client("firefox", tether_firefox_endpoint, timeout=30, console=console, network=True)
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
    original = tab = None
    try:
        original = ff.window
        before = set(ff.windows())  # errors of tabs that were there already are not this test's
        tab = ff.new_window("tab")
        if console:
            request.node.stash[PAGES_KEY] = (ff, before)
        if recording:  # after the fixture's own steps: the trace starts with the test's
            from tether_firefox.trace import Recording

            request.node.stash[RECORDING_KEY] = Recording(ff, har=har, trace=trace)
        yield ff
    finally:
        if RECORDING_KEY in request.node.stash:
            request.node.stash[RECORDING_KEY].stop()
        try:
            if tab is not None and ff.session_id is not None and tab in ff.windows():
                ff.switch_to_window(tab)
                ff.close_window()
                ff.switch_to_window(original)
        except TetherError:  # the test closed the tab itself, or the browser went away
            pass
        finally:
            ff.close()


@pytest.fixture(scope="session")
def igv(tether_igv_endpoint: Any) -> Any:
    """A :class:`tether_igv.IGVClient` for the session's IGV."""
    return _client("igv", tether_igv_endpoint, timeout=30)


@pytest.fixture(scope="session")
def qserver(request: pytest.FixtureRequest) -> Any:
    """A :class:`tether_qserver.QueueServer` for the running Bluesky HTTP server (attach only: the
    test is skipped, saying why, when none is verified). The API key comes from the usual
    places (``$QSERVER_HTTP_SERVER_API_KEY``, ``$TETHER_QSERVER_API_KEY``, the config file)."""
    import tether
    from tether.errors import NotFound, TetherError, Unreachable

    url = request.config.getoption("tether_qserver_url")
    try:
        if url:  # the adapter's own `url` setting: https and a path prefix are the adapter's to handle
            return tether.connect("qserver", url=url, timeout=30)
        endpoint = _running("qserver", "Bluesky HTTP server")
        if endpoint is None:
            pytest.skip(
                "no Bluesky HTTP server is verified on this machine (tether never launches one): "
                "start it, or name it with --tether-qserver-url URL"
            )
        return tether.connect("qserver", endpoint.host, endpoint.port, timeout=30)
    except (NotFound, Unreachable) as exc:
        pytest.skip(f"the Bluesky HTTP server at {url or 'the address found'} does not answer: {exc}")
    except TetherError as exc:
        pytest.fail(f"the Bluesky HTTP server: {exc}", pytrace=False)


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


# -- artifacts of failing tests ------------------------------------------------------------------
def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


def _save_artifacts(item: pytest.Item) -> list[tuple[str, str]]:
    """Screenshot and page source (``firefox``), snapshot (``igv``); returns (what, path or error)."""
    funcargs = getattr(item, "funcargs", {})
    if "firefox" not in funcargs and "igv" not in funcargs:
        return []
    directory = _artifacts_dir(item.config) / _slug(item.nodeid)
    directory.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[str, str]] = []

    def attempt(what: str, path: Path, save) -> None:
        try:
            save(path)
            saved.append((what, str(path)))
        except Exception as exc:  # an artifact must never hide the test's own failure
            saved.append((what, f"not saved: {type(exc).__name__}: {exc}"))

    ff = funcargs.get("firefox")
    if ff is not None:
        attempt("screenshot", directory / "screenshot.png", lambda p: ff.screenshot(p))
        attempt("page source", directory / "page.html", lambda p: p.write_text(ff.source, encoding="utf-8"))
    client = funcargs.get("igv")
    if client is not None:
        attempt("IGV snapshot", directory / "igv.png", lambda p: client.snapshot(p))
    return saved


def _save_recording(item: pytest.Item, report: pytest.TestReport) -> list[tuple[str, str]]:
    """A failing test's HAR (``--tether-har``), its trace (``--tether-trace``): (what, path or error)."""
    recording = item.stash.get(RECORDING_KEY, None)
    if recording is None:
        return []
    message = str(report.longreprtext or "") if report.failed else ""
    directory = _artifacts_dir(item.config) / _slug(item.nodeid)
    return recording.save(directory, title=item.nodeid, failed=report.failed, message=message)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    if PAGES_KEY in item.stash:
        errors = _page_errors(item)
        if errors:
            report.sections.append(("tether JavaScript errors", _describe_errors(errors)))
    recorded = _save_recording(item, report)  # a HAR and a trace (issue 22), before the test's tab goes
    if not report.failed and not recorded:
        return
    # the fixtures are still up: teardown comes after this report
    saved = (_save_artifacts(item) if report.failed else []) + recorded
    if not saved:
        return
    report.sections.append(("tether artifacts", "\n".join(f"{what}: {where}" for what, where in saved)))
    for what, where in saved:  # the item's reach the teardown report, which JUnit XML reads
        report.user_properties.append((f"tether {what}", where))
        item.user_properties.append((f"tether {what}", where))
    item.config.stash.setdefault(SAVED_KEY, []).append((item.nodeid, saved))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    saved = config.stash.get(SAVED_KEY, [])
    if not saved:
        return
    terminalreporter.section("tether artifacts")
    terminalreporter.write_line(f"in {_artifacts_dir(config)}")
    for nodeid, items in saved:
        terminalreporter.write_line(nodeid)
        for what, where in items:
            terminalreporter.write_line(f"  {what}: {where}")


__all__ = [
    "JavaScriptErrorWarning",
    "firefox",
    "igv",
    "qserver",
    "tether_firefox_endpoint",
    "tether_igv_endpoint",
]
