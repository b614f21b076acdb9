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
    "widgets.html": """<!doctype html><title>Widgets</title>
<form id="form">
  <label><input type="checkbox" id="agree" checked> agree</label>
  <input type="radio" name="r" id="r1"><input type="radio" name="r" id="r2" checked>
  <button id="off" disabled>off</button><span id="hidden" style="display:none">hidden</span>
  <p id="red" style="color: rgb(255, 0, 0)">red</p>
</form>
<ul id="list"><li>a<b class="bold">A</b></li><li>b<b class="bold">B</b></li></ul>
<my-card id="card"></my-card>
<script>
customElements.define('my-card', class extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({mode: 'open'});
    root.innerHTML = '<p class="title">Card title</p><my-inner></my-inner>'
      + '<button class="ok" onclick="this.textContent = \\'clicked\\'">OK</button>';
  }
});
customElements.define('my-inner', class extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({mode: 'open'}).innerHTML = '<span class="deep">deep text</span>';
  }
});
document.cookie = "flavour=chocolate";
</script>""",
    "dialogs.html": """<!doctype html><title>Dialogs</title>
<button id="a" onclick="alert('hello alert')">alert</button>
<button id="c" onclick="out.textContent = confirm('sure?') ? 'yes' : 'no'">confirm</button>
<button id="p" onclick="out.textContent = prompt('name?', 'nobody')">prompt</button>
<p id="out"></p>""",
    "frames.html": """<!doctype html><title>Frames</title><h1>top</h1>
<iframe id="outer" src="frame1.html" width="500" height="300"></iframe>""",
    "frame1.html": """<!doctype html><title>Frame 1</title><p id="where">outer frame</p>
<iframe class="inner" src="frame2.html" width="400" height="200"></iframe>""",
    "frame2.html": """<!doctype html><title>Frame 2</title>
<button id="deep" onclick="this.textContent = 'pressed'">press me</button>""",
    "input.html": """<!doctype html><title>Input</title>
<style>
  #menu .items { display: none; } #menu:hover .items { display: block; }
  #bin, #card { width: 120px; height: 60px; border: 1px solid; margin: 10px; }
  body { height: 4000px; }
</style>
<input id="field" value="old text">
<p id="keys"></p>
<div id="menu"><span id="menu-title">Menu</span><ul class="items"><li id="menu-item">Settings</li></ul></div>
<div id="card" draggable="true">card</div><div id="bin">bin</div>
<p id="dropped"></p>
<div id="handle" style="width: 40px; height: 40px; background: #39f">h</div>
<div id="slot" style="width: 120px; height: 60px; border: 1px dashed">slot</div>
<p id="moved"></p>
<p id="far" style="margin-top: 3000px">far below</p>
<script>
document.addEventListener('keydown', e => {
  if (e.ctrlKey && e.key === 'k') { e.preventDefault(); keys.textContent = 'shortcut Control+k'; }
});
const card = document.getElementById('card'), bin = document.getElementById('bin');
card.addEventListener('dragstart', e => e.dataTransfer.setData('text/plain', 'card'));
bin.addEventListener('dragover', e => e.preventDefault());
bin.addEventListener('drop', e => {
  e.preventDefault();
  bin.appendChild(card);
  dropped.textContent = 'dropped ' + e.dataTransfer.getData('text/plain');
});
let held = false;  // a drag made of mouse events, as sortable-list libraries do it
handle.addEventListener('mousedown', () => { held = true; });
document.addEventListener('mouseup', e => {
  if (held && document.elementFromPoint(e.clientX, e.clientY) === slot) {
    slot.appendChild(handle); moved.textContent = 'moved by mouse';
  }
  held = false;
});
</script>""",
    "download.html": """<!doctype html><title>Download</title><a id="get" href="report.bin">report</a>""",
    "report.bin": "tether download test\n" * 1000,
    "console.html": """<!doctype html><title>Console</title>
<button id="go" onclick="console.warn('about to fail');
  setTimeout(() => { throw new Error('kaboom'); }, 0)">go</button>""",
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
