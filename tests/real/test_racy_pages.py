"""Racy pages, driven the way a new user writes a web test: NO waits, no sleeps, through the
``firefox`` fixture. Content arrives late (a button after 700 ms, enabled after 600 ms, under a
veil for 700 ms, moving in a CSS transition, far down the page behind a hover menu, re-rendered),
and every action and ``expect`` waits for it by itself. Then the negative cases: what stays
covered times out naming the blocker with nothing clicked, ``force`` acts at once, an expectation
not met says the last value seen — from Python and from the CLI (exit codes 4 and 1).

The pages are served from a local http.server thread; the Firefox is the session's (``firefox_app``).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
import time

import pytest

import tether
from tether_firefox.waiting import ActionTimeout, ExpectationFailed

from .test_firefox_cli import tether as run_tether

pytestmark = pytest.mark.real

COUNTER = """<p id="out">clicked 0</p><script>
let clicks = 0;
function hit(label) {
  clicks += 1; document.getElementById('out').textContent = (label || 'clicked') + ' ' + clicks;
}
</script>"""

PAGES = {
    # a button the page adds after 700 ms
    "late.html": COUNTER
    + """<title>Late</title><div id="slot"></div><script>
setTimeout(() => {
  document.getElementById('slot').innerHTML = '<button id="late" onclick="hit()">late</button>';
}, 700);
</script>""",
    # a button and an input enabled after 600 ms
    "disabled.html": COUNTER
    + """<title>Disabled</title><button id="go" disabled onclick="hit()">go</button>
<input id="name" disabled><script>
setTimeout(() => { go.disabled = false; document.getElementById('name').disabled = false; }, 600);
</script>""",
    # a veil over the button for 700 ms (its own clicks counted apart)
    "covered.html": COUNTER
    + """<title>Covered</title><button id="under" onclick="hit()">under</button>
<div id="veil" onclick="window.veilClicks = (window.veilClicks || 0) + 1"
 style="position:fixed; inset:0; background:rgba(0,0,0,.3)"></div><script>
setTimeout(() => document.getElementById('veil').remove(), 700);
</script>""",
    # a veil that never goes away, and a button that is aria-disabled (the checks refuse it, force does not)
    "stuck.html": COUNTER
    + """<title>Stuck</title><button id="under" onclick="hit()">under</button>
<button id="aria" aria-disabled="true" onclick="hit('aria')"
 style="position:relative; z-index:2">aria</button>
<div id="veil" class="modal dim" onclick="window.veilClicks = (window.veilClicks || 0) + 1"
 style="position:fixed; inset:0; background:rgba(0,0,0,.3)"></div>""",
    # a button sliding in (a CSS transition started as the page parses, 900 ms), clicked at rest
    "moving.html": COUNTER
    + """<title>Moving</title><style>
#mover { position:absolute; top:80px; left:0; transition: left 0.9s linear; }
#mover.in { left: 400px; }</style>
<button id="mover" onclick="hit('at ' + getComputedStyle(this).left)">mover</button><script>
const mover = document.getElementById('mover');
mover.getBoundingClientRect();  // the start style is computed first, so the transition runs from left: 0
mover.classList.add('in');
</script>""",
    # a hover menu far down the page: its item shows only while the mouse rests on the menu
    "far.html": COUNTER
    + """<title>Far</title><style>
#item { display: none; } #menu:hover #item { display: block; }</style>
<div style="height: 3000px">tall</div>
<div id="menu">menu <a id="item" href="#" onclick="hit('item'); return false">item</a></div>
<div style="height: 1000px"></div>""",
    # a framework re-rendering the form: the node is replaced every 100 ms, enabled from 600 ms on
    "rerender.html": COUNTER
    + """<title>Rerender</title><div id="form"></div><script>
const t0 = performance.now();
function render() {
  const ready = performance.now() - t0 > 600;
  document.getElementById('form').innerHTML =
    `<input id="field" ${ready ? '' : 'disabled'}><button id="save" ${ready ? '' : 'disabled'}>save</button>`;
  document.getElementById('save').onclick = () => hit('saved ' + document.getElementById('field').value);
  if (!ready) setTimeout(render, 100);
}
render();
</script>""",
    # a page that moves on by itself (a login's redirect): the element is on the next page
    "redirect.html": """<title>Redirect</title><p>signing in…</p><script>
setTimeout(() => { location.href = 'late.html'; }, 300);
</script>""",
    # a drop-down whose options arrive late (an <option> has no box of its own: its <select> is checked)
    "select.html": """<title>Select</title><select id="size"></select><script>
setTimeout(() => { document.getElementById('size').innerHTML =
  '<option value="s">small</option><option value="m">medium</option>'; }, 600);
</script>""",
    # text and a list that arrive late
    "status.html": """<title>Loading</title><p id="status">Loading…</p><ul id="list"></ul>
<label><input type="checkbox" id="agree"> agree</label><script>
setTimeout(() => {
  document.getElementById('status').textContent = '  Done,\\n  all   good ';
  document.getElementById('list').innerHTML = '<li>a</li><li>b</li><li>c</li>';
  document.getElementById('agree').checked = true;
  document.title = 'Loaded';
}, 700);
</script>""",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("racy")
    for name, html in PAGES.items():
        (root / name).write_text("<!doctype html><meta charset=utf-8>" + html)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def tether_firefox_endpoint(firefox_app):
    """The plugin's ``firefox`` fixture drives the session's Firefox (not one of its own)."""
    return tether.find("firefox", port=firefox_app.port)


def out(ff) -> str:
    return ff.execute("return document.getElementById('out').textContent")


# ----------------------------------------------------------------------------- each check, no waits
def test_click_waits_for_a_button_added_late(firefox, site):
    firefox.navigate(f"{site}/late.html")
    firefox.click("#late")
    firefox.expect("#out", text="clicked 1")


def test_click_and_type_wait_until_enabled(firefox, site):
    firefox.navigate(f"{site}/disabled.html")
    firefox.type("#name", "Ada")
    firefox.click("#go")
    firefox.expect("#out", text="clicked 1")
    firefox.expect("#name", value="Ada")


def test_click_waits_until_the_veil_is_gone(firefox, site):
    firefox.navigate(f"{site}/covered.html")
    firefox.click("#under")
    firefox.expect("#out", text="clicked 1")
    assert firefox.execute("return window.veilClicks || 0") == 0


def test_click_waits_until_a_transition_ends(firefox, site):
    firefox.navigate(f"{site}/moving.html")
    firefox.click("#mover")
    firefox.expect("#out", text="at 400px 1")


def test_hover_far_down_opens_the_menu_and_its_item_is_clicked(firefox, site):
    firefox.navigate(f"{site}/far.html")
    firefox.hover("#menu")  # outside the viewport: scrolled into view first
    firefox.click("#item")
    firefox.expect("#out", text="item 1")


def test_a_re_rendered_node_is_found_again(firefox, site):
    firefox.navigate(f"{site}/rerender.html")
    firefox.type("#field", "v2")
    firefox.expect("#field", value="v2")
    firefox.click("#save")
    firefox.expect("#out", text="saved v2 1")


def test_click_waits_through_a_redirect_to_the_next_page(firefox, site):
    firefox.navigate(f"{site}/redirect.html")
    firefox.click("#late")
    firefox.expect("#out", text="clicked 1")
    firefox.expect(title="Late")


def test_an_option_that_arrives_late_is_selected_by_clicking_it(firefox, site):
    firefox.navigate(f"{site}/select.html")
    firefox.click("#size option[value=m]")
    firefox.expect("#size", value="m")


def test_expect_waits_for_late_text_a_list_a_checkbox_and_the_title(firefox, site):
    firefox.navigate(f"{site}/status.html")
    firefox.expect("#status", text="Done, all good")  # whitespace normalised
    firefox.expect("#status", contains="all good", visible=True)
    firefox.expect("#status", text=re.compile(r"^Done"))
    firefox.expect("#list li", count=3)
    firefox.expect("#agree", checked=True, enabled=True)
    firefox.expect("#missing", visible=False, count=0)
    firefox.expect(title="Loaded")
    firefox.expect(url=re.compile(r"/status\.html$"))


def test_scroll_press_and_screenshot_wait_for_a_late_element(firefox, site):
    firefox.navigate(f"{site}/late.html")
    shot = firefox.screenshot(element="#late")
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    firefox.press("Enter", on="#late")  # focused, then Enter: a button's click
    firefox.expect("#out", text="clicked 1")


# ----------------------------------------------------------------------------- the negative cases
def test_what_stays_covered_times_out_naming_the_blocker_and_nothing_is_clicked(firefox, site):
    firefox.navigate(f"{site}/stuck.html")
    started = time.monotonic()
    with pytest.raises(ActionTimeout) as info:
        firefox.click("#under", timeout=1.5)
    took = time.monotonic() - started
    err = info.value
    assert err.exit_code == 4 and err.check == "receiving events" and err.blocker == "div#veil.modal.dim"
    # the time said is the time waited: 1.5 s, or a little more on a loaded machine (the last try's own)
    assert re.match(
        r"could not click #under within 1\.\d s: #under is covered by div#veil\.modal\.dim at ", str(err)
    )
    assert 1.4 < took < 5, took
    assert out(firefox) == "clicked 0"
    assert firefox.execute("return window.veilClicks || 0") == 0


def test_force_skips_the_checks(firefox, site):
    firefox.navigate(f"{site}/stuck.html")
    with pytest.raises(ActionTimeout, match=r"#aria is disabled \(aria-disabled\)") as info:
        firefox.click("#aria", timeout=0.5)
    assert info.value.check == "enabled"
    assert out(firefox) == "clicked 0"
    firefox.click("#aria", force=True)
    assert out(firefox) == "aria 1"


def test_an_expectation_not_met_names_it_and_the_last_value_seen(firefox, site):
    firefox.navigate(f"{site}/status.html")
    firefox.expect("#status", contains="Done")
    with pytest.raises(ExpectationFailed) as info:
        firefox.expect("#status", text="Never", timeout=0.5)
    err = info.value
    assert isinstance(err, AssertionError) and err.exit_code == 1
    said = r"expected #status to have text 'Never'; last seen 'Done, all good' \(waited 0\.\d s\)"
    assert re.fullmatch(said, str(err)), str(err)
    with pytest.raises(ExpectationFailed, match=r"expected #list li to match 2 elements; last seen 3"):
        firefox.expect("#list li", count=2, timeout=0.3)
    with pytest.raises(ExpectationFailed, match=r"last seen no element matching #nothing"):
        firefox.expect("#nothing", text="x", timeout=0.3)


# ----------------------------------------------------------------------------- the CLI
def cli(firefox_app, tmp_path, *args: str):
    return run_tether(*args, "--port", str(firefox_app.port), state=tmp_path / "state", check=False)


def test_cli_click_of_a_covered_button_exits_4_naming_the_veil_and_force_clicks(firefox_app, site, tmp_path):
    assert cli(firefox_app, tmp_path, "navigate", f"{site}/stuck.html").returncode == 0
    proc = cli(firefox_app, tmp_path, "click", "#under", "--timeout", "3")
    assert proc.returncode == 4, proc.stderr
    assert "#under is covered by div#veil.modal.dim" in proc.stderr and "Traceback" not in proc.stderr
    seen = cli(
        firefox_app,
        tmp_path,
        "eval",
        "return [document.getElementById('out').textContent, window.veilClicks || 0]",
    )
    assert json.loads(seen.stdout) == ["clicked 0", 0]
    proc = cli(firefox_app, tmp_path, "click", "#aria", "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clicked"] == "#aria"


def test_cli_expect_exit_codes_and_messages(firefox_app, site, tmp_path):
    assert cli(firefox_app, tmp_path, "navigate", f"{site}/status.html").returncode == 0
    met = cli(firefox_app, tmp_path, "expect", "#status", "--text", "Done, all good", "--json")
    assert met.returncode == 0, met.stderr
    assert json.loads(met.stdout)["met"] is True
    assert cli(firefox_app, tmp_path, "expect", "#list li", "--count", "3").returncode == 0
    assert cli(firefox_app, tmp_path, "expect", "--title", "Loaded").returncode == 0
    missed = cli(firefox_app, tmp_path, "expect", "#status", "--text", "Never", "--timeout", "2")
    assert missed.returncode == 1
    assert "expected #status to have text 'Never'; last seen 'Done, all good' (waited" in missed.stderr
    usage = cli(firefox_app, tmp_path, "expect", "#status")
    assert usage.returncode == 2 and "expect what of #status?" in usage.stderr


def test_cli_wait_timeout_says_what_it_waited_for(firefox_app, site, tmp_path):
    assert cli(firefox_app, tmp_path, "navigate", f"{site}/status.html").returncode == 0
    proc = cli(firefox_app, tmp_path, "wait", "#never", "--timeout", "2")
    assert proc.returncode == 4
    assert "for an element matching '#never'" in proc.stderr and "no answer" not in proc.stderr
