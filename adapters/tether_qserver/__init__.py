"""tether's Bluesky Queue Server adapter: the HTTP server's API (default 60610).

The API key comes from ``$QSERVER_HTTP_SERVER_API_KEY``, ``api_key_file=`` or the config::

    import tether
    qs = tether.connect("qserver")
    qs.ensure_environment()
    qs.run({"name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 3}}).exit_status  # 'completed'

The client (``QueueServer``, ``RunResult``, ``RunResults``, ``ItemFailed``) is imported on first use, so
that loading the adapter for a scan stays cheap.
"""

from typing import Any

__all__ = ["ItemFailed", "QServerAdapter", "QueueServer", "RunResult", "RunResults"]


def __getattr__(name: str) -> Any:
    if name == "QServerAdapter":  # on first use: tether_qserver.pytest_plugin loads in every pytest run
        from .adapter import QServerAdapter

        return QServerAdapter
    if name in ("QueueServer", "RunResult", "RunResults", "ItemFailed"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'tether_qserver' has no attribute {name!r}")
