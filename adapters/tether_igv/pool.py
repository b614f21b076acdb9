"""A pool of private headless IGVs for one run: the same genome, tracks, preferences and window
size in each, started side by side with :func:`tether_igv.launch.launch`, and every one of them
(and its Xvfb) stopped by pid when the pool closes — at the end, on an error, on Ctrl-C.

>>> result = snapshots("calls.vcf", "review", parallel=2, tracks=["t.bam"], genome="ref.fa")  # doctest: +SKIP
>>> with Pool(2, genome="genome.fa", width=1000) as pool:                           # doctest: +SKIP
...     for member in pool.members:
...         member.client.goto("chr1:1-100")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tether.errors import TetherError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from .client import IGVClient
    from .launch import Launched
    from .review import ReviewResult

MAX_PARALLEL = 16
#: Java options of the pool's IGVs; TETHER_IGV_JAVA_OPTIONS (space-separated) replaces them.
#: C1 only: in runs of 60 to 1,000 regions the C2 compiler spent more CPU compiling IGV's paint
#: code than it saved — one IGV drawing 60 regions used 6.7-6.9 CPU-seconds with the default
#: tiers, 3.1-3.4 with C1 only (start-up 2.0-2.2 against 1.3); 1,000 regions 63.0 against 57.2;
#: -XX:+UseSerialGC made no measurable difference, so it is not here. The images are the same
#: (Java's arithmetic does not depend on the compiler; the real tests compare them).
POOL_JAVA_OPTIONS: list[str] = ["-XX:TieredStopAtLevel=1"]


@dataclass
class Member:
    """One IGV of the pool: its launch record (pid, port, Xvfb) and a client for it."""

    rec: Launched
    client: IGVClient

    @property
    def label(self) -> str:
        return f"IGV pid {self.rec.pid} (port {self.rec.port})"

    def alive(self) -> bool:
        return self.rec.alive()


class Pool:
    """``size`` IGVs launched for one run; use as a context manager (``stop()`` otherwise)."""

    def __init__(
        self,
        size: int,
        *,
        genome: str | None,
        tracks: list[str] | None = None,
        width: int | None = None,
        height: int | None = None,
        memory: str | None = None,
        java_options: list[str] | None = None,
        timeout: float = 90.0,
        setup: Callable[[IGVClient], None] | None = None,
        on_note: Callable[[str], None] | None = None,
        on_member: Callable[[Member], None] | None = None,
    ) -> None:
        if not isinstance(size, int) or not 1 <= size <= MAX_PARALLEL:
            raise UsageError(f"refused: --parallel must be 1 to {MAX_PARALLEL}, not {size!r}")
        self.size = size
        self.genome = genome
        self.tracks = list(tracks or [])
        self.width, self.height, self.memory, self.timeout = width, height, memory, timeout
        if java_options is None:
            env = os.environ.get("TETHER_IGV_JAVA_OPTIONS")
            java_options = env.split() if env is not None else POOL_JAVA_OPTIONS
        self.java_options = list(java_options)
        self.setup = setup
        self.on_note = on_note or (lambda _msg: None)
        #: called (in its start thread) with each IGV as soon as it is set up, while the others
        #: may still be starting: a run starts drawing on the first one up
        self.on_member = on_member
        self.members: list[Member] = []
        self._records: list[Launched] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    @staticmethod
    def sort_option(option: str) -> str:
        """What every IGV of the pool accepts as a sort option (else :class:`UsageError`)."""
        from .client import IGVClient

        return IGVClient.sort_option(option)

    def __enter__(self) -> Pool:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> list[Member]:
        """Launch every IGV at once (each waits for its own genome), then load the tracks into
        each. One that fails to start is reported and left out; none at all raises its error."""
        from .launch import launch

        errors: list[BaseException] = []

        def one() -> None:
            try:
                rec = launch(
                    self.genome,
                    headless=True,
                    width=self.width,
                    height=self.height,
                    memory=self.memory,
                    java_options=self.java_options,
                    timeout=self.timeout,
                )
            except BaseException as exc:
                with self._lock:
                    errors.append(exc)
                return
            with self._lock:
                closed = self._closed
                if not closed:
                    self._records.append(rec)
            if closed:  # the pool was stopped (Ctrl-C) while this one started
                rec.stop(timeout=5.0)
                return
            try:
                member = self._prepare(rec)
            except BaseException as exc:
                with self._lock:
                    errors.append(exc)
                return
            with self._lock:
                closed = self._closed
                if not closed:
                    self.members.append(member)
            if not closed and self.on_member is not None:
                try:
                    self.on_member(member)
                except BaseException as exc:
                    with self._lock:
                        errors.append(exc)

        threads = self._threads = [threading.Thread(target=one, daemon=True) for _ in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short joins: Ctrl-C reaches the main thread, and __exit__ stops all
        self.members.sort(key=lambda m: m.rec.port)
        if not self.members:
            first = errors[0] if errors else TetherError("no IGV of the pool started")
            raise first
        for exc in errors:
            self.on_note(f"one IGV of the pool did not start ({exc}); going on with {len(self.members)}")
        return self.members

    def _prepare(self, rec: Launched) -> Member:
        from .client import IGVClient

        client = IGVClient(rec.host, rec.port, genome=rec.genome, pid=rec.pid)
        if self.setup is not None:
            self.setup(client)
        return Member(rec, client)

    def stop(self) -> None:
        """Stop every IGV started (and its Xvfb), by pid; safe to call twice. One still
        starting is waited for (it stops itself once it is up), so none is left behind."""
        with self._lock:
            self._closed = True
            records, self._records = list(self._records), []
        for rec in records:
            try:
                rec.stop(timeout=5.0)
            except Exception:
                pass
        for t in self._threads:
            t.join(self.timeout)


def snapshots(
    regions: str | Path | list[str],
    out_dir: str | Path,
    *,
    parallel: int = 2,
    tracks: list[str] | tuple[str, ...] = (),
    genome: str | None = None,
    flank: int = 50,
    sort: str | None = None,
    display: str | None = None,
    max_panel_height: int | None = None,
    width: int | None = None,
    height: int | None = None,
    memory: str | None = None,
    resume: bool = False,
    title: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[object], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ReviewResult:
    """``IGVClient.snapshots`` with ``parallel`` private headless IGVs instead of a running one
    (what ``tether igv snapshots --parallel N`` runs): launched once the regions are read and
    checked, stopped at the end, on an error and on Ctrl-C."""
    from .review import ReviewOptions, review

    options = ReviewOptions(
        tracks=[str(t) for t in tracks],
        genome=genome,
        flank=flank,
        sort=sort,
        display=display,
        max_panel_height=max_panel_height,
        width=width,
        height=height,
        title=title,
    )
    pool = Pool(parallel, genome=genome, width=width, height=height, memory=memory)
    items = [str(regions)] if isinstance(regions, (str,)) or hasattr(regions, "__fspath__") else list(regions)
    return review(
        None,
        [str(i) for i in items],
        out_dir,
        pool=pool,
        resume=resume,
        options=options,
        on_start=on_start,
        on_progress=on_progress,
        on_note=on_note,
    )
