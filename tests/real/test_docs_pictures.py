"""``docs/pictures.py`` makes the documentation's pictures from the real apps of this test session
(``--attach``): each picture is written, and is what it claims to be (an SVG of the terminal text the
CLI prints, a PNG Firefox took), so the script the docs are built with cannot rot unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_pictures_are_made_from_the_real_apps(tmp_path, igv_app, bidi_firefox, qserver_app):
    env = {
        **os.environ,
        "TETHER_IGV_PORT": str(igv_app.port),
        "TETHER_FIREFOX_PORT": str(bidi_firefox.port),
        "QSERVER_HTTP_SERVER_URI": qserver_app.url,
        "QSERVER_HTTP_SERVER_API_KEY": qserver_app.api_key,
    }
    out = tmp_path / "images"
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "pictures.py"), "--attach", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scan = (out / "scan.svg").read_text()
    assert scan.startswith("<svg") and "verified" in scan and "IGV" in scan
    monitor = (out / "monitor.svg").read_text()
    assert monitor.startswith("<svg") and "running" in monitor and "count" in monitor
    for png in ("trace.png", "igv-review-page.png"):
        data = (out / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, png
