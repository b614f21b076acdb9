"""tether's Bluesky Queue Server adapter: the HTTP server's API (default 60610)."""

from .adapter import QServerAdapter

__all__ = ["QServerAdapter"]
