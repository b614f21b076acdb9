"""'View in IGV' links: HTTP GETs on IGV's port (``/goto``, ``/load``), encoded, never sent by tether.

IGV parses only up to the second ``?`` and splits on ``&`` and the first ``=``, so every value
is percent-encoded with nothing left safe (``?``, ``&``, ``#``, ``%``, ``+`` must be).
The host is ``127.0.0.1``: IGV listens on IPv4 only, and ``localhost`` may resolve to ``::1``.

>>> goto_url(["chr1:1,000-2,000"])
'http://127.0.0.1:60151/goto?locus=chr1%3A1%2C000-2%2C000'
"""

from __future__ import annotations

from urllib.parse import quote

from tether.errors import UsageError

from . import args as A
from .locus import validate_loci
from .probe import DEFAULT_PORT


def _base(port: int | None) -> str:
    port = port or DEFAULT_PORT
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range (1-65535)")
    return f"http://127.0.0.1:{port}"


def _query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params)


def goto_url(loci: list[str], *, port: int | None = None) -> str:
    """A ``/goto`` link; several loci give IGV's split view."""
    for locus in loci:
        A.check_text(locus, "locus")
    parsed = validate_loci([part for locus in loci for part in locus.split()])
    return f"{_base(port)}/goto?" + _query([("locus", " ".join(p.text for p in parsed))])


def load_url(
    files: list[str],
    *,
    locus: str | None = None,
    genome: str | None = None,
    index: str | None = None,
    name: str | None = None,
    format: str | None = None,
    merge: bool | None = None,
    port: int | None = None,
) -> str:
    """A ``/load`` link for files or URLs (local paths made absolute), with optional locus, genome …"""
    if not files:
        raise UsageError("give a file or URL to load")
    paths = [A.path_or_url(f, "file", must_exist=False) for f in files]
    params = [("file", ",".join(paths))]
    if index:
        params.append(("index", A.path_or_url(index, "index", must_exist=False)))
    if genome:
        params.append(("genome", A.check_text(genome, "genome")))
    if locus:
        A.check_text(locus, "locus")
        params.append(("locus", " ".join(p.text for p in validate_loci(locus.split()))))
    if name:
        params.append(("name", A.check_text(name, "track name")))
    if format:
        params.append(("format", A.word(format.lstrip("."), "format")))
    if merge is not None:
        params.append(("merge", "true" if merge else "false"))
    return f"{_base(port)}/load?" + _query(params)
