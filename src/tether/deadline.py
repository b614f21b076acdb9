"""One overall budget for an operation: connect + send + every read share a single deadline.

Every network operation of tether takes a :class:`Deadline` (or seconds, turned into one at the
top of the call) and passes the *same* object down, so that a slow peer cannot stretch a command
past what the user asked for by answering each read just in time.
"""

from __future__ import annotations

import time


class Deadline:
    """An absolute point in time (monotonic clock); ``remaining()`` never goes below a floor."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self, floor: float = 0.0) -> float:
        return max(floor, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def cap(self, seconds: float) -> Deadline:
        """A deadline for one step of the operation: ``seconds`` from now, never later than this
        one (a connect's own limit inside a command's budget)."""
        if time.monotonic() + seconds >= self.at:
            return self
        return Deadline(seconds)
