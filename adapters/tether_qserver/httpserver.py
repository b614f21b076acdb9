"""``python -m tether_qserver.httpserver``: bluesky-httpserver's ``start-bluesky-httpserver``, with
its API key kept out of its log.

``start-bluesky-httpserver`` logs its whole settings at start-up ("APP settings: {...
'single_user_api_key': '…'}"), the key included, and ``tether qserver launch`` promises the key is
never logged. This runs the same ``start_server()`` with one logging filter on the root handler
that replaces the key (from ``$QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY``) with ``***`` in every
record; the server's own ``logging.basicConfig`` then finds the handler in place and adds none.
Arguments are the server's own (``--host``, ``--port``).
"""

from __future__ import annotations

import logging
import os
import sys

KEY_VAR = "QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY"


class RedactKey(logging.Filter):
    """Replace ``key`` with ``***`` in a record's message (its arguments merged in first)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record whose arguments do not fit: left as it is
            return True
        if self.key and self.key in message:
            record.msg, record.args = message.replace(self.key, "***"), ()
        return True


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    key = os.environ.get(KEY_VAR, "")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactKey(key))
    from bluesky_httpserver.server import start_server

    sys.argv[0] = "start-bluesky-httpserver"
    return start_server() or 0


if __name__ == "__main__":
    sys.exit(main())
