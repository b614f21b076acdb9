"""The code in the guides runs: every ``python``, ``sh`` and ``console`` block of ``docs/`` (the CLI
reference aside, which is generated) is executed here against the real apps of this test session,
in the order of its page, so the docs cannot drift from what tether does.

How a block runs:

- ``python``: as a script (``python -c``); ``sh``: with ``bash -e``; ``console``: each ``$ `` line is
  a command (the lines after it are sample output, not compared), run with bash.
- The apps are the session's IGV and queue server, and a Firefox launched by tether for this module
  with WebDriver BiDi (as ``tether firefox launch --bidi`` and the pytest plugin launch it: the guides
  show contexts and the network, which need it): ``TETHER_IGV_PORT``, ``TETHER_FIREFOX_PORT``,
  ``QSERVER_HTTP_SERVER_URI`` and ``QSERVER_HTTP_SERVER_API_KEY`` point at them, as a user's shell would
  after launching them.
- Each page runs in a directory of its own holding the files the guides name: ``ref.fa`` (and its
  ``.fai``), ``regions.bed``, and the pages ``page.html``, ``late.html`` (its button arrives after
  700 ms), ``review.html`` (a field enabled late, a button under a veil) and ``shop.html`` (renders
  ``/api/items``, shows an image); ``http://127.0.0.1:8000/`` in a block is this directory served over
  HTTP (on a free port: the address is replaced).
- A comment right before a block says how else to take it: ``<!-- docs: skip REASON -->`` (the
  reason is listed in the test's skip), ``<!-- docs: exit N -->`` (the block must exit N),
  ``<!-- docs: pytest -->`` (a test file, run by pytest against the session's Firefox/IGV).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import apps
from .conftest import launched_bidi_firefox

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r"(?:<!--\s*docs:\s*(?P<how>[^>]*?)\s*-->\s*\n)?^```(?P<lang>python|sh|console)[^\n]*\n(?P<body>.*?)^```",
    re.S | re.M,
)
SERVED = "127.0.0.1:8000"


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    how: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks() -> list[Block]:
    out = []
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(DOCS).as_posix()
        if rel.startswith("reference/"):
            continue
        text = path.read_text()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start("lang")) + 1
            out.append(Block(rel, line, m["lang"], m["body"], (m["how"] or "").strip()))
    return out


PAGES = {
    "page.html": "<!doctype html><title>Docs page</title><h1 id='title'>Hello</h1>"
    "<button id='go' onclick=\"document.getElementById('status').textContent='Done'\">Go</button>"
    "<p id='status'>Waiting</p>",
    "late.html": "<!doctype html><title>Late page</title><p id='status'>Waiting</p><script>"
    "setTimeout(() => { const b = document.createElement('button'); b.id = 'late'; b.textContent = 'Go';"
    " b.onclick = () => { document.getElementById('status').textContent = 'Done'; };"
    " document.body.appendChild(b); }, 700);</script>",
    "review.html": "<!doctype html><title>Review</title><style>#veil{position:fixed;inset:0;"
    "background:rgba(0,0,0,.3)}</style><textarea id='comment' disabled></textarea>"
    "<button id='save'>Save</button><p id='status'>Loading</p><ul id='history'></ul>"
    "<div id='veil'></div><script>"
    "setTimeout(() => { document.getElementById('comment').disabled = false;"
    " document.getElementById('status').textContent = 'Ready'; }, 600);"
    "setTimeout(() => document.getElementById('veil').remove(), 700);"
    "document.getElementById('save').onclick = () => { const s = document.getElementById('status');"
    " s.textContent = 'Saving…'; setTimeout(() => { s.textContent = 'Saved';"
    " const li = document.createElement('li');"
    " li.textContent = document.getElementById('comment').value;"
    " document.getElementById('history').appendChild(li); }, 300); };</script>",
    "shop.html": "<!doctype html><title>Shop</title><img src='logo.png' alt='logo'><ul id='items'></ul>"
    "<script>fetch('/api/items?page=1').then(r => r.json()).then(items => { for (const i of items) {"
    " const li = document.createElement('li'); li.textContent = i.name;"
    " document.getElementById('items').appendChild(li); } });</script>",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test's output is the blocks', not the server's
        pass


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    made: dict[str, tuple[Path, str]] = {}
    servers = []

    def get(page: str) -> tuple[Path, str]:
        if page not in made:
            d = tmp_path_factory.mktemp(re.sub(r"\W+", "_", page))
            genome = apps.write_tiny_genome(d / "genome")
            (d / "ref.fa").write_bytes(genome.read_bytes())
            (d / "ref.fa.fai").write_bytes(genome.with_suffix(".fa.fai").read_bytes())
            (d / "regions.bed").write_text("chr1\t10000\t11000\tvar1\nchr2\t1000\t2000\tvar2\n")
            for name, html in PAGES.items():
                (d / name).write_text(html)
            (d / "api").mkdir()
            (d / "api" / "items").write_text('[{"name": "the server\'s own"}]')
            handler = functools.partial(_Quiet, directory=str(d))
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            made[page] = (d, f"127.0.0.1:{server.server_address[1]}")
        return made[page]

    yield get
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def docs_firefox(tmp_path_factory):
    """A Firefox launched by tether with WebDriver BiDi for this module, quit after it."""
    with launched_bidi_firefox(tmp_path_factory.mktemp("docs-firefox-state")) as rec:
        yield rec


@pytest.fixture(scope="module")
def app_env(igv_app, docs_firefox, qserver_app, tmp_path_factory) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
        "TETHER_IGV_PORT": str(igv_app.port),
        "TETHER_FIREFOX_PORT": str(docs_firefox.port),
        "QSERVER_HTTP_SERVER_URI": qserver_app.url,
        "QSERVER_HTTP_SERVER_API_KEY": qserver_app.api_key,
        "TETHER_STATE_DIR": str(tmp_path_factory.mktemp("docs-state")),
        "TETHER_DISABLE_PLUGIN_AUTOLOAD": "1",
        "NO_COLOR": "1",
        # the guide's third-party adapter, importable as a user's installed one would be
        "PYTHONPATH": str(ROOT / "examples" / "third_party_adapter"),
    }


SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)


def _commands(block: Block) -> list[str]:
    if block.lang != "console":  # a snippet line is the file it names, as the site shows it
        return [SNIPPET.sub(lambda m: (ROOT / m[1]).read_text(), block.body)]
    cmds: list[str] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            cmds.append(line[2:])
        elif cmds and cmds[-1].endswith("\\"):
            cmds[-1] += "\n" + line
    return cmds


ALL = blocks()


@pytest.mark.parametrize("block", ALL, ids=[b.id for b in ALL])
def test_guide_block_runs(block: Block, sandboxes, app_env, docs_firefox, igv_app, qserver_app):
    if block.how.startswith("skip"):
        reason = block.how[4:].strip(" :—-")
        assert reason, f"{block.id}: a skipped block says why (<!-- docs: skip REASON -->)"
        pytest.skip(f"{block.id}: {reason}")
    workdir, served = sandboxes(block.page)
    expected = 0
    if block.how.startswith("exit"):
        expected = int(block.how.split()[1])
    for command in _commands(block):
        command = command.replace(SERVED, served)
        if block.how == "pytest":
            test_file = workdir / f"test_docs_{block.line}.py"
            test_file.write_text(command)
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(test_file),
                f"--tether-firefox-port={docs_firefox.port}",
                f"--tether-igv-port={igv_app.port}",
                f"--tether-qserver-url={qserver_app.url}",
            ]
        elif block.lang == "python":
            argv = [sys.executable, "-c", command]
        else:
            argv = ["bash", "-e", "-o", "pipefail", "-c", command]
        proc = subprocess.run(
            argv,
            cwd=workdir,
            env=app_env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == expected, (
            f"{block.id}: `{command.strip()[:200]}` exited {proc.returncode}, not {expected}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
