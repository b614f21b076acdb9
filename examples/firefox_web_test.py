"""A web test of the kind a team writes every day, driven through tether — run it with pytest.

    pytest examples/firefox_web_test.py                 # launches a headless Firefox, quits it after
    TETHER_FIREFOX_PORT=2828 pytest examples/firefox_web_test.py   # uses a Firefox already running

One small "task board" page, served from a temporary directory, with what real pages have: a
confirm dialog, a payment form in an iframe, a web component (shadow DOM), a hover menu, drag
and drop, and a keyboard shortcut. Each test opens its own session, so a failure never leaves
the browser locked for the next test.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator

import pytest

from tether_firefox import Firefox, launch_firefox, quit_firefox

PAGES = {
    "board.html": """<!doctype html><html><head><title>Task board</title><style>
  .menu .items { display: none; } .menu:hover .items { display: block; }
  .column { display: inline-block; width: 160px; min-height: 80px; border: 1px solid; vertical-align: top; }
  .task { margin: 4px; padding: 4px; background: #def; }
</style></head><body>
<div class="menu"><span id="account">Account</span>
  <ul class="items"><li><a id="logout" href="#">Log out</a></li></ul></div>
<div class="column" id="todo"><div class="task" id="t1" draggable="true">Write tests</div></div>
<div class="column" id="done"></div>
<button id="clear"
  onclick="if (confirm('Delete every task?')) document.querySelectorAll('.task').forEach(t => t.remove())">
  Clear board</button>
<star-rating id="rating"></star-rating>
<p id="status"></p>
<iframe id="pay" src="pay.html" width="300" height="120"></iframe>
<script>
customElements.define('star-rating', class extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({mode: 'open'}).innerHTML = [1, 2, 3, 4, 5].map(n =>
      `<button class="star" data-n="${n}">★</button>`).join('') + '<span class="value">0</span>';
    this.shadowRoot.querySelectorAll('.star').forEach(b => b.onclick = () =>
      this.shadowRoot.querySelector('.value').textContent = b.dataset.n);
  }
});
document.querySelectorAll('.column').forEach(col => {
  col.addEventListener('dragover', e => e.preventDefault());
  col.addEventListener('drop', e => {
    e.preventDefault(); col.appendChild(document.getElementById(e.dataTransfer.getData('text/plain')));
  });
});
document.addEventListener('dragstart', e => e.dataTransfer.setData('text/plain', e.target.id));
document.addEventListener('keydown', e => {
  if (e.ctrlKey && e.key === 's') {
    e.preventDefault(); document.getElementById('status').textContent = 'saved';
  }
});
</script></body></html>""",
    "pay.html": """<!doctype html><title>Pay</title>
<input id="card" placeholder="card number"><button id="paybtn"
  onclick="result.textContent = card.value.length === 16 ? 'paid' : 'invalid card'">Pay</button>
<p id="result"></p>""",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    for name, html in PAGES.items():
        (root / name).write_text(html)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/board.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def marionette_port() -> Iterator[int]:
    """The Firefox to use: ``$TETHER_FIREFOX_PORT``, else one launched here (and quit afterwards)."""
    if os.environ.get("TETHER_FIREFOX_PORT"):
        yield int(os.environ["TETHER_FIREFOX_PORT"])
        return
    browser = launch_firefox(headless=True)
    try:
        yield browser.port
    finally:
        quit_firefox(port=browser.port)


@pytest.fixture
def ff(marionette_port: int, board: str) -> Iterator[Firefox]:
    with Firefox(port=marionette_port, timeout=30) as browser:
        browser.navigate(board)
        yield browser


def test_clearing_the_board_asks_first_and_cancel_keeps_the_tasks(ff: Firefox) -> None:
    ff.click("#clear")
    assert (ff.alert.type, ff.alert.text) == ("confirm", "Delete every task?")
    ff.alert.dismiss()
    assert len(ff.find_all(".task")) == 1
    ff.click("#clear")
    ff.alert.accept()
    assert ff.find_all(".task") == []


def test_paying_inside_the_payment_frame(ff: Firefox) -> None:
    with ff.frame("#pay"):
        ff.type("#card", "4242")
        ff.click("#paybtn")
        assert ff.find("#result").text == "invalid card"
        ff.type("#card", "424242424242", clear=False)
        ff.click("#paybtn")
        assert ff.find("#result").text == "paid"


def test_rating_with_the_web_component(ff: Firefox) -> None:
    stars = ff.find_all("#rating >>> .star")
    assert len(stars) == 5
    stars[3].click()
    assert ff.find("star-rating >>> .value").text == "4"


def test_the_account_menu_opens_on_hover(ff: Firefox) -> None:
    assert not ff.find("#logout").is_displayed()
    ff.hover("#account")
    assert ff.find("#logout").is_displayed()


def test_dragging_a_task_to_done(ff: Firefox) -> None:
    ff.drag("#t1", "#done")
    assert ff.find("#done").find_all(".task")[0].text == "Write tests"
    assert ff.find("#todo").find_all(".task") == []


def test_control_s_saves(ff: Firefox) -> None:
    ff.click("#todo")  # the page has the focus, as after a user's click
    ff.press("Control+s")
    assert ff.find("#status").text == "saved"
