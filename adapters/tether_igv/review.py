"""A variant review run: one image per region, by one IGV or a pool of them, resumable, and a page.

>>> igv = tether.connect("igv")                                               # doctest: +SKIP
>>> result = igv.snapshots("calls.vcf", "review", tracks=["tumour.bam"], parallel=2, sort="base")
>>> result.page, result.failed

What a run does, in order:

1. reads the regions (:mod:`tether_igv.regions`); bad lines are kept aside with their file:line;
2. with ``parallel=N``, launches N private headless IGVs (:class:`tether_igv.pool.Pool`) with the
   same genome, window size and tracks; otherwise uses the running IGV (``igv``), loading the
   tracks into it once;
3. shares the regions out: regions closer than :data:`CLUSTER_GAP` to the previous one go to the
   same IGV, one after the other, so every IGV draws a region from the same prior state —
   IGV keeps the reads it loaded around the last view and lays new views out of them, so an
   image depends on the region before it when the two are close. This is what makes the
   images of ``parallel=2`` byte-identical to ``parallel=1`` (checked by the real tests);
4. for each region: ``goto``, ``sort`` at the variant (if asked), ``snapshot`` under its
   fixed name, sent in one write (IGV runs them in order, without a round trip between them);
   each outcome goes to ``manifest.json`` (status, image, seconds, which IGV);
5. an IGV that dies mid-run: its regions go back to the others (``on_note`` says so);
6. ``index.html`` (:mod:`tether_igv.review_page`) from the manifest.

``resume=True`` keeps every region the manifest has as done whose image is there and complete
(a PNG ending in its ``IEND`` chunk), and redoes the rest.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import CommandError, TetherError, Unreachable, UsageError

from . import args as A
from .regions import DEFAULT_FLANK, BadRegion, Region, Regions, check_genome, read_regions

if TYPE_CHECKING:  # pragma: no cover
    from .client import IGVClient
    from .pool import Pool

MANIFEST = "manifest.json"
PAGE = "index.html"
#: regions closer than this (bp, same contig) go to the same IGV in input order (see step 3)
CLUSTER_GAP = 30_000
DISPLAY_MODES = ("collapse", "squish", "expand")
PNG_END = b"IEND\xaeB`\x82"
#: connections in a row that may break on a live IGV before it is given up as wedged
WEDGED_AFTER = 3
#: connections a region may break (on any IGV) before it is reported as failed
TRIES = 2
SAVE_EVERY = 5.0  # seconds between manifest writes during a run (and one at the end, or on Ctrl-C)


@dataclass
class ReviewOptions:
    """How every image is drawn (the same in every IGV of a pool)."""

    tracks: list[str] = field(default_factory=list)
    genome: str | None = None
    flank: int = DEFAULT_FLANK
    sort: str | None = None
    display: str | None = None  # collapse, squish or expand (every track)
    max_panel_height: int | None = None
    width: int | None = None
    height: int | None = None
    title: str | None = None
    format: str = "png"

    def check(self, sort_option: Callable[[str], str] | None = None) -> None:
        """Refuse (:class:`UsageError`) what no IGV should be sent; ``sort_option`` checks the
        sort option (:meth:`IGVClient.sort_option <tether_igv.client.IGVClient.sort_option>`)."""
        if self.format not in ("png", "svg"):
            raise UsageError(f"refused: the image format must be png or svg, not {self.format!r}")
        if self.sort is not None and sort_option is not None:
            sort_option(self.sort)
        if self.display is not None and self.display not in DISPLAY_MODES:
            raise UsageError(f"refused: the display mode must be one of {', '.join(DISPLAY_MODES)}")
        mph = self.max_panel_height
        if mph is not None and (not isinstance(mph, int) or mph < -1 or mph == 0):
            raise UsageError(
                f"refused: --max-panel-height must be a positive number of pixels or -1, not {mph}"
            )
        A.window_bounds(self.width, self.height)  # 300 to 16384, refused before anything starts
        self.tracks = [A.path_or_url(t, "track") for t in self.tracks]
        for track in self.tracks:
            A.check_text(track, "track")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Entry:
    """A region's line in the manifest."""

    region: Region
    status: str = "pending"  # pending, done, failed
    image: str | None = None
    seconds: float | None = None
    finished: str | None = None
    igv: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.region.to_dict(),
            "stem": self.region.stem,
            "status": self.status,
            "image": self.image,
            "seconds": self.seconds,
            "finished": self.finished,
            "igv": self.igv,
            "error": self.error,
        }


@dataclass
class ReviewResult:
    directory: Path
    entries: list[Entry]
    bad: list[BadRegion]
    notes: list[str]
    seconds: float
    resumed: int = 0
    parallel: int | None = None

    @property
    def page(self) -> Path:
        return self.directory / PAGE

    @property
    def manifest(self) -> Path:
        return self.directory / MANIFEST

    @property
    def failed(self) -> list[Entry]:
        return [e for e in self.entries if e.status != "done"]

    @property
    def done(self) -> list[Entry]:
        return [e for e in self.entries if e.status == "done"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": str(self.page),
            "manifest": str(self.manifest),
            "done": len(self.done),
            "resumed": self.resumed,
            "failed": [e.to_dict() for e in self.failed],
            "skipped": [b.to_dict() for b in self.bad],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "parallel": self.parallel,
            "snapshots": [
                {"locus": e.region.locus, "name": e.region.name, "file": e.image, "source": e.region.source}
                for e in self.done
            ],
        }


class ReviewError(CommandError):
    """The run finished but some regions were skipped or failed (exit 1); lists them."""

    def __init__(self, result: ReviewResult) -> None:
        problems = [str(b) for b in result.bad] + [
            f"{e.region.source}: {e.region.locus}: {e.error or e.status}" for e in result.failed
        ]
        listing = "; ".join(problems[:10]) + (
            f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        )
        super().__init__(
            f"{len(result.done)} image(s) written, {len(problems)} region(s) skipped or failed: {listing}",
            app_message=None,
            hint=f"the page shows the rest: {result.page}; --resume redoes only what is missing",
            result=result.to_dict(),
        )
        self.result = result


def image_complete(path: Path) -> bool:
    """Whether ``path`` is a whole image: a PNG that ends in ``IEND`` (an SVG that ends its tag)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size < 16:
                return False
            f.seek(max(0, size - 16))
            tail = f.read()
    except OSError:
        return False
    return tail.endswith(PNG_END) if path.suffix == ".png" else tail.rstrip().endswith(b"</svg>")


def clusters(regions: list[Region], gap: int = CLUSTER_GAP) -> list[list[Region]]:
    """Consecutive regions on one contig within ``gap`` bp of each other, as runs (input order)."""
    runs: list[list[Region]] = []
    for region in regions:
        last = runs[-1][-1] if runs else None
        near = (
            last is not None
            and region.chrom is not None
            and region.chrom == last.chrom
            and region.start is not None
            and last.end is not None
            and last.start is not None
            and region.start - gap <= last.end
            and region.end is not None
            and region.end + gap >= last.start
        )
        if near:
            runs[-1].append(region)
        else:
            runs.append([region])
    return runs


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _Run:
    """The shared state of one run: the work queue, the entries, the manifest writer."""

    def __init__(
        self,
        directory: Path,
        entries: list[Entry],
        bad: list[BadRegion],
        options: ReviewOptions,
        on_progress: Callable[[Entry], None] | None,
        on_note: Callable[[str], None],
    ) -> None:
        self.directory = directory
        self.entries = entries
        self.by_stem = {e.region.stem: e for e in entries}
        self.bad = bad
        self.options = options
        self.on_progress = on_progress
        self.on_note = on_note
        self.notes: list[str] = []
        self.work: queue.Queue[list[Region]] = queue.Queue()
        self.lock = threading.Lock()
        self.pending = 0
        self.stop = threading.Event()
        self._saved = 0.0
        self._writing = threading.Lock()
        self.tries: dict[str, int] = {}  # connections a region broke while being drawn
        #: set once every IGV of the pool is up (or given up); until then an IGV that came up
        #: first draws at most ``early_share`` runs of regions, so the others still get their
        #: part (and a pool's images always come from more than one IGV when it can)
        self.all_up = threading.Event()
        self.early_share = 0

    def note(self, message: str) -> None:
        with self.lock:
            self.notes.append(message)
        self.on_note(message)

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._writing, self.lock:  # one writer at a time: a newer state is never overwritten
            if not force and now - self._saved < SAVE_EVERY:
                return
            self._saved = now
            data = {
                "tether": "igv snapshots",
                "updated": _now(),
                "options": self.options.to_dict(),
                "regions": [e.to_dict() for e in self.entries],
                "skipped": [b.to_dict() for b in self.bad],
                "notes": list(self.notes),
            }
            tmp = self.directory / f".{MANIFEST}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.directory / MANIFEST)

    def finish(self, entry: Entry) -> None:
        with self.lock:
            self.pending -= 1
        if self.on_progress:
            self.on_progress(entry)
        self.save()


def _prepare_igv(
    client: IGVClient, options: ReviewOptions, directory: Path, *, fix_layout: bool = False
) -> None:
    """What every IGV of a run gets once: the tracks, the panel layout (``fix_layout``: IGVs of
    a pool only), the display mode, the panel height."""
    with client.session():
        for track in options.tracks:
            client.load(track)
        if fix_layout:
            _fix_layout(client)
        if options.display:
            getattr(client, options.display)()
        if options.max_panel_height is not None:
            client.max_panel_height(options.max_panel_height)


#: where the pool's IGVs put the dividers between their panels (fractions of the window)
DIVIDER_FRACTIONS = "0.01,0.85"


def _fix_layout(client: IGVClient) -> None:
    """Set the dividers between IGV's panels to :data:`DIVIDER_FRACTIONS`, by saving the session
    and loading it back with that ``PanelLayout``.

    IGV places the dividers when a track is loaded, from the window's size at that moment: on a
    busy machine a freshly started IGV can still be settling its window, and one IGV of a pool
    then drew every image with a lower panel 75 px shorter than the other's (seen in the real
    tests). A session's ``PanelLayout`` is applied against the settled window, the same in each.
    """
    import re
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="tether-igv-layout-", dir="/tmp" if os.name == "posix" else None))
    try:
        path = scratch / "layout.xml"
        client.execute(f"saveSession {A.quote(str(path), 'session')}")
        text = path.read_text(encoding="utf-8")
        layout = f'<PanelLayout dividerFractions="{DIVIDER_FRACTIONS}"/>'
        text, found = re.subn(r"<PanelLayout\b[^>]*/>", layout, text)
        if not found:
            text = text.replace("</Session>", f"    {layout}\n</Session>")
        path.write_text(text, encoding="utf-8")
        client.execute(f"load {A.quote(str(path), 'session')}", kind="load")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _worker(run: _Run, client: IGVClient, label: str, alive: Callable[[], bool]) -> None:
    """Take runs of regions off the queue and draw them over one connection, until the queue
    is empty or IGV dies (a connection that broke on a live IGV is opened again)."""
    failures = 0  # connections in a row that broke before drawing anything
    taken = 0  # runs of regions taken off the queue
    while not run.stop.is_set():
        cluster: list[Region] = []
        at = 0
        drawn = 0
        try:
            with client.session():
                client.execute("snapshotDirectory " + A.quote(str(run.directory), "directory"))
                while not run.stop.is_set():
                    if not run.all_up.is_set() and taken >= run.early_share:
                        run.all_up.wait(0.1)  # this IGV's share is drawn: wait for the others
                        continue
                    try:
                        cluster, at = run.work.get(timeout=0.1), 0
                        taken += 1
                    except queue.Empty:
                        cluster = []
                        with run.lock:
                            if run.pending <= 0:
                                return
                        continue
                    for region in cluster:
                        if run.stop.is_set():
                            return
                        _draw(run, client, region, label)
                        at += 1
                        drawn += 1
                        failures = 0
                    cluster = []
        except TetherError as exc:
            failures = 0 if drawn else failures + 1
            rest = _hand_back(run, cluster[at:], exc)
            if _still_alive(alive) and failures < WEDGED_AFTER:
                continue  # a live IGV broke the connection (timed out mid-command): a new one
            what = "died" if not alive() else f"stopped answering ({failures} connections in a row)"
            run.note(f"{label} {what} ({exc.message}); its {rest} remaining region(s) go to the others")
            return
        except Exception as exc:  # a callback's error or a bug: hand the work on
            rest = [r for r in cluster if run.by_stem[r.stem].status == "pending"]
            if rest:
                run.work.put(rest)
            run.note(f"{label} stopped drawing ({type(exc).__name__}: {exc}); its regions go to the others")
            return


def _hand_back(run: _Run, regions: list[Region], exc: TetherError) -> int:
    """Put the regions a broken connection left undrawn back in the queue; the one in hand has
    had a try (after :data:`TRIES` it fails, so no region can break every IGV in turn).
    Returns how many went back."""
    rest = [r for r in regions if run.by_stem[r.stem].status == "pending"]
    if rest:
        first = run.by_stem[rest[0].stem]
        with run.lock:
            run.tries[first.region.stem] = tries = run.tries.get(first.region.stem, 0) + 1
        if tries >= TRIES:
            first.status, first.error = "failed", exc.message
            run.finish(first)
            rest = rest[1:]
    if rest:
        run.work.put(rest)
    return len(rest)


def _still_alive(alive: Callable[[], bool], within: float = 1.0) -> bool:
    """``alive()`` once the process has had ``within`` seconds to finish dying: a killed IGV's
    socket is reset before the process is gone."""
    end = time.monotonic() + within
    while alive():
        if time.monotonic() >= end:
            return True
        time.sleep(0.05)
    return False


def _draw(run: _Run, client: IGVClient, region: Region, label: str) -> None:
    """One region: ``goto``, ``sort`` at the variant (if asked), ``snapshot``; its entry updated."""
    entry = run.by_stem[region.stem]
    name = f"{region.stem}.{run.options.format}"
    started = time.monotonic()
    try:
        lines = []
        if region.chrom is None:
            client.goto(region.locus)  # a name: exit 1 (CommandError) when IGV does not find it
        else:
            lines.append(f"goto {region.locus}")
        if run.options.sort and region.chrom and (region.pos or region.start):
            lines.append(
                client.sort_command(run.options.sort, f"{region.chrom}:{region.pos or region.start}")
            )
        lines.append("snapshot " + A.quote(name, "file name"))
        # one write: IGV runs the lines one after the other as if each had waited for its
        # answer (the images are the same), without a round trip between them
        client.execute_many(lines, kind="snapshot")
    except CommandError as exc:
        entry.status, entry.error = "failed", exc.app_message or exc.message
    else:
        if image_complete(run.directory / name):
            entry.status, entry.image, entry.error = "done", name, None
        else:
            entry.status, entry.error = "failed", f"IGV answered OK but wrote no complete {name}"
    entry.seconds = round(time.monotonic() - started, 3)
    entry.finished, entry.igv = _now(), label
    run.finish(entry)


def _checked(options: ReviewOptions | None, igv: IGVClient | None, pool: Pool | None) -> ReviewOptions:
    """The options of a review by ``igv`` or ``pool``, refused before anything is sent when they
    ask what that drawer cannot do."""
    options = options or ReviewOptions()
    if pool is None and igv is None:
        raise UsageError("give a running IGV or a pool of IGVs (--parallel N)")
    options.check((pool or igv).sort_option)  # type: ignore[union-attr]
    if pool is None and (options.width or options.height):
        raise UsageError(
            "refused: --width/--height size the IGVs tether launches (--parallel N); "
            "a running IGV keeps its own window"
        )
    return options


def run_review(
    regions: Regions,
    out_dir: str | Path,
    *,
    igv: IGVClient | None = None,
    pool: Pool | None = None,
    options: ReviewOptions | None = None,
    resume: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[Entry], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ReviewResult:
    """Draw every region into ``out_dir`` and write ``manifest.json`` and ``index.html``.

    ``pool`` (a :class:`~tether_igv.pool.Pool`, not yet started) draws them when given: it is
    started here, after ``resume`` found what is left, and stopped at the end; otherwise
    ``igv`` (a running IGV) does. ``on_start(n)`` is told how many regions will be drawn,
    ``on_progress`` each one drawn. Raises :class:`ReviewError` (exit 1) at the end when
    regions were skipped or failed.
    """
    from .review_page import write_page

    options = _checked(options, igv, pool)
    directory = Path(out_dir).expanduser().resolve()
    A.check_text(str(directory), "output directory")
    directory.mkdir(parents=True, exist_ok=True)
    notes_cb = on_note or (lambda _m: None)

    entries = [Entry(r) for r in regions.regions]
    resumed = 0
    if resume:
        resumed = _keep_finished(directory, entries)
    todo = [e.region for e in entries if e.status != "done"]
    run = _Run(directory, entries, list(regions.bad), options, on_progress, notes_cb)
    run.pending = len(todo)
    runs = clusters(todo)
    for cluster in runs:
        run.work.put(cluster)
    if on_start:
        on_start(len(todo))
    started = time.monotonic()
    try:
        if todo and pool is not None:
            pool.setup = lambda client: _prepare_igv(client, options, directory, fix_layout=True)
            pool.on_note = run.note
            threads: list[threading.Thread] = []
            # each IGV starts drawing as soon as it is up, while the others still start (up to
            # its share of the runs of regions, until they are all up)
            run.early_share = -(-len(runs) // pool.size)
            pool.on_member = lambda m: threads.append(_start_worker(run, m.client, m.label, m.alive))
            try:
                pool.start()
                run.all_up.set()
                _join_workers(run, threads)
            finally:
                run.stop.set()  # before the IGVs stop: a worker must not take that for a death
                pool.stop()
        elif todo:
            assert igv is not None
            run.all_up.set()
            if options.genome:
                igv.genome(options.genome)
            _prepare_igv(igv, options, directory)
            _run_workers(run, [(igv, f"IGV on port {igv.port}", lambda: True)])
    finally:
        run.stop.set()
        run.save(force=True)
    size = pool.size if pool is not None else None
    result = ReviewResult(directory, entries, run.bad, run.notes, time.monotonic() - started, resumed, size)
    write_page(result, options.title, port=igv.port if pool is None and igv is not None else None)
    if result.bad or result.failed:
        raise ReviewError(result)
    return result


def _keep_finished(directory: Path, entries: list[Entry]) -> int:
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        old = {r["stem"]: r for r in data.get("regions", []) if isinstance(r, dict) and "stem" in r}
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
    kept = 0
    for entry in entries:
        was = old.get(entry.region.stem)
        if not was or was.get("status") != "done" or was.get("locus") != entry.region.locus:
            continue
        image = was.get("image")
        if isinstance(image, str) and "/" not in image and image_complete(directory / image):
            entry.status, entry.image = "done", image
            entry.seconds, entry.finished, entry.igv = was.get("seconds"), was.get("finished"), was.get("igv")
            kept += 1
    return kept


def _start_worker(run: _Run, client: IGVClient, label: str, alive: Callable[[], bool]) -> threading.Thread:
    thread = threading.Thread(target=_worker, args=(run, client, label, alive), daemon=True)
    thread.start()
    return thread


def _run_workers(run: _Run, workers: list[tuple[IGVClient, str, Callable[[], bool]]]) -> None:
    _join_workers(run, [_start_worker(run, client, label, alive) for client, label, alive in workers])


def _join_workers(run: _Run, threads: list[threading.Thread]) -> None:
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)  # short joins: Ctrl-C reaches this thread
    except BaseException:
        run.stop.set()
        raise
    with run.lock:
        left = run.pending
    if left > 0:
        raise Unreachable(
            f"every IGV of the run died; {left} region(s) not drawn",
            hint="see the notes above; --resume draws only what is missing",
        )


def review(
    igv: IGVClient | None,
    items: list[str] | str,
    out_dir: str | Path,
    *,
    pool: Pool | None = None,
    resume: bool = False,
    options: ReviewOptions | None = None,
    **callbacks: Any,
) -> ReviewResult:
    """Read ``items`` (a VCF, a BED, a file of loci, or loci) and run :func:`run_review` with
    ``igv`` (a running IGV) or ``pool`` (see :func:`tether_igv.pool.snapshots`).

    Every line is read and checked before IGV is looked up or a pool started; then the regions
    are checked against the genome's ``.fai`` when it can be read.
    """
    from .locus import GenomeIndex

    options = _checked(options, igv, pool)
    regions = read_regions([items] if isinstance(items, str) else items, flank=options.flank)
    genome = options.genome
    if genome is None and igv is not None:
        genome, _ = igv._resolve_genome()  # the running IGV's genome, when it can be known
    elif genome is not None and Path(genome).expanduser().exists():
        genome = options.genome = str(Path(genome).expanduser().resolve())
    index = GenomeIndex.load(genome) if genome else None
    if index is not None:
        check_genome(regions, index)
    return run_review(regions, out_dir, igv=igv, pool=pool, options=options, resume=resume, **callbacks)
