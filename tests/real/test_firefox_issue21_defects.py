"""Defects found side by side with Selenium (issue 21), on real headless Firefox: eval of a shadow
root, Element.rect's keys, deleting a cookie that is not there, navigating to a file path."""

from __future__ import annotations

import json

import pytest

import tether

from .test_firefox_cli import tether as run_tether
from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


def test_rect_is_x_y_width_height(firefox_app, site):
    with tether.connect("firefox", port=firefox_app.port, timeout=15) as ff:
        ff.navigate(f"{site}/widgets.html")
        rect = ff.find("#red").rect
    assert set(rect) == {"x", "y", "width", "height"} and rect["width"] > 0


def test_cli_eval_of_a_shadow_root_cookie_delete_and_a_file_path(firefox_app, site, tmp_path, monkeypatch):
    def cli(*args: str, cwd=None):
        return run_tether(*args, "--port", str(firefox_app.port), state=tmp_path / "state", check=False)

    assert cli("navigate", f"{site}/widgets.html").returncode == 0
    proc = cli("eval", "return document.getElementById('card').shadowRoot")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"shadow_root": "my-card#card", "mode": "open", "text": "Card title OK"}

    assert cli("cookies", "set", "kept", "1").returncode == 0
    missing = cli("cookies", "delete", "never-set")
    assert missing.returncode == 1 and "no cookie named 'never-set'" in missing.stderr
    deleted = cli("cookies", "delete", "kept", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"deleted": "kept", "count": 1}

    page = tmp_path / "local page.html"
    page.write_text("<!doctype html><title>From a file</title>")
    monkeypatch.chdir(tmp_path)  # the CLI resolves a relative path against its working directory
    loaded = cli("navigate", "local page.html", "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["title"] == "From a file"
    assert json.loads(loaded.stdout)["url"] == page.resolve().as_uri()
