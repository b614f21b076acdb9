"""Local pages for the Firefox tests, served over HTTP from a thread (no tests here: a helper)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

PAGES = {
    "index.html": """<!doctype html><html><head><title>Tether test page</title></head><body>
<h1 id="greeting">Hello tether</h1>
<input id="name" value=""><button id="go" onclick="greet()">Go</button>
<script>
function greet() {
  document.getElementById('out').textContent = 'Hi ' + document.getElementById('name').value;
}
</script>
<p id="out"></p>
<ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
<a id="next" href="second.html">second page</a>
<div style="height: 3000px; background: linear-gradient(#fff, #39f)">tall</div>
</body></html>""",
    "second.html": "<!doctype html><title>Second page</title><p id='two'>two</p>",
    "late.html": """<!doctype html><title>Late</title><script>
setTimeout(() => {
  const p = document.createElement('p');
  p.id = 'late'; p.textContent = 'arrived'; document.body.appendChild(p);
  document.title = 'Late arrived';
}, 800);</script><body></body>""",
    "logs.html": """<!doctype html><title>Logs</title><script>
let n = 0;
setInterval(() => { n += 1; console.log("tick " + n); }, 250);
setInterval(() => { throw new Error("boom " + n); }, 600);
</script>""",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serve_pages(root: Path) -> Iterator[str]:
    """Write :data:`PAGES` under ``root`` and serve them on a free port; yields the base URL."""
    root.mkdir(parents=True, exist_ok=True)
    for name, html in PAGES.items():
        (root / name).write_text(html)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
