"""500 ``WebDriver:GetTitle`` through tether beside a bare framing client and beside Selenium, same Firefox.

- bare: the least a correct client does — one socket, ``len:json`` frames, reply matched by id,
  no error mapping, no deadlines beyond the socket timeout.
- tether: ``Firefox.title`` (typed errors, per-command deadlines, stale-reply dropping).
- selenium: ``driver.title`` through geckodriver ``--connect-existing`` (HTTP to geckodriver,
  geckodriver to Marionette), the driver made by ``tether_firefox.selenium_driver``.

    python benchmarks/firefox.py                  # launches its own headless Firefox, quits it after
    python benchmarks/firefox.py --port 2828      # a Firefox already running with Marionette

Firefox serves one session at a time, so the clients take turns; rounds are interleaved, and
every other round runs in reverse order (bare, tether, selenium / selenium, tether, bare), so
drift on a shared machine hits all alike. Every call is timed: a client's figure is the median
call in a round, and each ratio is the median over rounds of (client's / bare's in that round).
Goals: tether ≤ 1.05× bare, ≤ 0.35× Selenium.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
from collections.abc import Callable

from tether_firefox.client import Firefox
from tether_firefox.launch import launch, quit_firefox
from tether_firefox.selenium import selenium_driver

PAGE = "data:text/html,<title>bench</title><p>GetTitle benchmark</p>"


class BareClient:
    """A minimal Marionette client: what a careful hand-written script does."""

    def __init__(self, port: int) -> None:
        for _ in range(50):  # right after another session ends Firefox may refuse for a moment
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
            self.msg_id = 0
            try:
                self.frame()  # greeting
                break
            except ConnectionError:
                self.sock.close()
                time.sleep(0.05)
        self.command("WebDriver:NewSession", {})

    def frame(self):
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                end = colon + 1 + int(self.buf[:colon])
                if len(self.buf) >= end:
                    body, self.buf = self.buf[colon + 1 : end], self.buf[end:]
                    return json.loads(body)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def command(self, name: str, params: dict):
        self.msg_id += 1
        body = json.dumps([0, self.msg_id, name, params]).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body)
        while True:
            reply = self.frame()
            if reply[1] == self.msg_id:
                return reply[3]

    def close(self) -> None:
        self.command("WebDriver:DeleteSession", {})
        self.sock.close()


def per_call(fn: Callable[[], object], n: int) -> float:
    """The median duration of ``n`` calls of ``fn`` (seconds): robust to the bursts of a busy machine."""
    clock = time.perf_counter
    laps = []
    for _ in range(n):
        started = clock()
        fn()
        laps.append(clock() - started)
    return statistics.median(laps)


def run_bare(port: int, n: int) -> float:
    client = BareClient(port)
    try:
        assert client.command("WebDriver:GetTitle", {})["value"] == "bench"
        return per_call(lambda: client.command("WebDriver:GetTitle", {}), n)
    finally:
        client.close()


def run_tether(port: int, n: int) -> float:
    with Firefox(port=port) as ff:
        assert ff.title == "bench"
        return per_call(lambda: ff.title, n)


def run_selenium(port: int, n: int) -> float:
    driver = selenium_driver(port=port)
    try:
        assert driver.title == "bench"
        return per_call(lambda: driver.title, n)
    finally:
        driver.quit()


def interleaved(
    port: int, runs: dict[str, Callable[[int, int], float]], rounds: int, n: int, *, page: str = "about:blank"
) -> dict:
    """Each client's figure per round on ``page``, the clients' order alternating round by round (the
    first run of a round pays for what the previous one left warm); ``{name: [seconds, …]}``."""
    with Firefox(port=port) as ff:
        ff.navigate("about:blank")  # a data: URL loads only from about:blank
        if page != "about:blank":
            ff.navigate(page)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(rounds):
        for name, run in list(runs.items())[:: 1 if i % 2 == 0 else -1]:
            times[name].append(run(port, n))
    return times


def median_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of ``a``'s figure over ``b``'s in the same round."""
    return round(statistics.median(x / y for x, y in zip(times[a], times[b], strict=True)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="a running Firefox's Marionette port (default: launch one)")
    parser.add_argument("-n", type=int, default=500, help="GetTitle calls per client per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    launched = None if args.port else launch(headless=True)
    port = args.port or launched.port
    try:
        clients = {"bare": run_bare, "tether": run_tether, "selenium": run_selenium}
        times = interleaved(port, clients, args.rounds, args.n, page=PAGE)
    finally:
        if launched is not None:
            quit_firefox(port=launched.port)

    def ratio(a: str, b: str) -> float:
        return median_ratio(times, a, b)

    result = {
        "calls_per_round": args.n,
        "rounds": args.rounds,
        "ms_per_call": {k: round(statistics.median(v) * 1000, 4) for k, v in times.items()},
        "tether_vs_bare": ratio("tether", "bare"),
        "tether_vs_selenium": ratio("tether", "selenium"),
        "selenium_vs_bare": ratio("selenium", "bare"),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.n} GetTitle x {args.rounds} rounds (median call, median over rounds)")
    for name, ms in result["ms_per_call"].items():
        print(f"  {name:9s} {ms:.3f} ms")
    print(f"  tether / bare     {result['tether_vs_bare']:.3f}x   (goal <= 1.05)")
    print(f"  tether / selenium {result['tether_vs_selenium']:.3f}x   (goal <= 0.35)")
    print(f"  selenium / bare   {result['selenium_vs_bare']:.3f}x")


if __name__ == "__main__":
    main()
