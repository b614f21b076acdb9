"""Shell completion, as a real bash runs it: the script `tether --show-completion bash` prints is
sourced, COMP_WORDS/COMP_CWORD are set as bash sets them at a <TAB>, and the completion function's
COMPREPLY is read back. (tests/real/test_completion_ports.py completes `--port` with a real Firefox.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def tether_on_path(directory: Path) -> Path:
    """A ``tether`` command in ``directory`` running this interpreter's tether (the completion
    script calls the program by name, as an installed one would be)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "tether"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tether "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return directory


def bash_complete(line: str, bindir: Path, timeout: float = 30) -> list[str]:
    """The candidates a real bash offers for ``line`` (completing its last word; a trailing
    space completes a new word)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.fail("bash is not installed", pytrace=False)
    words = line.split()
    if line.endswith(" "):
        words.append("")
    script = (
        'eval "$(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION=1 tether --show-completion bash)"\n'
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}\n"
        "_tether_completion tether\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # nothing may leak onto the user's command line
    return [c for c in proc.stdout.splitlines() if c]


@pytest.fixture(scope="module")
def bindir(tmp_path_factory) -> Path:
    return tether_on_path(tmp_path_factory.mktemp("bin"))


def show_completion(bindir: Path, shell: str) -> subprocess.CompletedProcess:
    """``tether --show-completion SHELL`` (typer detects the user's shell; its documented test
    switch names one instead)."""
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    return subprocess.run(
        [bindir / "tether", "--show-completion", shell], capture_output=True, text=True, env=env
    )


def test_the_bash_script_is_typers_and_names_tether(bindir):
    proc = show_completion(bindir, "bash")
    assert proc.returncode == 0
    assert (
        "_TETHER_COMPLETE=complete_bash" in proc.stdout
        and "complete -o default -F _tether_completion tether" in proc.stdout
    )


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_are_offered(bindir, shell):
    proc = show_completion(bindir, shell)
    assert proc.returncode == 0 and f"_TETHER_COMPLETE=complete_{shell}" in proc.stdout


def test_completes_a_command(bindir):
    assert bash_complete("tether sc", bindir) == ["scan"]


def test_completes_an_adapter_name(bindir):
    assert bash_complete("tether ig", bindir) == ["igv"]


def test_completes_every_command_after_tether(bindir):
    assert {"scan", "wait", "doctor", "igv", "firefox", "qserver"} <= set(bash_complete("tether ", bindir))


def test_completes_the_options_of_scan(bindir):
    options = bash_complete("tether scan --", bindir)
    assert {"--json", "--all", "--watch", "--for", "--interval", "--timeout", "--help"} <= set(options)


def test_completes_the_app_of_wait(bindir):
    assert bash_complete("tether wait f", bindir) == ["firefox"]


def test_completes_an_adapter_command(bindir):
    # needs the IGV adapter's commands loaded for the word being completed
    assert bash_complete("tether igv go", bindir) == ["goto"]


def test_port_completion_never_raises(monkeypatch):
    from tether.cli import command

    def broken_scan(*a, **k):
        raise RuntimeError("socket table unreadable")

    monkeypatch.setattr("tether.api.scan", broken_scan)

    class Ctx:
        info_name, parent, params = "firefox", None, {}

    assert command.complete_port(Ctx(), "") == []
    assert command.complete_port(object(), "") == []  # not even a context
