"""Progress on a terminal for the waits that take longer than a second, and nothing of it with
``--json`` or when piped: the commands run in a real pseudo-terminal (what a person sees, the
spinner's redraws included) and with pipes (what a script reads), against the real apps."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.real

SPINNER = re.compile("[\u2800-\u28ff]")  # rich's default spinner ("dots") draws braille characters
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def tether_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tether", *args]


def in_terminal(args: list[str], env: dict | None = None, timeout: float = 120) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a new pseudo-terminal (140x40); return its exit
    code and everything written to the terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    proc = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        start_new_session=True,  # the terminal becomes its controlling one, as in a shell
    )
    os.close(slave)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:  # exited, and nothing more to read (a child it started
                break  # in the background, such as Firefox, may hold the terminal open)
            if time.monotonic() > end:
                raise AssertionError(f"{args} did not finish within {timeout} s: {b''.join(chunks)!r}")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def piped(args: list[str], env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def plain(screen: str) -> str:
    """The terminal's output without escape sequences and carriage returns."""
    return ANSI.sub("", screen).replace("\r", "")


# ----------------------------------------------------------------------------- firefox launch
def _stop_firefox(pid: int, port: int, env: dict) -> None:
    try:
        piped(tether_cmd("firefox", "quit", "--port", str(port)), env=env, timeout=30)
    finally:
        if psutil.pid_exists(pid):
            os.killpg(pid, signal.SIGKILL)


def test_firefox_launch_shows_a_spinner_on_a_terminal_and_nothing_with_json(tmp_path):
    env = {"TETHER_STATE_DIR": str(tmp_path / "state")}

    code, screen = in_terminal(tether_cmd("firefox", "launch", "--headless"), env=env)
    found = re.search(r"Firefox \(pid (\d+)\) listens for Marionette on [\d.]+:(\d+)", plain(screen))
    assert code == 0 and found, screen
    _stop_firefox(int(found[1]), int(found[2]), env)
    assert "starting Firefox" in screen and SPINNER.search(screen), screen
    # the progress line is drawn on stderr and erased again: the result line is what stays
    assert plain(screen).strip().splitlines()[-1].startswith("Firefox (pid"), screen

    code, screen = in_terminal(tether_cmd("firefox", "launch", "--headless", "--json"), env=env)
    text = plain(screen)
    assert code == 0, screen
    rec = json.loads(text)  # only the JSON reached the terminal
    _stop_firefox(rec["pid"], rec["port"], env)
    assert "starting Firefox" not in text and not SPINNER.search(screen)


# ----------------------------------------------------------------------------- igv batch
def test_igv_batch_shows_its_progress_on_a_terminal_never_with_json_or_piped(tmp_path, igv_app):
    script = tmp_path / "review.bat"
    script.write_text("echo\ngoto chr1:1,001-2,000\necho\ngoto chr1:3,001-4,000\n")
    args = tether_cmd("igv", "batch", str(script), "--port", str(igv_app.port))

    code, screen = in_terminal(args)
    assert code == 0, screen
    assert "running review.bat" in screen and SPINNER.search(screen), screen
    assert "/4" in plain(screen)  # a bar over the script's 4 lines
    assert plain(screen).strip().splitlines()[-1] == "4 command(s) done, 0 line(s) skipped"

    code, screen = in_terminal([*args, "--json"])
    assert code == 0, screen
    assert json.loads(plain(screen))["done"] == 4 and "running review.bat" not in screen

    done = piped(args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4 command(s) done, 0 line(s) skipped\n" and done.stderr == ""


def test_igv_snapshots_shows_a_bar_with_an_eta_on_a_terminal(tmp_path, igv_app):
    loci = ["chr1:1,001-1,100", "chr1:40,001-40,100", "chr2:1,001-1,100"]
    args = tether_cmd(
        "igv", "snapshots", *loci, "--out", str(tmp_path / "shots"), "--port", str(igv_app.port)
    )
    code, screen = in_terminal(args)
    assert code == 0, screen
    text = plain(screen)
    assert "snapshots" in text and "/3" in text and "ETA" in text, screen
    assert text.strip().splitlines()[-1].startswith("3 image(s), 0 kept from before:")


# ----------------------------------------------------------------------------- qserver run
def test_qserver_run_shows_the_plans_state_on_a_terminal_and_nothing_piped(qserver_app):
    from .test_qserver import ensure_env

    ensure_env(qserver_app)
    env = {"QSERVER_HTTP_SERVER_API_KEY": qserver_app.api_key, "TETHER_CONFIG": "/nonexistent/tether.toml"}
    args = tether_cmd(
        "qserver", "run", "count", "det1,", "num=3", "delay=0.5", "--port", str(qserver_app.port)
    )

    code, screen = in_terminal(args, env=env)
    assert code == 0, screen
    assert "count: " in screen and SPINNER.search(screen), screen  # "count: running …" while it runs
    assert "completed" in plain(screen)

    done = piped(args, env=env)
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout and "count: " not in done.stdout + done.stderr
    assert not SPINNER.search(done.stdout + done.stderr)


def test_progress_needs_a_terminal_on_stderr_not_on_stdout(tmp_path, igv_app):
    """`tether igv batch … > out.txt` on a terminal still shows its progress (on stderr), and the
    file gets the result only."""
    script = tmp_path / "one.bat"
    script.write_text("echo\necho\n")
    out = tmp_path / "out.txt"
    command = " ".join(tether_cmd("igv", "batch", str(script), "--port", str(igv_app.port)))
    code, screen = in_terminal(["sh", "-c", f"{command} > {out}"])
    assert code == 0, screen
    assert "running one.bat" in screen
    assert Path(out).read_text() == "2 command(s) done, 0 line(s) skipped\n"


# ----------------------------------------------------------------------------- firefox downloads --wait
def test_downloads_wait_shows_the_files_on_a_terminal_until_they_are_complete(tmp_path):
    """What Firefox leaves while it downloads (a .part beside the file), completed 1.5 s later."""
    import threading

    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "report.bin").write_bytes(b"")
    (folder / "report.bin.part").write_bytes(b"x" * 1000)

    def finish() -> None:
        time.sleep(1.5)
        (folder / "report.bin").write_bytes(b"x" * 2000)
        (folder / "report.bin.part").unlink()

    args = tether_cmd("firefox", "downloads", "--dir", str(folder), "--wait", "--timeout", "20")
    threading.Thread(target=finish, daemon=True).start()
    code, screen = in_terminal(args)
    assert code == 0, screen
    assert f"downloads in {folder}: 0/1 complete" in plain(screen) and SPINNER.search(screen), screen
    assert re.search(r"report\.bin\W+2000\W+True", plain(screen))
    done = piped([*args, "--json"])
    assert json.loads(done.stdout) == [{"name": "report.bin", "bytes": 2000, "complete": True}]
    assert done.stderr == ""
