"""One-shot ``tether`` commands beside a minimal typer CLI doing the same raw work, in the same run.

    .venv/bin/python benchmarks/cli.py [--rounds 11] [--listeners 200] [--json FILE]

Starts the real IGV, Firefox and queue server (tests/real/apps.py), opens ``--listeners``
other listening sockets (so the scan has a machine's worth of sockets to go through), writes
the floor — a typer app with three sub-apps (a socket ``goto``, a Marionette session with
``GetTitle``, a requests ``GET /api/status``) and a psutil listing of the listeners — into a
temporary directory, compiles both (.pyc on, as an installed tether has them), and times each
pair of commands in interleaved rounds (the order alternates). Prints the table of issue 16:
medians, and the ratio tether / floor, with the goals. Also the in-process ``tether.scan()``
beside ``lsof -nP -iTCP -sTCP:LISTEN``. Every command's output is checked once (the right
reply, all three apps verified by the scan): a benchmark of commands that fail measures nothing.

A benchmark, never a test assertion: run it on a quiet machine (the load is printed).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path[1:1] = [str(ROOT / "src"), str(ROOT / "adapters")]

MINI = '''\
"""The floor: a minimal typer CLI doing each command's raw work, nothing else."""
import json
import os
import socket
import sys

import typer

app = typer.Typer()
igv = typer.Typer()
firefox = typer.Typer()
qserver = typer.Typer()
app.add_typer(igv, name="igv")
app.add_typer(firefox, name="firefox")
app.add_typer(qserver, name="qserver")


@igv.command()
def goto(locus: str, port: int = typer.Option(60151, "--port")) -> None:
    """Go to a locus (IGV's batch port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"goto {locus}\\n".encode())
        print(sock.makefile("rb").readline().decode().strip())


def _frame(sock, reader) -> object:
    size = b""
    while not size.endswith(b":"):
        size += reader.read(1)
    return json.loads(reader.read(int(size[:-1])))


@firefox.command()
def title(port: int = typer.Option(2828, "--port")) -> None:
    """The page title (a Marionette session with GetTitle)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        _frame(sock, reader)  # the greeting
        replies = []
        for n, (name, params) in enumerate(
            [("WebDriver:NewSession", {}), ("WebDriver:GetTitle", {}), ("WebDriver:DeleteSession", {})]
        ):
            body = json.dumps([0, n, name, params]).encode()
            sock.sendall(str(len(body)).encode() + b":" + body)
            replies.append(_frame(sock, reader))
        print(replies[1][3]["value"])


@qserver.command()
def status(port: int = typer.Option(60610, "--port")) -> None:
    """RE Manager's status (GET /api/status with the API key)."""
    import requests

    key = os.environ["QSERVER_HTTP_SERVER_API_KEY"]
    reply = requests.get(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"ApiKey {key}"}, timeout=10
    )
    reply.raise_for_status()
    print(json.dumps(reply.json()))


@app.command()
def listen() -> None:
    """Every listening TCP socket with its process (psutil)."""
    import psutil

    out = []
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN:
            name = None
            if c.pid:
                try:
                    name = psutil.Process(c.pid).name()
                except psutil.Error:
                    pass
            out.append({"port": c.laddr[1], "bind": c.laddr[0], "pid": c.pid, "process": name})
    print(json.dumps(out))


def main() -> None:
    app()
'''

GOALS = {"igv": 1.5, "firefox": 1.5, "qserver": 1.5, "scan": 1.3, "help": 1.2, "inproc": 0.6}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--only", nargs="*", help="only these rows (igv firefox qserver scan help inproc)")
    args = parser.parse_args()

    from tests.real import apps

    work = Path(tempfile.mkdtemp(prefix="tether-bench-cli-"))
    mini_dir = work / "mini"
    mini_dir.mkdir()
    (mini_dir / "minicli.py").write_text(MINI)
    compileall.compile_dir(str(mini_dir), quiet=1)
    for tree in (ROOT / "src", ROOT / "adapters"):
        compileall.compile_dir(str(tree), quiet=1)

    from scan import other_listeners  # benchmarks/scan.py: never on an adapter's default port

    listeners = other_listeners(args.listeners)

    started_apps: list = []
    try:
        igv = apps.start_igv(work / "igv")
        started_apps.append(igv)
        ff = apps.start_firefox(work / "ff")
        started_apps.append(ff)
        qs = apps.start_qserver(work / "qs")
        started_apps.append(qs)

        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "adapters"), str(mini_dir)])
        env["QSERVER_HTTP_SERVER_API_KEY"] = qs.api_key
        env["HOME"] = str(work / "home")  # no user config file, no ~/igv prefs of the developer's
        (work / "home").mkdir()
        py = sys.executable
        tether = [py, "-c", "import sys; from tether.cli import main; sys.exit(main())"]
        mini = [py, "-c", "import sys; from minicli import main; sys.exit(main())"]
        locus = "chr1:100-200"
        rows = {
            "igv": (
                f"`igv goto {locus} --port P`",
                [*tether, "igv", "goto", locus, "--port", str(igv.port)],
                [*mini, "igv", "goto", locus, "--port", str(igv.port)],
                lambda out: out.strip() == "OK",
            ),
            "firefox": (
                "`firefox title --port P`",
                [*tether, "firefox", "title", "--port", str(ff.port)],
                [*mini, "firefox", "title", "--port", str(ff.port)],
                lambda out: out.strip() == "",  # about:blank has an empty title
            ),
            "qserver": (
                "`qserver status --port P`",
                [*tether, "qserver", "status", "--port", str(qs.port), "--json"],
                [*mini, "qserver", "status", "--port", str(qs.port)],
                lambda out: "manager_state" in out,
            ),
            "scan": (
                f"`scan --json` (3 apps, {args.listeners} other listeners) vs a psutil listing",
                [*tether, "scan", "--json"],
                [*mini, "listen"],
                None,
            ),
            "help": ("`--help`", [*tether, "--help"], [*mini, "--help"], lambda out: "Usage" in out),
        }
        ports = {"igv": igv.port, "firefox": ff.port, "qserver": qs.port}

        def check_scan(out: str) -> bool:
            found = {(e["app"], e["port"]) for e in json.loads(out) if e["confidence"] == "verified"}
            return set(ports.items()) <= found  # others' apps may be listening too

        if args.only:
            rows = {k: v for k, v in rows.items() if k in args.only}
        # every command once, output checked (and the page cache warmed)
        for key, (label, t_cmd, m_cmd, ok) in rows.items():
            for who, cmd, check in (("tether", t_cmd, ok or check_scan), ("floor", m_cmd, ok)):
                _, proc = timed(cmd, env)
                good = proc.returncode == 0 and (check is None or check(proc.stdout))
                if key == "scan" and who == "floor":
                    good = proc.returncode == 0 and {e["port"] for e in json.loads(proc.stdout)} >= set(
                        ports.values()
                    )
                if not good:
                    print(f"{who} {label} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
                    return 1

        import tether as tether_lib

        def inproc_scan() -> float:
            t0 = time.perf_counter()
            eps = tether_lib.scan()
            took = time.perf_counter() - t0
            verified = {(e.app, e.port) for e in eps if e.confidence == "verified"}
            if not set(ports.items()) <= verified:
                raise SystemExit(f"tether.scan() verified {verified}, expected {ports}")
            seen.append(len(eps))
            return took

        lsof = shutil.which("lsof")
        seen: list[int] = []  # apps found per scan: others' apps on this machine are probed too
        inproc_scan()
        times: dict[str, dict[str, list[float]]] = {k: {"tether": [], "floor": []} for k in [*rows, "inproc"]}
        loads = [load()]
        for rnd in range(args.rounds):
            for key, (_, t_cmd, m_cmd, _) in rows.items():
                order = [("tether", t_cmd), ("floor", m_cmd)]
                for who, cmd in order if rnd % 2 == 0 else reversed(order):
                    times[key][who].append(timed(cmd, env)[0])
            if lsof and (not args.only or "inproc" in args.only):
                pair = [("tether", None), ("floor", [lsof, "-nP", "-iTCP", "-sTCP:LISTEN"])]
                for who, cmd in pair if rnd % 2 == 0 else reversed(pair):
                    times["inproc"][who].append(inproc_scan() if cmd is None else timed(cmd, env)[0])
        loads.append(load())

        labels = {k: v[0] for k, v in rows.items()}
        labels["inproc"] = "in-process `tether.scan()` vs `lsof -nP -iTCP -sTCP:LISTEN` merely listing"
        print(
            f"rounds: {args.rounds}; load average before/after: {loads[0]} / {loads[1]};",
            f"CPUs: {os.cpu_count()};",
            f"apps found per scan: {min(seen)}-{max(seen)} (3 started here; the rest are others')",
        )
        print()
        print("| command | tether | floor | ratio | goal |")
        print("|---|---|---|---|---|")
        figures = {}
        for key, ts in times.items():
            if not ts["tether"] or not ts["floor"]:
                continue
            t, f = statistics.median(ts["tether"]), statistics.median(ts["floor"])
            ratio = t / f
            met = "met" if ratio <= GOALS[key] else "MISSED"
            cells = [
                labels[key],
                f"{t * 1e3:.0f} ms",
                f"{f * 1e3:.0f} ms",
                f"{ratio:.2f}×",
                f"≤ {GOALS[key]}× {met}",
            ]
            print("| " + " | ".join(cells) + " |")
            figures[key] = {"tether_ms": t * 1e3, "floor_ms": f * 1e3, "ratio": ratio, "goal": GOALS[key]}
        if args.json:
            report = {"load": loads, "rounds": args.rounds, **figures}
            Path(args.json).write_text(json.dumps(report, indent=2))
    finally:
        for app in reversed(started_apps):
            app.stop()
        for s in listeners:
            s.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
