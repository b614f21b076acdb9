"""tether's IGV adapter: drive IGV's batch-command port (default 60151)."""

from .adapter import IGVAdapter

__all__ = ["IGVAdapter"]
