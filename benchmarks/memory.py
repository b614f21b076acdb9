"""Peak memory of tether reading hostile or huge replies: each capped reply costs about its cap.

    python benchmarks/memory.py            # every case, a table (MiB) on stdout
    python benchmarks/memory.py --json

Each case runs in a fresh Python process (``--case NAME``): the client's peak RSS
(``resource.getrusage(...).ru_maxrss``) is measured after the imports and before the reply, so
the figure is what the reply itself cost; the server runs in another process, so its buffers
are not counted. Cases:

- ``http-endless``: a chunked body without end against ``HttpSession(max_body=64 MiB)``
  (unbounded before: 2 GB in 4 s);
- ``http-near-cap``: a 60 MiB JSON string body under the 64 MiB cap (accepted and parsed);
- ``ws-oversized``: a WebSocket frame announcing 1 TiB (refused from its header);
- ``ws-fragments``: 64 KiB fragments without end against a 64 MiB message cap;
- ``frame-over-cap``: a Marionette frame announcing more than the 256 MiB cap (refused from its
  header);
- ``frame-250mb``: a 250 MB Marionette frame (a JSON string, like a screenshot) accepted
  and parsed — 2.85× its size before.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import time

MiB = 1 << 20


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


# -- servers (run in their own process: ``--serve KIND PORTFILE``) ---------------------------------
def _serve(kind: str) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    try:
        if kind == "http-endless":
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
            while True:
                conn.sendall(chunk)
        elif kind == "http-near-cap":
            conn.recv(65536)
            body = b'"' + b"x" * (60 * MiB) + b'"'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        elif kind in ("ws-oversized", "ws-fragments"):
            import base64
            import hashlib

            req = b""
            while b"\r\n\r\n" not in req:
                req += conn.recv(4096)
            key = next(
                ln.split(b":", 1)[1].strip()
                for ln in req.split(b"\r\n")
                if ln.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            if kind == "ws-oversized":
                conn.sendall(bytes([0x81, 127]) + (1 << 40).to_bytes(8, "big"))
            else:
                frag = bytes([0x00, 127]) + (65536).to_bytes(8, "big") + b"a" * 65536
                conn.sendall(bytes([0x01, 127]) + (65536).to_bytes(8, "big") + b"a" * 65536)
                while True:
                    conn.sendall(frag)
        elif kind == "frame-over-cap":
            conn.sendall(b'%d:{"applicationType": "gecko"}' % (300 * MiB))
        elif kind == "frame-250mb":
            body = b'[1,1,null,{"value":"' + b"A" * 250_000_000 + b'"}]'
            conn.sendall(b"%d:" % len(body) + body)
        time.sleep(5)
    except OSError:
        pass


# -- clients -----------------------------------------------------------------------------------------
def _client(kind: str, port: int) -> tuple[str, int | None]:
    from tether.deadline import Deadline
    from tether.errors import TetherError

    if kind.startswith("http"):
        from tether.transport.http import HttpSession

        s = HttpSession(f"http://127.0.0.1:{port}", timeout=30, retries=0, max_body=64 * MiB)
        try:
            value = s.get("/x")
            return "accepted", len(value)
        except TetherError as exc:
            return type(exc).__name__, 64 * MiB
    if kind.startswith("ws"):
        from tether.transport.ws import WsConnection

        ws = WsConnection.open(f"ws://127.0.0.1:{port}/", deadline=Deadline(5), max_message=64 * MiB)
        try:
            ws.recv(Deadline(30))
            return "accepted", None
        except TetherError as exc:
            return type(exc).__name__, 64 * MiB
    from tether.transport.framed import FramedConnection

    conn = FramedConnection.open("127.0.0.1", port, Deadline(5))
    try:
        frame = conn.read_frame(Deadline(60))
        return "accepted", len(frame[3]["value"])
    except TetherError as exc:
        return type(exc).__name__, conn.max_frame


def _case(kind: str) -> dict:
    import requests  # noqa: F401
    import websocket  # noqa: F401

    import tether.transport.framed
    import tether.transport.http
    import tether.transport.ws  # noqa: F401

    server = subprocess.Popen([sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        base = _rss()
        start = time.monotonic()
        outcome, size = _client(kind, port)
        took = time.monotonic() - start
        peak = _rss()
    finally:
        server.kill()
        server.wait()
    cost = peak - base
    return {
        "case": kind,
        "outcome": outcome,
        "seconds": round(took, 2),
        "reply_or_cap_MiB": round(size / MiB, 1) if size else None,
        "peak_over_baseline_MiB": round(cost / MiB, 1),
        "ratio": round(cost / size, 2) if size else None,
    }


CASES = ("http-endless", "http-near-cap", "ws-oversized", "ws-fragments", "frame-over-cap", "frame-250mb")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=CASES)
    ap.add_argument("--serve", choices=CASES)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.serve:
        return _serve(args.serve)
    if args.case:
        print(json.dumps(_case(args.case)))
        return
    rows = []
    for kind in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", kind], capture_output=True, text=True, timeout=300
        )
        rows.append(
            json.loads(out.stdout) if out.returncode == 0 else {"case": kind, "error": out.stderr[-300:]}
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':16} {'outcome':14} {'s':>6} {'reply/cap MiB':>14} {'peak-base MiB':>14} {'ratio':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['case']:16} ERROR {r['error']}")
            continue
        print(
            f"{r['case']:16} {r['outcome']:14} {r['seconds']:>6} {r['reply_or_cap_MiB'] or '-':>14}"
            f" {r['peak_over_baseline_MiB']:>14} {r['ratio'] or '-':>6}"
        )


if __name__ == "__main__":
    main()
