"""Start IGV so that it opens no dialog offline, on a free port, under Xvfb when there is no display.

What gets launched is recorded with :mod:`tether.launched` (app ``"igv"``, keyed by port) so that
later commands know the genome it was started with and ``tether igv stop``/``exit`` know which
processes to end: the Java pid and the Xvfb's, each with its start time, so a reused pid is never
signalled.

>>> inst = launch(genome="/data/tiny.fa")                      # doctest: +SKIP
>>> inst.port, inst.pid
>>> inst.stop()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tether import launched
from tether.adapter import is_loopback
from tether.errors import NotFound, TetherError, Timeout, Unreachable, UsageError
from tether.launched import DataField

from .args import window_bounds
from .probe import MAIN_CLASSES

if TYPE_CHECKING:  # pragma: no cover
    from .client import IGVClient

APP = "igv"
DEFAULT_JAR_PLACES = ("/usr/share/java/igv.jar", "/usr/share/igv/igv.jar", "/opt/igv/lib/igv.jar")
READY_TIMEOUT = 60.0


class Launched(launched.Record):
    """An IGV that tether started: its Java pid, port, private IGV directory, genome, and Xvfb."""

    port = DataField[int]("port")
    host = DataField[str]("host", "127.0.0.1")
    igv_dir = DataField[str]("igv_dir")
    genome = DataField[str | None]("genome")
    display = DataField[str | None]("display")
    xvfb_pid = DataField[int | None]("xvfb_pid")
    owns_dir = DataField[bool]("owns_dir", True)

    def alive(self) -> bool:
        return launched.alive(self)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for IGV to exit on its own; returns whether it did."""
        return launched.wait_gone(self, timeout)

    def stop(self, timeout: float = 10.0, *, keep_log: bool = False) -> bool:
        """End IGV (SIGTERM, then SIGKILL), then the Xvfb we started, and forget the record
        (and its log, unless ``keep_log``). Returns whether IGV was still running.
        """
        was_running = launched.stop(self, timeout)
        self.cleanup()
        self.remove(keep_log=keep_log)
        return was_running

    def cleanup(self) -> None:
        """End the Xvfb started for this IGV and remove the private IGV directory tether made."""
        launched.stop_process(self.xvfb_pid, self.data.get("xvfb_create_time"), 5.0)
        if self.owns_dir:
            shutil.rmtree(self.igv_dir, ignore_errors=True)


def load_record(port: int, *, live_only: bool = True) -> Launched | None:
    """The record of the IGV tether launched on ``port``.

    A record whose IGV is gone is stale: with ``live_only`` it is cleaned up (its Xvfb
    ended, its directory and file removed) and ``None`` returned.
    """
    rec = launched.load(APP, port, kind=Launched)
    if rec is not None and live_only and not rec.alive():
        rec.stop()
        return None
    return rec


def records(*, live_only: bool = True) -> list[Launched]:
    """Every IGV tether launched (by default only live ones; stale records are cleaned up)."""
    return launched.prune(APP, kind=Launched) if live_only else launched.records(APP, kind=Launched)


def after_exit(client: IGVClient, timeout: float) -> None:
    """What quitting an IGV that tether launched also means (``IGVClient.exit`` calls it when
    connected through ``tether.connect``): wait up to ``timeout`` for its Java to end, then end
    the Xvfb started for it, remove its private directory and forget the record.

    Nothing happens for an IGV tether did not launch, or a record naming another process.
    """
    if not is_loopback(client.host):
        return
    rec = load_record(client.port, live_only=False)
    if rec is None:
        return
    if client.pid is not None and rec.pid != client.pid:
        load_record(client.port)  # another process's record: cleaned up only if it is stale
        return
    rec.wait(timeout)  # let IGV finish exiting before anything is signalled
    rec.stop()


def stop_launched(port: int | None = None) -> tuple[Launched, bool]:
    """Stop the IGV tether launched on ``port`` (or the only one), by pid, with its Xvfb;
    returns its record and whether it was still running (a dead one is only cleaned up).

    Several launched and no ``port``: :class:`UsageError`; none: :class:`NotFound`.
    """
    if port is not None:
        found = [r for r in [load_record(port, live_only=False)] if r]
    else:
        found = records(live_only=False)
        if len(found) > 1:
            raise UsageError(
                f"tether launched {len(found)} IGVs; name one with --port",
                hint=", ".join(str(r.port) for r in found),
            )
    if not found:
        raise NotFound(
            "no running IGV launched by tether" + (f" on port {port}" if port else ""), looked_at=[]
        )
    return found[0], found[0].stop()


def find_jar() -> str:
    """IGV's jar: ``$IGV_JAR``, else the usual install places, else the one named by the ``igv`` script."""
    env = os.environ.get("IGV_JAR")
    if env:
        if not Path(env).is_file():
            raise NotFound(f"IGV_JAR names {env}, which does not exist", looked_at=[env])
        return env
    for place in DEFAULT_JAR_PLACES:
        if Path(place).is_file():
            return place
    script = shutil.which("igv")
    if script:
        try:
            import re

            m = re.search(r"(\S+igv[^\s/]*\.jar)", Path(script).read_text(errors="replace"))
            if m and Path(m.group(1)).is_file():
                return m.group(1)
        except OSError:
            pass
    raise NotFound(
        "IGV is not installed where tether looks",
        looked_at=[*DEFAULT_JAR_PLACES, "$IGV_JAR", "the igv script on PATH"],
        hint="install IGV (Debian: apt-get install igv) or set IGV_JAR to its jar",
    )


def _main_class(jar: str) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(jar) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return MAIN_CLASSES[1]
    for cls in MAIN_CLASSES:
        if cls.replace(".", "/") + ".class" in names:
            return cls
    return MAIN_CLASSES[1]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def resolve_genome(genome: str | None) -> str:
    """A genome argument as IGV should get it: an absolute path for files, else the id unchanged."""
    if not genome:
        from .probe import read_prefs

        genome = read_prefs(Path.home() / "igv").get("DEFAULT_GENOME_KEY") or "hg38"
    if any(c in genome for c in "\r\n\0"):
        raise UsageError("the genome argument contains a line break or NUL")
    if "://" in genome:
        return genome
    path = Path(genome).expanduser()
    if path.exists():
        return str(path.resolve())
    if os.sep in genome or genome.endswith((".fa", ".fasta", ".json", ".genome", ".gbk", ".2bit")):
        raise UsageError(f"genome file {genome} does not exist")
    return genome  # an id such as hg38, which IGV looks up in its genome list


SCREEN = (1280, 1024)  # our Xvfb's screen unless the window asked for needs more


def write_prefs(igv_dir: Path, port: int, genome: str, bounds: tuple[int, int] | None = None) -> None:
    """Preferences for an offline start with no dialog (no genome download, no
    update check, no first-run dialog); ``bounds`` is the
    window's size (``IGV.Bounds``; IGV ignores it when it does not fit the screen)."""
    genomes_list = igv_dir / "genomes.tsv"
    genomes_list.write_text("", encoding="utf-8")  # a local list: IGV skips the genome-server fetch
    lines = {
        "IGV.genome.sequence.dir": str(genomes_list),
        "SHOW_GENOME_SERVER_WARNING": "FALSE",
        "DEFAULT_GENOME_KEY": genome,
        "PORT_ENABLED": "TRUE",
        "PORT_NUMBER": str(port),
    }
    if bounds is not None:
        lines["IGV.Bounds"] = f"0,0,{bounds[0]},{bounds[1]}"
    # java.util.Properties escapes ':' and '\'; IGV reads this file with it.
    text = "".join(
        f"{k}={v.replace(chr(92), chr(92) * 2).replace(':', chr(92) + ':')}\n" for k, v in lines.items()
    )
    (igv_dir / "prefs.properties").write_text(text, encoding="utf-8")


def start_xvfb(screen: tuple[int, int] = SCREEN) -> tuple[int, str]:
    """Start our own Xvfb on a display it picks itself (``-displayfd``). Returns (pid, ":N")."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        raise NotFound(
            "there is no display and Xvfb is not installed",
            looked_at=["$DISPLAY", "Xvfb on PATH"],
            hint="install Xvfb (Debian: apt-get install xvfb) or run with a display",
        )
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                xvfb,
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{screen[0]}x{screen[1]}x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
    import select

    data = b""
    end = time.monotonic() + 10.0
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while not data.endswith(b"\n") and time.monotonic() < end:
            ready, _, _ = select.select([pipe], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            chunk = pipe.read(16)
            if not chunk:
                break
            data += chunk
    if not data.strip().isdigit():
        launched.stop_process(proc.pid, launched.start_time(proc.pid), 2.0)
        raise Unreachable("Xvfb did not start (it reported no display number within 10 s)")
    return proc.pid, f":{int(data.strip())}"


def launch(
    genome: str | None = None,
    *,
    port: int | None = None,
    headless: bool = False,
    igv_dir: str | os.PathLike | None = None,
    java: str | None = None,
    jar: str | None = None,
    memory: str | None = None,
    java_options: list[str] | None = None,
    timeout: float = READY_TIMEOUT,
    width: int | None = None,
    height: int | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Launched:
    """Start IGV on a free port with its own preference directory and wait until a ``goto`` answers ``OK``.

    ``headless`` forces a private Xvfb; without a ``DISPLAY`` one is started anyway.
    ``width``/``height``: IGV's window size in pixels, so snapshots are ``width`` wide (see
    :func:`window_bounds`); our Xvfb's screen grows to fit; on a real display IGV falls back to
    its default size when the window would not fit the screen. ``on_status`` hears each
    stage of the wait (for a progress line).
    On any failure everything started is stopped again before the error is raised.
    """
    bounds = window_bounds(width, height)  # bad sizes are refused before anything starts
    java = java or shutil.which("java")
    if not java:
        raise NotFound(
            "java is not on PATH", looked_at=["PATH"], hint="install a Java runtime (IGV needs one)"
        )
    jar = jar or find_jar()
    genome = resolve_genome(genome)
    port = port or free_port()
    owns_dir = igv_dir is None
    directory = Path(igv_dir) if igv_dir else Path(tempfile.mkdtemp(prefix="igv-", dir=launched.app_dir(APP)))
    directory.mkdir(parents=True, exist_ok=True)
    write_prefs(directory, port, genome, bounds)

    env = dict(os.environ)
    xvfb_pid = None
    display = env.get("DISPLAY")
    if headless or not display:
        screen = (max(SCREEN[0], bounds[0]), max(SCREEN[1], bounds[1])) if bounds else SCREEN
        xvfb_pid, display = start_xvfb(screen)
        env["DISPLAY"] = display
    log_path = launched.new_log(APP)
    cmd = [java, "-Djava.net.preferIPv4Stack=true", "-Dapple.laf.useScreenMenuBar=true"]
    if memory:
        cmd.append(f"-Xmx{memory}")
    for option in java_options or []:
        if not option.startswith("-") or any(c in option for c in "\r\n\0"):
            raise UsageError(f"refused: {option!r} is not a Java option")
        cmd.append(option)
    cmd += ["-cp", jar, _main_class(jar), "--igvDirectory", str(directory), "-p", str(port), "-g", genome]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
        )
    rec = launched.new_record(
        APP,
        port,
        proc.pid,
        log=log_path,
        kind=Launched,
        port=port,
        host="127.0.0.1",
        igv_dir=str(directory),
        genome=genome,
        display=display,
        xvfb_pid=xvfb_pid,
        xvfb_create_time=launched.start_time(xvfb_pid),  # our unreaped child: its pid cannot be reused yet
        owns_dir=owns_dir,
    )
    rec.save()
    try:
        wait_ready(rec, timeout, on_status=on_status)
    except BaseException:
        rec.stop(timeout=5.0, keep_log=True)  # the error names the log
        raise
    return rec


#: IGV 2.16's log when a ``goto`` finds no genome loaded (the start-up genome failed, or is
#: still downloading)
NO_GENOME = 'getCurrentGenome()" is null'
#: ... and what tells "failed" from "still downloading": an error dialog, or no network at all
GENOME_FAILED = ("MessageUtils.lambda$showMessage", "UnknownHostException", "Error loading genome")


def genome_failure(rec: Launched) -> str | None:
    """Why IGV has no genome, when its log shows the start-up genome failed to load (else None).

    Offline, a genome id (``hg38``) makes IGV 2.16 fail its download, open a modal dialog and
    answer every ``goto`` with a NullPointerException; the log says all three.
    """
    genome = rec.genome or ""
    if Path(genome).is_file():
        return None
    text = launched.log_tail(rec, 400)
    if NO_GENOME not in text or not any(sign in text for sign in GENOME_FAILED):
        return None
    offline = "UnknownHostException" in text
    return f"IGV could not load the genome {genome!r}" + (
        " (no network: a genome id is downloaded from IGV's genome server)" if offline else ""
    )


def wait_ready(
    rec: Launched, timeout: float = READY_TIMEOUT, *, on_status: Callable[[str], None] | None = None
) -> None:
    """Wait until IGV answers ``echo`` and then a ``goto`` with ``OK`` (its genome is loaded).

    The port opens before the start-up genome is loaded (igvteam/igv#1094), so ``echo`` alone
    is not enough. A start-up genome that failed to load (IGV's log says so; offline, a genome
    id) ends the wait at once with :class:`Unreachable` instead of waiting out ``timeout``.
    """
    status = on_status or (lambda _text: None)
    status(f"starting IGV (pid {rec.pid})")
    from .client import IGVClient
    from .locus import GenomeIndex

    end = time.monotonic() + timeout
    index = GenomeIndex.load(rec.genome)
    target = index.first_locus() if index else "All"
    client = IGVClient(rec.host, rec.port, genome=rec.genome, timeouts={"echo": 1.0})
    last: Exception | None = None
    while time.monotonic() < end:
        if not rec.alive():
            tail = launched.log_tail(rec, 5).replace("\n", " | ")
            raise Unreachable(f"IGV exited during start-up: {tail or 'no log output'}", hint=f"see {rec.log}")
        try:
            client.echo()
        except TetherError as exc:
            last = exc
            time.sleep(0.2)
            continue
        status(f"IGV is up on port {rec.port}; loading genome {rec.genome}")
        failed = genome_failure(rec)
        if failed:
            raise Unreachable(
                failed,
                hint="pass --genome a local indexed FASTA (with its .fai), or connect to the network; "
                f"IGV's log: {rec.log}",
            )
        try:
            client.execute(f"goto {target}", timeout=min(5.0, max(1.0, end - time.monotonic())))
            return
        except Timeout as exc:
            last = exc
        except TetherError as exc:
            last = exc
            time.sleep(0.2)
    raise Timeout(
        f"IGV did not become ready on port {rec.port} within {timeout:g} s ({last})",
        hint="a genome id needs the network; pass --genome a local indexed FASTA (with its .fai) "
        f"— IGV's log: {rec.log}",
    )
