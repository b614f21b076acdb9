"""discovery's own /proc reads (plain os calls, no psutil) say what psutil says."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from tether import discovery

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


def test_a_command_line_longer_than_one_read_is_read_whole():
    long_args = ["x" * 60_000] * 3  # several 64 KiB reads (one argument may be 128 KiB at most)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *long_args, "tail"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (discovery._linux_cmdline(proc.pid) or [""])[-1] != "tail":
            time.sleep(0.05)  # until the child has exec'd python (before, it is a copy of this process)
        name, cmdline, user = discovery.process_info(proc.pid)
        expected = psutil.Process(proc.pid)
        assert cmdline == expected.cmdline() and cmdline[-4:] == [*long_args, "tail"]
        assert (name, user) == (expected.name(), expected.username())
    finally:
        proc.kill()
        proc.wait()


def test_a_process_environment_is_psutils_and_a_gone_process_has_none(monkeypatch):
    monkeypatch.setattr(discovery, "_environs", {})
    assert discovery.process_environ(os.getpid()) == psutil.Process().environ()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert discovery.process_environ(proc.pid) == {}
