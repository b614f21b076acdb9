"""A page load whose 30 scripts are all answered by a route: tether's ``ff.route`` beside Selenium 4's
BiDi ``driver.network.add_request_handler`` (``request.provide_response``), same Firefox, same page.

Both intercept over WebDriver BiDi in the session that drives and answer each blocked request from
Python; the page's ``load`` (what ``navigate`` / ``driver.get`` wait for) needs all 30 answered.
A plain load of the same page from the local server (no routes, tether) is printed as the floor.

    python benchmarks/firefox_network.py          # launches its own headless Firefox (BiDi), quits it after

Firefox serves one session at a time: each round opens a tether session, loads the page
``--loads`` times, closes it, then does the same with a Selenium driver (geckodriver
``--connect-existing``, found as ``tether_firefox.selenium_driver`` finds it); every other round
runs in reverse order. A client's figure is its median load in a round; the ratio is the median
over rounds of (tether's / Selenium's). Goal: parity with Selenium (≤ 1.05×). Measured on a shared
2-core machine, 6 rounds of 8 loads: 1.03× and 1.05× (about 135-140 ms a load either way; the plain
load from this script's own HTTP server, ~310 ms, is slower than either). Selenium may print a
"Timed out waiting for response to BiDi command" traceback from its own thread at ``driver.quit``.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import threading
import time

N_SCRIPTS = 30
PAGE = (
    "<!doctype html><title>bench</title><link rel=icon href='data:,'>"
    + "".join(f"<script src='/api/{i}.js'></script>" for i in range(N_SCRIPTS))
).encode()
SCRIPT = "window.n = (window.n || 0) + 1;"  # what the routes answer
SERVED = b"window.n = (window.n || 0) + 1000;"  # what the server answers: a route that missed shows


class Site(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body, kind = (PAGE, "text/html") if not self.path.startswith("/api/") else (SERVED, "text/javascript")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def tether_loads(port: int, url: str, loads: int, *, routed: bool) -> list[float]:
    from tether_firefox.client import Firefox

    times = []
    with Firefox(port=port, bidi=True) as ff:
        if routed:
            ff.route("**/api/*", body=SCRIPT, headers={"Content-Type": "text/javascript"})
        for i in range(loads):
            t0 = time.perf_counter()
            ff.navigate(f"{url}?t{i}")
            times.append(time.perf_counter() - t0)
        assert ff.execute("return window.n") == N_SCRIPTS * (1 if routed else 1000)
    return times


def selenium_loads(port: int, url: str, loads: int) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.firefox.service import Service

    from tether_firefox.selenium import find_geckodriver

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.FirefoxOptions()
    options.enable_bidi = True
    service = Service(
        executable_path=find_geckodriver(),
        service_args=["--connect-existing", "--marionette-host", "127.0.0.1", "--marionette-port", str(port)],
    )
    driver = webdriver.Firefox(service=service, options=options)
    times = []
    try:
        driver.network.add_request_handler(
            ["**/api/*"],
            lambda request: request.provide_response(
                status=200, headers={"Content-Type": "text/javascript"}, body=SCRIPT
            ),
        )
        for i in range(loads):
            t0 = time.perf_counter()
            driver.get(f"{url}?s{i}")
            times.append(time.perf_counter() - t0)
        assert driver.execute_script("return window.n") == N_SCRIPTS
    finally:
        driver.quit()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()

    from tether_firefox.launch import launch, quit_firefox

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    rec = launch(headless=True, bidi=True, timeout=60)
    try:
        rows = []
        for r in range(args.rounds):
            order = ["tether", "selenium", "plain"]
            if r % 2:
                order.reverse()
            got = {}
            for who in order:
                if who == "tether":
                    got[who] = statistics.median(tether_loads(rec.port, url, args.loads, routed=True))
                elif who == "plain":
                    got[who] = statistics.median(tether_loads(rec.port, url, args.loads, routed=False))
                else:
                    got[who] = statistics.median(selenium_loads(rec.port, url, args.loads))
                time.sleep(0.3)  # the session slot frees up
            rows.append(got)
            ms = {k: f"{v * 1000:.1f} ms" for k, v in got.items()}
            print(
                f"round {r + 1}: tether {ms['tether']}, selenium {ms['selenium']}, plain load {ms['plain']}"
            )
        ratio = statistics.median(g["tether"] / g["selenium"] for g in rows)
        med = {k: statistics.median(g[k] for g in rows) * 1000 for k in ("tether", "selenium", "plain")}
        print(
            f"page load, {N_SCRIPTS} routed scripts: tether {med['tether']:.1f} ms, Selenium BiDi "
            f"{med['selenium']:.1f} ms (plain load {med['plain']:.1f} ms); tether/Selenium = {ratio:.2f}x"
        )
    finally:
        quit_firefox(port=rec.port)
        server.shutdown()


if __name__ == "__main__":
    main()
