"""Fuzz every parser of outside data: each may only return or raise a tether error (issue 9).

    python benchmarks/fuzz.py                       # 100,000 inputs per parser, a table on stdout
    python benchmarks/fuzz.py -n 20000 --seed 7     # fewer inputs, another seed
    python benchmarks/fuzz.py --only locus,frames --json

A *crash* is any exception that is not a :class:`~tether.errors.TetherError` (a traceback or an
"internal error" for the user). Inputs are random mutations of valid examples (bytes flipped,
inserted, deleted, duplicated; tokens spliced from a dictionary of troublemakers: huge numbers,
deep nesting, NUL, U+2028, lone surrogates, invalid UTF-8 …) and wholly random strings. The
first crashing inputs of each parser are printed (``repr``, shortened) so they can be replayed.

Parsers: IGV loci, IGV batch-script lines (split and checked, paths resolved), IGV reply lines
(framing over a socket pair, then classification), qserver plan arguments (shorthand, JSON and
Python literals), qserver URLs, qserver JSON reply shapes, Marionette ``len:json`` frames (over a
socket pair), host names, and WebDriver BiDi network events (parsed, then written as a HAR entry).
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from tether.deadline import Deadline
from tether.errors import TetherError

TOKENS = [
    "",
    " ",
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "\u2029",
    "\ud800",
    "\udfff",
    "\ufeff",
    "\U0010ffff",
    "é",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    ":",
    "-",
    "=",
    '"',
    "'",
    "\\",
    "~",
    "/",
    "..",
    "%2C",
    "@",
    "#",
    "//",
    "1" * 25,
    "9" * 4400,
    "-1",
    "0",
    "1e999",
    "NaN",
    "Infinity",
    "null",
    "true",
    "[" * 1200,
    "]" * 1200,
    "{" * 600,
    "a" * 300,
    "chr1",
    "http://",
    "https://",
    "[::1]",
    "127.0.0.1",
    ":99999",
    "xn--",
    "..",
    "echo",
    "exit",
    "load",
    "genome",
    "snapshot",
    "$SCRIPT_DIR",
    "~nosuchuser",
    "data:",
]


def mutate(rng: random.Random, seed: str) -> str:
    """A random mutation of ``seed`` (several edits), or a wholly random string."""
    if rng.random() < 0.1:
        return "".join(
            rng.choice(TOKENS) if rng.random() < 0.3 else chr(rng.randrange(0, 0x3000))
            for _ in range(rng.randrange(0, 40))
        )
    s = list(seed)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(6)
        pos = rng.randrange(len(s) + 1)
        if op == 0 and s:
            del s[min(pos, len(s) - 1)]
        elif op == 1:
            s[pos:pos] = list(rng.choice(TOKENS))
        elif op == 2:
            s[pos:pos] = [chr(rng.randrange(0, 0x110000))]
        elif op == 3 and s:
            i = min(pos, len(s) - 1)
            s[i] = chr(rng.randrange(32, 127))
        elif op == 4 and s:
            a = rng.randrange(len(s))
            b = rng.randrange(a, min(len(s), a + 20) + 1)
            s[pos:pos] = s[a:b] * rng.randrange(1, 4)
        else:
            s = s[:pos]
    return "".join(s)


def mutate_bytes(rng: random.Random, seed: bytes) -> bytes:
    text = mutate(rng, seed.decode("utf-8", "surrogateescape"))
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.2 and data:
        b = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        data = bytes(b)
    return data


# -- the parsers ---------------------------------------------------------------------------------------
def _locus() -> tuple[list[str], Callable[[str], Any]]:
    from tether_igv.locus import GenomeIndex, parse_locus, validate_loci

    index = GenomeIndex({"chr1": 248_956_422, "chrX": 156_040_895, "1": 1000}, "fuzz")
    seeds = ["chr1:1,000-2,000", "chr1:100", "EGFR", "chrX:1-156040895", "1:5-6", "chr1:1,000,000-1,000,100"]

    def run(text: str) -> Any:
        parse_locus(text)
        return validate_loci([text, "chr1:1-2"], index)

    return seeds, run


def _batch(tmp: str) -> tuple[list[str], Callable[[str], Any]]:
    from tether_igv.script import prepare, split_lines

    seeds = [
        "new\ngenome hg38\nload a.bam,b.bam index=a.bai\ngoto chr1:1-100\nsnapshot x.png\n# comment\n",
        'load "my file.bam" name="x y"\nsnapshotDirectory $SCRIPT_DIR/shots\nsaveSession ~/s.xml\r\nexit',
        "echo a\u2028exit\r\necho b\x85exit\rsetSleepInterval 0",
    ]
    return seeds, lambda text: prepare(split_lines(text), tmp)


def _igv_lines() -> tuple[list[bytes], Callable[[bytes], Any]]:
    from tether.transport.line import LineConnection
    from tether_igv.protocol import _classify

    seeds = [b"OK\nnonce\n", b"ERROR: bad locus\n\nnonce\r\n", b"UNKOWN COMMAND: x\nnonce\n", b"hg38\n"]

    def run(data: bytes) -> Any:
        a, b = socket.socketpair()
        try:
            a.sendall(data[:200_000])
            a.shutdown(socket.SHUT_WR)
            conn = LineConnection(b, max_line=4096)
            lines = []
            deadline = Deadline(2)
            while (line := conn.readline(deadline)) is not None and len(lines) < 50:
                lines.append(line)
            conn.close()
        finally:
            a.close()
        return _classify("goto chr1", lines, 0.0, query=bool(len(data) % 2))

    return seeds, run


def _plan() -> tuple[list[str], Callable[[str], Any]]:
    import shlex

    from tether_qserver.plan import parse_items

    seeds = [
        "count det1,det2 num=3",
        "count '[\"det1\"]' num=3 delay=0.5",
        '{"name": "count", "args": [["det1"]], "kwargs": {"num": 3}}',
        "scan det1 motor -1 1 10 md={'a': (1, 2)}",
        "{'name': 'count', 'args': [[1, 2.5, None, True]]}",
    ]

    def run(text: str) -> Any:
        try:
            tokens = shlex.split(text)
        except ValueError:
            tokens = text.split(" ")
        return parse_items(tokens or [text])

    return seeds, run


def _url() -> tuple[list[str], Callable[[str], Any]]:
    from tether_qserver.probe import parse_url

    seeds = ["http://127.0.0.1:60610", "https://beamline.example.org/qs/", "http://[::1]:8080/x", "http://h"]
    return seeds, parse_url


def _host() -> tuple[list[str], Callable[[str], Any]]:
    from tether.adapter import check_host

    return ["localhost", "127.0.0.1", "::1", "igv.example.org", "bücher.de"], check_host


def _reply_shapes() -> tuple[list[str], Callable[[str], Any]]:
    from tether_qserver.client import REPLY_SHAPES, check_reply

    paths = list(REPLY_SHAPES)
    seeds = [
        '{"success": true, "items": [{"name": "count"}], "running_item": {}}',
        '{"manager_state": "idle", "items_in_queue": 0}',
        '{"plans_allowed": {"count": {"parameters": [{"name": "detectors", "kind": {"value": 1}}]}}}',
        '{"success": false, "msg": "refused"}',
        '{"item": {"item_uid": "x"}}',
        "[1, 2]",
    ]

    def run(text: str) -> Any:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return None  # the transport's job (a ProtocolError there); shapes start from JSON
        return check_reply(paths[len(text) % len(paths)], value)

    return seeds, run


def _frames() -> tuple[list[bytes], Callable[[bytes], Any]]:
    from tether.transport.framed import FramedConnection

    seeds = [
        b'50:{"applicationType":"gecko","marionetteProtocol":3}',
        b'22:[1,1,null,{"value":1}]',
        b'33:[1,2,{"error":"x","message":"y"},null]',
    ]

    def run(data: bytes) -> Any:
        a, b = socket.socketpair()
        try:
            a.sendall(data[:200_000])
            a.shutdown(socket.SHUT_WR)
            conn = FramedConnection(b, max_frame=1 << 20)
            deadline = Deadline(2)
            for _ in range(5):
                if conn.read_frame(deadline) is None:
                    break
            conn.close()
        finally:
            a.close()

    return seeds, run


def _bidi_network() -> tuple[list[str], Callable[[str], Any]]:
    from tether_firefox.har import entry
    from tether_firefox.network import parse_event

    header = '{"name": "Content-Type", "value": {"type": "string", "value": "text/html"}}'
    request = (
        '{"request": "7-ab", "url": "http://127.0.0.1:8000/api?x=1", "method": "GET", "headersSize": 100,'
        f' "bodySize": 0, "headers": [{header}], "timings": {{"requestTime": 1700000000000.5,'
        ' "requestStart": 1700000000001, "responseStart": 1700000000002, "responseEnd": 1700000000003}}'
    )
    response = (
        '{"url": "http://127.0.0.1:8000/api", "status": 200, "statusText": "OK", "mimeType": "text/html",'
        f' "protocol": "http/1.1", "headers": [{header}], "bodySize": 5, "content": {{"size": 0}}}}'
    )
    seeds = [
        '{"type": "event", "method": "network.beforeRequestSent", "params": {"context": "c",'
        f' "isBlocked": true, "intercepts": ["i"], "redirectCount": 0, "request": {request}}}}}',
        '{"type": "event", "method": "network.responseCompleted", "params": {"context": "c",'
        f' "timestamp": 1700000000004, "request": {request}, "response": {response}}}}}',
        '{"type": "event", "method": "network.fetchError", "params": {"errorText": "NS_ERROR_ABORT",'
        f' "request": {request}}}}}',
    ]

    def run(text: str) -> Any:
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            return None  # the WebSocket transport's job (a ProtocolError there)
        event = parse_event(msg)
        if event is not None:
            event.request.response = event.response
            return entry(event.request, b"body")
        return None

    return seeds, run


def parsers(tmp: str) -> dict[str, tuple[list, Callable, bool]]:
    """name -> (seeds, run, takes bytes)."""
    return {
        "igv loci": (*_locus(), False),
        "igv batch scripts": (*_batch(tmp), False),
        "igv reply lines": (*_igv_lines(), True),
        "qserver plan arguments": (*_plan(), False),
        "qserver URLs": (*_url(), False),
        "qserver reply shapes": (*_reply_shapes(), False),
        "marionette frames": (*_frames(), True),
        "host names": (*_host(), False),
        "bidi network events": (*_bidi_network(), False),
    }


def fuzz(name: str, seeds: list, run: Callable, binary: bool, n: int, rng: random.Random) -> dict:
    crashes: list[str] = []
    kinds: dict[str, int] = {}
    refused = 0
    start = time.monotonic()
    sys.setrecursionlimit(1000)
    for i in range(n):
        seed = seeds[i % len(seeds)]
        data = mutate_bytes(rng, seed) if binary else mutate(rng, seed)
        try:
            run(data)
        except TetherError:
            refused += 1
        except Exception as exc:  # the crash this harness looks for
            kind = f"{type(exc).__name__}: {str(exc)[:80]}"
            kinds[kind] = kinds.get(kind, 0) + 1
            if len(crashes) < 5:
                crashes.append(f"{kind} <- {data[:120]!r}")
    return {
        "parser": name,
        "inputs": n,
        "refused": refused,
        "crashes": sum(kinds.values()),
        "seconds": round(time.monotonic() - start, 1),
        "kinds": kinds,
        "examples": crashes,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="inputs per parser (default 100,000)")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--only", help="comma-separated parser names (substrings)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (seeds, run, binary) in parsers(tmp).items():
            if args.only and not any(w.strip() in name for w in args.only.split(",")):
                continue
            rows.append(fuzz(name, seeds, run, binary, args.n, random.Random(f"{args.seed}-{name}")))
            if not args.json:
                r = rows[-1]
                print(
                    f"{r['parser']:24} {r['inputs']:>8} inputs {r['refused']:>8} refused"
                    f" {r['crashes']:>6} crashes {r['seconds']:>7} s",
                    flush=True,
                )
                for example in r["examples"]:
                    print("    " + example)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if any(r["crashes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
