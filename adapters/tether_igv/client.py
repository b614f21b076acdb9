"""``IGVClient``: IGV's batch commands as methods, each checked before sending and framed on the wire.

Connections are short-lived by default: each call connects, runs, and disconnects, so tether
never holds IGV's single-client port while idle. ``with igv.session():`` keeps one connection
for a burst of commands.

>>> igv = IGVClient(port=60151)                                  # doctest: +SKIP
>>> igv.goto("chr1:10,000-20,000")
>>> with igv.session():
...     for region in regions:
...         igv.goto(region)
...         igv.snapshot(f"shots/{region.replace(':', '_')}.png")
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tether.adapter import is_loopback
from tether.errors import CommandError, TetherError, UsageError
from tether.image import ImagePath

from . import args as A
from .commands import BY_IGV, BY_NAME, BatchCommand, parse_version
from .generated import GeneratedCommands
from .locus import GenomeIndex, Locus, validate_loci
from .probe import _UNKNOWN_VERSIONS, DEFAULT_PORT, igv_directory, read_prefs, version_from_install
from .protocol import GRACE, IGVConnection, Reply

#: Deadlines in seconds per kind of command; every one can be overridden (``timeouts=``, ``timeout=``).
DEFAULT_TIMEOUTS: dict[str, float] = {
    "connect": 3.0,  # TCP connect
    "ready": 5.0,  # IGV starts reading our connection (else: busy with another client)
    "echo": 5.0,  # echo, version, currentGenomePath
    "goto": 30.0,  # goto, region, collapse … (IGV repaints before it answers)
    "snapshot": 120.0,
    "load": 600.0,  # load and genome may fetch remote data
    "genome": 600.0,
    "exit": 10.0,
}

INDEX_TTL = 2.0  # seconds a genome index is trusted before it is looked up again

COLOR_OPTIONS = frozenset(
    [
        "insert_size",
        "read_strand",
        "first_of_pair_strand",
        "pair_orientation",
        "read_order",
        "sample",
        "read_group",
        "library",
        "movie",
        "zmw",
        "bisulfite",
        "nomeseq",
        "tag",
        "none",
        "unexpected_pair",
        "mapped_size",
        "link_strand",
        "yc_tag",
        "base_modification",
        "base_modification_5mc",
        "base_modification_c",
    ]
)
SORT_OPTIONS = frozenset(
    [
        "base",
        "start",
        "position",
        "strand",
        "quality",
        "sample",
        "readgroup",
        "read_group",
        "insertsize",
        "insert_size",
        "firstofpairstrand",
        "matechr",
        "readorder",
        "readname",
        "alignedreadlength",
        "nucleotide",
        "first_of_pair_strand",
        "mate_chr",
        "tag",
        "supplementary",
        "none",
        "haplotype",
        "read_order",
        "read_name",
        "aligned_read_length",
    ]
)
GROUP_OPTIONS = frozenset(
    [
        "strand",
        "sample",
        "library",
        "readgroup",
        "read_group",
        "first_of_pair_strand",
        "tag",
        "pair_orientation",
        "mate_chromosome",
        "none",
        "supplementary",
        "base_at_pos",
        "movie",
        "zmw",
        "haplotype",
        "read_order",
        "linked",
        "phase",
        "reference_concordance",
        "mapping_quality",
    ]
)


def _choice(value: str, allowed: frozenset[str], what: str) -> str:
    A.word(value, what)
    if value.lower() not in allowed:
        raise UsageError(
            f"refused: {value!r} is not a {what} IGV knows "
            "(it would fail silently or fall back to a default)",
            hint="one of: " + ", ".join(sorted(allowed)),
        )
    return value


#: IGV processes known to answer UNKNOWN COMMAND to ``currentGenomePath`` (IGV < 2.17), one
#: ``<pid> <start>`` a line: what a process supports does not change while it runs, so each
#: one-shot ``tether igv goto`` skips that exchange (a connection, three round trips).
_NO_GENOME_QUERY = "without-currentGenomePath.txt"


def _process_start(pid: int) -> str | None:
    """What tells process ``pid`` from a later one with the same pid: its start time (Linux: the
    start in clock ticks from ``/proc/<pid>/stat``, read without psutil)."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                return f.read().rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None  # no such process
    from tether.launched import start_time

    start = start_time(pid)
    return None if start is None else f"{start:.2f}"


def _genome_query_file() -> Path:
    from tether import launched

    return launched.state_dir() / "igv" / _NO_GENOME_QUERY


def _local_process_lacks_genome_query(local: bool, pid: int | None) -> bool:
    if not pid or not local:
        return False
    start = _process_start(pid)
    try:
        lines = _genome_query_file().read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return start is not None and f"{pid} {start}" in lines


def _remember_lacks_genome_query(local: bool, pid: int | None) -> None:
    """Note that process ``pid`` (pid and start time, of this machine: ``local``) lacks
    ``currentGenomePath``; entries of processes that have ended are dropped. A failure to write
    only costs the next command a query."""
    if not pid or not local or (start := _process_start(pid)) is None:
        return
    try:
        from tether import launched

        path = launched.app_dir("igv") / _NO_GENOME_QUERY
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        keep = [
            line
            for line in lines
            if len(parts := line.split()) == 2
            and parts[0].isdigit()
            and _process_start(int(parts[0])) == parts[1]
        ]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in [*keep, f"{pid} {start}"] if line), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


#: the largest snapshot copied back from another machine (an SVG of a busy view is megabytes)
SNAPSHOT_MAX_BYTES = 256 << 20


class IGVClient(GeneratedCommands):
    """A client of IGV's batch port.

    ``timeout`` overrides every deadline; ``timeouts`` overrides some (keys of
    :data:`DEFAULT_TIMEOUTS`). ``genome`` is the genome loci are checked against when IGV
    cannot say which one it has loaded (IGV 2.16 has no ``currentGenomePath``).
    ``check_loci=False`` turns the genome check off (the syntax check stays).
    ``confirm``/``grace``/``quickack``/``lazy``: the framing, see :mod:`tether_igv.protocol`.
    ``on_exit(client, timeout)`` runs after :meth:`exit` was sent: what else quitting IGV
    means (``tether.connect("igv")`` passes the launch layer's, which ends the Xvfb tether
    started for that IGV and forgets its record).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        timeout: float | None = None,
        timeouts: dict[str, float] | None = None,
        genome: str | None = None,
        cmdline: list[str] | None = None,
        pid: int | None = None,
        version: str | None = None,
        check_loci: bool = True,
        confirm: str = "on-doubt",
        grace: float = GRACE,
        quickack: bool = True,
        lazy: bool = True,
        on_exit: Callable[[IGVClient, float], None] | None = None,
        budget: Any = None,
        machine: str | None = None,
    ) -> None:
        self._finder: Callable[[], Any] | None = None
        #: the command's one deadline (a :class:`~tether.deadline.Deadline`): the lazy lookup's
        #: probe and the calls share it, so no deadline is longer than what the probe left
        self._budget = budget
        self._handoff: Any = None  # the probe's connection to IGV, for the first command
        #: the ``ssh://`` URL of the machine IGV runs on when ``host:port`` is a forward from there
        #: (its files, its processes and tether's records of it are that machine's, not this one's)
        self.machine = machine
        self._host: str | None = host
        self._port: int | None = port
        self.pid = pid
        self.cmdline = list(cmdline or [])
        self.check_loci = check_loci
        self.confirm = confirm
        self.grace = grace
        self.quickack = quickack
        self.lazy = lazy
        self.timeouts = dict(DEFAULT_TIMEOUTS)
        if timeout is not None:
            self.timeouts = {k: timeout for k in self.timeouts}
        self.timeouts.update(timeouts or {})
        self._version = version
        self._genome = genome
        self._genome_source = "given" if genome else None
        self._has_current_genome_path: bool | None = None
        self._index_cache: tuple[float, GenomeIndex | None] | None = None
        self._conn: IGVConnection | None = None
        self.on_exit = on_exit
        self._secrets: list[str] = []

    @classmethod
    def from_endpoint(cls, endpoint: Any, **options: Any) -> IGVClient:
        """A client for an endpoint from ``tether.find``/``scan`` (what ``tether.connect("igv")`` gives)."""
        options.setdefault("cmdline", list(getattr(endpoint, "cmdline", []) or []))
        options.setdefault("pid", getattr(endpoint, "pid", None))
        options.setdefault("version", getattr(endpoint, "version", None))
        options.setdefault("machine", (getattr(endpoint, "extra", None) or {}).get("ssh"))
        return cls(endpoint.host, endpoint.port, **options)

    @classmethod
    def deferred(cls, find: Callable[[], Any], **options: Any) -> IGVClient:
        """A client that finds IGV (``find()`` returns a verified endpoint) only when it first
        needs it, so a bad argument is refused (exit 2) before any scan or connection."""
        client = cls(**options)
        client._finder = find
        client._host = client._port = None  # unknown until the first command looks
        return client

    def _ensure_endpoint(self) -> None:
        if self._finder is None:
            return
        finder, self._finder = self._finder, None
        from .probe import keep_probe_connection

        with keep_probe_connection() as kept:
            endpoint = finder()
            # the probe's connection, if it proved IGV on it: the first command goes there
            self._handoff = kept.pop((endpoint.host, endpoint.port), None)
        self._host, self._port = endpoint.host, endpoint.port
        if self._budget is not None:
            left = self._budget.remaining(0.25)
            self.timeouts = {k: min(v, left) for k, v in self.timeouts.items()}
        self.cmdline = self.cmdline or list(getattr(endpoint, "cmdline", []) or [])
        self.pid = self.pid or getattr(endpoint, "pid", None)
        self._version = self._version or getattr(endpoint, "version", None)
        self.machine = self.machine or (getattr(endpoint, "extra", None) or {}).get("ssh")

    @property
    def host(self) -> str | None:
        """IGV's host as known: ``None`` for a client that finds IGV at its first command and
        has not sent one yet (reading it never scans; :meth:`locate` does)."""
        return self._host

    @property
    def port(self) -> int | None:
        """IGV's port as known (``None`` before a deferred client's first command; never scans)."""
        return self._port

    def locate(self) -> tuple[str, int]:
        """``(host, port)`` of IGV, found now if this client finds it lazily and has not yet."""
        self._ensure_endpoint()
        assert self._host is not None and self._port is not None
        return self._host, self._port

    @property
    def on_this_machine(self) -> bool:
        """Whether IGV runs on this machine (a loopback host, not a forward from another);
        False while the host is not known yet."""
        return self.machine is None and self._host is not None and is_loopback(self._host)

    def __repr__(self) -> str:
        if self._finder is not None:
            return "IGVClient(<not looked up yet>)"
        return f"IGVClient({self._host!r}, {self._port})"

    @property
    def secrets(self) -> list[str]:
        """Credentials this client sent (``set_credentials``, ``set_access_token``): ``-v`` masks them."""
        return list(self._secrets)

    def known_version(self) -> str | None:
        """IGV's version as far as it is known without sending a command: what the probe or the
        install says (Debian's 2.16 answers ``version`` with ``user``; its package says 2.16.0)."""
        self._ensure_endpoint()
        if self._version is None and self.cmdline:
            self._version = version_from_install(self.cmdline)
        return self._version

    # -- connections -----------------------------------------------------------------------
    def _open(self, lazy: bool) -> IGVConnection:
        self._ensure_endpoint()
        handoff, self._handoff = self._handoff, None
        if handoff is not None and not handoff.closed:
            # IGV answered the probe's echo on this connection: it serves it (no second echo)
            handoff.quickack_active = handoff.quickack_active and self.quickack
            return IGVConnection(
                handoff, self._host, self._port, confirm=self.confirm, lazy=lazy, grace=self.grace
            )
        host, port = self.locate()
        return IGVConnection.open(
            host,
            port,
            connect_timeout=self.timeouts["connect"],
            ready_timeout=self.timeouts["ready"],
            quickack=self.quickack,
            confirm=self.confirm,
            lazy=lazy,
            grace=self.grace,
        )

    @contextmanager
    def session(self) -> Iterator[IGVClient]:
        """Keep one connection open for a burst of commands; closed (and IGV's port freed) on exit."""
        if self._conn is not None:
            yield self  # nested: reuse the outer session
            return
        self._conn = self._open(lazy=self.lazy)
        try:
            yield self
        finally:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def __enter__(self) -> IGVClient:
        self._session_cm = self.session()
        return self._session_cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._session_cm.__exit__(*exc)

    def close(self) -> None:
        """Close the session connection, if one is open."""
        handoff, self._handoff = self._handoff, None
        if handoff is not None:
            handoff.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the wire ----------------------------------------------------------------------------
    def execute(
        self, command: str, *, timeout: float | None = None, kind: str = "goto", query: bool = False
    ) -> Reply:
        """Send one batch command line (checked for injection) and return IGV's reply.

        Raises :class:`~tether.errors.CommandError` when IGV answers anything but ``OK``
        (or, for queries, an unknown-command answer).
        """
        line = A.check_command(command)
        deadline = timeout if timeout is not None else self.timeouts.get(kind, self.timeouts["goto"])
        if self._conn is not None:
            conn = self._conn
            try:
                return conn.execute(line, deadline, query=query)
            except TetherError:
                if conn.closed:
                    self._conn = None  # never reuse a connection that timed out or broke
                raise
        conn = self._open(lazy=False)
        try:
            return conn.execute(line, deadline, query=query)
        finally:
            conn.close()

    def execute_many(
        self, commands: list[str], *, timeout: float | None = None, kind: str = "goto"
    ) -> list[Reply]:
        """Send several batch command lines (each checked for injection) in one write and return
        their replies (see :meth:`IGVConnection.execute_many
        <tether_igv.protocol.IGVConnection.execute_many>`): IGV runs them in order, as one by
        one, without a round trip between them. ``timeout`` (by ``kind``) covers them all.
        Raises :class:`~tether.errors.CommandError` for the first one not answered ``OK``."""
        lines = [A.check_command(c) for c in commands]
        deadline = timeout if timeout is not None else self.timeouts.get(kind, self.timeouts["goto"])
        if self._conn is not None:
            conn = self._conn
            try:
                return conn.execute_many(lines, deadline)
            except TetherError:
                if conn.closed:
                    self._conn = None  # never reuse a connection that timed out or broke
                raise
        conn = self._open(lazy=False)
        try:
            return conn.execute_many(lines, deadline)
        finally:
            conn.close()

    def send(self, command: str, *, timeout: float | None = None) -> Reply:
        """Any batch command, as typed (still refused if it holds a line break or NUL).

        ``exit`` is handled as :meth:`exit` (it never answers). Query commands return their answer.
        """
        line = A.check_command(command)
        verb = line.split()[0].lower()
        if verb == "exit":
            self.exit(timeout=timeout)
            return Reply(line, "OK")
        if verb == "savesession" and len(line.split(None, 1)) == 2:
            from .script import strip_quotes

            target = strip_quotes(line.split(None, 1)[1].strip())
            if any(c.isspace() or c in "\"'" for c in target):  # IGV cannot take it quoted
                self.save_session(target, timeout=timeout)
                return Reply(line, "OK")
        query = verb in ("echo", "version", "currentgenomepath", "toolsyaml")
        kind = {"load": "load", "loadfile": "load", "genome": "genome", "snapshot": "snapshot"}.get(
            verb, "goto"
        )
        return self.execute(line, timeout=timeout, kind=kind, query=query)

    def command(self, name: str, *values: Any, timeout: float | None = None) -> Reply:
        """A batch command of :data:`tether_igv.commands.COMMANDS` by IGV's name (``setColor``)
        or tether's (``set-color``), its arguments checked and quoted, refused (``UsageError``)
        when the connected IGV is older than the command. Each generated method calls this."""
        spec = BY_IGV.get(name.lower()) or BY_NAME.get(name)
        if spec is None or not spec.generated:
            raise UsageError(
                f"refused: {name!r} is not one of IGV's batch commands tether builds from its table",
                hint="its own method exists, or use send() for a raw line",
            )
        return self._run(spec, values, timeout)

    def _run(self, spec: BatchCommand, values: tuple[Any, ...], timeout: float | None) -> Reply:
        line = spec.line(values)  # every argument checked before IGV is even looked up
        spec.check_version(self.known_version())
        if spec.secret:
            self._secrets += [
                str(v) for arg, v in zip(spec.args, values, strict=False) if arg.kind == "secret" and v
            ]
        return self.execute(line, timeout=timeout, kind=spec.kind, query=spec.query)

    # -- queries ----------------------------------------------------------------------------
    def echo(self, text: str | None = None, *, timeout: float | None = None) -> str:
        """IGV's ``echo``: returns ``text`` (or ``"echo"``). The cheapest proof IGV is serving us."""
        command = "echo" if text is None else f"echo {A.word(text, 'echo text')}"
        return self.execute(command, timeout=timeout, kind="echo", query=True).text

    def version(self, *, timeout: float | None = None) -> str | None:
        """IGV's version, or ``None`` when it cannot be told (Debian's 2.16 answers ``user``)."""
        try:
            answer = self.execute("version", timeout=timeout, kind="echo", query=True).text.strip()
        except CommandError:
            answer = ""
        if answer and answer.lower() not in _UNKNOWN_VERSIONS:
            return answer
        if self._version:
            return self._version
        return version_from_install(self.cmdline) if self.cmdline else None

    def current_genome(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The genome IGV has loaded, and where tether learned it.

        Sources, best first: ``currentGenomePath`` (IGV ≥ 2.17), the genome this client loaded
        or was given, the record of an IGV tether launched, ``DEFAULT_GENOME_KEY`` in the
        ``prefs.properties`` of the IGV directory the process runs with.
        """
        genome, source = self._resolve_genome(timeout)
        index = GenomeIndex.load(genome)
        return {
            "genome": genome,
            "source": source,
            "index": index.source if index else None,
            "chromosomes": dict(index.lengths) if index else None,
        }

    def _resolve_genome(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        if self._has_current_genome_path is None:
            self._ensure_endpoint()
            if _local_process_lacks_genome_query(self.on_this_machine, self.pid):
                self._has_current_genome_path = False  # learnt by an earlier command to this process
        if self._has_current_genome_path is not False:
            try:
                path = self.execute(
                    "currentGenomePath", timeout=timeout, kind="echo", query=True
                ).text.strip()
                self._has_current_genome_path = True
                if path:
                    return path, "currentGenomePath"
            except CommandError:
                self._has_current_genome_path = False  # IGV 2.16: UNKOWN COMMAND
                _remember_lacks_genome_query(self.on_this_machine, self.pid)
        if self._genome:
            return self._genome, self._genome_source
        if self.on_this_machine:
            from tether import launched

            rec = launched.load("igv", self.port)  # launch.py's record, read without importing it
            if rec is not None and not launched.alive(rec):
                rec = None
            genome = rec.data.get("genome") if rec else None
            if rec and genome and (self.pid is None or rec.pid == self.pid):
                return genome, "launched by tether"
            igv_dir = rec.data.get("igv_dir") if rec else None
            if self.cmdline or igv_dir:
                directory = igv_directory(self.cmdline) if self.cmdline else Path(igv_dir)
                key = read_prefs(directory).get("DEFAULT_GENOME_KEY")
                if key:
                    return key, f"{directory / 'prefs.properties'}"
        return None, None

    def genome_index(self) -> GenomeIndex | None:
        """The loaded genome's chromosome index, when a local ``.fai`` can be read.

        Cached for a couple of seconds, so a burst of gotos does not re-read it each time.
        """
        now = time.monotonic()
        if self._index_cache is None or now - self._index_cache[0] > INDEX_TTL:
            genome, _ = self._resolve_genome()
            self._index_cache = (now, GenomeIndex.load(genome))
        return self._index_cache[1]

    # -- navigation -------------------------------------------------------------------------
    def goto(self, *loci: str, timeout: float | None = None) -> Reply:
        """Go to one locus, or several (split view). ``chr:start-end``, ``chr:pos``, or a gene name.

        Checked before sending: syntax always; chromosome and coordinates against the loaded
        genome's index when it is readable (IGV itself answers ``OK`` to an unknown chromosome).

        A feature or gene name IGV does not know leaves it where it was, yet IGV answers ``OK``
        (2.16 to 3.0): for one name, on this machine, the view is compared before and after
        (read from a session IGV saves in a private temporary file), and a view that did not
        move is a :class:`~tether.errors.CommandError` (exit 1). If the view was already at that
        feature, IGV is sent to ``All`` and back to the name to tell the two apart.
        """
        for locus in loci:
            A.check_text(str(locus), "locus")
        flat = [part for locus in loci for part in str(locus).split()]
        parsed = self._check_loci(flat)
        command = "goto " + " ".join(flat)
        if not self._needs_search_check(parsed):
            return self.execute(command, timeout=timeout, kind="goto")
        with self.session():
            before = self._view_locus(timeout)
            reply = self.execute(command, timeout=timeout, kind="goto")
            after = self._view_locus(timeout)
            if before is None or after is None or after != before:
                return reply
            self.execute("goto All", timeout=timeout, kind="goto")  # already there, or not found?
            self.execute(command, timeout=timeout, kind="goto")
            if self._view_locus(timeout) == before:
                return reply  # the name is where IGV already was
            self.execute(f"goto {before}", timeout=timeout, kind="goto")  # put the view back
        raise CommandError(
            f"IGV found no feature or locus named {flat[0]!r} and did not move (it answered OK)",
            app_message=reply.text,
            hint="a gene name needs a genome with annotations, or a loaded track that names it",
        )

    def _needs_search_check(self, parsed: list[Locus]) -> bool:
        """One name (not ``chr:start-end``, not a chromosome of the known genome) on this machine."""
        if len(parsed) != 1 or parsed[0].is_range or parsed[0].text.lower() == "all":
            return False
        index = self.genome_index() if self.check_loci else None
        if index is not None and parsed[0].text in index.lengths:
            return False
        return self.on_this_machine

    def _view_locus(self, timeout: float | None) -> str | None:
        """Where IGV's view is: the ``locus`` of a session saved to a private temporary file."""
        import re
        import shutil
        import tempfile

        tmp_root = "/tmp" if os.name == "posix" else None
        scratch = Path(tempfile.mkdtemp(prefix="tether-igv-view-", dir=tmp_root))
        try:
            if any(c.isspace() or c in "\"'" for c in str(scratch)):
                return None
            try:
                self.execute(f"saveSession {scratch / 'view.xml'}", timeout=timeout)
                text = (scratch / "view.xml").read_text(encoding="utf-8", errors="replace")[:1_000_000]
            except (CommandError, OSError):
                return None
            m = re.search(r"<Session\b[^>]*?\slocus=\"([^\"]*)\"", text)
            return m.group(1) if m else None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def verify_loci(self, loci: list[str]) -> list[Locus]:
        """Check loci as :meth:`goto` does (syntax, then the loaded genome's index when readable),
        sending nothing but what finding the genome takes; a bad one is a ``UsageError``."""
        for locus in loci:
            A.check_text(str(locus), "locus")
        return self._check_loci([part for locus in loci for part in str(locus).split()])

    def _check_loci(self, loci: list[str]) -> list[Locus]:
        parsed = validate_loci(loci)  # syntax first: refused before IGV is even looked up
        index = self.genome_index() if self.check_loci else None
        if index is not None:
            for locus in parsed:
                index.check(locus)
        return parsed

    def region(self, locus: str, description: str | None = None, *, timeout: float | None = None) -> Reply:
        """Mark a region of interest (``chr:start-end``)."""
        A.check_text(locus, "locus")
        (parsed,) = self._check_loci([locus])
        if not parsed.is_range:
            raise UsageError(f"a region needs chr:start-end, not {locus!r}")
        command = f"region {parsed.chrom} {parsed.start} {parsed.end}"
        if description:
            command += " " + A.quote(description, "description")
        return self.execute(command, timeout=timeout)

    # -- data -------------------------------------------------------------------------------
    def load(
        self,
        *paths: str | Path,
        index: str | Path | None = None,
        name: str | None = None,
        format: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Load files or URLs (local paths are made absolute; URLs are quoted so IGV does not decode them)."""
        if not paths:
            raise UsageError("give a file or URL to load")
        # Each item quoted on its own where it needs it: IGV splits the list on commas outside
        # quotes, then strips each item's quotes (``"a b.bed",c.bed`` is two files).
        items = [A.path_token(A.path_or_url(p, "file"), "file") for p in paths]
        command = "load " + ",".join(items)
        if index is not None:
            command += " index=" + A.path_token(A.path_or_url(index, "index"), "index")
        if name is not None:
            command += " name=" + A.quote(name, "track name")
        if format is not None:
            command += " format=" + A.word(format.lstrip("."), "format")
        return self.execute(command, timeout=timeout, kind="load")

    def genome(self, genome: str | Path, *, timeout: float | None = None) -> Reply:
        """Load a genome: an id (``hg38``) or a FASTA/JSON path. Later loci are checked against it."""
        text = str(genome)
        value = (
            A.path_or_url(text, "genome")
            if (A.is_url(text) or A.exists_locally(text, "genome"))
            else A.word(text, "genome id")
        )
        reply = self.execute("genome " + A.quote(value, "genome"), timeout=timeout, kind="genome")
        self._genome, self._genome_source = value, "loaded by this client"
        self._index_cache = None
        return reply

    def new(self, *, timeout: float | None = None) -> Reply:
        """Unload every track (a new session)."""
        return self.execute("new", timeout=timeout)

    def snapshot(self, path: str | Path, *, timeout: float | None = None) -> Path:
        """Save a snapshot (``.png`` or ``.svg``) of the current view at ``path``; returns the absolute path.

        The directory is set every time (IGV keeps it across clients) and a bare name is sent.
        """
        directory, name = A.snapshot_target(path)
        target = Path(directory) / name
        from tether import hostfiles

        self.locate()  # which machine IGV runs on decides where the file is (bad input refused first)
        files = hostfiles.machine(self.machine) if self.machine else None
        if files is not None and files.remote:
            return self._snapshot_there(files, target, timeout)
        before = target.stat().st_mtime_ns if target.exists() else None
        with self.session():
            self.execute("snapshotDirectory " + A.quote(directory, "directory"), timeout=timeout)
            self.execute("snapshot " + A.quote(name, "file name"), timeout=timeout, kind="snapshot")
        if self.on_this_machine:
            after = target.stat().st_mtime_ns if target.exists() else None
            if after is None or after == before:
                raise CommandError(f"IGV answered OK but did not write {target}", app_message="OK")
        return ImagePath(target)

    def _snapshot_there(self, files: Any, target: Path, timeout: float | None) -> Path:
        """A snapshot by an IGV on another machine (reached over SSH): IGV writes it in a private
        temporary directory there, and it is copied to ``target`` here, then removed there."""
        there = files.temp_dir()
        written = f"{there}/{target.name}"
        try:
            with self.session():
                self.execute("snapshotDirectory " + A.quote(there, "directory"), timeout=timeout)
                self.execute(
                    "snapshot " + A.quote(target.name, "file name"), timeout=timeout, kind="snapshot"
                )
            data = files.read_bytes(written, limit=SNAPSHOT_MAX_BYTES)
        finally:
            files.remove(written)
            files.remove(there)
        if not data:
            raise CommandError(
                f"IGV answered OK but wrote no {target.name} in {there} on {self.machine}", app_message="OK"
            )
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return ImagePath(target)

    def save_session(self, path: str | Path, *, timeout: float | None = None) -> Path:
        """Save IGV's session to ``path`` (any local path); returns the absolute path written.

        IGV 2.x writes XML and 3.0 JSON, each appending its suffix to a name without one; a
        name with the other format's suffix is refused. A path IGV cannot take (a space or quote:
        2.16-3.0 test the suffix before they strip quotes, then fail with "directory not found")
        is saved in a private temporary directory, with absolute data paths (IGV's
        ``SESSION.RELATIVE_PATH`` off for that one save, then set back), and moved into place.
        """
        text = A.check_text(str(path), "session file")
        spec = BY_IGV["savesession"]
        self.locate()  # where IGV runs decides how the path is read
        local = self.on_this_machine
        target = Path(text).expanduser()
        target = target.resolve() if local else target
        if not target.is_absolute():
            raise UsageError(f"refused: a session path for a remote IGV must be absolute, not {text!r}")
        if local and not target.parent.is_dir():
            raise UsageError(f"refused: directory {target.parent} does not exist", hint="nothing was sent")
        version = self.known_version()
        spec.check_version(version)
        suffix = ".json" if (parse_version(version) or (0,)) >= (3,) else ".xml"
        other = ".xml" if suffix == ".json" else ".json"
        if target.suffix.lower() == other:
            raise UsageError(
                f"refused: IGV {version or ''} writes {suffix[1:].upper()} sessions; name the file *{suffix}",
                hint="nothing was sent",
            )
        if target.suffix.lower() != suffix:
            target = target.with_name(target.name + suffix)
        if not any(c.isspace() or c in "\"'" for c in str(target)):
            before = target.stat().st_mtime_ns if local and target.exists() else None
            self.execute(f"saveSession {target}", timeout=timeout)
            if local and (not target.exists() or target.stat().st_mtime_ns == before):
                raise CommandError(f"IGV answered OK but did not write {target}", app_message="OK")
            return target
        if not local:
            raise UsageError(f"refused: IGV cannot save a session to {str(target)!r} (a space or quote)")
        return self._save_session_and_move(target, timeout)

    def _save_session_and_move(self, target: Path, timeout: float | None) -> Path:
        import shutil
        import tempfile

        relative = "true"
        if self.cmdline:
            relative = read_prefs(igv_directory(self.cmdline)).get("SESSION.RELATIVE_PATH", "true") or "true"
        scratch = Path(
            tempfile.mkdtemp(prefix="tether-igv-session-", dir="/tmp" if os.name == "posix" else None)
        )
        try:
            if any(c.isspace() or c in "\"'" for c in str(scratch)):
                raise UsageError(f"refused: no temporary directory IGV can write to ({scratch})")
            with self.session():
                self.execute("preference SESSION.RELATIVE_PATH false", timeout=timeout)
                try:
                    self.execute(f"saveSession {scratch / 'session'}", timeout=timeout)
                finally:
                    self.execute(f"preference SESSION.RELATIVE_PATH {A.word(relative, 'preference')}")
            written = [p for p in scratch.iterdir() if p.name.startswith("session")]
            if len(written) != 1:
                raise CommandError(
                    f"IGV answered OK but did not write a session in {scratch}", app_message="OK"
                )
            shutil.move(str(written[0]), target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return target

    def load_session(self, path: str | Path, *, timeout: float | None = None) -> Reply:
        """Load a saved session (``.xml``, or ``.json`` from IGV 3.0): IGV replaces what it shows."""
        text = A.check_text(str(path), "session file")
        if Path(text).suffix.lower() not in (".xml", ".json") and not A.is_url(text):
            raise UsageError(
                f"refused: {text!r} is not a session file (.xml or .json)", hint="nothing was sent"
            )
        return self.load(text, timeout=timeout)

    # -- track display ------------------------------------------------------------------------
    def _track_command(self, verb: str, track: str | None, timeout: float | None) -> Reply:
        command = verb if track is None else f"{verb} {A.quote(track, 'track name')}"
        return self.execute(command, timeout=timeout)

    def collapse(self, track: str | None = None, *, timeout: float | None = None) -> Reply:
        """Collapse a track (all tracks when ``track`` is None)."""
        return self._track_command("collapse", track, timeout)

    def expand(self, track: str | None = None, *, timeout: float | None = None) -> Reply:
        """Expand a track (all tracks when ``track`` is None)."""
        return self._track_command("expand", track, timeout)

    def squish(self, track: str | None = None, *, timeout: float | None = None) -> Reply:
        """Squish a track (all tracks when ``track`` is None)."""
        return self._track_command("squish", track, timeout)

    def sort(
        self, option: str, locus: str | None = None, *, reverse: bool = False, timeout: float | None = None
    ) -> Reply:
        """Sort alignments (``base``, ``strand``, ``quality``, …) at ``locus`` or the centre."""
        return self.execute(self.sort_command(option, locus, reverse=reverse), timeout=timeout)

    def sort_command(self, option: str, locus: str | None = None, *, reverse: bool = False) -> str:
        """The ``sort`` line :meth:`sort` sends (checked, :class:`UsageError` otherwise), for
        :meth:`execute_many`."""
        command = "sort " + _choice(option, SORT_OPTIONS, "sort option")
        if locus:
            A.check_text(locus, "locus")
            self._check_loci([locus])
            command += " " + locus
        if reverse:
            command += " reverse"
        return command

    def group(self, option: str, value: str | None = None, *, timeout: float | None = None) -> Reply:
        """Group alignments (``strand``, ``sample``, ``tag TAG``, ``base_at_pos chr:pos`` …)."""
        command = "group " + _choice(option, GROUP_OPTIONS, "group option")
        if value:
            command += " " + A.word(value, "group value")
        return self.execute(command, timeout=timeout)

    def color_by(self, option: str, tag: str | None = None, *, timeout: float | None = None) -> Reply:
        """Colour alignments (``read_strand``, ``tag HP`` …). A bad option is refused (IGV hangs on it)."""
        command = "colorBy " + _choice(option, COLOR_OPTIONS, "colour option")
        if tag:
            command += " " + A.word(tag, "tag")
        return self.execute(command, timeout=timeout)

    def view_as_pairs(
        self, enable: bool = True, track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """Show paired reads as pairs (or not)."""
        command = f"viewaspairs {'true' if enable else 'false'}"
        if track:
            command += " " + A.quote(track, "track name")
        return self.execute(command, timeout=timeout)

    # -- settings ---------------------------------------------------------------------------
    def preference(self, key: str, value: str, *, timeout: float | None = None) -> Reply:
        """Override a preference for this IGV session (keys as in IGV's ``preferences.tab``)."""
        return self.execute(
            f"preference {A.word(key, 'preference key')} {A.quote(value, 'value')}", timeout=timeout
        )

    def max_panel_height(self, height: int, *, timeout: float | None = None) -> Reply:
        """Maximum height of a track panel in snapshots (``-1``: the visible area)."""
        if not isinstance(height, int) or height < -1 or height == 0:
            raise UsageError(f"max panel height must be a positive number of pixels or -1, not {height!r}")
        return self.execute(f"maxPanelHeight {height}", timeout=timeout)

    def set_sleep_interval(self, ms: int, *, timeout: float | None = None) -> Reply:
        """Milliseconds IGV sleeps after *every* later command, for all clients (0 to stop)."""
        if not isinstance(ms, int) or ms < 0:
            raise UsageError(f"the sleep interval must be a whole number of milliseconds >= 0, not {ms!r}")
        return self.execute(f"setSleepInterval {ms}", timeout=timeout)

    def exit(self, *, timeout: float | None = None) -> None:
        """Quit IGV. ``exit`` never answers: success is IGV closing the connection.

        Then ``on_exit`` runs (for an IGV tether launched: wait for it to end, then end its Xvfb).
        """
        deadline = timeout if timeout is not None else self.timeouts["exit"]
        conn = self._conn or self._open(lazy=False)
        self._conn = None
        conn.send_exit(deadline)
        if self.on_exit is not None:
            self.on_exit(self, deadline)

    # -- review ----------------------------------------------------------------------------
    @staticmethod
    def sort_option(option: str) -> str:
        """``option`` when IGV knows it as an alignment sort option; else :class:`UsageError`
        (IGV itself falls back to ``base`` in silence)."""
        return _choice(option, SORT_OPTIONS, "sort option")

    def snapshots(
        self,
        regions: str | Path | list[str],
        out_dir: str | Path,
        *,
        tracks: Iterable[str | Path] = (),
        genome: str | None = None,
        flank: int = 50,
        sort: str | None = None,
        display: str | None = None,
        max_panel_height: int | None = None,
        resume: bool = False,
        title: str | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> Any:
        """One image per region of a VCF, BED, file of loci or list of loci into ``out_dir``,
        drawn by this IGV, with ``manifest.json`` and a review page ``index.html``; see
        :mod:`tether_igv.review`. ``tracks`` are loaded into it first.

        Returns a :class:`~tether_igv.review.ReviewResult`; raises
        :class:`~tether_igv.review.ReviewError` (exit 1) when regions were skipped or failed.
        A pool of private IGVs (``--parallel N``) is :func:`tether_igv.pool.snapshots`.
        """
        from .review import ReviewOptions, review

        options = ReviewOptions(
            tracks=[str(t) for t in tracks],
            genome=genome,
            flank=flank,
            sort=sort,
            display=display,
            max_panel_height=max_panel_height,
            title=title,
        )
        items = [str(regions)] if isinstance(regions, (str, Path)) else [str(r) for r in regions]
        return review(
            self,
            items,
            out_dir,
            resume=resume,
            options=options,
            on_progress=on_progress,
            on_note=on_note,
        )

    # -- scripts ----------------------------------------------------------------------------
    def batch(
        self,
        lines: Iterable[str],
        *,
        base_dir: str | Path | None = None,
        cwd: str | Path | None = None,
        keep_going: bool = False,
        on_line: Callable[[int, str, Reply | TetherError | None], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> BatchResult:
        """Run an IGV batch script line by line over one connection, with the paths ``igv -b``
        would use when started in ``cwd`` (default: the current directory).

        ``base_dir`` is the script's directory (IGV's ``scriptDir``; default ``cwd``). Relative
        local paths (``load`` files, ``genome``, ``snapshotDirectory``, ``saveSession``, a
        ``snapshot`` before any ``snapshotDirectory``) are resolved by IGV's rule — the working
        directory when the file exists there, else the script's directory when it exists there,
        else the working directory — and ``index=``/``coverage=`` against the working directory;
        see :mod:`tether_igv.script`. Where the two directories would give a different meaning,
        ``on_warning`` gets a message (also kept in the result). Every line is checked and
        rewritten before anything is sent. Blank lines and comments (``#``, ``//``) are skipped.
        Stops at the first failing line (a :class:`BatchError` naming its number and quoting it
        as written) unless ``keep_going``. ``on_line`` is called after each line with its
        number, its text as written and its outcome (``None`` when skipped).
        """
        from .script import prepare

        result = BatchResult()
        prepared = prepare(lines, base_dir, cwd=cwd)
        for line in prepared:
            for warning in line.warnings:
                result.warnings.append(warning)
                if on_warning:
                    on_warning(warning)
        with self.session():
            for line in prepared:
                number, text = line.number, line.text
                if line.skipped:
                    result.skipped += 1
                    if on_line:
                        on_line(number, text, None)
                    continue
                started = time.monotonic()
                for command in line.commands:  # one, or snapshotDirectory + snapshot
                    try:
                        reply = self.send(command, timeout=timeout)
                    except CommandError as exc:
                        failure = BatchFailure(number, command, exc.app_message or exc.message, text)
                        result.failures.append(failure)
                        if on_line:
                            on_line(number, text, exc)
                        if not keep_going:
                            raise BatchError(result, failure, exc) from exc
                        break
                    except TetherError as exc:
                        failure = BatchFailure(number, command, exc.message, text)
                        result.failures.append(failure)
                        raise BatchError(result, failure, exc) from exc
                else:
                    result.done += 1
                    result.seconds += time.monotonic() - started
                    if on_line:
                        on_line(number, text, reply)
                    if line.commands[-1].split()[0].lower() == "exit":
                        break
        if result.failures:
            raise BatchError(result, result.failures[0], None)
        return result


class BatchFailure:
    """A failed line: its number, its text as written, the command sent for it, IGV's answer."""

    def __init__(self, line: int, command: str, message: str, text: str | None = None) -> None:
        self.line, self.command, self.message = line, command, message
        self.text = text if text is not None else command

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text, "command": self.command, "message": self.message}


class BatchResult:
    """What a batch run did: commands done, lines skipped, failures (line numbers and IGV's text)."""

    def __init__(self) -> None:
        self.done = 0
        self.skipped = 0
        self.seconds = 0.0
        self.failures: list[BatchFailure] = []
        self.warnings: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": len(self.failures),
            "failures": [f.to_dict() for f in self.failures],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


class BatchError(CommandError):
    """A batch script failed; ``line`` is the 1-based line number of the (first) failing command.
    The message quotes the line as written in the script (``detail["command"]``: as sent)."""

    def __init__(self, result: BatchResult, failure: BatchFailure, cause: TetherError | None) -> None:
        line = failure.line
        if cause is not None:
            message = f"batch stopped at line {line} ({failure.text!r}): {cause.message}"
        else:
            listing = "; ".join(f"line {f.line} ({f.text!r}): {f.message}" for f in result.failures[:10])
            more = f"; and {len(result.failures) - 10} more" if len(result.failures) > 10 else ""
            message = f"batch done, {len(result.failures)} line(s) failed: {listing}{more}"
        super().__init__(
            message,
            app_message=getattr(cause, "app_message", None)
            or (result.failures[0].message if result.failures else None),
            hint=cause.hint if cause is not None else None,
            line=line,
            command=failure.command,
            result=result.to_dict(),
        )
        if cause is not None and not isinstance(cause, CommandError):
            self.exit_code = cause.exit_code  # the connection broke: report it as such (exit 4)
        self.line = line
        self.result = result
