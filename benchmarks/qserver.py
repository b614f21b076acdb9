"""tether's queue server client beside bluesky-queueserver-api's ``REManagerAPI`` (HTTP), same run.

    .venv/bin/python benchmarks/qserver.py [--rounds 5] [--adds 100] [--url URL --api-key-file F]

1. **Adds**: ``--adds`` item adds through ``QueueServer.item_add`` (the same request as
   ``REManagerAPI.item_add``), through ``QueueServer.submit`` (validated against the allowed
   lists and tagged with a client request id: what ``tether qserver add`` does) and through
   ``REManagerAPI.item_add``, interleaved one add at a time (whose turn first rotates), the
   queue cleared after each round; each client's figure is ``--adds`` × its median add.
   Goal: tether ≤ 1.0× REManagerAPI.
2. **Completion seen**: a one-point ``count`` is added and the queue started; the figure is
   the time from the plan's end (the manager's ``time_stop``) to the client seeing it
   completed: the first status on tether's stream (``/api/status/ws``) that shows the item
   gone from running and history changed, vs ``REManagerAPI.wait_for_idle`` returning.
   Goal: tether ≤ 0.05× REManagerAPI. Also printed: when tether's ``wait_for_item`` has the
   item's result (exit status, run uids) in hand, which takes one more request (history);
   ``wait_for_idle`` gives no result at all.

Without ``--url`` a throwaway redis + RE Manager + HTTP server is started (tests/real/apps.py)
and stopped afterwards. Medians are printed, and ratios as medians of per-round pairs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLAN = {"name": "count", "args": [["det1"]], "kwargs": {"num": 1}}


def adds(qs, rm, n: int, rnd: int) -> dict[str, float]:
    """``n`` adds by each of: ``QueueServer.item_add`` (the same request REManagerAPI.item_add
    sends), ``QueueServer.submit`` (validated against the allowed lists and tagged with a
    request id: what ``tether qserver add`` does) and ``REManagerAPI.item_add`` — interleaved one
    add at a time, whose turn first rotating, so that the three meet the same server, queue
    length and load. Each figure is ``n`` × that client's median add (a stray slow request of
    the shared machine does not decide a round)."""
    from bluesky_queueserver_api import BPlan

    calls = {
        "tether": lambda: qs.item_add(PLAN),
        "submit": lambda: qs.submit(PLAN),
        "rm": lambda: rm.item_add(BPlan("count", ["det1"], num=1)),
    }
    order = list(calls)
    took: dict[str, list[float]] = {who: [] for who in order}
    for i in range(n):
        k = (rnd + i) % 3
        for who in order[k:] + order[:k]:
            started = time.perf_counter()
            calls[who]()
            took[who].append(time.perf_counter() - started)
    return {who: n * statistics.median(times) for who, times in took.items()}


def completion_tether(qs) -> tuple[float, float]:
    """(plan end → the status stream shows it done, plan end → its result is in hand)."""
    history_before = qs.status(reload=True)["plan_history_uid"]
    uid = qs.submit(PLAN)["item_uid"]
    seen: list[float] = []

    def on_status(st: dict) -> None:
        if not seen and st.get("plan_history_uid") != history_before and st.get("running_item_uid") != uid:
            seen.append(time.time())

    qs.queue_start()
    result = qs.wait_for_item(uid, timeout=60, on_status=on_status)
    in_hand = time.time()
    assert result.exit_status == "completed", result
    return seen[0] - result.time_stop, in_hand - result.time_stop


def completion_rm(rm) -> float:
    from bluesky_queueserver_api import BPlan

    uid = rm.item_add(BPlan("count", ["det1"], num=1))["item"]["item_uid"]
    rm.queue_start()
    rm.wait_for_idle(timeout=60)
    seen = time.time()
    item = next(i for i in rm.history_get()["items"] if i["item_uid"] == uid)
    assert item["result"]["exit_status"] == "completed", item
    return seen - item["result"]["time_stop"]


def ratio(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(a / b for a, b in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--adds", type=int, default=100)
    parser.add_argument("--url")
    parser.add_argument("--api-key-file")
    args = parser.parse_args()

    from bluesky_queueserver_api.http import REManagerAPI

    from tether_qserver.client import QueueServer, read_api_key

    app = None
    if args.url:
        url = args.url
        key, _ = read_api_key(api_key_file=args.api_key_file)
    else:
        from tests.real import apps

        app = apps.start_qserver(Path(tempfile.mkdtemp(prefix="tether-bench-qs-")))
        url, key = app.url, app.api_key
    try:
        qs = QueueServer(url, api_key=key)
        rm = REManagerAPI(http_server_uri=url, http_auth_provider=None)
        rm.set_authorization_key(api_key=key)
        qs.ensure_environment(timeout=60)
        qs.queue_clear()
        add_pairs, submit_pairs, done_pairs, result_pairs = [], [], [], []
        for rnd in range(args.rounds):
            t = adds(qs, rm, args.adds, rnd)
            qs.queue_clear()
            add_pairs.append((t["tether"], t["rm"]))
            submit_pairs.append((t["submit"], t["rm"]))
            for who in ("tether", "rm") if rnd % 2 == 0 else ("rm", "tether"):
                if who == "tether":
                    t["tether"], t["result"] = completion_tether(qs)
                else:
                    t["rm"] = completion_rm(rm)
            done_pairs.append((t["tether"], t["rm"]))
            result_pairs.append((t["result"], t["rm"]))
            print(
                f"round {rnd + 1}: {args.adds} adds tether {t_ms(add_pairs[-1][0])}"
                f" (submit {t_ms(submit_pairs[-1][0])}) / REManagerAPI {t_ms(add_pairs[-1][1])}; "
                f"completion seen after tether {t_ms(done_pairs[-1][0])} "
                f"(result in hand {t_ms(result_pairs[-1][0])}) / REManagerAPI {t_ms(done_pairs[-1][1])}",
                flush=True,
            )
        qs.close()
        rm.close()
    finally:
        if app is not None:
            app.stop()

    med = statistics.median
    add_ratio, done_ratio, result_ratio = ratio(add_pairs), ratio(done_pairs), ratio(result_pairs)
    submit_ratio = ratio(submit_pairs)
    print()
    print("| figure | tether | REManagerAPI | ratio (median of pairs) | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.adds} item adds (item_add, same request) | {t_ms(med(a for a, _ in add_pairs))} | "
        f"{t_ms(med(b for _, b in add_pairs))} "
        f"| {add_ratio:.2f}x | <= 1.0x {'met' if add_ratio <= 1.0 else 'NOT met'} |"
    )
    print(
        f"| {args.adds} item adds (submit: validated + tagged) | {t_ms(med(a for a, _ in submit_pairs))} | "
        f"{t_ms(med(b for _, b in submit_pairs))} | {submit_ratio:.2f}x | - |"
    )
    print(
        f"| plan end -> completion seen | {t_ms(med(a for a, _ in done_pairs))} | "
        f"{t_ms(med(b for _, b in done_pairs))} | {done_ratio:.3f}x | <= 0.05x "
        f"{'met' if done_ratio <= 0.05 else 'NOT met'} |"
    )
    print(
        f"| plan end -> result in hand (stream + history read) | {t_ms(med(a for a, _ in result_pairs))} | "
        f"{t_ms(med(b for _, b in result_pairs))} (idle only) | {result_ratio:.3f}x | - |"
    )
    return 0


def t_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    sys.exit(main())
