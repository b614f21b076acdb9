"""What auto-waiting costs, and what it saves: clicks through tether beside Selenium, same Firefox.

Two cases, each timed per click, in interleaved rounds (every other round in reverse order):

- **ready**: a button that is there, visible and still. tether's ``ff.click("#b")`` runs its
  actionability checks (one script, one animation frame) and clicks; ``force=True`` clicks at once;
  Selenium's ``find_element(...).click()`` finds and clicks (no checks of its own: the floor a
  naive test pays). Ratios: tether / Selenium, and auto-waiting / force.
- **late**: a page whose button is added 300 ms after it loads. tether: ``navigate`` then
  ``click`` (it waits by itself); Selenium: ``get`` then the usual
  ``WebDriverWait(driver, 10).until(element_to_be_clickable(...)).click()``. Timed from the start of
  the navigation to the click done; the 300 ms are in both.

    python benchmarks/firefox_click.py                  # launches its own headless Firefox, quits it after
    python benchmarks/firefox_click.py --port 2828      # a Firefox already running with Marionette

Goals: ready, tether <= 1.5x Selenium (the checks cost about one animation frame); late, tether <= 0.8x
Selenium (Selenium's wait polls every 500 ms by default; tether retries within 20-100 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from urllib.parse import quote

from firefox import interleaved, median_ratio  # benchmarks/firefox.py: the same interleaved rounds

from tether_firefox.client import Firefox
from tether_firefox.launch import launch, quit_firefox
from tether_firefox.selenium import selenium_driver

READY = "data:text/html," + quote(
    "<title>ready</title><button id='b' onclick='window.n = (window.n || 0) + 1'>b</button>"
)
LATE = "data:text/html," + quote(
    "<title>late</title><div id='slot'></div><script>setTimeout(() => { document.getElementById('slot')"
    ".innerHTML = \"<button id='b' onclick='window.n = 1'>b</button>\"; }, 300);</script>"
)


def laps(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def tether_ready(port: int, n: int, force: bool) -> float:
    with Firefox(port=port) as ff:
        ff.navigate(READY)
        took = laps(lambda: ff.click("#b", force=force), n)
        assert ff.execute("return window.n") == n
    return statistics.median(took)


def tether_late(port: int, n: int) -> float:
    with Firefox(port=port) as ff:

        def once() -> None:
            ff.navigate(LATE)
            ff.click("#b")

        took = laps(once, n)
        assert ff.execute("return window.n") == 1
    return statistics.median(took)


def selenium_ready(port: int, n: int) -> float:
    from selenium.webdriver.common.by import By

    driver = selenium_driver(port=port)
    try:
        driver.get(READY)
        took = laps(lambda: driver.find_element(By.CSS_SELECTOR, "#b").click(), n)
        assert driver.execute_script("return window.n") == n
    finally:
        driver.quit()
    return statistics.median(took)


def selenium_late(port: int, n: int) -> float:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = selenium_driver(port=port)
    try:

        def once() -> None:
            driver.get(LATE)
            WebDriverWait(driver, 10).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#b"))).click()

        took = laps(once, n)
        assert driver.execute_script("return window.n") == 1
    finally:
        driver.quit()
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="a running Firefox's Marionette port (default: launch one)")
    parser.add_argument("-n", type=int, default=30, help="clicks per client per round (late: navigations)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    launched = None if args.port else launch(headless=True)
    port = args.port or launched.port
    runs: dict[str, Callable[[int, int], float]] = {
        "tether_ready": lambda p, n: tether_ready(p, n, force=False),
        "tether_ready_force": lambda p, n: tether_ready(p, n, force=True),
        "selenium_ready": selenium_ready,
        "tether_late": lambda p, n: tether_late(p, max(n // 5, 3)),
        "selenium_late": lambda p, n: selenium_late(p, max(n // 5, 3)),
    }
    try:
        times = interleaved(port, runs, args.rounds, args.n)
    finally:
        if launched is not None:
            quit_firefox(port=launched.port)

    def ratio(a: str, b: str) -> float:
        return median_ratio(times, a, b)

    result = {
        "clicks_per_round": args.n,
        "rounds": args.rounds,
        "ms_per_click": {k: round(statistics.median(v) * 1000, 2) for k, v in times.items()},
        "ready_tether_vs_selenium": ratio("tether_ready", "selenium_ready"),
        "ready_tether_vs_force": ratio("tether_ready", "tether_ready_force"),
        "late_tether_vs_selenium": ratio("tether_late", "selenium_late"),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"clicks: {args.n} a round (late: {max(args.n // 5, 3)}), {args.rounds} rounds (median click)")
    for name, ms in result["ms_per_click"].items():
        print(f"  {name:19s} {ms:8.2f} ms")
    print(f"  ready: tether / selenium      {result['ready_tether_vs_selenium']:.3f}x   (goal <= 1.5)")
    print(f"  ready: auto-waiting / force   {result['ready_tether_vs_force']:.3f}x")
    print(f"  late:  tether / selenium      {result['late_tether_vs_selenium']:.3f}x   (goal <= 0.8)")


if __name__ == "__main__":
    main()
