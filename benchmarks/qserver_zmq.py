"""tether over RE Manager's 0MQ socket beside ``REManagerAPI`` (0MQ) and the ``qserver`` CLI, same run.

    .venv/bin/python benchmarks/qserver_zmq.py [--rounds 5] [--adds 100] [--cli-adds 10] [--zmq ADDR]

The figures of benchmarks/qserver.py, over the other door (no HTTP server anywhere):

1. **Adds**: ``--adds`` item adds through ``QueueServer.item_add`` (the request
   ``REManagerAPI.item_add`` sends), through ``QueueServer.submit`` (validated and tagged: what
   ``tether qserver add`` does) and through ``REManagerAPI.item_add`` (0MQ), interleaved one add at
   a time and each judged by its median add (``adds`` of benchmarks/qserver.py); the queue is
   cleared after each round. Goal: tether <= 1.0x REManagerAPI. The command-line tools
   start a process per add, so they do ``--cli-adds`` each (``qserver queue add plan JSON`` and
   ``tether qserver add``) and are reported per add.
2. **Completion seen**: a one-point ``count`` is added and the queue started; the figure is the
   time from the plan's end (the manager's ``time_stop``) to the client seeing it completed:
   tether's ``wait_for_item`` (0MQ status polled every 0.1 s, then history read: the result in
   hand) vs ``REManagerAPI.wait_for_idle`` (which returns, without a result) vs a shell loop of
   ``qserver status`` until the history grows (how a script drives the ``qserver`` CLI).

Without ``--zmq`` a throwaway redis + RE Manager (no HTTP server; tests/real/re_manager.py) is
started and stopped afterwards. Medians are printed, and ratios as medians of per-round pairs.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qserver import adds, completion_rm  # noqa: E402  (benchmarks/qserver.py, beside this file)

PLAN = {"name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
TETHER = [sys.executable, "-c", "import sys; from tether.cli import main; main(sys.argv[1:])"]


def qserver_bin() -> str:
    return str(Path(sys.executable).with_name("qserver"))


def qserver_cli(control: str, *args: str) -> dict:
    """One ``qserver`` command; its reply (printed as a Python dict after "MESSAGE:")."""
    out = subprocess.run(
        [qserver_bin(), "-a", control, *args], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return ast.literal_eval(out.split("MESSAGE:", 1)[1].strip())


def timed(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - started


def completion_tether(qs) -> float:
    """Plan end -> tether's ``wait_for_item`` has the result (exit status, run uids) in hand."""
    uid = qs.item_add(PLAN)["item_uid"]
    qs.queue_start()
    result = qs.wait_for_item(uid, timeout=60)
    in_hand = time.time()
    assert result.exit_status == "completed", result
    return in_hand - result.time_stop


def completion_cli(control: str, rm) -> float:
    """``qserver queue add`` + ``queue start``, then ``qserver status`` until the history grows."""
    before = qserver_cli(control, "status")["items_in_history"]
    qserver_cli(control, "queue", "add", "plan", json.dumps(PLAN))
    qserver_cli(control, "queue", "start")
    while True:
        st = qserver_cli(control, "status")
        if st["items_in_history"] > before and st["manager_state"] == "idle":
            seen = time.time()
            break
    item = rm.history_get()["items"][-1]
    assert item["result"]["exit_status"] == "completed", item
    return seen - item["result"]["time_stop"]


def ratio(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(a / b for a, b in pairs)


def t_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--adds", type=int, default=100)
    parser.add_argument("--cli-adds", type=int, default=10)
    parser.add_argument("--zmq", help="a running RE Manager's control address (default: start one)")
    args = parser.parse_args()

    from bluesky_queueserver_api.zmq import REManagerAPI

    import tether

    app = None
    if args.zmq:
        control = args.zmq
    else:
        from tests.real import re_manager

        app = re_manager.start_re_manager(Path(tempfile.mkdtemp(prefix="tether-bench-zmq-")))
        control = app.control
    try:
        qs = tether.connect("qserver", zmq=control, timeout=30)
        rm = REManagerAPI(zmq_control_addr=control)
        qs.ensure_environment(timeout=60)
        qs.queue_clear()
        clis = [
            (lambda: qserver_cli(control, "queue", "add", "plan", json.dumps(PLAN)), "qserver CLI"),
            (
                lambda: subprocess.run(
                    [*TETHER, "qserver", "add", "count", "det1,", "num=1", "--zmq", control],
                    capture_output=True,
                    timeout=30,
                    check=True,
                ),
                "tether CLI",
            ),
        ]
        adds(qs, rm, 1, 0)  # connect and warm up each client once, outside the timings
        qs.queue_clear()
        rows: dict[str, list[float]] = {}
        done: dict[str, list[float]] = {"tether": [], "rm": [], "qserver CLI": []}
        for rnd in range(args.rounds):
            t = adds(qs, rm, args.adds, rnd)  # the three clients interleaved, as benchmarks/qserver.py
            qs.queue_clear()
            for fn, who in clis if rnd % 2 == 0 else clis[::-1]:
                t[who] = timed(fn, args.cli_adds) / args.cli_adds * args.adds  # scaled to --adds
                qs.queue_clear()
            for who, value in t.items():
                rows.setdefault(who, []).append(value)
            order = ("tether", "rm", "qserver CLI") if rnd % 2 == 0 else ("qserver CLI", "rm", "tether")
            for who in order:
                if who == "tether":
                    done[who].append(completion_tether(qs))
                elif who == "rm":
                    done[who].append(completion_rm(rm))
                else:
                    done[who].append(completion_cli(control, rm))
            print(
                f"round {rnd + 1}: {args.adds} adds "
                + ", ".join(f"{who} {t_ms(v)}" for who, v in t.items())
                + "; completion seen "
                + ", ".join(f"{who} {t_ms(v[-1])}" for who, v in done.items()),
                flush=True,
            )
        qs.close()
        rm.close()
    finally:
        if app is not None:
            app.stop()

    med = statistics.median
    pairs = list(zip(rows["tether"], rows["rm"], strict=True))
    add_ratio = ratio(pairs)
    print()
    print("| figure (0MQ, no HTTP server) | time | vs REManagerAPI (median of per-round ratios) |")
    print("|---|---|---|")
    names = {
        "tether": "tether `QueueServer.item_add`",
        "submit": "tether `QueueServer.submit` (validated + tagged)",
        "rm": "REManagerAPI(zmq) `item_add`",
        "qserver CLI": f"`qserver queue add` (a process per add, {args.cli_adds} timed, scaled)",
        "tether CLI": f"`tether qserver add --zmq` (a process per add, {args.cli_adds} timed, scaled)",
    }
    for who, label in names.items():
        r = ratio(list(zip(rows[who], rows["rm"], strict=True)))
        goal = f" (goal <= 1.0x: {'met' if add_ratio <= 1.0 else 'NOT met'})" if who == "tether" else ""
        print(f"| {args.adds} adds: {label} | {t_ms(med(rows[who]))} | {r:.2f}x{goal} |")
    labels = {
        "tether": "tether `wait_for_item` (result in hand)",
        "rm": "REManagerAPI `wait_for_idle` (idle only, no result)",
        "qserver CLI": "`qserver status` loop until history grows",
    }
    for who, label in labels.items():
        r = ratio(list(zip(done[who], done["rm"], strict=True)))
        print(f"| plan end -> completion seen: {label} | {t_ms(med(done[who]))} | {r:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
