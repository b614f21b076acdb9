"""IGV's pytest fixtures (entry point ``pytest11`` ``tether_igv``): ``igv`` and ``tether_igv_endpoint``.

``igv`` is a session-scoped :class:`tether_igv.IGVClient` (IGV has one view): attached to the IGV
named by ``--tether-igv-port`` (else ``$TETHER_IGV_PORT`` / the config file), else to the one
tether verifies on this machine, else to one launched for the session under its own Xvfb (with
``--tether-igv-genome``) and stopped after it; ``--tether-launch`` always launches. When a test
using ``igv`` fails, a snapshot of IGV's view is saved with the test's artifacts (tether's
shared plugin: ``--tether-artifacts``).

This module imports only pytest at load time (it loads in every pytest run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "tether: fixtures for IGV, Firefox and the Bluesky queue server")
    group.addoption("--tether-igv-port", type=int, metavar="PORT", help="Batch port of the IGV to use.")
    group.addoption(
        "--tether-igv-genome",
        metavar="GENOME",
        help="Genome for an IGV the plugin launches (id or indexed FASTA).",
    )


def _launch_igv(config: pytest.Config):
    from .launch import launch

    rec = launch(config.getoption("tether_igv_genome"), headless=True)
    return rec.port, rec.stop


@pytest.fixture(scope="session")
def tether_igv_endpoint(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The verified IGV the ``igv`` fixture drives (attached to, or launched for the session)."""
    from tether.pytest_plugin import session_endpoint

    yield from session_endpoint(request, "igv", "IGV", _launch_igv)


@pytest.fixture(scope="session")
def igv(tether_igv_endpoint: Any) -> Any:
    """A :class:`tether_igv.IGVClient` for the session's IGV."""
    from .adapter import IGVAdapter

    return IGVAdapter().connect(tether_igv_endpoint, timeout=30)


@pytest.hookimpl(optionalhook=True)
def pytest_tether_artifacts(item: pytest.Item, report: pytest.TestReport) -> list | None:
    client = getattr(item, "funcargs", {}).get("igv")
    if client is None or not report.failed:
        return None

    def snapshot(path: Path) -> None:
        client.snapshot(path)

    return [("IGV snapshot", "igv.png", snapshot)]


__all__ = ["igv", "tether_igv_endpoint"]
