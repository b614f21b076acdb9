"""tether's pytest plugin, the shared part (entry point ``pytest11`` ``tether``).

Each bundled adapter ships its own fixtures through its own ``pytest11`` entry point
(``tether_firefox.pytest_plugin``: ``firefox``; ``tether_igv.pytest_plugin``: ``igv``;
``tether_qserver.pytest_plugin``: ``qserver``). This module holds what they share:

- the options ``--tether-launch`` (launch a fresh app for the session rather than attach to a
  running one) and ``--tether-artifacts DIR`` (where failing tests' artifacts go; default:
  ``tether-artifacts`` in pytest's temporary directory, printed in the header);
- :func:`session_endpoint`, the attach-or-launch helper of a session fixture: the port named on
  the command line (``--tether-<app>-port``, when the adapter's plugin declares it), else
  ``$TETHER_<APP>_PORT`` / the config file, else the one instance tether verifies on this
  machine, else one launched for the session and stopped after it;
- the hook ``pytest_tether_artifacts(item)``: when a test fails, every plugin that implements it
  returns the artifacts it can save for that test (``(what, file name, save)``; ``save(path)``
  writes the file). They are saved under ``<artifacts>/<test id>/``; their paths go into the
  test's report (a "tether artifacts" section), the terminal summary and ``user_properties``
  (JUnit XML). A saver that fails is reported as "not saved", never hiding the test's failure.

This module imports only pytest at load time: it is loaded in every pytest run of an
environment where tether is installed. tether loads when a fixture uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS_KEY = pytest.StashKey[Path]()
SAVED_KEY = pytest.StashKey[list]()

#: what a ``pytest_tether_artifacts`` implementation returns: (what, file name, save(path))
Saver = tuple[str, str, Callable[[Path], Any]]


class TetherHookspecs:
    """The hooks tether's plugin calls on adapters' plugins."""

    @pytest.hookspec
    def pytest_tether_artifacts(self, item: pytest.Item, report: pytest.TestReport) -> list[Saver] | None:
        """The artifacts test ``item`` leaves after its call phase (``report``): ``(what, file
        name, save)`` tuples (e.g. ``("screenshot", "screenshot.png", lambda path:
        ff.screenshot(path))``), or None. Called for every test, passed or failed, while the
        fixtures are up (before teardown): most plugins save only when ``report.failed``, a trace
        asked for ``always`` saves either way. Implement it with ``@pytest.hookimpl(optionalhook=True)``."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(TetherHookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "tether: fixtures for IGV, Firefox and the Bluesky queue server")
    group.addoption(
        "--tether-launch",
        action="store_true",
        help="Launch a fresh app (Firefox, IGV) for the session instead of attaching to a running one.",
    )
    group.addoption(
        "--tether-artifacts",
        metavar="DIR",
        help="Where failing tests' artifacts (screenshots, page sources, IGV snapshots) go "
        "(default: tether-artifacts in pytest's temporary directory).",
    )


def artifacts_dir(config: pytest.Config) -> Path:
    """The directory failing tests' artifacts go to (``--tether-artifacts``, else pytest's temporary one)."""
    if ARTIFACTS_KEY not in config.stash:
        given = config.getoption("tether_artifacts", None)
        if given:
            path = Path(given).expanduser().resolve()
        else:
            factory = getattr(config, "_tmp_path_factory", None)
            base = factory.getbasetemp() if factory is not None else Path(".").resolve()
            path = base / "tether-artifacts"
        config.stash[ARTIFACTS_KEY] = path
    return config.stash[ARTIFACTS_KEY]


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("tether_artifacts", None):
        return f"tether: artifacts of failing tests go to {artifacts_dir(config)}"
    return None


# -- finding or launching the apps ---------------------------------------------------------------
def given_port(config: pytest.Config, app: str) -> int | None:
    """The port named for ``app``: ``--tether-<app>-port`` (when declared), else tether's settings."""
    port = config.getoption(f"tether_{app}_port", None)
    if port is not None:
        return port
    from tether import config as settings

    return settings.resolve(app, (), {}).get("port")


def running(app: str, title: str) -> Any | None:
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


def session_endpoint(
    request: pytest.FixtureRequest,
    app: str,
    title: str,
    launch: Callable[[pytest.Config], tuple[int, Callable[[], Any]]],
    *,
    attach: bool = True,
) -> Iterator[Any]:
    """The body of an app's session fixture (``yield from session_endpoint(...)``): the verified
    :class:`~tether.Endpoint` of the app named by port, else the one running (unless
    ``--tether-launch``, or ``attach=False``), else one ``launch(config)`` starts — it returns
    ``(port, stop)`` and ``stop()`` runs after the session. An app that cannot be launched skips
    the tests that need it, saying why."""
    import tether
    from tether.errors import TetherError

    config = request.config
    port = given_port(config, app)
    if port is not None:
        try:
            yield tether.find(app, port=port)
        except TetherError as exc:
            pytest.fail(f"{title} on port {port} (--tether-{app}-port): {exc}", pytrace=False)
        return
    if attach and not config.getoption("tether_launch", False):
        endpoint = running(app, title)
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


# -- artifacts of failing tests ------------------------------------------------------------------
def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


def _save_artifacts(item: pytest.Item, report: pytest.TestReport) -> list[tuple[str, str]]:
    """Every plugin's artifacts of ``item``; returns (what, path or why not)."""
    found = item.config.hook.pytest_tether_artifacts(item=item, report=report)
    savers = [s for each in found for s in (each or ())]
    if not savers:
        return []
    directory = artifacts_dir(item.config) / _slug(item.nodeid)
    directory.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[str, str]] = []
    for what, name, save in savers:
        path = directory / name
        try:
            save(path)
            saved.append((what, str(path)))
        except Exception as exc:  # an artifact must never hide the test's own failure
            saved.append((what, f"not saved: {type(exc).__name__}: {exc}"))
    return saved


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    saved = _save_artifacts(item, report)  # the fixtures are still up: teardown comes after this report
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
    terminalreporter.write_line(f"in {artifacts_dir(config)}")
    for nodeid, items in saved:
        terminalreporter.write_line(nodeid)
        for what, where in items:
            terminalreporter.write_line(f"  {what}: {where}")


__all__ = ["Saver", "TetherHookspecs", "artifacts_dir", "given_port", "running", "session_endpoint"]
