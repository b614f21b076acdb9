"""The Bluesky queue server's pytest fixture (entry point ``pytest11`` ``tether_qserver``): ``qserver``.

``qserver`` is a session-scoped :class:`tether_qserver.QueueServer` (the server has one queue) for
the Bluesky HTTP server named by ``--tether-qserver-url``, else the one tether verifies on this
machine. tether never launches one: the tests that use it are skipped, saying why, when none
answers. The API key comes from the usual places (``$QSERVER_HTTP_SERVER_API_KEY``,
``$TETHER_QSERVER_API_KEY``, the config file).

This module imports only pytest at load time (it loads in every pytest run).
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "tether: fixtures for IGV, Firefox and the Bluesky queue server")
    group.addoption(
        "--tether-qserver-url",
        metavar="URL",
        help="URL of the Bluesky HTTP server to use (API key from its env).",
    )


@pytest.fixture(scope="session")
def qserver(request: pytest.FixtureRequest) -> Any:
    """A :class:`tether_qserver.QueueServer` for the running Bluesky HTTP server (attach only: the
    test is skipped, saying why, when none is verified)."""
    import tether
    from tether.errors import NotFound, TetherError, Unreachable
    from tether.pytest_plugin import running

    url = request.config.getoption("tether_qserver_url")
    try:
        if url:  # the adapter's own `url` setting: https and a path prefix are the adapter's to handle
            return tether.connect("qserver", url=url, timeout=30)
        endpoint = running("qserver", "Bluesky HTTP server")
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


__all__ = ["qserver"]
