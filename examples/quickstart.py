"""tether in one minute: start a headless Firefox, IGV and a Bluesky queue server, find them, drive
each once, stop them.

    python3 tests/real/install.py && .venv/bin/python examples/quickstart.py

Every step is a `tether` command, printed before it runs, so this is also a transcript of the CLI.
The queue server (redis, RE Manager with the simulated profile, the HTTP server with a new API key)
is started by `tether qserver launch` and stopped by `tether qserver shutdown`; at a shell,
`eval "$(tether qserver launch)"` exports its URL and key.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

TETHER = str(Path(sys.executable).parent / "tether")


def tether(
    *args: str, capture: bool = False, env: dict[str, str] | None = None, show: bool = True
) -> subprocess.CompletedProcess:
    print(f"\n$ tether {' '.join(args)}", flush=True)
    proc = subprocess.run([TETHER, *args], text=True, capture_output=capture, env=env)
    if capture and proc.stdout and show:
        print(proc.stdout.rstrip())
    if proc.returncode != 0:
        if capture and proc.stderr:
            print(proc.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(f"`tether {' '.join(args)}` exited {proc.returncode}")
    return proc


def tiny_genome(directory: Path) -> Path:
    """A small indexed FASTA, so that IGV needs no network for its genome."""
    rng = random.Random(1)
    fasta = directory / "demo.fa"
    lines, index, offset = [], [], 0
    for name, length in (("chr1", 30_000), ("chr2", 12_000)):
        header = f">{name}\n"
        offset += len(header)
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        body = "".join(seq[i : i + 60] + "\n" for i in range(0, length, 60))
        lines.append(header + body)
        index.append(f"{name}\t{length}\t{offset}\t60\t61\n")
        offset += len(body)
    fasta.write_text("".join(lines))
    Path(f"{fasta}.fai").write_text("".join(index))
    return fasta


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tether-quickstart-"))
    started: list[tuple[str, ...]] = []
    try:
        # the slowest to be ready, so first: redis, RE Manager and the HTTP server on free ports
        qserver = json.loads(
            tether("qserver", "launch", "--json", "--show-key", capture=True, show=False).stdout
        )
        print(f"queue server ready at {qserver['url']} (its new API key is in the JSON: not shown here)")
        started.append(("qserver", "shutdown", "--port", str(qserver["port"])))
        ff = json.loads(tether("firefox", "launch", "--headless", "--json", capture=True).stdout)
        started.append(("firefox", "quit", "--port", str(ff["port"])))
        genome = str(tiny_genome(work))
        igv = json.loads(
            tether("igv", "launch", "--headless", "--genome", genome, "--json", capture=True).stdout
        )
        started.append(("igv", "exit", "--port", str(igv["port"])))

        tether("scan")  # the point of it all: what is listening here, proved by each app's own protocol

        page = work / "hello.html"
        page.write_text("<title>Hello from tether</title><h1>hi</h1>")
        # With one instance of each app, tether finds it alone; --port picks ours in case others run here too.
        ff_port, igv_port = ("--port", str(ff["port"])), ("--port", str(igv["port"]))
        tether("firefox", "navigate", page.as_uri(), *ff_port)
        tether("firefox", "title", *ff_port)
        tether("igv", "goto", "chr1:1,000-2,000", *igv_port)
        tether("igv", "snapshot", str(work / "chr1.png"), *igv_port)
        print(f"\nIGV wrote {work / 'chr1.png'}")

        # The queue server's API key comes from the environment (never from the command line).
        print("\n$ export QSERVER_HTTP_SERVER_API_KEY=…", flush=True)
        env = {**os.environ, "QSERVER_HTTP_SERVER_API_KEY": qserver["api_key"]}
        qs_port = ("--port", str(qserver["port"]))
        tether("qserver", "env", "open", "--wait", *qs_port, env=env)
        tether("qserver", "run", "count", "det1,det2", "num=3", *qs_port, env=env)
        tether("qserver", "env", "close", "--wait", *qs_port, env=env)
    finally:
        for args in reversed(started):
            try:
                tether(*args)
            except SystemExit as exc:
                print(exc, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
