"""`%load_ext tether` in a real IPython kernel executing a notebook (nbclient): the magics run the
CLI's commands with their options, a failing one shows its message (never a traceback), and
screenshots and IGV snapshots display inline as image/png through tether.image.PNG."""

from __future__ import annotations

import base64
import textwrap

import pytest

from . import apps

pytestmark = pytest.mark.real

nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' (nbformat, nbclient, ipykernel)")
nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' (nbformat, nbclient, ipykernel)")


def execute(tmp_path, *sources: str) -> list:
    """Run the cells in a fresh python3 kernel (this interpreter, this environment); returns them."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in sources]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    nbformat.write(nb, tmp_path / "executed.ipynb")  # kept with the test's files, to look at
    return nb.cells


def text(cell, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)


def png_of(cell) -> bytes:
    (data,) = [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
    return base64.b64decode(data)


def no_errors(cells) -> None:
    for cell in cells:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell


def test_tether_magic_runs_core_commands_and_a_png_displays_inline(tmp_path, firefox_app):
    closed = apps.free_port()
    cells = execute(
        tmp_path,
        "%load_ext tether",
        "found = %tether scan --app firefox --json\nprint(sorted(e['port'] for e in found))",
        f"%tether wait firefox --port {firefox_app.port} --timeout 10",
        f"%tether wait igv --port {closed} --timeout 0.5",
        f"""
        from tether.image import PNG
        from tether_firefox import Firefox

        with Firefox(port={firefox_app.port}) as ff:
            ff.navigate("data:text/html,<body style='background:%23c00'><h1>inline</h1></body>")
            shot = PNG(ff.screenshot())
        shot
        """,
    )
    no_errors(cells)
    assert str(firefox_app.port) in text(cells[1])
    assert f"ready at 127.0.0.1:{firefox_app.port}" in text(cells[2])
    failed = text(cells[3], "stderr")
    assert "error: IGV was not ready" in failed and "exited 4" in failed and "Traceback" not in failed
    png = png_of(cells[4])
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert "<PNG " in cells[4].outputs[0]["data"]["text/plain"]


def test_app_magics_drive_the_apps_and_show_pictures_inline(
    tmp_path, firefox_app, igv_app, qserver_app, monkeypatch
):
    """Needs the adapters' commands on tether.cli.command (their cli.py converted)."""
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)  # the kernel inherits it
    shot, snap = tmp_path / "page.png", tmp_path / "igv.png"
    cells = execute(
        tmp_path,
        "%load_ext tether\nfrom tether.image import PNG",
        f"%firefox navigate 'data:text/html,<title>from a notebook</title>' --port {firefox_app.port}",
        f"%firefox title --port {firefox_app.port}",
        f"%firefox screenshot {shot} --port {firefox_app.port}\nPNG.read({str(shot)!r})",
        f"%igv goto chr1:1,001-2,000 --port {igv_app.port}",
        f"%igv snapshot {snap} --port {igv_app.port}\nPNG.read({str(snap)!r})",
        f"%qserver status --port {qserver_app.port}",
        f"data = %qserver status --json --port {qserver_app.port}\nprint(type(data).__name__, data)",
        f"%igv goto chr1:1-100 --port {apps.free_port()} --timeout 1",
    )
    no_errors(cells)
    assert "from a notebook" in text(cells[2])
    assert png_of(cells[3]).startswith(b"\x89PNG")
    assert png_of(cells[5]).startswith(b"\x89PNG")
    assert "idle" in text(cells[6])
    assert text(cells[7]).startswith("dict ") and "'idle'" in text(cells[7])  # --json: the parsed data
    failed = text(cells[8], "stderr")
    assert "error:" in failed and "Traceback" not in failed and "exited" in failed


def test_client_screenshots_and_snapshots_display_inline(tmp_path, firefox_app, igv_app):
    """Needs the adapters' clients to return tether.image types: Firefox.screenshot() a PNG,
    IGVClient.snapshot() an ImagePath (both keep their types' API: bytes, a Path)."""
    snap = tmp_path / "view.png"
    cells = execute(
        tmp_path,
        f"""
        import tether
        with tether.connect("firefox", port={firefox_app.port}) as ff:
            ff.navigate("data:text/html,<h1>straight from the client</h1>")
            shot = ff.screenshot()
        shot
        """,
        f"""
        igv = tether.connect("igv", port={igv_app.port})
        igv.goto("chr2:1-5,000")
        igv.snapshot({str(snap)!r})
        """,
    )
    no_errors(cells)
    assert png_of(cells[0]).startswith(b"\x89PNG")
    assert png_of(cells[1]) == snap.read_bytes()


def html_of(cell) -> str:
    (data,) = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    return data


def test_plans_results_render_as_tables(tmp_path, qserver_app, monkeypatch):
    """What QueueServer.run returns (a RunResult) and run_queue returns (RunResults, a list) display
    as HTML tables of their fields; the server's text in them is escaped (a failed plan's traceback
    has `<module>` in it)."""
    import re
    from html import escape

    from .test_qserver import ensure_env

    ensure_env(qserver_app)
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", qserver_app.api_key)  # the kernel inherits it
    cells = execute(
        tmp_path,
        f"""
        import tether
        qs = tether.connect("qserver", port={qserver_app.port})
        qs.run({{"name": "count", "args": [["det1"]], "kwargs": {{"num": 2}}}}, timeout=60)
        """,
        'failed = qs.run({"name": "mv", "args": ["motor", "abc"]}, timeout=60)\nfailed',
        "print(failed.traceback)",
        'qs.run_queue({"name": "count", "args": [["det2"]]}, timeout=60)',
    )
    no_errors(cells)
    ran, failed, queued = html_of(cells[0]), html_of(cells[1]), html_of(cells[3])
    tags = {"table", "thead", "tbody", "tr", "th", "td", "pre"}
    for html in (ran, failed, queued):
        assert set(re.findall(r"<\s*([a-zA-Z]+)", html)) <= tags
    cell = '<td style="text-align:left">{}</td>'.format
    assert cell("exit_status") + cell("completed") in ran and cell("name") + cell("count") in ran
    assert "RunResult(" in cells[0].outputs[0]["data"]["text/plain"]  # text/plain stays the repr
    assert cell("exit_status") + cell("failed") in failed and "Plan failed" in failed
    last = text(cells[2]).strip().splitlines()[-1]  # TypeError: unsupported operand … 'str' and 'int'
    assert "'" in last and "<pre>" in failed and escape(last) in failed and last not in failed
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", queued)
    assert heads == ["plan", "item uid", "exit status", "scan ids", "duration", "message"]
    rows = re.findall(r"<tr><td[^>]*>([^<]*)</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>", queued)
    assert rows[-1] == ("count", "completed")  # one row per plan that ran, the one queued last
